//! The pieces of the `tallyho` agent that are worth testing and measuring on their own:
//! configuration loading and StatsD ingestion.
#![deny(missing_docs)]

pub mod config;
pub mod statsd;
