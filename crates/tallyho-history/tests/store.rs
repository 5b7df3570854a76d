//! The store through `Storage`: chunk round trips, selection with every matcher kind over
//! head and blocks, staleness, out-of-order handling, the directory lock.

mod common;

use std::time::Duration;

use proptest::prelude::*;
use tallyho::{FamilySnapshot, MetricKind, Snapshot};
use tallyho_history::{Chunk, History, HistoryError, HistoryOptions};
use tallyho_query::{is_stale, Labels, MatchOp, Matcher, Sample, Storage, STALE_NAN};

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_string(), (*b).to_string())),
    )
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        Just(0.0),
        Just(f64::from_bits(STALE_NAN)),
        (0u64..1000).prop_map(|v| v as f64),
        any::<u64>().prop_map(f64::from_bits),
    ]
}

proptest! {
    #[test]
    fn chunks_round_trip_every_bit(
        start in any::<i64>().prop_map(|t| t / 4),
        steps in prop::collection::vec(
            prop_oneof![Just(15_000i64), 1i64..100_000, 1i64..(1 << 40)], 0..200),
        values in prop::collection::vec(value(), 201),
    ) {
        let mut t = start;
        let mut samples = vec![(t, values[0])];
        for (i, d) in steps.iter().enumerate() {
            t += d;
            samples.push((t, values[i + 1]));
        }
        let samples = &samples[..samples.len().min(usize::from(u16::MAX))];
        let c = Chunk::encode(samples).expect("increasing timestamps encode");
        let back: Vec<(i64, u64)> = c.iter().map(|(t, v)| (t, v.to_bits())).collect();
        let want: Vec<(i64, u64)> = samples.iter().map(|&(t, v)| (t, v.to_bits())).collect();
        prop_assert_eq!(back, want);
    }
}

#[test]
fn a_chunk_refuses_timestamps_that_do_not_increase() {
    assert!(Chunk::encode(&[(5, 1.0), (5, 2.0)]).is_none());
    assert!(Chunk::encode(&[]).is_none());
}

/// Four series over `hours` hours every 15 s; returns what was appended.
fn fill(h: &History, t0: i64, hours: i64) -> Vec<(Labels, Vec<Sample>)> {
    let sets = [
        labels(&[("__name__", "req_total"), ("code", "200"), ("path", "/a")]),
        labels(&[("__name__", "req_total"), ("code", "500"), ("path", "/b")]),
        labels(&[("__name__", "req_total"), ("path", "/c")]),
        labels(&[("__name__", "temp"), ("room", "x\"y\\z")]),
    ];
    let mut out: Vec<(Labels, Vec<Sample>)> = sets.iter().map(|l| (l.clone(), vec![])).collect();
    let n = hours * 240;
    for i in 0..n {
        let t = t0 + i * 15_000;
        let batch: Vec<(Labels, f64)> = sets
            .iter()
            .enumerate()
            .map(|(k, l)| (l.clone(), (i * (k as i64 + 1)) as f64 + 0.25))
            .collect();
        let st = h.append_samples(t, &batch).unwrap();
        assert_eq!(st.appended, sets.len());
        for (k, (_, v)) in batch.iter().enumerate() {
            out[k].1.push(Sample { t, v: *v });
        }
    }
    out
}

fn m(name: &str, op: MatchOp, v: &str) -> Matcher {
    Matcher::new(name, op, v).unwrap()
}

fn check_matchers(h: &History, all: &[(Labels, Vec<Sample>)], start: i64, end: i64) {
    let cases: Vec<(Vec<Matcher>, Vec<usize>)> = vec![
        (
            vec![m("__name__", MatchOp::Equal, "req_total")],
            vec![0, 1, 2],
        ),
        (
            vec![
                m("__name__", MatchOp::Equal, "req_total"),
                m("code", MatchOp::NotEqual, "200"),
            ],
            vec![1, 2],
        ),
        (vec![m("path", MatchOp::Regex, "/(a|c)")], vec![0, 2]),
        (vec![m("__name__", MatchOp::NotRegex, "req.*")], vec![3]),
        // A missing label matches as "".
        (
            vec![
                m("__name__", MatchOp::Equal, "req_total"),
                m("code", MatchOp::Equal, ""),
            ],
            vec![2],
        ),
        (vec![m("room", MatchOp::Equal, "x\"y\\z")], vec![3]),
        (vec![m("__name__", MatchOp::Equal, "nope")], vec![]),
    ];
    for (matchers, want) in cases {
        let got = h.select(&matchers, start, end).unwrap();
        let mut expect: Vec<(Labels, Vec<Sample>)> = want
            .iter()
            .map(|&i| {
                let s: Vec<Sample> = all[i]
                    .1
                    .iter()
                    .copied()
                    .filter(|s| s.t >= start && s.t <= end)
                    .collect();
                (all[i].0.clone(), s)
            })
            .filter(|(_, s)| !s.is_empty())
            .collect();
        expect.sort_by(|a, b| a.0.cmp(&b.0));
        let got: Vec<(Labels, Vec<Sample>)> =
            got.into_iter().map(|r| (r.labels, r.samples)).collect();
        assert_eq!(got, expect, "matchers {matchers:?} over [{start}, {end}]");
    }
}

#[test]
fn selection_in_memory_returns_exactly_what_was_appended() {
    let h = History::in_memory();
    let t0 = 1_700_000_000_000;
    let all = fill(&h, t0, 3);
    check_matchers(&h, &all, t0, t0 + 3 * 3_600_000);
    check_matchers(&h, &all, t0 + 1_000_000, t0 + 1_100_000);
    assert_eq!(h.stats().series, 4);
    let names = h.label_names(&[], t0, t0 + 10_000_000).unwrap();
    assert_eq!(names, ["__name__", "code", "path", "room"]);
    let values = h.label_values("code", &[], t0, t0 + 10_000_000).unwrap();
    assert_eq!(values, ["200", "500"]);
}

#[test]
fn selection_spans_blocks_and_head() {
    let dir = tempfile::tempdir().unwrap();
    let opts = HistoryOptions::default()
        .storage_path(dir.path())
        .block_duration(Duration::from_secs(3600));
    let h = History::open(opts.clone()).unwrap();
    let t0 = 1_700_000_000_000 - 1_700_000_000_000 % 3_600_000;
    let all = fill(&h, t0, 5);
    h.wait_for_blocks();
    let st = h.stats();
    assert!(st.blocks >= 3, "{st:?}");
    assert!(st.head_samples > 0, "{st:?}");
    // Whole range, a range inside one block, one straddling a block and the head.
    check_matchers(&h, &all, t0, t0 + 5 * 3_600_000);
    check_matchers(&h, &all, t0 + 3_700_000, t0 + 3_800_000);
    check_matchers(&h, &all, t0 + 3 * 3_600_000 + 1_234, t0 + 5 * 3_600_000);
    drop(h);
    // After reopening (blocks + WAL replay) the same answers.
    let h = History::open(opts).unwrap();
    check_matchers(&h, &all, t0, t0 + 5 * 3_600_000);
    assert_eq!(h.stats().corrupt_files, 0);
}

fn snap(t: i64, series: &[&str]) -> Snapshot {
    let mut f = FamilySnapshot::new("jobs", "Jobs.", MetricKind::Counter);
    for s in series {
        f = f.with_point(&[("queue", s)], 3u64);
    }
    Snapshot {
        time: common::at_ms(t),
        families: vec![f],
    }
}

#[test]
fn a_series_missing_from_an_append_gets_a_staleness_marker_once() {
    let h = History::in_memory();
    h.append(&snap(1_000, &["a", "b"])).unwrap();
    let st = h.append(&snap(2_000, &["a"])).unwrap();
    assert_eq!(st.stale_markers, 1);
    let st = h.append(&snap(3_000, &["a"])).unwrap();
    assert_eq!(st.stale_markers, 0);
    let b = h
        .select(&[m("queue", MatchOp::Equal, "b")], 0, 10_000)
        .unwrap();
    assert_eq!(b.len(), 1);
    assert_eq!(
        b[0].labels,
        labels(&[("__name__", "jobs_total"), ("queue", "b")])
    );
    let s = &b[0].samples;
    assert_eq!((s.len(), s[0].t, s[0].v, s[1].t), (2, 1_000, 3.0, 2_000));
    assert!(is_stale(s[1].v));
    // It comes back as a fresh sample.
    h.append(&snap(4_000, &["a", "b"])).unwrap();
    let b = h
        .select(&[m("queue", MatchOp::Equal, "b")], 0, 10_000)
        .unwrap();
    assert_eq!(b[0].samples.last(), Some(&Sample { t: 4_000, v: 3.0 }));
}

/// A snapshot of series `jobs_total{queue="q<id>"}` in the given order, each valued
/// `id * 1000 + step`, so that every sample names the series it belongs to.
fn snap_valued(step: i64, ids: &[u8]) -> Snapshot {
    let mut f = FamilySnapshot::new("jobs", "Jobs.", MetricKind::Counter);
    for id in ids {
        let q = format!("q{id}");
        f = f.with_point(
            &[("queue", q.as_str())],
            u64::from(*id) * 1000 + step as u64,
        );
    }
    Snapshot {
        time: common::at_ms(step * 1000),
        families: vec![f],
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Appends that add, drop, reorder and repeat series (the cases the position cache of
    /// the last append must fall back on), with sample appends in between: every sample
    /// lands in its own series, and a series gets a staleness marker exactly when the
    /// append after one that carried it does not.
    #[test]
    fn reordered_collections_land_in_their_own_series(
        appends in prop::collection::vec(
            (prop::collection::vec(0u8..12, 0..12), any::<bool>()), 1..24),
    ) {
        let h = History::in_memory();
        let mut prev: Vec<u8> = Vec::new();
        let mut want_stale: Vec<(u8, i64)> = Vec::new();
        for (i, (ids, interleave)) in appends.iter().enumerate() {
            let step = i as i64 + 1;
            h.append(&snap_valued(step, ids)).unwrap();
            for gone in prev.iter().filter(|p| !ids.contains(p)) {
                if !want_stale.contains(&(*gone, step)) {
                    want_stale.push((*gone, step));
                }
            }
            if *interleave {
                // A sample append (no staleness tracking) between two collections.
                let other = labels(&[("__name__", "rule_out")]);
                h.append_samples(step * 1000 + 1, &[(other, step as f64)]).unwrap();
            }
            prev = ids.clone();
        }
        let got = h.select(&[m("__name__", MatchOp::Equal, "jobs_total")], 0, i64::MAX).unwrap();
        let mut stale_seen = Vec::new();
        for series in &got {
            let q = series.labels.get("queue");
            let id: u8 = q.trim_start_matches('q').parse().unwrap();
            for s in &series.samples {
                if is_stale(s.v) {
                    stale_seen.push((id, s.t / 1000));
                } else {
                    prop_assert_eq!(s.v, f64::from(id) * 1000.0 + (s.t / 1000) as f64);
                }
            }
        }
        stale_seen.sort_unstable();
        want_stale.sort_unstable();
        prop_assert_eq!(stale_seen, want_stale);
    }
}

#[test]
fn out_of_order_and_duplicate_samples_are_refused_per_series() {
    let h = History::in_memory();
    let a = labels(&[("__name__", "a")]);
    let b = labels(&[("__name__", "b")]);
    h.append_samples(10_000, &[(a.clone(), 1.0)]).unwrap();
    let st = h
        .append_samples(10_000, &[(a.clone(), 2.0), (b.clone(), 5.0)])
        .unwrap();
    assert_eq!((st.appended, st.out_of_order, st.new_series), (1, 1, 1));
    let st = h.append_samples(9_000, &[(a.clone(), 3.0)]).unwrap();
    assert_eq!(st.out_of_order, 1);
    h.append_samples(11_000, &[(a.clone(), 4.0)]).unwrap();
    let got = h
        .select(&[m("__name__", MatchOp::Equal, "a")], 0, 20_000)
        .unwrap();
    assert_eq!(
        got[0].samples,
        [Sample { t: 10_000, v: 1.0 }, Sample { t: 11_000, v: 4.0 }]
    );
    assert_eq!(h.stats().out_of_order_rejected, 2);
}

#[test]
fn a_second_history_on_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let opts = HistoryOptions::default().storage_path(dir.path());
    let h = History::open(opts.clone()).unwrap();
    let err = History::open(opts.clone()).unwrap_err();
    assert!(matches!(err, HistoryError::Locked { .. }), "{err}");
    assert!(err.to_string().contains("in use"), "{err}");
    drop(h);
    History::open(opts).unwrap();
}

#[test]
fn invalid_options_are_named() {
    let err = History::open(HistoryOptions::default().block_duration(Duration::ZERO)).unwrap_err();
    assert!(err.to_string().contains("block_duration"), "{err}");
    let err = History::open(HistoryOptions::default().max_bytes(0)).unwrap_err();
    assert!(err.to_string().contains("max_bytes"), "{err}");
}
