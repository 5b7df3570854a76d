//! PromQL for tallyho: queries parsed by [`promql_parser`] and evaluated with Prometheus'
//! semantics (5-minute lookback, staleness markers, extrapolated `rate`, vector matching)
//! over any [`Storage`].
//!
//! The engine owns no data: a [`Storage`] selects series by label matchers and hands back
//! their samples in a time range. `tallyho-history` is one implementation; tests use
//! in-memory fixtures.
#![deny(missing_docs)]

mod engine;
mod error;
mod functions;
mod storage;
mod types;

pub use engine::{parse, Engine, EngineOptions, QueryStats};
pub use error::{ErrorKind, QueryError};
/// The parser crate, so callers can hold a parsed [`promql_parser::parser::Expr`].
pub use promql_parser;
pub use storage::{MatchOp, Matcher, Storage, StorageError};
pub use types::{is_stale, InstantSample, Labels, RangeSeries, Sample, Value, STALE_NAN};
