//! Finding the installation's sealing key: `SPECULA_SECRETS_KEY`, the file
//! `SPECULA_SECRETS_KEY_FILE` names, or on SQLite a key file beside the
//! database, made at first start (readable by its owner only), so that a
//! copy of the database alone does not open the secrets sealed in it.

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use anyhow::Context;
use app::platform::services::sealed::SealingKey;

use crate::config::ServeConfig;

/// The key, or `None` when nothing names one (PostgreSQL without settings).
pub fn load(config: &ServeConfig) -> anyhow::Result<Option<SealingKey>> {
    if let Some(text) = &config.secrets_key {
        return SealingKey::from_base64(text)
            .map(Some)
            .context("SPECULA_SECRETS_KEY");
    }
    if let Some(path) = &config.secrets_key_file {
        return read(path).map(Some);
    }
    match config.database_url.sqlite_path() {
        Some(database) => read_or_make(&beside(&database)).map(Some),
        None => Ok(None),
    }
}

fn beside(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".key");
    PathBuf::from(name)
}

fn read(path: &Path) -> anyhow::Result<SealingKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the sealing key {}", path.display()))?;
    SealingKey::from_base64(&text).with_context(|| format!("the sealing key in {}", path.display()))
}

fn read_or_make(path: &Path) -> anyhow::Result<SealingKey> {
    if path.exists() {
        return read(path);
    }
    let text = SealingKey::generate_base64();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(format!("{text}\n").as_bytes())
                .and_then(|()| file.sync_all())
                .with_context(|| format!("writing the sealing key {}", path.display()))?;
            tracing::info!(path = %path.display(), "made a sealing key for alert channels' secrets; back it up with the database");
            SealingKey::from_base64(&text).context("a generated key")
        }
        // Another process made it first.
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => read(path),
        Err(err) => Err(err).with_context(|| format!("making the sealing key {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_is_made_once_and_read_after() {
        let folder = tempfile::tempdir().unwrap();
        let path = beside(&folder.path().join("specula.db"));
        assert!(path.ends_with("specula.db.key"));
        let made = read_or_make(&path).unwrap();
        let sealed = made.seal(b"secret", "ctx");
        let again = read_or_make(&path).unwrap();
        assert_eq!(again.open(&sealed, "ctx").unwrap(), b"secret");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }
}
