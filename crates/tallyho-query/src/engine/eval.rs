//! The evaluator: walks the AST, evaluating every node over a whole grid of steps.

use std::time::Instant;

use promql_parser::parser::{Expr, UnaryExpr};

use super::value::{merge_equal_labels, Grid, Val};
use super::EngineOptions;
use crate::error::{ErrorKind, QueryError};
use crate::storage::Storage;

/// The state of one query's evaluation.
pub(crate) struct Ctx<'a> {
    /// Where samples come from.
    pub storage: &'a dyn Storage,
    /// Budgets and lookback.
    pub opts: &'a EngineOptions,
    /// The query's first step (what `@ start()` means), ms.
    pub query_start: i64,
    /// The query's last step (what `@ end()` means), ms.
    pub query_end: i64,
    /// When the query must have finished.
    deadline: Instant,
    /// Samples and points held now (an estimate of Prometheus' "current samples").
    current: usize,
    /// The most held at once.
    pub peak: usize,
    /// Samples read from the storage, in all.
    pub samples_read: usize,
}

impl<'a> Ctx<'a> {
    /// A context for one query over `[query_start, query_end]`.
    pub fn new(
        storage: &'a dyn Storage,
        opts: &'a EngineOptions,
        query_start: i64,
        query_end: i64,
        started: Instant,
    ) -> Self {
        let deadline = started
            .checked_add(opts.timeout)
            .unwrap_or_else(|| started + std::time::Duration::from_secs(86_400 * 365));
        Ctx {
            storage,
            opts,
            query_start,
            query_end,
            deadline,
            current: 0,
            peak: 0,
            samples_read: 0,
        }
    }

    /// Errors when the query ran past its deadline.
    pub fn check_deadline(&self) -> Result<(), QueryError> {
        if Instant::now() > self.deadline {
            return Err(QueryError::new(
                ErrorKind::Timeout,
                "query timed out in query execution",
            ));
        }
        Ok(())
    }

    /// Accounts `n` more samples held in memory; errors past `max_samples`.
    pub fn charge(&mut self, n: usize) -> Result<(), QueryError> {
        self.current = self.current.saturating_add(n);
        self.peak = self.peak.max(self.current);
        if self.current > self.opts.max_samples {
            return Err(too_many_samples());
        }
        Ok(())
    }

    /// Evaluates `expr` at every step of `grid`.
    pub fn eval(&mut self, expr: &Expr, grid: &Grid) -> Result<Val, QueryError> {
        self.check_deadline()?;
        let before = self.current;
        let v = self.eval_node(expr, grid)?;
        // The children are gone; what stays is this node's output.
        self.current = before;
        self.charge(v.points())?;
        Ok(v)
    }

    fn eval_node(&mut self, expr: &Expr, grid: &Grid) -> Result<Val, QueryError> {
        match expr {
            Expr::NumberLiteral(n) => Ok(Val::Scalar(vec![n.val; grid.len])),
            Expr::StringLiteral(s) => Ok(Val::Str(super::strings::unescape(&s.val))),
            Expr::Paren(p) => self.eval(&p.expr, grid),
            Expr::Unary(u) => self.eval_unary(u, grid),
            Expr::VectorSelector(vs) => self.eval_vector_selector(vs, grid, false),
            Expr::MatrixSelector(ms) => {
                if grid.len != 1 {
                    return Err(range_vector_in_range_query());
                }
                Ok(Val::Matrix(self.matrix_selector_raw(ms, grid.start)?))
            }
            Expr::Subquery(sq) => {
                if grid.len != 1 {
                    return Err(range_vector_in_range_query());
                }
                Ok(Val::Matrix(self.subquery_raw(sq, grid.start)?))
            }
            Expr::Aggregate(a) => self.eval_aggregate(a, grid),
            Expr::Binary(b) => self.eval_binary(b, grid),
            Expr::Call(c) => self.eval_call(c, grid),
            Expr::Extension(_) => Err(QueryError::unsupported("extension expressions")),
        }
    }

    fn eval_unary(&mut self, u: &UnaryExpr, grid: &Grid) -> Result<Val, QueryError> {
        match self.eval(&u.expr, grid)? {
            Val::Scalar(v) => Ok(Val::Scalar(v.into_iter().map(|x| -x).collect())),
            Val::Vector(series) => {
                let negated = series
                    .into_iter()
                    .map(|mut s| {
                        s.labels.remove("__name__");
                        for v in s.vals.iter_mut().flatten() {
                            *v = -*v;
                        }
                        s
                    })
                    .collect();
                Ok(Val::Vector(merge_equal_labels(negated)?))
            }
            other => Err(QueryError::bad_data(format!(
                "unary expression only allowed on expressions of type scalar or instant vector, got {:?}",
                other.type_name()
            ))),
        }
    }

    /// Evaluates an argument that must be a scalar.
    pub fn eval_scalar(&mut self, expr: &Expr, grid: &Grid) -> Result<Vec<f64>, QueryError> {
        match self.eval(expr, grid)? {
            Val::Scalar(v) => Ok(v),
            other => Err(QueryError::bad_data(format!(
                "expected type scalar, got {}",
                other.type_name()
            ))),
        }
    }

    /// Evaluates an argument that must be a string.
    pub fn eval_string(&mut self, expr: &Expr, grid: &Grid) -> Result<String, QueryError> {
        match self.eval(expr, grid)? {
            Val::Str(s) => Ok(s),
            other => Err(QueryError::bad_data(format!(
                "expected type string, got {}",
                other.type_name()
            ))),
        }
    }

    /// Evaluates an argument that must be an instant vector.
    pub fn eval_vector(
        &mut self,
        expr: &Expr,
        grid: &Grid,
    ) -> Result<Vec<super::value::Series>, QueryError> {
        match self.eval(expr, grid)? {
            Val::Vector(v) => Ok(v),
            other => Err(QueryError::bad_data(format!(
                "expected type instant vector, got {}",
                other.type_name()
            ))),
        }
    }
}

/// Prometheus' message when the samples budget runs out.
pub(crate) fn too_many_samples() -> QueryError {
    QueryError::new(
        ErrorKind::TooLarge,
        "query processing would load too many samples into memory in query execution",
    )
}

/// A range vector where a range query needs a scalar or instant vector.
pub(crate) fn range_vector_in_range_query() -> QueryError {
    QueryError::bad_data(
        "invalid expression type \"range vector\" for range query, must be Scalar or instant Vector",
    )
}

/// Strips any parentheses around `expr`.
pub(crate) fn unparen(mut expr: &Expr) -> &Expr {
    while let Expr::Paren(p) = expr {
        expr = &p.expr;
    }
    expr
}
