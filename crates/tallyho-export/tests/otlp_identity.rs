//! Issue 16, items 7 to 11 for OTLP: what arrives at a receiver on 127.0.0.1 (the shared
//! std-only HTTP server), decoded with the official `opentelemetry-proto` messages: the
//! first delta point's window, the start of every sum, the service name's precedence, point
//! attributes without the resource's service, and the host's identity on the resource.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{metric::Data, Metric, NumberDataPoint};
use prost::Message;
use tallyho::{FamilySnapshot, HistogramData, MetricKind, Registry, Series, SeriesValue, Snapshot};
use tallyho_export::otlp::{OtlpExporter, OtlpExporterBuilder};
use tallyho_export::{Batch, Exporter, Pipeline, Temporality};

mod common;
use common::{FakeServer, Reply};

fn receiver() -> FakeServer {
    FakeServer::answering(|_, _| Some(Reply::ok()))
}

fn exporter(rx: &FakeServer) -> OtlpExporterBuilder {
    OtlpExporter::builder()
        .endpoint(rx.url(""))
        .timeout(Duration::from_secs(5))
}

fn requests(rx: &FakeServer) -> Vec<ExportMetricsServiceRequest> {
    rx.seen()
        .iter()
        .map(|s| ExportMetricsServiceRequest::decode(&s.body[..]).expect("valid protobuf"))
        .collect()
}

fn metrics(r: &ExportMetricsServiceRequest) -> Vec<Metric> {
    r.resource_metrics
        .iter()
        .flat_map(|rm| &rm.scope_metrics)
        .flat_map(|s| s.metrics.clone())
        .collect()
}

fn resource(r: &ExportMetricsServiceRequest) -> Vec<KeyValue> {
    r.resource_metrics[0]
        .resource
        .as_ref()
        .unwrap()
        .attributes
        .clone()
}

fn string_attr(kvs: &[KeyValue], key: &str) -> Option<String> {
    kvs.iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.clone()),
            _ => None,
        })
}

/// The sum points of `name` in one request.
fn sum_points(r: &ExportMetricsServiceRequest, name: &str) -> Vec<NumberDataPoint> {
    metrics(r)
        .into_iter()
        .filter(|m| m.name == name)
        .flat_map(|m| match m.data {
            Some(Data::Sum(s)) => s.data_points,
            other => panic!("{name}: not a sum: {other:?}"),
        })
        .collect()
}

fn as_f64(p: &NumberDataPoint) -> f64 {
    use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value;
    match p.value {
        Some(Value::AsDouble(v)) => v,
        Some(Value::AsInt(v)) => v as f64,
        None => f64::NAN,
    }
}

fn nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64
}

/// This machine's boot time, from the kernel (`btime` in `/proc/stat`).
fn boot_time() -> SystemTime {
    let stat = std::fs::read_to_string("/proc/stat").expect("/proc/stat");
    let secs: u64 = stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
        .expect("btime");
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn kernel_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("/proc/sys/kernel/hostname")
        .trim()
        .to_owned()
}

/// A collector like the host's: a CPU-time counter since boot that grows by 1.5 s per
/// collection from 1093 s, and a counter with no known start that grows by 7 from 40.
fn host_like_registry() -> (Registry, SystemTime) {
    let boot = boot_time();
    let registry = Registry::new();
    let n = Arc::new(AtomicU64::new(0));
    registry.register_collector(move || {
        let i = n.fetch_add(1, Ordering::SeqCst);
        let mut cpu = FamilySnapshot::new("system_cpu_time_seconds", "CPU.", MetricKind::Counter)
            .with_unit("seconds")
            .with_point(&[("state", "user")], 1093.0 + 1.5 * i as f64);
        cpu.series[0].start = boot;
        let mut unknown = FamilySnapshot::new("no_start", "No start.", MetricKind::Counter)
            .with_point(&[], 40 + 7 * i);
        unknown.series[0].start = UNIX_EPOCH;
        vec![cpu, unknown]
    });
    (registry, boot)
}

/// Item 7: the first delta point of a counter since boot covers boot → now with the total
/// since boot (not a 1 s window from the exporter's start); a counter without a start is
/// only the baseline at first; the next points cover adjacent periods.
#[test]
fn the_first_delta_point_starts_at_the_series_own_start() {
    let rx = receiver();
    let (registry, boot) = host_like_registry();
    let p = Pipeline::builder(registry)
        .interval(Duration::from_secs(3600))
        .exporter(
            exporter(&rx)
                .temporality(Temporality::Delta)
                .build()
                .unwrap(),
        )
        .start()
        .unwrap();
    assert!(p.flush(Duration::from_secs(10)));
    assert!(p.flush(Duration::from_secs(10)));
    assert!(p.shutdown(Duration::from_secs(10)));
    let reqs = requests(&rx);
    assert!(reqs.len() >= 2, "{} requests", reqs.len());

    let first = sum_points(&reqs[0], "system_cpu_time_seconds");
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].start_time_unix_nano, nanos(boot));
    assert_eq!(as_f64(&first[0]), 1093.0);
    assert!(
        sum_points(&reqs[0], "no_start").is_empty(),
        "a series without a start is the baseline, not a point"
    );

    let second = sum_points(&reqs[1], "system_cpu_time_seconds");
    assert_eq!(second[0].start_time_unix_nano, first[0].time_unix_nano);
    assert_eq!(as_f64(&second[0]), 1.5);
    let unknown = sum_points(&reqs[1], "no_start");
    assert_eq!(unknown.len(), 1);
    assert_eq!(unknown[0].start_time_unix_nano, first[0].time_unix_nano);
    assert_eq!(as_f64(&unknown[0]), 7.0);
}

fn batch(snapshot: Snapshot) -> Batch {
    Batch {
        start: snapshot.time - Duration::from_secs(10),
        end: snapshot.time,
        snapshot,
        temporality: Temporality::Cumulative,
    }
}

/// Item 8: up-down sums (and histograms) whose series has no start never arrive with
/// `start_time_unix_nano = 0`: the first point is a zero-length "unknown start" point at
/// its own time, and later points keep that start; an instrument's own start is kept.
#[test]
fn sums_without_a_start_never_arrive_with_zero() {
    let rx = receiver();
    let registry = Registry::new();
    let inflight = registry
        .metric("inflight", "In flight.")
        .up_down_counter()
        .unwrap();
    inflight.add(3);
    let snapshot = |memory: u64| {
        let mut s = registry.snapshot();
        let mut mem = FamilySnapshot::new(
            "system_memory_usage_bytes",
            "Memory.",
            MetricKind::UpDownCounter,
        )
        .with_point(&[("state", "used")], memory);
        mem.series[0].start = UNIX_EPOCH;
        s.families.push(mem);
        s.families.push(FamilySnapshot {
            series: vec![Series {
                labels: vec![],
                start: UNIX_EPOCH,
                value: SeriesValue::Histogram(HistogramData {
                    bounds: vec![1.0],
                    counts: vec![1, 0],
                    sum: 0.5,
                    count: 1,
                    exponential: None,
                }),
            }],
            ..FamilySnapshot::new("took", "Took.", MetricKind::Histogram)
        });
        s
    };
    let own_start = registry.snapshot().family("inflight").unwrap().series[0].start;
    let mut e = exporter(&rx).build().unwrap();
    let first = snapshot(1 << 30);
    e.export(&batch(first.clone())).unwrap();
    std::thread::sleep(Duration::from_millis(5));
    e.export(&batch(snapshot(1 << 31))).unwrap();
    let reqs = requests(&rx);

    let mem: Vec<_> = reqs
        .iter()
        .map(|r| sum_points(r, "system_memory_usage_bytes")[0].clone())
        .collect();
    assert_eq!(mem[0].start_time_unix_nano, nanos(first.time));
    assert_eq!(mem[0].time_unix_nano, nanos(first.time));
    assert_eq!(mem[1].start_time_unix_nano, mem[0].time_unix_nano);
    assert!(mem[1].time_unix_nano > mem[0].time_unix_nano);
    assert_eq!(as_f64(&mem[1]), (1u64 << 31) as f64);
    for r in &reqs {
        assert_eq!(
            sum_points(r, "inflight")[0].start_time_unix_nano,
            nanos(own_start)
        );
        for m in metrics(r) {
            let starts: Vec<u64> = match m.data {
                Some(Data::Sum(s)) => s
                    .data_points
                    .iter()
                    .map(|p| p.start_time_unix_nano)
                    .collect(),
                Some(Data::Histogram(h)) => h
                    .data_points
                    .iter()
                    .map(|p| p.start_time_unix_nano)
                    .collect(),
                _ => continue,
            };
            assert!(starts.iter().all(|s| *s > 0), "{}: {starts:?}", m.name);
        }
    }
}

fn service_of(rx: &FakeServer, builder: OtlpExporterBuilder) -> String {
    let registry = Registry::new();
    registry.counter("jobs", "Jobs.").unwrap().inc();
    let before = rx.seen().len();
    builder
        .build()
        .unwrap()
        .export(&batch(registry.snapshot()))
        .unwrap();
    let reqs = requests(rx);
    string_attr(&resource(&reqs[before]), "service.name").unwrap()
}

fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |k: &str| {
        vars.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| (*v).to_owned())
    }
}

/// Item 9: `OTEL_SERVICE_NAME` > `service.name` in `OTEL_RESOURCE_ATTRIBUTES` > the
/// program's configured or default name (`default_service_name`).
#[test]
fn service_name_in_resource_attributes_wins_over_the_default() {
    let rx = receiver();
    let attrs = &[(
        "OTEL_RESOURCE_ATTRIBUTES",
        "service.name=checkout,deployment.environment=prod",
    )];
    let both = &[
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "service.name=checkout,deployment.environment=prod",
        ),
        ("OTEL_SERVICE_NAME", "billing"),
    ];
    let with = |vars| {
        exporter(&rx)
            .from_env_with(env(vars))
            .default_service_name("tallyho")
    };
    assert_eq!(service_of(&rx, with(attrs)), "checkout");
    assert_eq!(service_of(&rx, with(both)), "billing");
    assert_eq!(service_of(&rx, with(&[])), "tallyho");
    // Code's own `service_name` still wins over everything.
    assert_eq!(service_of(&rx, with(both).service_name("code")), "code");
}

/// Item 10: the agent's constant `service` label is not repeated on every point when it is
/// the resource's `service.name`; a `service` label that says something else is kept.
#[test]
fn points_do_not_repeat_the_resource_service_name() {
    let rx = receiver();
    let registry = Registry::builder()
        .constant_label("service", "checkout")
        .build()
        .unwrap();
    let jobs = registry
        .metric("jobs", "Jobs.")
        .counter_family(&["queue"])
        .unwrap();
    jobs.with(&["a"]).add(2);
    for (service, repeated) in [("checkout", false), ("billing", true)] {
        let before = rx.seen().len();
        exporter(&rx)
            .default_service_name(service)
            .build()
            .unwrap()
            .export(&batch(registry.snapshot()))
            .unwrap();
        let reqs = requests(&rx);
        let points = sum_points(&reqs[before], "jobs");
        assert_eq!(points.len(), 1);
        let keys: Vec<&str> = points[0]
            .attributes
            .iter()
            .map(|a| a.key.as_str())
            .collect();
        if repeated {
            assert_eq!(keys, ["service", "queue"]);
            assert_eq!(
                string_attr(&points[0].attributes, "service").as_deref(),
                Some("checkout")
            );
        } else {
            assert_eq!(keys, ["queue"]);
        }
        assert_eq!(as_f64(&points[0]), 2.0);
    }
}

/// Item 11: the resource says which host (`host.name`, the kernel's host name) and which
/// process (`service.instance.id`, one id for every exporter of the process) pushed;
/// both can be replaced or turned off.
#[test]
fn the_resource_carries_the_host_and_instance() {
    let rx = receiver();
    let resource_of = |b: OtlpExporterBuilder| {
        let registry = Registry::new();
        registry.gauge("temp", "Temp.").unwrap().set(1.0);
        let before = rx.seen().len();
        b.build()
            .unwrap()
            .export(&batch(registry.snapshot()))
            .unwrap();
        resource(&requests(&rx)[before])
    };
    let one = resource_of(exporter(&rx));
    let two = resource_of(exporter(&rx).service_name("other"));
    assert_eq!(
        string_attr(&one, "host.name").as_deref(),
        Some(kernel_hostname().as_str())
    );
    let id = string_attr(&one, "service.instance.id").unwrap();
    assert_eq!(id.len(), 36, "{id}");
    assert_eq!(id.as_bytes()[14], b'4', "a version 4 UUID: {id}");
    assert_eq!(
        string_attr(&two, "service.instance.id").as_deref(),
        Some(id.as_str())
    );

    let replaced = resource_of(
        exporter(&rx)
            .from_env_with(env(&[("OTEL_RESOURCE_ATTRIBUTES", "host.name=from-env")]))
            .resource_attribute("service.instance.id", "pod-7"),
    );
    assert_eq!(
        string_attr(&replaced, "host.name").as_deref(),
        Some("from-env")
    );
    assert_eq!(
        string_attr(&replaced, "service.instance.id").as_deref(),
        Some("pod-7")
    );

    let off = resource_of(exporter(&rx).host_identity(false));
    assert_eq!(string_attr(&off, "host.name"), None);
    assert_eq!(string_attr(&off, "service.instance.id"), None);
}
