//! The pieces of the `tallyho` agent that are worth testing and measuring on their own:
//! configuration loading, StatsD ingestion, the history wiring and `tallyho query`.
#![deny(missing_docs)]

pub mod config;
pub mod history;
pub mod query;
pub mod statsd;
pub mod units;
