//! The committed assets are the ones `web/build.sh` builds from the sources now in `web/`.
//!
//! Always: the SHA-256 of every source and every built file matches the record the build
//! wrote (`assets/SOURCES.sha256`), and no source exists that the record lacks. When `npm`
//! is on the PATH, the build is also run into a temporary folder and must give the same
//! bytes (the build is reproducible).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

const REBUILD: &str = "run crates/tallyho-dashboard/web/build.sh and commit assets/";

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn sha256(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The record: path (relative to the crate) → hash.
fn record() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(crate_dir().join("assets/SOURCES.sha256"))
        .unwrap_or_else(|e| panic!("assets/SOURCES.sha256: {e}; {REBUILD}"));
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (hash, path) = l
                .split_once("  ")
                .unwrap_or_else(|| panic!("malformed line in SOURCES.sha256: {l:?}"));
            (path.to_string(), hash.to_string())
        })
        .collect()
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Every file the build reads, relative to the crate.
fn sources() -> Vec<String> {
    let root = crate_dir();
    let mut files = Vec::new();
    walk(&root.join("web/src"), &mut files);
    let mut names: Vec<String> = files
        .iter()
        .map(|p| {
            p.strip_prefix(&root)
                .expect("under the crate")
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    names.extend(
        [
            "web/.npmrc",
            "web/build.sh",
            "web/package.json",
            "web/package-lock.json",
        ]
        .map(String::from),
    );
    names.sort();
    names
}

#[test]
fn committed_assets_match_the_sources_they_were_built_from() {
    let rec = record();
    let root = crate_dir();
    let recorded: Vec<&String> = rec.keys().filter(|p| p.starts_with("web/")).collect();
    let now = sources();
    let now_refs: Vec<&String> = now.iter().collect();
    assert_eq!(
        recorded, now_refs,
        "the set of dashboard sources changed: {REBUILD}"
    );
    for path in now
        .iter()
        .chain(rec.keys().filter(|p| p.starts_with("assets/")))
    {
        assert_eq!(
            sha256(&root.join(path)),
            rec[path],
            "{path} differs from what the last build recorded: {REBUILD}"
        );
    }
    for out in ["assets/index.html", "assets/app.js", "assets/app.css"] {
        assert!(rec.contains_key(out), "the record lacks {out}: {REBUILD}");
    }
}

#[test]
fn the_build_is_reproducible_when_npm_is_present() {
    let npm = Command::new("npm").arg("--version").output();
    if !npm.is_ok_and(|o| o.status.success()) {
        eprintln!("npm is not installed: only the recorded hashes were checked");
        return;
    }
    let out = std::env::temp_dir().join(format!("tallyho-dashboard-build-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let status = Command::new("bash")
        .arg(crate_dir().join("web/build.sh"))
        .env("OUT", &out)
        .status()
        .expect("running web/build.sh");
    assert!(status.success(), "web/build.sh failed");
    for f in ["index.html", "app.js", "app.css", "SOURCES.sha256"] {
        let built = std::fs::read(out.join(f)).expect("built file");
        let committed = std::fs::read(crate_dir().join("assets").join(f)).expect("committed file");
        assert!(
            built == committed,
            "assets/{f} is not what web/build.sh builds now: {REBUILD}"
        );
    }
    let _ = std::fs::remove_dir_all(&out);
}
