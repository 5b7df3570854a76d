//! How the registry reads what it holds: one trait object per registered member.

use std::io;
use std::sync::Arc;
use std::time::SystemTime;

use crate::family::Family;
use crate::instrument::Instrument;
use crate::visit::{ConstantLabels, Labels, Number, Point, PointValue, Visitor};
use crate::OVERFLOW_LABEL;

/// Constant labels as stored: shared by every series of a registry view.
pub(crate) type ConstLabels = Arc<ConstantLabels>;

/// One registered thing that yields points.
pub(crate) trait Readable: Send + Sync {
    fn points(
        &self,
        constant: &ConstantLabels,
        time: SystemTime,
        v: &mut dyn Visitor,
    ) -> io::Result<()>;
    /// Records that landed in an overflow series.
    fn overflow_records(&self) -> u64 {
        0
    }
}

pub(crate) struct Single<M> {
    pub(crate) metric: M,
    pub(crate) start: SystemTime,
}

impl<M: Instrument> Readable for Single<M> {
    fn points(
        &self,
        constant: &ConstantLabels,
        time: SystemTime,
        v: &mut dyn Visitor,
    ) -> io::Result<()> {
        self.metric.read(&mut |value| {
            v.point(&Point {
                labels: Labels::new(constant, &[], &[], None),
                value,
                start: self.start,
                time,
            })
        })
    }
}

impl<M: Instrument> Readable for Family<M> {
    fn points(
        &self,
        constant: &ConstantLabels,
        time: SystemTime,
        v: &mut dyn Visitor,
    ) -> io::Result<()> {
        let Some(core) = self.core() else {
            return Ok(());
        };
        let mut result = Ok(());
        core.for_each(|child, overflow| {
            if result.is_err() {
                return;
            }
            let labels = if overflow {
                Labels::new(constant, &[], &[], Some((OVERFLOW_LABEL, "true")))
            } else {
                Labels::new(constant, &core.label_names, &child.key, None)
            };
            result = child.metric.read(&mut |value| {
                v.point(&Point {
                    labels,
                    value,
                    start: child.start,
                    time,
                })
            });
        });
        result
    }

    fn overflow_records(&self) -> u64 {
        self.core().map_or(0, |c| c.overflow_records())
    }
}

/// A value produced by a callback at collection time.
pub(crate) struct Observed {
    pub(crate) read: Box<dyn Fn() -> PointValue<'static> + Send + Sync>,
    pub(crate) start: SystemTime,
}

impl Readable for Observed {
    fn points(
        &self,
        constant: &ConstantLabels,
        time: SystemTime,
        v: &mut dyn Visitor,
    ) -> io::Result<()> {
        // A panicking callback loses its own point, not the collection.
        let Ok(value) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (self.read)()))
        else {
            return Ok(());
        };
        v.point(&Point {
            labels: Labels::new(constant, &[], &[], None),
            value,
            start: self.start,
            time,
        })
    }
}

pub(crate) fn counter_value(n: u64) -> PointValue<'static> {
    PointValue::Counter(Number::U64(n))
}
