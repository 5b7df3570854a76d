//! [`Info`]: OpenMetrics' info, one point of value 1 whose labels describe the target.

use std::io;
use std::sync::Arc;
use std::time::SystemTime;

use crate::read::Readable;
use crate::visit::{ConstantLabels, Labels, Number, Point, PointValue, Visitor};

/// Facts about the target that never change while it runs, such as its version and build:
/// OpenMetrics `info`, a point of value 1 with these labels (`build_info{version="1.2"} 1`;
/// the name gets `_info`), a gauge in the formats without the type.
///
/// ```
/// let registry = tallyho::Registry::new();
/// let build = registry.info("build", "The build.", &[("version", "1.2.0"), ("commit", "4ab0530")])?;
/// assert_eq!(build.label("version"), Some("1.2.0"));
/// let snapshot = registry.snapshot();
/// assert_eq!(snapshot.value("build", &[("version", "1.2.0")]), Some(1.0));
/// # Ok::<(), tallyho::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Info(Option<Arc<[Pair]>>);

/// One label of an info: name and value.
type Pair = (Box<str>, Box<str>);

impl Info {
    /// An info that belongs to no registry.
    pub const fn noop() -> Self {
        Info(None)
    }

    pub(crate) fn new(pairs: &[(&str, &str)]) -> Self {
        Info(Some(
            pairs
                .iter()
                .map(|(n, v)| ((*n).into(), (*v).into()))
                .collect(),
        ))
    }

    /// The label pairs, as registered (empty for a no-op handle).
    pub fn labels(&self) -> &[(Box<str>, Box<str>)] {
        self.0.as_deref().unwrap_or(&[])
    }

    /// The value of one label.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels()
            .iter()
            .find(|(n, _)| **n == *name)
            .map(|(_, v)| &**v)
    }
}

/// How the registry reads an info: its labels rendered once.
pub(crate) struct InfoRead {
    names: Box<[Box<str>]>,
    text: Box<[u8]>,
    start: SystemTime,
}

impl InfoRead {
    pub(crate) fn new(info: &Info) -> Self {
        let pairs = info.labels();
        InfoRead {
            names: pairs.iter().map(|(n, _)| n.clone()).collect(),
            text: crate::text::render(pairs.iter().map(|(n, v)| (&**n, &**v))),
            start: SystemTime::now(),
        }
    }
}

impl Readable for InfoRead {
    fn points(
        &self,
        constant: &ConstantLabels,
        time: SystemTime,
        v: &mut dyn Visitor,
    ) -> io::Result<()> {
        v.point(&Point {
            labels: Labels::new(constant, &self.names, &self.text, None),
            value: PointValue::Gauge(Number::U64(1)),
            start: self.start,
            time,
            exemplars: &[],
        })
    }
}
