//! How an exponential histogram buckets: [`ExpConfig`].

use crate::exponential::{DEFAULT_MAX_BUCKETS, DEFAULT_MAX_SCALE, MIN_SCALE};
use crate::Error;

/// How an exponential histogram buckets: its most buckets per side, the highest scale it
/// starts at, and the zero threshold.
///
/// ```
/// let config = tallyho::ExpConfig::default().max_buckets(80)?.zero_threshold(1e-9)?;
/// assert_eq!(config.max_buckets_value(), 80);
/// # Ok::<(), tallyho::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExpConfig {
    pub(crate) max_buckets: usize,
    pub(crate) max_scale: i32,
    pub(crate) zero_threshold: f64,
}

impl Default for ExpConfig {
    /// OpenTelemetry's defaults: 160 buckets, scale 20, zero threshold 0.
    fn default() -> Self {
        ExpConfig {
            max_buckets: DEFAULT_MAX_BUCKETS,
            max_scale: DEFAULT_MAX_SCALE,
            zero_threshold: 0.0,
        }
    }
}

fn invalid(what: &str, why: String) -> Error {
    Error::InvalidBuckets {
        reason: format!("exponential histogram {what}: {why}"),
    }
}

impl ExpConfig {
    /// The most buckets on each side (positive, negative), 2 to 16,384.
    ///
    /// # Errors
    /// [`Error::InvalidBuckets`] outside that range.
    pub fn max_buckets(mut self, n: usize) -> Result<Self, Error> {
        if !(2..=16_384).contains(&n) {
            return Err(invalid(
                "max_buckets",
                format!("{n} is not between 2 and 16384"),
            ));
        }
        self.max_buckets = n;
        Ok(self)
    }

    /// The scale a histogram starts at, -10 to 20 (Prometheus native histograms accept
    /// at most 8; their exposition lowers a finer scale before sending).
    ///
    /// # Errors
    /// [`Error::InvalidBuckets`] outside that range.
    pub fn max_scale(mut self, scale: i32) -> Result<Self, Error> {
        if !(MIN_SCALE..=DEFAULT_MAX_SCALE).contains(&scale) {
            return Err(invalid(
                "max_scale",
                format!("{scale} is not between -10 and 20"),
            ));
        }
        self.max_scale = scale;
        Ok(self)
    }

    /// Magnitudes up to `t` count in the zero bucket; finite and `>= 0`.
    ///
    /// # Errors
    /// [`Error::InvalidBuckets`] for a negative, NaN or infinite threshold.
    pub fn zero_threshold(mut self, t: f64) -> Result<Self, Error> {
        if !(t.is_finite() && t >= 0.0) {
            return Err(invalid(
                "zero_threshold",
                format!("{t} is not finite and >= 0"),
            ));
        }
        self.zero_threshold = t;
        Ok(self)
    }

    /// The most buckets per side.
    pub fn max_buckets_value(&self) -> usize {
        self.max_buckets
    }

    /// The starting scale.
    pub fn max_scale_value(&self) -> i32 {
        self.max_scale
    }

    /// The zero threshold.
    pub fn zero_threshold_value(&self) -> f64 {
        self.zero_threshold
    }
}
