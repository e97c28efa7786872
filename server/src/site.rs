//! Where the built browser assets are, and the Leptos options that point at them.
//!
//! `scripts/run.sh` writes the site to `target/site` and the binary to
//! `target/release/specula`; an installed copy keeps `site/` next to the
//! binary. The server looks in those places so nobody has to set a path.

use std::path::{Path, PathBuf};

use leptos::config::Env;
use leptos::prelude::LeptosOptions;

/// The file whose presence marks a complete site root.
fn marker(root: &Path) -> PathBuf {
    root.join("pkg").join(format!("{}.js", app::OUTPUT_NAME))
}

/// The folders searched, in order, when no site root is configured.
pub fn candidate_roots(exe: Option<&Path>, cwd: Option<&Path>) -> Vec<PathBuf> {
    let mut roots = Vec::new();
    if let Some(exe_dir) = exe.and_then(Path::parent) {
        roots.push(exe_dir.join("site"));
        if let Some(target_dir) = exe_dir.parent() {
            roots.push(target_dir.join("site"));
        }
    }
    if let Some(cwd) = cwd {
        roots.push(cwd.join("target").join("site"));
        roots.push(cwd.join("site"));
    }
    roots
}

/// The configured site root, else the first candidate holding the built
/// bundle. `None` when nothing is found: pages still render but will not hydrate.
pub fn locate(configured: Option<&Path>) -> Option<PathBuf> {
    if let Some(root) = configured {
        return Some(root.to_path_buf());
    }
    let exe = std::env::current_exe().ok();
    let cwd = std::env::current_dir().ok();
    candidate_roots(exe.as_deref(), cwd.as_deref())
        .into_iter()
        .find(|root| marker(root).is_file())
}

pub fn leptos_options(site_root: &Path, site_addr: std::net::SocketAddr) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name(app::OUTPUT_NAME)
        .site_root(site_root.to_string_lossy().into_owned())
        .site_pkg_dir("pkg")
        .site_addr(site_addr)
        .env(Env::PROD)
        .build()
}

/// True when the site root holds the wasm bundle.
pub fn is_complete(root: &Path) -> bool {
    marker(root).is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_cover_installed_and_cargo_layouts() {
        let roots = candidate_roots(
            Some(Path::new("/opt/specula/target/release/specula")),
            Some(Path::new("/src/specula")),
        );
        assert_eq!(
            roots,
            vec![
                PathBuf::from("/opt/specula/target/release/site"),
                PathBuf::from("/opt/specula/target/site"),
                PathBuf::from("/src/specula/target/site"),
                PathBuf::from("/src/specula/site"),
            ]
        );
    }

    #[test]
    fn locate_finds_the_folder_with_the_bundle() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("site");
        std::fs::create_dir_all(root.join("pkg")).unwrap();
        assert!(!is_complete(&root));
        std::fs::write(marker(&root), "export default 1").unwrap();
        assert!(is_complete(&root));
        assert_eq!(locate(Some(&root)), Some(root.clone()));
    }
}
