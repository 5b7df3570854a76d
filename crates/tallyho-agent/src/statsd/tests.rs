//! Unit tests of parsing and ingestion, one per rule of the module docs.

use std::time::{Duration, Instant};

use super::*;
use tallyho::{Registry, Snapshot};

fn refused(s: &Snapshot, reason: &str) -> Option<f64> {
    s.value("tallyho_statsd_refused_lines", &[("reason", reason)])
}

fn histogram(s: &Snapshot, name: &str, labels: &[(&str, &str)]) -> (u64, f64) {
    let h = s.family(name).unwrap().series_with(labels).unwrap();
    let h = h.value.as_histogram().unwrap();
    (h.count, h.sum)
}

fn ingest(text: &str) -> Snapshot {
    let r = Registry::new();
    Ingest::new(&r).unwrap().datagram(text);
    r.snapshot()
}

#[test]
fn parses_every_type() {
    let l = parse("api.hits:3|c|@0.5|#route:/x,code:200").unwrap();
    assert_eq!(
        (l.name, l.value, l.kind, l.rate),
        ("api.hits", 3.0, Kind::Counter, 0.5)
    );
    assert_eq!(l.tags, vec![("route", "/x"), ("code", "200")]);
    assert_eq!(parse("q:-2|g").unwrap().kind, Kind::Gauge { delta: true });
    assert_eq!(parse("q:2|g").unwrap().kind, Kind::Gauge { delta: false });
    assert_eq!(parse("t:12.5|ms").unwrap().kind, Kind::Timing);
    assert_eq!(parse("u:alice|s").unwrap().member, "alice");
    for bad in [
        "nocolon",
        ":1|c",
        "x:1",
        "x:abc|c",
        "x:1|zz",
        "x:1|c|@2",
        "x:inf|g",
        "x:1:|d",
        "x:1|c|T",
        "x:1|c|T12a",
    ] {
        assert!(
            matches!(parse(bad), Err(Malformed::Syntax(_))),
            "{bad}: {:?}",
            parse(bad)
        );
    }
    for unknown in ["x:1|c|junk", "x:1|c|", "x:1|c|cx", "x:1|d|q:1"] {
        assert_eq!(
            parse(unknown),
            Err(Malformed::Unsupported("unknown_field")),
            "{unknown}"
        );
    }
}

#[test]
fn dogstatsd_fields_are_accepted_and_multi_values_parsed() {
    let l = parse("x:1:2.5:-3|d|@0.5|#a:b|c:abc123|e:it-1|card:low|T1700000000").unwrap();
    assert_eq!(l.values().collect::<Vec<_>>(), vec![1.0, 2.5, -3.0]);
    assert_eq!(
        (l.kind, l.rate, l.tags.clone()),
        (Kind::Histogram, 0.5, vec![("a", "b")])
    );
    let set = parse("s:a:b|s").unwrap();
    assert_eq!(
        (set.member, set.more.len()),
        ("a:b", 0),
        "a member keeps its colons"
    );
    assert_eq!(
        parse("f:1|c|#flag,k:").unwrap().tags,
        vec![("flag", "true"), ("k", "")]
    );
}

#[test]
fn ingest_records_and_counts_bad_lines() {
    let s = ingest("jobs:1|c\njobs:2|c|@0.5\nqueue:10|g\nqueue:-3|g\nlat:250|ms|#route:/a\nusers:a|s\nusers:b|s\nusers:a|s\nbroken\njobs:1|g");
    assert_eq!(s.value("jobs", &[]), Some(5.0));
    assert_eq!(s.value("queue", &[]), Some(7.0));
    assert_eq!(s.value("users", &[]), Some(2.0));
    assert_eq!(histogram(&s, "lat_seconds", &[("route", "/a")]), (1, 0.25));
    assert_eq!(s.value("tallyho_statsd_malformed_lines", &[]), Some(1.0));
    assert_eq!(
        s.value("tallyho_statsd_rejected_lines", &[]),
        Some(1.0),
        "jobs as a gauge clashes"
    );
    assert_eq!(s.value("tallyho_statsd_lines", &[]), Some(10.0));
}

#[test]
fn names_and_tag_keys_are_sanitised_and_counted() {
    let s = ingest("my-app.req:1|c\na/b:2|c\n9lives:3|c\nwith space:4|g\nplain.name:5|c\nt:6|c|#path:/a,weird-key:v\nt:1|c|#weird-key:v,path:/a");
    assert_eq!(s.value("my_app_req", &[]), Some(1.0));
    assert_eq!(s.value("a_b", &[]), Some(2.0));
    assert_eq!(s.value("_9lives", &[]), Some(3.0));
    assert_eq!(s.value("with_space", &[]), Some(4.0));
    assert_eq!(s.value("plain_name", &[]), Some(5.0));
    assert_eq!(
        s.value("t", &[("path", "/a"), ("weird_key", "v")]),
        Some(7.0)
    );
    let part = |p| s.value("tallyho_statsd_sanitized_lines", &[("part", p)]);
    assert_eq!(
        part("name"),
        Some(4.0),
        "plain.name is the naming rule, not a change"
    );
    assert_eq!(part("tag_key"), Some(2.0));
}

#[test]
fn different_raw_names_never_merge_into_one_series() {
    let s = ingest("my-app.req:1|c\nmy_app.req:10|c\nmy-app.req:1|c\na.b:1|g\na_b:5|g\nc:1|c\nc_total:9|c\nk:1|c|#weird-key:v\nk:1|c|#weird_key:v\nk2:1|c|#a-b:1,a_b:2\ne:1|c|#:v\n");
    assert_eq!(
        s.value("my_app_req", &[]),
        Some(2.0),
        "the first raw name keeps it"
    );
    assert_eq!(s.value("a_b", &[]), Some(1.0));
    assert_eq!(s.value("c", &[]), Some(1.0));
    assert_eq!(refused(&s, "name_collision"), Some(3.0));
    assert_eq!(s.value("k", &[("weird_key", "v")]), Some(1.0));
    assert_eq!(
        refused(&s, "tag_key_collision"),
        Some(2.0),
        "across and within lines"
    );
    assert_eq!(refused(&s, "invalid_tag_key"), Some(1.0));
}

#[test]
fn negative_counter_values_go_to_a_decrements_counter() {
    let r = Registry::new();
    let i = Ingest::new(&r).unwrap();
    i.datagram(
        "d:3|c\nd:-2|c\nd:-1|c|@0.5\nd:1:-1:2|c\nd_decrements:1|c\nf_decrements:1|g\nf:2|c\nf:-1|c",
    );
    let s = r.snapshot();
    assert_eq!(s.value("d", &[]), Some(6.0));
    assert_eq!(s.value("d_decrements", &[]), Some(5.0), "2 + 1 / 0.5 + 1");
    assert_eq!(s.value("tallyho_statsd_decrement_lines", &[]), Some(3.0));
    assert_eq!(s.value("f", &[]), Some(2.0));
    assert_eq!(
        s.value("f_decrements", &[]),
        Some(1.0),
        "the gauge sent first"
    );
    assert_eq!(
        refused(&s, "name_collision"),
        Some(2.0),
        "a raw d_decrements, and f's decrements"
    );
    assert_eq!(refused(&s, "negative_counter"), None);
    let mut text = Vec::new();
    tallyho_encode::Format::Prometheus
        .encode(&mut text, &s)
        .unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("# TYPE d_decrements_total counter"), "{text}");
    assert!(text.contains("\nd_decrements_total 5\n"), "{text}");
}

#[test]
fn tagged_decrements_keep_the_tags() {
    let s = ingest("q:-2|c|#env:prod,my-key:x\nq:5|c|#env:prod,my-key:x");
    let l = [("env", "prod"), ("my_key", "x")];
    assert_eq!(s.value("q_decrements", &l), Some(2.0));
    assert_eq!(s.value("q", &l), Some(5.0));
}

#[test]
fn multi_value_lines_record_every_value() {
    let s = ingest("x:1:2:3|d\nt:10:20|ms|@0.5\ng:5:+2:-1|g\nh:2:4|h|#a:b\nneg:1:-2|ms\nbad:1::2|d\nm:a:b|s\nm:a|s\n");
    assert_eq!(histogram(&s, "x", &[]), (3, 6.0));
    let (count, sum) = histogram(&s, "t_seconds", &[]);
    assert_eq!(count, 4, "two values, each observed 1 / 0.5 times");
    assert!((sum - 0.06).abs() < 1e-12, "{sum}");
    assert_eq!(s.value("g", &[]), Some(6.0));
    assert_eq!(histogram(&s, "h", &[("a", "b")]), (2, 6.0));
    assert_eq!(refused(&s, "negative_timing"), Some(1.0));
    assert!(s.family("neg_seconds").is_none(), "refused whole");
    assert_eq!(s.value("tallyho_statsd_malformed_lines", &[]), Some(1.0));
    assert_eq!(s.value("m", &[]), Some(2.0), "a:b and a");
}

#[test]
fn sampled_timers_are_observed_floor_of_one_over_rate_times() {
    let s = ingest("a:40|ms|@0.25\nb:40|ms|@0.3\nc:40|ms|@0.00001\nd:1|h|@0.1\n");
    let (count, sum) = histogram(&s, "a_seconds", &[]);
    assert_eq!(count, 4);
    assert!((sum - 0.16).abs() < 1e-12);
    assert_eq!(histogram(&s, "b_seconds", &[]).0, 3);
    assert_eq!(histogram(&s, "d", &[]).0, 10);
    assert_eq!(refused(&s, "too_many_observations"), Some(1.0));
}

#[test]
fn bare_tags_read_true_and_unknown_fields_are_refused() {
    let s =
        ingest("b:1|c|#flag,env:prod,empty:\nx:1|c|c:abc|e:it-1|card:low|T1700000000\nx:1|c|zz\n");
    let l = [("empty", ""), ("env", "prod"), ("flag", "true")];
    assert_eq!(s.value("b", &l), Some(1.0));
    assert_eq!(s.value("x", &[]), Some(1.0));
    assert_eq!(refused(&s, "unknown_field"), Some(1.0));
    assert_eq!(s.value("tallyho_statsd_malformed_lines", &[]), Some(0.0));
}

#[test]
fn sets_count_distinct_members_per_window() {
    let r = Registry::new();
    let limits = Limits {
        max_families: 100,
        series_ttl: std::time::Duration::from_secs(300),
        max_sets: 1,
    };
    let i = Ingest::with_limits(&r, limits)
        .unwrap()
        .with_set_window(Duration::from_secs(10));
    let t0 = Instant::now();
    let at = |secs: u64| t0 + Duration::from_secs(secs);
    let users = || r.snapshot().value("users", &[]);
    i.datagram_at(b"users:a|s\nusers:b|s\nusers:a|s", at(0));
    assert_eq!(users(), Some(2.0));
    i.datagram_at(b"users:c|s\nother:x|s", at(5));
    assert_eq!(users(), Some(3.0), "same window");
    assert_eq!(refused(&r.snapshot(), "too_many_sets"), Some(1.0));
    i.datagram_at(b"users:a|s", at(11));
    assert_eq!(
        users(),
        Some(1.0),
        "a new window opened with its first member"
    );
    i.expire_sets_at(at(15));
    assert_eq!(users(), Some(1.0), "still open");
    i.expire_sets_at(at(21));
    assert_eq!(users(), Some(0.0), "closed: no member in this window");
    i.datagram_at(b"other:x|s", at(22));
    assert_eq!(
        r.snapshot().value("other", &[]),
        Some(1.0),
        "the slot was freed"
    );
}

#[test]
fn new_names_past_the_limit_are_refused_and_counted() {
    let limits = Limits {
        max_families: 100,
        series_ttl: std::time::Duration::from_secs(300),
        max_sets: 3,
    };
    let r = Registry::new();
    let i = Ingest::with_limits(&r, limits).unwrap();
    let text: String = (0..1000).map(|n| format!("m{n}:1|c\n")).collect();
    i.datagram(&text);
    i.datagram("m5:1|c");
    i.datagram("m5:-1|c");
    let s = r.snapshot();
    assert_eq!(s.value("m5", &[]), Some(2.0), "known names still record");
    assert_eq!(s.value("m500", &[]), None);
    assert_eq!(
        refused(&s, "too_many_families"),
        Some(901.0),
        "m5's decrements too"
    );
    let sets: String = (0..10).map(|n| format!("s{n}:x|s\n")).collect();
    let r = Registry::new();
    let i = Ingest::with_limits(&r, limits).unwrap();
    i.datagram(&sets);
    assert_eq!(refused(&r.snapshot(), "too_many_sets"), Some(7.0));
}

#[test]
fn a_set_of_many_members_is_estimated_in_bounded_memory() {
    let r = Registry::new();
    let i = Ingest::new(&r).unwrap();
    let now = Instant::now();
    for chunk in 0..200 {
        let text: String = (0..1000)
            .map(|n| format!("u:m{}|s\n", chunk * 1000 + n))
            .collect();
        i.datagram_at(text.as_bytes(), now);
    }
    let v = r.snapshot().value("u", &[]).unwrap();
    assert!((v - 200_000.0).abs() < 20_000.0, "{v}");
}

#[test]
fn colliding_and_reserved_names_are_refused() {
    let r = Registry::new();
    r.gauge("host_load", "A host family.").unwrap().set(1.0);
    let i = Ingest::new(&r).unwrap();
    i.datagram("coll:1|c\ncoll_total:7|g\nx:1|h\nx_count:1|g\nx_sum:1|g\nx_bucket:1|g\n");
    i.datagram("host_load:5|c\ntallyho_statsd_lines:1|c\n__x:1|g\ny_total:1|g\ny:1|c\n");
    let s = r.snapshot();
    assert_eq!(s.value("coll", &[]), Some(1.0));
    assert_eq!(s.value("coll_total", &[]), None);
    assert!(s.family("x_count").is_none() && s.family("x_sum").is_none());
    assert_eq!(
        refused(&s, "name_collision"),
        Some(5.0),
        "coll_total, x_*, y"
    );
    assert_eq!(refused(&s, "reserved_name"), Some(2.0));
    assert_eq!(
        s.value("tallyho_statsd_rejected_lines", &[]),
        Some(1.0),
        "host_load as a counter clashes in the registry"
    );
    let mut text = Vec::new();
    tallyho_encode::Format::Prometheus
        .encode(&mut text, &s)
        .unwrap();
    let text = String::from_utf8(text).unwrap();
    assert_eq!(text.matches("# TYPE coll").count(), 1, "{text}");
}

#[test]
fn values_no_parser_accepts_are_refused_with_a_reason() {
    let s = ingest(
        "t:-5|ms\nbig:1e308|c\nbig:1e308|c\ntiny:1|c|@1e-320\ng:1e308|g\ng:+1e308|g\nok:2|c",
    );
    assert_eq!(refused(&s, "negative_timing"), Some(1.0));
    assert_eq!(refused(&s, "overflow"), Some(2.0), "big twice, g delta");
    assert_eq!(refused(&s, "not_finite"), Some(1.0), "tiny rate");
    assert_eq!(s.value("big", &[]), Some(1e308));
    assert_eq!(s.value("ok", &[]), Some(2.0));
}

#[test]
fn one_bad_utf8_line_drops_only_itself() {
    let r = Registry::new();
    let i = Ingest::new(&r).unwrap();
    i.datagram_bytes(b"a:1|c\nb\xff\xfe:1|c\r\nc:2|c\n");
    let s = r.snapshot();
    assert_eq!(s.value("a", &[]), Some(1.0));
    assert_eq!(s.value("c", &[]), Some(2.0));
    assert_eq!(s.value("tallyho_statsd_malformed_lines", &[]), Some(1.0));
    assert_eq!(s.value("tallyho_statsd_lines", &[]), Some(3.0));
}

#[test]
fn the_tag_policy_filters_cuts_prefixes_and_counts() {
    let r = Registry::new();
    let policy = TagPolicy {
        allowed: Some(["route".to_owned(), "env".to_owned()].into()),
        refuse_others: false,
        max_value_len: 5,
        prefix: "app".into(),
    };
    let ingest = Ingest::new(&r).unwrap().with_tag_policy(policy.clone());
    ingest.datagram(
        "req:1|c|#route:/users/42,user:alice,env:prod\nreq:2|c|#route:/users/42,env:prod",
    );
    let s = r.snapshot();
    // The user tag is gone, the route cut to 5 bytes, the name prefixed: one series.
    assert_eq!(
        s.value("app_req", &[("env", "prod"), ("route", "/user")]),
        Some(3.0),
        "{:?}",
        s.family("app_req")
    );
    assert!(s.family("req").is_none());
    let counted = |part| s.value("tallyho_statsd_sanitized_lines", &[("part", part)]);
    assert_eq!(counted("tag_dropped"), Some(1.0));
    assert_eq!(counted("tag_value"), Some(2.0));
    // Refusing instead: the line with another key is not recorded, and counted.
    let r = Registry::new();
    let strict = Ingest::new(&r).unwrap().with_tag_policy(TagPolicy {
        refuse_others: true,
        ..policy
    });
    strict.datagram("req:1|c|#route:/a,user:bob\nreq:1|c|#route:/a");
    let s = r.snapshot();
    assert_eq!(refused(&s, "tag_not_allowed"), Some(1.0));
    assert_eq!(s.value("app_req", &[("route", "/a")]), Some(1.0));
}
