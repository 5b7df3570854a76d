//! Rule files loaded as a set, and the manager that evaluates their groups on a timer
//! (one thread per group), reloads them, and hands alerts to the notifiers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tallyho_query::{Engine, EngineOptions, Labels, Storage};

use crate::alert::Alert;
use crate::clock::Clock;
use crate::error::RulesError;
use crate::eval::{Appender, EvalEnv};
use crate::group::{eval_timestamp, group_hash, Group, GroupStatus};
use crate::metrics::Metrics;
use crate::notify::{Notification, Notifiers};
use crate::rulefmt::{load_file, parse_rules, GroupSpec};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A validated set of rule files.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    files: Vec<String>,
    groups: Vec<GroupSpec>,
    warnings: Vec<String>,
}

impl Rules {
    /// Reads and validates every file.
    ///
    /// # Errors
    /// The first file's [`RulesError`] that cannot be read or is invalid (file, line, reason).
    pub fn load<P: AsRef<str>>(paths: &[P]) -> Result<Rules, RulesError> {
        let mut rules = Rules::default();
        for p in paths {
            let f = load_file(p.as_ref())?;
            rules.files.push(p.as_ref().to_string());
            rules.groups.extend(f.groups);
            rules.warnings.extend(
                f.warnings
                    .into_iter()
                    .map(|w| format!("{}: {w}", p.as_ref())),
            );
        }
        Ok(rules)
    }

    /// Rules from text; `file` names it in errors and in the API.
    ///
    /// # Errors
    /// [`RulesError::Invalid`].
    pub fn from_text(file: &str, text: &str) -> Result<Rules, RulesError> {
        let f = parse_rules(file, text)?;
        Ok(Rules {
            files: Vec::new(),
            groups: f.groups,
            warnings: f.warnings,
        })
    }

    /// Reads the same files again.
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub fn reload(&self) -> Result<Rules, RulesError> {
        Rules::load(&self.files)
    }

    /// The groups, file by file.
    pub fn groups(&self) -> &[GroupSpec] {
        &self.groups
    }

    /// The files read (empty for [`from_text`](Self::from_text)).
    pub fn files(&self) -> &[String] {
        &self.files
    }

    /// Lint warnings (duplicate rules) that did not refuse the files.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

/// Settings of the rule manager.
#[derive(Debug, Clone)]
pub struct ManagerOptions {
    /// Interval of groups without `interval:` (Prometheus' `global.evaluation_interval`: 1m).
    pub evaluation_interval: Duration,
    /// How often a firing alert is sent again (Prometheus' `--rules.alert.resend-delay`: 1m).
    pub resend_delay: Duration,
    /// Labels added to alerts sent out (when absent) and shown to templates.
    pub external_labels: Labels,
    /// The URL `generatorURL` links start with, and `$externalURL` in templates.
    pub external_url: String,
    /// Query budgets.
    pub engine: EngineOptions,
    /// Offset each group's slot by a hash of its file and name, as Prometheus does, so
    /// groups do not all evaluate at once. Off: slots are multiples of the interval.
    pub spread_groups: bool,
}

impl Default for ManagerOptions {
    fn default() -> Self {
        ManagerOptions {
            evaluation_interval: Duration::from_secs(60),
            resend_delay: Duration::from_secs(60),
            external_labels: Labels::default(),
            external_url: "http://localhost:9464".into(),
            engine: EngineOptions::default(),
            spread_groups: true,
        }
    }
}

struct Cell {
    group: Mutex<Group>,
    status: Mutex<Arc<GroupStatus>>,
    stop: AtomicBool,
    wake: Condvar,
    wake_lock: Mutex<()>,
}

struct Shared {
    opts: ManagerOptions,
    engine: Engine,
    storage: Arc<dyn Storage>,
    appender: Arc<dyn Appender>,
    notifiers: Notifiers,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
}

/// Evaluates rule groups over a [`Storage`], writing through an [`Appender`] and sending
/// alerts to [`Notifiers`].
pub struct RuleManager {
    shared: Arc<Shared>,
    rules: Mutex<Rules>,
    cells: Mutex<Vec<Arc<Cell>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    running: AtomicBool,
}

impl std::fmt::Debug for RuleManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleManager")
            .field("groups", &lock(&self.cells).len())
            .finish()
    }
}

impl RuleManager {
    /// A manager for `rules`; nothing runs until [`start`](Self::start) (or
    /// [`evaluate_at`](Self::evaluate_at) is called).
    pub fn new(
        rules: Rules,
        storage: Arc<dyn Storage>,
        appender: Arc<dyn Appender>,
        notifiers: Notifiers,
        clock: Arc<dyn Clock>,
        opts: ManagerOptions,
    ) -> Self {
        let shared = Arc::new(Shared {
            engine: Engine::new(opts.engine.clone()),
            opts,
            storage,
            appender,
            notifiers,
            clock,
            metrics: Arc::new(Metrics::default()),
        });
        let cells = build(&shared, &rules);
        RuleManager {
            shared,
            rules: Mutex::new(rules),
            cells: Mutex::new(cells),
            threads: Mutex::new(Vec::new()),
            running: AtomicBool::new(false),
        }
    }

    /// Starts one evaluation thread per group.
    ///
    /// # Errors
    /// [`RulesError::Config`] when a thread cannot be started.
    pub fn start(&self) -> Result<(), RulesError> {
        self.running.store(true, Ordering::SeqCst);
        let cells: Vec<Arc<Cell>> = lock(&self.cells).clone();
        let mut threads = lock(&self.threads);
        for c in cells {
            threads.push(spawn(&self.shared, c)?);
        }
        Ok(())
    }

    /// Evaluates every group at `ts` (ms) on the calling thread, as its timer would.
    pub fn evaluate_at(&self, ts: i64) {
        let cells: Vec<Arc<Cell>> = lock(&self.cells).clone();
        for c in cells {
            eval_cell(&self.shared, &c, ts);
        }
    }

    /// Re-reads the rule files. On any error the running rules stay as they were.
    ///
    /// # Errors
    /// The [`RulesError`] naming file, line and reason.
    pub fn reload(&self) -> Result<(), RulesError> {
        let next = lock(&self.rules).reload();
        self.replace_with(next)
    }

    /// Reads `paths` (a new list of rule files, such as a re-read configuration names) and
    /// runs them instead. On any error the running rules stay as they were; either way the
    /// attempt is counted in the reload self-metrics.
    ///
    /// # Errors
    /// The [`RulesError`] naming file, line and reason.
    pub fn load_files<P: AsRef<str>>(&self, paths: &[P]) -> Result<(), RulesError> {
        self.replace_with(Rules::load(paths))
    }

    fn replace_with(&self, next: Result<Rules, RulesError>) -> Result<(), RulesError> {
        match next {
            Ok(rules) => {
                self.replace(rules);
                Ok(())
            }
            Err(e) => {
                self.shared.metrics.reload(false);
                Err(e)
            }
        }
    }

    /// Replaces the rules, keeping the state of unchanged alerting rules; series of groups
    /// that went away are marked stale.
    pub fn replace(&self, rules: Rules) {
        let new_cells = build(&self.shared, &rules);
        let old_cells = std::mem::replace(&mut *lock(&self.cells), new_cells.clone());
        self.stop_threads(&old_cells);
        let now = self.shared.clock.now_ms();
        for old in &old_cells {
            let mut og = lock(&old.group);
            let matched = new_cells.iter().find(|n| {
                let ng = lock(&n.group);
                ng.file == og.file && ng.name == og.name
            });
            match matched {
                Some(n) => lock(&n.group).copy_state(&mut og),
                None => {
                    let stale = og.stale_all();
                    if !stale.is_empty() {
                        let _ = self.shared.appender.append(now, &stale);
                    }
                }
            }
        }
        for n in &new_cells {
            *lock(&n.status) = Arc::new(lock(&n.group).status());
        }
        *lock(&self.rules) = rules;
        self.shared.metrics.reload(true);
        if self.running.load(Ordering::SeqCst) {
            let mut threads = lock(&self.threads);
            for c in new_cells {
                match spawn(&self.shared, c) {
                    Ok(t) => threads.push(t),
                    Err(_) => self.shared.metrics.reload(false),
                }
            }
        }
    }

    fn stop_threads(&self, cells: &[Arc<Cell>]) {
        for c in cells {
            c.stop.store(true, Ordering::SeqCst);
            let _g = lock(&c.wake_lock);
            c.wake.notify_all();
        }
        let threads = std::mem::take(&mut *lock(&self.threads));
        for t in threads {
            let _ = t.join();
        }
    }

    /// Stops the evaluation threads (the notifiers are stopped by their owner).
    pub fn stop(&self) {
        self.running.store(false, Ordering::SeqCst);
        let cells: Vec<Arc<Cell>> = lock(&self.cells).clone();
        self.stop_threads(&cells);
    }

    /// Every group's status as of its last evaluation, in file order.
    pub fn groups(&self) -> Vec<Arc<GroupStatus>> {
        lock(&self.cells)
            .iter()
            .map(|c| lock(&c.status).clone())
            .collect()
    }

    /// The rules running now.
    pub fn rules(&self) -> Rules {
        lock(&self.rules).clone()
    }

    /// The notifiers.
    pub fn notifiers(&self) -> &Notifiers {
        &self.shared.notifiers
    }

    /// `tallyho_rules_*` self-metrics, for a registry.
    pub fn collector(&self) -> crate::metrics::RulesCollector {
        crate::metrics::RulesCollector::new(
            self.shared.metrics.clone(),
            self.shared.notifiers.clone(),
        )
    }

    /// Evaluations done so far, all groups together.
    pub fn evaluations(&self) -> u64 {
        self.shared.metrics.total_evaluations()
    }
}

impl Drop for RuleManager {
    fn drop(&mut self) {
        self.stop();
    }
}

fn build(shared: &Shared, rules: &Rules) -> Vec<Arc<Cell>> {
    let default_ms = u64::try_from(shared.opts.evaluation_interval.as_millis())
        .unwrap_or(60_000)
        .max(1);
    rules
        .groups()
        .iter()
        .map(|spec| {
            let g = Group::new(spec, default_ms);
            let status = Arc::new(g.status());
            Arc::new(Cell {
                group: Mutex::new(g),
                status: Mutex::new(status),
                stop: AtomicBool::new(false),
                wake: Condvar::new(),
                wake_lock: Mutex::new(()),
            })
        })
        .collect()
}

fn spawn(shared: &Arc<Shared>, cell: Arc<Cell>) -> Result<JoinHandle<()>, RulesError> {
    let shared = shared.clone();
    let name = lock(&cell.group).name.clone();
    std::thread::Builder::new()
        .name(format!("tallyho-rules-{name}"))
        .spawn(move || run(&shared, &cell))
        .map_err(|e| RulesError::Config(format!("group {name:?}: cannot start its thread: {e}")))
}

/// Waits until the clock reaches `deadline`; false when told to stop.
fn wait_until(shared: &Shared, cell: &Cell, deadline: i64) -> bool {
    loop {
        if cell.stop.load(Ordering::SeqCst) {
            return false;
        }
        let now = shared.clock.now_ms();
        if now >= deadline {
            return true;
        }
        let left = Duration::from_millis(u64::try_from(deadline - now).unwrap_or(0));
        let g = lock(&cell.wake_lock);
        if cell.stop.load(Ordering::SeqCst) {
            return false;
        }
        let _ = cell
            .wake
            .wait_timeout(g, left.min(shared.clock.max_sleep()));
    }
}

fn run(shared: &Shared, cell: &Cell) {
    let (interval, offset) = {
        let g = lock(&cell.group);
        let offset = if shared.opts.spread_groups {
            group_hash(&g.file, &g.name) % g.interval_ms
        } else {
            0
        };
        (g.interval_ms as i64, offset)
    };
    let mut next = eval_timestamp(shared.clock.now_ms(), interval as u64, offset) + interval;
    while wait_until(shared, cell, next) {
        // Woken late: evaluate the latest slot that has passed, counting the ones skipped.
        let behind = (shared.clock.now_ms() - next) / interval;
        if behind > 0 {
            shared.metrics.missed(&cell_key(cell), behind as u64);
            next += behind * interval;
        }
        eval_cell(shared, cell, next);
        next += interval;
    }
}

fn cell_key(cell: &Cell) -> (String, String) {
    let g = lock(&cell.group);
    (g.file.clone(), g.name.clone())
}

fn eval_cell(shared: &Shared, cell: &Cell, ts: i64) {
    let env = EvalEnv {
        engine: &shared.engine,
        storage: shared.storage.as_ref(),
        external_labels: &shared.opts.external_labels,
        external_url: &shared.opts.external_url,
    };
    let resend = i64::try_from(shared.opts.resend_delay.as_millis()).unwrap_or(60_000);
    let (outcome, key) = {
        let mut g = lock(&cell.group);
        let outcome = g.eval(ts, &env, shared.appender.as_ref(), resend);
        *lock(&cell.status) = Arc::new(g.status());
        (outcome, (g.file.clone(), g.name.clone()))
    };
    shared
        .metrics
        .evaluated(&key, outcome.failures as u64, outcome.seconds);
    for (expr, alerts) in &outcome.notices {
        let batch: Vec<Notification> = alerts
            .iter()
            .map(|a| notification(&shared.opts, expr, a))
            .collect();
        shared.notifiers.send(&batch);
    }
}

/// Prometheus' `sendAlerts`: external labels added when absent, `endsAt` the resolve time
/// or the validity limit.
fn notification(opts: &ManagerOptions, expr: &str, a: &Alert) -> Notification {
    let mut labels = a.labels.clone();
    for (k, v) in opts.external_labels.iter() {
        if labels.get(k).is_empty() {
            labels.set(k, v);
        }
    }
    Notification {
        labels,
        annotations: a.annotations.clone(),
        starts_at_ms: a.fired_at_ms.unwrap_or(a.active_at_ms),
        ends_at_ms: a.resolved_at_ms.unwrap_or(a.valid_until_ms),
        generator_url: format!(
            "{}{}",
            opts.external_url.trim_end_matches('/'),
            crate::api::table_link(expr)
        ),
        resolved: a.resolved_at_ms.is_some(),
    }
}
