//! A test PKI made with rcgen in a temporary directory: a CA, a server certificate for
//! 127.0.0.1 and `localhost`, a client certificate, and a second, unrelated CA with a
//! client certificate of its own (the "wrong" ones). Also the rustls client and server
//! configurations the tests' own readers and fake server use.

use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::common::TempDir;

/// A certificate and its key, as PEM files.
pub struct Pair {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The files of one test PKI, removed with the directory.
pub struct Pki {
    pub ca: PathBuf,
    pub server: Pair,
    pub client: Pair,
    /// A CA that signed neither the server's nor the client's certificate.
    pub other_ca: PathBuf,
    /// A client certificate signed by `other_ca`.
    pub stranger: Pair,
    pub dir: TempDir,
}

struct Authority {
    cert: Certificate,
    key: KeyPair,
}

fn authority(name: &str) -> Authority {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    Authority { cert, key }
}

fn leaf(
    ca: &Authority,
    name: &str,
    sans: &[&str],
    usage: ExtendedKeyUsagePurpose,
) -> (Certificate, KeyPair) {
    let sans: Vec<String> = sans.iter().map(|s| (*s).to_owned()).collect();
    let mut params = CertificateParams::new(sans).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![usage];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca.cert, &ca.key).unwrap();
    (cert, key)
}

impl Pki {
    pub fn new() -> Pki {
        let dir = TempDir::new("tls-pki");
        let write = |name: &str, pem: String| {
            let path = dir.0.join(name);
            std::fs::write(&path, pem).unwrap();
            path
        };
        let pair = |name: &str, (cert, key): (Certificate, KeyPair)| Pair {
            cert: write(&format!("{name}.pem"), cert.pem()),
            key: write(&format!("{name}.key"), key.serialize_pem()),
        };
        let ca = authority("tallyho test CA");
        let other = authority("some other CA");
        let server = leaf(
            &ca,
            "tallyho test server",
            &["127.0.0.1", "localhost"],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let client = leaf(
            &ca,
            "tallyho test client",
            &[],
            ExtendedKeyUsagePurpose::ClientAuth,
        );
        let stranger = leaf(&other, "stranger", &[], ExtendedKeyUsagePurpose::ClientAuth);
        Pki {
            ca: write("ca.pem", ca.cert.pem()),
            other_ca: write("other-ca.pem", other.cert.pem()),
            server: pair("server", server),
            client: pair("client", client),
            stranger: pair("stranger", stranger),
            dir,
        }
    }

    /// An exporter-toolkit web config serving `self.server`, asking for client
    /// certificates signed by `self.ca` when `mtls`.
    pub fn web_config(&self, mtls: bool) -> PathBuf {
        let mut yaml = format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
            self.server.cert.display(),
            self.server.key.display()
        );
        if mtls {
            yaml.push_str(&format!(
                "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {}\n",
                self.ca.display()
            ));
        }
        let name = if mtls { "web-mtls.yml" } else { "web.yml" };
        let path = self.dir.0.join(name);
        std::fs::write(&path, yaml).unwrap();
        path
    }

    /// A ureq agent trusting only the test CA, presenting the client certificate when
    /// `with_client_cert`: the tests' own reader of what arrived.
    pub fn reader(&self, with_client_cert: bool) -> ureq::Agent {
        let mut roots = rustls::RootCertStore::empty();
        for cert in certs(&self.ca) {
            roots.add(cert).unwrap();
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let config = if with_client_cert {
            builder
                .with_client_auth_cert(certs(&self.client.cert), key(&self.client.key))
                .unwrap()
        } else {
            builder.with_no_client_auth()
        };
        ureq::AgentBuilder::new()
            .timeout(std::time::Duration::from_secs(5))
            .tls_config(Arc::new(config))
            .build()
    }

    /// A rustls server configuration with `self.server`, requiring a client certificate
    /// signed by `self.ca`.
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in certs(&self.ca) {
            roots.add(cert).unwrap();
        }
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider())
                .build()
                .unwrap();
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs(&self.server.cert), key(&self.server.key))
            .unwrap();
        Arc::new(config)
    }
}

#[allow(deprecated)] // ring, as the exporter uses (see src/http/tls.rs).
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certs(path: &PathBuf) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(path)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn key(path: &PathBuf) -> PrivateKeyDer<'static> {
    PrivateKeyDer::from_pem_file(path).unwrap()
}
