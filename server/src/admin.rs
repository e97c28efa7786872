//! `specula admin …`: administration from a shell, against the database a
//! server uses (it may be running meanwhile, except for `restore`).

use std::{
    io::BufRead,
    path::{Path, PathBuf},
    process::ExitCode,
};

use app::{
    accounts::{
        services::{
            accounts::{self, SignUp},
            tokens::{self, NewToken},
        },
        types::TokenScope,
    },
    platform::{
        services::{
            audit::{self, Actor, RequestOrigin},
            secrets::random_alphanumeric,
        },
        types::AuditChainReport,
    },
};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

use crate::{
    config::{
        BackupArgs, CreateUserArgs, DatabaseArg, ExportOrgArgs, ImportOrgArgs, ListOrgsArgs, MakeAdminArgs,
        MintTokenArgs, ResetPasswordArgs, RestoreArgs, VerifyAuditArgs,
    },
    db, otlp,
};

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

/// Opens (and migrates, so that a command may be the installation's very
/// first) the database of `database`.
async fn open(database: &DatabaseArg) -> anyhow::Result<DatabaseConnection> {
    if let Some(path) = database.database_url.sqlite_path()
        && let Some(folder) = path.parent().filter(|folder| !folder.as_os_str().is_empty())
    {
        std::fs::create_dir_all(folder)?;
    }
    // Two connections: on PostgreSQL, migrating holds one for its lock.
    let connection = db::connect(&database.database_url, 2, Default::default()).await?;
    db::migrate(&connection).await?;
    Ok(connection)
}

/// The password from standard input (one line), or a new one, printed.
fn password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        anyhow::ensure!(!line.is_empty(), "no password on standard input");
        return Ok((line, false));
    }
    Ok((random_alphanumeric(24), true))
}

/// The shell's actor for what an admin command does in a user's name.
fn shell_origin() -> RequestOrigin {
    RequestOrigin {
        client_address: None,
        user_agent: Some("specula admin".to_owned()),
    }
}

pub async fn create_user(args: &CreateUserArgs) -> anyhow::Result<ExitCode> {
    let connection = open(&args.database).await?;
    let (password, made_up) = password(args.password_stdin)?;
    let user = accounts::sign_up(
        &connection,
        SignUp {
            email: args.email.clone(),
            password: password.clone(),
            organization_name: args.organization.clone(),
        },
        shell_origin(),
    )
    .await?;
    let user = if args.admin && !user.instance_admin {
        accounts::set_instance_admin(&connection, &user.email, true).await?
    } else {
        user
    };
    println!(
        "created {} ({}){}",
        user.email,
        user.id,
        if user.instance_admin {
            ", instance administrator"
        } else {
            ""
        }
    );
    if made_up {
        println!("password: {password}");
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn reset_password(args: &ResetPasswordArgs) -> anyhow::Result<ExitCode> {
    let connection = open(&args.database).await?;
    let (password, made_up) = password(args.password_stdin)?;
    let user = accounts::reset_password(&connection, &args.email, password.clone()).await?;
    println!("new password set for {}; its sessions are ended", user.email);
    if made_up {
        println!("password: {password}");
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn make_admin(args: &MakeAdminArgs) -> anyhow::Result<ExitCode> {
    let connection = open(&args.database).await?;
    let user = accounts::set_instance_admin(&connection, &args.email, !args.revoke).await?;
    println!(
        "{} is {} instance administrator",
        user.email,
        if user.instance_admin { "an" } else { "no longer an" }
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn mint_token(args: &MintTokenArgs) -> anyhow::Result<ExitCode> {
    let connection = open(&args.database).await?;
    let user = accounts::find_by_email(&connection, &args.email)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no account {}", args.email))?;
    let scopes = args
        .scopes
        .iter()
        .map(|scope| {
            TokenScope::parse(scope)
                .ok_or_else(|| anyhow::anyhow!("unknown scope {scope:?}: ingest, read, evaluate or metrics"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let expires_at = match args.expires_in {
        Some(after) => Some(chrono::Utc::now() + chrono::Duration::from_std(after)?),
        None => None,
    };
    let minted = tokens::mint(
        &connection,
        args.org,
        &Actor::user(&user, shell_origin()),
        NewToken {
            name: args.name.clone(),
            scopes,
            expires_at,
        },
    )
    .await?;
    println!("{}", minted.secret);
    Ok(ExitCode::SUCCESS)
}

pub async fn list_orgs(args: &ListOrgsArgs) -> anyhow::Result<ExitCode> {
    let connection = open(&args.database).await?;
    let rows = connection
        .query_all_raw(Statement::from_string(
            connection.get_database_backend(),
            "SELECT o.id, o.name, \
               (SELECT COUNT(*) FROM memberships m WHERE m.org_id = o.id) AS members, \
               (SELECT CAST(COALESCE(SUM(t.span_count), 0) AS BIGINT) FROM traces t WHERE t.org_id = o.id) AS spans \
             FROM organizations o ORDER BY o.created_at, o.id",
        ))
        .await?;
    for row in &rows {
        let id: uuid::Uuid = row.try_get("", "id")?;
        let name: String = row.try_get("", "name")?;
        let members: i64 = row.try_get("", "members")?;
        let spans: i64 = row.try_get("", "spans")?;
        if args.json {
            println!(
                "{}",
                serde_json::json!({"id": id, "name": name, "members": members, "spans": spans})
            );
        } else {
            println!("{id}  {name}  ({members} members, {spans} spans)");
        }
    }
    if !args.json {
        println!("{} organization(s)", rows.len());
    }
    Ok(ExitCode::SUCCESS)
}

/// The sealing key file Specula makes beside a SQLite database.
fn key_file(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".key");
    PathBuf::from(name)
}

pub async fn backup(args: &BackupArgs) -> anyhow::Result<ExitCode> {
    let Some(path) = args.database.database_url.sqlite_path() else {
        eprintln!(
            "A PostgreSQL database is backed up with PostgreSQL's own tools, while Specula runs:\n\
             \n  pg_dump --format=custom --file=specula.dump \"$SPECULA_DATABASE_URL\"\n\n\
             It holds everything Specula keeps (accounts, organizations, tokens, policies, the audit log, \
             spans, rollups, alerts, forwarding destinations). Keep SPECULA_SECRETS_KEY (or its file) with it: \
             without the key, alert channels' secrets and forwarding headers cannot be opened. \
             Restore with pg_restore --clean --if-exists --dbname=\"$SPECULA_DATABASE_URL\" specula.dump."
        );
        return Ok(ExitCode::FAILURE);
    };
    anyhow::ensure!(path.exists(), "no database at {}", path.display());
    anyhow::ensure!(
        !args.file.exists(),
        "{} exists; name a new file",
        args.file.display()
    );
    let connection = db::connect(&args.database.database_url, 1, Default::default()).await?;
    // A consistent copy from one read transaction; writers go on meanwhile.
    let target = args
        .file
        .to_str()
        .ok_or_else(|| anyhow::anyhow!("the backup's path is not UTF-8"))?;
    connection
        .execute_raw(Statement::from_sql_and_values(
            connection.get_database_backend(),
            "VACUUM INTO ?",
            [target.into()],
        ))
        .await?;
    let bytes = std::fs::metadata(&args.file)?.len();
    println!(
        "backed up {} to {} ({bytes} bytes)",
        path.display(),
        args.file.display()
    );
    let key = key_file(&path);
    if key.exists() {
        let copy = key_file(&args.file);
        std::fs::copy(&key, &copy)?;
        println!("and its sealing key to {}", copy.display());
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn restore(args: &RestoreArgs) -> anyhow::Result<ExitCode> {
    let Some(path) = args.database.database_url.sqlite_path() else {
        eprintln!(
            "A PostgreSQL database is restored with pg_restore, with every replica stopped:\n\
             \n  pg_restore --clean --if-exists --dbname=\"$SPECULA_DATABASE_URL\" specula.dump\n\n\
             then start Specula with the SPECULA_SECRETS_KEY the backup was made with."
        );
        return Ok(ExitCode::FAILURE);
    };
    anyhow::ensure!(args.file.exists(), "no backup at {}", args.file.display());
    anyhow::ensure!(
        args.force || !path.exists(),
        "{} exists: stop the server, then restore with --force to replace it",
        path.display()
    );
    // The backup must be a whole Specula database before anything is replaced.
    let backup_url: crate::config::DatabaseUrl = format!("sqlite://{}", args.file.display())
        .parse()
        .map_err(anyhow::Error::msg)?;
    let backup = db::connect(&backup_url, 1, Default::default()).await?;
    let check = backup
        .query_one_raw(Statement::from_string(
            backup.get_database_backend(),
            "PRAGMA integrity_check",
        ))
        .await?
        .map(|row| row.try_get_by_index::<String>(0))
        .transpose()?;
    anyhow::ensure!(
        check.as_deref() == Some("ok"),
        "{} is damaged: {}",
        args.file.display(),
        check.unwrap_or_default()
    );
    backup
        .query_one_raw(Statement::from_string(
            backup.get_database_backend(),
            "SELECT COUNT(*) FROM seaql_migrations",
        ))
        .await
        .map_err(|_| anyhow::anyhow!("{} is not a Specula database", args.file.display()))?;
    backup.close().await?;
    // Copied beside the database, then renamed over it: never half a file in its place.
    let folder = path
        .parent()
        .filter(|folder| !folder.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder)?;
    let staged = folder.join(format!(".restore-{}", std::process::id()));
    std::fs::copy(&args.file, &staged)?;
    std::fs::File::open(&staged)?.sync_all()?;
    for stale in ["-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(stale);
        match std::fs::remove_file(PathBuf::from(name)) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => return Err(err.into()),
            _ => {}
        }
    }
    std::fs::rename(&staged, &path)?;
    println!("restored {} from {}", path.display(), args.file.display());
    let key = key_file(&args.file);
    if key.exists() {
        std::fs::copy(&key, key_file(&path))?;
        println!("and its sealing key");
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn export_org(args: &ExportOrgArgs) -> anyhow::Result<ExitCode> {
    let connection = open(&args.database).await?;
    let moved = if args.file.as_os_str() == "-" {
        otlp::export_org(
            &connection,
            args.org,
            &mut std::io::BufWriter::new(std::io::stdout().lock()),
        )
        .await?
    } else {
        anyhow::ensure!(
            !args.file.exists(),
            "{} exists; name a new file",
            args.file.display()
        );
        let mut out = std::io::BufWriter::new(std::fs::File::create_new(&args.file)?);
        let moved = otlp::export_org(&connection, args.org, &mut out).await?;
        out.into_inner().map_err(|err| err.into_error())?.sync_all()?;
        moved
    };
    eprintln!(
        "exported {} policy versions, {} prices and {} spans",
        moved.policy_versions, moved.prices, moved.spans
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn import_org(args: &ImportOrgArgs) -> anyhow::Result<ExitCode> {
    use app::telemetry::services::{
        ingest::writer::{IngestWriter, WriterSettings},
        live::LiveHub,
    };
    let connection = open(&args.database).await?;
    let owner = accounts::find_by_email(&connection, &args.owner_email)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no account {}", args.owner_email))?;
    let writer_db = db::connect_writer(&args.database.database_url, &connection, Default::default()).await?;
    let stop = tokio_util::sync::CancellationToken::new();
    let (writer, writer_task) = IngestWriter::start(
        writer_db,
        WriterSettings {
            queue_capacity: 8,
            max_batch_spans: 2_000,
            max_batch_wait: std::time::Duration::from_millis(5),
            store: Default::default(),
        },
        LiveHub::default(),
        stop.clone(),
    )?;
    let actor = Actor::user(&owner, shell_origin());
    let imported = if args.file.as_os_str() == "-" {
        otlp::import_org(
            &connection,
            &writer,
            &actor,
            args.name.as_deref(),
            std::io::stdin().lock(),
        )
        .await
    } else {
        let input = std::io::BufReader::new(std::fs::File::open(&args.file)?);
        otlp::import_org(&connection, &writer, &actor, args.name.as_deref(), input).await
    };
    stop.cancel();
    writer_task.await?;
    let (org_id, moved) = imported?;
    println!("{org_id}");
    eprintln!(
        "imported {} policy versions, {} prices and {} spans into {org_id}",
        moved.policy_versions, moved.prices, moved.spans
    );
    Ok(ExitCode::SUCCESS)
}
