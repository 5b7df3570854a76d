//! Set-up shared by the `compare` and `memory` benches: peer configuration that opens no
//! socket, and the label types the peers need for two string labels.

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};
use opentelemetry_sdk::metrics::{Instrument, ManualReader, SdkMeterProvider, Stream};
use prometheus_client::encoding::EncodeLabelSet;

/// Prometheus' default latency buckets (seconds); every histogram uses them.
pub const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A `metrics` recorder that is never installed globally: no exporter, no listener, no
/// upkeep thread. Use it through `metrics::with_local_recorder`.
pub fn metrics_recorder() -> PrometheusRecorder {
    PrometheusBuilder::new()
        .set_buckets(&BUCKETS)
        .expect("valid buckets")
        .build_recorder()
}

/// An OpenTelemetry meter provider with a pull reader that nothing ever reads (without a
/// reader the SDK would drop measurements), and a cardinality limit above the SDK's
/// default of 2000 so that 10,000-series families do not collapse into an overflow series.
pub fn otel_provider() -> SdkMeterProvider {
    SdkMeterProvider::builder()
        .with_reader(ManualReader::builder().build())
        .with_view(|_: &Instrument| {
            Stream::builder()
                .with_cardinality_limit(20_000)
                .build()
                .ok()
        })
        .build()
}

/// Two string labels as prometheus-client needs them for runtime values: a registered
/// family's label set is `'static`, so the values are owned.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OwnedLabels {
    pub method: String,
    pub code: String,
}

/// Two string labels as measured takes values not known up front: each value is interned
/// in a `ParaCord` (measured's own choice for dynamic values) and the pair of ids keys a
/// sharded map.
#[derive(Clone, Copy, measured::LabelGroup)]
#[label(set = StrLabelsSet)]
pub struct StrLabels<'a> {
    #[label(dynamic_with = paracord::ParaCord)]
    pub method: &'a str,
    #[label(dynamic_with = paracord::ParaCord)]
    pub code: &'a str,
}

/// A measured counter family over [`StrLabels`].
pub fn measured_str_vec() -> measured::CounterVec<StrLabelsSet> {
    measured::CounterVec::with_label_set(StrLabelsSet {
        method: paracord::ParaCord::default(),
        code: paracord::ParaCord::default(),
    })
}
