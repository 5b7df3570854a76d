//! Exact output of every format for every kind, hostile strings and awkward numbers.

use std::time::{Duration, SystemTime};

use tallyho::{FamilySnapshot, HistogramData, MetricKind, Number, Series, SeriesValue, Snapshot};
use tallyho_encode::{csv, json, openmetrics, prometheus, Format};

fn at(secs: u64, nanos: u32) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::new(secs, nanos)
}

fn series(labels: &[(&str, &str)], start: SystemTime, value: SeriesValue) -> Series {
    Series {
        labels: labels
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
        start,
        value,
    }
}

fn histogram(bounds: &[f64], counts: &[u64], sum: f64) -> SeriesValue {
    SeriesValue::Histogram(HistogramData {
        bounds: bounds.to_vec(),
        counts: counts.to_vec(),
        sum,
        count: counts.iter().sum(),
        exponential: None,
    })
}

/// One family of each kind, plus an empty one.
fn snapshot() -> Snapshot {
    let start = at(1_700_000_000, 500_000_000);
    let hostile = "q\"uote \\back\nline\ttab 🦀";
    let mut requests = FamilySnapshot::new(
        "http_requests",
        "Requests \"served\".\nBackslash \\ too.",
        MetricKind::Counter,
    )
    .with_point(&[("method", "GET"), ("path", hostile)], 1027u64)
    .with_point(&[("method", ""), ("path", "/")], 0u64);
    requests.series[0].start = start;

    let mut temperature =
        FamilySnapshot::new("temperature_celsius", "Odd readings.", MetricKind::Gauge)
            .with_unit("celsius");
    for (sensor, v) in [
        ("nan", f64::NAN),
        ("inf", f64::INFINITY),
        ("-inf", f64::NEG_INFINITY),
        ("huge", 1e300),
        ("tiny", 1e-300),
        ("int", -3.0),
        ("frac", 0.25),
    ] {
        temperature = temperature.with_point(&[("sensor", sensor)], v);
    }

    let depth = FamilySnapshot::new("queue_depth", "", MetricKind::UpDownCounter)
        .with_point(&[], Number::I64(-5));

    let mut latency =
        FamilySnapshot::new("request_seconds", "Time to answer.", MetricKind::Histogram)
            .with_unit("seconds");
    latency.series.push(series(
        &[("route", "/a,b")],
        start,
        histogram(&[0.005, 0.5, 1.0, 2.5], &[1, 2, 0, 3, 1], 7.25),
    ));
    latency
        .series
        .push(series(&[], at(0, 0), histogram(&[], &[0], 0.0)));

    let empty = FamilySnapshot::new("idle", "", MetricKind::Gauge);

    Snapshot {
        time: at(1_700_000_010, 0),
        families: vec![requests, temperature, depth, latency, empty],
    }
}

fn encoded(format: Format, snapshot: &Snapshot) -> String {
    let mut out = Vec::new();
    format.encode(&mut out, snapshot).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn prometheus_text() {
    let want = r#"# HELP http_requests_total Requests "served".\nBackslash \\ too.
# TYPE http_requests_total counter
http_requests_total{method="GET",path="q\"uote \\back\nline	tab 🦀"} 1027
http_requests_total{method="",path="/"} 0
# HELP temperature_celsius Odd readings.
# TYPE temperature_celsius gauge
temperature_celsius{sensor="nan"} NaN
temperature_celsius{sensor="inf"} +Inf
temperature_celsius{sensor="-inf"} -Inf
temperature_celsius{sensor="huge"} 1e300
temperature_celsius{sensor="tiny"} 1e-300
temperature_celsius{sensor="int"} -3
temperature_celsius{sensor="frac"} 0.25
# HELP queue_depth 
# TYPE queue_depth gauge
queue_depth -5
# HELP request_seconds Time to answer.
# TYPE request_seconds histogram
request_seconds_bucket{route="/a,b",le="0.005"} 1
request_seconds_bucket{route="/a,b",le="0.5"} 3
request_seconds_bucket{route="/a,b",le="1"} 3
request_seconds_bucket{route="/a,b",le="2.5"} 6
request_seconds_bucket{route="/a,b",le="+Inf"} 7
request_seconds_sum{route="/a,b"} 7.25
request_seconds_count{route="/a,b"} 7
request_seconds_bucket{le="+Inf"} 0
request_seconds_sum 0
request_seconds_count 0
# HELP idle 
# TYPE idle gauge
"#;
    let got = encoded(Format::Prometheus, &snapshot());
    assert_eq!(got, want);
    let mut direct = Vec::new();
    prometheus::encode(&mut direct, &snapshot()).unwrap();
    assert_eq!(direct, want.as_bytes());
}

#[test]
fn openmetrics_text() {
    let want = r#"# TYPE http_requests counter
# HELP http_requests Requests \"served\".\nBackslash \\ too.
http_requests_total{method="GET",path="q\"uote \\back\nline	tab 🦀"} 1027
http_requests_created{method="GET",path="q\"uote \\back\nline	tab 🦀"} 1700000000.5
http_requests_total{method="",path="/"} 0
http_requests_created{method="",path="/"} 0.0
# TYPE temperature_celsius gauge
# UNIT temperature_celsius celsius
# HELP temperature_celsius Odd readings.
temperature_celsius{sensor="nan"} NaN
temperature_celsius{sensor="inf"} +Inf
temperature_celsius{sensor="-inf"} -Inf
temperature_celsius{sensor="huge"} 1e300
temperature_celsius{sensor="tiny"} 1e-300
temperature_celsius{sensor="int"} -3
temperature_celsius{sensor="frac"} 0.25
# TYPE queue_depth gauge
queue_depth -5
# TYPE request_seconds histogram
# UNIT request_seconds seconds
# HELP request_seconds Time to answer.
request_seconds_bucket{route="/a,b",le="0.005"} 1
request_seconds_bucket{route="/a,b",le="0.5"} 3
request_seconds_bucket{route="/a,b",le="1.0"} 3
request_seconds_bucket{route="/a,b",le="2.5"} 6
request_seconds_bucket{route="/a,b",le="+Inf"} 7
request_seconds_count{route="/a,b"} 7
request_seconds_sum{route="/a,b"} 7.25
request_seconds_created{route="/a,b"} 1700000000.5
request_seconds_bucket{le="+Inf"} 0
request_seconds_count 0
request_seconds_sum 0
request_seconds_created 0.0
# TYPE idle gauge
# EOF
"#;
    let got = encoded(Format::OpenMetrics, &snapshot());
    assert_eq!(got, want);
    let mut direct = Vec::new();
    openmetrics::encode(&mut direct, &snapshot()).unwrap();
    assert_eq!(direct, want.as_bytes());
}

#[test]
fn json_text() {
    let want = concat!(
        r#"{"families":["#,
        r#"{"name":"http_requests","type":"counter","help":"Requests \"served\".\nBackslash \\ too.","unit":"","series":["#,
        r#"{"labels":{"method":"GET","path":"q\"uote \\back\nline\ttab 🦀"},"start_ms":1700000000500,"value":1027},"#,
        r#"{"labels":{"method":"","path":"/"},"start_ms":0,"value":0}]},"#,
        r#"{"name":"temperature_celsius","type":"gauge","help":"Odd readings.","unit":"celsius","series":["#,
        r#"{"labels":{"sensor":"nan"},"start_ms":0,"value":"NaN"},"#,
        r#"{"labels":{"sensor":"inf"},"start_ms":0,"value":"+Inf"},"#,
        r#"{"labels":{"sensor":"-inf"},"start_ms":0,"value":"-Inf"},"#,
        r#"{"labels":{"sensor":"huge"},"start_ms":0,"value":1e300},"#,
        r#"{"labels":{"sensor":"tiny"},"start_ms":0,"value":1e-300},"#,
        r#"{"labels":{"sensor":"int"},"start_ms":0,"value":-3.0},"#,
        r#"{"labels":{"sensor":"frac"},"start_ms":0,"value":0.25}]},"#,
        r#"{"name":"queue_depth","type":"updowncounter","help":"","unit":"","series":["#,
        r#"{"labels":{},"start_ms":0,"value":-5}]},"#,
        r#"{"name":"request_seconds","type":"histogram","help":"Time to answer.","unit":"seconds","series":["#,
        r#"{"labels":{"route":"/a,b"},"start_ms":1700000000500,"count":7,"sum":7.25,"buckets":["#,
        r#"{"le":0.005,"count":1},{"le":0.5,"count":3},{"le":1.0,"count":3},{"le":2.5,"count":6},{"le":"+Inf","count":7}]},"#,
        r#"{"labels":{},"start_ms":0,"count":0,"sum":0.0,"buckets":[{"le":"+Inf","count":0}]}]},"#,
        r#"{"name":"idle","type":"gauge","help":"","unit":"","series":[]}"#,
        r#"],"timestamp_ms":1700000010000}"#,
        "\n",
    );
    let got = encoded(Format::Json, &snapshot());
    assert_eq!(got, want);
    let mut direct = Vec::new();
    json::encode(&mut direct, &snapshot()).unwrap();
    assert_eq!(direct, want.as_bytes());
}

#[test]
fn csv_text() {
    let want = concat!(
        "timestamp_ms,name,type,labels,value,count,sum,buckets\r\n",
        r#"1700000010000,http_requests,counter,"{""method"":""GET"",""path"":""q\""uote \\back\nline\ttab 🦀""}",1027,,,"#,
        "\r\n",
        r#"1700000010000,http_requests,counter,"{""method"":"""",""path"":""/""}",0,,,"#,
        "\r\n",
        r#"1700000010000,temperature_celsius,gauge,"{""sensor"":""nan""}",NaN,,,"#,
        "\r\n",
        r#"1700000010000,temperature_celsius,gauge,"{""sensor"":""inf""}",+Inf,,,"#,
        "\r\n",
        r#"1700000010000,temperature_celsius,gauge,"{""sensor"":""-inf""}",-Inf,,,"#,
        "\r\n",
        r#"1700000010000,temperature_celsius,gauge,"{""sensor"":""huge""}",1e300,,,"#,
        "\r\n",
        r#"1700000010000,temperature_celsius,gauge,"{""sensor"":""tiny""}",1e-300,,,"#,
        "\r\n",
        r#"1700000010000,temperature_celsius,gauge,"{""sensor"":""int""}",-3,,,"#,
        "\r\n",
        r#"1700000010000,temperature_celsius,gauge,"{""sensor"":""frac""}",0.25,,,"#,
        "\r\n",
        "1700000010000,queue_depth,updowncounter,{},-5,,,\r\n",
        r#"1700000010000,request_seconds,histogram,"{""route"":""/a,b""}",,7,7.25,0.005:1|0.5:3|1:3|2.5:6|+Inf:7"#,
        "\r\n",
        "1700000010000,request_seconds,histogram,{},,0,0,+Inf:0\r\n",
    );
    let got = encoded(Format::Csv, &snapshot());
    assert_eq!(got, want);
    let mut direct = Vec::new();
    csv::encode(&mut direct, &snapshot()).unwrap();
    assert_eq!(direct, want.as_bytes());
}

#[test]
fn empty_source() {
    let empty = Snapshot {
        time: at(5, 0),
        families: Vec::new(),
    };
    assert_eq!(encoded(Format::Prometheus, &empty), "");
    assert_eq!(encoded(Format::OpenMetrics, &empty), "# EOF\n");
    assert_eq!(encoded(Format::Csv, &empty), csv::HEADER);
    let json: serde_json::Value = serde_json::from_str(&encoded(Format::Json, &empty)).unwrap();
    assert_eq!(json["families"], serde_json::json!([]));
    assert!(json["timestamp_ms"].as_i64().is_some());
}

#[test]
fn bucket_bounds_are_spelled_like_the_reference_clients() {
    let mut sizes = FamilySnapshot::new("size_bytes", "", MetricKind::Histogram);
    sizes.series.push(series(
        &[],
        at(1, 0),
        histogram(&[1e-300, 100.0, 1_048_576.0, 1e300], &[0, 1, 0, 0, 0], 50.0),
    ));
    let snapshot = Snapshot {
        time: at(2, 0),
        families: vec![sizes],
    };
    assert_eq!(
        encoded(Format::Prometheus, &snapshot),
        r#"# HELP size_bytes 
# TYPE size_bytes histogram
size_bytes_bucket{le="1e-300"} 0
size_bytes_bucket{le="100"} 1
size_bytes_bucket{le="1.048576e+06"} 1
size_bytes_bucket{le="1e+300"} 1
size_bytes_bucket{le="+Inf"} 1
size_bytes_sum 50
size_bytes_count 1
"#
    );
    assert_eq!(
        encoded(Format::OpenMetrics, &snapshot),
        r#"# TYPE size_bytes histogram
size_bytes_bucket{le="1e-300"} 0
size_bytes_bucket{le="100.0"} 1
size_bytes_bucket{le="1.048576e+06"} 1
size_bytes_bucket{le="1e+300"} 1
size_bytes_bucket{le="+Inf"} 1
size_bytes_count 1
size_bytes_sum 50
size_bytes_created 1.0
# EOF
"#
    );
}

/// A writer that fails after `left` bytes.
struct FailAfter {
    left: usize,
}

impl std::io::Write for FailAfter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.len() > self.left {
            return Err(std::io::Error::other("full"));
        }
        self.left -= buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn writer_errors_are_returned() {
    // Large enough to cross the internal chunk, so some errors come mid-stream.
    let mut big = FamilySnapshot::new("g", "", MetricKind::Gauge);
    for i in 0..5_000u64 {
        big = big.with_point(&[("i", &i.to_string())], i);
    }
    let snapshot = Snapshot {
        time: at(0, 0),
        families: vec![big],
    };
    for format in [
        Format::Prometheus,
        Format::OpenMetrics,
        Format::Json,
        Format::Csv,
    ] {
        for left in [0, 10, 40_000] {
            let err = format
                .encode(&mut FailAfter { left }, &snapshot)
                .unwrap_err();
            assert_eq!(err.to_string(), "full", "{format} {left}");
        }
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    fn number() -> impl Strategy<Value = Number> {
        prop_oneof![
            any::<u64>().prop_map(Number::U64),
            any::<i64>().prop_map(Number::I64),
            any::<f64>().prop_map(Number::F64),
        ]
    }

    fn histogram_value() -> impl Strategy<Value = SeriesValue> {
        (prop::collection::vec(-1e6f64..1e6, 0..5), any::<f64>()).prop_flat_map(
            |(mut bounds, sum)| {
                bounds.sort_by(f64::total_cmp);
                bounds.dedup();
                let n = bounds.len() + 1;
                prop::collection::vec(0u64..1_000_000, n)
                    .prop_map(move |counts| histogram(&bounds, &counts, sum))
            },
        )
    }

    fn family() -> impl Strategy<Value = FamilySnapshot> {
        let kind = prop_oneof![
            Just(MetricKind::Counter),
            Just(MetricKind::Gauge),
            Just(MetricKind::UpDownCounter),
            Just(MetricKind::Histogram),
        ];
        let labels = prop::collection::vec(any::<String>(), 0..3);
        let point = (labels, number(), histogram_value(), any::<u32>());
        (
            "[a-z_]{1,12}",
            any::<String>(),
            prop_oneof![Just(String::new()), Just("seconds".to_owned())],
            kind,
            prop::collection::vec(point, 0..4),
        )
            .prop_map(|(name, help, unit, kind, points)| {
                let mut family = FamilySnapshot::new(name, help, kind).with_unit(unit);
                for (values, n, h, start) in points {
                    let names: Vec<String> = (0..values.len()).map(|i| format!("l{i}")).collect();
                    let labels: Vec<(&str, &str)> = names
                        .iter()
                        .zip(&values)
                        .map(|(n, v)| (n.as_str(), v.as_str()))
                        .collect();
                    let value = match kind {
                        MetricKind::Histogram => h,
                        MetricKind::Counter => SeriesValue::Counter(n),
                        _ => SeriesValue::Gauge(n),
                    };
                    family
                        .series
                        .push(series(&labels, at(u64::from(start), 0), value));
                }
                family
            })
    }

    fn snapshots() -> impl Strategy<Value = Snapshot> {
        (prop::collection::vec(family(), 0..5), any::<u32>()).prop_map(|(families, t)| Snapshot {
            time: at(u64::from(t), 1_000_000),
            families,
        })
    }

    fn json_f64(v: &Value) -> f64 {
        match v {
            Value::String(s) if s == "NaN" => f64::NAN,
            Value::String(s) if s == "+Inf" => f64::INFINITY,
            Value::String(s) if s == "-Inf" => f64::NEG_INFINITY,
            _ => v.as_f64().unwrap_or_else(|| panic!("not a number: {v}")),
        }
    }

    fn same_f64(a: f64, b: f64) -> bool {
        a == b || (a.is_nan() && b.is_nan())
    }

    fn check_number(json: &Value, n: Number) -> bool {
        match n {
            Number::U64(v) => json.as_u64() == Some(v),
            Number::I64(v) => json.as_i64() == Some(v),
            Number::F64(v) => same_f64(json_f64(json), v),
        }
    }

    fn check_labels(json: &Value, labels: &[(String, String)]) -> bool {
        let Some(object) = json.as_object() else {
            return false;
        };
        object.len() == labels.len()
            && labels
                .iter()
                .all(|(n, v)| object.get(n).and_then(Value::as_str) == Some(v.as_str()))
    }

    /// Splits RFC 4180 CSV into rows of fields.
    fn parse_csv(text: &str) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        let mut row = Vec::new();
        let mut field = String::new();
        let mut quoted = false;
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match (quoted, c) {
                (true, '"') if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                (true, '"') => quoted = false,
                (true, c) => field.push(c),
                (false, '"') => quoted = true,
                (false, ',') => row.push(std::mem::take(&mut field)),
                (false, '\r') => assert_eq!(chars.next(), Some('\n'), "bare CR"),
                (false, '\n') => panic!("bare LF"),
                (false, c) => field.push(c),
            }
            if !quoted && c == '\r' {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
        }
        assert!(field.is_empty() && row.is_empty(), "unterminated row");
        rows
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn json_parses_and_holds_every_value(snapshot in snapshots()) {
            let text = encoded(Format::Json, &snapshot);
            let json: Value = serde_json::from_str(&text).unwrap();
            let families = json["families"].as_array().unwrap();
            prop_assert_eq!(families.len(), snapshot.families.len());
            let points: usize = snapshot.families.iter().map(|f| f.series.len()).sum();
            if points > 0 {
                prop_assert_eq!(json["timestamp_ms"].as_i64(), Some(tallyho_encode::number::unix_millis(snapshot.time)));
            }
            for (got, want) in families.iter().zip(&snapshot.families) {
                prop_assert_eq!(got["name"].as_str(), Some(want.name.as_str()));
                prop_assert_eq!(got["type"].as_str(), Some(want.kind.as_str()));
                prop_assert_eq!(got["help"].as_str(), Some(want.help.as_str()));
                prop_assert_eq!(got["unit"].as_str(), Some(want.unit.as_str()));
                let series = got["series"].as_array().unwrap();
                prop_assert_eq!(series.len(), want.series.len());
                for (s, w) in series.iter().zip(&want.series) {
                    prop_assert!(check_labels(&s["labels"], &w.labels), "{}", s["labels"]);
                    prop_assert_eq!(s["start_ms"].as_i64(), Some(tallyho_encode::number::unix_millis(w.start)));
                    match &w.value {
                        SeriesValue::Counter(n) | SeriesValue::Gauge(n) => {
                            prop_assert!(check_number(&s["value"], *n), "{} vs {:?}", s["value"], n);
                        }
                        SeriesValue::Histogram(h) => {
                            prop_assert_eq!(s["count"].as_u64(), Some(h.count));
                            prop_assert!(same_f64(json_f64(&s["sum"]), h.sum));
                            let buckets = s["buckets"].as_array().unwrap();
                            prop_assert_eq!(buckets.len(), h.bounds.len() + 1);
                            let mut total = 0;
                            for (i, b) in buckets.iter().enumerate() {
                                total += h.counts[i];
                                let le = h.bounds.get(i).copied().unwrap_or(f64::INFINITY);
                                prop_assert!(same_f64(json_f64(&b["le"]), le));
                                prop_assert_eq!(b["count"].as_u64(), Some(total));
                            }
                        }
                        // Not generated here: tests/openmetrics_types.rs covers them.
                        SeriesValue::StateSet(_) | SeriesValue::Summary(_) => {
                            prop_assert!(false, "not generated")
                        }
                    }
                }
            }
        }

        #[test]
        fn csv_has_one_row_per_point(snapshot in snapshots()) {
            let text = encoded(Format::Csv, &snapshot);
            let rows = parse_csv(&text);
            let points: Vec<(&FamilySnapshot, &Series)> = snapshot
                .families
                .iter()
                .flat_map(|f| f.series.iter().map(move |s| (f, s)))
                .collect();
            prop_assert_eq!(rows.len(), points.len() + 1);
            prop_assert_eq!(rows[0].join(","), csv::HEADER.trim_end());
            for (row, (family, s)) in rows[1..].iter().zip(points) {
                prop_assert_eq!(row.len(), 8);
                prop_assert_eq!(&row[1], &family.name);
                prop_assert_eq!(row[2].as_str(), family.kind.as_str());
                let labels: Value = serde_json::from_str(&row[3]).unwrap();
                prop_assert!(check_labels(&labels, &s.labels));
                match &s.value {
                    SeriesValue::Counter(_) | SeriesValue::Gauge(_) => {
                        prop_assert!(!row[4].is_empty() && row[5..].iter().all(String::is_empty));
                    }
                    SeriesValue::Histogram(h) => {
                        prop_assert!(row[4].is_empty());
                        prop_assert_eq!(row[5].parse::<u64>().ok(), Some(h.count));
                        prop_assert_eq!(row[7].split('|').count(), h.bounds.len() + 1);
                    }
                    SeriesValue::StateSet(_) | SeriesValue::Summary(_) => {
                        prop_assert!(false, "not generated")
                    }
                }
            }
        }

        #[test]
        fn text_formats_have_one_line_per_sample(snapshot in snapshots()) {
            let prom = encoded(Format::Prometheus, &snapshot);
            let om = encoded(Format::OpenMetrics, &snapshot);
            let mut prom_lines = 0;
            let mut om_lines = 1; // # EOF
            for family in &snapshot.families {
                prom_lines += 2;
                // `# UNIT` only where the name ends in `_<unit>`, as OpenMetrics requires.
                om_lines += 1
                    + usize::from(tallyho_names::ends_with_exact_unit(&family.name, &family.unit))
                    + usize::from(!family.help.is_empty());
                for s in &family.series {
                    match &s.value {
                        SeriesValue::Histogram(h) => {
                            prom_lines += h.bounds.len() + 3;
                            // Buckets, `+Inf` and `_created`; `_count` and `_sum` only
                            // when no bound is negative (OpenMetrics has no sum then).
                            om_lines += h.bounds.len() + 2 + 2 * usize::from(h.sum_is_counter());
                        }
                        _ => {
                            prom_lines += 1;
                            om_lines += 1 + usize::from(family.kind == MetricKind::Counter);
                        }
                    }
                }
            }
            prop_assert_eq!(prom.lines().count(), prom_lines);
            prop_assert_eq!(om.lines().count(), om_lines);
            prop_assert!(om.ends_with("# EOF\n"));
        }
    }
}
