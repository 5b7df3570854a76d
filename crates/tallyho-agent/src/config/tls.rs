//! The TLS keys: `[export] tls_ca_file`, `tls_client_cert_file`, `tls_client_key_file` for
//! the HTTP exporters, and `[http] tls_cert_file`, `tls_key_file`, `tls_client_ca_file` for
//! the endpoint. Paths are checked here; the files are read when the exporters and the
//! endpoint's TLS are made, which `check-config` does too, so a bad file is exit 2 naming
//! its key either way.

use std::path::PathBuf;

use super::raw::{Export, Http};

/// `export.tls_ca_file`, `export.tls_client_cert_file`, `export.tls_client_key_file`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TlsFiles {
    /// CA file trusted beside the public roots.
    pub ca: Option<PathBuf>,
    /// Client certificate.
    pub cert: Option<PathBuf>,
    /// Its key.
    pub key: Option<PathBuf>,
}

impl TlsFiles {
    /// The exporter's TLS settings, whose errors name the file's keys.
    pub fn config(&self) -> tallyho_export::TlsConfig {
        let mut tls = tallyho_export::TlsConfig::new();
        if let Some(ca) = &self.ca {
            tls = tls.ca_file(ca);
        }
        if let Some(cert) = &self.cert {
            tls = tls.client_cert_file(cert);
        }
        if let Some(key) = &self.key {
            tls = tls.client_key_file(key);
        }
        tls.setting_names(
            "export.tls_ca_file",
            "export.tls_client_cert_file",
            "export.tls_client_key_file",
        )
    }
}

/// `http.tls_cert_file`, `http.tls_key_file`, `http.tls_client_ca_file`: the endpoint
/// serves https.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpTls {
    /// The endpoint's certificate (and intermediates).
    pub cert: PathBuf,
    /// Its key.
    pub key: PathBuf,
    /// Clients must present a certificate of this CA (`None`: no client certificates).
    pub client_ca: Option<PathBuf>,
}

impl HttpTls {
    /// Reads the files: the endpoint's TLS, reread when they change.
    ///
    /// # Errors
    /// A file that cannot be read or used, named by its key.
    pub fn load(&self) -> Result<tallyho_http::ServerTls, String> {
        let named = |e: tallyho_http::TlsError| {
            let key = match e.what {
                "key" => "http.tls_key_file",
                "client CA" => "http.tls_client_ca_file",
                _ => "http.tls_cert_file",
            };
            format!("{key} = {:?}: {}", e.path.display().to_string(), e.reason)
        };
        let tls = tallyho_http::ServerTls::new(&self.cert, &self.key).map_err(named)?;
        match &self.client_ca {
            None => Ok(tls),
            Some(ca) => tls.require_client_cert(ca).map_err(named),
        }
    }
}

fn no_empty_path(pairs: &[(&str, &Option<PathBuf>)]) -> Result<(), String> {
    for (key, path) in pairs {
        if path.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
            return Err(format!(
                "{key} = \"\": must be a file path (leave it out for none)"
            ));
        }
    }
    Ok(())
}

/// The `[export]` TLS files.
pub(super) fn export_files(e: &Export) -> Result<TlsFiles, String> {
    no_empty_path(&[
        ("export.tls_ca_file", &e.tls_ca_file),
        ("export.tls_client_cert_file", &e.tls_client_cert_file),
        ("export.tls_client_key_file", &e.tls_client_key_file),
    ])?;
    if e.tls_client_cert_file.is_some() != e.tls_client_key_file.is_some() {
        return Err(
            "export.tls_client_cert_file and export.tls_client_key_file go together: \
             set both or neither"
                .into(),
        );
    }
    Ok(TlsFiles {
        ca: e.tls_ca_file.clone(),
        cert: e.tls_client_cert_file.clone(),
        key: e.tls_client_key_file.clone(),
    })
}

/// The `[http]` TLS files: `None` when neither certificate nor key is given.
pub(super) fn http_files(h: &Http) -> Result<Option<HttpTls>, String> {
    no_empty_path(&[
        ("http.tls_cert_file", &h.tls_cert_file),
        ("http.tls_key_file", &h.tls_key_file),
        ("http.tls_client_ca_file", &h.tls_client_ca_file),
    ])?;
    match (&h.tls_cert_file, &h.tls_key_file) {
        (Some(cert), Some(key)) => Ok(Some(HttpTls {
            cert: cert.clone(),
            key: key.clone(),
            client_ca: h.tls_client_ca_file.clone(),
        })),
        (None, None) if h.tls_client_ca_file.is_some() => Err(
            "http.tls_client_ca_file needs http.tls_cert_file and http.tls_key_file \
             (client certificates are asked for over https only)"
                .into(),
        ),
        (None, None) => Ok(None),
        _ => {
            Err("http.tls_cert_file and http.tls_key_file go together: set both or neither".into())
        }
    }
}
