//! Where the built browser assets are, and the Leptos options that point at them.
//!
//! `scripts/run.sh` writes the site to `target/site` and the binary to
//! `target/release/specula`; an installed copy keeps `site/` next to the
//! binary. The server looks in those places so nobody has to set a path.
//!
//! The bundle's files are named by a hash of their content
//! (`pkg/specula-<hash>.js`, `…_bg.wasm`, `….css`), which the build records
//! in `bundle-name.txt` at the site root: a page always names the files it
//! was built with, and browsers may keep them for good.

use std::path::{Path, PathBuf};

use leptos::config::Env;
use leptos::prelude::LeptosOptions;

/// The site root's record of the bundle's name; its presence marks a complete site root.
const BUNDLE_NAME_FILE: &str = "bundle-name.txt";

fn marker(root: &Path) -> PathBuf {
    root.join(BUNDLE_NAME_FILE)
}

/// The bundle's name as the build recorded it, when it is one the build
/// writes (`specula-` and hex digits); else the unhashed name.
pub fn bundle_name(root: &Path) -> String {
    std::fs::read_to_string(marker(root))
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| {
            name.strip_prefix(app::OUTPUT_NAME)
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(|hash| !hash.is_empty() && hash.bytes().all(|byte| byte.is_ascii_hexdigit()))
        })
        .unwrap_or_else(|| app::OUTPUT_NAME.to_owned())
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
        .output_name(bundle_name(site_root))
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
        std::fs::write(marker(&root), "specula-0123456789ab\n").unwrap();
        assert!(is_complete(&root));
        assert_eq!(locate(Some(&root)), Some(root.clone()));
        assert_eq!(bundle_name(&root), "specula-0123456789ab");
    }

    #[test]
    fn only_names_the_build_writes_are_used() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(bundle_name(dir.path()), "specula");
        for odd in ["", "specula-", "specula-../../etc", "other-0123", "specula-01 23"] {
            std::fs::write(marker(dir.path()), odd).unwrap();
            assert_eq!(bundle_name(dir.path()), "specula", "{odd:?}");
        }
    }
}
