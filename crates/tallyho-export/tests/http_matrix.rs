//! Every HTTP exporter against the same cases, through the one shared transport: the same
//! URL and header validation with the same messages, the same redaction (no password or
//! header value in any message or `Debug`), and each protocol's documented retry rule.

use std::time::Duration;

use tallyho::Registry;
use tallyho_export::otlp::OtlpExporter;
use tallyho_export::pushgateway::PushgatewayExporter;
use tallyho_export::remote_write::RemoteWriteExporter;
use tallyho_export::{BuildError, ExportError, Exporter, FailureReason, TlsConfig};

mod common;
use common::{batch_of, FakeServer};

const PASSWORD: &str = "hunter2-secret";
const HEADER_VALUE: &str = "header-value-secret";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Otlp,
    RemoteWrite,
    Pushgateway,
}

const ALL: [Kind; 3] = [Kind::Otlp, Kind::RemoteWrite, Kind::Pushgateway];

impl Kind {
    /// An exporter to `url` (used as given), with one extra header, and a short timeout.
    fn build(self, url: &str, header: (&str, &str)) -> Result<Box<dyn Exporter>, BuildError> {
        let timeout = Duration::from_millis(300);
        Ok(match self {
            Kind::Otlp => Box::new(
                OtlpExporter::builder()
                    .metrics_endpoint(url)
                    .header(header.0, header.1)
                    .timeout(timeout)
                    .build()?,
            ),
            Kind::RemoteWrite => Box::new(
                RemoteWriteExporter::builder()
                    .url(url)
                    .header(header.0, header.1)
                    .timeout(timeout)
                    .build()?,
            ),
            Kind::Pushgateway => Box::new(
                PushgatewayExporter::builder()
                    .url(url)
                    .job("matrix")
                    .header(header.0, header.1)
                    .timeout(timeout)
                    .build()?,
            ),
        })
    }

    /// The build error of an exporter to `url` with `ca` as its TLS CA file.
    fn build_tls(self, url: &str, ca: &str) -> BuildError {
        let tls = TlsConfig::new().ca_file(ca);
        let built = match self {
            Kind::Otlp => OtlpExporter::builder()
                .metrics_endpoint(url)
                .tls(tls)
                .build()
                .map(drop),
            Kind::RemoteWrite => RemoteWriteExporter::builder()
                .url(url)
                .tls(tls)
                .build()
                .map(drop),
            Kind::Pushgateway => PushgatewayExporter::builder()
                .url(url)
                .job("matrix")
                .tls(tls)
                .build()
                .map(drop),
        };
        built.expect_err("a missing CA file was accepted")
    }

    fn ok(self, url: &str) -> Box<dyn Exporter> {
        self.build(url, ("X-Api-Key", HEADER_VALUE)).unwrap()
    }

    /// What each protocol's specification says about a status (see `http/retry.rs`).
    fn retries(self, status: u16) -> bool {
        match self {
            // OTLP/HTTP: 429, 502, 503, 504 only.
            Kind::Otlp => matches!(status, 429 | 502 | 503 | 504),
            // Remote write 1.0 (and the Pushgateway, which follows it): 5xx and 429.
            Kind::RemoteWrite | Kind::Pushgateway => status == 429 || status >= 500,
        }
    }
}

fn export_once(exporter: &mut dyn Exporter) -> Result<(), ExportError> {
    let registry = Registry::new();
    registry.counter("jobs", "Jobs.").unwrap().add(2);
    exporter.export(&batch_of(&registry))
}

fn assert_no_secret(what: &str, text: &str) {
    assert!(!text.contains(PASSWORD), "{what}: password in {text:?}");
    assert!(
        !text.contains(HEADER_VALUE),
        "{what}: header value in {text:?}"
    );
}

#[test]
fn an_http_url_is_sent_to_with_one_user_agent() {
    for kind in ALL {
        let server = FakeServer::start(Some((200, "")));
        let mut exporter = kind.ok(&server.url("/ingest"));
        export_once(exporter.as_mut()).unwrap();
        let seen = server.seen();
        assert_eq!(seen.len(), 1, "{kind:?}");
        assert!(
            seen[0].path.starts_with("/ingest"),
            "{kind:?}: {}",
            seen[0].path
        );
        let agent = format!("tallyho/{}", env!("CARGO_PKG_VERSION"));
        assert_eq!(
            seen[0].header("User-Agent"),
            Some(agent.as_str()),
            "{kind:?}"
        );
        assert_eq!(seen[0].header("X-Api-Key"), Some(HEADER_VALUE), "{kind:?}");
    }
}

#[test]
fn debug_never_shows_secrets() {
    let url = format!("http://user:{PASSWORD}@127.0.0.1:1/x");
    let otlp = OtlpExporter::builder()
        .metrics_endpoint(&url)
        .header("X-Api-Key", HEADER_VALUE);
    let rw = RemoteWriteExporter::builder()
        .url(&url)
        .header("X-Api-Key", HEADER_VALUE);
    let pg = PushgatewayExporter::builder()
        .url(&url)
        .job("j")
        .header("X-Api-Key", HEADER_VALUE);
    assert_no_secret("otlp builder", &format!("{otlp:?}"));
    assert_no_secret("rw builder", &format!("{rw:?}"));
    assert_no_secret("pg builder", &format!("{pg:?}"));
    assert_no_secret("otlp", &format!("{:?}", otlp.build().unwrap()));
    assert_no_secret("rw", &format!("{:?}", rw.build().unwrap()));
    assert_no_secret("pg", &format!("{:?}", pg.build().unwrap()));
}

/// The build error of every exporter for `url`, which must be the same for all.
fn same_build_error(url: &str, header: (&str, &str)) -> BuildError {
    let errors: Vec<BuildError> = ALL
        .iter()
        .map(|k| {
            k.build(url, header)
                .err()
                .unwrap_or_else(|| panic!("{k:?} accepted {url}"))
        })
        .collect();
    assert!(errors.iter().all(|e| *e == errors[0]), "{errors:#?}");
    errors[0].clone()
}

#[test]
fn https_is_accepted_and_a_bad_tls_file_is_refused_identically() {
    for kind in ALL {
        assert!(
            kind.build(
                &format!("https://user:{PASSWORD}@127.0.0.1:1/x"),
                ("X-Ok", "v")
            )
            .is_ok(),
            "{kind:?}"
        );
    }
    let e = ALL
        .iter()
        .map(|k| k.build_tls("https://127.0.0.1:1/x", "/nonexistent/ca.pem"))
        .collect::<Vec<_>>();
    assert!(e.iter().all(|x| *x == e[0]), "{e:#?}");
    assert!(
        e[0].to_string()
            .starts_with("tls.ca_file \"/nonexistent/ca.pem\": cannot read it:"),
        "{}",
        e[0]
    );
}

#[test]
fn a_bad_scheme_is_refused_identically() {
    let e = same_build_error(
        &format!("ftp://user:{PASSWORD}@127.0.0.1:1/x"),
        ("X-Ok", "v"),
    );
    assert_eq!(
        e.to_string(),
        "invalid URL \"ftp://127.0.0.1:1/x\": scheme \"ftp\" is not supported \
         (expected http or https)"
    );
    let e = same_build_error("127.0.0.1:1/x", ("X-Ok", "v"));
    assert!(matches!(e, BuildError::InvalidUrl { .. }), "{e}");
}

#[test]
fn a_bad_header_is_refused_identically_without_its_value() {
    let e = same_build_error("http://127.0.0.1:1/x", ("Bad Name", HEADER_VALUE));
    assert_eq!(
        e.to_string(),
        "invalid header \"Bad Name\": the name is not an HTTP token"
    );
    let e = same_build_error("http://127.0.0.1:1/x", ("X-Key", "line\r\nbreak"));
    assert_eq!(
        e.to_string(),
        "invalid header \"X-Key\": the value holds control characters"
    );
}

#[test]
fn userinfo_is_sent_as_basic_auth_and_never_shown() {
    for kind in ALL {
        let server = FakeServer::start(Some((500, "boom")));
        let url = server
            .url("/x")
            .replace("http://", &format!("http://user:{PASSWORD}@"));
        let mut exporter = kind.ok(&url);
        let err = export_once(exporter.as_mut()).unwrap_err();
        let message = err.to_string();
        assert_no_secret(&format!("{kind:?}"), &message);
        let shown = format!("http://127.0.0.1:{}/x", server.port());
        assert!(message.contains(&shown), "{kind:?}: {message}");
        // user:hunter2-secret
        let auth = server.seen()[0].header("Authorization").map(str::to_owned);
        assert_eq!(
            auth.as_deref(),
            Some("Basic dXNlcjpodW50ZXIyLXNlY3JldA=="),
            "{kind:?}"
        );
    }
}

#[test]
fn statuses_follow_each_protocols_retry_rule() {
    for kind in ALL {
        for status in [429, 500, 503] {
            let server = FakeServer::start(Some((status, "the receiver says no")));
            let url = server
                .url("/x")
                .replace("http://", &format!("http://u:{PASSWORD}@"));
            let mut exporter = kind.ok(&url);
            let err = export_once(exporter.as_mut()).unwrap_err();
            assert_eq!(
                err.is_retryable(),
                kind.retries(status),
                "{kind:?} {status}: {err}"
            );
            assert_eq!(err.reason(), FailureReason::Status(status), "{kind:?}");
            let message = err.message().to_owned();
            assert_no_secret(&format!("{kind:?} {status}"), &message);
            assert!(
                message.contains(&format!("HTTP {status} Whatever: the receiver says no")),
                "{kind:?}: {message}"
            );
        }
    }
}

#[test]
fn a_hanging_server_is_a_retryable_timeout() {
    for kind in ALL {
        let server = FakeServer::start(None);
        let url = server
            .url("/x")
            .replace("http://", &format!("http://u:{PASSWORD}@"));
        let mut exporter = kind.ok(&url);
        let err = export_once(exporter.as_mut()).unwrap_err();
        assert!(err.is_retryable(), "{kind:?}: {err}");
        assert_eq!(err.reason(), FailureReason::Timeout, "{kind:?}: {err}");
        assert_no_secret(&format!("{kind:?}"), &err.to_string());
    }
}

#[test]
fn a_refused_connection_is_retryable() {
    let port = common::free_port();
    for kind in ALL {
        let url = format!("http://u:{PASSWORD}@127.0.0.1:{port}/x");
        let mut exporter = kind.ok(&url);
        let err = export_once(exporter.as_mut()).unwrap_err();
        assert!(err.is_retryable(), "{kind:?}: {err}");
        assert_eq!(err.reason(), FailureReason::Connection, "{kind:?}: {err}");
        assert_no_secret(&format!("{kind:?}"), &err.to_string());
    }
}
