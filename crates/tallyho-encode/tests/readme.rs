//! The README's library snippet is `examples/readme.rs` (built by every `cargo test` and
//! run here), so it compiles and prints what it says.

#[test]
fn the_readme_snippet_is_the_example_and_prints_metrics() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{dir}/../../README.md")).unwrap();
    let snippet = readme
        .split("```rust\n")
        .nth(1)
        .and_then(|r| r.split("```").next())
        .expect("a ```rust block in README.md");
    let example = std::fs::read_to_string(format!("{dir}/examples/readme.rs")).unwrap();
    let body = example
        .split_once("\n\n")
        .map(|(_, b)| b)
        .expect("the example's doc line, then the snippet");
    assert_eq!(body, snippet, "README.md and examples/readme.rs differ");
    let out = std::process::Command::new(env!("CARGO"))
        .args(["run", "-q", "-p", "tallyho-encode", "--example", "readme"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("jobs_processed_total{outcome=\"ok\"} 1"),
        "{text}"
    );
    assert!(text.contains("job_duration_seconds_count 1"), "{text}");
}

/// The README's quickstart, given a format that does not exist, says which ones do.
#[test]
fn the_quickstart_names_the_formats_for_a_bad_one() {
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "run",
            "-q",
            "-p",
            "tallyho-encode",
            "--example",
            "quickstart",
            "--",
            "xml",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown format \"xml\": expected one of prometheus (or text), openmetrics, json, csv, protobuf"),
        "{err}"
    );
}
