//! A process killed while it exports JSON files leaves only complete files: each is written
//! under a temporary name, synced and renamed. The test runs itself as the child process.

use std::process::Command;
use std::time::{Duration, Instant};

use tallyho::Registry;
use tallyho_export::{FileExporter, Pipeline};

const CHILD_ENV: &str = "TALLYHO_FILES_CRASH_CHILD_DIR";

/// The child process: exports big snapshots as fast as possible until killed.
///
/// Ignored, so a plain `cargo test` neither runs it nor counts it as a pass: the parent
/// test starts this binary again with `--ignored --exact child_writer`.
#[test]
#[ignore = "child process of killed_mid_export_leaves_only_complete_files: started by it"]
fn child_writer() {
    let dir = std::env::var(CHILD_ENV).unwrap_or_else(|_| {
        panic!(
            "child_writer is the child process of killed_mid_export_leaves_only_complete_files \
             and needs {CHILD_ENV} (the directory to write to); run that test instead"
        )
    });
    let r = Registry::new();
    let f = r
        .metric("rows", "Rows.")
        .cardinality_limit(50_000)
        .counter_family(&["k"])
        .unwrap();
    for i in 0..20_000 {
        f.with(&[&format!("key-{i}")]).add(i);
    }
    let p = Pipeline::builder(r)
        .interval(Duration::from_millis(1))
        .exporter(FileExporter::json(&dir, 1000))
        .start()
        .unwrap();
    std::thread::sleep(Duration::from_secs(60));
    drop(p);
}

#[test]
fn killed_mid_export_leaves_only_complete_files() {
    let dir = std::env::temp_dir().join(format!("tallyho-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "child_writer",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &dir)
        .spawn()
        .unwrap();
    // Let it write several files, then kill it at an arbitrary moment.
    let deadline = Instant::now() + Duration::from_secs(60);
    let complete = |d: &std::path::Path| {
        std::fs::read_dir(d)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
            .count()
    };
    while complete(&dir) < 3 {
        // The child only ends when killed: an early exit means it never ran the export
        // (not selected, or it panicked), which must fail here rather than pass.
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the child exited by itself ({status}) instead of exporting until killed");
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
        }
        assert!(Instant::now() < deadline, "the child wrote no files");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(37));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the child must still be exporting when it is killed"
    );
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "{status}");
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9), "killed by SIGKILL: {status}");
    }

    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".tmp") {
            // A write in progress stays under its hidden temporary name.
            assert!(name.starts_with('.'), "{name}");
            continue;
        }
        let body = std::fs::read(&path).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("{name} is torn ({} bytes): {e}", body.len()));
        let rows = json["families"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == "rows")
            .unwrap();
        assert_eq!(rows["series"].as_array().unwrap().len(), 20_000, "{name}");
        checked += 1;
    }
    assert!(checked >= 3);
    let _ = std::fs::remove_dir_all(&dir);
}
