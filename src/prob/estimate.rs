//! Estimators over samples: means and variances, the 95% confidence interval of a mean
//! ([`MeanCi`]), nearest-rank quantiles with order-statistic confidence intervals, tail means.
//! Plain functions of numbers, used by the engine (to decide when a run is precise enough) and
//! by the statistics.

/// 97.5% quantile of the standard normal distribution: 95% intervals are mean -/+ Z975 se.
pub const Z975: f64 = 1.959_963_984_540_054;

/// A mean with the half-width of its 95% confidence interval (normal approximation): the
/// interval is `mean -/+ half_width`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MeanCi {
    /// The estimate.
    pub mean: f64,
    /// Half-width of its 95% confidence interval.
    pub half_width: f64,
}

impl MeanCi {
    /// The mean of `n` values with sample variance `var`: half-width `Z975 sd / sqrt(n)`.
    ///
    /// This is the one formula for the interval. Computing it as `Z975 sqrt(var / n)` rounds
    /// differently (in the last bit, about half the time), so estimates whose squared standard
    /// error is at hand go through [`MeanCi::from_se2`], which is this formula with `n = 1`.
    pub fn new(n: f64, mean: f64, var: f64) -> MeanCi {
        MeanCi {
            mean,
            half_width: Z975 * var.sqrt() / n.sqrt(),
        }
    }

    /// An estimate with squared standard error `se2` (a paired mean's `var / n`, or the sum of
    /// two independent means' for their difference): half-width `Z975 sqrt(se2)`.
    pub fn from_se2(mean: f64, se2: f64) -> MeanCi {
        // Dividing by sqrt(1) = 1 is exact: the result is `Z975 * se2.sqrt()` bit for bit.
        MeanCi::new(1.0, mean, se2)
    }

    /// The mean of `values` and its interval.
    pub fn of(values: &[f64]) -> MeanCi {
        let (mean, var) = mean_var(values);
        MeanCi::new(values.len() as f64, mean, var)
    }

    /// Lower end of the interval.
    pub fn low(&self) -> f64 {
        self.mean - self.half_width
    }

    /// Upper end of the interval.
    pub fn high(&self) -> f64 {
        self.mean + self.half_width
    }
}

/// Mean and sample variance (0 for fewer than two values), summed in order.
pub fn mean_var(v: &[f64]) -> (f64, f64) {
    mean_var_by(v.len(), |k| v[k])
}

/// [`mean_var`] of `value(0..n)`.
pub fn mean_var_by(n: usize, value: impl Fn(usize) -> f64) -> (f64, f64) {
    let nf = n as f64;
    let mean = (0..n).map(&value).sum::<f64>() / nf;
    let var = if n > 1 {
        (0..n)
            .map(|k| (value(k) - mean) * (value(k) - mean))
            .sum::<f64>()
            / (nf - 1.0)
    } else {
        0.0
    };
    (mean, var)
}

/// Nearest-rank quantile of sorted values: the smallest value with at least `p` of the values
/// at or below it.
pub fn quantile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[nearest_rank(sorted.len() as u64, p) as usize - 1]
}

/// Mean of the largest `ceil((1 - alpha) * n)` values (expected shortfall).
pub fn tail_mean(sorted: &[f64], alpha: f64) -> f64 {
    tail_mean_by(sorted.len(), alpha, |i| sorted[i])
}

/// [`tail_mean`] of `n` values, the `i`-th smallest (0-based) being `sorted(i)`; summed from
/// the smallest of the tail up.
pub fn tail_mean_by(n: usize, alpha: f64, sorted: impl Fn(usize) -> f64) -> f64 {
    let k = tail_count(n as u64, alpha) as usize;
    (n.saturating_sub(k)..n).map(sorted).sum::<f64>() / k as f64
}

/// Value at risk and conditional value at risk at `alpha` of sorted values: the nearest-rank
/// `alpha`-quantile ([`quantile`]) and the mean of the worst `1 - alpha` ([`tail_mean`]).
pub fn tail_risk(sorted: &[f64], alpha: f64) -> (f64, f64) {
    (quantile(sorted, alpha), tail_mean(sorted, alpha))
}

/// A copy of `v` in ascending order ([`f64::total_cmp`]).
pub fn sorted(v: &[f64]) -> Vec<f64> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s
}

/// 1-based ranks bounding the 95% confidence interval of the p-quantile of `n` values, from
/// order statistics: np -/+ 1.96 sqrt(np(1 - p)), widened to whole ranks; `n` must be positive.
pub fn ci_ranks(n: u64, p: f64) -> (u64, u64) {
    let np = n as f64 * p;
    let half = Z975 * (np * (1.0 - p)).sqrt();
    let lo = ((np - half).floor() as i64).clamp(1, n as i64) as u64;
    let hi = ((np + half).ceil() as i64 + 1).clamp(1, n as i64) as u64;
    (lo, hi)
}

/// 1-based nearest rank of the p-quantile of `n` values: the smallest rank with at least `p`
/// of the values at or below it.
pub fn nearest_rank(n: u64, p: f64) -> u64 {
    ((p * n as f64 - 1e-9).ceil() as u64).clamp(1, n.max(1))
}

/// Number of values in the worst `1 - alpha` of `n` (at least 1).
pub fn tail_count(n: u64, alpha: f64) -> u64 {
    (((1.0 - alpha) * n as f64 - 1e-9).ceil() as u64).clamp(1, n.max(1))
}

/// 95% confidence interval of the p-quantile of sorted values, from order statistics.
pub fn quantile_ci(sorted: &[f64], p: f64) -> [f64; 2] {
    if sorted.is_empty() {
        return [f64::NAN, f64::NAN];
    }
    let (lo, hi) = ci_ranks(sorted.len() as u64, p);
    [sorted[lo as usize - 1], sorted[hi as usize - 1]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_intervals() {
        let v = [1.0, 2.0, 3.0, 4.0];
        let ci = MeanCi::of(&v);
        let (mean, var) = mean_var(&v);
        assert_eq!(ci.mean, 2.5);
        assert_eq!(ci.half_width, Z975 * var.sqrt() / 2.0);
        assert_eq!(
            (ci.low(), ci.high()),
            (mean - ci.half_width, mean + ci.half_width)
        );
        // From a squared standard error: exactly Z975 se, for any se2.
        for se2 in [0.0, 1e-300, 0.1, 2.0, 3.7e12] {
            assert_eq!(MeanCi::from_se2(1.0, se2).half_width, Z975 * se2.sqrt());
        }
    }

    #[test]
    fn tail_risk_is_the_quantile_and_the_tail_mean() {
        let v = sorted(&(1..=100).rev().map(f64::from).collect::<Vec<_>>());
        assert_eq!(v[0], 1.0);
        assert_eq!(tail_risk(&v, 0.95), (95.0, 98.0));
        assert_eq!(tail_mean_by(v.len(), 0.99, |i| v[i]), 100.0);
    }
}
