//! Rule templates: Go `text/template` syntax with Prometheus' data (`$labels`, `$value`,
//! `$externalLabels`, `$externalURL`) and functions (`humanize`, `query`, `printf`, …).
//!
//! Templates are parsed when a rule file loads, so syntax errors and unknown functions
//! refuse the file; execution errors become Prometheus' `<error expanding template: …>` text.

mod exec;
mod funcs;
mod gofmt;
mod parse;
mod printf;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::rc::Rc;

use exec::{Exec, QuerySample, Root, Val};

pub(crate) use gofmt::format_e_shortest;

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    name: String,
    source: String,
    nodes: Vec<parse::Node>,
}

/// What a template sees.
#[derive(Debug, Clone, Default)]
pub struct TemplateData<'a> {
    /// The alert's sample labels (`$labels`).
    pub labels: Vec<(&'a str, &'a str)>,
    /// `$externalLabels`.
    pub external_labels: Vec<(&'a str, &'a str)>,
    /// `$externalURL`.
    pub external_url: &'a str,
    /// `$value`.
    pub value: f64,
}

/// Samples a template query gives: (label pairs, value).
pub type QueryResult = Vec<(Vec<(String, String)>, f64)>;

/// Answers the `query` template function: PromQL at the evaluation time.
pub trait TemplateQuery {
    /// The samples of `query`, as (labels, value), or an error message.
    ///
    /// # Errors
    /// The query's error message.
    fn query(&self, query: &str) -> Result<QueryResult, String>;
}

/// A [`TemplateQuery`] that refuses every query.
pub struct NoQuery;

impl TemplateQuery for NoQuery {
    fn query(&self, _query: &str) -> Result<QueryResult, String> {
        Err("queries are not available here".into())
    }
}

struct EnvAdapter<'a>(&'a dyn TemplateQuery);

impl exec::Env for EnvAdapter<'_> {
    fn query(&self, query: &str) -> Result<Vec<Val>, String> {
        Ok(self
            .0
            .query(query)?
            .into_iter()
            .map(|(labels, value)| {
                Val::Sample(Rc::new(QuerySample {
                    labels: Rc::new(labels.into_iter().collect()),
                    value,
                }))
            })
            .collect())
    }
}

fn map(pairs: &[(&str, &str)]) -> Rc<BTreeMap<String, String>> {
    Rc::new(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect(),
    )
}

impl Template {
    /// Parses `source`; `name` is what errors call it (Prometheus: `__alert_<name>`).
    ///
    /// # Errors
    /// `template: <name>:<line>: <reason>`, as Go words it.
    pub fn parse(name: &str, source: &str) -> Result<Template, String> {
        let nodes =
            parse::parse(source, &funcs::known).map_err(|e| format!("template: {name}:{e}"))?;
        Ok(Template {
            name: name.to_string(),
            source: source.to_string(),
            nodes,
        })
    }

    /// The source text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Expands the template.
    ///
    /// # Errors
    /// `error executing template <name>: template: <name>:<line>: executing …` on a failed
    /// function call or field access, or output over 1 MiB.
    pub fn expand(
        &self,
        data: &TemplateData<'_>,
        query: &dyn TemplateQuery,
    ) -> Result<String, String> {
        let root = Val::Root(Rc::new(Root {
            labels: map(&data.labels),
            external_labels: map(&data.external_labels),
            external_url: data.external_url.to_string(),
            value: data.value,
        }));
        let Val::Root(r) = &root else {
            return Err("internal: root".into());
        };
        let vars = vec![
            ("$".to_string(), root.clone()),
            ("$labels".to_string(), Val::Map(r.labels.clone())),
            (
                "$externalLabels".to_string(),
                Val::Map(r.external_labels.clone()),
            ),
            ("$externalURL".to_string(), Val::Str(r.external_url.clone())),
            ("$value".to_string(), Val::Float(r.value)),
        ];
        let env = EnvAdapter(query);
        let mut ex = Exec {
            env: &env,
            vars,
            out: String::new(),
        };
        match ex.run(&self.nodes, &root) {
            Ok(()) => Ok(ex.out),
            Err(e) => {
                let name = &self.name;
                Err(format!(
                    "error executing template {name}: template: {name}:{}: executing {name:?} at <{}>: {}",
                    e.line, e.at, e.message
                ))
            }
        }
    }

    /// Expands the template, or gives Prometheus' `<error expanding template: …>` text.
    pub fn expand_or_error(&self, data: &TemplateData<'_>, query: &dyn TemplateQuery) -> String {
        self.expand(data, query)
            .unwrap_or_else(|e| format!("<error expanding template: {e}>"))
    }
}

/// Prometheus' `humanize` (SI prefixes, four significant digits), for callers outside
/// templates.
pub fn humanize(v: f64) -> String {
    funcs::humanize(v)
}

/// Prometheus' `humanizeDuration` of seconds.
pub fn humanize_duration(seconds: f64) -> String {
    funcs::humanize_duration(seconds)
}
