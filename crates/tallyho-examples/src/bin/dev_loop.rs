//! `dev_loop`: a simulated autonomous development loop (an AI agent that takes issues,
//! writes code, runs the tests, opens pull requests and asks humans for approval),
//! instrumented with tallyho and served on a `/metrics` endpoint behind basic auth.
//!
//! Forty issues from two platforms are worked by three loops that call two AI providers;
//! every choice comes from a seeded xorshift, so the counts are the same on every run.
//! Metrics (labels `provider`, `platform`, `issue_type`, `outcome`):
//!
//! - `issues_processed` (counter by `provider`, `platform`, `issue_type`, `outcome`),
//! - `prs_created` / `prs_merged` (counters by `provider`, `platform`),
//! - `escalations` (counter by `platform`, `issue_type`),
//! - `active_loops` (up-down counter), `pending_approvals` (gauge),
//!   `issue_queue_depth` (observable gauge),
//! - `issue_completion_duration_seconds` (by `issue_type`, `outcome`),
//!   `ai_request_duration_seconds` (by `provider`), `test_execution_duration_seconds`
//!   (by `platform`, `outcome`): histograms of simulated durations.
//!
//! The endpoint requires `Auth::basic("dev", "loop")`. At the end the program requests
//! `/metrics` once without credentials (and prints the `401` status line) and once with
//! them (and prints the body).
//!
//! Run: `cargo run -p tallyho-examples --bin dev_loop`

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tallyho::{Buckets, Registry};
use tallyho_examples::{http_get, XorShift};
use tallyho_http::{Auth, Endpoint};

const PROVIDERS: &[&str] = &["anthropic", "openai"];
const PLATFORMS: &[&str] = &["github", "gitlab"];
const ISSUE_TYPES: &[&str] = &["bug", "feature", "chore"];
const ISSUES: usize = 40;
const LOOPS: usize = 3;
/// `dev:loop` in base64, for the `Authorization: Basic` header.
const CREDENTIALS: &str = "ZGV2Omxvb3A=";

struct Issue {
    platform: &'static str,
    issue_type: &'static str,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let reg = Registry::new();
    let issues = reg
        .metric(
            "issues_processed",
            "Issues the loop finished with, by outcome.",
        )
        .counter_family(&["provider", "platform", "issue_type", "outcome"])?;
    let prs_created = reg
        .metric("prs_created", "Pull requests opened by the loop.")
        .counter_family(&["provider", "platform"])?;
    let prs_merged = reg
        .metric("prs_merged", "Pull requests of the loop that were merged.")
        .counter_family(&["provider", "platform"])?;
    let escalations = reg
        .metric("escalations", "Issues handed to a human.")
        .counter_family(&["platform", "issue_type"])?;
    let active_loops = reg
        .metric("active_loops", "Development loops working on an issue.")
        .up_down_counter()?;
    let pending = reg
        .metric(
            "pending_approvals",
            "Pull requests waiting for a human approval.",
        )
        .gauge_i64()?;
    let completion = reg
        .metric(
            "issue_completion_duration",
            "Time from picking an issue to its outcome.",
        )
        .unit("seconds")
        .buckets(Buckets::new([60.0, 300.0, 900.0, 1800.0, 3600.0])?)
        .histogram_family(&["issue_type", "outcome"])?;
    let ai = reg
        .metric("ai_request_duration", "Time an AI provider took to answer.")
        .unit("seconds")
        .buckets(Buckets::new([1.0, 2.5, 5.0, 10.0, 20.0, 40.0])?)
        .histogram_family(&["provider"])?;
    let tests = reg
        .metric("test_execution_duration", "Time a test-suite run took.")
        .unit("seconds")
        .buckets(Buckets::new([30.0, 60.0, 120.0, 300.0, 600.0])?)
        .histogram_family(&["platform", "outcome"])?;

    let mut rng = XorShift::new(0xDE7_100B);
    let mut queue: VecDeque<Issue> = (0..ISSUES)
        .map(|_| Issue {
            platform: rng.pick(PLATFORMS),
            issue_type: rng.pick(ISSUE_TYPES),
        })
        .collect();
    let queue_len = Arc::new(AtomicU64::new(queue.len() as u64));
    let observed = queue_len.clone();
    reg.metric("issue_queue_depth", "Issues waiting for a loop.")
        .observable_gauge(move || observed.load(Ordering::Relaxed) as f64)?;

    let server = Endpoint::new(reg.clone())
        .auth(Auth::basic("dev", "loop"))
        .spawn("127.0.0.1:0")?;
    let addr = server.local_addr();
    println!("serving http://{addr}/metrics (basic auth dev:loop)");

    let mut outcomes: BTreeMap<&str, u64> = BTreeMap::new();
    let mut merged_total = 0u64;
    let mut created_total = 0u64;
    // Each round, up to LOOPS issues are worked "in parallel".
    while !queue.is_empty() {
        let batch: Vec<Issue> = (0..LOOPS).filter_map(|_| queue.pop_front()).collect();
        queue_len.store(queue.len() as u64, Ordering::Relaxed);
        active_loops.add(batch.len() as i64);
        for issue in &batch {
            let provider = rng.pick(PROVIDERS);
            let mut elapsed = 0.0;
            // Plan, code and fix with the AI until the tests pass or we give up.
            let mut passed = false;
            for _attempt in 0..3 {
                for _ in 0..rng.range(1, 4) {
                    let secs = 0.8 + rng.next_f64() * 30.0;
                    ai.with(&[provider]).observe(secs);
                    elapsed += secs;
                }
                let secs = 20.0 + rng.next_f64() * 400.0;
                passed = rng.chance(0.6);
                let outcome = if passed { "passed" } else { "failed" };
                tests.with(&[issue.platform, outcome]).observe(secs);
                elapsed += secs;
                std::thread::sleep(Duration::from_millis(12));
                if passed {
                    break;
                }
            }
            let outcome = if !passed {
                escalations.with(&[issue.platform, issue.issue_type]).inc();
                "escalated"
            } else {
                prs_created.with(&[provider, issue.platform]).inc();
                created_total += 1;
                pending.inc();
                elapsed += 60.0 + rng.next_f64() * 1200.0; // waiting for review
                std::thread::sleep(Duration::from_millis(6));
                pending.dec();
                if rng.chance(0.8) {
                    prs_merged.with(&[provider, issue.platform]).inc();
                    merged_total += 1;
                    "merged"
                } else {
                    escalations.with(&[issue.platform, issue.issue_type]).inc();
                    "changes_requested"
                }
            };
            issues
                .with(&[provider, issue.platform, issue.issue_type, outcome])
                .inc();
            completion
                .with(&[issue.issue_type, outcome])
                .observe(elapsed);
            *outcomes.entry(outcome).or_default() += 1;
        }
        // PRs of the last round still waiting for a human.
        pending.set(rng.range(0, 3) as i64);
        active_loops.add(-(batch.len() as i64));
    }

    let denied = http_get(addr, "/metrics", None)?;
    println!("GET /metrics without credentials -> {}", denied.status_line);
    let allowed = http_get(addr, "/metrics", Some(&format!("Basic {CREDENTIALS}")))?;
    println!("GET /metrics with dev:loop -> {}", allowed.status_line);
    println!("{}", allowed.body.trim_end());
    println!("--- end of /metrics ---");
    for (outcome, n) in &outcomes {
        println!("summary outcome={outcome} {n}");
    }
    println!("summary prs_created={created_total} prs_merged={merged_total}");
    server.shutdown();
    println!("done: dev_loop");
    Ok(())
}
