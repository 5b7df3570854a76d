//! Recording threads and a collecting thread at once: totals exact, counters monotonic,
//! histograms consistent in every snapshot.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};

use tallyho::{Buckets, Registry, SeriesValue, Snapshot};

const THREADS: usize = 4;
const OPS: u64 = 50_000;

fn check_histograms(s: &Snapshot) {
    for f in &s.families {
        for series in &f.series {
            if let SeriesValue::Histogram(h) = &series.value {
                assert_eq!(
                    h.counts.iter().sum::<u64>(),
                    h.count,
                    "{} buckets vs count",
                    f.name
                );
                assert_eq!(h.counts.len(), h.bounds.len() + 1);
            }
        }
    }
}

#[test]
fn totals_exact_and_monotonic_while_collecting() {
    let r = Registry::new();
    let plain = r.counter("plain", "").unwrap();
    let fam = r.metric("fam", "").counter_family(&["t", "k"]).unwrap();
    let updown = r.metric("ud", "").up_down_counter().unwrap();
    let hist = r
        .histogram("h", "", Buckets::new([1.0, 10.0, 100.0]).unwrap())
        .unwrap();
    let hfam = r.metric("hf", "").histogram_family(&["k"]).unwrap();

    let done = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(THREADS + 1));
    let writers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (plain, fam, updown, hist, hfam, start) = (
                plain.clone(),
                fam.clone(),
                updown.clone(),
                hist.clone(),
                hfam.clone(),
                start.clone(),
            );
            std::thread::spawn(move || {
                let own = t.to_string();
                start.wait();
                for i in 0..OPS {
                    plain.inc();
                    fam.with(&[&own, "shared"]).inc();
                    fam.with(&["all", "shared"]).add(2);
                    updown.add(if i % 2 == 0 { 3 } else { -1 });
                    hist.observe((i % 200) as f64);
                    hfam.with(&[if i % 2 == 0 { "even" } else { "odd" }])
                        .observe(0.5);
                }
            })
        })
        .collect();

    let collector = {
        let (r, done, start) = (r.clone(), done.clone(), start.clone());
        std::thread::spawn(move || {
            start.wait();
            let mut last_plain = 0.0;
            let mut last_all = 0.0;
            let mut rounds = 0;
            while !done.load(Ordering::Acquire) {
                let s = r.snapshot();
                check_histograms(&s);
                let p = s.value("plain", &[]).unwrap();
                assert!(
                    p >= last_plain,
                    "counter went backwards: {last_plain} -> {p}"
                );
                last_plain = p;
                if let Some(a) = s.value("fam", &[("t", "all"), ("k", "shared")]) {
                    assert!(a >= last_all);
                    last_all = a;
                }
                rounds += 1;
            }
            rounds
        })
    };
    for w in writers {
        w.join().unwrap();
    }
    done.store(true, Ordering::Release);
    let rounds = collector.join().unwrap();
    assert!(rounds > 0);

    let total = (THREADS as u64 * OPS) as f64;
    let s = r.snapshot();
    check_histograms(&s);
    assert_eq!(s.value("plain", &[]), Some(total));
    assert_eq!(
        s.value("fam", &[("t", "all"), ("k", "shared")]),
        Some(2.0 * total)
    );
    for t in 0..THREADS {
        let own = t.to_string();
        assert_eq!(
            s.value("fam", &[("t", &own), ("k", "shared")]),
            Some(OPS as f64)
        );
    }
    assert_eq!(s.value("ud", &[]), Some(total));
    let SeriesValue::Histogram(h) = &s.family("h").unwrap().series[0].value else {
        panic!("h is not a histogram")
    };
    assert_eq!(h.count, THREADS as u64 * OPS);
    // Each thread observed 0..200 cycling: sums are integers, exact in f64.
    let per_cycle: f64 = (0..200).map(f64::from).sum();
    assert_eq!(h.sum, per_cycle * (OPS / 200) as f64 * THREADS as f64);
    // le=1: values 0 and 1; le=10: 2..=10; le=100: 11..=100; +Inf: 101..200.
    let cycles = OPS / 200 * THREADS as u64;
    assert_eq!(
        h.counts,
        vec![2 * cycles, 9 * cycles, 90 * cycles, 99 * cycles]
    );
    let hf = s.family("hf").unwrap();
    let even: u64 = hf
        .series_with(&[("k", "even")])
        .and_then(|x| x.value.as_histogram())
        .unwrap()
        .count;
    assert_eq!(even, THREADS as u64 * OPS / 2);
}

/// Every observation is 1.0, so in every reading the sum must equal the count, for a
/// standalone histogram (per-thread shards) and a family's series (shared, then sharded
/// once contended).
#[test]
fn histogram_sum_matches_count_in_every_reading() {
    let r = Registry::new();
    let solo = r
        .histogram("solo", "", Buckets::new([0.5, 2.0]).unwrap())
        .unwrap();
    let fam = r
        .metric("fam_h", "")
        .buckets(Buckets::new([0.5, 2.0]).unwrap())
        .histogram_family(&["k"])
        .unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..THREADS)
        .map(|_| {
            let (solo, fam) = (solo.clone(), fam.clone());
            std::thread::spawn(move || {
                for _ in 0..OPS {
                    solo.observe(1.0);
                    fam.with(&["x"]).observe(1.0);
                }
            })
        })
        .collect();
    let reader = {
        let (r, done) = (r.clone(), done.clone());
        std::thread::spawn(move || {
            let mut readings = 0;
            while !done.load(Ordering::Acquire) {
                for f in r.snapshot().families {
                    for s in &f.series {
                        let h = s.value.as_histogram().unwrap();
                        assert_eq!(h.sum, h.count as f64, "{}: sum and count disagree", f.name);
                        assert_eq!(h.counts[1], h.count, "{}: every 1.0 is in le=2", f.name);
                        readings += 1;
                    }
                }
            }
            readings
        })
    };
    for w in writers {
        w.join().unwrap();
    }
    done.store(true, Ordering::Release);
    assert!(reader.join().unwrap() > 0);
    let s = r.snapshot();
    let total = (THREADS as u64 * OPS) as f64;
    for name in ["solo", "fam_h"] {
        let h = s.family(name).unwrap().series[0]
            .value
            .as_histogram()
            .unwrap();
        assert_eq!((h.count as f64, h.sum), (total, total), "{name}");
    }
}

/// More writers than cores (16 threads, as on a bigger machine): counters and family series
/// (through `with` and `with_static`) stay exact and monotonic while a collector reads, and
/// histograms consistent, whichever cells and shared words the threads land on.
#[test]
fn sixteen_writers_exact_and_monotonic() {
    const WRITERS: usize = 16;
    const EACH: u64 = 20_000;
    let r = Registry::new();
    let plain = r.counter("plain16", "").unwrap();
    let fam = r.metric("fam16", "").counter_family(&["k"]).unwrap();
    let hist = r
        .histogram("h16", "", Buckets::new([1.0, 2.0]).unwrap())
        .unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(WRITERS + 1));
    let writers: Vec<_> = (0..WRITERS)
        .map(|_| {
            let (plain, fam, hist, start) =
                (plain.clone(), fam.clone(), hist.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                for i in 0..EACH {
                    plain.inc();
                    if i % 2 == 0 {
                        fam.with_static(&["hot"]).inc();
                    } else {
                        fam.with(&["hot"]).add(1);
                    }
                    hist.observe(1.0);
                }
            })
        })
        .collect();
    let collector = {
        let (r, done, start) = (r.clone(), done.clone(), start.clone());
        std::thread::spawn(move || {
            start.wait();
            let (mut last_plain, mut last_hot) = (0.0, 0.0);
            while !done.load(Ordering::Acquire) {
                let s = r.snapshot();
                check_histograms(&s);
                let p = s.value("plain16", &[]).unwrap();
                let h = s.value("fam16", &[("k", "hot")]).unwrap_or(0.0);
                assert!(p >= last_plain && h >= last_hot, "a total went backwards");
                let hs = s.family("h16").unwrap().series[0]
                    .value
                    .as_histogram()
                    .unwrap();
                assert_eq!(hs.sum, hs.count as f64, "sum and count disagree");
                (last_plain, last_hot) = (p, h);
            }
        })
    };
    for w in writers {
        w.join().unwrap();
    }
    done.store(true, Ordering::Release);
    collector.join().unwrap();
    let total = WRITERS as u64 * EACH;
    assert_eq!(plain.get(), total);
    assert_eq!(fam.with(&["hot"]).get(), total);
    assert_eq!(hist.count_and_sum(), (total, total as f64));
}
