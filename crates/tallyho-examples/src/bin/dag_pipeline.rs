//! `dag_pipeline`: a simulated DAG executor (an Airflow-like scheduler) instrumented with
//! tallyho.
//!
//! Three DAGs are run six times each by a scheduler with a pool of four worker slots. Tasks
//! fail at random (a seeded xorshift, so every run is the same), are retried up to twice,
//! and a task that still fails fails its DAG run. Metrics:
//!
//! - `dag_run_started` / `dag_run_completed` / `dag_run_failed` (counters by `dag`),
//! - `task_started` / `task_completed` / `task_failed` / `task_retried` /
//!   `task_duration_seconds` (through `tallyho_jobs::JobMetrics`, by `dag`, `task`),
//! - `scheduler_tick_duration_seconds` (`#[timed]` on the tick function),
//! - `pool_slots_used` / `pool_slots_available` / `pool_slots_queued` (gauges by `pool`),
//! - `xcom_size_bytes` (histogram by `dag`), `sla_violations` (counter by `dag`).
//!
//! A `Pipeline` exports every 200 ms to JSON files (in `--out DIR`, default
//! `$TMPDIR/tallyho-dag`) and to a console table; `shutdown` exports the final batch.
//!
//! Run: `cargo run -p tallyho-examples --bin dag_pipeline -- --out /tmp/dag`

use std::collections::VecDeque;
use std::sync::OnceLock;
use std::time::Duration;

use tallyho::{Buckets, Counter, Family, Gauge, Histogram, Registry};
use tallyho_examples::{out_dir, XorShift};
use tallyho_export::{ConsoleExporter, FileExporter, Pipeline};
use tallyho_jobs::JobMetrics;
use tallyho_macros::timed;

static REGISTRY: OnceLock<Registry> = OnceLock::new();

/// The registry every metric of this example lives in (also used by `#[timed]`).
fn registry() -> &'static Registry {
    REGISTRY.get_or_init(Registry::new)
}

/// A DAG: task names and, for each task, the indices of the tasks it depends on.
struct Dag {
    name: &'static str,
    tasks: &'static [(&'static str, &'static [usize])],
    /// The SLA of one run in simulated milliseconds.
    sla_ms: u64,
}

const DAGS: &[Dag] = &[
    Dag {
        name: "etl_daily",
        tasks: &[
            ("extract_orders", &[]),
            ("extract_users", &[]),
            ("transform", &[0, 1]),
            ("load_warehouse", &[2]),
            ("refresh_views", &[3]),
        ],
        sla_ms: 30,
    },
    Dag {
        name: "ml_train",
        tasks: &[
            ("fetch_features", &[]),
            ("split", &[0]),
            ("train", &[1]),
            ("evaluate", &[2]),
            ("publish_model", &[3]),
        ],
        sla_ms: 33,
    },
    Dag {
        name: "reports",
        tasks: &[
            ("query_sales", &[]),
            ("query_costs", &[]),
            ("query_churn", &[]),
            ("render_pdf", &[0, 1, 2]),
            ("email", &[3]),
        ],
        sla_ms: 26,
    },
];

const RUNS_PER_DAG: usize = 6;
const POOL_SLOTS: usize = 4;
const MAX_RETRIES: u32 = 2;

struct Metrics {
    run_started: Family<Counter>,
    run_completed: Family<Counter>,
    run_failed: Family<Counter>,
    tasks: JobMetrics,
    slots_used: Gauge,
    slots_available: Gauge,
    slots_queued: Gauge,
    xcom: Family<Histogram>,
    sla: Family<Counter>,
}

impl Metrics {
    fn new(r: &Registry) -> Result<Self, tallyho::Error> {
        let pool = |name: &str, help: &str| -> Result<Gauge, tallyho::Error> {
            Ok(r.metric(name, help)
                .gauge_family(&["pool"])?
                .with(&["default"])
                .clone())
        };
        Ok(Metrics {
            run_started: r
                .metric("dag_run_started", "DAG runs started.")
                .counter_family(&["dag"])?,
            run_completed: r
                .metric("dag_run_completed", "DAG runs whose tasks all succeeded.")
                .counter_family(&["dag"])?,
            run_failed: r
                .metric(
                    "dag_run_failed",
                    "DAG runs with a task that failed for good.",
                )
                .counter_family(&["dag"])?,
            tasks: JobMetrics::builder(r, "task", &["dag", "task"])
                .duration_buckets(Buckets::exponential(0.0005, 2.0, 10)?)
                .build()?,
            slots_used: pool("pool_slots_used", "Worker slots running a task.")?,
            slots_available: pool("pool_slots_available", "Worker slots free.")?,
            slots_queued: pool("pool_slots_queued", "Ready tasks waiting for a slot.")?,
            xcom: r
                .metric("xcom_size", "Size of the values tasks pass downstream.")
                .unit("bytes")
                .buckets(Buckets::exponential(256.0, 4.0, 8)?)
                .histogram_family(&["dag"])?,
            sla: r
                .metric(
                    "sla_violations",
                    "DAG runs that took longer than their SLA.",
                )
                .counter_family(&["dag"])?,
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Waiting,
    Done,
    Failed,
}

/// One DAG run in progress.
struct Run {
    dag: &'static Dag,
    states: Vec<State>,
    simulated_ms: u64,
}

#[derive(Default)]
struct Totals {
    runs_completed: u64,
    runs_failed: u64,
    tasks_completed: u64,
    tasks_failed: u64,
    retries: u64,
    sla_violations: u64,
    ticks: u64,
}

/// One scheduler tick: finds the ready tasks of `run`, runs up to `POOL_SLOTS` of them and
/// records the pool gauges. Returns false when the run has nothing left to do.
#[timed(
    registry = registry,
    name = "scheduler_tick_duration",
    help = "Duration of one scheduler tick.",
    buckets = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1]
)]
fn scheduler_tick(run: &mut Run, m: &Metrics, rng: &mut XorShift, totals: &mut Totals) -> bool {
    totals.ticks += 1;
    let ready: VecDeque<usize> = (0..run.dag.tasks.len())
        .filter(|&i| {
            run.states[i] == State::Waiting
                && run.dag.tasks[i]
                    .1
                    .iter()
                    .all(|&d| run.states[d] == State::Done)
        })
        .collect();
    if ready.is_empty() {
        return false;
    }
    let used = ready.len().min(POOL_SLOTS);
    m.slots_used.set(used as f64);
    m.slots_available.set((POOL_SLOTS - used) as f64);
    m.slots_queued.set((ready.len() - used) as f64);
    let mut tick_ms = 0;
    for &i in ready.iter().take(used) {
        let (task, _) = run.dag.tasks[i];
        let job = m.tasks.start(&[run.dag.name, task]);
        let mut attempt = 0;
        let ok = loop {
            let sim_ms = rng.range(2, 12);
            tick_ms = u64::max(tick_ms, sim_ms);
            // The simulated time really passes, so durations are real.
            std::thread::sleep(Duration::from_millis(sim_ms));
            if !rng.chance(0.3) {
                break true;
            }
            if attempt == MAX_RETRIES {
                break false;
            }
            attempt += 1;
            job.retry();
            totals.retries += 1;
        };
        if ok {
            job.complete();
            totals.tasks_completed += 1;
            run.states[i] = State::Done;
            m.xcom
                .with(&[run.dag.name])
                .observe(rng.range(100, 40_000) as f64);
        } else {
            job.fail(rng.pick(&["timeout", "upstream_error", "oom"]));
            totals.tasks_failed += 1;
            run.states[i] = State::Failed;
        }
    }
    run.simulated_ms += tick_ms;
    true
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = out_dir("tallyho-dag");
    std::fs::create_dir_all(&dir)?;
    let reg = registry();
    let m = Metrics::new(reg)?;
    let pipeline = Pipeline::builder(reg.clone())
        .interval(Duration::from_millis(200))
        .exporter(FileExporter::json(&dir, 50).prefix("dag"))
        .exporter(ConsoleExporter::stdout())
        .start()?;

    let mut rng = XorShift::new(0xDA6_2024);
    let mut totals = Totals::default();
    for round in 0..RUNS_PER_DAG {
        for dag in DAGS {
            m.run_started.with(&[dag.name]).inc();
            let mut run = Run {
                dag,
                states: vec![State::Waiting; dag.tasks.len()],
                simulated_ms: 0,
            };
            while scheduler_tick(&mut run, &m, &mut rng, &mut totals) {}
            m.slots_used.set(0.0);
            m.slots_available.set(POOL_SLOTS as f64);
            m.slots_queued.set(0.0);
            let ok = run.states.iter().all(|&s| s == State::Done);
            if ok {
                m.run_completed.with(&[dag.name]).inc();
                totals.runs_completed += 1;
            } else {
                m.run_failed.with(&[dag.name]).inc();
                totals.runs_failed += 1;
            }
            if run.simulated_ms > dag.sla_ms {
                m.sla.with(&[dag.name]).inc();
                totals.sla_violations += 1;
            }
            println!(
                "run {round} {:<10} {:<9} simulated {:>3} ms{}",
                dag.name,
                if ok { "completed" } else { "failed" },
                run.simulated_ms,
                if run.simulated_ms > dag.sla_ms {
                    " (SLA missed)"
                } else {
                    ""
                }
            );
        }
    }

    let clean = pipeline.shutdown(Duration::from_secs(5));
    let mut files: Vec<String> = std::fs::read_dir(&dir)?
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with("dag-") && n.ends_with(".json"))
        .collect();
    files.sort();
    println!("pipeline shut down cleanly: {clean}");
    println!("json files in {}: {}", dir.display(), files.len());
    if let Some(last) = files.last() {
        println!("newest json file: {last}");
    }
    println!(
        "summary: dag_runs_started={} dag_runs_completed={} dag_runs_failed={} tasks_completed={} tasks_failed={} task_retries={} sla_violations={} scheduler_ticks={}",
        RUNS_PER_DAG * DAGS.len(),
        totals.runs_completed,
        totals.runs_failed,
        totals.tasks_completed,
        totals.tasks_failed,
        totals.retries,
        totals.sla_violations,
        totals.ticks,
    );
    println!("done: dag_pipeline");
    Ok(())
}
