//! Property tests for every parser of outside bytes in the agent: StatsD lines and
//! datagrams, and the TOML configuration. Random and structured inputs must never panic,
//! memory stays within the configured bounds, and the regression corpus in `tests/corpus`
//! is replayed on every run.

use proptest::prelude::*;
use tallyho::Registry;
use tallyho_agent::config::{RawConfig, Settings};
use tallyho_agent::statsd::{self, Ingest, Limits};

const LIMITS: Limits = Limits {
    max_families: 20,
    max_sets: 5,
    series_ttl: std::time::Duration::from_secs(300),
};

/// Decodes the corpus escapes `\n`, `\r`, `\\` and `\xNN`.
fn unescape(line: &str) -> Vec<u8> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match (b[i], b.get(i + 1)) {
            (b'\\', Some(b'n')) => (out.push(b'\n'), i += 2).1,
            (b'\\', Some(b'r')) => (out.push(b'\r'), i += 2).1,
            (b'\\', Some(b'\\')) => (out.push(b'\\'), i += 2).1,
            (b'\\', Some(b'x')) if i + 4 <= b.len() => {
                let hex = std::str::from_utf8(&b[i + 2..i + 4]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 4;
            }
            (c, _) => (out.push(c), i += 1).1,
        }
    }
    out
}

/// Feeds `datagrams` to a bounded ingest and checks the registry stayed bounded and
/// every counter stayed finite and non-negative.
fn ingest_bounded(datagrams: &[Vec<u8>]) {
    let r = Registry::new();
    let i = Ingest::with_limits(&r, LIMITS).unwrap();
    let own = r.snapshot().families.len();
    for d in datagrams {
        i.datagram_bytes(d);
    }
    let s = r.snapshot();
    // Each StatsD family adds one registry family at most (plus the refusal reasons,
    // which live in one self-metric family already counted in `own`).
    assert!(s.families.len() <= own + LIMITS.max_families + 1);
    for f in &s.families {
        for series in &f.series {
            if let Some(v) = series.value.as_f64() {
                if f.kind.as_str() == "counter" {
                    assert!(v.is_finite() && v >= 0.0, "{}: {v}", f.name);
                }
            }
        }
    }
}

#[test]
fn statsd_corpus_is_handled() {
    let text = include_str!("corpus/statsd_lines.txt");
    let inputs: Vec<Vec<u8>> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(unescape)
        .collect();
    assert!(inputs.len() > 30);
    for input in &inputs {
        if let Ok(s) = std::str::from_utf8(input) {
            for line in s.lines() {
                let _ = statsd::parse(line);
            }
        }
    }
    ingest_bounded(&inputs);
}

#[test]
fn config_corpus_is_loaded_or_refused_with_a_message() {
    for text in include_str!("corpus/config.toml.txt")
        .split("\n---\n")
        .map(|t| {
            t.lines()
                .filter(|l| !l.starts_with('#'))
                .collect::<Vec<_>>()
                .join("\n")
        })
    {
        // Whatever parses is checked into settings or refused with a message, never a
        // panic (a huge interval used to panic converting to a `Duration`).
        match RawConfig::from_toml(&text).and_then(|r| Settings::from_raw(&r, &|_: &str| None)) {
            Ok(c) => assert!(!c.interval.is_zero(), "{text}"),
            Err(e) => assert!(!e.is_empty(), "{text}"),
        }
    }
}

/// StatsD-shaped lines: names, values, types and fields drawn from the interesting pieces.
fn statsd_line() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        "[a-z]{1,3}",
        "[a-z]{1,2}(_total|_count|_sum|_bucket|_seconds)",
        Just("__x".to_string()),
        Just("tallyho_statsd_lines".to_string()),
        "[ -~]{0,6}",
    ];
    let value = prop_oneof![
        any::<f64>().prop_map(|v| v.to_string()),
        "[+-]?[0-9]{1,4}(\\.[0-9]{1,3})?",
        Just("1e308".to_string()),
        Just("nan".to_string()),
        "[ -~]{0,4}",
    ];
    let kind = prop_oneof!["c", "g", "ms", "h", "d", "s", "[a-z]{0,2}"];
    let extra = prop_oneof![
        Just(String::new()),
        "\\|@[0-9e.-]{1,8}",
        "\\|#([a-c](:[a-z]{0,2})?,?){0,4}",
        "\\|[ -~]{0,5}",
    ];
    (name, value, kind, extra).prop_map(|(n, v, k, e)| format!("{n}:{v}|{k}{e}"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn parse_never_panics_on_random_text(s in "\\PC{0,64}") {
        let _ = statsd::parse(&s);
    }

    #[test]
    fn datagrams_of_random_bytes_stay_bounded(ds in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..128), 0..16)) {
        ingest_bounded(&ds);
    }

    #[test]
    fn structured_lines_stay_bounded_and_finite(lines in prop::collection::vec(statsd_line(), 1..64)) {
        let datagram = lines.join("\n").into_bytes();
        for l in &lines {
            if let Ok(p) = statsd::parse(l) {
                prop_assert!(p.value.is_finite());
                prop_assert!(p.rate > 0.0 && p.rate <= 1.0);
            }
        }
        ingest_bounded(&[datagram.clone(), datagram]);
    }

    #[test]
    fn config_loader_never_panics_on_random_text(s in "\\PC{0,128}") {
        if let Ok(r) = RawConfig::from_toml(&s) {
            let _ = Settings::from_raw(&r, &|_: &str| None);
        }
    }

    #[test]
    fn config_loader_never_panics_on_structured_values(
        key in prop_oneof![
            Just("interval_seconds"), Just("listen"), Just("statsd"),
            Just("[history]\nretention"), Just("[history]\nmax_bytes"),
            Just("[alerting]\nevaluation_interval"), Just("[http]\nheader_timeout_seconds"),
            Just("[http]\nmax_connections"), Just("[statsd_input]\nrecv_buffer_bytes"),
            Just("[export]\notlp_endpoint"),
        ],
        value in prop_oneof![
            any::<f64>().prop_map(|v| format!("{v:e}")),
            any::<i64>().prop_map(|v| v.to_string()),
            "\"[ -~]{0,12}\"",
            "\"[0-9]{1,25}(h|m|s|ms|MiB|GiB)\"",
        ],
    ) {
        let text = format!("{key} = {value}\n");
        if let Ok(r) = RawConfig::from_toml(&text) {
            let _ = Settings::from_raw(&r, &|_: &str| None);
        }
    }
}
