//! How the registry reads what it holds: one trait object per registered member.

use std::io;
use std::sync::Arc;
use std::time::SystemTime;

use crate::family::{Child, Family};
use crate::instrument::Instrument;
use crate::observe::Collection;
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
    /// As [`points`](Self::points), within one collection `cx` of a registry: members
    /// that share work within a collection (the families of one batch callback) keep it
    /// there, so it runs once per collection, not once per member.
    fn points_in(
        &self,
        cx: &Collection,
        constant: &ConstantLabels,
        time: SystemTime,
        v: &mut dyn Visitor,
    ) -> io::Result<()> {
        let _ = cx;
        self.points(constant, time, v)
    }
    /// Records that landed in an overflow series.
    fn overflow_records(&self) -> u64 {
        0
    }
    /// Recordings refused (NaN or out-of-range values), summed over every series.
    fn refused_records(&self) -> u64 {
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
        read_point(&self.metric, &mut |value, exemplars| {
            v.point(&Point {
                labels: Labels::new(constant, &[], &[], None),
                value,
                start: self.start,
                time,
                exemplars,
            })
        })
    }

    fn refused_records(&self) -> u64 {
        self.metric.refused()
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
        // Values are read a chunk at a time before the chunk is encoded: the loads of
        // independent series overlap instead of each cache miss waiting behind the encoding
        // of the previous line.
        const CHUNK: usize = 32;
        let n = core.published();
        let mut kids: [Option<&Child<M>>; CHUNK] = [None; CHUNK];
        let mut values: [Option<PointValue<'static>>; CHUNK] = [None; CHUNK];
        let mut at = 0;
        while at < n {
            let len = CHUNK.min(n - at);
            for j in 0..len {
                kids[j] = core.child(at + j);
                values[j] = kids[j].and_then(|c| c.metric.scalar());
            }
            for j in 0..len {
                if let Some(child) = kids[j] {
                    let labels = Labels::new(constant, &core.label_names, &child.key, None);
                    emit(v, child, values[j], labels, time)?;
                }
            }
            at += len;
        }
        if let Some(child) = core.overflow_child() {
            let labels = Labels::new(constant, &[], &[], Some((OVERFLOW_LABEL, "true")));
            emit(v, child, child.metric.scalar(), labels, time)?;
        }
        Ok(())
    }

    fn overflow_records(&self) -> u64 {
        self.core().map_or(0, |c| c.overflow_records())
    }

    fn refused_records(&self) -> u64 {
        let Some(core) = self.core().filter(|_| M::REFUSES) else {
            return 0;
        };
        let children = (0..core.published()).filter_map(|i| core.child(i));
        children
            .chain(core.overflow_child())
            .fold(0u64, |n, c| n.saturating_add(c.metric.refused()))
    }
}

/// One point of a family series: `value` when already read, else read now.
fn emit<M: Instrument>(
    v: &mut dyn Visitor,
    child: &Child<M>,
    value: Option<PointValue<'static>>,
    labels: Labels<'_>,
    time: SystemTime,
) -> io::Result<()> {
    let start = child.start();
    match value {
        Some(value) => child.metric.with_exemplars(&mut |exemplars| {
            v.point(&Point {
                labels,
                value,
                start,
                time,
                exemplars,
            })
        }),
        None => read_point(&child.metric, &mut |value, exemplars| {
            v.point(&Point {
                labels,
                value,
                start,
                time,
                exemplars,
            })
        }),
    }
}

/// What [`read_point`] hands a value and its exemplars to.
pub type PointSink<'s> =
    dyn FnMut(PointValue<'_>, &[Option<crate::Exemplar>]) -> io::Result<()> + 's;

/// Reads `m`'s value and its exemplars and hands both to `f`.
pub(crate) fn read_point<M: Instrument>(m: &M, f: &mut PointSink<'_>) -> io::Result<()> {
    m.read_with_exemplars(f)
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
            exemplars: &[],
        })
    }
}

pub(crate) fn counter_value(n: u64) -> PointValue<'static> {
    PointValue::Counter(Number::U64(n))
}
