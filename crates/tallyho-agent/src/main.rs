//! `tallyho`: the agent. Serves host, process and StatsD metrics on `/metrics`, and pushes
//! them to the configured targets.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tallyho::Registry;

use tallyho_agent::config::{self, Env, Flags, Settings};
use tallyho_agent::{alerting, export, history, query, statsd};

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
    /// What to log: error, warn, info, debug, trace, or a filter such as
    /// `info,tallyho_export=debug` (overrides RUST_LOG; default info).
    #[arg(long, global = true, env = "TALLYHO_LOG_LEVEL")]
    log_level: Option<String>,
    /// Log lines as `text` (plain when stderr is not a terminal) or `json` (one object a
    /// line, for log collectors).
    #[arg(long, global = true, env = "TALLYHO_LOG_FORMAT", value_parser = ["text", "json"], default_value = "text")]
    log_format: String,
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
    /// Send StatsD lines to the agent's StatsD address (no `nc` needed): each argument, or
    /// each line of standard input when there is none, as one datagram.
    Send {
        /// Lines such as `jobs.done:1|c|#queue:fast`.
        lines: Vec<String>,
    },
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

/// Exit status: 0 done (also when the reader of stdout went away), 1 a runtime failure,
/// 2 a bad command line or configuration (clap exits 2 for the command line itself).
fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = logging(&cli) {
        eprintln!("tallyho: {e}");
        return ExitCode::from(2);
    }
    let env: Arc<Env> = Arc::new(config::process_env);
    if let Some(Command::CheckConfig { file }) = &cli.command {
        return check_config(file, &cli, &env);
    }
    let serving = matches!(cli.command, None | Some(Command::Serve));
    // Every configuration error exits 2 here, before anything binds.
    let config = match config::load(cli.config.as_deref(), &*env, &flags(&cli)).and_then(|c| {
        if serving {
            preflight(&c, &env, true).map(|()| c)
        } else {
            Ok(c)
        }
    }) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tallyho: bad configuration: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Some(Command::Snapshot { format }) => snapshot(&config, &*env, &format),
        Some(Command::Query(q)) => query(&config, &q),
        Some(Command::Send { lines }) => send(&config, &lines),
        _ => serve(&config, &env, cli.config.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `tallyho snapshot | head`: the reader has what it wanted.
        Err(e) if broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tallyho: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Whether the error is stdout's reader having gone away.
fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Loads the configuration as `serve` would (file, environment, flags) and runs every
/// check `serve` makes before binding.
fn check_config(file: &std::path::Path, cli: &Cli, env: &Arc<Env>) -> ExitCode {
    match config::load(Some(file), &**env, &flags(cli)).and_then(|c| preflight(&c, env, false)) {
        Ok(()) => {
            // A closed stdout loses only this line: the exit status says "ok".
            let _ = writeln!(std::io::stdout(), "{}: ok", file.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

/// What `serve` would otherwise find out after binding: rule files, credentials from the
/// environment, exporter settings, writable export directories (and, when `clean`, the
/// stale `.tmp` files in them removed).
fn preflight(config: &Settings, env: &Arc<Env>, clean: bool) -> Result<(), String> {
    let files: Vec<String> = config
        .alerting
        .rule_files
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    // A bad rule file is a configuration error like any other: exit 2 before binding.
    tallyho_rules::Rules::load(&files).map_err(|e| format!("alerting.rule_files: {e}"))?;
    export::pipeline(config, env.clone(), &Registry::new(), None)
        .map_err(|e| format!("export: {e:#}"))?;
    if let Some(tls) = &config.http.tls {
        tls.load()?;
    }
    for (key, dir) in [
        ("export.json_dir", &config.export.json_dir),
        ("export.csv_dir", &config.export.csv_dir),
    ] {
        if let Some(dir) = dir {
            writable_dir(dir, clean).map_err(|e| format!("{key} = {}: {e}", dir.display()))?;
        }
    }
    Ok(())
}

/// Proves `dir` writable (creating it when `clean`), then when `clean` removes `.tmp`
/// files a killed agent left behind (the exporters write `name.tmp` and rename it).
fn writable_dir(dir: &std::path::Path, clean: bool) -> std::io::Result<()> {
    if !clean {
        // check-config creates nothing: the nearest existing ancestor must be writable.
        let existing = dir.ancestors().find(|a| a.exists()).unwrap_or(dir);
        if existing.metadata()?.permissions().readonly() {
            return Err(std::io::Error::other(format!(
                "{} is not writable",
                existing.display()
            )));
        }
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    let probe = dir.join(format!(".tallyho-probe-{}", std::process::id()));
    std::fs::write(&probe, b"")?;
    std::fs::remove_file(&probe)?;
    for entry in std::fs::read_dir(dir)?.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "tmp")
            && path.is_file()
            && std::fs::remove_file(&path).is_ok()
        {
            tracing::info!(path = %path.display(), "removed a stale temporary file");
        }
    }
    Ok(())
}

/// What the command line sets over the file and the environment.
fn flags(cli: &Cli) -> Flags {
    Flags {
        listen: cli.listen.clone(),
        statsd: cli.statsd.clone(),
        interval: cli.interval,
    }
}

/// `tallyho send`: datagrams to the configured StatsD address, from a socket on the same
/// loopback or any address; says how many went.
fn send(config: &Settings, lines: &[String]) -> anyhow::Result<()> {
    let addr = config
        .statsd
        .context("StatsD input is off (statsd = \"\"): nothing listens to send to")?;
    let from: std::net::SocketAddr = if addr.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = std::net::UdpSocket::bind(from).context("opening a UDP socket")?;
    let mut datagrams: Vec<String> = lines.to_vec();
    if datagrams.is_empty() {
        use std::io::BufRead;
        for line in std::io::stdin().lock().lines() {
            let line = line.context("reading standard input")?;
            if !line.trim().is_empty() {
                datagrams.push(line);
            }
        }
    }
    anyhow::ensure!(
        !datagrams.is_empty(),
        "no StatsD lines given (arguments or standard input)"
    );
    for d in &datagrams {
        socket
            .send_to(d.as_bytes(), addr)
            .with_context(|| format!("sending to {addr}"))?;
    }
    eprintln!("sent {} datagram(s) to {addr}", datagrams.len());
    Ok(())
}

/// Logging through `tracing` on stderr: `--log-level` (or `TALLYHO_LOG_LEVEL`) over
/// `RUST_LOG` over `info`; colours only on a terminal; JSON lines with `--log-format json`.
fn logging(cli: &Cli) -> Result<(), String> {
    use tracing_subscriber::EnvFilter;
    let filter = match &cli.log_level {
        Some(level) => EnvFilter::try_new(level).map_err(|e| {
            format!("--log-level {level:?}: {e} (e.g. warn, or info,tallyho_export=debug)")
        })?,
        None => match std::env::var("RUST_LOG") {
            Ok(v) if !v.trim().is_empty() => {
                EnvFilter::try_new(&v).map_err(|e| format!("RUST_LOG = {v:?}: {e}"))?
            }
            _ => EnvFilter::new("info"),
        },
    };
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if cli.log_format == "json" {
        fmt.json().with_current_span(false).init();
    } else {
        fmt.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
    Ok(())
}

/// The agent's registry: the `service` label, `OTEL_SDK_DISABLED` read from `env`, and
/// the host collector when `[host]` is on.
fn registry(config: &Settings, env: &Env) -> anyhow::Result<Registry> {
    let mut builder = Registry::builder().constant_label("service", config.service.clone());
    for (name, value) in &config.labels {
        builder = builder.constant_label(name.clone(), value.clone());
    }
    if let Some(limit) = config.cardinality_limit {
        builder = builder.cardinality_limit(limit);
    }
    let registry = builder.enabled_from_env(env).build()?;
    if let Some(h) = &config.host {
        let host = tallyho_host::HostCollector::new(h.host_config());
        tracing::info!(gpu = host.gpu_status(), "host metrics on");
        registry.register_collector(host);
    }
    Ok(registry)
}

fn snapshot(config: &Settings, env: &Env, format: &str) -> anyhow::Result<()> {
    let registry = registry(config, env)?;
    let snapshot = registry.snapshot();
    if format == "table" {
        let batch = tallyho_export::Batch {
            start: snapshot.time,
            end: snapshot.time,
            snapshot,
            temporality: tallyho_export::Temporality::Cumulative,
        };
        let table =
            tallyho_export::ConsoleExporter::to_writer(Box::new(std::io::sink())).render(&batch);
        std::io::stdout().lock().write_all(table.as_bytes())?;
        return Ok(());
    }
    let format: tallyho_encode::Format = format.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut out = std::io::stdout().lock();
    format.encode(&mut out, &snapshot)?;
    Ok(())
}

fn query(config: &Settings, q: &QueryCli) -> anyhow::Result<()> {
    let source = match (&q.url, &q.storage_path) {
        (_, Some(dir)) => query::Source::Dir {
            path: dir.clone(),
            retention: config
                .history
                .as_ref()
                .map_or(Duration::from_secs(24 * 3600), |h| h.retention),
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
        auth: config.auth.clone(),
    };
    query::run(&args, &source, &mut std::io::stdout().lock())?;
    Ok(())
}

fn serve(
    config: &Settings,
    env: &Arc<Env>,
    config_file: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let registry = registry(config, &**env)?;
    let history = match &config.history {
        Some(cfg) => {
            let h = history::open(cfg).map_err(|e| anyhow::anyhow!(e))?;
            registry.register_collector(h.metrics());
            tracing::info!(
                path = ?cfg.dir,
                retention = ?cfg.retention,
                max_bytes = cfg.max_bytes,
                "history on"
            );
            Some(h)
        }
        None => None,
    };
    // Rules over the history (none without rule files; reloads may add some).
    let rules = match &history {
        Some(h) => {
            let running = alerting::start(&config.alerting, h, config.listen)
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
    let statsd = if let Some(addr) = config.statsd {
        let input = &config.statsd_input;
        let bound = statsd::bind(addr, input.recv_buffer_bytes as usize)
            .with_context(|| format!("binding StatsD on {addr}"))?;
        statsd::register_metrics(&registry, &bound)?;
        let socket = bound.socket;
        tracing::info!(
            addr = %socket.local_addr()?,
            recv_buffer = bound.recv_buffer,
            "StatsD listening"
        );
        let limits = statsd::Limits {
            max_families: input.max_families,
            max_sets: input.max_sets,
            series_ttl: input.series_ttl,
        };
        let policy = statsd::TagPolicy {
            allowed: (!input.allowed_tags.is_empty())
                .then(|| input.allowed_tags.iter().cloned().collect()),
            refuse_others: input.disallowed_tags == "refuse",
            max_value_len: input.max_tag_value_length,
            prefix: input.prefix.clone(),
        };
        let ingest = statsd::Ingest::with_limits(&registry, limits)?
            .with_set_window(config.interval)
            .with_tag_policy(policy);
        let stop = stop.clone();
        Some(
            std::thread::Builder::new()
                .name("statsd".into())
                .spawn(move || {
                    statsd::serve(&socket, &ingest, &stop);
                })?,
        )
    } else {
        None
    };

    // Push out (and into the history).
    let pipeline = export::pipeline(config, env.clone(), &registry, history.as_ref())?.start()?;

    // Pull: /metrics and /health, until SIGINT or SIGTERM.
    let h = &config.http;
    let mut endpoint = tallyho_http::Endpoint::new(registry.clone())
        .auth(config.auth.clone())
        .max_connections(h.max_connections)
        .header_timeout(h.header_timeout)
        .shutdown_timeout(h.shutdown_timeout)
        .health_requires_auth(h.health_requires_auth)
        .health_rate_limit(h.health_rate_limit);
    if let Some(limit) = h.rate_limit {
        endpoint = endpoint.rate_limit(limit);
    }
    if let Some(tls) = &h.tls {
        endpoint = endpoint.tls(tls.load().map_err(|e| anyhow::anyhow!(e))?);
    }
    // /health: the history's figures and each exporter's exports, failures by reason and
    // last error (credentials are never in those messages).
    let history_health = history
        .as_ref()
        .zip(config.history.as_ref())
        .map(|(h, cfg)| history::health_extra(h, cfg));
    let exporter_stats = pipeline.stats_reader();
    endpoint = endpoint.health_extra(Arc::new(move || {
        let mut extra = history_health
            .as_ref()
            .map_or_else(|| serde_json::json!({}), |f| f());
        extra["exporters"] = export::exporters_health(&exporter_stats.read());
        extra
    }));
    if let Some(h) = &history {
        endpoint = endpoint.query_api(history::query_api(h));
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
    if config.dashboard {
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
            dashboard = config.dashboard,
            https = h.tls.is_some(),
            "serving /metrics, /health and /api/v1/"
        );
        if let Some(m) = manager.clone() {
            let file = config_file.map(std::path::Path::to_path_buf);
            reload_on_sighup(m, file);
        } else {
            ignore_sighup();
        }
        endpoint.serve_until(listener, shutdown_signal()).await?;
        anyhow::Ok(())
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

/// Without rules there is nothing to reload: a SIGHUP is logged, never fatal.
fn ignore_sighup() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut hup) = signal(SignalKind::hangup()) {
            tokio::spawn(async move {
                while hup.recv().await.is_some() {
                    tracing::info!("SIGHUP: no rule files to reload");
                }
            });
        }
    }
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
