//! Collection: the registry as a `Source`, walked by every encoder and snapshot.

use super::*;
use crate::observe::Collection;

impl Source for Registry {
    fn visit(&self, v: &mut dyn Visitor) -> io::Result<()> {
        let time = SystemTime::now();
        let (families, collectors) = {
            let state = self.read_state();
            (state.families.clone(), state.collectors.clone())
        };
        // One per collection: a batch callback runs when the first of its families is
        // read, and its other families take their points from here.
        let cx = Collection::default();
        let mut overflows: Vec<(&str, u64)> = Vec::new();
        let mut refusals: Vec<(&str, u64)> = Vec::new();
        for entry in &families {
            let members = entry
                .members
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            v.family(&FamilyInfo {
                name: &entry.name,
                help: &entry.help,
                unit: &entry.unit,
                kind: entry.kind,
            })?;
            let (mut overflowed, mut refused) = (0u64, 0u64);
            for m in &members {
                m.read.points_in(&cx, &m.constant, time, v)?;
                overflowed = overflowed.saturating_add(m.read.overflow_records());
                refused = refused.saturating_add(m.read.refused_records());
            }
            v.end_family()?;
            if overflowed > 0 {
                overflows.push((&entry.name, overflowed));
            }
            if refused > 0 {
                refusals.push((&entry.name, refused));
            }
        }
        for (collector, prefix, constant) in &collectors {
            let collected =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| collector.collect()));
            let Ok(collected) = collected else { continue };
            for family in collected {
                let joined;
                let name = if prefix.is_empty() {
                    &family.name
                } else {
                    joined = format!("{prefix}_{}", family.name);
                    &joined
                };
                // An invalid name, or one whose samples a registered family (or a
                // self-metric) writes already, would break the whole exposition.
                if name::metric_name(name).as_deref() != Ok(name.as_str())
                    || self.read_state().rendered.taken(name, family.kind)
                {
                    continue;
                }
                family.visit_named(name, v, time, constant)?;
            }
        }
        self.self_metric(
            v,
            OVERFLOW_METRIC,
            "Records that landed in an overflow series because their family reached its cardinality limit.",
            &overflows,
            time,
        )?;
        self.self_metric(
            v,
            REFUSED_METRIC,
            "Recordings refused because their value would break the exposition: NaN or out-of-range histogram observations, negative, NaN or infinite float counter increments, and observed points with a bad value, the wrong number of label values or a label set repeated in one callback run.",
            &refusals,
            time,
        )?;
        Ok(())
    }
}

impl Registry {
    /// One self-metric counter with a series per family that has something to report
    /// (nothing at all when none has).
    fn self_metric(
        &self,
        v: &mut dyn Visitor,
        name: &str,
        help: &str,
        per_family: &[(&str, u64)],
        time: SystemTime,
    ) -> io::Result<()> {
        if per_family.is_empty() {
            return Ok(());
        }
        v.family(&FamilyInfo {
            name,
            help,
            unit: "",
            kind: MetricKind::Counter,
        })?;
        for (family, n) in per_family {
            let pair = [("metric".to_owned(), (*family).to_owned())];
            v.point(&Point {
                labels: Labels::from_pairs(&pair).with_constant(&self.constant),
                value: counter_value(*n),
                start: time,
                time,
                exemplars: &[],
            })?;
        }
        v.end_family()
    }
}
