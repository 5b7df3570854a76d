//! The push side of the agent: the pipeline with every exporter `[export]` configures,
//! and what `/health` says about each.

use tallyho::Registry;
use tallyho_export::{ConsoleExporter, FileExporter, Pipeline};

use std::sync::Arc;

use crate::config::{Env, Identity, Settings};

/// Each exporter's figures for `/health`.
pub fn exporters_health(stats: &[tallyho_export::ExporterStats]) -> serde_json::Value {
    stats
        .iter()
        .map(|s| {
            let by_reason: serde_json::Map<String, serde_json::Value> = s
                .failures_by_reason
                .iter()
                .map(|(r, n)| (r.to_string(), (*n).into()))
                .collect();
            serde_json::json!({
                "name": s.name,
                "exports": s.exports,
                "failures": s.failures,
                "failures_by_reason": by_reason,
                "last_error": s.last_error,
                "last_error_unix_ms": s.last_error_at.and_then(|t| {
                    t.duration_since(std::time::UNIX_EPOCH).ok().map(|d| d.as_millis() as u64)
                }),
            })
        })
        .collect()
}

/// The push pipeline with every configured exporter, the history first. `env` is the
/// environment the OTLP exporter reads its `OTEL_EXPORTER_OTLP_*` variables from.
///
/// # Errors
/// An exporter that cannot be built from its settings (named in the message).
pub fn pipeline(
    settings: &Settings,
    env: Arc<Env>,
    registry: &Registry,
    history: Option<&tallyho_history::History>,
) -> anyhow::Result<tallyho_export::PipelineBuilder> {
    let mut pipeline = Pipeline::builder(registry.clone()).interval(settings.interval);
    if let Some(h) = history {
        pipeline = pipeline.exporter(h.exporter());
    }
    let e = &settings.export;
    if e.console_to_log {
        pipeline = pipeline.exporter(ConsoleExporter::to_lines(
            |line| tracing::info!(target: "tallyho::console", "{line}"),
        ));
    } else if e.console {
        pipeline = pipeline.exporter(ConsoleExporter::stdout());
    }
    if let Some(dir) = &e.json_dir {
        pipeline = pipeline.exporter(FileExporter::json(dir, e.keep_files).delta(e.files_delta));
    }
    if let Some(dir) = &e.csv_dir {
        pipeline = pipeline.exporter(FileExporter::csv(dir, e.keep_files).delta(e.files_delta));
    }
    // Who pushed: on by default; a named instance replaces the host name in each
    // target's terms.
    let host_identity = e.identity != Identity::Off;
    let instance = match &e.identity {
        Identity::Named(i) => Some(i.as_str()),
        _ => None,
    };
    if let Some(otlp_settings) = &e.otlp {
        // The configured service is a default: OTEL_SERVICE_NAME and a `service.name` in
        // OTEL_RESOURCE_ATTRIBUTES win over it, as the OpenTelemetry precedence says. The
        // file's endpoint is set only when the environment names none.
        let env = env.clone();
        let mut otlp = tallyho_export::otlp::OtlpExporter::builder()
            .from_env_with(move |k| env(k))
            .default_service_name(settings.service.clone())
            .host_identity(host_identity)
            .tls(otlp_settings.file_tls.config());
        if let Some(endpoint) = &otlp_settings.file_endpoint {
            otlp = otlp.endpoint(endpoint.clone());
        }
        if let Some(i) = instance {
            otlp = otlp.resource_attribute("host.name", i);
        }
        let otlp = otlp.build().map_err(|e| anyhow::anyhow!("otlp: {e}"))?;
        pipeline = pipeline.exporter(otlp);
    }
    if let Some(url) = &e.remote_write_url {
        let mut rw = tallyho_export::remote_write::RemoteWriteExporter::builder()
            .url(url.clone())
            .job(settings.service.clone())
            .host_identity(host_identity)
            .tls(e.tls.config());
        if let Some(i) = instance {
            rw = rw.instance(i);
        }
        let rw = rw
            .build()
            .map_err(|e| anyhow::anyhow!("remote write: {e}"))?;
        pipeline = pipeline.exporter(rw);
    }
    if let Some(url) = &e.pushgateway_url {
        let mut pg = tallyho_export::pushgateway::PushgatewayExporter::builder()
            .url(url.clone())
            .job(settings.service.clone())
            .host_identity(host_identity)
            .tls(e.tls.config());
        if let Some(i) = instance {
            pg = pg.grouping_label("instance", i);
        }
        let pg = pg
            .build()
            .map_err(|e| anyhow::anyhow!("pushgateway: {e}"))?;
        pipeline = pipeline.exporter(pg);
    }
    if let Some(out) = &e.statsd {
        // Resolving the name is the check the config cannot make: a name that does not
        // resolve is a configuration error (exit 2) in the preflight, not a silent drop.
        let statsd = tallyho_export::statsd::StatsdExporter::new(out.target.as_str())
            .map_err(|err| anyhow::anyhow!("export.statsd = {:?}: {err}", out.target))?
            .prefix(out.prefix.clone())
            .dogstatsd_tags(out.dogstatsd_tags)
            .max_datagram(out.max_datagram);
        pipeline = pipeline.exporter(statsd);
    }
    Ok(pipeline)
}
