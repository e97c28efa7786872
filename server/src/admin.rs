//! `specula admin …`: administration from a shell, against the database a
//! server uses (it may be running meanwhile).

use std::process::ExitCode;

use app::platform::{services::audit, types::AuditChainReport};

use crate::{config::VerifyAuditArgs, db};

/// Checks the audit chains and prints one report per organization.
pub async fn verify_audit(args: &VerifyAuditArgs) -> anyhow::Result<ExitCode> {
    if let Some(path) = args.database_url.sqlite_path()
        && !path.exists()
    {
        anyhow::bail!("no database at {}", path.display());
    }
    let connection = db::connect(&args.database_url, 1, Default::default()).await?;
    let reports = match args.org {
        Some(org_id) => vec![audit::verify(&connection, org_id).await?],
        None => audit::verify_all(&connection).await?,
    };
    for report in &reports {
        if args.json {
            println!("{}", serde_json::to_string(report)?);
        } else {
            println!("{}", describe(report));
        }
    }
    let broken = reports.iter().filter(|report| !report.intact).count();
    if !args.json {
        println!(
            "{} organization(s) checked, {} intact, {broken} broken",
            reports.len(),
            reports.len() - broken
        );
    }
    Ok(if broken == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn describe(report: &AuditChainReport) -> String {
    let org = report.organization_id;
    match (&report.problem, report.entries) {
        (Some(problem), _) => format!(
            "{org}: BROKEN at entry {}: {problem}",
            report.break_at_seq.unwrap_or(0)
        ),
        (None, 0) => format!("{org}: no entries"),
        (None, entries) => format!(
            "{org}: intact, {entries} entries from #{}, head {}",
            report.first_seq.unwrap_or(1),
            report.head_hash.as_deref().unwrap_or("")
        ),
    }
}
