//! Collection: the registry as a `Source`, walked by every encoder and snapshot.

use super::*;

impl Source for Registry {
    fn visit(&self, v: &mut dyn Visitor) -> io::Result<()> {
        let time = SystemTime::now();
        let (families, collectors) = {
            let state = self.read_state();
            (state.families.clone(), state.collectors.clone())
        };
        let mut overflows: Vec<(&str, u64)> = Vec::new();
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
            let mut overflowed = 0;
            for m in &members {
                m.read.points(&m.constant, time, v)?;
                overflowed += m.read.overflow_records();
            }
            v.end_family()?;
            if overflowed > 0 {
                overflows.push((&entry.name, overflowed));
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
                if name::metric_name(name).as_deref() != Ok(name.as_str()) {
                    continue;
                }
                family.visit_named(name, v, time, constant)?;
            }
        }
        if !overflows.is_empty() {
            v.family(&FamilyInfo {
                name: OVERFLOW_METRIC,
                help: "Records that landed in an overflow series because their family reached its cardinality limit.",
                unit: "",
                kind: MetricKind::Counter,
            })?;
            for (name, n) in overflows {
                let pair = [("metric".to_owned(), name.to_owned())];
                v.point(&Point {
                    labels: Labels::from_pairs(&pair).with_constant(&self.constant),
                    value: counter_value(n),
                    start: time,
                    time,
                })?;
            }
            v.end_family()?;
        }
        Ok(())
    }
}
