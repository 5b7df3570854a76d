//! The sample names a family puts in an exposition, and the index that keeps two families
//! from putting the same one there.
//!
//! OpenMetrics: "The name of a MetricFamily MUST NOT result in a potential clash for sample
//! metric names as per the ABNF with another MetricFamily in the Text Format within a
//! MetricSet" (its example: a gauge `foo_created` and a counter `foo`). promtool and the
//! reference parsers reject the whole scrape when it happens, so the registry refuses the
//! second family at registration, naming both.

use std::collections::HashMap;

use super::{OVERFLOW_METRIC, REFUSED_METRIC};
use crate::visit::MetricKind;
use crate::Error;

/// The suffixes the text formats add to a family's name, the bare name (its `# TYPE`
/// line) included. Counters are stored without `_total`.
pub(super) fn suffixes(kind: MetricKind) -> &'static [&'static str] {
    match kind {
        MetricKind::Counter => &["", "_total", "_created"],
        MetricKind::Histogram => &["", "_bucket", "_count", "_sum", "_created"],
        MetricKind::Gauge | MetricKind::UpDownCounter | MetricKind::StateSet => &[""],
        MetricKind::Info => &["", "_info"],
        MetricKind::GaugeHistogram => &["", "_bucket", "_gcount", "_gsum"],
        MetricKind::Summary => &["", "_sum", "_count", "_created"],
    }
}

const SELF_METRIC: &str = "counter (a self-metric of the registry)";

/// The family that writes a name.
struct Owner {
    family: String,
    kind: &'static str,
    /// A self-metric: no registered family may share even its name.
    reserved: bool,
}

/// Every name the registered families (and the registry's self-metrics) write.
pub(super) struct RenderedNames {
    owners: HashMap<String, Owner>,
}

impl Default for RenderedNames {
    fn default() -> Self {
        let mut names = RenderedNames {
            owners: HashMap::new(),
        };
        for own in [OVERFLOW_METRIC, REFUSED_METRIC] {
            names.insert(
                own,
                MetricKind::Counter,
                "counter (a self-metric of the registry)",
            );
        }
        names
    }
}

impl RenderedNames {
    fn insert(&mut self, name: &str, kind: MetricKind, described: &'static str) {
        for s in suffixes(kind) {
            self.owners.insert(
                format!("{name}{s}"),
                Owner {
                    family: name.to_owned(),
                    kind: described,
                    reserved: described == SELF_METRIC,
                },
            );
        }
    }

    /// The first name `name` of `kind` would write that a family other than `name` (or
    /// a self-metric) writes already.
    fn clash(&self, name: &str, kind: MetricKind) -> Option<(String, &Owner)> {
        let mut sample = String::with_capacity(name.len() + 8);
        suffixes(kind).iter().find_map(|s| {
            sample.clear();
            sample.push_str(name);
            sample.push_str(s);
            self.owners
                .get(&sample)
                .filter(|o| o.reserved || o.family != name)
                .map(|o| (sample.clone(), o))
        })
    }

    /// Records the names a new family writes, or refuses it when one is taken.
    ///
    /// # Errors
    /// [`Error::NameCollision`] naming both families and the shared sample name.
    pub(super) fn claim(&mut self, name: &str, kind: MetricKind) -> Result<(), Error> {
        if let Some((sample, other)) = self.clash(name, kind) {
            return Err(Error::NameCollision {
                name: name.to_owned(),
                kind: kind.as_str(),
                sample,
                other: other.family.clone(),
                other_kind: other.kind,
            });
        }
        self.insert(name, kind, kind.as_str());
        Ok(())
    }

    /// Whether a family produced by a collector at collection time writes a name a
    /// registered family (or a self-metric) writes.
    pub(super) fn taken(&self, name: &str, kind: MetricKind) -> bool {
        self.clash(name, kind).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffix_clashes_are_refused_naming_both() {
        let mut n = RenderedNames::default();
        n.claim("coll", MetricKind::Counter).unwrap();
        let err = n.claim("coll_total", MetricKind::Gauge).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("\"coll_total\"") && msg.contains("\"coll\""),
            "{msg}"
        );
        n.claim("x", MetricKind::Histogram).unwrap();
        for s in ["x_count", "x_sum", "x_bucket", "x_created"] {
            assert!(
                matches!(n.claim(s, MetricKind::Gauge), Err(Error::NameCollision { ref other, .. }) if other == "x"),
                "{s}"
            );
        }
        // The other way round: a gauge first, then the histogram that would write it.
        n.claim("y_sum", MetricKind::Gauge).unwrap();
        assert!(n.claim("y", MetricKind::Histogram).is_err());
        // Unrelated names and the same family again (another member) are fine.
        n.claim("coll_totals", MetricKind::Gauge).unwrap();
        assert!(!n.taken("coll", MetricKind::Counter));
        assert!(n.taken("coll_created", MetricKind::UpDownCounter));
    }

    #[test]
    fn self_metrics_are_reserved() {
        let mut n = RenderedNames::default();
        for (name, kind) in [
            (OVERFLOW_METRIC, MetricKind::Gauge),
            (OVERFLOW_METRIC, MetricKind::Counter),
            ("tallyho_refused_values_total", MetricKind::Gauge),
        ] {
            let err = n.claim(name, kind).unwrap_err();
            assert!(err.to_string().contains("self-metric"), "{err}");
        }
    }
}
