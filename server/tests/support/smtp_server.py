"""A real SMTP server for the alert email tests (aiosmtpd).

Usage: smtp_server.py <starttls|tls> <port> <cert.pem> <key.pem> <messages.jsonl>

Requires TLS (STARTTLS before anything else, or TLS from the first byte)
and AUTH as alerts/secret, as a mail provider would; writes each message
it accepts as one JSON line; prints "ready" once it listens and runs until
its standard input closes (the test ending).
"""

import json
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Recorder:
    def __init__(self, path):
        self.path = path

    async def handle_DATA(self, server, session, envelope):
        record = {
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            # What the connection carries now: TLS from the start, or after STARTTLS.
            "tls": server.transport.get_extra_info("ssl_object") is not None,
            "login": session.auth_data.decode() if isinstance(session.auth_data, bytes) else "",
            "data": envelope.content.decode("utf-8", "replace"),
        }
        with open(self.path, "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")
        return "250 Message accepted for delivery"


def authenticate(server, session, envelope, mechanism, auth_data):
    if isinstance(auth_data, LoginPassword) and auth_data.login == b"alerts" and auth_data.password == b"secret":
        return AuthResult(success=True, auth_data=b"alerts")
    return AuthResult(success=False, handled=False)


def main():
    mode, port, cert, key, messages = sys.argv[1:6]
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    common = dict(hostname="127.0.0.1", port=int(port), authenticator=authenticate, server_hostname="localhost")
    if mode == "tls":
        # The whole connection is TLS; aiosmtpd counts only STARTTLS as TLS
        # for `auth_require_tls`, so AUTH is allowed outright here.
        controller = Controller(Recorder(messages), ssl_context=context, auth_require_tls=False, **common)
    else:
        controller = Controller(
            Recorder(messages), tls_context=context, require_starttls=True, auth_require_tls=True, **common
        )
    controller.start()
    print("ready", flush=True)
    sys.stdin.read()
    controller.stop()


if __name__ == "__main__":
    main()
