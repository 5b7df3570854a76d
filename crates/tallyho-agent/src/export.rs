//! The push side of the agent: the pipeline with every exporter `[export]` configures,
//! and what `/health` says about each.

use tallyho::Registry;
use tallyho_export::{ConsoleExporter, FileExporter, Pipeline};

use crate::config::Config;

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

/// The push pipeline with every configured exporter, the history first.
///
/// # Errors
/// An exporter that cannot be built from its settings (named in the message).
pub fn pipeline(
    config: &Config,
    registry: &Registry,
    history: Option<&tallyho_history::History>,
) -> anyhow::Result<tallyho_export::PipelineBuilder> {
    let mut pipeline = Pipeline::builder(registry.clone()).interval(config.interval());
    if let Some(h) = history {
        pipeline = pipeline.exporter(h.exporter());
    }
    let e = &config.export;
    if e.console {
        pipeline = pipeline.exporter(ConsoleExporter::stdout());
    }
    let keep = if e.keep_files == 0 { 100 } else { e.keep_files };
    if let Some(dir) = &e.json_dir {
        pipeline = pipeline.exporter(FileExporter::json(dir, keep));
    }
    if let Some(dir) = &e.csv_dir {
        pipeline = pipeline.exporter(FileExporter::csv(dir, keep));
    }
    // Who pushed: on by default; `instance` replaces the host name in each target's terms.
    let instance = e.instance.as_deref();
    if let Some(endpoint) = &e.otlp_endpoint {
        // The configured service is a default: OTEL_SERVICE_NAME and a `service.name` in
        // OTEL_RESOURCE_ATTRIBUTES win over it, as the OpenTelemetry precedence says.
        let mut otlp = tallyho_export::otlp::OtlpExporter::builder()
            .from_env()
            .endpoint(endpoint.clone())
            .default_service_name(config.service.clone())
            .host_identity(e.host_identity);
        if let Some(i) = instance {
            otlp = otlp.resource_attribute("host.name", i);
        }
        let otlp = otlp.build().map_err(|e| anyhow::anyhow!("otlp: {e}"))?;
        pipeline = pipeline.exporter(otlp);
    }
    if let Some(url) = &e.remote_write_url {
        let mut rw = tallyho_export::remote_write::RemoteWriteExporter::builder()
            .url(url.clone())
            .job(config.service.clone())
            .host_identity(e.host_identity);
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
            .job(config.service.clone())
            .host_identity(e.host_identity);
        if let Some(i) = instance {
            pg = pg.grouping_label("instance", i);
        }
        let pg = pg
            .build()
            .map_err(|e| anyhow::anyhow!("pushgateway: {e}"))?;
        pipeline = pipeline.exporter(pg);
    }
    if let Some(target) = &e.statsd {
        // Resolving the name is the check the config cannot make: a name that does not
        // resolve is a configuration error (exit 2) in the preflight, not a silent drop.
        let statsd = tallyho_export::statsd::StatsdExporter::new(target.as_str())
            .map_err(|err| anyhow::anyhow!("statsd = {target:?}: {err}"))?
            .prefix(e.statsd_prefix.clone())
            .dogstatsd_tags(e.statsd_dogstatsd_tags)
            .max_datagram(e.statsd_max_datagram);
        pipeline = pipeline.exporter(statsd);
    }
    Ok(pipeline)
}
