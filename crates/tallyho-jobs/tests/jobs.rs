//! JobMetrics: exact counts of outcomes, concurrency, queue wait, buckets.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tallyho::{Buckets, Registry, Snapshot};
use tallyho_jobs::JobMetrics;

fn hist(s: &Snapshot, name: &str, labels: &[(&str, &str)]) -> (u64, f64) {
    let h = s
        .family(name)
        .unwrap_or_else(|| panic!("no family {name}"))
        .series_with(labels)
        .unwrap_or_else(|| panic!("no series {labels:?} in {name}"))
        .value
        .as_histogram()
        .unwrap()
        .clone();
    (h.count, h.sum)
}

#[test]
fn outcomes_are_counted_exactly() {
    let registry = Registry::new();
    let jobs = JobMetrics::new(&registry, "jobs", &["pipeline", "schedule"]).unwrap();
    let l = ["etl", "daily"];

    let job = jobs.start(&l);
    job.complete();
    let job = jobs.start(&l);
    job.retry();
    job.retry();
    job.complete();
    jobs.start(&l).fail("timeout");
    jobs.start(&l).fail("timeout");
    jobs.start(&l).fail("oom");
    {
        let _job = jobs.start(&l); // dropped: abandoned
    }
    let running = jobs.start(&l);
    let other = jobs.start(&["ml", "hourly"]);

    let s = registry.snapshot();
    let one = [("pipeline", "etl"), ("schedule", "daily")];
    assert_eq!(s.value("jobs_started", &one), Some(7.0));
    assert_eq!(s.value("jobs_completed", &one), Some(2.0));
    assert_eq!(s.value("jobs_retried", &one), Some(2.0));
    let failed = |kind| {
        let mut l = one.to_vec();
        l.push(("kind", kind));
        s.value("jobs_failed", &l)
    };
    assert_eq!(failed("timeout"), Some(2.0));
    assert_eq!(failed("oom"), Some(1.0));
    assert_eq!(failed("abandoned"), Some(1.0));
    assert_eq!(s.value("jobs_active", &one), Some(1.0));
    assert_eq!(
        s.value("jobs_active", &[("pipeline", "ml"), ("schedule", "hourly")]),
        Some(1.0)
    );
    let mut done = one.to_vec();
    done.push(("outcome", "completed"));
    assert_eq!(hist(&s, "jobs_duration_seconds", &done).0, 2);
    done.pop();
    done.push(("outcome", "failed"));
    assert_eq!(hist(&s, "jobs_duration_seconds", &done).0, 4);

    running.complete();
    other.fail("cancelled");
    let s = registry.snapshot();
    assert_eq!(s.value("jobs_active", &one), Some(0.0));
    assert_eq!(s.value("jobs_completed", &one), Some(3.0));
}

#[test]
fn help_units_and_prometheus_text() {
    let registry = Registry::new();
    let jobs = JobMetrics::new(&registry, "batch", &["queue"]).unwrap();
    jobs.start(&["q1"]).complete();
    let s = registry.snapshot();
    let d = s.family("batch_duration_seconds").unwrap();
    assert_eq!(d.unit, "seconds");
    assert!(!d.help.is_empty());
    let mut out = Vec::new();
    tallyho_encode::prometheus::encode(&mut out, &registry).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("batch_started_total{queue=\"q1\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE batch_queue_wait_seconds histogram"),
        "{text}"
    );
}

#[test]
fn duration_is_measured() {
    let registry = Registry::new();
    let jobs = JobMetrics::new(&registry, "slow", &[]).unwrap();
    let job = jobs.start(&[]);
    std::thread::sleep(Duration::from_millis(20));
    let took = job.complete();
    assert!(took >= Duration::from_millis(20));
    let (count, sum) = hist(
        &registry.snapshot(),
        "slow_duration_seconds",
        &[("outcome", "completed")],
    );
    assert_eq!(count, 1);
    assert!(sum >= 0.02, "{sum}");
}

#[test]
fn queue_wait_and_custom_buckets() {
    let registry = Registry::new();
    let jobs = JobMetrics::builder(&registry, "q", &["lane"])
        .queue_wait_buckets(Buckets::new([0.01, 0.05, 10.0]).unwrap())
        .duration_buckets(Buckets::new([1.0]).unwrap())
        .build()
        .unwrap();
    let queued_at = Instant::now() - Duration::from_millis(100);
    jobs.start_after_wait(&["fast"], queued_at).complete();
    jobs.start_after_wait(&["fast"], Instant::now()).complete();

    let s = registry.snapshot();
    let h = s
        .family("q_queue_wait_seconds")
        .unwrap()
        .series_with(&[("lane", "fast")])
        .unwrap()
        .value
        .as_histogram()
        .unwrap()
        .clone();
    assert_eq!(h.bounds, vec![0.01, 0.05, 10.0]);
    assert_eq!(h.count, 2);
    assert!(h.sum >= 0.1 && h.sum < 5.0, "{}", h.sum);
    // One wait under 10 ms, one of ~100 ms in the (0.05, 10] bucket.
    assert_eq!(h.counts, vec![1, 0, 1, 0]);
    let d = s.family("q_duration_seconds").unwrap().series[0]
        .value
        .as_histogram()
        .unwrap()
        .bounds
        .clone();
    assert_eq!(d, vec![1.0]);
}

#[test]
fn queue_depth_is_observed_at_collection() {
    let registry = Registry::new();
    let jobs = JobMetrics::new(&registry, "work", &[]).unwrap();
    let depth = Arc::new(AtomicUsize::new(7));
    let d = depth.clone();
    jobs.queue_depth(move || d.load(Ordering::Relaxed) as f64)
        .unwrap();
    assert_eq!(
        registry.snapshot().value("work_queue_depth", &[]),
        Some(7.0)
    );
    depth.store(3, Ordering::Relaxed);
    assert_eq!(
        registry.snapshot().value("work_queue_depth", &[]),
        Some(3.0)
    );
    assert!(jobs.queue_depth(|| 0.0).is_err(), "registered once");
}

#[test]
fn reserved_extra_labels_are_errors() {
    let registry = Registry::new();
    assert!(JobMetrics::new(&registry, "a", &["kind"]).is_err());
    assert!(JobMetrics::new(&registry, "b", &["outcome"]).is_err());
    assert!(JobMetrics::new(&registry, "bad-prefix", &[]).is_err());
}

#[test]
fn wrong_label_count_records_nothing() {
    let registry = Registry::new();
    let jobs = JobMetrics::new(&registry, "x", &["a", "b"]).unwrap();
    jobs.start(&["only"]).complete();
    jobs.start(&["only"]).fail("boom");
    drop(jobs.start(&["1", "2", "3"]));
    let s = registry.snapshot();
    assert!(s.family("x_started").unwrap().series.is_empty());
    assert!(s.family("x_failed").unwrap().series.is_empty());
    assert!(s.family("x_duration_seconds").unwrap().series.is_empty());
}

#[test]
fn run_closure_and_panics_count_as_abandoned() {
    let registry = Registry::new();
    let jobs = JobMetrics::new(&registry, "r", &[]).unwrap();
    assert_eq!(jobs.run(&[], || Ok::<_, ()>(5)), Ok(5));
    assert_eq!(jobs.run(&[], || Err::<(), _>("no")), Err("no"));
    let j = jobs.clone();
    let panicked = std::thread::spawn(move || {
        let _job = j.start(&[]);
        panic!("worker died");
    })
    .join();
    assert!(panicked.is_err());
    let s = registry.snapshot();
    assert_eq!(s.value("r_completed", &[]), Some(1.0));
    assert_eq!(s.value("r_failed", &[("kind", "error")]), Some(1.0));
    assert_eq!(s.value("r_failed", &[("kind", "abandoned")]), Some(1.0));
    assert_eq!(s.value("r_active", &[]), Some(0.0));
}

#[test]
fn concurrent_jobs_are_counted_exactly() {
    const THREADS: usize = 4;
    const JOBS: usize = 10_000;
    let registry = Registry::new();
    let jobs = JobMetrics::new(&registry, "conc", &["worker_pool"]).unwrap();
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let jobs = jobs.clone();
            std::thread::spawn(move || {
                for i in 0..JOBS {
                    let pool = if i % 2 == 0 { "even" } else { "odd" };
                    let job = jobs.start_after_wait(&[pool], Instant::now());
                    match (i + t) % 5 {
                        0 => {
                            job.retry();
                            job.complete();
                        }
                        1 => {
                            job.fail("timeout");
                        }
                        2 => drop(job),
                        _ => {
                            job.complete();
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let s = registry.snapshot();
    let mut expect = std::collections::HashMap::new();
    for t in 0..THREADS {
        for i in 0..JOBS {
            let pool = if i % 2 == 0 { "even" } else { "odd" };
            let e = expect.entry(pool).or_insert([0u64; 4]);
            e[0] += 1;
            match (i + t) % 5 {
                0 => {
                    e[1] += 1;
                    e[3] += 1;
                }
                1 => e[2] += 1,
                2 => {}
                _ => e[1] += 1,
            }
        }
    }
    let mut total_started = 0.0;
    for (pool, [started, completed, timeouts, retried]) in expect {
        let l = [("worker_pool", pool)];
        let abandoned = started - completed - timeouts;
        assert_eq!(s.value("conc_started", &l), Some(started as f64));
        assert_eq!(s.value("conc_completed", &l), Some(completed as f64));
        assert_eq!(s.value("conc_retried", &l), Some(retried as f64));
        assert_eq!(
            s.value("conc_failed", &[l[0], ("kind", "timeout")]),
            Some(timeouts as f64)
        );
        assert_eq!(
            s.value("conc_failed", &[l[0], ("kind", "abandoned")]),
            Some(abandoned as f64)
        );
        assert_eq!(s.value("conc_active", &l), Some(0.0));
        assert_eq!(hist(&s, "conc_queue_wait_seconds", &l).0, started);
        let (c, _) = hist(
            &s,
            "conc_duration_seconds",
            &[l[0], ("outcome", "completed")],
        );
        let (f, _) = hist(&s, "conc_duration_seconds", &[l[0], ("outcome", "failed")]);
        assert_eq!(c, completed);
        assert_eq!(f, timeouts + abandoned);
        total_started += started as f64;
    }
    assert_eq!(total_started, (THREADS * JOBS) as f64);
}
