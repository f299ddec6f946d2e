//! Estimators over samples: means and variances, nearest-rank quantiles with order-statistic
//! confidence intervals, tail means. Plain functions of numbers, used by the engine (to decide
//! when a run is precise enough) and by the statistics.

/// 97.5% quantile of the standard normal distribution: 95% intervals are mean -/+ Z975 se.
pub const Z975: f64 = 1.959_963_984_540_054;

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
    let n = sorted.len();
    let k = tail_count(n as u64, alpha) as usize;
    sorted[n.saturating_sub(k)..].iter().sum::<f64>() / k as f64
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
