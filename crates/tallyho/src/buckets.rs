//! Histogram bucket boundaries: validated once, shared by every series of a family.

use std::sync::Arc;

use crate::Error;

/// The upper bounds of a histogram's finite buckets, strictly increasing and finite.
/// An implicit `+Inf` bucket always follows.
#[derive(Clone, Debug, PartialEq)]
pub struct Buckets(Arc<[f64]>);

/// Prometheus' default buckets, for latencies in seconds: 5 ms to 10 s.
const DEFAULT_SECONDS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The most finite buckets a histogram may have.
pub const MAX_BUCKETS: usize = 1024;

impl Buckets {
    /// Explicit bounds.
    ///
    /// # Errors
    /// [`Error::InvalidBuckets`] when a bound is NaN or infinite, the bounds are not strictly
    /// increasing, or there are more than [`MAX_BUCKETS`]. An empty list is allowed: the
    /// histogram then has only the `+Inf` bucket (count and sum).
    pub fn new(bounds: impl Into<Vec<f64>>) -> Result<Self, Error> {
        let bounds = bounds.into();
        if bounds.len() > MAX_BUCKETS {
            return Err(Error::InvalidBuckets {
                reason: format!(
                    "{} bounds given, at most {MAX_BUCKETS} allowed",
                    bounds.len()
                ),
            });
        }
        for (i, b) in bounds.iter().enumerate() {
            if !b.is_finite() {
                return Err(Error::InvalidBuckets {
                    reason: format!(
                        "bound #{i} is {b}; bounds must be finite (+Inf is always added)"
                    ),
                });
            }
            if i > 0 && bounds[i - 1] >= *b {
                return Err(Error::InvalidBuckets {
                    reason: format!(
                        "bounds must be strictly increasing, but {} is followed by {b}",
                        bounds[i - 1]
                    ),
                });
            }
        }
        Ok(Buckets(bounds.into()))
    }

    /// Prometheus' default latency buckets in seconds:
    /// 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10.
    pub fn default_seconds() -> Self {
        Buckets(DEFAULT_SECONDS.as_slice().into())
    }

    /// `count` bounds `start, start + width, ...`.
    ///
    /// # Errors
    /// [`Error::InvalidBuckets`] when `width <= 0`, `count` is 0 or too large, or a bound is not finite.
    pub fn linear(start: f64, width: f64, count: usize) -> Result<Self, Error> {
        if width.is_nan() || width <= 0.0 || count == 0 {
            return Err(Error::InvalidBuckets {
                reason: format!("linear buckets need width > 0 and count >= 1, got width {width} and count {count}"),
            });
        }
        Self::new(
            (0..count.min(MAX_BUCKETS + 1))
                .map(|i| start + width * i as f64)
                .collect::<Vec<_>>(),
        )
    }

    /// `count` bounds `start, start * factor, start * factor^2, ...`.
    ///
    /// # Errors
    /// [`Error::InvalidBuckets`] when `start <= 0`, `factor <= 1`, `count` is 0 or too large,
    /// or a bound is not finite.
    pub fn exponential(start: f64, factor: f64, count: usize) -> Result<Self, Error> {
        if start.is_nan() || start <= 0.0 || factor.is_nan() || factor <= 1.0 || count == 0 {
            return Err(Error::InvalidBuckets {
                reason: format!("exponential buckets need start > 0, factor > 1 and count >= 1, got start {start}, factor {factor}, count {count}"),
            });
        }
        let mut b = Vec::with_capacity(count.min(MAX_BUCKETS + 1));
        let mut v = start;
        for _ in 0..count.min(MAX_BUCKETS + 1) {
            b.push(v);
            v *= factor;
        }
        Self::new(b)
    }

    /// The finite upper bounds.
    pub fn bounds(&self) -> &[f64] {
        &self.0
    }

    pub(crate) fn shared(&self) -> Arc<[f64]> {
        self.0.clone()
    }
}

impl Default for Buckets {
    fn default() -> Self {
        Buckets::default_seconds()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generators() {
        assert_eq!(
            Buckets::linear(1.0, 2.0, 3).unwrap().bounds(),
            &[1.0, 3.0, 5.0]
        );
        assert_eq!(
            Buckets::exponential(1.0, 10.0, 4).unwrap().bounds(),
            &[1.0, 10.0, 100.0, 1000.0]
        );
        assert_eq!(Buckets::default_seconds().bounds().len(), 11);
    }

    #[test]
    fn rejects_bad_bounds() {
        let e = Buckets::new(vec![1.0, 1.0]).unwrap_err().to_string();
        assert!(e.contains("strictly increasing"), "{e}");
        assert!(Buckets::new(vec![f64::NAN]).is_err());
        assert!(Buckets::new(vec![1.0, f64::INFINITY]).is_err());
        assert!(Buckets::linear(0.0, 0.0, 3).is_err());
        assert!(Buckets::exponential(0.0, 2.0, 3).is_err());
        assert!(Buckets::exponential(1.0, 1.0, 3).is_err());
        assert!(Buckets::exponential(1.0, 1e300, 5).is_err());
        assert!(Buckets::linear(0.0, 1.0, usize::MAX).is_err());
        assert!(Buckets::new(Vec::new()).is_ok());
    }
}
