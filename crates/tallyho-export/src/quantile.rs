//! Quantiles estimated from histogram buckets, the way PromQL's `histogram_quantile` does:
//! linear interpolation inside the bucket where the rank falls.

use tallyho::HistogramData;

/// The `q` quantile (0..=1) of `h`, or `None` without observations. A rank in the `+Inf`
/// bucket gives the highest finite bound.
pub fn quantile(h: &HistogramData, q: f64) -> Option<f64> {
    if h.count == 0 || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let rank = q * h.count as f64;
    let mut below = 0u64;
    for (i, &c) in h.counts.iter().enumerate() {
        let cum = below + c;
        if cum as f64 >= rank && c > 0 {
            let Some(&upper) = h.bounds.get(i) else {
                return h.bounds.last().copied();
            };
            let lower = if i == 0 {
                upper.min(0.0)
            } else {
                h.bounds[i - 1]
            };
            return Some(lower + (upper - lower) * (rank - below as f64) / c as f64);
        }
        below = cum;
    }
    h.bounds.last().copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolates_like_promql() {
        let h = HistogramData {
            bounds: vec![0.1, 0.5, 1.0, 5.0],
            counts: vec![2, 3, 4, 1, 0],
            sum: 6.0,
            count: 10,
            exponential: None,
        };
        assert!((quantile(&h, 0.75).unwrap() - 0.8125).abs() < 1e-12);
        assert!((quantile(&h, 0.5).unwrap() - 0.5).abs() < 1e-12);
        assert_eq!(quantile(&h, 0.1), Some(0.05));
        let empty = HistogramData {
            count: 0,
            counts: vec![0; 5],
            ..h
        };
        assert_eq!(quantile(&empty, 0.5), None);
    }
}
