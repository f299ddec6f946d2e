//! Which uncertain inputs drive the shortfall. For each demand node and each quantity the
//! scenario gives as a distribution (see [`crate::model::inputs`]), two measures over the first
//! [`TRIALS`] trials (which keep their draws):
//!
//! - the **rank correlation** (Spearman) between the value a trial drew and the node's total
//!   shortfall in that trial, with a 95% interval from Fisher's z (standard error
//!   1.06 / sqrt(n - 3), Fieller, Hartley and Pearson 1957);
//! - the **first-order index** S1 = Var(E[Y | X]) / Var(Y): the share of the shortfall's variance
//!   that knowing the input alone would remove, as in Sobol's first-order index, estimated from
//!   the same trials ("given data", no extra runs): the trials are sorted by the input and cut
//!   into bins of about equal count (never splitting equal values), and S1 is the between-bin
//!   share of the sum of squares, less its expectation when the input does nothing ((B - 1)
//!   times the within-bin mean square, for B bins), so that an inert input scores about 0 and
//!   may score a little below it. Its 95% interval comes from a delete-a-group jackknife over
//!   20 groups of trials.
//!
//! A quantity drawn per episode (a severity, a duration) is recorded from a trial's first
//! episode; its measures use only the trials that had one, and say how many.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::model::Model;
use crate::prob::estimate::Z975;
use crate::sim::result::RunResult;
use crate::stats::summary::{pearson, total_order_bits_f32};

/// Trials measured at most, from the first: enough for intervals of about +/-0.002 on an index
/// near 0, and a quarter of the trials that keep their draws, so that a large run's summary
/// stays quick.
pub const TRIALS: u64 = 1 << 18;
/// Groups of the jackknife behind the first-order index's interval.
const GROUPS: usize = 20;
/// Fewest trials with a value for an input to be measured.
const MIN_TRIALS: usize = 50;

/// How much one uncertain input moves one demand node's total shortfall.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputEffect {
    /// The input, as `shock.field`, `shock.field[state]` or `regime.from->to`.
    pub input: String,
    /// Trials measured: those that keep their draws and drew this input.
    pub trials: u64,
    /// Spearman rank correlation between the input and the total shortfall.
    pub rank_correlation: f64,
    /// Its 95% interval.
    pub rank_correlation_ci95: [f64; 2],
    /// First-order (Sobol) index: the share of the shortfall's variance explained by the input
    /// alone, bias-corrected (about 0 for an input that does nothing).
    pub first_order: f64,
    /// Its 95% interval.
    pub first_order_ci95: [f64; 2],
}

/// The uncertain inputs of one demand node, largest first-order index first; none where the
/// node's total shortfall is the same in every trial measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeSensitivity {
    /// Demand node id.
    pub node: String,
    /// One entry per uncertain input with enough trials.
    pub inputs: Vec<InputEffect>,
}

/// The sensitivity of every demand node's total shortfall to every uncertain input of `m`,
/// from the draws `r` keeps. Empty where the model has no uncertain input.
pub fn sensitivity(m: &Model, r: &RunResult) -> Vec<NodeSensitivity> {
    if m.inputs.is_empty() {
        return Vec::new();
    }
    let (n, dn, ns, stride) = (
        r.rank_trials().min(TRIALS as usize),
        r.demand_nodes,
        m.shocks.len(),
        m.draw_stride(),
    );
    // Per input: the trials that drew it, sorted by the value drawn (ties by trial).
    let sorted: Vec<(Vec<u32>, Vec<f64>)> = (0..m.inputs.len())
        .into_par_iter()
        .map(|j| {
            // Sorted as one integer per trial: the value's bits, made to order as the floats
            // do (f32::total_cmp), above the trial's index.
            let mut keys: Vec<u64> = (0..n)
                .filter_map(|k| {
                    let v = r.draws[k * stride + ns + j];
                    (!v.is_nan()).then(|| u64::from(total_order_bits_f32(v)) << 32 | k as u64)
                })
                .collect();
            keys.sort_unstable();
            let idx: Vec<u32> = keys.iter().map(|&key| key as u32).collect();
            let xs = idx
                .iter()
                .map(|&k| f64::from(r.draws[k as usize * stride + ns + j]))
                .collect();
            (idx, xs)
        })
        .collect();
    (0..dn)
        .map(|d| {
            let y = |k: u32| f64::from(r.shortfall[k as usize * dn + d]);
            let node = m.demand_id(d).to_string();
            // Nothing explains an outcome that never varies.
            if (0..n as u32).all(|k| y(k) == y(0)) {
                return NodeSensitivity {
                    node,
                    inputs: Vec::new(),
                };
            }
            let ys_all: Vec<f64> = (0..n as u32).map(y).collect();
            // The trials by shortfall, for the ranks among each input's trials without sorting
            // again.
            let mut by_y: Vec<u32> = (0..n as u32).collect();
            by_y.par_sort_unstable_by(|&a, &b| {
                ys_all[a as usize]
                    .total_cmp(&ys_all[b as usize])
                    .then(a.cmp(&b))
            });
            let mut inputs: Vec<InputEffect> = sorted
                .par_iter()
                .zip(&m.inputs.list)
                .filter(|((idx, _), _)| idx.len() >= MIN_TRIALS)
                .map(|((idx, xs), input)| {
                    let ys: Vec<f64> = idx.iter().map(|&k| y(k)).collect();
                    // The shortfall's ranks among the trials measured.
                    let ry = subset_ranks(idx, &by_y, &ys_all);
                    let rx = sorted_ranks(xs);
                    let rho = pearson(&rx, &ry).unwrap_or(0.0);
                    let (s1, s1_ci) = first_order(idx, xs, &ys);
                    InputEffect {
                        input: input.name.clone(),
                        trials: idx.len() as u64,
                        rank_correlation: rho,
                        rank_correlation_ci95: fisher_ci(rho, idx.len()),
                        first_order: s1,
                        first_order_ci95: s1_ci,
                    }
                })
                .collect();
            inputs.sort_by(|a, b| {
                b.first_order
                    .total_cmp(&a.first_order)
                    .then_with(|| a.input.cmp(&b.input))
            });
            NodeSensitivity { node, inputs }
        })
        .collect()
}

/// Tie-averaged ranks (from 1) of values sorted in ascending order.
fn sorted_ranks(xs: &[f64]) -> Vec<f32> {
    let mut r = vec![0.0; xs.len()];
    let mut i = 0;
    while i < xs.len() {
        let mut j = i;
        while j + 1 < xs.len() && xs[j + 1] == xs[i] {
            j += 1;
        }
        r[i..=j].fill(((i + j) as f64 / 2.0 + 1.0) as f32);
        i = j + 1;
    }
    r
}

/// Tie-averaged ranks (from 1) of the values `ys[k]` of the trials `idx` among themselves, in
/// the order of `idx`, read off `by_y` (every trial, ascending by value) in one pass.
fn subset_ranks(idx: &[u32], by_y: &[u32], ys: &[f64]) -> Vec<f32> {
    let mut pos = vec![u32::MAX; ys.len()];
    for (p, &k) in idx.iter().enumerate() {
        pos[k as usize] = p as u32;
    }
    let members: Vec<u32> = by_y
        .iter()
        .copied()
        .filter(|&k| pos[k as usize] != u32::MAX)
        .collect();
    let vals: Vec<f64> = members.iter().map(|&k| ys[k as usize]).collect();
    let mut r = vec![0.0; idx.len()];
    for (k, rank) in members.iter().zip(sorted_ranks(&vals)) {
        r[pos[*k as usize] as usize] = rank;
    }
    r
}

/// 95% interval of a rank correlation `rho` over `n` trials (Fisher's z, with the rank
/// correlation's standard error 1.06 / sqrt(n - 3)).
fn fisher_ci(rho: f64, n: usize) -> [f64; 2] {
    if n <= 3 {
        return [-1.0, 1.0];
    }
    let z = rho.clamp(-0.999_999, 0.999_999).atanh();
    let h = Z975 * 1.06 / ((n - 3) as f64).sqrt();
    [(z - h).tanh(), (z + h).tanh()]
}

/// Bins over `n` values sorted by `xs`: about sqrt(n) / 2 of them (at least 2, at most 50) of
/// about equal count, a bin never ending inside a run of equal values. Returns each bin's end.
fn bin_ends(xs: &[f64]) -> Vec<usize> {
    let n = xs.len();
    let b = ((n as f64).sqrt() / 2.0).clamp(2.0, 50.0) as usize;
    let mut ends = Vec::with_capacity(b);
    let mut start = 0;
    for k in 1..=b {
        let mut end = (n * k / b).max(start + 1).min(n);
        while end < n && xs[end] == xs[end - 1] {
            end += 1;
        }
        if end > start {
            ends.push(end);
            start = end;
        }
        if start >= n {
            break;
        }
    }
    ends
}

/// Count, sum and sum of squares.
#[derive(Clone, Copy, Default)]
struct Sums {
    n: f64,
    s: f64,
    ss: f64,
}

impl Sums {
    fn add(&mut self, y: f64) {
        self.n += 1.0;
        self.s += y;
        self.ss += y * y;
    }

    fn plus(self, o: Sums) -> Sums {
        Sums {
            n: self.n + o.n,
            s: self.s + o.s,
            ss: self.ss + o.ss,
        }
    }

    fn minus(self, o: Sums) -> Sums {
        Sums {
            n: self.n - o.n,
            s: self.s - o.s,
            ss: self.ss - o.ss,
        }
    }

    /// Sum of squares about the mean.
    fn centred(self) -> f64 {
        if self.n > 0.0 {
            (self.ss - self.s * self.s / self.n).max(0.0)
        } else {
            0.0
        }
    }
}

/// The bias-corrected first-order index of bins with sums `bins`, or `None` where the outcome
/// does not vary.
fn s1_of(bins: &[Sums]) -> Option<f64> {
    let total = bins.iter().fold(Sums::default(), |a, &b| a.plus(b));
    let sst = total.centred();
    if sst <= 0.0 || total.n < 3.0 {
        return None;
    }
    let ssw: f64 = bins.iter().map(|b| b.centred()).sum();
    let live = bins.iter().filter(|b| b.n > 0.0).count() as f64;
    let ssb = (sst - ssw).max(0.0);
    let msw = ssw / (total.n - live).max(1.0);
    Some((ssb - (live - 1.0) * msw) / sst)
}

/// First-order index of the input whose trials `idx` (sorted by their values `xs`) had
/// outcomes `ys`, with its 95% interval (delete-a-group jackknife, groups by trial index).
fn first_order(idx: &[u32], xs: &[f64], ys: &[f64]) -> (f64, [f64; 2]) {
    let ends = bin_ends(xs);
    // Sums per bin and group.
    let mut sums = vec![Sums::default(); ends.len() * GROUPS];
    let mut start = 0;
    for (b, &end) in ends.iter().enumerate() {
        for k in start..end {
            sums[b * GROUPS + idx[k] as usize % GROUPS].add(ys[k]);
        }
        start = end;
    }
    let bin = |b: usize| {
        sums[b * GROUPS..(b + 1) * GROUPS]
            .iter()
            .fold(Sums::default(), |a, &s| a.plus(s))
    };
    let whole: Vec<Sums> = (0..ends.len()).map(bin).collect();
    let Some(s1) = s1_of(&whole) else {
        return (0.0, [0.0, 0.0]);
    };
    let leave_out: Vec<f64> = (0..GROUPS)
        .filter_map(|g| {
            let bins: Vec<Sums> = whole
                .iter()
                .enumerate()
                .map(|(b, w)| w.minus(sums[b * GROUPS + g]))
                .collect();
            s1_of(&bins)
        })
        .collect();
    let k = leave_out.len() as f64;
    if k < 2.0 {
        return (s1, [s1, s1]);
    }
    let mean = leave_out.iter().sum::<f64>() / k;
    let var = (k - 1.0) / k * leave_out.iter().map(|v| (v - mean).powi(2)).sum::<f64>();
    let h = Z975 * var.sqrt();
    (s1, [s1 - h, s1 + h])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::summary::ranks;

    #[test]
    fn bins_have_about_equal_counts_and_never_split_equal_values() {
        let xs: Vec<f64> = (0..400).map(|k| f64::from(k / 10)).collect();
        let ends = bin_ends(&xs);
        assert_eq!(*ends.last().unwrap(), 400);
        for &e in &ends[..ends.len() - 1] {
            assert_ne!(xs[e], xs[e - 1], "a bin ends inside a run of equal values");
        }
        assert!(ends.len() >= 2);
    }

    #[test]
    fn an_outcome_that_is_the_input_scores_one_and_noise_scores_about_zero() {
        let n = 20_000u32;
        let idx: Vec<u32> = (0..n).collect();
        let xs: Vec<f64> = (0..n).map(f64::from).collect();
        let (s1, ci) = first_order(&idx, &xs, &xs);
        assert!(s1 > 0.99 && ci[0] <= s1 && s1 <= ci[1], "{s1} {ci:?}");
        // Outcomes unrelated to the input: a xorshift stream.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let noise: Vec<f64> = (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 11) as f64 / (1u64 << 53) as f64
            })
            .collect();
        let (s1, ci) = first_order(&idx, &xs, &noise);
        assert!(ci[0] <= 0.0 && 0.0 <= ci[1], "{s1} {ci:?}");
        assert!(s1.abs() < 0.02, "{s1}");
    }

    #[test]
    fn ranks_of_sorted_values_and_of_a_subset_match_a_full_ranking() {
        let ys = [3.0f64, 1.0, 2.0, 2.0, 5.0, 0.0, 2.0];
        let mut by_y: Vec<u32> = (0..ys.len() as u32).collect();
        by_y.sort_by(|&a, &b| ys[a as usize].total_cmp(&ys[b as usize]).then(a.cmp(&b)));
        let idx = [4u32, 0, 2, 6, 1];
        let sub: Vec<f64> = idx.iter().map(|&k| ys[k as usize]).collect();
        assert_eq!(subset_ranks(&idx, &by_y, &ys), ranks(&sub));
        let mut sorted = ys.to_vec();
        sorted.sort_by(f64::total_cmp);
        assert_eq!(sorted_ranks(&sorted), ranks(&sorted));
    }

    #[test]
    fn fisher_intervals_hold_the_estimate_and_narrow_with_trials() {
        let a = fisher_ci(0.3, 100);
        let b = fisher_ci(0.3, 10_000);
        assert!(a[0] < 0.3 && 0.3 < a[1]);
        assert!(b[1] - b[0] < a[1] - a[0]);
    }
}
