//! The one HTTP transport behind every HTTP exporter (OTLP/HTTP, remote write,
//! Pushgateway): one client, one URL check, one header check, one `User-Agent`, one TLS
//! configuration, one send, one retry classification. Exporters supply only their wire
//! mapping and a [`Protocol`]: their name, their specification's [`RetryRule`] and how to
//! read an error body.
//!
//! Messages name the method and the URL without `user:password@`; header values never
//! appear anywhere (`Debug` shows header names only).

mod header;
mod retry;
mod tls;
mod url;

use std::io::Read as _;
use std::time::Duration;

pub(crate) use self::header::{basic_auth_value, check_header, names as header_names, upsert};
pub(crate) use self::retry::RetryRule;
pub use self::tls::TlsConfig;
pub(crate) use self::url::{check_url, redact};

use crate::exporter::{ExportError, FailureReason};
use crate::BuildError;

/// The builder methods the remote write and Pushgateway builders share, written once:
/// `basic_auth`, `header`, `timeout` and `tls`, for a builder with
/// `headers: Vec<(String, String)>`, `timeout: Duration` and `tls: TlsConfig` fields.
macro_rules! builder_methods {
    () => {
        /// Sends `Authorization: Basic …` with these credentials (replacing any earlier
        /// `Authorization`).
        pub fn basic_auth(self, user: impl AsRef<str>, password: impl AsRef<str>) -> Self {
            let value = $crate::http::basic_auth_value(user.as_ref(), password.as_ref());
            self.header("Authorization", value)
        }

        /// Sends a header with every request, such as `X-Scope-OrgID` for a tenant. A header
        /// of the same name (ignoring case) set earlier, or set by the exporter itself
        /// (`User-Agent`, ...), is replaced.
        pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
            $crate::http::upsert(&mut self.headers, name.into(), value.into(), true);
            self
        }

        /// The limit for each request, connecting included (default 10 s, more than zero).
        pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
            self.timeout = timeout;
            self
        }

        /// TLS for an `https://` URL: a CA file trusted beside the public roots, a client
        /// certificate and key (see [`TlsConfig`](crate::TlsConfig)). The files are read
        /// at [`build`](Self::build).
        pub fn tls(mut self, tls: $crate::TlsConfig) -> Self {
            self.tls = tls;
            self
        }
    };
}
pub(crate) use builder_methods;

/// The `User-Agent` of every request this crate's HTTP exporters send.
pub(crate) const USER_AGENT: &str = concat!("tallyho/", env!("CARGO_PKG_VERSION"));

/// How much of a response body is read, and how many characters of it go into a message.
const BODY_READ_LIMIT: u64 = 64 * 1024;
const MESSAGE_BODY_LIMIT: usize = 512;

/// What differs between protocols, declared as data.
#[derive(Clone, Copy)]
pub(crate) struct Protocol {
    /// The exporter's name in errors and self-metrics.
    pub name: &'static str,
    /// Which statuses the protocol's specification says to retry.
    pub retry: RetryRule,
    /// The message of an error body, from its content type and bytes (already read).
    pub detail: fn(&str, &[u8]) -> String,
}

/// The text of a body, trimmed and truncated: the detail most protocols want.
pub(crate) fn text_detail(_content_type: &str, body: &[u8]) -> String {
    truncate(String::from_utf8_lossy(body).trim(), MESSAGE_BODY_LIMIT)
}

/// A 2xx answer.
pub(crate) struct Reply {
    /// Its `Content-Type`.
    pub content_type: String,
    /// Its body, at most 64 KiB.
    pub body: Vec<u8>,
}

/// A client bound to one URL with its headers.
pub(crate) struct Transport {
    protocol: Protocol,
    agent: ureq::Agent,
    url: String,
    shown: String,
    headers: Vec<(String, String)>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("url", &self.shown)
            .field("headers", &header_names(&self.headers))
            .finish_non_exhaustive()
    }
}

impl Transport {
    /// Checks `url` and every header, reads the TLS files, then makes the client.
    /// `headers` come after the `User-Agent`, replacing a header of the same name
    /// (ignoring case).
    pub fn new(
        protocol: Protocol,
        url: String,
        headers: &[(String, String)],
        timeout: Duration,
        tls: &TlsConfig,
    ) -> Result<Transport, BuildError> {
        check_url(&url)?;
        if timeout.is_zero() {
            return Err(BuildError::InvalidSetting {
                setting: "timeout",
                reason: "must be more than zero".into(),
            });
        }
        let mut all = vec![("User-Agent".to_owned(), USER_AGENT.to_owned())];
        for (name, value) in headers {
            check_header(name, value)?;
            upsert(&mut all, name.clone(), value.clone(), true);
        }
        let agent = ureq::AgentBuilder::new()
            .timeout(timeout)
            .redirects(0)
            .user_agent(USER_AGENT)
            .tls_config(tls.client_config()?)
            .build();
        Ok(Transport {
            protocol,
            agent,
            shown: redact(&url),
            url,
            headers: all,
        })
    }

    /// The URL as given.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL without credentials, for messages.
    pub fn shown_url(&self) -> &str {
        &self.shown
    }

    /// The names of the headers sent with every request.
    pub fn header_names(&self) -> Vec<&str> {
        header_names(&self.headers)
    }

    /// Sends one request with `extra` headers after the configured ones. A 2xx answer is
    /// `Ok`; anything else an error classified by the protocol's [`RetryRule`].
    pub fn send(
        &self,
        method: &str,
        extra: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<Reply, ExportError> {
        let mut request = self.agent.request(method, &self.url);
        for (name, value) in &self.headers {
            request = request.set(name, value);
        }
        for (name, value) in extra {
            request = request.set(name, value);
        }
        let result = match body {
            Some(body) => request.send_bytes(body),
            None => request.call(),
        };
        match result {
            Ok(response) if (200..300).contains(&response.status()) => {
                let content_type = response.content_type().to_owned();
                Ok(Reply {
                    content_type,
                    body: read_body(response),
                })
            }
            Ok(response) | Err(ureq::Error::Status(_, response)) => {
                Err(self.status_error(method, response))
            }
            Err(ureq::Error::Transport(t)) => Err(self.transport_error(method, &t)),
        }
    }

    fn status_error(&self, method: &str, response: ureq::Response) -> ExportError {
        let status = response.status();
        let mut message = format!(
            "{method} {}: HTTP {status} {}",
            self.shown,
            response.status_text()
        );
        let retry_after = response.header("retry-after").map(|v| truncate(v, 64));
        let location = response
            .header("location")
            .map(|v| truncate(&redact(v), 256));
        let content_type = response.content_type().to_owned();
        let detail = (self.protocol.detail)(&content_type, &read_body(response));
        message.push_str(": ");
        message.push_str(if detail.is_empty() {
            "(empty body)"
        } else {
            &detail
        });
        if let Some(after) = retry_after {
            message.push_str(&format!(" (Retry-After: {after})"));
        }
        if let Some(location) = location {
            message.push_str(&format!(" (to {location}; redirects are not followed)"));
        }
        let name = self.protocol.name;
        let e = if self.protocol.retry.is_retryable(status) {
            ExportError::retryable(name, message)
        } else {
            ExportError::permanent(name, message)
        };
        e.with_reason(FailureReason::Status(status))
    }

    fn transport_error(&self, method: &str, t: &ureq::Transport) -> ExportError {
        use ureq::ErrorKind as K;
        let https = self
            .url
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
        let message = format!("{method} {}: {}", self.shown, transport_message(t, https));
        let name = self.protocol.name;
        match t.kind() {
            K::InvalidUrl
            | K::UnknownScheme
            | K::InsecureRequestHttpsOnly
            | K::TooManyRedirects
            | K::InvalidProxyUrl
            | K::ProxyUnauthorized => ExportError::permanent(name, message),
            _ => {
                let reason = if is_timeout(t) {
                    FailureReason::Timeout
                } else {
                    FailureReason::Connection
                };
                ExportError::retryable(name, message).with_reason(reason)
            }
        }
    }
}

fn is_timeout(t: &ureq::Transport) -> bool {
    let mut source = std::error::Error::source(t);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
            );
        }
        source = e.source();
    }
    false
}

/// A transport error without the URL (ureq's own text would show it with credentials),
/// a part repeated by a nested error said once, and what to do about a TLS failure.
fn transport_message(t: &ureq::Transport, https: bool) -> String {
    let mut parts = vec![t.kind().to_string()];
    if let Some(detail) = t.message() {
        parts.push(redact(detail));
    }
    if let Some(source) = std::error::Error::source(t) {
        parts.push(redact(&source.to_string()));
    }
    let mut m = String::new();
    for part in &parts {
        for piece in part.split(": ") {
            if !m.is_empty() && (m == piece || m.ends_with(&format!(": {piece}"))) {
                continue;
            }
            if !m.is_empty() {
                m.push_str(": ");
            }
            m.push_str(piece);
        }
    }
    if let Some(hint) = tls::hint(t) {
        m.push_str(&format!(" ({hint})"));
    } else if https && is_broken(t) {
        // A TLS server that refuses the client certificate (or its absence) sends an
        // alert and closes; a request still being written sees only the closed socket.
        m.push_str(
            " (if the server asks for a client certificate, it may have refused the one \
             configured, or its absence)",
        );
    }
    m
}

/// Whether the connection was closed or reset under the request.
fn is_broken(t: &ureq::Transport) -> bool {
    let mut source = std::error::Error::source(t);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
            );
        }
        source = e.source();
    }
    false
}

fn read_body(response: ureq::Response) -> Vec<u8> {
    let mut body = Vec::new();
    // A body that cannot be read only loses detail in the message.
    let _ = response
        .into_reader()
        .take(BODY_READ_LIMIT)
        .read_to_end(&mut body);
    body
}

/// At most `max` characters of `s`, with `…` when cut.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// The longest detail a message carries.
pub(crate) const DETAIL_LIMIT: usize = MESSAGE_BODY_LIMIT;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_respects_characters() {
        assert_eq!(truncate("ééé", 2), "éé…");
        assert_eq!(truncate("ab", 2), "ab");
    }

    #[test]
    fn a_zero_timeout_is_refused() {
        let p = Protocol {
            name: "t",
            retry: RetryRule::OTLP,
            detail: text_detail,
        };
        let e = Transport::new(
            p,
            "http://127.0.0.1:1/".into(),
            &[],
            Duration::ZERO,
            &TlsConfig::new(),
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "timeout: must be more than zero");
    }
}
