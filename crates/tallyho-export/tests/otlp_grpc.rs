//! OTLP over gRPC against a collector built from the official service definitions
//! (opentelemetry-proto's `MetricsService` server on tonic) on 127.0.0.1: values, metadata,
//! gzip, the retry rules of the status codes, partial success, and the protocol chosen
//! by `OTEL_EXPORTER_OTLP_PROTOCOL`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::metrics::v1::{metric::Data, number_data_point::Value};
use tallyho::{Buckets, Registry};
use tallyho_export::otlp::{OtlpExporter, OtlpProtocol};
use tallyho_export::{Batch, Exporter, FailureReason, Temporality};
use tonic::{Request, Response, Status};

/// What the collector answers to each call.
#[derive(Clone, Copy)]
enum Answer {
    Ok,
    Partial,
    Unavailable,
    InvalidArgument,
}

#[derive(Default)]
struct Seen {
    requests: Vec<ExportMetricsServiceRequest>,
    api_keys: Vec<Option<String>>,
    encodings: Vec<Option<String>>,
}

struct Collector {
    seen: Arc<Mutex<Seen>>,
    answer: Arc<Mutex<Answer>>,
}

#[tonic::async_trait]
impl MetricsService for Collector {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        let meta = |k: &str| {
            request
                .metadata()
                .get(k)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        {
            let mut seen = self.seen.lock().unwrap();
            seen.api_keys.push(meta("x-api-key"));
            seen.encodings.push(meta("grpc-encoding"));
            seen.requests.push(request.get_ref().clone());
        }
        match *self.answer.lock().unwrap() {
            Answer::Ok => Ok(Response::new(ExportMetricsServiceResponse::default())),
            Answer::Partial => Ok(Response::new(ExportMetricsServiceResponse {
                partial_success: Some(ExportMetricsPartialSuccess {
                    rejected_data_points: 2,
                    error_message: "two points too old".into(),
                }),
            })),
            Answer::Unavailable => Err(Status::unavailable("draining")),
            Answer::InvalidArgument => Err(Status::invalid_argument("bad metric name")),
        }
    }
}

struct Server {
    addr: SocketAddr,
    seen: Arc<Mutex<Seen>>,
    answer: Arc<Mutex<Answer>>,
    _runtime: tokio::runtime::Runtime,
}

impl Server {
    fn start() -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let answer = Arc::new(Mutex::new(Answer::Ok));
        let service = MetricsServiceServer::new(Collector {
            seen: seen.clone(),
            answer: answer.clone(),
        })
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
        runtime.spawn(async move {
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
                .await
                .unwrap();
        });
        Server {
            addr,
            seen,
            answer,
            _runtime: runtime,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

fn batch(r: &Registry) -> Batch {
    let end = SystemTime::now();
    Batch {
        start: end - Duration::from_secs(10),
        end,
        snapshot: r.snapshot(),
        temporality: Temporality::Cumulative,
    }
}

#[test]
fn values_metadata_and_gzip_arrive_over_grpc() {
    let server = Server::start();
    let r = Registry::new();
    r.counter("grpc_jobs", "Jobs.").unwrap().add(7);
    let h = r
        .histogram(
            "grpc_took_seconds",
            "Took.",
            Buckets::new([0.1, 1.0]).unwrap(),
        )
        .unwrap();
    h.observe(0.05);
    h.observe(0.5);
    for gzip in [false, true] {
        let mut exporter = OtlpExporter::builder()
            .protocol(OtlpProtocol::Grpc)
            .endpoint(server.url())
            .header("X-Api-Key", "s3cret")
            .gzip(gzip)
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        assert_eq!(exporter.url(), server.url(), "gRPC adds no path");
        exporter.export(&batch(&r)).unwrap();
    }
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen.requests.len(), 2);
    assert_eq!(
        seen.api_keys,
        [Some("s3cret".into()), Some("s3cret".into())]
    );
    assert_eq!(seen.encodings[1].as_deref(), Some("gzip"));
    let metrics = &seen.requests[1].resource_metrics[0].scope_metrics[0].metrics;
    let jobs = metrics.iter().find(|m| m.name == "grpc_jobs").unwrap();
    let Some(Data::Sum(sum)) = &jobs.data else {
        panic!("{jobs:?}")
    };
    assert!(sum.is_monotonic);
    assert_eq!(sum.data_points[0].value, Some(Value::AsInt(7)));
    let took = metrics
        .iter()
        .find(|m| m.name == "grpc_took_seconds")
        .unwrap();
    let Some(Data::Histogram(hist)) = &took.data else {
        panic!("{took:?}")
    };
    let p = &hist.data_points[0];
    assert_eq!((p.count, p.sum), (2, Some(0.55)));
    assert_eq!(p.bucket_counts, [1, 1, 0]);
}

#[test]
fn status_codes_follow_the_otlp_retry_rules() {
    let server = Server::start();
    let r = Registry::new();
    r.counter("grpc_x", "X.").unwrap().inc();
    let mut exporter = OtlpExporter::builder()
        .protocol(OtlpProtocol::Grpc)
        .endpoint(server.url())
        .build()
        .unwrap();
    *server.answer.lock().unwrap() = Answer::Unavailable;
    let e = exporter.export(&batch(&r)).unwrap_err();
    assert!(e.is_retryable(), "{e}");
    assert!(e.to_string().contains("draining"), "{e}");
    *server.answer.lock().unwrap() = Answer::InvalidArgument;
    let e = exporter.export(&batch(&r)).unwrap_err();
    assert!(!e.is_retryable(), "{e}");
    assert_eq!(e.reason(), FailureReason::Grpc(3), "{e}");
    assert!(e.to_string().contains("bad metric name"), "{e}");
    *server.answer.lock().unwrap() = Answer::Partial;
    let e = exporter.export(&batch(&r)).unwrap_err();
    assert_eq!(e.reason(), FailureReason::Rejected, "{e}");
    assert!(
        e.to_string()
            .contains("2 data points rejected: two points too old"),
        "{e}"
    );
    // Nobody listening: a retryable connection failure, not a hang.
    let gone = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let mut exporter = OtlpExporter::builder()
        .protocol(OtlpProtocol::Grpc)
        .endpoint(format!("http://{gone}"))
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let e = exporter.export(&batch(&r)).unwrap_err();
    assert!(e.is_retryable(), "{e}");
    assert_eq!(e.reason(), FailureReason::Connection, "{e}");
}

#[test]
fn the_environment_chooses_grpc_and_its_endpoint() {
    let server = Server::start();
    let r = Registry::new();
    r.counter("grpc_env", "Env.").unwrap().inc();
    let url = server.url();
    let env = move |k: &str| match k {
        "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL" => Some("grpc".to_owned()),
        "OTEL_EXPORTER_OTLP_ENDPOINT" => Some(url.clone()),
        "OTEL_EXPORTER_OTLP_HEADERS" => Some("x-api-key=from-env".to_owned()),
        _ => None,
    };
    let mut exporter = OtlpExporter::builder().from_env_with(env).build().unwrap();
    assert_eq!(
        exporter.url(),
        server.url(),
        "the general endpoint as given"
    );
    exporter.export(&batch(&r)).unwrap();
    assert_eq!(
        server.seen.lock().unwrap().api_keys,
        [Some("from-env".into())]
    );
    // The default endpoint for gRPC is 4317, and http/json is refused by name.
    let grpc_only = |k: &str| (k == "OTEL_EXPORTER_OTLP_PROTOCOL").then(|| "grpc".to_owned());
    let e = OtlpExporter::builder()
        .from_env_with(grpc_only)
        .build()
        .unwrap();
    assert_eq!(e.url(), "http://127.0.0.1:4317");
    let json = |k: &str| (k == "OTEL_EXPORTER_OTLP_PROTOCOL").then(|| "http/json".to_owned());
    let err = OtlpExporter::builder()
        .from_env_with(json)
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("OTEL_EXPORTER_OTLP_PROTOCOL=\"http/json\""),
        "{err}"
    );
}
