//! TLS for every HTTP exporter: one settings type ([`TlsConfig`]) turned into one rustls
//! client configuration. Servers are checked against Mozilla's root certificates
//! (`webpki-roots`, compiled in) plus an optional CA file; a client certificate and key
//! make it mutual TLS. Files are read when the exporter is built, so a missing or bad
//! file is a [`BuildError`] naming the setting, the file and the problem, never a failure
//! at the first push.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::BuildError;

/// A file and the setting (builder method or environment variable) it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Source {
    path: PathBuf,
    setting: String,
}

/// TLS settings of an HTTP exporter, used for `https://` URLs: the CA that signed the
/// server's certificate when it is not one of the public roots, and a client certificate
/// for servers that ask for one (mutual TLS). Without any, `https://` servers are
/// checked against Mozilla's root certificates only.
///
/// Files are PEM: the CA file may hold several certificates (all are trusted, beside the
/// public roots), the client certificate file the certificate followed by its
/// intermediates, the key file one PKCS#8, PKCS#1 (RSA) or SEC1 (EC) private key.
///
/// ```
/// use tallyho_export::TlsConfig;
/// use tallyho_export::remote_write::RemoteWriteExporter;
///
/// let tls = TlsConfig::new()
///     .ca_file("/etc/tallyho/ca.pem")
///     .client_cert_file("/etc/tallyho/client.pem")
///     .client_key_file("/etc/tallyho/client.key");
/// let err = RemoteWriteExporter::builder()
///     .url("https://prometheus.example:9090/api/v1/write")
///     .tls(tls)
///     .build()
///     .unwrap_err();
/// // The files are read at build: this one does not exist.
/// assert!(err.to_string().starts_with("tls.ca_file \"/etc/tallyho/ca.pem\": cannot read it"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsConfig {
    ca: Option<Source>,
    cert: Option<Source>,
    key: Option<Source>,
}

impl TlsConfig {
    /// No CA file and no client certificate: the public roots only.
    pub fn new() -> TlsConfig {
        TlsConfig::default()
    }

    /// A PEM file of CA certificates trusted beside the public roots (a private CA).
    pub fn ca_file(self, path: impl Into<PathBuf>) -> TlsConfig {
        self.with_ca(path.into(), "tls.ca_file")
    }

    /// The PEM file of the client certificate (and its intermediates) presented to
    /// servers that ask for one; needs [`client_key_file`](Self::client_key_file).
    pub fn client_cert_file(self, path: impl Into<PathBuf>) -> TlsConfig {
        self.with_cert(path.into(), "tls.client_cert_file")
    }

    /// The PEM file of the client certificate's private key; needs
    /// [`client_cert_file`](Self::client_cert_file).
    pub fn client_key_file(self, path: impl Into<PathBuf>) -> TlsConfig {
        self.with_key(path.into(), "tls.client_key_file")
    }

    /// Names the files in error messages `ca`, `cert` and `key` instead of the builder
    /// methods (`tls.ca_file`, ...): for a program whose users set them elsewhere, such
    /// as in the keys of a configuration file.
    pub fn setting_names(mut self, ca: &str, cert: &str, key: &str) -> TlsConfig {
        for (file, name) in [
            (&mut self.ca, ca),
            (&mut self.cert, cert),
            (&mut self.key, key),
        ] {
            if let Some(file) = file {
                file.setting = name.to_owned();
            }
        }
        self
    }

    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self.ca.is_none() && self.cert.is_none() && self.key.is_none()
    }

    /// The CA file, if set.
    pub fn ca_path(&self) -> Option<&Path> {
        self.ca.as_ref().map(|s| s.path.as_path())
    }

    /// The client certificate file, if set.
    pub fn client_cert_path(&self) -> Option<&Path> {
        self.cert.as_ref().map(|s| s.path.as_path())
    }

    /// The client key file, if set.
    pub fn client_key_path(&self) -> Option<&Path> {
        self.key.as_ref().map(|s| s.path.as_path())
    }

    pub(crate) fn with_ca(mut self, path: PathBuf, setting: &str) -> TlsConfig {
        self.ca = Some(source(path, setting));
        self
    }

    pub(crate) fn with_cert(mut self, path: PathBuf, setting: &str) -> TlsConfig {
        self.cert = Some(source(path, setting));
        self
    }

    pub(crate) fn with_key(mut self, path: PathBuf, setting: &str) -> TlsConfig {
        self.key = Some(source(path, setting));
        self
    }

    /// Each file of `self`, else of `under` (code over the environment, file by file).
    pub(crate) fn or(self, under: TlsConfig) -> TlsConfig {
        TlsConfig {
            ca: self.ca.or(under.ca),
            cert: self.cert.or(under.cert),
            key: self.key.or(under.key),
        }
    }

    /// Reads the files and makes the client configuration.
    pub(crate) fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, BuildError> {
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        if let Some(ca) = &self.ca {
            let certs = certificates(ca)?;
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|e| ca.error(format!("not a usable CA certificate: {e}")))?;
            }
        }
        // ring, named here rather than taken from the process default (which is ambiguous
        // when another crate turns on aws-lc-rs). rustls 0.23.48 deprecates it for lack of
        // post-quantum key exchange; aws-lc-rs would add a large C and cmake build, and
        // ureq 2's `tls` feature brings ring in any case.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| BuildError::InvalidSetting {
                setting: "tls",
                reason: format!("no TLS protocol version available: {e}"),
            })?
            .with_root_certificates(roots);
        let config = match (&self.cert, &self.key) {
            (None, None) => builder.with_no_client_auth(),
            (Some(cert), None) => {
                return Err(cert.error("a client certificate needs its key file too".into()))
            }
            (None, Some(key)) => {
                return Err(key.error("a client key needs its certificate file too".into()))
            }
            (Some(cert), Some(key)) => {
                let chain = certificates(cert)?;
                let private = private_key(key)?;
                builder.with_client_auth_cert(chain, private).map_err(|e| {
                    cert.error(format!(
                        "does not fit the key {:?} ({}): {e}",
                        key.path.display().to_string(),
                        key.setting
                    ))
                })?
            }
        };
        Ok(Arc::new(config))
    }
}

/// What to do about a TLS failure somewhere in `error`'s chain of sources, for messages:
/// an untrusted server certificate, or a server that refused our client certificate (or
/// its absence).
pub(crate) fn hint(error: &(dyn std::error::Error + 'static)) -> Option<&'static str> {
    use rustls::{AlertDescription as A, Error as E};
    let mut next = Some(error);
    while let Some(e) = next {
        let tls = e.downcast_ref::<E>().or_else(|| {
            e.downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|inner| inner.downcast_ref::<E>())
        });
        match tls {
            Some(E::InvalidCertificate(_)) => {
                return Some(
                    "the server's certificate is not trusted: set the CA file to the CA \
                     that signed it",
                )
            }
            Some(E::AlertReceived(
                A::BadCertificate
                | A::CertificateRequired
                | A::UnknownCA
                | A::CertificateUnknown
                | A::UnsupportedCertificate
                | A::CertificateExpired
                | A::CertificateRevoked
                | A::AccessDenied,
            )) => {
                return Some(
                    "the server refused the client certificate (or its absence): check \
                     the client certificate and key files",
                )
            }
            _ => {}
        }
        next = e.source();
    }
    None
}

fn source(path: PathBuf, setting: &str) -> Source {
    Source {
        path,
        setting: setting.to_owned(),
    }
}

impl Source {
    fn error(&self, reason: String) -> BuildError {
        BuildError::InvalidTlsFile {
            setting: self.setting.clone(),
            path: self.path.display().to_string(),
            reason,
        }
    }

    fn read(&self) -> Result<Vec<u8>, BuildError> {
        std::fs::read(&self.path).map_err(|e| self.error(format!("cannot read it: {e}")))
    }
}

/// Every certificate of a PEM file; at least one.
fn certificates(file: &Source) -> Result<Vec<CertificateDer<'static>>, BuildError> {
    let bytes = file.read()?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file.error(format!("not valid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(file.error("no PEM certificate (BEGIN CERTIFICATE) in it".into()));
    }
    Ok(certs)
}

/// The private key of a PEM file.
fn private_key(file: &Source) -> Result<PrivateKeyDer<'static>, BuildError> {
    use rustls::pki_types::pem::Error;
    let bytes = file.read()?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        Error::NoItemsFound => file.error(
            "no PEM private key (BEGIN PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY) in it"
                .into(),
        ),
        other => file.error(format!("not valid PEM: {other}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str, contents: &str) -> PathBuf {
        let path =
            std::env::temp_dir().join(format!("tallyho-tls-unit-{}-{name}", std::process::id()));
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn the_public_roots_alone_make_a_configuration() {
        assert!(TlsConfig::new().client_config().is_ok());
    }

    #[test]
    fn bad_files_are_named_with_their_problem() {
        let err = |tls: TlsConfig| tls.client_config().unwrap_err().to_string();
        let e = err(TlsConfig::new().ca_file("/nonexistent/ca.pem"));
        assert!(
            e.starts_with("tls.ca_file \"/nonexistent/ca.pem\": cannot read it:"),
            "{e}"
        );
        let empty = temp("empty.pem", "just text\n");
        let e = err(TlsConfig::new().ca_file(&empty));
        assert!(
            e.contains("tls.ca_file") && e.contains("no PEM certificate"),
            "{e}"
        );
        let e = err(TlsConfig::new().client_cert_file(&empty));
        assert!(
            e.starts_with("tls.client_cert_file") && e.contains("needs its key file"),
            "{e}"
        );
        let e = err(TlsConfig::new().client_key_file(&empty));
        assert!(
            e.starts_with("tls.client_key_file") && e.contains("needs its certificate"),
            "{e}"
        );
        let broken = temp(
            "broken.pem",
            "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        );
        let e = err(TlsConfig::new().ca_file(&broken));
        assert!(e.contains("not valid PEM"), "{e}");
        let _ = std::fs::remove_file(empty);
        let _ = std::fs::remove_file(broken);
    }

    #[test]
    fn errors_can_name_a_configuration_files_keys() {
        let e = TlsConfig::new()
            .client_cert_file("/x/cert.pem")
            .setting_names("a.ca", "a.cert", "a.key")
            .client_config()
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("a.cert \"/x/cert.pem\": "), "{e}");
    }

    #[test]
    fn code_wins_over_the_environment_file_by_file() {
        let env = TlsConfig::new()
            .with_ca("/env/ca".into(), "OTEL_EXPORTER_OTLP_CERTIFICATE")
            .with_key("/env/key".into(), "OTEL_EXPORTER_OTLP_CLIENT_KEY");
        let merged = TlsConfig::new().ca_file("/code/ca").or(env);
        assert_eq!(merged.ca_path(), Some(Path::new("/code/ca")));
        assert_eq!(merged.client_key_path(), Some(Path::new("/env/key")));
        assert_eq!(merged.client_cert_path(), None);
    }
}
