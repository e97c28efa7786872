//! `specula`: parse the command line, then hand over to the library.

use std::process::ExitCode;

use clap::Parser;
use server::{
    Listeners, Server, cancel_on_signal,
    config::{AdminCommand, Cli, Command},
    telemetry,
};
use tokio_util::sync::CancellationToken;

// Ingest allocates many short-lived strings and JSON values on several
// threads; with the system allocator, malloc and free took about 15% of the
// server's CPU under load (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // clap prints the reason and exits with code 2 on a bad flag or variable.
    let cli = Cli::parse();
    match cli.command {
        Command::Config(config) => match effective_config_json(&config) {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("error: {err}");
                ExitCode::FAILURE
            }
        },
        Command::Admin(command) => {
            let outcome = tokio::runtime::Runtime::new()
                .map_err(anyhow::Error::from)
                .and_then(|runtime| runtime.block_on(admin(command)));
            outcome.unwrap_or_else(|err| {
                eprintln!("error: {err:#}");
                ExitCode::from(2)
            })
        }
        Command::Serve(config) => {
            // Before the async runtime: the exporter's HTTP client blocks on a thread of its own.
            let self_tracing = match telemetry::init(&config.log, config.log_format, Some(&config)) {
                Ok(self_tracing) => self_tracing,
                Err(err) => {
                    eprintln!("error: cannot set up logging and tracing: {err:#}");
                    return ExitCode::FAILURE;
                }
            };
            match &self_tracing {
                Ok(tracing) => tracing::info!(endpoint = tracing.endpoint(), "self-tracing on"),
                Err(telemetry::Off::WouldTraceItself(endpoint)) => tracing::warn!(
                    endpoint,
                    "self-tracing off: the OTLP endpoint is this server (set SPECULA_TRACE_TO_SELF=true to send its spans to itself)"
                ),
                Err(telemetry::Off::NotConfigured) => {}
            }
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(runtime) => runtime,
                Err(err) => {
                    tracing::error!(error = %err, "cannot start the async runtime");
                    return ExitCode::FAILURE;
                }
            };
            let outcome = runtime.block_on(serve(config));
            drop(runtime);
            if let Ok(tracing) = self_tracing {
                tracing.shutdown();
            }
            match outcome {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    tracing::error!("{err:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// The settings as JSON, with the derived public URLs filled in.
fn effective_config_json(config: &server::config::ServeConfig) -> serde_json::Result<String> {
    let mut json = serde_json::to_value(config)?;
    json["public_url"] = config.public_url().into();
    json["public_grpc_url"] = config.public_grpc_url().into();
    serde_json::to_string_pretty(&json)
}

async fn serve(config: server::config::ServeConfig) -> anyhow::Result<()> {
    let listeners = Listeners::bind(&config).await?;
    let server = Server::prepare(config).await?;
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    server.run(listeners, shutdown).await
}

/// Runs an admin command; what it prints is its answer.
async fn admin(command: AdminCommand) -> anyhow::Result<ExitCode> {
    use server::admin;
    match command {
        AdminCommand::VerifyAudit(args) => admin::verify_audit(&args).await,
        AdminCommand::CreateUser(args) => admin::create_user(&args).await,
        AdminCommand::ResetPassword(args) => admin::reset_password(&args).await,
        AdminCommand::MakeAdmin(args) => admin::make_admin(&args).await,
        AdminCommand::MintToken(args) => admin::mint_token(&args).await,
        AdminCommand::ListOrgs(args) => admin::list_orgs(&args).await,
        AdminCommand::Backup(args) => admin::backup(&args).await,
        AdminCommand::Restore(args) => admin::restore(&args).await,
        AdminCommand::ExportOrg(args) => admin::export_org(&args).await,
        AdminCommand::ImportOrg(args) => admin::import_org(&args).await,
    }
}
