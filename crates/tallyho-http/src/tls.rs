//! TLS for the endpoint, as the Prometheus exporter-toolkit web config does it: a
//! certificate and key file, optionally a CA whose client certificates are required
//! (`RequireAndVerifyClientCert`), reread when they change.
//!
//! Every new connection stats the files (modification time and size, a few microseconds);
//! when one changed, they are read again and the new configuration serves that connection
//! and the next ones. A rotation that fails (a file half-written, a key that does not fit
//! the certificate yet) keeps the previous configuration, remembers the error
//! ([`ServerTls::last_reload_error`]) and tries again when a file changes again.
//! Connections already open keep the certificate they started with.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

/// A TLS file that cannot be read or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("TLS {what} {path:?}: {reason}")]
pub struct TlsError {
    /// Which file: `certificate`, `key` or `client CA`.
    pub what: &'static str,
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub reason: String,
}

/// The TLS settings of an [`Endpoint`](crate::Endpoint): its certificate, reloaded when
/// the files change. Cheap to clone (the clones share the files' state).
///
/// ```no_run
/// use tallyho_http::{Endpoint, ServerTls};
///
/// let tls = ServerTls::new("/etc/tallyho/server.pem", "/etc/tallyho/server.key")?;
/// let running = Endpoint::new(tallyho::Registry::new())
///     .tls(tls)
///     .spawn("127.0.0.1:9464")?;
/// println!("serving on https://{}/metrics", running.local_addr());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct ServerTls {
    files: Arc<Files>,
    state: Arc<Mutex<State>>,
}

struct Files {
    cert: PathBuf,
    key: PathBuf,
    client_ca: Option<PathBuf>,
}

/// What each file looked like when last read: modification time and size.
type Stamp = Vec<Option<(SystemTime, u64)>>;

struct State {
    stamp: Stamp,
    config: Arc<ServerConfig>,
    last_error: Option<TlsError>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("cert", &self.files.cert)
            .field("key", &self.files.key)
            .field("client_ca", &self.files.client_ca)
            .finish_non_exhaustive()
    }
}

impl ServerTls {
    /// Serves the certificate (PEM, followed by its intermediates) of `cert_file` with the
    /// private key (PEM: PKCS#8, PKCS#1 or SEC1) of `key_file`.
    ///
    /// # Errors
    /// A file cannot be read, holds no certificate or key, or the key does not fit.
    pub fn new(
        cert_file: impl Into<PathBuf>,
        key_file: impl Into<PathBuf>,
    ) -> Result<ServerTls, TlsError> {
        ServerTls::with_files(Files {
            cert: cert_file.into(),
            key: key_file.into(),
            client_ca: None,
        })
    }

    /// Also requires every client to present a certificate signed by a CA of `ca_file`
    /// (the exporter-toolkit's `client_auth_type: RequireAndVerifyClientCert`).
    ///
    /// # Errors
    /// As [`new`](Self::new), or the CA file holds no usable certificate.
    pub fn require_client_cert(self, ca_file: impl Into<PathBuf>) -> Result<ServerTls, TlsError> {
        ServerTls::with_files(Files {
            cert: self.files.cert.clone(),
            key: self.files.key.clone(),
            client_ca: Some(ca_file.into()),
        })
    }

    /// The error of the last reload that failed, while the previous certificate is still
    /// served; `None` once a reload succeeds.
    pub fn last_reload_error(&self) -> Option<TlsError> {
        self.lock().last_error.clone()
    }

    fn with_files(files: Files) -> Result<ServerTls, TlsError> {
        let stamp = files.stamp();
        let config = Arc::new(files.load()?);
        Ok(ServerTls {
            files: Arc::new(files),
            state: Arc::new(Mutex::new(State {
                stamp,
                config,
                last_error: None,
            })),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The configuration for a new connection, reread first when a file changed.
    pub(crate) fn config(&self) -> Arc<ServerConfig> {
        let stamp = self.files.stamp();
        let mut state = self.lock();
        if stamp != state.stamp {
            state.stamp = stamp;
            match self.files.load() {
                Ok(config) => {
                    state.config = Arc::new(config);
                    state.last_error = None;
                }
                Err(e) => state.last_error = Some(e),
            }
        }
        state.config.clone()
    }
}

impl Files {
    fn stamp(&self) -> Stamp {
        [Some(&self.cert), Some(&self.key), self.client_ca.as_ref()]
            .into_iter()
            .flatten()
            .map(|p| {
                let m = std::fs::metadata(p).ok()?;
                Some((m.modified().ok()?, m.len()))
            })
            .collect()
    }

    fn load(&self) -> Result<ServerConfig, TlsError> {
        #[allow(deprecated)] // ring, as the exporters (tallyho-export's `http/tls.rs`).
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| error("certificate", &self.cert, e.to_string()))?;
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in certificates("client CA", ca)? {
                    roots.add(cert).map_err(|e| {
                        error("client CA", ca, format!("not a usable CA certificate: {e}"))
                    })?;
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    roots.into(),
                    provider,
                )
                .build()
                .map_err(|e| error("client CA", ca, e.to_string()))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let chain = certificates("certificate", &self.cert)?;
        let key = private_key(&self.key)?;
        let mut config = builder.with_single_cert(chain, key).map_err(|e| {
            error(
                "certificate",
                &self.cert,
                format!("does not fit the key {:?}: {e}", self.key),
            )
        })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

fn error(what: &'static str, path: &Path, reason: String) -> TlsError {
    TlsError {
        what,
        path: path.to_owned(),
        reason,
    }
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| error(what, path, format!("cannot read it: {e}")))
}

fn certificates(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(what, path)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| error(what, path, format!("not valid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(error(
            what,
            path,
            "no PEM certificate (BEGIN CERTIFICATE) in it".into(),
        ));
    }
    Ok(certs)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    use rustls::pki_types::pem::Error;
    let bytes = read("key", path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        Error::NoItemsFound => error(
            "key",
            path,
            "no PEM private key (BEGIN PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY) in it"
                .into(),
        ),
        other => error("key", path, format!("not valid PEM: {other}")),
    })
}
