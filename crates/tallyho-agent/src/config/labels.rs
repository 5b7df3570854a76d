//! `[labels]` and `cardinality_limit`: what the agent's registry is built with, checked
//! here the way the registry itself checks them, so that `check-config` finds every error
//! `serve` would.

use super::raw::RawConfig;

/// The `[labels]` table as constant labels beside `service`.
///
/// # Errors
/// A message naming `labels.<name>`: a name the registry refuses (not a label name,
/// reserved, or `service`, which the top-level `service` key sets) or an empty value.
pub(super) fn constant_labels(raw: &RawConfig) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::with_capacity(raw.labels.len());
    for (name, value) in &raw.labels {
        if name == "service" {
            return Err("labels.service: set by the top-level `service` key instead".into());
        }
        if value.is_empty() {
            return Err(format!(
                "labels.{name} = \"\": an empty value is no label (leave it out)"
            ));
        }
        // The registry's own check: the name rules and the reserved names.
        tallyho::Registry::builder()
            .constant_label(name.clone(), value.clone())
            .build()
            .map_err(|e| format!("labels.{name}: {e}"))?;
        out.push((name.clone(), value.clone()));
    }
    Ok(out)
}

/// `cardinality_limit`, `None` for the registry's default (0).
///
/// # Errors
/// A limit above 1,000,000.
pub(super) fn cardinality_limit(raw: &RawConfig) -> Result<Option<usize>, String> {
    match raw.cardinality_limit {
        0 => Ok(None),
        n if n <= 1_000_000 => Ok(Some(n)),
        n => Err(format!(
            "cardinality_limit = {n}: must be at most 1000000 (0: the default of {})",
            tallyho::DEFAULT_CARDINALITY_LIMIT
        )),
    }
}
