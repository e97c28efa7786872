//! A `specula serve` process of its own: for what one process in the test
//! binary cannot show (replicas, figures no other test adds to).

use std::time::{Duration, Instant};

/// A running `specula serve`, stopped with SIGTERM.
pub struct ServeProcess {
    child: std::process::Child,
    /// `http://127.0.0.1:<port>` of the main listener.
    pub base: String,
    /// `127.0.0.1:<port>` of the OTLP/gRPC listener.
    pub grpc_addr: String,
}

/// A port free now (the process binds it a moment later).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl ServeProcess {
    /// Starts a process on `database_url` with `extra_args` and waits until it is ready.
    pub async fn start(database_url: &str, extra_args: &[&str]) -> Self {
        Self::start_with(database_url, extra_args, &[], None).await
    }

    /// [`Self::start`] with environment variables, and its log (stderr) in
    /// `log` rather than dropped; `--log=warn` unless `extra_args` sets a level.
    pub async fn start_with(
        database_url: &str,
        extra_args: &[&str],
        env: &[(&str, &str)],
        log: Option<&std::path::Path>,
    ) -> Self {
        Self::start_at(database_url, (free_port(), free_port()), extra_args, env, log).await
    }

    /// [`Self::start_with`] on the given HTTP and gRPC ports: a process
    /// started again where its clients know it.
    pub async fn start_at(
        database_url: &str,
        (port, grpc_port): (u16, u16),
        extra_args: &[&str],
        env: &[(&str, &str)],
        log: Option<&std::path::Path>,
    ) -> Self {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_specula"));
        for (key, _) in
            std::env::vars().filter(|(key, _)| key.starts_with("SPECULA_") || key.starts_with("OTEL_"))
        {
            command.env_remove(key);
        }
        let stderr = match log {
            Some(path) => std::process::Stdio::from(std::fs::File::create(path).unwrap()),
            None => std::process::Stdio::null(),
        };
        let child = command
            .args([
                "serve",
                &format!("--listen=127.0.0.1:{port}"),
                &format!("--grpc-listen=127.0.0.1:{grpc_port}"),
                &format!("--database-url={database_url}"),
            ])
            .args(
                std::iter::once("--log=warn")
                    .filter(|_| !extra_args.iter().any(|arg| arg.starts_with("--log=")))
                    .chain(extra_args.iter().copied()),
            )
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let process = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            grpc_addr: format!("127.0.0.1:{grpc_port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while reqwest::get(format!("{}/readyz", process.base))
            .await
            .map_or(true, |response| !response.status().is_success())
        {
            assert!(Instant::now() < deadline, "specula serve did not become ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        process
    }

    /// Posts an OTLP/JSON trace export with `token`.
    pub async fn send(&self, token: &str, body: Vec<u8>) -> reqwest::Response {
        reqwest::Client::new()
            .post(format!("{}/v1/traces", self.base))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Signs `email` up (an organization of their own) and mints a token
    /// with `scopes`: their browser, the organization's id and the secret.
    pub async fn tenant(&self, email: &str, scopes: &[&str]) -> (super::Browser, String, String) {
        let browser = self.browser();
        let org = super::first_org(&browser.sign_up(email).await);
        let minted: serde_json::Value = browser
            .post(
                &format!("/api/v1/orgs/{org}/tokens"),
                serde_json::json!({"name": "sdk", "scopes": scopes}),
            )
            .await
            .json()
            .await
            .unwrap();
        (browser, org, minted["secret"].as_str().unwrap().to_owned())
    }

    /// GETs an API path with a bearer token; the answer.
    pub async fn get_with_token(&self, token: &str, path: &str) -> reqwest::Response {
        reqwest::Client::new()
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// A client with its own cookie jar on this process.
    pub fn browser(&self) -> super::Browser {
        super::Browser {
            base: self.base.clone(),
            client: reqwest::Client::builder()
                .cookie_store(true)
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        }
    }

    /// The process id (what its leases' owners start with).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the process at once (SIGKILL): no shutdown, as in a crash.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn stop(mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}
