//! Semantics of the PromQL evaluator over in-memory fixtures: selectors (lookback,
//! staleness, offset, `@`), subqueries, aggregations, operators and matching, functions,
//! budgets and malformed input.

mod common;

mod aggregations;
mod binary;
mod budgets;
mod functions;
mod selectors;
mod structured_prop;
