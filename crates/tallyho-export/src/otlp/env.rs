//! The `OTEL_*` variables the OTLP exporter reads, through an injected getter so tests pass
//! a map instead of mutating the process environment. For each setting the metrics-specific
//! variable wins over the general one (the OpenTelemetry specification's precedence); a
//! value that does not parse is an error naming the variable and the value.

use std::time::Duration;

use super::Endpoint;
use crate::exporter::Temporality;
use crate::http::{check_header, check_url, redact, upsert};
use crate::{BuildError, TlsConfig};

/// Looks a variable up: `Ok(None)` when unset or empty, `Err(reason)` when unreadable.
pub(super) type EnvGet<'a> = &'a dyn Fn(&str) -> Result<Option<String>, String>;

/// Shown instead of the value of a variable that may hold credentials.
const HIDDEN: &str = "(value hidden: it may hold credentials)";

/// A variable of the process environment; empty counts as unset.
pub(super) fn process_env(name: &str) -> Result<Option<String>, String> {
    match std::env::var(name) {
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err("not valid UTF-8".into()),
    }
}

/// What the environment says.
#[derive(Debug, Default)]
pub(super) struct EnvSettings {
    pub protocol: Option<super::OtlpProtocol>,
    pub endpoint: Option<Endpoint>,
    pub headers: Vec<(String, String)>,
    pub gzip: Option<bool>,
    pub timeout: Option<Duration>,
    pub temporality: Option<Temporality>,
    pub resource: Vec<(String, String)>,
    pub service_name: Option<String>,
    pub tls: TlsConfig,
}

fn bad(variable: &str, value: &str, reason: impl Into<String>) -> BuildError {
    BuildError::InvalidEnv {
        variable: variable.to_owned(),
        value: format!("{value:?}"),
        reason: reason.into(),
    }
}

fn hidden(variable: &str, reason: impl Into<String>) -> BuildError {
    BuildError::InvalidEnv {
        variable: variable.to_owned(),
        value: HIDDEN.to_owned(),
        reason: reason.into(),
    }
}

impl EnvSettings {
    pub(super) fn read(get: EnvGet<'_>) -> Result<Self, BuildError> {
        let get = |name: &str| get(name).map_err(|reason| hidden(name, reason));
        // The metrics-specific variable, else the general one: (name, value).
        let pick = |what: &str| -> Result<Option<(String, String)>, BuildError> {
            for name in [
                format!("OTEL_EXPORTER_OTLP_METRICS_{what}"),
                format!("OTEL_EXPORTER_OTLP_{what}"),
            ] {
                if let Some(v) = get(&name)? {
                    return Ok(Some((name, v)));
                }
            }
            Ok(None)
        };
        let mut env = EnvSettings::default();

        if let Some((name, v)) = pick("PROTOCOL")? {
            env.protocol = Some(match v.trim() {
                "http/protobuf" => super::OtlpProtocol::HttpProtobuf,
                #[cfg(feature = "otlp-grpc")]
                "grpc" => super::OtlpProtocol::Grpc,
                #[cfg(not(feature = "otlp-grpc"))]
                "grpc" => {
                    return Err(bad(
                        &name,
                        &v,
                        "this build has no gRPC exporter (feature otlp-grpc)",
                    ))
                }
                _ => {
                    return Err(bad(
                        &name,
                        &v,
                        "http/protobuf and grpc are supported (http/json is not)",
                    ))
                }
            });
        }

        // File paths, read when the exporter is built: an error names the variable.
        if let Some((name, v)) = pick("CERTIFICATE")? {
            env.tls = env.tls.with_ca(v.trim().into(), &name);
        }
        if let Some((name, v)) = pick("CLIENT_CERTIFICATE")? {
            env.tls = env.tls.with_cert(v.trim().into(), &name);
        }
        if let Some((name, v)) = pick("CLIENT_KEY")? {
            env.tls = env.tls.with_key(v.trim().into(), &name);
        }

        for (name, full) in [
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", true),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", false),
        ] {
            if let Some(v) = get(name)? {
                let v = v.trim().to_owned();
                check_url(&v).map_err(|e| match e {
                    BuildError::InvalidUrl { reason, .. } => bad(name, &redact(&v), reason),
                    other => other,
                })?;
                env.endpoint = Some(if full {
                    Endpoint::Full(v)
                } else {
                    Endpoint::Base(v)
                });
                break;
            }
        }

        if let Some((name, v)) = pick("HEADERS")? {
            for (k, value) in parse_pairs(&v).map_err(|reason| hidden(&name, reason))? {
                check_header(&k, &value).map_err(|e| hidden(&name, e.to_string()))?;
                upsert(&mut env.headers, k, value, true);
            }
        }

        if let Some((name, v)) = pick("COMPRESSION")? {
            env.gzip = Some(match v.trim().to_ascii_lowercase().as_str() {
                "gzip" => true,
                "none" => false,
                _ => return Err(bad(&name, &v, "expected gzip or none")),
            });
        }

        if let Some((name, v)) = pick("TIMEOUT")? {
            let ms: u64 = v
                .trim()
                .parse()
                .map_err(|_| bad(&name, &v, "expected a whole number of milliseconds"))?;
            if ms == 0 {
                return Err(bad(&name, &v, "must be more than zero"));
            }
            env.timeout = Some(Duration::from_millis(ms));
        }

        let name = "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE";
        if let Some(v) = get(name)? {
            env.temporality = Some(match v.trim().to_ascii_lowercase().as_str() {
                "cumulative" => Temporality::Cumulative,
                "delta" | "lowmemory" => Temporality::Delta,
                _ => return Err(bad(name, &v, "expected cumulative, delta or lowmemory")),
            });
        }

        let name = "OTEL_RESOURCE_ATTRIBUTES";
        if let Some(v) = get(name)? {
            for (k, value) in parse_pairs(&v).map_err(|reason| bad(name, &v, reason))? {
                upsert(&mut env.resource, k, value, false);
            }
        }

        if let Some(v) = get("OTEL_SERVICE_NAME")? {
            env.service_name = Some(v.trim().to_owned());
        }

        Ok(env)
    }
}

/// `k=v,k2=v2` with whitespace around keys and values trimmed and values percent-decoded;
/// empty entries are skipped. The error is the reason, naming the entry's key only.
fn parse_pairs(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for entry in s.split(',') {
        if entry.trim().is_empty() {
            continue;
        }
        let Some((k, v)) = entry.split_once('=') else {
            return Err("an entry is not key=value".to_owned());
        };
        let k = k.trim();
        if k.is_empty() {
            return Err("an entry has an empty key".to_owned());
        }
        let v = percent_decode(v.trim())
            .ok_or_else(|| format!("the value of {k:?} is not valid percent-encoding"))?;
        out.push((k.to_owned(), v));
    }
    Ok(out)
}

/// Decodes `%XX` escapes (`+` stays `+`); `None` for a bad escape or invalid UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<EnvSettings, BuildError> {
        let get = |k: &str| {
            Ok(vars
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned()))
        };
        EnvSettings::read(&get)
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b%2Cc+d").as_deref(), Some("a b,c+d"));
        assert_eq!(percent_decode("%E2%82%AC").as_deref(), Some("€"));
        assert_eq!(percent_decode("%2"), None);
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%FF"), None);
    }

    #[test]
    fn pairs_parse() {
        assert_eq!(
            parse_pairs(" a = 1 ,, b=x%3Dy ").unwrap(),
            vec![("a".into(), "1".into()), ("b".into(), "x=y".into())]
        );
        assert!(parse_pairs("novalue").is_err());
        assert!(parse_pairs("=x").is_err());
    }

    #[test]
    fn env_reading_with_a_fake_environment() {
        let env = read(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "a=1"),
            ("OTEL_EXPORTER_OTLP_METRICS_HEADERS", "b=2"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "GZIP"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
                "LowMemory",
            ),
        ])
        .unwrap();
        assert_eq!(
            env.endpoint,
            Some(Endpoint::Base("http://127.0.0.1:1".into()))
        );
        assert_eq!(env.headers, vec![("b".into(), "2".into())]);
        assert_eq!(env.gzip, Some(true));
        assert_eq!(env.temporality, Some(Temporality::Delta));
    }

    #[test]
    fn tls_files_metrics_specific_over_general() {
        let env = read(&[
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/general/ca.pem"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE",
                " /metrics/ca.pem ",
            ),
            ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "/general/cert.pem"),
            ("OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY", "/metrics/key.pem"),
        ])
        .unwrap();
        let path = |p: Option<&std::path::Path>| p.map(|p| p.display().to_string());
        assert_eq!(path(env.tls.ca_path()).as_deref(), Some("/metrics/ca.pem"));
        assert_eq!(
            path(env.tls.client_cert_path()).as_deref(),
            Some("/general/cert.pem")
        );
        assert_eq!(
            path(env.tls.client_key_path()).as_deref(),
            Some("/metrics/key.pem")
        );
        // A file that cannot be read is named by the variable that gave it.
        let e = env.tls.client_config().unwrap_err().to_string();
        assert!(
            e.starts_with(
                "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE \"/metrics/ca.pem\": cannot read it"
            ),
            "{e}"
        );
    }

    #[test]
    fn malformed_values_name_the_variable_and_the_value() {
        let err = |k: &str, v: &str| read(&[(k, v)]).unwrap_err().to_string();
        assert_eq!(
            err("OTEL_EXPORTER_OTLP_TIMEOUT", "soon"),
            "OTEL_EXPORTER_OTLP_TIMEOUT=\"soon\": expected a whole number of milliseconds"
        );
        assert!(err("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
            .starts_with("OTEL_EXPORTER_OTLP_PROTOCOL=\"http/json\""));
        #[cfg(not(feature = "otlp-grpc"))]
        assert!(err("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc").contains("feature otlp-grpc"));
        let e = err("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://u:secret@x");
        assert!(
            e.contains("scheme") && e.contains("\"ftp://x\"") && !e.contains("secret"),
            "{e}"
        );
        let e = err("OTEL_EXPORTER_OTLP_HEADERS", "api-key=secret,broken");
        assert!(
            e.starts_with("OTEL_EXPORTER_OTLP_HEADERS=(value hidden") && !e.contains("secret"),
            "{e}"
        );
        let e = err("OTEL_EXPORTER_OTLP_HEADERS", "bad key=secret");
        assert!(e.contains("bad key") && !e.contains("secret"), "{e}");
    }
}
