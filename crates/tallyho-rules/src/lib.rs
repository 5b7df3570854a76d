//! Alerting and recording rules for tallyho, in Prometheus' rule file format, evaluated
//! with Prometheus 2.42's semantics over any [`tallyho_query::Storage`].
//!
//! - [`Rules::load`] reads and validates rule files as `promtool check rules` does; errors
//!   name the file, line and reason.
//! - [`RuleManager`] evaluates each group every interval on its own thread (with an
//!   injectable [`Clock`]), writes recorded series and `ALERTS`/`ALERTS_FOR_STATE` through
//!   an [`Appender`], and hands alerts to [`Notifiers`] (Alertmanager v2, webhook, console,
//!   callback), each with a bounded queue and its own thread.
//! - [`api`] builds the bodies of `/api/v1/rules` and `/api/v1/alerts`.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use tallyho_query::{Labels, RangeSeries, Sample};
//! use tallyho_rules::{Appender, ManagerOptions, ManualClock, Notifiers, RuleManager, Rules};
//!
//! struct Recorded(Mutex<Vec<(i64, Labels, f64)>>);
//! impl Appender for Recorded {
//!     fn append(&self, t: i64, samples: &[(Labels, f64)]) -> Result<(), String> {
//!         let mut v = self.0.lock().unwrap();
//!         v.extend(samples.iter().map(|(l, x)| (t, l.clone(), *x)));
//!         Ok(())
//!     }
//! }
//!
//! let rules = Rules::from_text("r.yml", r#"
//! groups:
//!   - name: g
//!     rules:
//!       - alert: Hot
//!         expr: temp > 30
//!         annotations: { summary: "{{ $labels.room }} is {{ $value }}°C" }
//! "#)?;
//! let temp = Labels::new([("__name__".to_string(), "temp".to_string()), ("room".to_string(), "lab".to_string())]);
//! let storage = Arc::new(vec![RangeSeries { labels: temp, samples: vec![Sample { t: 0, v: 35.0 }] }]);
//! let out = Arc::new(Recorded(Mutex::new(Vec::new())));
//! let mgr = RuleManager::new(rules, storage, out.clone(), Notifiers::new(),
//!     Arc::new(ManualClock::new(0)), ManagerOptions::default());
//! mgr.evaluate_at(60_000);
//! let alert = &mgr.groups()[0].rules[0].alerts[0];
//! assert_eq!(alert.annotations.get("summary"), "lab is 35°C");
//! assert_eq!(alert.state.as_str(), "firing"); // no `for:`, so it fires at once
//! let written = out.0.lock().unwrap();
//! assert_eq!(written[0].1.to_string(), r#"ALERTS{alertname="Hot", alertstate="firing", room="lab"}"#);
//! # Ok::<(), tallyho_rules::RulesError>(())
//! ```
#![deny(missing_docs)]

mod alert;
pub mod api;
mod clock;
mod duration;
mod error;
mod eval;
mod group;
mod manager;
mod metrics;
mod notify;
mod rulefmt;
mod template;
mod time;
mod yaml;

pub use alert::{Alert, AlertState, RESOLVED_RETENTION_MS};
pub use clock::{Clock, ManualClock, SystemClock};
pub use duration::{format_duration, parse_duration};
pub use error::{Problem, RulesError};
pub use eval::Appender;
pub use group::{GroupStatus, Health, RuleStatus};
pub use manager::{ManagerOptions, RuleManager, Rules};
pub use metrics::RulesCollector;
pub use notify::{alertmanager_body, webhook_body};
pub use notify::{
    AlertmanagerSink, CallbackSink, ConsoleSink, DeliveryError, Notification, NotifierOptions,
    NotifierStats, Notifiers, Sink, WebhookSink,
};
pub use rulefmt::{
    load_file, parse_rules, valid_label_name, valid_metric_name, GroupSpec, RuleFile, RuleSpec,
};
pub use template::{humanize, humanize_duration, NoQuery, Template, TemplateData, TemplateQuery};
pub use time::rfc3339_ms;
