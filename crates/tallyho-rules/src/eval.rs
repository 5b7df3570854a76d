//! What a rule evaluation reads: the engine, the storage, external labels; and the
//! recording rule, which is small enough to live here.

use std::collections::HashSet;
use std::sync::Arc;

use tallyho_query::promql_parser::parser::Expr;
use tallyho_query::{Engine, InstantSample, Labels, Storage, Value};

use crate::rulefmt::RuleSpec;
use crate::template::TemplateQuery;

/// Where writes of recorded series, `ALERTS` and `ALERTS_FOR_STATE` go (the history, in
/// the agent).
pub trait Appender: Send + Sync {
    /// Appends `samples` at `t_ms` (milliseconds since the epoch). A sample whose value has
    /// the bits of [`tallyho_query::STALE_NAN`] marks its series stale.
    ///
    /// # Errors
    /// A message naming why the samples could not be stored.
    fn append(&self, t_ms: i64, samples: &[(Labels, f64)]) -> Result<(), String>;
}

/// Everything one evaluation reads.
pub(crate) struct EvalEnv<'a> {
    pub engine: &'a Engine,
    pub storage: &'a dyn Storage,
    pub external_labels: &'a Labels,
    pub external_url: &'a str,
}

impl EvalEnv<'_> {
    pub fn template_query(&self, ts: i64) -> TemplateQueries<'_> {
        TemplateQueries {
            engine: self.engine,
            storage: self.storage,
            ts,
        }
    }
}

/// Answers a template's `query` at the evaluation time.
pub(crate) struct TemplateQueries<'a> {
    engine: &'a Engine,
    storage: &'a dyn Storage,
    ts: i64,
}

impl TemplateQuery for TemplateQueries<'_> {
    fn query(&self, query: &str) -> Result<crate::template::QueryResult, String> {
        let expr = tallyho_query::parse(query).map_err(|e| e.message)?;
        let samples = vector_of(self.engine, self.storage, &expr, self.ts)?;
        Ok(samples
            .into_iter()
            .map(|s| (s.labels.into_vec(), s.v))
            .collect())
    }
}

fn vector_of(
    engine: &Engine,
    storage: &dyn Storage,
    expr: &Expr,
    ts: i64,
) -> Result<Vec<InstantSample>, String> {
    // The engine is a dependency: a bug in it must not take the evaluation thread down.
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        engine.instant_expr(storage, expr, ts)
    }))
    .map_err(|_| "query engine failed on this expression".to_string())?;
    match res.map_err(|e| e.message)?.0 {
        Value::Vector(v) => Ok(v),
        Value::Scalar { t, v } => Ok(vec![InstantSample {
            labels: Labels::default(),
            t,
            v,
        }]),
        _ => Err("rule result is not a vector or scalar".into()),
    }
}

/// Prometheus' `EngineQueryFunc`: the instant vector of `expr` at `ts` (a scalar becomes
/// one sample without labels).
pub(crate) fn query_vector(
    env: &EvalEnv<'_>,
    expr: &Expr,
    ts: i64,
) -> Result<Vec<InstantSample>, String> {
    vector_of(env.engine, env.storage, expr, ts)
}

/// A recording rule.
#[derive(Debug)]
pub(crate) struct RecordingRule {
    pub spec: Arc<RuleSpec>,
}

impl RecordingRule {
    /// The rule's series at `ts`: the result with `__name__` = record and `labels:` applied.
    ///
    /// # Errors
    /// The query's error, duplicate label sets after relabelling, or more than `limit` series.
    pub fn eval(
        &self,
        ts: i64,
        env: &EvalEnv<'_>,
        limit: usize,
    ) -> Result<Vec<(Labels, f64)>, String> {
        let res = query_vector(env, &self.spec.parsed, ts)?;
        let mut out = Vec::with_capacity(res.len());
        let mut seen = HashSet::with_capacity(res.len());
        for s in res {
            let mut l = s.labels;
            l.set("__name__", &self.spec.name);
            for (k, v) in &self.spec.labels {
                l.set(k, v);
            }
            if !seen.insert(l.clone()) {
                return Err(
                    "vector contains metrics with the same labelset after applying rule labels"
                        .into(),
                );
            }
            out.push((l, s.v));
        }
        if limit > 0 && out.len() > limit {
            return Err(format!(
                "exceeded limit of {limit} with {} series",
                out.len()
            ));
        }
        Ok(out)
    }
}
