//! The endpoint over https, with a CA the test makes (rcgen): a real Prometheus scrapes it
//! with `scheme: https` and `tls_config: {ca_file}` (and fails to with another CA or plain
//! http), a rotated certificate serves the next connection while a broken rotation keeps
//! the last good one, and `require_client_cert` refuses clients without a certificate of
//! the CA. `prometheus` must be installed: a missing one fails the test.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::prometheus::{free_port, start, Prometheus};
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::Value;
use tallyho_http::{Endpoint, ServerTls};

/// A temporary directory, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(what: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!(
            "tallyho-http-tls-{what}-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Ca {
    cert: Certificate,
    key: KeyPair,
}

fn ca(name: &str) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    Ca { cert, key }
}

/// A certificate signed by `ca`, for 127.0.0.1 when `server`, else for client auth:
/// (certificate PEM, key PEM, certificate DER).
fn leaf(ca: &Ca, name: &str, server: bool) -> (String, String, Vec<u8>) {
    let sans = if server {
        vec!["127.0.0.1".to_owned()]
    } else {
        Vec::new()
    };
    let mut params = CertificateParams::new(sans).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![if server {
        ExtendedKeyUsagePurpose::ServerAuth
    } else {
        ExtendedKeyUsagePurpose::ClientAuth
    }];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca.cert, &ca.key).unwrap();
    (cert.pem(), key.serialize_pem(), cert.der().to_vec())
}

#[allow(deprecated)] // ring, as the crate uses.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// One `GET /metrics` over TLS with a client trusting `ca_pem`, presenting `client`
/// (certificate and key PEM) when given: the server's certificate (DER) and the response.
fn get_over_tls(
    addr: SocketAddr,
    ca_pem: &str,
    client: Option<(&str, &str)>,
) -> Result<(Vec<u8>, String), String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match client {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
    };
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    let read = tls.read_to_end(&mut response);
    // The server's certificate is known once the handshake is done, even when the server
    // then refuses us.
    let peer = tls
        .conn
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec())
        .unwrap_or_default();
    read.map_err(|e| e.to_string())?;
    Ok((peer, String::from_utf8_lossy(&response).into_owned()))
}

fn registry() -> tallyho::Registry {
    let registry = tallyho::Registry::new();
    registry.counter("tls_jobs", "Jobs.").unwrap().add(42);
    registry
}

fn query(prom: &Prometheus, q: &str) -> Vec<Value> {
    let url = format!("http://127.0.0.1:{}/api/v1/query?query={q}", prom.port);
    let Ok(response) = ureq::get(&url).call() else {
        return Vec::new();
    };
    let v: Value = serde_json::from_str(&response.into_string().unwrap()).unwrap();
    v["data"]["result"].as_array().cloned().unwrap_or_default()
}

fn value(prom: &Prometheus, q: &str) -> Option<f64> {
    query(prom, q)
        .first()
        .map(|s| s["value"][1].as_str().unwrap().parse().unwrap())
}

#[test]
fn prometheus_scrapes_the_endpoint_over_https() {
    let dir = Dir::new("scrape");
    let authority = ca("tallyho test CA");
    let other = ca("another CA");
    let (cert, key, _) = leaf(&authority, "endpoint", true);
    let ca_file = dir.write("ca.pem", &authority.cert.pem());
    let other_file = dir.write("other.pem", &other.cert.pem());
    let tls = ServerTls::new(dir.write("s.pem", &cert), dir.write("s.key", &key)).unwrap();
    let running = Endpoint::new(registry())
        .tls(tls)
        .spawn("127.0.0.1:0")
        .unwrap();
    let target = running.local_addr();
    let config = format!(
        r#"global:
  scrape_interval: 1s
scrape_configs:
  - job_name: https
    scheme: https
    tls_config: {{ ca_file: "{}" }}
    static_configs: [{{ targets: ["{target}"] }}]
  - job_name: wrong_ca
    scheme: https
    tls_config: {{ ca_file: "{}" }}
    static_configs: [{{ targets: ["{target}"] }}]
  - job_name: plain
    static_configs: [{{ targets: ["{target}"] }}]
"#,
        ca_file.display(),
        other_file.display()
    );
    let prom = start(&config, &[]);
    prom.wait_for("the https scrape and both failed ones", || {
        value(&prom, r#"tls_jobs_total{job="https"}"#) == Some(42.0)
            && value(&prom, r#"up{job="wrong_ca"}"#) == Some(0.0)
            && value(&prom, r#"up{job="plain"}"#) == Some(0.0)
    });
    assert_eq!(value(&prom, r#"up{job="https"}"#), Some(1.0));
    // Nothing from the refused jobs.
    assert!(query(&prom, r#"tls_jobs_total{job!="https"}"#).is_empty());
    running.shutdown();
}

#[test]
fn a_rotated_certificate_serves_the_next_connection() {
    let dir = Dir::new("rotate");
    let authority = ca("tallyho test CA");
    let ca_pem = authority.cert.pem();
    let (cert1, key1, der1) = leaf(&authority, "first", true);
    let (cert_path, key_path) = (dir.write("s.pem", &cert1), dir.write("s.key", &key1));
    let tls = ServerTls::new(&cert_path, &key_path).unwrap();
    let running = Endpoint::new(registry())
        .tls(tls.clone())
        .spawn("127.0.0.1:0")
        .unwrap();
    let addr = running.local_addr();

    let (peer, response) = get_over_tls(addr, &ca_pem, None).unwrap();
    assert_eq!(peer, der1);
    assert!(
        response.starts_with("HTTP/1.1 200") && response.contains("tls_jobs_total 42"),
        "{response}"
    );

    // Both files replaced: the next connection gets the new certificate.
    let (cert2, key2, der2) = leaf(&authority, "second", true);
    write_rotated(&cert_path, &cert2);
    write_rotated(&key_path, &key2);
    let (peer, _) = get_over_tls(addr, &ca_pem, None).unwrap();
    assert_eq!(peer, der2);
    assert_eq!(tls.last_reload_error(), None);

    // A key that does not fit (another certificate's): the last good pair stays, and the
    // error names the file.
    write_rotated(&key_path, &key1);
    let (peer, _) = get_over_tls(addr, &ca_pem, None).unwrap();
    assert_eq!(peer, der2);
    let e = tls
        .last_reload_error()
        .expect("the broken rotation is reported");
    assert!(
        e.to_string().contains("s.pem") && e.to_string().contains("does not fit the key"),
        "{e}"
    );
    // Fixed: served, and the error is gone.
    write_rotated(&cert_path, &cert1);
    let (peer, _) = get_over_tls(addr, &ca_pem, None).unwrap();
    assert_eq!(peer, der1);
    assert_eq!(tls.last_reload_error(), None);
    running.shutdown();
}

/// Replaces a file's contents so that its modification time moves even on a file system
/// with coarse timestamps (the size may not change).
fn write_rotated(path: &Path, text: &str) {
    let before = std::fs::metadata(path).unwrap().modified().unwrap();
    loop {
        std::fs::write(path, text).unwrap();
        if std::fs::metadata(path).unwrap().modified().unwrap() != before {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn client_certificates_are_required_when_asked_for() {
    let dir = Dir::new("mtls");
    let authority = ca("tallyho test CA");
    let stranger_ca = ca("another CA");
    let ca_pem = authority.cert.pem();
    let (cert, key, _) = leaf(&authority, "endpoint", true);
    let (client_cert, client_key, _) = leaf(&authority, "scraper", false);
    let (stranger_cert, stranger_key, _) = leaf(&stranger_ca, "stranger", false);
    let tls = ServerTls::new(dir.write("s.pem", &cert), dir.write("s.key", &key))
        .unwrap()
        .require_client_cert(dir.write("ca.pem", &ca_pem))
        .unwrap();
    let running = Endpoint::new(registry())
        .tls(tls)
        .spawn("127.0.0.1:0")
        .unwrap();
    let addr = running.local_addr();

    let (_, response) = get_over_tls(addr, &ca_pem, Some((&client_cert, &client_key))).unwrap();
    assert!(response.contains("tls_jobs_total 42"), "{response}");
    for client in [None, Some((stranger_cert.as_str(), stranger_key.as_str()))] {
        let refused = get_over_tls(addr, &ca_pem, client);
        assert!(
            refused.as_ref().is_err_and(|e| e.contains("alert")),
            "{refused:?}"
        );
    }
    running.shutdown();
}

#[test]
fn bad_files_are_errors_naming_the_file() {
    let dir = Dir::new("bad");
    let authority = ca("tallyho test CA");
    let (cert, key, _) = leaf(&authority, "endpoint", true);
    let (cert_path, key_path) = (dir.write("s.pem", &cert), dir.write("s.key", &key));
    let e = ServerTls::new(dir.0.join("missing.pem"), &key_path).unwrap_err();
    assert_eq!(e.what, "certificate");
    assert!(e.to_string().contains("missing.pem") && e.to_string().contains("cannot read"));
    let e = ServerTls::new(&cert_path, &cert_path).unwrap_err();
    assert!(
        e.what == "key" && e.reason.contains("no PEM private key"),
        "{e}"
    );
    let e = ServerTls::new(&key_path, &key_path).unwrap_err();
    assert!(e.reason.contains("no PEM certificate"), "{e}");
    let e = ServerTls::new(&cert_path, &key_path)
        .unwrap()
        .require_client_cert(&key_path)
        .unwrap_err();
    assert_eq!(e.what, "client CA", "{e}");
}
