//! `agent_orchestrator`: a simulated multi-agent LLM orchestrator instrumented with tallyho
//! and served on a `/metrics` endpoint.
//!
//! Twelve sessions are interleaved over three nodes; in each, a planner, a coder and a
//! reviewer agent exchange messages with three models, call tools, delegate work to each
//! other and sometimes hit errors (a seeded xorshift decides, so every run is the same).
//! Metrics:
//!
//! - `sessions_active` (up-down counter),
//! - `tokens_used` (counter by `model`, `kind` = prompt, completion),
//! - `message_latency_seconds` (histogram by `agent`),
//! - `tool_invocations` (counter by `tool`, `status`),
//! - `delegations` (counter by `from`, `to`), `errors` (counter by `type`),
//! - `node_load_ratio` (gauge by `node`), `budget_utilization_ratio` (gauge).
//!
//! The registry is served by `tallyho_http::Endpoint::spawn("127.0.0.1:0")`; at the end the
//! program fetches its own `/metrics` with a plain `std::net::TcpStream` GET and prints it.
//!
//! Run: `cargo run -p tallyho-examples --bin agent_orchestrator`

use std::collections::BTreeMap;
use std::time::Duration;

use tallyho::{Buckets, Registry};
use tallyho_examples::{http_get, XorShift};
use tallyho_http::Endpoint;

const MODELS: &[(&str, f64)] = &[
    // (model, USD per 1k tokens)
    ("claude-sonnet", 0.009),
    ("gpt-4o", 0.010),
    ("llama-3-70b", 0.001),
];
const AGENTS: &[&str] = &["planner", "coder", "reviewer"];
const TOOLS: &[&str] = &["web_search", "code_exec", "file_write", "vector_lookup"];
const ERRORS: &[&str] = &["rate_limit", "context_overflow", "invalid_tool_args"];
const NODES: &[&str] = &["node-a", "node-b", "node-c"];
const SESSIONS: usize = 12;
const MAX_CONCURRENT: usize = 4;
const NODE_CAPACITY: f64 = 2.0;
const BUDGET_USD: f64 = 5.0;

struct Session {
    node: usize,
    turns_left: u32,
    agent: usize,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let reg = Registry::new();
    let sessions_active = reg
        .metric("sessions_active", "Agent sessions in progress.")
        .up_down_counter()?;
    let tokens = reg
        .metric("tokens_used", "LLM tokens used, by model and kind.")
        .counter_family(&["model", "kind"])?;
    let latency = reg
        .metric(
            "message_latency",
            "Time from prompt to the model's full reply.",
        )
        .unit("seconds")
        .buckets(Buckets::new([0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0])?)
        .histogram_family(&["agent"])?;
    let tools = reg
        .metric("tool_invocations", "Tool calls made by agents, by status.")
        .counter_family(&["tool", "status"])?;
    let delegations = reg
        .metric("delegations", "Work handed from one agent to another.")
        .counter_family(&["from", "to"])?;
    let errors = reg
        .metric("errors", "Errors seen by the orchestrator, by type.")
        .counter_family(&["type"])?;
    let node_load = reg
        .metric("node_load", "Sessions on a node over its capacity.")
        .unit("ratio")
        .gauge_family(&["node"])?;
    let budget = reg
        .metric("budget_utilization", "Share of the USD budget spent.")
        .unit("ratio")
        .gauge()?;

    let server = Endpoint::new(reg.clone()).spawn("127.0.0.1:0")?;
    let addr = server.local_addr();
    println!("serving http://{addr}/metrics");

    let mut rng = XorShift::new(0xA6E7_5EED);
    let mut started = 0;
    let mut active: Vec<Session> = Vec::new();
    let mut per_node = [0u32; 3];
    let mut token_totals: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    let mut spent = 0.0;
    let mut messages = 0u64;
    let mut simulated_latency = 0.0;

    while started < SESSIONS || !active.is_empty() {
        // Admit new sessions while there is room.
        while started < SESSIONS && active.len() < MAX_CONCURRENT {
            let node = started % NODES.len();
            active.push(Session {
                node,
                turns_left: rng.range(6, 16) as u32,
                agent: 0,
            });
            per_node[node] += 1;
            started += 1;
            sessions_active.inc();
        }
        for (n, name) in NODES.iter().enumerate() {
            node_load
                .with(&[name])
                .set(f64::from(per_node[n]) / NODE_CAPACITY);
        }

        // One message in one session.
        let i = rng.range(0, active.len() as u64) as usize;
        let s = &mut active[i];
        let agent = AGENTS[s.agent];
        let (model, price) = rng.pick(MODELS);
        if rng.chance(0.06) {
            let kind = rng.pick(ERRORS);
            errors.with(&[kind]).inc();
            println!("session on {} hit {kind}", NODES[s.node]);
        } else {
            let prompt = rng.range(300, 4000);
            let completion = rng.range(50, 1200);
            for (kind, n) in [("prompt", prompt), ("completion", completion)] {
                tokens.with(&[model, kind]).add(n);
                *token_totals.entry((model, kind)).or_default() += n;
            }
            spent += (prompt + completion) as f64 / 1000.0 * price;
            budget.set(spent / BUDGET_USD);
            // Simulated latency: time to first token plus decoding speed.
            let secs = 0.2 + completion as f64 / rng.range(60, 160) as f64;
            latency.with(&[agent]).observe(secs);
            simulated_latency += secs;
            messages += 1;
            // A small, scaled-down share of it really passes.
            std::thread::sleep(Duration::from_micros((secs * 1500.0) as u64));

            if rng.chance(0.5) {
                let tool = rng.pick(TOOLS);
                let status = match rng.range(0, 20) {
                    0 => "timeout",
                    1 | 2 => "error",
                    _ => "ok",
                };
                tools.with(&[tool, status]).inc();
                if status == "timeout" {
                    errors.with(&["tool_timeout"]).inc();
                }
            }
            if rng.chance(0.3) {
                let to = (s.agent + 1 + rng.range(0, 2) as usize) % AGENTS.len();
                delegations.with(&[agent, AGENTS[to]]).inc();
                s.agent = to;
            }
        }
        s.turns_left = s.turns_left.saturating_sub(1);
        if s.turns_left == 0 {
            let done = active.swap_remove(i);
            per_node[done.node] -= 1;
            sessions_active.dec();
        }
    }
    for name in NODES {
        node_load.with(&[name]).set(0.0);
    }

    let response = http_get(addr, "/metrics", None)?;
    println!("GET /metrics -> {}", response.status_line);
    println!("{}", response.body.trim_end());
    println!("--- end of /metrics ---");
    for ((model, kind), n) in &token_totals {
        println!("summary tokens_used model={model} kind={kind} {n}");
    }
    println!(
        "summary sessions={SESSIONS} messages={messages} simulated_latency_s={simulated_latency:.1} spent_usd={spent:.4} budget_utilization={:.4}",
        spent / BUDGET_USD
    );
    server.shutdown();
    println!("done: agent_orchestrator");
    Ok(())
}
