//! Typed label sets: a struct or enum mapped to a dense index, so a lookup is one array index.

use std::io;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::SystemTime;

use crate::instrument::Instrument;
use crate::instrument::Shape;
use crate::read::Readable;
use crate::visit::{ConstantLabels, Labels, Point, Visitor};
#[cfg(test)]
use crate::Buckets;

/// A set of labels whose every combination of values is known at compile time.
///
/// Implement it for an enum with [`label_enum!`](crate::label_enum), and combine enums as
/// tuples: `(Method, Status)` has the labels of both and `Method::COUNT * Status::COUNT`
/// series.
pub trait LabelSet: Copy + Send + Sync + 'static {
    /// Number of distinct values; indexes are `0..COUNT`.
    const COUNT: usize;
    /// The label names, in order.
    fn names() -> Vec<&'static str>;
    /// This value's dense index, `< COUNT`.
    fn index(&self) -> usize;
    /// The label values of the set with this index.
    fn values(index: usize) -> Vec<&'static str>;
}

impl<A: LabelSet, B: LabelSet> LabelSet for (A, B) {
    const COUNT: usize = A::COUNT * B::COUNT;
    fn names() -> Vec<&'static str> {
        let mut n = A::names();
        n.extend(B::names());
        n
    }
    #[inline]
    fn index(&self) -> usize {
        self.0.index() * B::COUNT + self.1.index()
    }
    fn values(index: usize) -> Vec<&'static str> {
        let mut v = A::values(index / B::COUNT);
        v.extend(B::values(index % B::COUNT));
        v
    }
}

impl<A: LabelSet, B: LabelSet, C: LabelSet> LabelSet for (A, B, C) {
    const COUNT: usize = A::COUNT * B::COUNT * C::COUNT;
    fn names() -> Vec<&'static str> {
        let mut n = <(A, B)>::names();
        n.extend(C::names());
        n
    }
    #[inline]
    fn index(&self) -> usize {
        (self.0, self.1).index() * C::COUNT + self.2.index()
    }
    fn values(index: usize) -> Vec<&'static str> {
        let mut v = <(A, B)>::values(index / C::COUNT);
        v.extend(C::values(index % C::COUNT));
        v
    }
}

/// Defines an enum that is one label with a fixed set of values.
///
/// ```
/// tallyho::label_enum! {
///     /// The HTTP method.
///     pub enum Method: "method" { Get = "GET", Post = "POST" }
/// }
/// tallyho::label_enum! {
///     /// The outcome.
///     pub enum Outcome: "outcome" { Ok = "ok", Err = "error" }
/// }
/// let r = tallyho::Registry::new();
/// let calls = r.metric("calls", "Calls.").typed_family::<tallyho::Counter, (Method, Outcome)>()?;
/// calls.get((Method::Post, Outcome::Err)).inc();
/// assert_eq!(r.snapshot().value("calls", &[("method", "POST"), ("outcome", "error")]), Some(1.0));
/// # Ok::<(), tallyho::Error>(())
/// ```
#[macro_export]
macro_rules! label_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident : $label:literal { $($variant:ident = $value:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[allow(missing_docs)]
        $vis enum $name { $($variant),+ }

        impl $crate::LabelSet for $name {
            const COUNT: usize = [$($value),+].len();
            fn names() -> ::std::vec::Vec<&'static str> {
                ::std::vec![$label]
            }
            #[inline]
            fn index(&self) -> usize {
                *self as usize
            }
            fn values(index: usize) -> ::std::vec::Vec<&'static str> {
                const VALUES: &[&str] = &[$($value),+];
                ::std::vec![VALUES.get(index).copied().unwrap_or("")]
            }
        }
    };
}

struct Typed<M> {
    names: Box<[Box<str>]>,
    /// Each series' labels in text form (see [`crate::text`]).
    keys: Box<[Box<[u8]>]>,
    children: Box<[M]>,
    start: SystemTime,
}

/// A family over a [`LabelSet`]: every series exists from registration and a lookup is an
/// array index.
pub struct TypedFamily<M: Instrument, L: LabelSet> {
    inner: Option<Arc<Typed<M>>>,
    _labels: PhantomData<fn(L)>,
}

impl<M: Instrument, L: LabelSet> Clone for TypedFamily<M, L> {
    fn clone(&self) -> Self {
        TypedFamily {
            inner: self.inner.clone(),
            _labels: PhantomData,
        }
    }
}

impl<M: Instrument, L: LabelSet> std::fmt::Debug for TypedFamily<M, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TypedFamily")
            .field("labels", &L::names())
            .field("series", &L::COUNT)
            .finish()
    }
}

impl<M: Instrument, L: LabelSet> TypedFamily<M, L> {
    /// A live family and the reader the registry collects it through.
    pub(crate) fn new(buckets: &Shape) -> (Self, Arc<dyn Readable>) {
        let typed = Arc::new(Typed {
            names: L::names().into_iter().map(Into::into).collect(),
            keys: (0..L::COUNT)
                .map(|i| crate::text::render(L::names().into_iter().zip(L::values(i))))
                .collect(),
            children: (0..L::COUNT).map(|_| M::create(buckets)).collect(),
            start: SystemTime::now(),
        });
        let family = TypedFamily {
            inner: Some(typed.clone()),
            _labels: PhantomData,
        };
        (family, typed)
    }

    /// A family whose children record nothing.
    pub const fn noop() -> Self {
        TypedFamily {
            inner: None,
            _labels: PhantomData,
        }
    }

    /// The child for this label set.
    #[inline]
    pub fn get(&self, labels: L) -> &M {
        match &self.inner {
            Some(t) => t
                .children
                .get(labels.index())
                .unwrap_or_else(|| M::noop_ref()),
            None => M::noop_ref(),
        }
    }
}

impl<M: Instrument> Readable for Typed<M> {
    fn points(
        &self,
        constant: &ConstantLabels,
        time: SystemTime,
        v: &mut dyn Visitor,
    ) -> io::Result<()> {
        for (child, key) in self.children.iter().zip(self.keys.iter()) {
            let labels = Labels::new(constant, &self.names, key, None);
            crate::read::read_point(child, &mut |value, exemplars| {
                v.point(&Point {
                    labels,
                    value,
                    start: self.start,
                    time,
                    exemplars,
                })
            })?;
        }
        Ok(())
    }

    fn refused_records(&self) -> u64 {
        if !M::REFUSES {
            return 0;
        }
        self.children
            .iter()
            .fold(0u64, |n, c| n.saturating_add(c.refused()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Counter;

    crate::label_enum! {
        /// Test.
        enum Color: "color" { Red = "red", Green = "green", Blue = "blue" }
    }
    crate::label_enum! {
        /// Test.
        enum Size: "size" { S = "s", L = "l" }
    }

    #[test]
    fn tuple_indexes_are_dense_and_round_trip() {
        type L = (Color, Size);
        assert_eq!(L::COUNT, 6);
        assert_eq!(L::names(), vec!["color", "size"]);
        let mut seen = Vec::new();
        for c in [Color::Red, Color::Green, Color::Blue] {
            for s in [Size::S, Size::L] {
                let i = (c, s).index();
                assert!(i < 6);
                seen.push(i);
                let v = L::values(i);
                assert_eq!(v[0], Color::values(c as usize)[0]);
                assert_eq!(v[1], Size::values(s as usize)[0]);
            }
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..6).collect::<Vec<_>>());
    }

    #[test]
    fn family_records_per_label_set() {
        let (f, _) = TypedFamily::<Counter, (Color, Size)>::new(&Buckets::default().into());
        f.get((Color::Blue, Size::L)).add(3);
        assert_eq!(f.get((Color::Blue, Size::L)).get(), 3);
        assert_eq!(f.get((Color::Red, Size::L)).get(), 0);
        TypedFamily::<Counter, Color>::noop().get(Color::Red).inc();
    }
}
