//! The agent's rules: `[alerting]` rule files evaluated over the history by a
//! [`RuleManager`], recorded series and `ALERTS` written back into it, alerts sent to
//! Alertmanager and/or stderr, `/api/v1/rules` and `/api/v1/alerts` served by the endpoint,
//! and reloads (SIGHUP, `POST /-/reload`) that keep the old rules when a file is bad.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tallyho_history::History;
use tallyho_query::Labels;
use tallyho_rules::api::{alerts_body, rules_body, RuleType};
use tallyho_rules::{
    Appender, ConsoleSink, ManagerOptions, NotifierOptions, Notifiers, RuleManager, Rules,
    SystemClock,
};

use crate::config::{self, AlertingSettings};

/// Writes recorded series, `ALERTS` and `ALERTS_FOR_STATE` into the history.
#[derive(Debug, Clone)]
pub struct ToHistory(pub History);

impl Appender for ToHistory {
    fn append(&self, t_ms: i64, samples: &[(Labels, f64)]) -> Result<(), String> {
        self.0
            .append_samples(t_ms, samples)
            .map(|_| ())
            .map_err(|e| format!("writing rule results into the history: {e}"))
    }
}

/// The manager as the endpoint's [`tallyho_http::RulesApi`].
#[derive(Debug, Clone)]
pub struct RulesHttp(pub Arc<RuleManager>);

impl tallyho_http::RulesApi for RulesHttp {
    fn rules(&self, kind: Option<&str>) -> Result<Value, String> {
        let which = RuleType::parse(kind)?;
        Ok(rules_body(&self.0.groups(), which))
    }

    fn alerts(&self) -> Value {
        alerts_body(&self.0.groups())
    }
}

/// The running rules: the manager and its notifiers.
#[derive(Debug)]
pub struct Running {
    /// The manager (shared with the endpoint and the reload hook).
    pub manager: Arc<RuleManager>,
    notifiers: Notifiers,
}

impl Running {
    /// Stops evaluating, then gives the notifiers `grace` to deliver what is queued.
    pub fn stop(&self, grace: Duration) {
        self.manager.stop();
        let _ = self.notifiers.flush(grace);
        self.notifiers.stop(Duration::from_secs(1));
    }
}

/// The rule files as the rules crate names them.
fn file_names(files: &[PathBuf]) -> Vec<String> {
    files
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect()
}

/// Loads the rule files `cfg` names, and starts evaluating them over `history`.
///
/// # Errors
/// A bad rule file (the message names file, line and reason), or a bad Alertmanager URL.
pub fn start(
    cfg: &AlertingSettings,
    history: &History,
    listen: std::net::SocketAddr,
) -> Result<Running, String> {
    let rules = Rules::load(&file_names(&cfg.rule_files)).map_err(|e| e.to_string())?;
    for w in rules.warnings() {
        tracing::warn!("rules: {w}");
    }
    let notifiers = Notifiers::new();
    if let Some(url) = &cfg.alertmanager_url {
        notifiers
            .alertmanager(url, NotifierOptions::default())
            .map_err(|e| format!("alerting.alertmanager_url: {e}"))?;
    }
    if cfg.console {
        notifiers
            .add("console", ConsoleSink::stderr(), NotifierOptions::default())
            .map_err(|e| e.to_string())?;
    }
    let opts = ManagerOptions {
        evaluation_interval: cfg.evaluation_interval,
        external_url: format!("http://{listen}"),
        ..ManagerOptions::default()
    };
    let manager = Arc::new(RuleManager::new(
        rules,
        Arc::new(history.clone()),
        Arc::new(ToHistory(history.clone())),
        notifiers.clone(),
        Arc::new(SystemClock),
        opts,
    ));
    manager.start().map_err(|e| e.to_string())?;
    Ok(Running { manager, notifiers })
}

/// Reloads the rules: with a configuration file, re-reads its `[alerting] rule_files`
/// (other keys need a restart), then the files. A bad file or configuration keeps the
/// running rules; the error is logged and returned.
///
/// # Errors
/// What was refused, naming the file (and line).
pub fn reload(manager: &RuleManager, config_file: Option<&Path>) -> Result<(), String> {
    let result = match config_file {
        None => manager.reload().map_err(|e| e.to_string()),
        Some(path) => files_of(path).and_then(|files| {
            manager
                .load_files(&file_names(&files))
                .map_err(|e| e.to_string())
        }),
    };
    match &result {
        Ok(()) => tracing::info!(
            groups = manager.groups().len(),
            files = ?manager.rules().files(),
            "rules reloaded"
        ),
        Err(e) => tracing::error!("reload refused, the old rules keep running: {e}"),
    }
    result
}

/// The rule files a configuration file names now, resolved against its directory. The
/// whole file is checked as at startup (with the process environment), so a file that
/// would not start the agent is not half-applied.
fn files_of(path: &Path) -> Result<Vec<PathBuf>, String> {
    let mut raw = config::read_file(path)?;
    let files = raw.alerting.rule_files.clone();
    raw.apply_env(&config::process_env);
    config::Settings::from_raw(&raw, &config::process_env)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(files)
}
