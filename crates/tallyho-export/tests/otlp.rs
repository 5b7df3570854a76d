//! The OTLP/HTTP exporter against a std-only receiver on 127.0.0.1 that parses HTTP/1.1,
//! gunzips, decodes `ExportMetricsServiceRequest` with prost and records what arrived.

use std::io::Read;
use std::net::TcpListener;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric::Data, number_data_point::Value, AggregationTemporality, HistogramDataPoint, Metric,
    NumberDataPoint,
};
use prost::Message;
use tallyho::ExpConfig;
use tallyho::{
    Buckets, FamilySnapshot, HistogramData, MetricKind, Registry, Series, SeriesValue, Snapshot,
    OVERFLOW_LABEL,
};
use tallyho_export::otlp::{OtlpExporter, DEFAULT_MAX_POINTS_PER_REQUEST};
use tallyho_export::{Batch, ExportError, Exporter, Pipeline, Temporality};

mod common;
use common::{FakeServer, Reply, Seen};

// ---------------------------------------------------------------------------------------
// The receiver
// ---------------------------------------------------------------------------------------

/// One request as it arrived, decoded, and the status it was answered with.
#[derive(Clone, Debug)]
struct Received {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    /// The body as sent (possibly gzipped).
    raw_len: usize,
    request: ExportMetricsServiceRequest,
    status: u16,
}

impl Received {
    fn decode(seen: &Seen) -> Received {
        let body = if seen.header("Content-Encoding") == Some("gzip") {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&seen.body[..])
                .read_to_end(&mut out)
                .expect("valid gzip");
            out
        } else {
            seen.body.clone()
        };
        Received {
            method: seen.method.clone(),
            path: seen.path.clone(),
            headers: seen.headers.clone(),
            raw_len: seen.body.len(),
            request: ExportMetricsServiceRequest::decode(&body[..]).expect("valid protobuf"),
            status: seen.status.unwrap_or(0),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn metrics(&self) -> impl Iterator<Item = &Metric> {
        self.request
            .resource_metrics
            .iter()
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| &s.metrics)
    }

    fn points(&self) -> usize {
        self.metrics().map(point_count).sum()
    }
}

/// What the receiver answers: the shared fake server's reply.
type Answer = Reply;

/// An OTLP receiver: the shared fake server, with requests decoded as OTLP.
struct Receiver {
    server: FakeServer,
}

impl Receiver {
    /// Answers every request with `200 OK`.
    fn start() -> Self {
        Self::answering(|_| Answer::ok())
    }

    /// Answers the `n`th request (from 0) with `answer(n)`.
    fn answering(answer: impl Fn(usize) -> Answer + Send + Sync + 'static) -> Self {
        Receiver {
            server: FakeServer::answering(move |n, _| Some(answer(n))),
        }
    }

    fn endpoint(&self) -> String {
        self.server.url("")
    }

    fn exporter(&self) -> tallyho_export::otlp::OtlpExporterBuilder {
        OtlpExporter::builder()
            .endpoint(self.endpoint())
            .timeout(Duration::from_secs(5))
    }

    fn requests(&self) -> Vec<Received> {
        self.server.seen().iter().map(Received::decode).collect()
    }
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64
}

fn batch(snapshot: Snapshot, temporality: Temporality) -> Batch {
    Batch {
        start: snapshot.time - Duration::from_secs(10),
        end: snapshot.time,
        snapshot,
        temporality,
    }
}

fn point_count(m: &Metric) -> usize {
    match m.data.as_ref().unwrap() {
        Data::Sum(s) => s.data_points.len(),
        Data::Gauge(g) => g.data_points.len(),
        Data::Histogram(h) => h.data_points.len(),
        other => panic!("unexpected data {other:?}"),
    }
}

/// The metric named `name` in the first request that has one.
fn metric(requests: &[Received], name: &str) -> Metric {
    requests
        .iter()
        .flat_map(|r| r.metrics())
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no metric {name}"))
        .clone()
}

fn number_points(m: &Metric) -> &[NumberDataPoint] {
    match m.data.as_ref().unwrap() {
        Data::Sum(s) => &s.data_points,
        Data::Gauge(g) => &g.data_points,
        other => panic!("{} is not a number metric: {other:?}", m.name),
    }
}

fn histogram_points(m: &Metric) -> &[HistogramDataPoint] {
    match m.data.as_ref().unwrap() {
        Data::Histogram(h) => &h.data_points,
        other => panic!("{} is not a histogram: {other:?}", m.name),
    }
}

/// (is_monotonic, temporality) of a sum.
fn sum_kind(m: &Metric) -> (bool, AggregationTemporality) {
    match m.data.as_ref().unwrap() {
        Data::Sum(s) => (
            s.is_monotonic,
            AggregationTemporality::try_from(s.aggregation_temporality).unwrap(),
        ),
        other => panic!("{} is not a sum: {other:?}", m.name),
    }
}

fn value(p: &NumberDataPoint) -> Value {
    p.value.unwrap()
}

fn attr(kvs: &[KeyValue], key: &str) -> Option<any_value::Value> {
    kvs.iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.clone()?.value)
}

fn string_attr(kvs: &[KeyValue], key: &str) -> Option<String> {
    match attr(kvs, key)? {
        any_value::Value::StringValue(s) => Some(s),
        other => panic!("{key} is not a string: {other:?}"),
    }
}

fn resource_attrs(r: &Received) -> Vec<KeyValue> {
    r.request.resource_metrics[0]
        .resource
        .clone()
        .unwrap()
        .attributes
}

fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn one_counter_snapshot() -> Snapshot {
    Snapshot {
        time: SystemTime::now(),
        families: vec![
            FamilySnapshot::new("jobs", "Jobs.", MetricKind::Counter).with_point(&[], 1u64)
        ],
    }
}

// ---------------------------------------------------------------------------------------
// Mapping
// ---------------------------------------------------------------------------------------

#[test]
fn every_kind_maps_with_exact_values() {
    let rx = Receiver::start();
    let r = Registry::new();
    let jobs = r.counter("jobs", "Jobs run.").unwrap();
    let busy = r
        .metric("busy", "Busy time.")
        .unit("seconds")
        .counter_f64()
        .unwrap();
    let temp = r.gauge("temperature", "Temperature.").unwrap();
    let queue = r.metric("queue", "Queue length.").gauge_i64().unwrap();
    let conns = r
        .metric("connections", "Open connections.")
        .up_down_counter()
        .unwrap();
    let latency = r
        .metric("latency", "Latency.")
        .unit("seconds")
        .buckets(Buckets::new([0.1, 1.0]).unwrap())
        .histogram()
        .unwrap();
    let sent = r
        .metric("sent", "Bytes sent.")
        .unit("bytes")
        .counter()
        .unwrap();
    jobs.add(7);
    busy.add(1.5);
    temp.set(21.5);
    queue.set(-3);
    conns.add(5);
    conns.add(-2);
    for v in [0.05, 0.5, 0.5, 2.0] {
        latency.observe(v);
    }
    sent.add(4096);

    let mut exporter = rx.exporter().build().unwrap();
    assert_eq!(exporter.name(), "otlp");
    assert_eq!(exporter.temporality(), Temporality::Cumulative);
    exporter
        .export(&batch(r.snapshot(), Temporality::Cumulative))
        .unwrap();

    let reqs = rx.requests();
    assert_eq!(reqs.len(), 1);
    let req = &reqs[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/v1/metrics");
    assert_eq!(req.header("Content-Type"), Some("application/x-protobuf"));
    assert_eq!(req.header("Content-Encoding"), None);
    assert_eq!(req.request.resource_metrics.len(), 1);
    let scopes = &req.request.resource_metrics[0].scope_metrics;
    assert_eq!(scopes.len(), 1);
    assert_eq!(scopes[0].scope.as_ref().unwrap().name, "tallyho");
    assert_eq!(scopes[0].metrics.len(), 7);

    let m = metric(&reqs, "jobs");
    assert_eq!(m.description, "Jobs run.");
    assert_eq!(m.unit, "");
    assert_eq!(sum_kind(&m), (true, AggregationTemporality::Cumulative));
    assert_eq!(value(&number_points(&m)[0]), Value::AsInt(7));
    assert!(number_points(&m)[0].attributes.is_empty());

    let m = metric(&reqs, "busy_seconds");
    assert_eq!(m.unit, "s");
    assert_eq!(sum_kind(&m), (true, AggregationTemporality::Cumulative));
    assert_eq!(value(&number_points(&m)[0]), Value::AsDouble(1.5));

    let m = metric(&reqs, "sent_bytes");
    assert_eq!(m.unit, "By");
    assert_eq!(value(&number_points(&m)[0]), Value::AsInt(4096));

    let m = metric(&reqs, "temperature");
    assert!(matches!(m.data, Some(Data::Gauge(_))));
    assert_eq!(value(&number_points(&m)[0]), Value::AsDouble(21.5));

    let m = metric(&reqs, "queue");
    assert!(matches!(m.data, Some(Data::Gauge(_))));
    assert_eq!(value(&number_points(&m)[0]), Value::AsInt(-3));

    let m = metric(&reqs, "connections");
    assert_eq!(sum_kind(&m), (false, AggregationTemporality::Cumulative));
    assert_eq!(value(&number_points(&m)[0]), Value::AsInt(3));

    let m = metric(&reqs, "latency_seconds");
    assert_eq!(m.unit, "s");
    let Some(Data::Histogram(h)) = &m.data else {
        panic!("not a histogram")
    };
    assert_eq!(
        AggregationTemporality::try_from(h.aggregation_temporality).unwrap(),
        AggregationTemporality::Cumulative
    );
    let p = &h.data_points[0];
    assert_eq!(p.explicit_bounds, vec![0.1, 1.0]);
    assert_eq!(p.bucket_counts, vec![1, 2, 1]);
    assert_eq!(p.count, 4);
    assert_eq!(p.sum, Some(3.05));
}

#[test]
fn exponential_histograms_arrive_as_otlp_exponential_histograms() {
    let rx = Receiver::start();
    let r = Registry::new();
    let h = r
        .metric("rtt", "Round trips.")
        .unit("seconds")
        .exponential(ExpConfig::default().max_buckets(16).unwrap())
        .exponential_histogram()
        .unwrap();
    let values = [0.0, 0.010, 0.012, 0.013, 0.2, 0.9];
    for v in values {
        h.observe(v);
    }
    let mut exporter = rx.exporter().build().unwrap();
    exporter
        .export(&batch(r.snapshot(), Temporality::Cumulative))
        .unwrap();
    let m = metric(&rx.requests(), "rtt_seconds");
    assert_eq!(m.unit, "s");
    let Some(Data::ExponentialHistogram(e)) = &m.data else {
        panic!("not an exponential histogram: {:?}", m.data)
    };
    let p = &e.data_points[0];
    assert_eq!(p.count, 6);
    assert_eq!(p.zero_count, 1);
    assert!((p.sum.unwrap() - 1.135).abs() < 1e-12);
    assert_eq!((p.min, p.max), (Some(0.0), Some(0.9)));
    let pos = p.positive.as_ref().unwrap();
    assert!(pos.bucket_counts.len() <= 16);
    // Each value is where the OpenTelemetry mapping puts it at the scale sent:
    // index = ceil(log2(v) * 2^scale) - 1.
    let mut want = std::collections::BTreeMap::new();
    for v in values.iter().filter(|v| **v > 0.0) {
        let i = (v.log2() * 2f64.powi(p.scale)).ceil() as i32 - 1;
        *want.entry(i).or_insert(0u64) += 1;
    }
    let got: std::collections::BTreeMap<i32, u64> = pos
        .bucket_counts
        .iter()
        .enumerate()
        .filter(|(_, c)| **c > 0)
        .map(|(j, c)| (pos.offset + j as i32, *c))
        .collect();
    assert_eq!(got, want, "scale {}", p.scale);
}

/// Exemplars arrive on counter and histogram points with their trace and span ids as
/// bytes, value and time; a series without one carries none, and a delta export carries
/// only the exemplars recorded in its period.
#[test]
fn exemplars_arrive_on_counter_and_histogram_points() {
    use opentelemetry_proto::tonic::metrics::v1::exemplar;
    use tallyho::TraceContext;
    let rx = Receiver::start();
    let r = Registry::new();
    let calls = r
        .metric("calls", "Calls.")
        .counter_family(&["route"])
        .unwrap();
    let took = r
        .histogram("took_seconds", "Took.", Buckets::new([0.1, 1.0]).unwrap())
        .unwrap();
    let a = TraceContext::from_hex("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7").unwrap();
    let b = TraceContext::from_hex("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331").unwrap();
    calls.with(&["/plain"]).inc();
    calls.with(&["/traced"]).add_with_exemplar(2, Some(a));
    took.observe_with_exemplar(0.5, Some(b));
    let mut exporter = rx.exporter().build().unwrap();
    exporter
        .export(&batch(r.snapshot(), Temporality::Cumulative))
        .unwrap();
    let m = metric(&rx.requests(), "calls");
    let route = |p: &NumberDataPoint| string_attr(&p.attributes, "route").unwrap();
    for p in number_points(&m) {
        if route(p) == "/plain" {
            assert!(p.exemplars.is_empty(), "{p:?}");
            continue;
        }
        let [e] = &p.exemplars[..] else {
            panic!("{p:?}")
        };
        assert_eq!(e.trace_id, a.trace_id().to_vec());
        assert_eq!(e.span_id, a.span_id().to_vec());
        assert_eq!(e.value, Some(exemplar::Value::AsDouble(2.0)));
        let kept = calls.with(&["/traced"]).exemplar().unwrap();
        assert_eq!(e.time_unix_nano, nanos(kept.time));
    }
    let h = metric(&rx.requests(), "took_seconds");
    let [e] = &histogram_points(&h)[0].exemplars[..] else {
        panic!("{h:?}")
    };
    assert_eq!(e.trace_id, b.trace_id().to_vec());
    assert_eq!(e.value, Some(exemplar::Value::AsDouble(0.5)));
}

#[test]
fn integers_saturate_and_kinds_follow_the_family() {
    let rx = Receiver::start();
    let time = SystemTime::now();
    let snapshot = Snapshot {
        time,
        families: vec![
            FamilySnapshot::new("big", "Big.", MetricKind::Counter).with_point(&[], u64::MAX),
            FamilySnapshot::new("neg", "Neg.", MetricKind::UpDownCounter).with_point(&[], i64::MIN),
            FamilySnapshot::new("ratio", "Ratio.", MetricKind::Gauge)
                .with_unit("ratio")
                .with_point(&[], 0.25),
            FamilySnapshot {
                series: vec![Series {
                    labels: vec![],
                    start: time,
                    value: SeriesValue::Histogram(HistogramData {
                        bounds: vec![],
                        counts: vec![0],
                        sum: 0.0,
                        count: 0,
                        exponential: None,
                    }),
                }],
                ..FamilySnapshot::new("empty_hist", "Empty.", MetricKind::Histogram)
            },
            // A family without series sends no metric.
            FamilySnapshot::new("nothing", "Nothing.", MetricKind::Counter),
        ],
    };
    let mut exporter = rx.exporter().build().unwrap();
    exporter
        .export(&batch(snapshot, Temporality::Cumulative))
        .unwrap();
    let reqs = rx.requests();
    assert_eq!(
        value(&number_points(&metric(&reqs, "big"))[0]),
        Value::AsInt(i64::MAX)
    );
    assert_eq!(
        value(&number_points(&metric(&reqs, "neg"))[0]),
        Value::AsInt(i64::MIN)
    );
    let ratio = metric(&reqs, "ratio");
    assert_eq!(ratio.unit, "1");
    assert_eq!(value(&number_points(&ratio)[0]), Value::AsDouble(0.25));
    let h = metric(&reqs, "empty_hist");
    let p = &histogram_points(&h)[0];
    assert_eq!(
        (p.count, p.sum, p.bucket_counts.clone()),
        (0, Some(0.0), vec![0])
    );
    assert!(p.explicit_bounds.is_empty());
    assert!(reqs[0].metrics().all(|m| m.name != "nothing"));
}

#[test]
fn labels_become_attributes_and_the_resource_is_described() {
    let rx = Receiver::start();
    let r = Registry::builder()
        .constant_label("region", "eu")
        .build()
        .unwrap();
    let requests = r
        .metric("requests", "Requests.")
        .counter_family(&["method", "code"])
        .unwrap();
    requests.with(&["GET", "200"]).add(3);
    requests.with(&["POST", "500"]).add(1);
    let mut snapshot = r.snapshot();
    snapshot.families.push(
        FamilySnapshot::new("capped", "Capped.", MetricKind::Counter)
            .with_point(&[(OVERFLOW_LABEL, "true")], 9u64),
    );

    let mut exporter = rx
        .exporter()
        .resource_attribute("deployment.environment", "test")
        .resource_attribute("service.name", "overridden")
        .service_name("checkout")
        .resource_attribute("host.name", "box")
        .resource_attribute("host.name", "box2")
        .build()
        .unwrap();
    assert!(exporter
        .resource_attributes()
        .contains(&("service.name".into(), "checkout".into())));
    exporter
        .export(&batch(snapshot, Temporality::Cumulative))
        .unwrap();
    let reqs = rx.requests();

    let m = metric(&reqs, "requests");
    let points = number_points(&m);
    assert_eq!(points.len(), 2);
    let get = points
        .iter()
        .find(|p| string_attr(&p.attributes, "method").as_deref() == Some("GET"))
        .unwrap();
    assert_eq!(string_attr(&get.attributes, "code").as_deref(), Some("200"));
    assert_eq!(
        string_attr(&get.attributes, "region").as_deref(),
        Some("eu")
    );
    assert_eq!(get.attributes.len(), 3);
    assert_eq!(value(get), Value::AsInt(3));
    let post = points
        .iter()
        .find(|p| string_attr(&p.attributes, "method").as_deref() == Some("POST"))
        .unwrap();
    assert_eq!(
        string_attr(&post.attributes, "code").as_deref(),
        Some("500")
    );
    assert_eq!(value(post), Value::AsInt(1));

    let capped = metric(&reqs, "capped");
    assert_eq!(
        attr(
            &number_points(&capped)[0].attributes,
            "otel.metric.overflow"
        ),
        Some(any_value::Value::BoolValue(true))
    );

    let res = resource_attrs(&reqs[0]);
    assert_eq!(
        string_attr(&res, "service.name").as_deref(),
        Some("checkout")
    );
    assert_eq!(
        string_attr(&res, "deployment.environment").as_deref(),
        Some("test")
    );
    assert_eq!(string_attr(&res, "host.name").as_deref(), Some("box2"));
    assert_eq!(
        string_attr(&res, "telemetry.sdk.name").as_deref(),
        Some("tallyho")
    );
    assert_eq!(
        string_attr(&res, "telemetry.sdk.language").as_deref(),
        Some("rust")
    );
    assert_eq!(
        string_attr(&res, "telemetry.sdk.version").as_deref(),
        Some(env!("CARGO_PKG_VERSION"))
    );
    let keys: Vec<_> = res.iter().map(|kv| kv.key.as_str()).collect();
    let mut unique = keys.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(
        keys.len(),
        unique.len(),
        "duplicate resource keys: {keys:?}"
    );
}

#[test]
fn service_name_defaults_to_unknown_service() {
    let rx = Receiver::start();
    let mut exporter = rx.exporter().build().unwrap();
    exporter
        .export(&batch(one_counter_snapshot(), Temporality::Cumulative))
        .unwrap();
    let name = string_attr(&resource_attrs(&rx.requests()[0]), "service.name").unwrap();
    assert!(name.starts_with("unknown_service"), "{name}");
}

#[test]
fn timestamps_are_series_start_and_batch_end() {
    let rx = Receiver::start();
    let r = Registry::new();
    let c = r.counter("jobs", "Jobs.").unwrap();
    let h = r
        .histogram("took", "Took.", Buckets::new([1.0]).unwrap())
        .unwrap();
    c.inc();
    h.observe(0.5);
    std::thread::sleep(Duration::from_millis(5));
    let snapshot = r.snapshot();
    let series_start = snapshot.family("jobs").unwrap().series[0].start;
    let time = snapshot.time;
    let mut exporter = rx.exporter().build().unwrap();
    exporter
        .export(&batch(snapshot, Temporality::Cumulative))
        .unwrap();
    let reqs = rx.requests();
    let jobs = metric(&reqs, "jobs");
    let p = &number_points(&jobs)[0];
    assert_eq!(p.time_unix_nano, nanos(time));
    assert_eq!(p.start_time_unix_nano, nanos(series_start));
    assert!(p.start_time_unix_nano > 0);
    assert!(p.start_time_unix_nano <= p.time_unix_nano);
    let took = metric(&reqs, "took");
    let hp = &histogram_points(&took)[0];
    assert_eq!(hp.time_unix_nano, nanos(time));
    assert!(hp.start_time_unix_nano > 0 && hp.start_time_unix_nano <= hp.time_unix_nano);
}

// ---------------------------------------------------------------------------------------
// Temporality, through the pipeline and directly
// ---------------------------------------------------------------------------------------

/// (start, time, value) of every `jobs` point received, in order.
fn jobs_points(rx: &Receiver) -> Vec<(u64, u64, Value, AggregationTemporality)> {
    rx.requests()
        .iter()
        .flat_map(|r| r.metrics().cloned().collect::<Vec<_>>())
        .filter(|m| m.name == "jobs")
        .map(|m| {
            let p = number_points(&m)[0].clone();
            (
                p.start_time_unix_nano,
                p.time_unix_nano,
                value(&p),
                sum_kind(&m).1,
            )
        })
        .collect()
}

#[test]
fn pipeline_cumulative_sends_totals_with_a_fixed_start() {
    let rx = Receiver::start();
    let r = Registry::new();
    let jobs = r.counter("jobs", "Jobs.").unwrap();
    let p = Pipeline::builder(r)
        .interval(Duration::from_secs(3600))
        .exporter(rx.exporter().build().unwrap())
        .start()
        .unwrap();
    jobs.add(5);
    assert!(p.flush(Duration::from_secs(10)));
    jobs.add(3);
    assert!(p.flush(Duration::from_secs(10)));
    assert!(p.shutdown(Duration::from_secs(10)));
    let points = jobs_points(&rx);
    assert!(points.len() >= 2, "{points:?}");
    assert_eq!(points[0].2, Value::AsInt(5));
    assert_eq!(points[1].2, Value::AsInt(8));
    for (start, time, _, temporality) in &points {
        assert_eq!(*temporality, AggregationTemporality::Cumulative);
        assert_eq!(*start, points[0].0);
        assert!(start <= time);
    }
    assert!(points[0].1 < points[1].1);
}

#[test]
fn pipeline_delta_sends_changes_over_adjacent_periods() {
    let rx = Receiver::start();
    let r = Registry::new();
    let jobs = r.counter("jobs", "Jobs.").unwrap();
    let exporter = rx
        .exporter()
        .temporality(Temporality::Delta)
        .build()
        .unwrap();
    assert_eq!(exporter.temporality(), Temporality::Delta);
    let p = Pipeline::builder(r)
        .interval(Duration::from_secs(3600))
        .exporter(exporter)
        .start()
        .unwrap();
    jobs.add(5);
    assert!(p.flush(Duration::from_secs(10)));
    jobs.add(3);
    assert!(p.flush(Duration::from_secs(10)));
    assert!(p.shutdown(Duration::from_secs(10)));
    let points = jobs_points(&rx);
    assert!(points.len() >= 2, "{points:?}");
    assert_eq!(points[0].2, Value::AsInt(5));
    assert_eq!(points[1].2, Value::AsInt(3));
    for (start, time, _, temporality) in &points {
        assert_eq!(*temporality, AggregationTemporality::Delta);
        assert!(start <= time);
    }
    // Periods are adjacent: each starts where the previous ended.
    assert_eq!(points[1].0, points[0].1);
}

#[test]
fn pipeline_exports_on_its_interval() {
    let rx = Receiver::start();
    let r = Registry::new();
    r.counter("jobs", "Jobs.").unwrap().add(2);
    let p = Pipeline::builder(r)
        .interval(Duration::from_millis(20))
        .exporter(rx.exporter().build().unwrap())
        .start()
        .unwrap();
    wait_until("two interval exports", || jobs_points(&rx).len() >= 2);
    assert!(p.shutdown(Duration::from_secs(10)));
}

#[test]
fn direct_export_uses_the_batch_temporality() {
    let rx = Receiver::start();
    let r = Registry::new();
    r.counter("jobs", "Jobs.").unwrap().add(4);
    r.metric("open", "Open.").up_down_counter().unwrap().add(-2);
    r.histogram("took", "Took.", Buckets::new([1.0]).unwrap())
        .unwrap()
        .observe(3.0);
    let mut exporter = rx.exporter().build().unwrap();
    exporter
        .export(&batch(r.snapshot(), Temporality::Delta))
        .unwrap();
    exporter
        .export(&batch(r.snapshot(), Temporality::Cumulative))
        .unwrap();
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 2);
    for (req, want) in reqs.iter().zip([
        AggregationTemporality::Delta,
        AggregationTemporality::Cumulative,
    ]) {
        let one = std::slice::from_ref(req);
        assert_eq!(sum_kind(&metric(one, "jobs")), (true, want));
        // Up-down counters are cumulative in both, as OpenTelemetry's delta preference
        // keeps them.
        assert_eq!(
            sum_kind(&metric(one, "open")),
            (false, AggregationTemporality::Cumulative)
        );
        let Some(Data::Histogram(h)) = metric(one, "took").data else {
            panic!()
        };
        assert_eq!(h.aggregation_temporality, want as i32);
    }
}

// ---------------------------------------------------------------------------------------
// Transport
// ---------------------------------------------------------------------------------------

#[test]
fn gzip_on_and_off() {
    let rx = Receiver::start();
    let r = Registry::new();
    let f = r
        .metric("requests", "Requests.")
        .counter_family(&["path"])
        .unwrap();
    for i in 0..50 {
        f.with(&[&format!("/some/long/repeated/path/{i}")]).inc();
    }
    let b = batch(r.snapshot(), Temporality::Cumulative);
    let mut plain = rx.exporter().gzip(false).build().unwrap();
    let mut zipped = rx.exporter().gzip(true).build().unwrap();
    assert!(!plain.is_gzip());
    assert!(zipped.is_gzip());
    plain.export(&b).unwrap();
    zipped.export(&b).unwrap();
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].header("Content-Encoding"), None);
    assert_eq!(reqs[1].header("Content-Encoding"), Some("gzip"));
    assert_eq!(
        reqs[1].header("Content-Type"),
        Some("application/x-protobuf")
    );
    // Same message either way, smaller on the wire when compressed.
    assert_eq!(reqs[0].request, reqs[1].request);
    assert!(reqs[1].raw_len < reqs[0].raw_len);
    assert_eq!(reqs[0].points(), 50);
}

#[test]
fn custom_headers_arrive() {
    let rx = Receiver::start();
    let mut exporter = rx
        .exporter()
        .header("Authorization", "Bearer secret")
        .header("X-Scope-OrgID", "tenant-1")
        .header("x-scope-orgid", "tenant-2")
        .build()
        .unwrap();
    assert_eq!(
        exporter.header_names(),
        vec!["Authorization", "X-Scope-OrgID"]
    );
    assert!(!format!("{exporter:?}").contains("secret"));
    exporter
        .export(&batch(one_counter_snapshot(), Temporality::Cumulative))
        .unwrap();
    let req = &rx.requests()[0];
    assert_eq!(req.header("Authorization"), Some("Bearer secret"));
    assert_eq!(req.header("X-Scope-OrgID"), Some("tenant-2"));
    let org_ids = req
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("X-Scope-OrgID"))
        .count();
    assert_eq!(org_ids, 1);
}

#[test]
fn endpoints_base_and_metrics_specific() {
    let rx = Receiver::start();
    let base = OtlpExporter::builder()
        .endpoint(format!("{}/prefix/", rx.endpoint()))
        .build()
        .unwrap();
    assert_eq!(base.url(), format!("{}/prefix/v1/metrics", rx.endpoint()));
    let mut full = OtlpExporter::builder()
        .endpoint("http://127.0.0.1:9")
        .metrics_endpoint(format!("{}/custom/ingest", rx.endpoint()))
        .build()
        .unwrap();
    full.export(&batch(one_counter_snapshot(), Temporality::Cumulative))
        .unwrap();
    assert_eq!(rx.requests()[0].path, "/custom/ingest");

    let default = OtlpExporter::builder().build().unwrap();
    assert_eq!(default.url(), "http://127.0.0.1:4318/v1/metrics");
    assert_eq!(default.timeout(), Duration::from_secs(10));
    assert_eq!(
        default.max_points_per_request(),
        DEFAULT_MAX_POINTS_PER_REQUEST
    );
    assert!(!default.is_gzip());
}

#[test]
fn builder_errors_name_the_setting() {
    let err = OtlpExporter::builder()
        .endpoint("ftp://127.0.0.1:4318")
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("URL \"ftp://127.0.0.1:4318/v1/metrics\"") && err.contains("is not supported"),
        "{err}"
    );
    let err = OtlpExporter::builder()
        .metrics_endpoint("127.0.0.1:4318")
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("URL \"127.0.0.1:4318\"") && err.contains("not a URL"),
        "{err}"
    );
    let err = OtlpExporter::builder()
        .header("Bad Name", "x")
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("Bad Name"), "{err}");
    let err = OtlpExporter::builder()
        .header("X-Ok", "line\r\nbreak")
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("X-Ok"), "{err}");
    let err = OtlpExporter::builder()
        .timeout(Duration::ZERO)
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("timeout"), "{err}");
}

// ---------------------------------------------------------------------------------------
// Splitting
// ---------------------------------------------------------------------------------------

fn many_series(n: usize) -> Snapshot {
    let r = Registry::new();
    let a = r.metric("alpha", "Alpha.").counter_family(&["i"]).unwrap();
    let b = r.metric("beta", "Beta.").gauge_family(&["i"]).unwrap();
    for i in 0..n {
        if i % 2 == 0 {
            a.with(&[&i.to_string()]).add(i as u64);
        } else {
            b.with(&[&i.to_string()]).set(i as f64);
        }
    }
    r.snapshot()
}

/// Every (metric, i label) received over successfully answered requests.
fn received_series(reqs: &[Received]) -> Vec<(String, String)> {
    let mut out: Vec<_> = reqs
        .iter()
        .filter(|r| r.status == 200)
        .flat_map(|r| r.metrics().cloned().collect::<Vec<_>>())
        .flat_map(|m| {
            number_points(&m)
                .iter()
                .map(|p| (m.name.clone(), string_attr(&p.attributes, "i").unwrap()))
                .collect::<Vec<_>>()
        })
        .collect();
    out.sort();
    out
}

#[test]
fn large_snapshots_are_split() {
    let rx = Receiver::start();
    let mut exporter = rx.exporter().max_points_per_request(10).build().unwrap();
    assert_eq!(exporter.max_points_per_request(), 10);
    let snapshot = many_series(25);
    let want: Vec<_> = {
        let mut v: Vec<_> = snapshot
            .families
            .iter()
            .flat_map(|f| {
                f.series
                    .iter()
                    .map(|s| (f.name.clone(), s.label("i").unwrap().to_owned()))
            })
            .collect();
        v.sort();
        v
    };
    exporter
        .export(&batch(snapshot, Temporality::Cumulative))
        .unwrap();
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(
        reqs.iter().map(Received::points).collect::<Vec<_>>(),
        vec![10, 10, 5]
    );
    assert_eq!(received_series(&reqs), want);
    // The 13 alpha points span the first two requests; every request is self-contained.
    assert_eq!(
        reqs[0]
            .metrics()
            .map(|m| m.name.as_str())
            .collect::<Vec<_>>(),
        ["alpha"]
    );
    assert_eq!(
        reqs[1]
            .metrics()
            .map(|m| m.name.as_str())
            .collect::<Vec<_>>(),
        ["alpha", "beta"]
    );
    for r in &reqs {
        assert!(string_attr(&resource_attrs(r), "service.name").is_some());
        for m in r.metrics() {
            assert!(!m.description.is_empty());
        }
    }
    let alpha = reqs[1].metrics().find(|m| m.name == "alpha").unwrap();
    assert_eq!(sum_kind(alpha), (true, AggregationTemporality::Cumulative));
}

#[test]
fn a_retry_resumes_a_split_batch_where_it_failed() {
    // The second request fails once with 503; the retry sends only the rest.
    let rx = Receiver::answering(|n| {
        if n == 1 {
            Answer::status(503)
        } else {
            Answer::ok()
        }
    });
    let mut exporter = rx.exporter().max_points_per_request(10).build().unwrap();
    let snapshot = many_series(25);
    let b = batch(snapshot, Temporality::Delta);
    let err = exporter.export(&b).unwrap_err();
    assert!(err.is_retryable(), "{err}");
    exporter.export(&b).unwrap();
    let reqs = rx.requests();
    assert_eq!(
        reqs.iter()
            .map(|r| (r.status, r.points()))
            .collect::<Vec<_>>(),
        vec![(200, 10), (503, 10), (200, 10), (200, 5)]
    );
    assert_eq!(received_series(&reqs).len(), 25);
    let mut unique = received_series(&reqs);
    unique.dedup();
    assert_eq!(unique.len(), 25);
    // A different batch starts from the beginning again.
    exporter
        .export(&batch(many_series(25), Temporality::Delta))
        .unwrap();
    assert_eq!(rx.requests().len(), 7);
}

#[test]
fn an_empty_snapshot_sends_nothing() {
    let rx = Receiver::start();
    let mut exporter = rx.exporter().build().unwrap();
    let empty = Snapshot {
        time: SystemTime::now(),
        families: vec![FamilySnapshot::new("none", "None.", MetricKind::Gauge)],
    };
    exporter
        .export(&batch(empty, Temporality::Cumulative))
        .unwrap();
    assert!(rx.requests().is_empty());
}

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

fn export_once(rx: &Receiver) -> ExportError {
    let mut exporter = rx.exporter().build().unwrap();
    exporter
        .export(&batch(one_counter_snapshot(), Temporality::Cumulative))
        .unwrap_err()
}

#[test]
fn status_503_and_friends_are_retryable() {
    for status in [429, 502, 503, 504] {
        let rx = Receiver::answering(move |_| {
            Answer::status(status)
                .with_header("Retry-After", "7")
                .with_body("text/plain", "busy, come back later")
        });
        let err = export_once(&rx);
        assert!(err.is_retryable(), "{status}: {err}");
        let msg = err.to_string();
        assert!(msg.contains(&status.to_string()), "{msg}");
        assert!(msg.contains("busy, come back later"), "{msg}");
        assert!(msg.contains("Retry-After: 7"), "{msg}");
        assert!(msg.starts_with("otlp:"), "{msg}");
    }
}

#[test]
fn status_400_is_permanent_with_the_body() {
    let rx =
        Receiver::answering(|_| Answer::status(400).with_body("text/plain", "invalid metric name"));
    let err = export_once(&rx);
    assert!(!err.is_retryable(), "{err}");
    assert!(matches!(err, ExportError::Permanent { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("400") && msg.contains("invalid metric name"),
        "{msg}"
    );

    for status in [401, 404, 413, 500, 501] {
        let rx = Receiver::answering(move |_| Answer::status(status));
        let err = export_once(&rx);
        assert!(!err.is_retryable(), "{status}: {err}");
        assert!(err.to_string().contains(&status.to_string()));
    }
}

#[test]
fn long_error_bodies_are_truncated_and_protobuf_status_is_decoded() {
    let rx =
        Receiver::answering(|_| Answer::status(400).with_body("text/plain", "x".repeat(10_000)));
    let msg = export_once(&rx).to_string();
    assert!(msg.len() < 1000, "{} chars", msg.len());
    assert!(msg.contains("xxxx…"), "{msg}");

    // google.rpc.Status { code: 3, message: "bad points" }
    let mut status = vec![0x08, 3, 0x12, 10];
    status.extend_from_slice(b"bad points");
    let rx = Receiver::answering(move |_| {
        Answer::status(400).with_body("application/x-protobuf", status.clone())
    });
    let msg = export_once(&rx).to_string();
    // One message shape for every HTTP exporter: `HTTP <status> <reason phrase>: <detail>`.
    assert!(
        msg.contains("HTTP 400 ") && msg.ends_with(": bad points"),
        "{msg}"
    );
}

#[test]
fn partial_success_is_reported_as_permanent() {
    let body = ExportMetricsServiceResponse {
        partial_success: Some(ExportMetricsPartialSuccess {
            rejected_data_points: 2,
            error_message: "names too long".into(),
        }),
    }
    .encode_to_vec();
    let rx = Receiver::answering(move |_| {
        Answer::ok().with_body("application/x-protobuf", body.clone())
    });
    let err = export_once(&rx);
    assert!(!err.is_retryable());
    let msg = err.to_string();
    assert!(
        msg.contains("2 data points rejected: names too long"),
        "{msg}"
    );

    // A full success answered with an empty response message is fine.
    let empty = ExportMetricsServiceResponse::default().encode_to_vec();
    let rx = Receiver::answering(move |_| {
        Answer::ok().with_body("application/x-protobuf", empty.clone())
    });
    let mut exporter = rx.exporter().build().unwrap();
    exporter
        .export(&batch(one_counter_snapshot(), Temporality::Cumulative))
        .unwrap();
}

#[test]
fn connection_refused_is_retryable() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut exporter = OtlpExporter::builder()
        .endpoint(format!("http://127.0.0.1:{port}"))
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let err = exporter
        .export(&batch(one_counter_snapshot(), Temporality::Cumulative))
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(err.to_string().contains(&port.to_string()), "{err}");
}

#[test]
fn a_timeout_is_retryable() {
    // Accepts and reads, never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let mut exporter = OtlpExporter::builder()
        .endpoint(format!("http://{addr}"))
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let err = exporter
        .export(&batch(one_counter_snapshot(), Temporality::Cumulative))
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn the_pipeline_retries_a_503() {
    let rx = Receiver::answering(|n| {
        if n == 0 {
            Answer::status(503)
        } else {
            Answer::ok()
        }
    });
    let r = Registry::new();
    r.counter("jobs", "Jobs.").unwrap().add(1);
    let p = Pipeline::builder(r)
        .interval(Duration::from_secs(3600))
        .retry(tallyho_export::RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(20),
        })
        .exporter(rx.exporter().build().unwrap())
        .start()
        .unwrap();
    assert!(p.flush(Duration::from_secs(10)));
    let statuses: Vec<_> = rx.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![503, 200]);
    assert!(p.shutdown(Duration::from_secs(10)));
}
