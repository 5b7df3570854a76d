//! The receivers: Alertmanager v2, a JSON webhook, the console, a callback.

use std::io::Write;
use std::time::Duration;

use serde_json::{json, Map, Value};
use tallyho_query::Labels;

use super::{DeliveryError, Notification, Sink};
use crate::error::RulesError;
use crate::time::rfc3339_ms;

fn object(l: &Labels) -> Value {
    Value::Object(
        l.iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect::<Map<_, _>>(),
    )
}

/// Alertmanager's v2 `postableAlerts` body.
pub fn alertmanager_body(batch: &[Notification]) -> String {
    let alerts: Vec<Value> = batch
        .iter()
        .map(|n| {
            json!({
                "labels": object(&n.labels),
                "annotations": object(&n.annotations),
                "startsAt": rfc3339_ms(n.starts_at_ms),
                "endsAt": rfc3339_ms(n.ends_at_ms),
                "generatorURL": n.generator_url,
            })
        })
        .collect();
    Value::Array(alerts).to_string()
}

/// The webhook body: `{"version":"1","status":"firing"|"resolved","alerts":[…]}`, each alert
/// with its own `status`.
pub fn webhook_body(batch: &[Notification]) -> String {
    let alerts: Vec<Value> = batch
        .iter()
        .map(|n| {
            json!({
                "status": if n.resolved { "resolved" } else { "firing" },
                "labels": object(&n.labels),
                "annotations": object(&n.annotations),
                "startsAt": rfc3339_ms(n.starts_at_ms),
                "endsAt": rfc3339_ms(n.ends_at_ms),
                "generatorURL": n.generator_url,
            })
        })
        .collect();
    let status = if batch.iter().any(|n| !n.resolved) {
        "firing"
    } else {
        "resolved"
    };
    json!({ "version": "1", "status": status, "alerts": alerts }).to_string()
}

fn check_url(url: &str) -> Result<(), RulesError> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        RulesError::Config(format!(
            "notifier URL {url:?} must start with http:// (no TLS here)"
        ))
    })?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(RulesError::Config(format!(
            "notifier URL {url:?} has no host"
        )));
    }
    Ok(())
}

fn post(agent: &ureq::Agent, url: &str, body: &str) -> Result<(), DeliveryError> {
    match agent
        .post(url)
        .set("Content-Type", "application/json")
        .set(
            "User-Agent",
            concat!("tallyho-rules/", env!("CARGO_PKG_VERSION")),
        )
        .send_string(body)
    {
        Ok(_) => Ok(()),
        Err(ureq::Error::Status(code, resp)) => {
            let mut text = resp.into_string().unwrap_or_default();
            text.truncate(200);
            let msg = format!("{url}: HTTP {code}: {}", text.trim());
            if code >= 500 || code == 429 {
                Err(DeliveryError::retryable(msg))
            } else {
                Err(DeliveryError::permanent(msg))
            }
        }
        Err(e) => Err(DeliveryError::retryable(format!("{url}: {e}"))),
    }
}

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(timeout)
        .timeout_connect(timeout.min(Duration::from_secs(5)))
        .build()
}

/// Posts batches to an Alertmanager's `/api/v2/alerts`.
pub struct AlertmanagerSink {
    agent: ureq::Agent,
    url: String,
}

impl AlertmanagerSink {
    /// A sink for the Alertmanager at `base_url`.
    ///
    /// # Errors
    /// [`RulesError::Config`] when the URL is not `http://host…`.
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self, RulesError> {
        check_url(base_url)?;
        Ok(AlertmanagerSink {
            agent: agent(timeout),
            url: format!("{}/api/v2/alerts", base_url.trim_end_matches('/')),
        })
    }
}

impl Sink for AlertmanagerSink {
    fn deliver(&mut self, batch: &[Notification]) -> Result<(), DeliveryError> {
        post(&self.agent, &self.url, &alertmanager_body(batch))
    }
}

/// Posts batches as JSON to a URL.
pub struct WebhookSink {
    agent: ureq::Agent,
    url: String,
}

impl WebhookSink {
    /// A sink for `url`.
    ///
    /// # Errors
    /// [`RulesError::Config`] when the URL is not `http://host…`.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, RulesError> {
        check_url(url)?;
        Ok(WebhookSink {
            agent: agent(timeout),
            url: url.to_string(),
        })
    }
}

impl Sink for WebhookSink {
    fn deliver(&mut self, batch: &[Notification]) -> Result<(), DeliveryError> {
        post(&self.agent, &self.url, &webhook_body(batch))
    }
}

/// Writes one line per alert: `FIRING alertname{labels} summary…` or `RESOLVED …`.
pub struct ConsoleSink {
    out: Box<dyn Write + Send>,
}

impl ConsoleSink {
    /// Lines to standard error.
    pub fn stderr() -> Self {
        ConsoleSink {
            out: Box::new(std::io::stderr()),
        }
    }

    /// Lines to any writer.
    pub fn to_writer(out: impl Write + Send + 'static) -> Self {
        ConsoleSink { out: Box::new(out) }
    }
}

impl Sink for ConsoleSink {
    fn deliver(&mut self, batch: &[Notification]) -> Result<(), DeliveryError> {
        for n in batch {
            let word = if n.resolved { "RESOLVED" } else { "FIRING" };
            let ann: Vec<String> = n
                .annotations
                .iter()
                .map(|(k, v)| format!("{k}={v:?}"))
                .collect();
            writeln!(
                self.out,
                "{word} {} since {} {}",
                n.labels,
                rfc3339_ms(n.starts_at_ms),
                ann.join(" ")
            )
            .map_err(|e| DeliveryError::permanent(format!("console: {e}")))?;
        }
        self.out
            .flush()
            .map_err(|e| DeliveryError::permanent(format!("console: {e}")))
    }
}

/// Calls a Rust function with each batch; an `Err` is retried.
pub struct CallbackSink<F> {
    f: F,
}

impl<F> CallbackSink<F>
where
    F: FnMut(&[Notification]) -> Result<(), String> + Send + 'static,
{
    /// A sink calling `f`.
    pub fn new(f: F) -> Self {
        CallbackSink { f }
    }
}

impl<F> Sink for CallbackSink<F>
where
    F: FnMut(&[Notification]) -> Result<(), String> + Send + 'static,
{
    fn deliver(&mut self, batch: &[Notification]) -> Result<(), DeliveryError> {
        (self.f)(batch).map_err(DeliveryError::retryable)
    }
}
