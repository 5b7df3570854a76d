//! TLS of the HTTP exporters against real programs on 127.0.0.1, with a test CA made here
//! (rcgen): a real Prometheus as remote write receiver and a real Pushgateway, each
//! serving https through its exporter-toolkit `--web.config.file`, with and without
//! `client_auth_type: RequireAndVerifyClientCert`; and OTLP configured by the
//! `OTEL_EXPORTER_OTLP_*` TLS variables alone, against a rustls server that requires a
//! client certificate. Data must arrive over https; a wrong CA, a missing or foreign
//! client certificate must fail with a message that says so.
//!
//! `prometheus` and `prometheus-pushgateway` must be installed: a missing one fails the
//! test (it never skips).

use std::io::{BufReader, Write as _};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prost::Message as _;
use serde_json::Value;
use tallyho::Registry;
use tallyho_export::otlp::OtlpExporter;
use tallyho_export::pushgateway::PushgatewayExporter;
use tallyho_export::remote_write::RemoteWriteExporter;
use tallyho_export::{ExportError, Exporter, TlsConfig};

mod common;
#[path = "tls/pki.rs"]
mod pki;

use common::{batch_of, free_port, read_request, Seen, TempDir};
use pki::Pki;

/// A real server (Prometheus or the Pushgateway) serving https, killed on drop.
struct Server {
    child: Child,
    port: u16,
    reader: ureq::Agent,
    _dir: TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `program` with `args(dir, port)` and the web config of `pki` (mutual TLS
    /// when `mtls`), and waits up to 60 s for `/-/ready` over https.
    fn start(
        program: &str,
        pki: &Pki,
        mtls: bool,
        args: impl Fn(&Path, u16) -> Vec<String>,
    ) -> Server {
        let web = pki.web_config(mtls);
        let mut last_log = String::new();
        // A port picked free may be taken before the program binds it: try a few.
        for _ in 0..3 {
            let dir = TempDir::new(program);
            let port = free_port();
            let log = std::fs::File::create(dir.0.join("log")).unwrap();
            let child = Command::new(program)
                .args(args(&dir.0, port))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg(format!("--web.config.file={}", web.display()))
                .arg("--log.level=warn")
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start `{program}` (is it installed?): {e}"));
            let mut server = Server {
                child,
                port,
                reader: pki.reader(mtls),
                _dir: dir,
            };
            match server.wait_ready() {
                Ok(()) => return server,
                Err(e) => {
                    last_log = std::fs::read_to_string(server._dir.0.join("log")).unwrap_or(e);
                }
            }
        }
        panic!("{program} did not become ready over https:\n{last_log}");
    }

    fn prometheus(pki: &Pki, mtls: bool) -> Server {
        Server::start("prometheus", pki, mtls, |dir, _| {
            let config = dir.join("prometheus.yml");
            std::fs::write(
                &config,
                "global:\n  scrape_interval: 1m\nscrape_configs: []\n",
            )
            .unwrap();
            vec![
                "--web.enable-remote-write-receiver".into(),
                format!("--config.file={}", config.display()),
                format!("--storage.tsdb.path={}", dir.join("data").display()),
            ]
        })
    }

    fn pushgateway(pki: &Pki, mtls: bool) -> Server {
        Server::start("prometheus-pushgateway", pki, mtls, |_, _| {
            vec!["--persistence.file=".into()]
        })
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Err(format!("exited with {status}"));
            }
            if self.get("/-/ready").is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err("not ready after 60 s".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    /// A GET over https with the tests' own client (test CA, client certificate when the
    /// server asks for one).
    fn get(&self, path: &str) -> Result<String, String> {
        self.reader
            .get(&self.url(path))
            .call()
            .map_err(|e| e.to_string())?
            .into_string()
            .map_err(|e| e.to_string())
    }

    /// The single value of an instant PromQL query, or `None` when it has no result.
    fn value(&self, promql: &str) -> Option<f64> {
        let body = self.get(&format!("/api/v1/query?query={promql}")).unwrap();
        let json: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["status"], "success", "{body}");
        let result = json["data"]["result"].as_array().unwrap();
        assert!(result.len() <= 1, "{promql}: {body}");
        result
            .first()
            .map(|r| r["value"][1].as_str().unwrap().parse().unwrap())
    }
}

/// A registry with one counter `name` at `value`.
fn registry_with(name: &str, value: u64) -> Registry {
    let registry = Registry::new();
    registry.counter(name, "Jobs done.").unwrap().add(value);
    registry
}

fn push(exporter: &mut dyn Exporter, registry: &Registry) -> Result<(), ExportError> {
    exporter.export(&batch_of(registry))
}

fn remote_write(url: &str, tls: TlsConfig) -> RemoteWriteExporter {
    RemoteWriteExporter::builder()
        .url(url)
        .job("tls-test")
        .timeout(Duration::from_secs(5))
        .tls(tls)
        .build()
        .unwrap()
}

/// Waits up to 10 s for `promql` to have a value.
fn arrived(server: &Server, promql: &str) -> Option<f64> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = server.value(promql);
        if v.is_some() || Instant::now() > deadline {
            return v;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn remote_write_over_https_reaches_a_real_prometheus_and_a_wrong_ca_is_refused() {
    let pki = Pki::new();
    let prometheus = Server::prometheus(&pki, false);
    let url = prometheus.url("/api/v1/write");

    // The test CA: the samples arrive, read back over https.
    let registry = registry_with("tls_jobs", 7);
    let mut exporter = remote_write(&url, TlsConfig::new().ca_file(&pki.ca));
    push(&mut exporter, &registry).unwrap();
    assert_eq!(
        arrived(&prometheus, "tls_jobs_total{job=\"tls-test\"}"),
        Some(7.0)
    );

    // Another CA, and the public roots alone: the server's certificate is refused, and
    // the message names the URL and the reason.
    let stranger_reg = registry_with("tls_strangers", 1);
    for tls in [TlsConfig::new().ca_file(&pki.other_ca), TlsConfig::new()] {
        let mut exporter = remote_write(&url, tls);
        let e = push(&mut exporter, &stranger_reg).unwrap_err().to_string();
        assert!(
            e.contains(&url)
                && e.contains("invalid peer certificate: UnknownIssuer")
                && e.contains("the server's certificate is not trusted: set the CA file"),
            "{e}"
        );
    }
    assert_eq!(prometheus.value("tls_strangers_total"), None);
}

/// The server refused our client certificate (or its absence), and the message says so.
/// Go's TLS server sends an alert and closes; the alert is read unless the request was
/// still being written when the connection closed (a broken pipe then). Either way the
/// message points at the client certificate.
fn assert_client_cert_refused(e: &str, url: &str) {
    let alert = "received fatal alert: BadCertificate (the server refused the client \
                 certificate (or its absence): check the client certificate and key files)";
    let closed = "(if the server asks for a client certificate, it may have refused the \
                  one configured, or its absence)";
    assert!(
        e.contains(url) && (e.contains(alert) || e.contains(closed)),
        "{e}"
    );
}

#[test]
fn remote_write_with_mutual_tls() {
    let pki = Pki::new();
    let prometheus = Server::prometheus(&pki, true);
    let url = prometheus.url("/api/v1/write");
    let registry = registry_with("mtls_jobs", 3);

    // No client certificate, or one from another CA: Prometheus ends the handshake.
    let without = TlsConfig::new().ca_file(&pki.ca);
    let foreign = without
        .clone()
        .client_cert_file(&pki.stranger.cert)
        .client_key_file(&pki.stranger.key);
    for tls in [without, foreign] {
        let mut exporter = remote_write(&url, tls.clone());
        let e = push(&mut exporter, &registry).unwrap_err();
        assert!(e.is_retryable(), "{e}");
        assert_client_cert_refused(&e.to_string(), &url);
    }
    assert_eq!(prometheus.value("mtls_jobs_total"), None);

    // The client certificate signed by the CA Prometheus trusts: the samples arrive.
    let tls = TlsConfig::new()
        .ca_file(&pki.ca)
        .client_cert_file(&pki.client.cert)
        .client_key_file(&pki.client.key);
    let mut exporter = remote_write(&url, tls);
    push(&mut exporter, &registry).unwrap();
    assert_eq!(arrived(&prometheus, "mtls_jobs_total"), Some(3.0));
}

#[test]
fn pushgateway_with_mutual_tls() {
    let pki = Pki::new();
    let gateway = Server::pushgateway(&pki, true);
    let build = |tls: TlsConfig| {
        PushgatewayExporter::builder()
            .url(gateway.url(""))
            .job("tls-job")
            .grouping_label("instance", "a")
            .timeout(Duration::from_secs(5))
            .tls(tls)
            .build()
            .unwrap()
    };
    let registry = registry_with("pushed_jobs", 5);

    let mut no_cert = build(TlsConfig::new().ca_file(&pki.ca));
    let e = push(&mut no_cert, &registry).unwrap_err().to_string();
    assert_client_cert_refused(&e, &gateway.url("/metrics/job/tls-job/instance/a"));
    let mut wrong_ca = build(
        TlsConfig::new()
            .ca_file(&pki.other_ca)
            .client_cert_file(&pki.client.cert)
            .client_key_file(&pki.client.key),
    );
    let e = push(&mut wrong_ca, &registry).unwrap_err().to_string();
    assert!(
        e.contains("UnknownIssuer") && e.contains("not trusted"),
        "{e}"
    );

    let mut exporter = build(
        TlsConfig::new()
            .ca_file(&pki.ca)
            .client_cert_file(&pki.client.cert)
            .client_key_file(&pki.client.key),
    );
    push(&mut exporter, &registry).unwrap();
    let page = gateway.get("/metrics").unwrap();
    let line = page
        .lines()
        .find(|l| l.starts_with("pushed_jobs_total{"))
        .unwrap_or_else(|| panic!("no pushed_jobs_total in:\n{page}"));
    assert!(
        line.contains("job=\"tls-job\"") && line.contains("instance=\"a\"") && line.ends_with(" 5"),
        "{line}"
    );
    // Deleting goes through the same TLS client.
    exporter.delete().unwrap();
    let page = gateway.get("/metrics").unwrap();
    assert!(!page.contains("pushed_jobs_total{"), "{page}");
}

/// A rustls https server on 127.0.0.1 requiring a client certificate from the test CA,
/// answering every request 200 and recording it; one thread per connection.
fn tls_receiver(pki: &Pki) -> (u16, Arc<Mutex<Vec<Seen>>>) {
    let config = pki.server_config();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorded = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (config, recorded) = (config.clone(), recorded.clone());
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let connection = rustls::ServerConnection::new(config).unwrap();
                let mut tls = BufReader::new(rustls::StreamOwned::new(connection, stream));
                while let Some(request) = read_request(&mut tls) {
                    recorded.lock().unwrap().push(request);
                    let reply = "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\n\
                                 Content-Length: 0\r\n\r\n";
                    if tls.get_mut().write_all(reply.as_bytes()).is_err() {
                        return;
                    }
                    let _ = tls.get_mut().flush();
                }
            });
        }
    });
    (port, seen)
}

#[test]
fn otlp_tls_from_the_environment_variables_alone() {
    let pki = Pki::new();
    let (port, seen) = tls_receiver(&pki);
    let endpoint = format!("https://127.0.0.1:{port}/v1/metrics");
    let vars = |cert: &Path, key: &Path| {
        vec![
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", endpoint.clone()),
            // The metrics-specific CA wins over the general one (which would be refused).
            (
                "OTEL_EXPORTER_OTLP_CERTIFICATE",
                pki.other_ca.display().to_string(),
            ),
            (
                "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE",
                pki.ca.display().to_string(),
            ),
            (
                "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                cert.display().to_string(),
            ),
            (
                "OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY",
                key.display().to_string(),
            ),
        ]
    };
    let build = |vars: Vec<(&'static str, String)>| {
        OtlpExporter::builder()
            .from_env_with(move |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone()))
            .timeout(Duration::from_secs(5))
            .build()
    };
    let registry = registry_with("otlp_tls_jobs", 4);

    let mut exporter = build(vars(&pki.client.cert, &pki.client.key)).unwrap();
    push(&mut exporter, &registry).unwrap();
    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].path, "/v1/metrics");
    let body =
        opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest::decode(
            &requests[0].body[..],
        )
        .unwrap();
    let names: Vec<&str> = body
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .map(|m| m.name.as_str())
        .collect();
    assert!(names.contains(&"otlp_tls_jobs"), "{names:?}");

    // A client certificate of another CA: the server refuses it, nothing is recorded.
    let mut exporter = build(vars(&pki.stranger.cert, &pki.stranger.key)).unwrap();
    assert!(push(&mut exporter, &registry).is_err());
    assert_eq!(seen.lock().unwrap().len(), 1);

    // A key that does not belong to the certificate is refused at build, naming both
    // variables' files.
    let e = build(vars(&pki.client.cert, &pki.stranger.key))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE ")
            && e.contains("client.pem")
            && e.contains("stranger.key")
            && e.contains("OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY"),
        "{e}"
    );
    // A certificate file given as the key: no private key in it.
    let e = build(vars(&pki.client.cert, &pki.client.cert))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY ") && e.contains("no PEM private key"),
        "{e}"
    );
}
