//! The pieces of the `tallyho` agent that are worth testing and measuring on their own:
//! configuration loading, StatsD ingestion, the history and rules wiring and `tallyho
//! query`.
#![deny(missing_docs)]

pub mod alerting;
pub mod config;
pub mod export;
pub mod history;
pub mod query;
pub mod statsd;
pub mod units;
