//! Runs every example binary and checks the metrics it promises.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh, empty directory for one example's files.
fn out_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "tallyho-examples-test-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `exe --out dir`, asserts success and the final `done:` line, returns stdout.
fn run(exe: &str, name: &str, dir: &Path) -> String {
    let output = Command::new(exe)
        .arg("--out")
        .arg(dir)
        .output()
        .unwrap_or_else(|e| panic!("running {exe}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{name} failed: {}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        stdout.lines().last(),
        Some(format!("done: {name}").as_str()),
        "{name}: last line of\n{stdout}"
    );
    stdout
}

/// `key=value` from the `summary:` / `summary ...` lines.
fn summary_value(stdout: &str, key: &str) -> u64 {
    stdout
        .lines()
        .filter(|l| l.starts_with("summary"))
        .flat_map(|l| l.split_whitespace())
        .find_map(|w| w.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no summary {key} in\n{stdout}"))
        .parse()
        .unwrap()
}

/// Files in `dir` whose names end with `ext`, sorted (oldest first).
fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(ext))
        .collect();
    v.sort();
    v
}

/// The sum of the `value`s of the series of family `name` in a JSON export.
fn json_family_sum(doc: &serde_json::Value, name: &str) -> Option<f64> {
    let family = doc["families"]
        .as_array()?
        .iter()
        .find(|f| f["name"] == name)?;
    Some(
        family["series"]
            .as_array()?
            .iter()
            .map(|s| s["value"].as_f64().unwrap_or(0.0))
            .sum(),
    )
}

/// The sum of the values of the lines of Prometheus text starting with `prefix`.
fn text_sum(text: &str, prefix: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}

#[test]
fn dag_pipeline() {
    let dir = out_dir("dag_pipeline");
    let stdout = run(env!("CARGO_BIN_EXE_dag_pipeline"), "dag_pipeline", &dir);
    // The console table.
    assert!(stdout.contains("--- metrics over"), "{stdout}");
    assert!(
        stdout.contains("dag_run_completed{dag=\"etl_daily\"}"),
        "{stdout}"
    );

    let started = summary_value(&stdout, "dag_runs_started");
    let completed = summary_value(&stdout, "dag_runs_completed");
    let failed = summary_value(&stdout, "dag_runs_failed");
    assert_eq!(started, 18);
    assert_eq!(completed + failed, started);

    let json = files(&dir, ".json");
    assert!(!json.is_empty(), "no JSON files in {}", dir.display());
    let docs: Vec<serde_json::Value> = json
        .iter()
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect();
    for doc in &docs {
        assert!(doc["timestamp_ms"].is_i64() || doc["timestamp_ms"].is_u64());
        assert!(json_family_sum(doc, "dag_run_completed").is_some());
    }
    // The final export (at shutdown) has the final totals.
    let last = docs.last().unwrap();
    assert_eq!(
        json_family_sum(last, "dag_run_started"),
        Some(started as f64)
    );
    assert_eq!(
        json_family_sum(last, "dag_run_completed"),
        Some(completed as f64)
    );
    assert_eq!(
        json_family_sum(last, "task_completed"),
        Some(summary_value(&stdout, "tasks_completed") as f64)
    );
    assert_eq!(
        json_family_sum(last, "task_retried"),
        Some(summary_value(&stdout, "task_retries") as f64)
    );
    assert_eq!(
        json_family_sum(last, "sla_violations").unwrap_or(0.0),
        summary_value(&stdout, "sla_violations") as f64
    );
    let names: Vec<&str> = last["families"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    for want in [
        "dag_run_failed",
        "task_started",
        "task_failed",
        "task_duration_seconds",
        "scheduler_tick_duration_seconds",
        "pool_slots_used",
        "pool_slots_available",
        "pool_slots_queued",
        "xcom_size_bytes",
    ] {
        assert!(names.contains(&want), "{want} not in {names:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn agent_orchestrator() {
    let dir = out_dir("agent_orchestrator");
    let stdout = run(
        env!("CARGO_BIN_EXE_agent_orchestrator"),
        "agent_orchestrator",
        &dir,
    );
    assert!(
        stdout.contains("GET /metrics -> HTTP/1.1 200 OK"),
        "{stdout}"
    );
    let body = stdout
        .split("GET /metrics -> HTTP/1.1 200 OK\n")
        .nth(1)
        .unwrap()
        .split("--- end of /metrics ---")
        .next()
        .unwrap();
    let mut models = 0;
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("summary tokens_used ") {
            let parts: Vec<&str> = rest.split_whitespace().collect();
            let model = parts[0].strip_prefix("model=").unwrap();
            let kind = parts[1].strip_prefix("kind=").unwrap();
            let want = format!(
                "tokens_used_total{{model=\"{model}\",kind=\"{kind}\"}} {}",
                parts[2]
            );
            assert!(body.contains(&want), "{want} not in\n{body}");
            models += 1;
        }
    }
    assert_eq!(models, 6);
    for want in [
        "sessions_active 0\n",
        "message_latency_seconds_count{agent=\"planner\"}",
        "tool_invocations_total{tool=",
        "delegations_total{from=",
        "errors_total{type=",
        "node_load_ratio{node=\"node-a\"}",
        "budget_utilization_ratio ",
    ] {
        assert!(body.contains(want), "{want} not in\n{body}");
    }
    assert_eq!(
        text_sum(body, "message_latency_seconds_count"),
        summary_value(&stdout, "messages") as f64
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn job_worker() {
    let dir = out_dir("job_worker");
    let stdout = run(env!("CARGO_BIN_EXE_job_worker"), "job_worker", &dir);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("otlp receiver: "))
        .unwrap();
    let field = |k: &str| -> u64 {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(k))
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(field("requests=") >= 1, "{line}");
    assert!(field("bytes=") > 0, "{line}");
    assert!(stdout.contains("otlp flushed: true"), "{stdout}");

    let text = stdout
        .split("--- prometheus text ---\n")
        .nth(1)
        .unwrap()
        .split("--- end of prometheus text ---")
        .next()
        .unwrap();
    let completed = summary_value(&stdout, "completed");
    let failed = summary_value(&stdout, "failed");
    let retries = summary_value(&stdout, "retries") as f64;
    assert_eq!(completed + failed, 180);
    for (status, n) in [("completed", completed), ("failed", failed)] {
        let want = format!("jobs_processed_total{{status=\"{status}\"}} {n}\n");
        assert!(text.contains(&want), "{want} not in\n{text}");
    }
    assert_eq!(text_sum(text, "jobs_started_total"), 180.0);
    assert_eq!(text_sum(text, "jobs_completed_total"), completed as f64);
    assert_eq!(text_sum(text, "jobs_failed_total"), failed as f64);
    assert_eq!(text_sum(text, "jobs_retried_total"), retries);
    for want in [
        "jobs_active{",
        // The explicit boundaries.
        "jobs_duration_seconds_bucket{queue=\"default\",job_type=\"send_email\",outcome=\"completed\",le=\"0.002\"}",
        "jobs_queue_wait_seconds_bucket{queue=\"bulk\",job_type=\"sync_crm\",le=\"0.25\"}",
        "jobs_queue_depth 0\n",
        "job_output_size_bytes_count{job_type=",
        "job_errors_total{class=\"retryable\",kind=\"connection_reset\"}",
        "tallyho_exports_total{exporter=\"otlp\"}",
    ] {
        assert!(text.contains(want), "{want} not in\n{text}");
    }
    // Host metrics from /proc (Linux).
    if Path::new("/proc/self/stat").exists() {
        assert!(
            text.lines()
                .any(|l| l.starts_with("process_") || l.starts_with("system_")),
            "no host metrics in\n{text}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn dev_loop() {
    let dir = out_dir("dev_loop");
    let stdout = run(env!("CARGO_BIN_EXE_dev_loop"), "dev_loop", &dir);
    let denied = stdout
        .find("GET /metrics without credentials -> HTTP/1.1 401")
        .unwrap_or_else(|| panic!("no 401 line in\n{stdout}"));
    let allowed = stdout
        .find("GET /metrics with dev:loop -> HTTP/1.1 200 OK")
        .unwrap_or_else(|| panic!("no 200 line in\n{stdout}"));
    assert!(denied < allowed);
    let body = stdout[allowed..]
        .split("--- end of /metrics ---")
        .next()
        .unwrap();
    assert!(body.contains("prs_merged_total{"), "{body}");
    assert_eq!(
        text_sum(body, "prs_merged_total"),
        summary_value(&stdout, "prs_merged") as f64
    );
    assert_eq!(
        text_sum(body, "prs_created_total"),
        summary_value(&stdout, "prs_created") as f64
    );
    assert_eq!(text_sum(body, "issues_processed_total"), 40.0);
    assert_eq!(
        text_sum(body, "issues_processed_total{provider=\"anthropic\"")
            + text_sum(body, "issues_processed_total{provider=\"openai\""),
        40.0
    );
    for want in [
        "escalations_total{platform=",
        "active_loops 0\n",
        "pending_approvals ",
        "issue_queue_depth 0\n",
        "issue_completion_duration_seconds_count{issue_type=",
        "ai_request_duration_seconds_count{provider=\"openai\"}",
        "test_execution_duration_seconds_count{platform=\"github\",outcome=\"passed\"}",
    ] {
        assert!(body.contains(want), "{want} not in\n{body}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Splits one CSV line (RFC 4180 quoting).
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                fields.last_mut().unwrap().push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(String::new()),
            _ => fields.last_mut().unwrap().push(c),
        }
    }
    assert!(!quoted, "unterminated quote in {line}");
    fields
}

#[test]
fn batch_engine() {
    let dir = out_dir("batch_engine");
    let stdout = run(env!("CARGO_BIN_EXE_batch_engine"), "batch_engine", &dir);
    let json = files(&dir, ".json");
    let csv = files(&dir, ".csv");
    assert!(!json.is_empty() && !csv.is_empty(), "{stdout}");
    for f in json.iter().chain(&csv) {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        assert!(stdout.contains(&name), "{name} not listed in\n{stdout}");
    }
    for f in &json {
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
        assert!(json_family_sum(&doc, "batches_created").is_some());
    }
    assert!(stdout.contains("timestamp_ms,name,type,labels,value,count,sum,buckets"));

    let batches = summary_value(&stdout, "batches") as f64;
    let jobs = summary_value(&stdout, "jobs") as f64;
    let last_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(json.last().unwrap()).unwrap()).unwrap();
    assert_eq!(
        json_family_sum(&last_json, "batches_created"),
        Some(batches)
    );

    let text = std::fs::read_to_string(csv.last().unwrap()).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("period_start_ms,period_end_ms,timestamp_ms,name,type,labels,value,count,sum,buckets")
    );
    let mut batches_seen = 0.0;
    let mut size_count = 0.0;
    let mut transitions = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for line in lines {
        let mut f = csv_fields(line);
        assert_eq!(f.len(), 10, "{line}");
        // The period (start, end) the file covers, then the row as the plain CSV has it.
        let (start, end): (u64, u64) = (f[0].parse().unwrap(), f[1].parse().unwrap());
        assert!(start <= end, "{line}");
        f.drain(..2);
        f[0].parse::<u64>().unwrap();
        let labels: serde_json::Value = serde_json::from_str(&f[3]).unwrap();
        assert!(labels.is_object(), "{line}");
        names.insert(f[1].clone());
        match f[2].as_str() {
            "histogram" => {
                let count: f64 = f[5].parse().unwrap();
                f[6].parse::<f64>().unwrap();
                assert!(f[7].ends_with(&format!("+Inf:{}", f[5])), "{line}");
                if f[1] == "batch_size" {
                    size_count += count;
                }
            }
            _ => {
                let value: f64 = f[4].parse().unwrap();
                if f[1] == "batches_created" {
                    batches_seen += value;
                }
                if f[1] == "job_status_changes" {
                    let from = labels["from"].as_str().unwrap().to_owned();
                    let to = labels["to"].as_str().unwrap().to_owned();
                    transitions.push((from, to, value));
                }
            }
        }
    }
    assert_eq!(batches_seen, batches);
    assert_eq!(size_count, batches);
    for want in [
        "batches_created",
        "batch_size",
        "job_status_changes",
        "job_duration_seconds",
        "job_errors",
    ] {
        assert!(names.contains(want), "{want} not in {names:?}");
    }
    for (from, to, value) in &transitions {
        let want = format!("summary job_status_changes from={from} to={to} {value}");
        assert!(stdout.contains(&want), "{want} not in\n{stdout}");
    }
    let queued = transitions
        .iter()
        .find(|(f, t, _)| f == "pending" && t == "queued")
        .unwrap()
        .2;
    assert_eq!(queued, jobs);
    let _ = std::fs::remove_dir_all(&dir);
}
