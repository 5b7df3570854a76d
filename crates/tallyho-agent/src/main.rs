//! `tallyho`: the agent. Serves host, process and StatsD metrics on `/metrics`, and pushes
//! them to the configured targets.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tallyho::Registry;
use tallyho_export::{ConsoleExporter, FileExporter, Pipeline};

use tallyho_agent::config::Config;
use tallyho_agent::{alerting, history, query, statsd};

#[derive(Parser, Debug)]
#[command(
    name = "tallyho",
    version,
    about = "Metrics agent: host metrics, StatsD in, Prometheus and push out"
)]
struct Cli {
    /// TOML configuration file.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Address for /metrics and /health (overrides the file and TALLYHO_LISTEN).
    #[arg(long, global = true)]
    listen: Option<String>,
    /// StatsD UDP address, or "" to disable.
    #[arg(long, global = true)]
    statsd: Option<String>,
    /// Seconds between collections and pushes.
    #[arg(long, global = true)]
    interval: Option<f64>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the agent (the default).
    Serve,
    /// Validate a configuration file; exit code 2 when it is bad.
    CheckConfig {
        /// The file.
        file: PathBuf,
    },
    /// Collect once and print.
    Snapshot {
        /// table, prometheus, openmetrics, json or csv.
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// Run a PromQL query against a running agent (default) or a history directory.
    Query(QueryCli),
}

#[derive(clap::Args, Debug)]
struct QueryCli {
    /// The PromQL expression, e.g. 'rate(jobs_done_total[5m])'.
    expr: String,
    /// Evaluation time: RFC 3339, Unix seconds, `now` or `-5m` (default now).
    #[arg(long, allow_hyphen_values = true, conflicts_with_all = ["start", "end", "step"])]
    time: Option<String>,
    /// Range query from here (default: an hour before --end).
    #[arg(long, allow_hyphen_values = true)]
    start: Option<String>,
    /// Range query end (default now).
    #[arg(long, allow_hyphen_values = true)]
    end: Option<String>,
    /// Range query step: `15s`, `1m` or seconds (default 15s).
    #[arg(long)]
    step: Option<String>,
    /// A running agent (default: http:// and the configured listen address).
    #[arg(long, conflicts_with = "storage_path")]
    url: Option<String>,
    /// Read a history directory instead, read-only (safe while an agent writes it).
    #[arg(long)]
    storage_path: Option<PathBuf>,
    /// table or json (the API's answer as is).
    #[arg(long, default_value = "table", value_parser = ["table", "json"])]
    format: String,
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if let Some(Command::CheckConfig { file }) = &cli.command {
        std::process::exit(check_config(file));
    }
    let config = match load(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tallyho: bad configuration: {e}");
            std::process::exit(2);
        }
    };
    let result = match cli.command {
        Some(Command::Snapshot { format }) => snapshot(&config, &format),
        Some(Command::Query(q)) => query(&config, &q),
        _ => serve(&config, cli.config.as_deref()),
    };
    if let Err(e) = result {
        eprintln!("tallyho: {e:#}");
        std::process::exit(1);
    }
}

fn check_config(file: &PathBuf) -> i32 {
    match std::fs::read_to_string(file) {
        Err(e) => {
            eprintln!("{}: cannot read: {e}", file.display());
            2
        }
        Ok(text) => match Config::from_toml(&text) {
            Ok(mut config) => {
                config.resolve_paths(file.parent().unwrap_or(std::path::Path::new(".")));
                let files: Vec<String> = config
                    .alerting
                    .rule_files
                    .iter()
                    .map(|p| p.to_string_lossy().into_owned())
                    .collect();
                if let Err(e) = tallyho_rules::Rules::load(&files) {
                    eprintln!("{}: alerting.rule_files: {e}", file.display());
                    return 2;
                }
                println!("{}: ok", file.display());
                0
            }
            Err(e) => {
                eprintln!("{}: {e}", file.display());
                2
            }
        },
    }
}

/// Defaults, then the file, then the environment, then flags.
fn load(cli: &Cli) -> Result<Config, String> {
    let mut config = match &cli.config {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let mut config =
                Config::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            config.resolve_paths(path.parent().unwrap_or(std::path::Path::new(".")));
            config
        }
        None => Config::default(),
    };
    config.apply_env()?;
    if let Some(v) = &cli.listen {
        config.listen = v.clone();
    }
    if let Some(v) = &cli.statsd {
        config.statsd = v.clone();
    }
    if let Some(v) = cli.interval {
        config.interval_seconds = v;
    }
    config.validate()?;
    Ok(config)
}

fn registry(config: &Config) -> anyhow::Result<Registry> {
    let registry = Registry::builder()
        .constant_label("service", config.service.clone())
        .build()?;
    if config.host.enabled {
        let naming = if config.host.naming == "node" {
            tallyho_host::Naming::Node
        } else {
            tallyho_host::Naming::Otel
        };
        let host = tallyho_host::HostCollector::new(
            tallyho_host::HostConfig::default()
                .with_root(config.host.root.clone())
                .with_naming(naming),
        );
        tracing::info!(gpu = host.gpu_status(), "host metrics on");
        registry.register_collector(host);
    }
    Ok(registry)
}

fn snapshot(config: &Config, format: &str) -> anyhow::Result<()> {
    let registry = registry(config)?;
    let snapshot = registry.snapshot();
    if format == "table" {
        let batch = tallyho_export::Batch {
            start: snapshot.time,
            end: snapshot.time,
            snapshot,
            temporality: tallyho_export::Temporality::Cumulative,
        };
        print!(
            "{}",
            ConsoleExporter::to_writer(Box::new(std::io::sink())).render(&batch)
        );
        return Ok(());
    }
    let format: tallyho_encode::Format = format.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut out = std::io::stdout().lock();
    format.encode(&mut out, &snapshot)?;
    Ok(())
}

fn auth(config: &Config) -> anyhow::Result<tallyho_http::Auth> {
    Ok(if !config.auth.bearer_token.is_empty() {
        tallyho_http::Auth::bearer(config.auth.bearer_token.clone())
    } else if !config.auth.user.is_empty() {
        tallyho_http::Auth::basic(config.auth.user.clone(), config.auth.password.clone())
    } else {
        tallyho_http::Auth::from_env().map_err(|e| anyhow::anyhow!(e))?
    })
}

fn query(config: &Config, q: &QueryCli) -> anyhow::Result<()> {
    let source = match (&q.url, &q.storage_path) {
        (_, Some(dir)) => query::Source::Dir {
            path: dir.clone(),
            retention: config.history.retention,
        },
        (Some(url), None) => query::Source::Url(url.clone()),
        (None, None) => query::Source::Url(format!("http://{}", config.listen)),
    };
    let args = query::QueryArgs {
        expr: q.expr.clone(),
        time: q.time.clone(),
        start: q.start.clone(),
        end: q.end.clone(),
        step: q.step.clone(),
        json: q.format == "json",
        auth: auth(config)?,
    };
    query::run(&args, &source, &mut std::io::stdout().lock())?;
    Ok(())
}

/// The push pipeline with every configured exporter, the history first.
fn exporters(
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
    if let Some(endpoint) = &e.otlp_endpoint {
        let otlp = tallyho_export::otlp::OtlpExporter::builder()
            .from_env()
            .endpoint(endpoint.clone())
            .service_name(config.service.clone())
            .build()
            .map_err(|e| anyhow::anyhow!("otlp: {e}"))?;
        pipeline = pipeline.exporter(otlp);
    }
    if let Some(url) = &e.remote_write_url {
        let rw = tallyho_export::remote_write::RemoteWriteExporter::builder()
            .url(url.clone())
            .build()
            .map_err(|e| anyhow::anyhow!("remote write: {e}"))?;
        pipeline = pipeline.exporter(rw);
    }
    if let Some(url) = &e.pushgateway_url {
        let pg = tallyho_export::pushgateway::PushgatewayExporter::builder()
            .url(url.clone())
            .job(config.service.clone())
            .build()
            .map_err(|e| anyhow::anyhow!("pushgateway: {e}"))?;
        pipeline = pipeline.exporter(pg);
    }
    Ok(pipeline)
}

fn serve(config: &Config, config_file: Option<&std::path::Path>) -> anyhow::Result<()> {
    let registry = registry(config)?;
    let history = history::open(&config.history).map_err(|e| anyhow::anyhow!(e))?;
    if let Some(h) = &history {
        registry.register_collector(h.metrics());
        tracing::info!(
            path = ?config.history.dir(),
            retention = ?config.history.retention,
            max_bytes = config.history.max_bytes,
            "history on"
        );
    }
    // Rules over the history (none without rule files; reloads may add some).
    let rules = match &history {
        Some(h) => {
            let running = alerting::start(&config.alerting, h, &config.listen)
                .map_err(|e| anyhow::anyhow!("alerting.rule_files: {e}"))?;
            registry.register_collector(running.manager.collector());
            tracing::info!(
                groups = running.manager.groups().len(),
                alertmanager = ?config.alerting.alertmanager_url,
                "rules on"
            );
            Some(running)
        }
        None => None,
    };
    let stop = Arc::new(AtomicBool::new(false));

    // StatsD in.
    let statsd = if config.statsd.is_empty() {
        None
    } else {
        let socket = std::net::UdpSocket::bind(&config.statsd)
            .with_context(|| format!("binding StatsD on {}", config.statsd))?;
        tracing::info!(addr = %socket.local_addr()?, "StatsD listening");
        let ingest = statsd::Ingest::new(&registry)?;
        let stop = stop.clone();
        Some(
            std::thread::Builder::new()
                .name("statsd".into())
                .spawn(move || {
                    statsd::serve(&socket, &ingest, &stop);
                })?,
        )
    };

    // Push out (and into the history).
    let pipeline = exporters(config, &registry, history.as_ref())?.start()?;

    // Pull: /metrics and /health, until SIGINT or SIGTERM.
    let mut endpoint = tallyho_http::Endpoint::new(registry.clone()).auth(auth(config)?);
    if let Some(h) = &history {
        endpoint = endpoint
            .query_api(history::query_api(h))
            .health_extra(history::health_extra(h, &config.history));
    }
    let manager = rules.as_ref().map(|r| r.manager.clone());
    if let Some(m) = &manager {
        endpoint = endpoint.rules_api(Arc::new(alerting::RulesHttp(m.clone())));
        if config.alerting.reload_endpoint {
            let (m, file) = (m.clone(), config_file.map(std::path::Path::to_path_buf));
            endpoint =
                endpoint.reload_hook(Arc::new(move || alerting::reload(&m, file.as_deref())));
        }
    }
    if config.dashboard.enabled {
        endpoint = endpoint.dashboard(tallyho_dashboard::router());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        tracing::info!(
            addr = %listener.local_addr()?,
            dashboard = config.dashboard.enabled,
            "serving /metrics, /health and /api/v1/"
        );
        if let Some(m) = manager.clone() {
            let file = config_file.map(std::path::Path::to_path_buf);
            reload_on_sighup(m, file);
        }
        let app = endpoint
            .router()
            .into_make_service_with_connect_info::<SocketAddr>();
        axum_serve(listener, app).await
    })?;

    tracing::info!("stopping: final export");
    if let Some(r) = &rules {
        r.stop(Duration::from_secs(5));
    }
    stop.store(true, Ordering::Relaxed);
    if let Some(t) = statsd {
        let _ = t.join();
    }
    if !pipeline.shutdown(Duration::from_secs(10)) {
        tracing::warn!("some exporters did not finish within 10 s");
    }
    if let Some(h) = history {
        h.close().context("closing the history")?;
    }
    Ok(())
}

async fn axum_serve(
    listener: tokio::net::TcpListener,
    app: axum::extract::connect_info::IntoMakeServiceWithConnectInfo<axum::Router, SocketAddr>,
) -> anyhow::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}

/// Reloads the rules on every SIGHUP, on the blocking pool. The handler is installed
/// before this returns, so a SIGHUP once the agent serves never kills it.
fn reload_on_sighup(manager: Arc<tallyho_rules::RuleManager>, file: Option<PathBuf>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP: reload with POST /-/reload");
            return;
        };
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                let (m, f) = (manager.clone(), file.clone());
                let _ =
                    tokio::task::spawn_blocking(move || alerting::reload(&m, f.as_deref())).await;
            }
        });
    }
    #[cfg(not(unix))]
    {
        let _ = (manager, file);
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
