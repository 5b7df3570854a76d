//! Series lifecycle: removal, clearing and idle expiry, read back through collection.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use tallyho::{Counter, Registry};

const IDLE: Duration = Duration::from_secs(60);

fn value(r: &Registry, label: &str) -> Option<f64> {
    let snap = r.snapshot();
    let fam = snap.family("jobs")?;
    fam.series_with(&[("queue", label)])?.value.as_f64()
}

#[test]
fn removed_and_expired_series_leave_every_output() {
    let r = Registry::new();
    let f = r
        .metric("jobs", "Jobs.")
        .expiring_family::<Counter>(&["queue"], IDLE)
        .unwrap();
    f.with(&["a"]).add(3);
    f.with(&["b"]).add(4);
    assert_eq!(value(&r, "a"), Some(3.0));
    let text = tallyho_text(&r);
    assert!(text.contains("jobs_total{queue=\"a\"} 3"), "{text}");
    assert!(f.remove(&["a"]));
    assert_eq!(value(&r, "a"), None);
    assert!(!tallyho_text(&r).contains("queue=\"a\""));

    // Collections above saw b; a timeout later it has not moved.
    let t0 = Instant::now();
    assert_eq!(f.sweep_at(t0 + IDLE), 1, "b was idle for the timeout");
    assert_eq!(value(&r, "b"), None);
    f.with(&["b"]).inc();
    assert_eq!(
        value(&r, "b"),
        Some(1.0),
        "b came back from zero, not from 4"
    );
}

/// The Prometheus text of a registry, through the snapshot's own series.
fn tallyho_text(r: &Registry) -> String {
    let snap = r.snapshot();
    let mut out = String::new();
    for fam in &snap.families {
        for s in &fam.series {
            let labels: Vec<String> = s
                .labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect();
            out.push_str(&format!(
                "{}_total{{{}}} {}\n",
                fam.name,
                labels.join(","),
                s.value.as_f64().unwrap_or(f64::NAN)
            ));
        }
    }
    out
}

#[test]
fn a_disabled_registry_gives_a_family_that_records_nothing() {
    let r = Registry::disabled();
    let f = r
        .metric("jobs", "Jobs.")
        .expiring_family::<Counter>(&["queue"], IDLE)
        .unwrap();
    f.with(&["a"]).inc();
    assert_eq!(f.len(), 0);
    assert!(!f.remove(&["a"]));
}

#[test]
fn registering_twice_returns_the_same_family_and_other_shapes_are_refused() {
    let r = Registry::new();
    let a = r
        .metric("jobs", "Jobs.")
        .expiring_family::<Counter>(&["queue"], IDLE)
        .unwrap();
    let b = r
        .metric("jobs", "Jobs.")
        .expiring_family::<Counter>(&["queue"], IDLE)
        .unwrap();
    a.with(&["q"]).inc();
    assert_eq!(b.with(&["q"]).get(), 1);
    let plain = r.metric("jobs", "Jobs.").counter_family(&["queue"]);
    assert!(
        plain.is_err(),
        "a plain family of the same name must be refused"
    );
}

#[derive(Debug, Clone)]
enum Op {
    Inc(u8, u64),
    Wait(u64),
    Remove(u8),
    Clear,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..6, 1u64..5).prop_map(|(l, n)| Op::Inc(l, n)),
        3 => (1u64..90).prop_map(Op::Wait),
        1 => (0u8..6).prop_map(Op::Remove),
        1 => Just(Op::Clear),
    ]
}

/// What the model knows of one live label set.
struct Known {
    value: u64,
    /// Fake seconds of the last recording.
    active: u64,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Expired series never come back with stale values, a series recorded within the
    /// timeout is never expired, and one idle across sweeps a timeout apart is gone.
    #[test]
    fn expiry_never_loses_a_live_value_nor_resurrects_a_stale_one(
        ops in proptest::collection::vec(op(), 1..60)
    ) {
        let r = Registry::new();
        let f = r
            .metric("jobs", "Jobs.")
            .expiring_family::<Counter>(&["queue"], IDLE)
            .unwrap();
        // Fake time runs ahead of the clock, so the collections' own sweeps (at the real
        // time) count as at the last fake one: every step ends with a sweep at `now`.
        let t0 = Instant::now() + Duration::from_secs(3600);
        let mut now = 0u64;
        let mut model: HashMap<u8, Known> = HashMap::new();
        // Fake seconds of each sweep.
        let mut sweeps: Vec<u64> = Vec::new();
        for op in ops {
            match op {
                Op::Inc(l, n) => {
                    f.with(&[&l.to_string()]).add(n);
                    let k = model.entry(l).or_insert(Known { value: 0, active: now });
                    k.value += n;
                    k.active = now;
                }
                Op::Wait(s) => now += s,
                Op::Remove(l) => {
                    prop_assert_eq!(f.remove(&[&l.to_string()]), model.remove(&l).is_some());
                }
                Op::Clear => {
                    f.clear();
                    model.clear();
                }
            }
            f.sweep_at(t0 + Duration::from_secs(now));
            sweeps.push(now);
            // Read every label set through collection (which never touches a series).
            let snap = r.snapshot();
            let fam = snap.family("jobs").unwrap();
            prop_assert_eq!(fam.series.len(), f.len());
            let mut gone = Vec::new();
            for (&l, k) in &model {
                let got = fam
                    .series_with(&[("queue", &l.to_string())])
                    .and_then(|s| s.value.as_f64());
                match got {
                    Some(v) => {
                        prop_assert_eq!(v, k.value as f64, "label {} holds a wrong value", l);
                        // Two sweeps after the last recording, a timeout apart: expired.
                        let after: Vec<u64> = sweeps.iter().copied().filter(|&s| s >= k.active).collect();
                        if let (Some(first), Some(last)) = (after.first(), after.last()) {
                            prop_assert!(last - first < IDLE.as_secs(), "label {} idle since {} outlived sweeps {:?}", l, k.active, after);
                        }
                    }
                    None => {
                        prop_assert!(now >= k.active + IDLE.as_secs(), "label {} expired {}s after its last recording", l, now - k.active);
                        gone.push(l);
                    }
                }
            }
            for l in gone {
                model.remove(&l);
            }
        }
    }
}
