#!/usr/bin/env bash
# Checks the REST API against its own OpenAPI document with Schemathesis:
# every answer must be documented (status, content type, body schema,
# headers), requests valid by the document must be accepted, invalid ones
# refused with a 4xx, and nothing may answer 5xx.
#
# Starts the debug binary (target/debug/specula, or SPECULA_BIN) on a fresh
# SQLite file and a random port, signs up a throwaway user and organization,
# mints an API token, then runs Schemathesis twice: with the token, and with
# the session cookie plus the same-origin `Origin` header cookie-authenticated
# changes need. Seeded and bounded, so a run takes a few minutes at most.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

SCHEMATHESIS_VERSION="4.32.5"
SCHEMATHESIS_VENV="$ROOT/target/schemathesis-venv"
SCHEMATHESIS_SEED="${SCHEMATHESIS_SEED:-20250101}"
SCHEMATHESIS_MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-25}"
SCHEMATHESIS_MAX_TIME="${SCHEMATHESIS_MAX_TIME:-80}"

ensure_schemathesis() {
  local bin="$SCHEMATHESIS_VENV/bin/schemathesis"
  if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q "version $SCHEMATHESIS_VERSION\$"; then
    return
  fi
  log "installing schemathesis $SCHEMATHESIS_VERSION into target/"
  # Debian's python3 comes without the venv module (package python3-venv).
  if ! python3 -m venv "$SCHEMATHESIS_VENV" >/dev/null 2>&1; then
    log "installing Debian's python3-venv"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq python3-venv >/dev/null
    rm -rf "$SCHEMATHESIS_VENV"
    python3 -m venv "$SCHEMATHESIS_VENV"
  fi
  "$SCHEMATHESIS_VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
}

# A JSON field of stdin, by a Python expression over `d`.
json_field() { python3 -c "import json, sys; d = json.load(sys.stdin); print($1)"; }

main() {
  ensure_schemathesis
  local bin="${SPECULA_BIN:-$ROOT/target/debug/specula}"
  [ -x "$bin" ] || die "$bin not found: build it with 'cargo build -p server'"

  local work port base
  work="$(mktemp -d)"
  port="$(free_port)"
  base="http://127.0.0.1:$port"
  SPECULA_LISTEN="127.0.0.1:$port" \
  SPECULA_GRPC_LISTEN="127.0.0.1:0" \
  SPECULA_PUBLIC_URL="$base" \
  SPECULA_DATABASE_URL="sqlite://$work/specula.db" \
  SPECULA_SITE_ROOT="$ROOT/target/site" \
  SPECULA_LOG="${SPECULA_SCHEMATHESIS_LOG:-warn}" \
    "$bin" serve >"$work/server.log" 2>&1 &
  local server=$!
  # shellcheck disable=SC2064 # expand now: the values are fixed.
  trap "kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf '$work'" EXIT

  local tries=0
  until curl -fsS "$base/readyz" >/dev/null 2>&1; do
    tries=$((tries + 1))
    [ "$tries" -lt 100 ] || { cat "$work/server.log" >&2; die "the server did not get ready"; }
    sleep 0.2
  done

  # A throwaway account; its organization and a token that can read, ingest and evaluate.
  local me org token
  me="$(curl -fsS -c "$work/cookies" -H 'Content-Type: application/json' \
    -d '{"email":"contract@example.com","password":"contract-test-password","organization_name":"Contract"}' \
    "$base/api/v1/auth/signup")"
  org="$(json_field 'd["organizations"][0]["id"]' <<<"$me")"
  local cookie
  cookie="$(awk '$6 == "specula_session" { print $7 }' "$work/cookies")"
  [ -n "$cookie" ] || die "sign-up set no session cookie"
  token="$(curl -fsS -H "Cookie: specula_session=$cookie" -H "Origin: $base" -H 'Content-Type: application/json' \
    -d '{"name":"contract","scopes":["read","ingest","evaluate"]}' \
    "$base/api/v1/orgs/$org/tokens" | json_field 'd["secret"]')"

  local common=(
    run "$base/api/v1/openapi.json"
    --checks all
    --phases examples,coverage,fuzzing
    --seed "$SCHEMATHESIS_SEED"
    --max-examples "$SCHEMATHESIS_MAX_EXAMPLES"
    --max-time "$SCHEMATHESIS_MAX_TIME"
    # One worker: the coverage phase of Schemathesis on Python 3.11 can fail
    # with an internal error ("AST constructor recursion depth mismatch")
    # when several threads generate at once.
    --workers 1
    --no-color
    --generation-database none
  )
  local status=0
  log "schemathesis with an API token"
  SPECULA_ORG="$org" SPECULA_TOKEN="$token" "$SCHEMATHESIS_VENV/bin/schemathesis" \
    --config-file "$ROOT/scripts/schemathesis/token.toml" "${common[@]}" || status=1
  # Operations that would end or replace the session the run uses, or
  # delete its organization, are left out of the cookie run.
  log "schemathesis with the session cookie"
  SPECULA_ORG="$org" SPECULA_SESSION="$cookie" "$SCHEMATHESIS_VENV/bin/schemathesis" \
    --config-file "$ROOT/scripts/schemathesis/session.toml" "${common[@]}" -H "Origin: $base" \
    --exclude-operation-id signup --exclude-operation-id logout \
    --exclude-operation-id logout_everywhere --exclude-operation-id delete_organization || status=1
  if [ "$status" -ne 0 ]; then
    log "server log:"
    tail -n 50 "$work/server.log" >&2
  fi
  return "$status"
}

main "$@"
