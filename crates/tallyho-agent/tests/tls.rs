//! The agent's TLS keys end to end on 127.0.0.1, with a CA this test makes (rcgen): the
//! agent serves `/metrics` over https requiring client certificates (`[http] tls_*`) and
//! pushes remote write over mutual TLS (`[export] tls_*`, paths relative to the
//! configuration file) to a real Prometheus serving its exporter-toolkit
//! `tls_server_config` with `RequireAndVerifyClientCert`. `prometheus` must be installed:
//! a missing one fails the test.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Writes `ca.pem`, `server.pem`/`.key` (for 127.0.0.1) and `client.pem`/`.key` in `dir`.
fn make_pki(dir: &Path) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "agent test CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate().unwrap();
    let ca = params.self_signed(&ca_key).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    let leaf = |name: &str, sans: Vec<String>, usage| {
        let mut params = CertificateParams::new(sans).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().unwrap();
        let cert: Certificate = params.signed_by(&key, &ca, &ca_key).unwrap();
        std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
    };
    leaf(
        "server",
        vec!["127.0.0.1".into()],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    leaf("client", vec![], ExtendedKeyUsagePurpose::ClientAuth);
}

/// An https client trusting `dir/ca.pem`, presenting `dir/client.pem` when `with_cert`.
fn client(dir: &Path, with_cert: bool) -> ureq::Agent {
    #[allow(deprecated)] // ring, as the agent uses.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(dir.join("ca.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = if with_cert {
        let chain = CertificateDer::pem_file_iter(dir.join("client.pem"))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(dir.join("client.key")).unwrap();
        builder.with_client_auth_cert(chain, key).unwrap()
    } else {
        builder.with_no_client_auth()
    };
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(5))
        .tls_config(Arc::new(config))
        .build()
}

/// A Prometheus child, killed on drop.
struct Prometheus(Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Prometheus on `port` with the remote write receiver, serving https with mutual TLS.
fn start_prometheus(dir: &Path, port: u16) -> Prometheus {
    let web = dir.join("web.yml");
    std::fs::write(
        &web,
        format!(
            "tls_server_config:\n  cert_file: {d}/server.pem\n  key_file: {d}/server.key\n  \
             client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {d}/ca.pem\n",
            d = dir.display()
        ),
    )
    .unwrap();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        "global:\n  scrape_interval: 1m\nscrape_configs: []\n",
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    Prometheus(
        Command::new("prometheus")
            .arg("--web.enable-remote-write-receiver")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!("--web.config.file={}", web.display()))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("cannot start `prometheus`: is it installed?"),
    )
}

/// Polls `ok` for up to 30 s; panics with `what` and the Prometheus log otherwise.
fn wait_for(dir: &Path, what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ok() {
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default();
            panic!("timed out waiting for {what}; prometheus log:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn agent_serves_https_and_pushes_over_mutual_tls() {
    let dir = TempDir::new("tls");
    make_pki(dir.path());
    let prom_port = free_port();
    let _prometheus = start_prometheus(dir.path(), prom_port);
    let (http, statsd_in) = (free_port(), free_udp_port());
    let config = dir.path().join("agent.toml");
    // Relative paths: resolved against the configuration file's directory.
    std::fs::write(
        &config,
        format!(
            "service = \"tls-agent\"\n[host]\nenabled = false\n[history]\nenabled = false\n\
             [http]\ntls_cert_file = \"server.pem\"\ntls_key_file = \"server.key\"\n\
             tls_client_ca_file = \"ca.pem\"\n\
             [export]\nremote_write_url = \"https://127.0.0.1:{prom_port}/api/v1/write\"\n\
             tls_ca_file = \"ca.pem\"\ntls_client_cert_file = \"client.pem\"\n\
             tls_client_key_file = \"client.key\"\n"
        ),
    )
    .unwrap();
    let check = Command::new(BIN)
        .args(["check-config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let _agent = Agent(
        Command::new(BIN)
            .args(["--config", config.to_str().unwrap()])
            .args(["--listen", &format!("127.0.0.1:{http}")])
            .args(["--statsd", &format!("127.0.0.1:{statsd_in}")])
            .args(["--interval", "0.2"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let trusted = client(dir.path(), true);
    let metrics = format!("https://127.0.0.1:{http}/metrics");
    let agent_up = || trusted.get(&metrics).call().is_ok();
    wait_for(dir.path(), "the agent over https", agent_up);

    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .send_to(b"tls.jobs:3|c", ("127.0.0.1", statsd_in))
        .unwrap();

    // The agent's own /metrics over https, with the client certificate.
    wait_for(dir.path(), "the StatsD counter on /metrics", || {
        let page = trusted.get(&metrics).call().unwrap().into_string().unwrap();
        page.lines()
            .any(|l| l.starts_with("tls_jobs_total{") && l.ends_with(" 3"))
    });
    // Without a client certificate, or over plain http: no page.
    let e = client(dir.path(), false).get(&metrics).call().unwrap_err();
    assert!(e.to_string().contains("alert"), "{e}");
    assert_eq!(common::http(http, "/metrics", ""), None);

    // In Prometheus, pushed over mutual TLS and read back over it.
    let query = format!(
        "https://127.0.0.1:{prom_port}/api/v1/query?query=tls_jobs_total%7Bjob%3D%22tls-agent%22%7D"
    );
    wait_for(dir.path(), "the counter in Prometheus", || {
        let Ok(response) = trusted.get(&query).call() else {
            return false;
        };
        let body: serde_json::Value =
            serde_json::from_str(&response.into_string().unwrap()).unwrap();
        body["data"]["result"][0]["value"][1] == "3"
    });
}
