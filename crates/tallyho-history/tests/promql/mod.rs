//! The differential harness: a dataset, a real Prometheus, a query corpus, and a comparison
//! of results query by query.
#![allow(dead_code)]

pub mod compare;
pub mod corpus;
pub mod dataset;
pub mod report;
pub mod run;
pub mod server;
pub mod snapshot;
pub mod storages;

use tallyho_query::{ErrorKind, Value};

/// Why a query gave no result.
#[derive(Debug, Clone)]
pub struct Failure {
    /// Prometheus' `errorType` (`bad_data`, `execution`, ...).
    pub error_type: String,
    /// The message.
    pub message: String,
    /// tallyho said it does not evaluate this construct.
    pub unsupported: bool,
}

impl From<tallyho_query::QueryError> for Failure {
    fn from(e: tallyho_query::QueryError) -> Self {
        Failure {
            error_type: e.kind.error_type().to_string(),
            unsupported: e.kind == ErrorKind::Unsupported,
            message: e.message,
        }
    }
}

/// What one side answered.
pub type Outcome = Result<Value, Failure>;
