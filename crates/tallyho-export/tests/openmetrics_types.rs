//! OpenMetrics info, stateset, gauge histogram and summary in the push formats: OTLP
//! (sent to a receiver on 127.0.0.1 and decoded with the official `opentelemetry-proto`
//! messages; info and stateset as gauges under both temporalities, summaries as OTLP
//! summaries) and remote write.

use std::collections::BTreeMap;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{metric::Data, number_data_point, Metric};
use prost::Message;
use tallyho::Registry;
use tallyho_export::otlp::OtlpExporter;
use tallyho_export::remote_write::{self, proto::MetricType};
use tallyho_export::{Exporter, Pipeline, Temporality};

mod common;
use common::{batch_of, FakeServer, Reply};

fn registry() -> Registry {
    let r = Registry::builder()
        .constant_label("env", "prod")
        .build()
        .unwrap();
    r.info("build", "Build.", &[("version", "1.2.3")]).unwrap();
    let pools = r
        .metric("pool_state", "Pool state.")
        .stateset_family(&["pool"], &["up", "draining", "down"])
        .unwrap();
    pools.with(&["a"]).set("draining");
    pools.with(&["b"]).set("up");
    r
}

fn attrs(kvs: &[KeyValue]) -> BTreeMap<String, String> {
    kvs.iter()
        .map(|kv| {
            let v = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(any_value::Value::StringValue(s)) => s.clone(),
                other => panic!("{}: not a string: {other:?}", kv.key),
            };
            (kv.key.clone(), v)
        })
        .collect()
}

/// Every gauge point of `name` as (attributes, integer value).
fn gauge(metrics: &[Metric], name: &str) -> Vec<(BTreeMap<String, String>, i64)> {
    let m = metrics
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no metric {name} in {metrics:?}"));
    let Some(Data::Gauge(g)) = &m.data else {
        panic!("{name} is not a gauge: {:?}", m.data)
    };
    g.data_points
        .iter()
        .map(|p| match p.value {
            Some(number_data_point::Value::AsInt(v)) => (attrs(&p.attributes), v),
            other => panic!("{name}: not an integer: {other:?}"),
        })
        .collect()
}

fn sent(temporality: Temporality) -> Vec<Vec<Metric>> {
    let rx = FakeServer::answering(|_, _| Some(Reply::ok()));
    let mut exporter = OtlpExporter::builder()
        .endpoint(rx.url(""))
        .gzip(false)
        .timeout(Duration::from_secs(5))
        .temporality(temporality)
        .build()
        .unwrap();
    let r = registry();
    // One direct export, then two through a pipeline, whose delta temporality must not
    // turn a state that stayed into a 0.
    exporter.export(&batch_of(&r)).unwrap();
    let p = Pipeline::builder(r)
        .interval(Duration::from_secs(3600))
        .exporter(exporter)
        .start()
        .unwrap();
    assert!(p.flush(Duration::from_secs(10)));
    assert!(p.flush(Duration::from_secs(10)));
    assert!(p.shutdown(Duration::from_secs(10)));
    rx.seen()
        .iter()
        .map(|s| {
            let req = ExportMetricsServiceRequest::decode(&s.body[..]).expect("valid protobuf");
            req.resource_metrics
                .iter()
                .flat_map(|rm| &rm.scope_metrics)
                .flat_map(|sm| sm.metrics.clone())
                .collect()
        })
        .collect()
}

fn pairs(p: &[(&str, &str)]) -> BTreeMap<String, String> {
    p.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn otlp_sends_info_and_states_as_gauges() {
    for temporality in [Temporality::Cumulative, Temporality::Delta] {
        let requests = sent(temporality);
        assert!(requests.len() >= 3, "{temporality:?}: {}", requests.len());
        for metrics in &requests {
            assert_eq!(
                gauge(metrics, "build_info"),
                [(pairs(&[("env", "prod"), ("version", "1.2.3")]), 1)],
                "{temporality:?}"
            );
            let mut states = gauge(metrics, "pool_state");
            states.sort();
            let want = |pool: &str, state: &str, v: i64| {
                let labels = [("env", "prod"), ("pool", pool), ("pool_state", state)];
                (pairs(&labels), v)
            };
            let mut expected = vec![
                want("a", "up", 0),
                want("a", "draining", 1),
                want("a", "down", 0),
                want("b", "up", 1),
                want("b", "draining", 0),
                want("b", "down", 0),
            ];
            expected.sort();
            assert_eq!(states, expected, "{temporality:?}");
        }
    }
}

#[test]
fn remote_write_sends_gauge_samples() {
    let snapshot = registry().snapshot();
    let req = remote_write::write_request(&snapshot, 1_700_000_000_000, true);
    let series: BTreeMap<Vec<(String, String)>, f64> = req
        .timeseries
        .iter()
        .map(|t| {
            let labels = t
                .labels
                .iter()
                .map(|l| (l.name.clone(), l.value.clone()))
                .collect();
            (labels, t.samples[0].value)
        })
        .collect();
    let key = |p: &[(&str, &str)]| -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    let mut want = BTreeMap::new();
    want.insert(
        key(&[
            ("__name__", "build_info"),
            ("env", "prod"),
            ("version", "1.2.3"),
        ]),
        1.0,
    );
    for (pool, on) in [("a", "draining"), ("b", "up")] {
        for state in ["up", "draining", "down"] {
            let labels = [
                ("__name__", "pool_state"),
                ("env", "prod"),
                ("pool", pool),
                ("pool_state", state),
            ];
            want.insert(key(&labels), if state == on { 1.0 } else { 0.0 });
        }
    }
    assert_eq!(series, want);
    let meta: Vec<(String, i32)> = req
        .metadata
        .iter()
        .map(|m| (m.metric_family_name.clone(), m.r#type))
        .collect();
    assert_eq!(
        meta,
        [
            ("build_info".to_owned(), MetricType::Gauge as i32),
            ("pool_state".to_owned(), MetricType::Gauge as i32)
        ]
    );
}

#[test]
fn gauge_histograms_go_to_remote_write_and_not_to_otlp() {
    let r = Registry::new();
    let q = r
        .metric("queue_wait", "Waiting.")
        .buckets(tallyho::Buckets::new([1.0]).unwrap())
        .gauge_histogram()
        .unwrap();
    q.add(0.5);
    q.add(2.0);
    r.gauge("depth", "Depth.").unwrap().set(2.0);
    let req = remote_write::write_request(&r.snapshot(), 1, true);
    let got: Vec<(String, Option<String>, f64)> = req
        .timeseries
        .iter()
        .map(|t| {
            let get = |n: &str| {
                t.labels
                    .iter()
                    .find(|l| l.name == n)
                    .map(|l| l.value.clone())
            };
            (get("__name__").unwrap(), get("le"), t.samples[0].value)
        })
        .collect();
    let s = |n: &str| n.to_owned();
    assert_eq!(
        got,
        [
            (s("queue_wait_bucket"), Some(s("1")), 1.0),
            (s("queue_wait_bucket"), Some(s("+Inf")), 2.0),
            (s("queue_wait_gsum"), None, 2.5),
            (s("queue_wait_gcount"), None, 2.0),
            (s("depth"), None, 2.0),
        ]
    );
    assert_eq!(req.metadata[0].r#type, MetricType::Gaugehistogram as i32);

    // OTLP has no such type: the family is left out, the rest is sent.
    let rx = FakeServer::answering(|_, _| Some(Reply::ok()));
    let mut exporter = OtlpExporter::builder()
        .endpoint(rx.url(""))
        .gzip(false)
        .build()
        .unwrap();
    exporter.export(&batch_of(&r)).unwrap();
    let seen = rx.seen();
    let req = ExportMetricsServiceRequest::decode(&seen[0].body[..]).unwrap();
    let names: Vec<&str> = req.resource_metrics[0].scope_metrics[0]
        .metrics
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(names, ["depth"]);
}

#[test]
fn summaries_arrive_as_otlp_summaries_and_quantile_series() {
    let r = Registry::new();
    let s = r
        .metric("rpc", "RPC time.")
        .unit("seconds")
        .summary_config(
            tallyho::SummaryConfig::default()
                .quantiles(&[0.5, 1.0])
                .unwrap(),
        )
        .summary_family(&["method"])
        .unwrap();
    for v in 1..=100 {
        s.with(&["get"]).observe(f64::from(v) / 100.0);
    }
    let snap = r.snapshot();
    let quantiles = &snap.families[0].series[0]
        .value
        .as_summary()
        .unwrap()
        .quantiles;
    let (median, top) = (quantiles[0].1, quantiles[1].1);
    assert!((median - 0.5).abs() / 0.5 < 0.01, "{median}");
    assert!((top - 1.0).abs() < 0.01, "{top}");

    for temporality in [Temporality::Cumulative, Temporality::Delta] {
        let rx = FakeServer::answering(|_, _| Some(Reply::ok()));
        let exporter = OtlpExporter::builder()
            .endpoint(rx.url(""))
            .gzip(false)
            .temporality(temporality)
            .build()
            .unwrap();
        let p = Pipeline::builder(r.clone())
            .interval(Duration::from_secs(3600))
            .exporter(exporter)
            .start()
            .unwrap();
        assert!(p.flush(Duration::from_secs(10)));
        assert!(p.flush(Duration::from_secs(10)));
        assert!(p.shutdown(Duration::from_secs(10)));
        let seen = rx.seen();
        assert!(seen.len() >= 2, "{temporality:?}");
        for request in &seen {
            let req = ExportMetricsServiceRequest::decode(&request.body[..]).unwrap();
            let m = &req.resource_metrics[0].scope_metrics[0].metrics[0];
            assert_eq!((m.name.as_str(), m.unit.as_str()), ("rpc_seconds", "s"));
            let Some(Data::Summary(sm)) = &m.data else {
                panic!("not a summary: {:?}", m.data)
            };
            let p = &sm.data_points[0];
            // Totals since the start, whatever the temporality.
            assert_eq!(p.count, 100, "{temporality:?}");
            assert!((p.sum - 50.5).abs() < 1e-9);
            assert!(p.start_time_unix_nano > 0 && p.start_time_unix_nano <= p.time_unix_nano);
            assert_eq!(attrs(&p.attributes), pairs(&[("method", "get")]));
            let qs: Vec<(f64, f64)> = p
                .quantile_values
                .iter()
                .map(|q| (q.quantile, q.value))
                .collect();
            // The same data, the same window: the same estimates as the snapshot's.
            assert_eq!(qs, [(0.5, median), (1.0, top)]);
        }
    }

    let req = remote_write::write_request(&snap, 1, true);
    let got: Vec<(String, Option<String>, f64)> = req
        .timeseries
        .iter()
        .map(|t| {
            let get = |n: &str| {
                t.labels
                    .iter()
                    .find(|l| l.name == n)
                    .map(|l| l.value.clone())
            };
            (
                get("__name__").unwrap(),
                get("quantile"),
                t.samples[0].value,
            )
        })
        .collect();
    let s = |n: &str| n.to_owned();
    assert_eq!(
        got,
        [
            (s("rpc_seconds"), Some(s("0.5")), median),
            (s("rpc_seconds"), Some(s("1")), top),
            (s("rpc_seconds_sum"), None, 50.5),
            (s("rpc_seconds_count"), None, 100.0),
        ]
    );
    assert_eq!(req.metadata[0].r#type, MetricType::Summary as i32);
}
