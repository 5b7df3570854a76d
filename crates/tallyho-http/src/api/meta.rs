//! The small endpoints clients call besides queries: `/status/buildinfo` (Grafana reads the
//! version), `/metadata` (type, help and unit of the registry's families) and
//! `/query_exemplars` (always empty: the history keeps no exemplars).

use std::collections::BTreeMap;
use std::io;

use tallyho::{FamilyInfo, MetricKind, Point, Source, Visitor};

use super::handlers::{MAX_TIME_MS, MIN_TIME_MS};
use super::params::{time_param, truncate};
use super::{ApiError, Ctx};

/// `GET /api/v1/status/buildinfo`.
pub(crate) fn build_info(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let b = &ctx.api.build_info;
    Ok(serde_json::json!({
        "version": b.version,
        "revision": b.revision,
        "branch": "",
        "buildUser": "",
        "buildDate": "",
        "goVersion": "",
    })
    .to_string())
}

/// One `{type, help, unit}` entry, per family name as the Prometheus text format writes it.
#[derive(Default)]
struct Families {
    by_name: BTreeMap<String, (&'static str, String, String)>,
}

impl Visitor for Families {
    fn family(&mut self, info: &FamilyInfo<'_>) -> io::Result<()> {
        let (kind, name) = match info.kind {
            MetricKind::Counter => ("counter", format!("{}_total", info.name)),
            MetricKind::Histogram => ("histogram", info.name.to_string()),
            MetricKind::Info => ("gauge", format!("{}_info", info.name)),
            MetricKind::GaugeHistogram => ("gaugehistogram", info.name.to_string()),
            MetricKind::Summary => ("summary", info.name.to_string()),
            // Gauges, up-down counters and kinds added later: the text format's `gauge`.
            _ => ("gauge", info.name.to_string()),
        };
        self.by_name
            .insert(name, (kind, info.help.to_string(), info.unit.to_string()));
        Ok(())
    }

    fn point(&mut self, _point: &Point<'_>) -> io::Result<()> {
        Ok(())
    }
}

/// `GET /api/v1/metadata?metric=&limit=`: the endpoint's registry families.
pub(crate) fn metadata(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let limit = match ctx.params.get("limit") {
        "" => None,
        s => Some(
            s.parse::<i64>()
                .map_err(|_| ApiError::bad_data("limit must be a number"))?,
        ),
    };
    let metric = ctx.params.get("metric");
    let mut families = Families::default();
    ctx.registry
        .visit(&mut families)
        .map_err(|e| ApiError::bad_data(format!("reading the registry: {e}")))?;
    let mut out = serde_json::Map::new();
    for (name, (kind, help, unit)) in families.by_name {
        if !metric.is_empty() && name != metric {
            continue;
        }
        if limit.is_some_and(|l| l >= 0 && out.len() as i64 >= l) {
            break;
        }
        out.insert(
            name,
            serde_json::json!([{ "type": kind, "help": help, "unit": unit }]),
        );
    }
    Ok(serde_json::Value::Object(out).to_string())
}

/// `GET|POST /api/v1/query_exemplars?query=&start=&end=`: checks the parameters as
/// Prometheus does and answers no exemplars.
pub(crate) fn exemplars(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let start = time_param(ctx.params, "start", MIN_TIME_MS)?;
    let end = time_param(ctx.params, "end", MAX_TIME_MS)?;
    if end < start {
        return Err(ApiError::bad_data(
            "end timestamp must not be before start timestamp",
        ));
    }
    let query = ctx.params.get("query");
    promql_parser::parser::parse(query)
        .map_err(|e| ApiError::bad_data(format!("{:?}: {e}", truncate(query))))?;
    Ok("[]".into())
}
