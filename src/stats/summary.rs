//! Aggregation of per-trial outcomes into the documented `summary.json` schema.
//!
//! Figures of the total shortfall are computed from the kept per-trial columns in trial order;
//! secondary figures come from the streamed statistics, which merge exactly. Either way the
//! summary depends only on the scenario, the seed and the trial count.

use serde::{Deserialize, Serialize};

use rayon::prelude::*;

use crate::model::Model;
use crate::model::{Kind, Part, Policy};
use crate::prob::estimate::{
    MeanCi, ci_ranks, mean_var_by, nearest_rank, tail_count, tail_mean_by,
};
use crate::prob::sketch::{Counts, Sketch};
use crate::sim::result::{BINS, RunResult, TailProfile, flag};

/// Version of the summary.json schema; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// The whole summary.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    /// Schema version.
    pub schema_version: u32,
    /// Scenario name.
    pub scenario: String,
    /// Scenario description.
    pub description: String,
    /// Master seed.
    pub seed: u64,
    /// Number of trials.
    pub trials: u64,
    /// Horizon in periods (months).
    pub periods: usize,
    /// Month of period 0, `YYYY-MM`.
    pub start: String,
    /// Allocation policy.
    #[serde(with = "by_name")]
    pub policy: Policy,
    /// One entry per demand node.
    pub demand: Vec<DemandSummary>,
    /// One entry per shock.
    pub shocks: Vec<ShockSummary>,
    /// Shocks by their effect on the total shortfall over all demand nodes, largest first.
    pub drivers: Vec<Driver>,
    /// Per demand node: the quantities given as distributions, by how much of the total
    /// shortfall's variance each explains alone (see [`crate::stats::sensitivity`]).
    #[serde(default)]
    pub sensitivity: Vec<crate::stats::sensitivity::NodeSensitivity>,
    /// Every node, with its share in the worst 5% of trials.
    pub nodes: Vec<NodeSummary>,
    /// Every edge, with its mean flow in the worst 5% of trials.
    pub edges: Vec<EdgeSummary>,
    /// Figures that rest on too few trials to be trusted.
    pub warnings: Vec<String>,
}

/// Fewest trials beyond a tail percentile for it to be reported without a warning.
pub const MIN_TAIL_TRIALS: f64 = 10.0;

/// Warnings for tail figures that rest on fewer than [`MIN_TAIL_TRIALS`] trials.
fn tail_warnings(trials: u64, demand: &[DemandSummary]) -> Vec<String> {
    let short: Vec<&str> = demand
        .iter()
        .filter(|d| d.shortfall_t.prob_any > 0.0)
        .map(|d| d.node.as_str())
        .collect();
    if short.is_empty() {
        return Vec::new();
    }
    [(0.95, "p95, var95 and cvar95"), (0.99, "p99, var99 and cvar99"), (0.999, "p999")]
        .iter()
        .filter(|(p, _)| (1.0 - p) * (trials as f64) < MIN_TAIL_TRIALS)
        .map(|(p, what)| {
            format!(
                "{what} of {} rest on fewer than {MIN_TAIL_TRIALS} trials beyond them ({trials} trials): run at least {} trials to trust them",
                short.join(", "),
                (MIN_TAIL_TRIALS / (1.0 - p)).round()
            )
        })
        .collect()
}

/// Total shortfall with and without one shock.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Driver {
    /// Shock id.
    pub id: String,
    /// Trials in which the shock occurred.
    pub trials_with: u64,
    /// Trials in which it did not.
    pub trials_without: u64,
    /// Mean shortfall, tonnes, of trials with the shock (null if none).
    pub mean_with: Option<f64>,
    /// Mean shortfall of trials without it (null if none).
    pub mean_without: Option<f64>,
    /// mean_with - mean_without (0 when either group is empty).
    pub effect: f64,
    /// 95% confidence interval of the effect (normal approximation with each group's own
    /// variance); null when either group has fewer than two trials. An interval that contains 0
    /// means the run cannot tell the effect from noise.
    pub effect_ci95: Option<[f64; 2]>,
    /// Two-sided p-value of the effect against 0 (normal approximation, as `effect_ci95`);
    /// null where `effect_ci95` is.
    #[serde(default)]
    pub p_value: Option<f64>,
    /// `p_value` corrected for testing every shock of the list at once (Bonferroni: times the
    /// number of shocks in the list that have an interval, at most 1).
    #[serde(default)]
    pub p_value_adjusted: Option<f64>,
    /// `effect_ci95` widened for testing every shock of the list at once (Bonferroni): together
    /// the adjusted intervals of a list hold all its true effects with probability 95% or more.
    /// It excludes 0 exactly when `p_value_adjusted` is below 0.05.
    #[serde(default)]
    pub effect_ci95_adjusted: Option<[f64; 2]>,
    /// 95th percentile of trials with the shock.
    pub p95_with: Option<f64>,
    /// 95th percentile of trials without it.
    pub p95_without: Option<f64>,
    /// Spearman rank correlation between how much of the shock a trial drew (capacity-periods
    /// lost, months of slip, blocked-fraction-months or rate-months) and the shortfall; null
    /// when either does not vary.
    pub rank_correlation: Option<f64>,
}

/// A node and how much it constrained the worst trials.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NodeSummary {
    /// Node id.
    pub id: String,
    /// Readable name.
    pub label: String,
    /// Stage.
    #[serde(with = "by_name")]
    pub kind: Kind,
    /// Country.
    pub country: String,
    /// Capacity in tonnes per period (demand nodes: demand in period 0).
    pub capacity: f64,
    /// Fraction of the worst 5% of trials in which the node was down or binding in a period with
    /// a shortfall.
    pub tail_trials: f64,
    /// Share of the worst trials' shortfall that fell in periods when the node was down or
    /// binding.
    pub tail_share: f64,
    /// What the node's own outages and late start cost (criticality by consequence); null for a
    /// node that no outage or delay can hit.
    #[serde(default)]
    pub disruption: Option<Consequence>,
    /// The material it makes (demand nodes: buys), where the scenario declares materials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub material: Option<String>,
    /// For a part of a scenario node (a recipe's input stock or a co-product), that node's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part_of: Option<String>,
}

/// What a set of shocks costs, on the total shortfall over all demand nodes: the trials in which
/// at least one of them occurred (hit) against those in which none did (clear).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Consequence {
    /// The shocks, by id.
    pub shocks: Vec<String>,
    /// Trials in which at least one of them occurred.
    pub trials_hit: u64,
    /// Mean total shortfall of the trials hit, tonnes; null if none.
    pub mean_hit: Option<f64>,
    /// Mean total shortfall of the trials clear of them; null if none.
    pub mean_clear: Option<f64>,
    /// The shortfall they cause: the mean total shortfall over all trials minus that of the
    /// trials clear of them (= the share of trials hit x (`mean_hit` - `mean_clear`)), tonnes;
    /// what the mean would lose if they never occurred, read off the trials in which they did
    /// not. Null when every trial or none was hit.
    pub removed_t: Option<f64>,
    /// 95% confidence interval of `removed_t` (normal approximation, each group with its own
    /// variance); null when either group has fewer than two trials.
    pub removed_ci95: Option<[f64; 2]>,
}

/// An edge and its flow.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EdgeSummary {
    /// Supplier id.
    pub from: String,
    /// Buyer id.
    pub to: String,
    /// Buyer-side share.
    pub share: f64,
    /// Mean shipment per period in the worst 5% of trials, tonnes.
    pub tail_flow: f64,
    /// The export restrictions that cover the edge, by id; empty for an edge none covers.
    #[serde(default)]
    pub restricted_by: Vec<String>,
    /// The edge's planned flow: what it carries per period with no shock (the buyers' demand
    /// split by shares, up to each plant's capacity; a planned plant counts from its announced
    /// start), mean over the horizon, tonnes. Stock refills and re-routing are left out.
    #[serde(default)]
    pub planned_flow_t: f64,
    /// Tonnes the restrictions withheld on the edge over the horizon, mean over trials (an
    /// estimate): each restriction's blocked share summed over the periods it was in force,
    /// times `planned_flow_t`, added over the restrictions. Overlapping restrictions are added,
    /// which overstates their joint effect; refills they stop are not counted. 0 when no
    /// restriction covers the edge.
    #[serde(default)]
    pub withheld_t: f64,
    /// What the restrictions on the edge cost together; null for an edge none covers.
    #[serde(default)]
    pub restriction: Option<Consequence>,
    /// The material it carries, where the scenario declares materials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub material: Option<String>,
}

/// Results for one demand node.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DemandSummary {
    /// Node id.
    pub node: String,
    /// Readable name.
    pub label: String,
    /// Total demand over the horizon, tonnes.
    pub demand_t: f64,
    /// Total shortfall over the horizon, tonnes.
    pub shortfall_t: Spread,
    /// Total shortfall as a fraction of total demand.
    pub shortfall_share: Spread,
    /// Probability that the total shortfall exceeds each threshold (fraction of demand).
    pub exceedance: Vec<Exceedance>,
    /// Largest single-period shortfall, tonnes.
    pub worst_period_t: Spread,
    /// Largest single-period shortfall as a fraction of that period's demand.
    pub worst_period_share: Spread,
    /// Periods from the first shock to the first shortfall, over trials with both.
    pub time_to_survive: Durations,
    /// Periods from the first shortfall until a period without shortfall (censored at the
    /// horizon), over trials with a shortfall.
    pub time_to_recover: Durations,
    /// Extra landed cost from tariffs embedded in deliveries, USD.
    pub tariff_cost_usd: Spread,
    /// Percentile bands of the delivered fraction of demand, one entry per period.
    pub bands: Vec<Band>,
    /// Shocks by their effect on this node's total shortfall, largest first.
    pub drivers: Vec<Driver>,
    /// The material it buys, where the scenario declares materials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub material: Option<String>,
    /// Which inputs limited its supply in the worst 5% of trials: for each material, the share
    /// of its shortfall there that fell in periods when a recipe node upstream of it was short
    /// of that material (largest first; shares may add up to more than 1 where several were).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limited_by: Vec<Limit>,
}

/// One input material's part in a demand node's shortfall (see [`DemandSummary::limited_by`]).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Limit {
    /// Material id.
    pub material: String,
    /// Readable name.
    pub label: String,
    /// Share of the node's shortfall in the worst trials.
    pub share: f64,
}

/// How one per-trial quantity spreads over the trials: its mean with a 95% confidence interval,
/// standard deviation, percentiles and tail means. (The samplers of uncertain inputs are
/// [`crate::prob::dist::Dist`].)
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Spread {
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation.
    pub sd: f64,
    /// Lower end of the 95% confidence interval of the mean (normal approximation).
    pub ci95_low: f64,
    /// Upper end of the 95% confidence interval of the mean.
    pub ci95_high: f64,
    /// Percentiles (nearest rank).
    pub p5: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Value at risk at 95% (= p95).
    pub var95: f64,
    /// Mean of the worst 5% of trials.
    pub cvar95: f64,
    /// Value at risk at 99% (= p99).
    pub var99: f64,
    /// Mean of the worst 1% of trials.
    pub cvar99: f64,
    /// Largest value.
    pub max: f64,
    /// Probability that the value is above zero.
    pub prob_any: f64,
    /// 95% confidence intervals of the percentiles, from order statistics:
    /// `[value at rank l, value at rank u]` with l, u = np -/+ 1.96 sqrt(np(1 - p)).
    pub percentile_ci95: PercentileCi,
}

/// Confidence intervals of percentiles.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PercentileCi {
    /// Of p50.
    pub p50: [f64; 2],
    /// Of p90.
    pub p90: [f64; 2],
    /// Of p95 (= var95).
    pub p95: [f64; 2],
    /// Of p99 (= var99).
    pub p99: [f64; 2],
    /// Of p999.
    pub p999: [f64; 2],
}

/// Probability of exceeding a threshold.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Exceedance {
    /// Threshold as a fraction of total demand.
    pub threshold_share: f64,
    /// Threshold in tonnes.
    pub threshold_t: f64,
    /// Fraction of trials whose total shortfall is above it.
    pub probability: f64,
}

/// Statistics of a period count that exists only in some trials.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Durations {
    /// Trials in which it is defined.
    pub trials: u64,
    /// Mean, or null when no trial defines it.
    pub mean: Option<f64>,
    /// 5th percentile.
    pub p5: Option<f64>,
    /// Median.
    pub p50: Option<f64>,
    /// 95th percentile.
    pub p95: Option<f64>,
    /// 95% confidence intervals of p5, p50 and p95 (order statistics), when defined.
    pub percentile_ci95: Option<[[f64; 2]; 3]>,
}

/// Delivered-fraction percentiles in one period.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Band {
    /// Calendar month.
    pub month: String,
    /// 5th percentile of the delivered fraction.
    pub p5: f64,
    /// 25th percentile.
    pub p25: f64,
    /// Median.
    pub p50: f64,
    /// 75th percentile.
    pub p75: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 95% confidence intervals of p5, p25, p50, p75 and p95 (order statistics on the
    /// histogram; resolution 0.0025).
    pub percentile_ci95: [[f64; 2]; 5],
    /// Fraction of trials short in this period: delivered fraction below 1 at the histogram's
    /// resolution, i.e. short by at least 0.125% of the period's demand.
    #[serde(default)]
    pub prob_short: f64,
    /// In the trials short in this period: p5, p25, p50, p75 and p95 of the shortfall as a
    /// fraction of the period's demand (1 - delivered fraction; resolution 0.0025); null when
    /// no trial was short.
    #[serde(default)]
    pub short_given_short: Option<[f64; 5]>,
}

/// How often a shock occurred.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ShockSummary {
    /// Shock id.
    pub id: String,
    /// outage, delay, restriction or tariff.
    pub category: String,
    /// Fraction of trials in which it was active at least once in the horizon.
    pub probability: f64,
}

/// The percentile fields of a [`Spread`], read through `at(rank)` (1-based) over `n` values.
struct Percentiles {
    p5: f64,
    p50: f64,
    p90: f64,
    p95: f64,
    p99: f64,
    p999: f64,
    ci: PercentileCi,
}

impl Percentiles {
    fn of(n: u64, at: impl Fn(u64) -> f64) -> Percentiles {
        let q = |p| {
            if n == 0 {
                f64::NAN
            } else {
                at(nearest_rank(n, p))
            }
        };
        let ci = |p| {
            if n == 0 {
                return [f64::NAN, f64::NAN];
            }
            let (lo, hi) = ci_ranks(n, p);
            [at(lo), at(hi)]
        };
        Percentiles {
            p5: q(0.05),
            p50: q(0.5),
            p90: q(0.9),
            p95: q(0.95),
            p99: q(0.99),
            p999: q(0.999),
            ci: PercentileCi {
                p50: ci(0.5),
                p90: ci(0.9),
                p95: ci(0.95),
                p99: ci(0.99),
                p999: ci(0.999),
            },
        }
    }
}

impl Spread {
    /// Statistics of `values` (in trial order).
    pub fn of(values: &[f64]) -> Spread {
        Spread::of_column(
            values.len(),
            |k| values[k],
            &argsort_by(values.len(), |k| values[k]),
        )
    }

    /// Statistics of `n` values, `value(k)` in trial order, given their sorted order `order`
    /// (trial indices, ascending by value).
    pub fn of_column(n: usize, value: impl Fn(usize) -> f64, order: &[u32]) -> Spread {
        let sorted = |i: usize| value(order[i] as usize);
        let (mean, var) = mean_var_by(n, &value);
        let pc = Percentiles::of(n as u64, |r| sorted(r as usize - 1));
        let tail = |alpha| tail_mean_by(n, alpha, sorted);
        Spread::assemble(
            n as f64,
            mean,
            var,
            pc,
            [tail(0.95), tail(0.99)],
            if n == 0 { f64::NAN } else { sorted(n - 1) },
            (0..n).filter(|&k| value(k) > 0.0).count() as f64 / n as f64,
        )
    }

    /// Statistics of a streamed quantity: mean, standard deviation, maximum and probability
    /// are exact; percentiles and tail means are within [`Sketch::RELATIVE_ERROR`].
    pub fn of_sketch(s: &Sketch) -> Spread {
        let n = s.count;
        let (mean, var) = s.mean_var();
        let tail = |alpha| {
            let k = tail_count(n, alpha);
            s.top_sum(k) / k as f64
        };
        Spread::assemble(
            n as f64,
            mean,
            var,
            Percentiles::of(n, |r| s.at_rank(r)),
            [tail(0.95), tail(0.99)],
            if n == 0 { f64::NAN } else { s.max },
            (n - s.zeros) as f64 / n as f64,
        )
    }

    fn assemble(
        n: f64,
        mean: f64,
        var: f64,
        pc: Percentiles,
        [cvar95, cvar99]: [f64; 2],
        max: f64,
        prob_any: f64,
    ) -> Spread {
        let ci = MeanCi::new(n, mean, var);
        Spread {
            mean,
            sd: var.sqrt(),
            ci95_low: ci.low(),
            ci95_high: ci.high(),
            p5: pc.p5,
            p50: pc.p50,
            p90: pc.p90,
            p95: pc.p95,
            p99: pc.p99,
            p999: pc.p999,
            var95: pc.p95,
            cvar95,
            var99: pc.p99,
            cvar99,
            max,
            prob_any,
            percentile_ci95: pc.ci,
        }
    }
}

impl Durations {
    fn of(c: &Counts) -> Durations {
        let n = c.total();
        if n == 0 {
            return Durations {
                trials: 0,
                mean: None,
                p5: None,
                p50: None,
                p95: None,
                percentile_ci95: None,
            };
        }
        let at = |r| c.at_rank(r) as f64;
        let q = |p| at(nearest_rank(n, p));
        let ci = |p| {
            let (lo, hi) = ci_ranks(n, p);
            [at(lo), at(hi)]
        };
        Durations {
            trials: n,
            mean: Some(c.mean()),
            p5: Some(q(0.05)),
            p50: Some(q(0.5)),
            p95: Some(q(0.95)),
            percentile_ci95: Some([ci(0.05), ci(0.5), ci(0.95)]),
        }
    }
}

/// Value of the bin holding the `rank`-th smallest count (1-based) of a histogram.
fn hist_rank(counts: &[u32], rank: u64) -> f64 {
    let mut acc = 0u64;
    for (b, c) in counts.iter().enumerate() {
        acc += u64::from(*c);
        if acc >= rank {
            return b as f64 / (BINS - 1) as f64;
        }
    }
    1.0
}

/// 95% confidence interval of a histogram quantile, from order statistics (as [`quantile_ci`]).
fn hist_quantile_ci(counts: &[u32], p: f64) -> [f64; 2] {
    let n: u64 = counts.iter().map(|&c| u64::from(c)).sum();
    if n == 0 {
        return [f64::NAN, f64::NAN];
    }
    let (lo, hi) = ci_ranks(n, p);
    [hist_rank(counts, lo), hist_rank(counts, hi)]
}

/// Quantile of a delivered-fraction histogram (nearest rank).
fn hist_quantile(counts: &[u32], p: f64) -> f64 {
    let total: u64 = counts.iter().map(|&c| u64::from(c)).sum();
    hist_rank(counts, nearest_rank(total, p))
}

/// Fraction of a delivered-fraction histogram's trials below 1 (the last bin).
fn hist_prob_short(counts: &[u32]) -> f64 {
    let total: u64 = counts.iter().map(|&c| u64::from(c)).sum();
    let short: u64 = counts[..BINS - 1].iter().map(|&c| u64::from(c)).sum();
    if total == 0 {
        0.0
    } else {
        short as f64 / total as f64
    }
}

/// Percentiles (nearest rank) of the shortfall fraction, 1 - delivered fraction, over the trials
/// of a delivered-fraction histogram that were short (below the last bin); `None` if none was.
fn hist_short_given_short(counts: &[u32]) -> Option<[f64; 5]> {
    let short = &counts[..BINS - 1];
    let n: u64 = short.iter().map(|&c| u64::from(c)).sum();
    (n > 0).then(|| {
        [0.05, 0.25, 0.5, 0.75, 0.95].map(|p| {
            // Shortfall ascending is the delivered fraction descending.
            let rank = nearest_rank(n, p);
            let mut acc = 0u64;
            for b in (0..BINS - 1).rev() {
                acc += u64::from(short[b]);
                if acc >= rank {
                    return 1.0 - b as f64 / (BINS - 1) as f64;
                }
            }
            1.0
        })
    })
}

/// Ranks with ties averaged (1-based), as f32: exact (multiples of 0.5) for up to 2^23 values,
/// and half the memory of f64 for the rank sample of a large run.
pub(crate) fn ranks(v: &[f64]) -> Vec<f32> {
    debug_assert!(v.len() <= 1 << 23);
    // Sorted as keys (value bits in total order, then index): no lookups while sorting, and 8
    // bytes a key where every value is an f32 widened (magnitudes and shortfalls are). Ties
    // are averaged, so their order among themselves does not matter.
    let indices: Vec<u32> = if v
        .iter()
        .all(|&x| f64::from(x as f32).to_bits() == x.to_bits())
    {
        let mut keys: Vec<u64> = v
            .iter()
            .enumerate()
            .map(|(k, &x)| u64::from(total_order_bits_f32(x as f32)) << 32 | k as u64)
            .collect();
        keys.sort_unstable();
        keys.into_iter().map(|key| key as u32).collect()
    } else {
        let mut keys: Vec<(u64, u32)> = v
            .iter()
            .enumerate()
            .map(|(k, &x)| (total_order_bits(x), k as u32))
            .collect();
        keys.sort_unstable();
        keys.into_iter().map(|(_, k)| k).collect()
    };
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < indices.len() {
        let x = v[indices[i] as usize];
        let mut j = i;
        while j + 1 < indices.len() && v[indices[j + 1] as usize] == x {
            j += 1;
        }
        let avg = ((i + j) as f64 / 2.0 + 1.0) as f32;
        for &k in &indices[i..=j] {
            r[k as usize] = avg;
        }
        i = j + 1;
    }
    r
}

/// The bits of `x` as an integer that orders like [`f64::total_cmp`].
fn total_order_bits(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 1 { !b } else { b | 1 << 63 }
}

/// The bits of `x` as an integer that orders like [`f32::total_cmp`] (and like
/// `f64::from(x).total_cmp`).
pub(crate) fn total_order_bits_f32(x: f32) -> u32 {
    let b = x.to_bits();
    if b >> 31 == 1 { !b } else { b | 1 << 31 }
}

/// Spearman rank correlation (Pearson correlation of tie-averaged ranks); `None` if either
/// side is constant.
pub fn spearman(a: &[f64], b: &[f64]) -> Option<f64> {
    pearson(&ranks(a), &ranks(b))
}

/// Pearson correlation; `None` if either side is constant.
pub(crate) fn pearson(ra: &[f32], rb: &[f32]) -> Option<f64> {
    let n = ra.len() as f64;
    let sum = |v: &[f32]| v.iter().map(|&x| f64::from(x)).sum::<f64>();
    let (ma, mb) = (sum(ra) / n, sum(rb) / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (&x, &y) in ra.iter().zip(rb) {
        let (x, y) = (f64::from(x), f64::from(y));
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    (saa > 0.0 && sbb > 0.0).then(|| sab / (saa * sbb).sqrt())
}

/// Indices `0..n` sorted by `value`, ties by index.
fn argsort_by(n: usize, value: impl Fn(usize) -> f64 + Sync) -> Vec<u32> {
    // (value bits, index) pairs sort without lookups; the zeros, most trials of most columns,
    // stay out of the sort and go in index order where +0 belongs.
    let zero = total_order_bits(0.0);
    let mut keys: Vec<(u64, u32)> = (0..n)
        .into_par_iter()
        .map(|k| (total_order_bits(value(k)), k as u32))
        .filter(|&(b, _)| b != zero)
        .collect();
    keys.par_sort_unstable();
    with_zeros(n, &keys, |&(b, k)| (b < zero, k))
}

/// The order of [`argsort_by`] for an f32 column (`f64::from(value(k))` orders like the f32
/// itself), from one sort of 64-bit keys (value bits in total order, then index): no lookups
/// while sorting, which matters for the ten-million-trial columns.
fn argsort_f32(n: usize, value: impl Fn(usize) -> f32 + Sync) -> Vec<u32> {
    let bits = total_order_bits_f32;
    let zero = u64::from(bits(0.0));
    let mut keys: Vec<u64> = (0..n)
        .into_par_iter()
        .map(|k| u64::from(bits(value(k))) << 32 | k as u64)
        .filter(|&key| key >> 32 != zero)
        .collect();
    keys.par_sort_unstable();
    with_zeros(n, &keys, |&key| (key >> 32 < zero, key as u32))
}

/// The whole order of `0..n` from the sorted keys of the trials whose value is not +0, each
/// read by `split` as (value below +0, trial index): the trials below +0, then those at +0 in
/// index order, then the rest.
fn with_zeros<K>(n: usize, sorted: &[K], split: impl Fn(&K) -> (bool, u32)) -> Vec<u32> {
    let mut listed = vec![false; n];
    for key in sorted {
        listed[split(key).1 as usize] = true;
    }
    let below = sorted.partition_point(|key| split(key).0);
    let mut order = Vec::with_capacity(n);
    order.extend(sorted[..below].iter().map(|key| split(key).1));
    order.extend((0..n as u32).filter(|&k| !listed[k as usize]));
    order.extend(sorted[below..].iter().map(|key| split(key).1));
    order
}

/// Shocks ranked by the difference in `metric` between trials with and without them.
/// `order` sorts `metric`; rank correlations use the first `magnitude_ranks[i].len()` trials.
fn drivers(
    m: &Model,
    r: &RunResult,
    metric: &(impl Fn(usize) -> f64 + Sync),
    order: &[u32],
    magnitude_ranks: &[Vec<f32>],
) -> Vec<Driver> {
    let n = order.len();
    let kept = magnitude_ranks.first().map_or(0, Vec::len);
    let metric_ranks = ranks(&(0..kept).map(metric).collect::<Vec<_>>());
    // Squares are summed about the overall mean, which keeps the one-pass variances accurate
    // however large the shortfall is against its spread.
    let centre = (0..n).map(metric).sum::<f64>() / n.max(1) as f64;
    let shocks: Vec<usize> = (0..m.shocks.len()).collect();
    // Each group's sums in trial order, so that they are reproducible, every shock of a group
    // of shocks in one pass over the trials.
    let groups = group_sums(r, metric, centre, &shocks, |occ, &i| flag(occ, i));
    let p95s = top_p95s(r, metric, order, &groups);
    let mut out: Vec<Driver> = m
        .shocks
        .par_iter()
        .enumerate()
        .map(|(i, s)| {
            let g = &groups[i];
            let (n_without, n_with) = (g.count[0], g.count[1]);
            let (mw, mo) = (g.mean(1), g.mean(0));
            let effect_ci95 = match (mw.zip(mo), g.se2(1, centre), g.se2(0, centre)) {
                (Some((a, b)), Some(x), Some(y)) => {
                    let ci = MeanCi::from_se2(a - b, x + y);
                    Some([ci.low(), ci.high()])
                }
                _ => None,
            };
            Driver {
                id: s.id.clone(),
                trials_with: n_with,
                trials_without: n_without,
                mean_with: mw,
                mean_without: mo,
                effect: match (mw, mo) {
                    (Some(a), Some(b)) => a - b,
                    _ => 0.0,
                },
                effect_ci95,
                p_value: None,
                p_value_adjusted: None,
                effect_ci95_adjusted: None,
                p95_with: p95s[i][1],
                p95_without: p95s[i][0],
                rank_correlation: pearson(&magnitude_ranks[i], &metric_ranks),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.effect
            .abs()
            .total_cmp(&a.effect.abs())
            .then_with(|| a.id.cmp(&b.id))
    });
    adjust_for_multiple_tests(&mut out);
    out
}

/// A metric's sum, sum of squares about a centre and trial count over the trials outside (0)
/// and inside (1) a set of trials.
#[derive(Clone, Copy, Debug, Default)]
struct GroupSums {
    sum: [f64; 2],
    sq: [f64; 2],
    count: [u64; 2],
}

impl GroupSums {
    /// The mean over group `g`, if it has trials.
    fn mean(&self, g: usize) -> Option<f64> {
        (self.count[g] > 0).then(|| self.sum[g] / self.count[g] as f64)
    }

    /// The squared standard error of group `g`'s mean, from its sample variance (its squares
    /// are about `centre`).
    fn se2(&self, g: usize, centre: f64) -> Option<f64> {
        (self.count[g] >= 2).then(|| {
            let c = self.count[g] as f64;
            let d = self.sum[g] - centre * c;
            ((self.sq[g] - d * d / c) / (c - 1.0)).max(0.0) / c
        })
    }
}

/// [`GroupSums`] of `metric` for each of `sets`, a trial being in set `s` where
/// `inside(flags, s)`: every set in one pass over the trials (in trial order, so the sums are
/// reproducible), the sets split between the pool's threads.
fn group_sums<S: Sync>(
    r: &RunResult,
    metric: &(impl Fn(usize) -> f64 + Sync),
    centre: f64,
    sets: &[S],
    inside: impl Fn(&[u64], &S) -> bool + Sync,
) -> Vec<GroupSums> {
    let n = r.trials as usize;
    let per = sets.len().div_ceil(rayon::current_num_threads()).max(1);
    sets.par_chunks(per)
        .flat_map_iter(|sets| {
            let mut sums = vec![GroupSums::default(); sets.len()];
            for k in 0..n {
                let v = metric(k);
                let c = v - centre;
                let occ = &r.occurred[k * r.words..(k + 1) * r.words];
                for (g, set) in sums.iter_mut().zip(sets) {
                    let j = usize::from(inside(occ, set));
                    g.sum[j] += v;
                    g.sq[j] += c * c;
                    g.count[j] += 1;
                }
            }
            sums
        })
        .collect()
}

/// The nearest-rank P95 of `metric` over the trials without (0) and with (1) each shock, read
/// down from the top of `order` (ascending by `metric`) in one pass for every shock.
fn top_p95s(
    r: &RunResult,
    metric: &impl Fn(usize) -> f64,
    order: &[u32],
    groups: &[GroupSums],
) -> Vec<[Option<f64>; 2]> {
    let above = |n: u64| n.saturating_sub(nearest_rank(n, 0.95));
    let mut need: Vec<[u64; 2]> = groups
        .iter()
        .map(|g| [above(g.count[0]), above(g.count[1])])
        .collect();
    let mut p95 = vec![[None; 2]; groups.len()];
    // A group is done once its P95 is found, or at once if it is empty.
    let done =
        |p: &[Option<f64>; 2], g: &GroupSums| (0..2).all(|j| p[j].is_some() || g.count[j] == 0);
    let mut open: Vec<usize> = (0..groups.len())
        .filter(|&i| !done(&p95[i], &groups[i]))
        .collect();
    for &k in order.iter().rev() {
        if open.is_empty() {
            break;
        }
        let k = k as usize;
        let occ = &r.occurred[k * r.words..(k + 1) * r.words];
        open.retain(|&i| {
            let j = usize::from(flag(occ, i));
            if p95[i][j].is_none() && groups[i].count[j] > 0 {
                if need[i][j] == 0 {
                    p95[i][j] = Some(metric(k));
                } else {
                    need[i][j] -= 1;
                }
            }
            !done(&p95[i], &groups[i])
        });
    }
    p95
}

/// Tie-averaged ranks of each shock's per-trial magnitude over the trials that keep them,
/// computed once for every metric.
fn magnitude_ranks(m: &Model, r: &RunResult) -> Vec<Vec<f32>> {
    let (n, stride) = (r.rank_trials(), m.draw_stride());
    (0..m.shocks.len())
        .into_par_iter()
        .map(|i| {
            ranks(
                &(0..n)
                    .map(|k| f64::from(r.draws[k * stride + i]))
                    .collect::<Vec<_>>(),
            )
        })
        .collect()
}

/// The standard normal distribution function, from the complementary error function (relative
/// error below 1.2e-7, Numerical Recipes' `erfcc`): enough for p-values.
fn normal_cdf(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    if x >= 0.0 {
        1.0 - erfc / 2.0
    } else {
        erfc / 2.0
    }
}

/// The standard normal quantile function (Acklam's rational approximation, relative error below
/// 1.2e-9), for 0 < p < 1.
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.024_25 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.024_25 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// The multiplier of the standard error for 95% intervals that hold together over `m` tests
/// (Bonferroni: the 1 - 0.025 / m quantile); the plain 95% multiplier for one test.
pub fn simultaneous_z(m: usize) -> f64 {
    if m <= 1 {
        crate::prob::estimate::Z975
    } else {
        normal_quantile(1.0 - 0.025 / m as f64)
    }
}

/// Fills each driver's p-value and the adjusted p-value and interval for testing all the
/// drivers of the list that have an interval at once (Bonferroni). The standard error is read
/// back from the 95% interval.
pub fn adjust_for_multiple_tests(drivers: &mut [Driver]) {
    let m = drivers.iter().filter(|d| d.effect_ci95.is_some()).count();
    let z = simultaneous_z(m);
    for d in drivers.iter_mut() {
        let Some([lo, hi]) = d.effect_ci95 else {
            continue;
        };
        let se = (hi - lo) / (2.0 * crate::prob::estimate::Z975);
        let centre = (lo + hi) / 2.0;
        let p = if se > 0.0 {
            (2.0 * (1.0 - normal_cdf((centre / se).abs()))).clamp(0.0, 1.0)
        } else if centre == 0.0 {
            1.0
        } else {
            0.0
        };
        d.p_value = Some(p);
        d.p_value_adjusted = Some((p * m as f64).min(1.0));
        d.effect_ci95_adjusted = Some([centre - z * se, centre + z * se]);
    }
}

/// Per node, the outages and delays that hit it; per edge, the restrictions that cover it (shock
/// indices, in model order).
fn shocks_by_target(m: &Model) -> (Vec<Option<Vec<usize>>>, Vec<Vec<usize>>) {
    use crate::model::ShockKind;
    let mut nodes: Vec<Option<Vec<usize>>> = vec![None; m.nodes.len()];
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); m.edges.len()];
    for (i, s) in m.shocks.iter().enumerate() {
        match &s.kind {
            ShockKind::Markov { node, .. }
            | ShockKind::Events { node, .. }
            | ShockKind::Delay { node, .. } => {
                nodes[*node as usize].get_or_insert_with(Vec::new).push(i);
            }
            ShockKind::Restriction { edges: covered, .. } => {
                for &e in covered {
                    edges[e as usize].push(i);
                }
            }
            ShockKind::Tariff { .. } => {}
        }
    }
    (nodes, edges)
}

/// Each edge's planned flow per period, mean over the horizon: with no shock, each buyer orders
/// its need (demand nodes: demand; others: planned output / yield) split by its shares, each
/// supplier plans min(orders, capacity) (zero before a planned plant's announced start) and
/// ships it pro rata to the orders. Stocks, refills, offtakes and re-routing are left out.
pub fn planned_flows(m: &Model) -> Vec<f64> {
    let (nn, ne, tt) = (m.nodes.len(), m.edges.len(), m.periods);
    let mut mean = vec![0.0; ne];
    let mut order = vec![0.0; ne];
    let mut orders_in: Vec<f64> = vec![0.0; nn];
    let mut demand = vec![None; nn];
    for d in &m.demand {
        demand[d.node as usize] = Some(&d.per_period);
    }
    for t in 0..tt {
        orders_in.fill(0.0);
        // Buyers come after their suppliers in the model's (topological) order.
        for n in (0..nn).rev() {
            let (need, ratio) = match demand[n] {
                Some(per) => (per[t], 1.0),
                None => {
                    let hot = &m.hot[n];
                    if hot.joint() {
                        // A co-product plant plans for the largest of its parts' orders.
                        orders_in[n] = m.out_edges
                            [m.out_off[n] as usize..m.out_off[n + 1] as usize]
                            .iter()
                            .map(|&e| order[e as usize])
                            .fold(0.0, f64::max);
                    }
                    let cap = if (t as i64) < m.planned_online[n] {
                        0.0
                    } else {
                        hot.capacity
                    };
                    let plan = orders_in[n].min(cap);
                    let ratio = if orders_in[n] > 0.0 {
                        plan / orders_in[n]
                    } else {
                        0.0
                    };
                    (plan * hot.inv_yield, ratio)
                }
            };
            // Ship on the out-edges, whose orders the buyers placed earlier in this pass.
            let out = &m.out_edges[m.out_off[n] as usize..m.out_off[n + 1] as usize];
            let hot = &m.hot[n];
            for &e in out {
                let o = order[e as usize];
                let flow = if hot.joint() {
                    // Every part receives the whole throughput (or at most its order).
                    let made = orders_in[n] * ratio;
                    if hot.lose() { o.min(made) } else { made }
                } else {
                    o * ratio
                };
                mean[e as usize] += flow / tt as f64;
            }
            let ins = m.in_off[n] as usize..m.in_off[n + 1] as usize;
            let shares: f64 = m.edges[ins.clone()].iter().map(|e| e.share).sum();
            for e in ins {
                // A recipe node orders its whole need from each input part.
                let w = if m.hot[n].assembly() {
                    1.0
                } else if shares > 0.0 {
                    m.edges[e].share / shares
                } else {
                    0.0
                };
                order[e] = w * need;
                orders_in[m.edges[e].src as usize] += order[e];
            }
        }
    }
    mean
}

/// Per shock, its magnitude (for a restriction: its blocked share summed over the periods in
/// force) averaged over the trials that keep magnitudes; 0 where none does.
fn mean_magnitudes(m: &Model, r: &RunResult) -> Vec<f64> {
    let (n, stride) = (r.rank_trials(), m.draw_stride());
    (0..m.shocks.len())
        .map(|i| {
            if n == 0 {
                return 0.0;
            }
            (0..n)
                .map(|k| f64::from(r.draws[k * stride + i]))
                .sum::<f64>()
                / n as f64
        })
        .collect()
}

/// The [`Consequence`] of each set of shocks in `sets` (indices) on `metric`, each trial's
/// total shortfall, from one pass over the trials.
fn consequences(
    m: &Model,
    r: &RunResult,
    sets: &[&[usize]],
    metric: &(impl Fn(usize) -> f64 + Sync),
) -> Vec<Consequence> {
    let n = r.trials as usize;
    let centre = (0..n).map(metric).sum::<f64>() / n.max(1) as f64;
    // Each set as a mask over a trial's flag words.
    let masks: Vec<Vec<u64>> = sets
        .iter()
        .map(|set| {
            let mut mask = vec![0u64; r.words];
            for &i in *set {
                mask[i / 64] |= 1 << (i % 64);
            }
            mask
        })
        .collect();
    let sums = group_sums(r, metric, centre, &masks, |occ, mask| {
        occ.iter().zip(mask).any(|(o, k)| o & k != 0)
    });
    sets.iter()
        .zip(sums)
        .map(|(shocks, g)| {
            let share = g.count[1] as f64 / n.max(1) as f64;
            let (clear, hit) = (g.mean(0), g.mean(1));
            let removed_t = clear.zip(hit).map(|(c, h)| share * (h - c));
            let removed_ci95 =
                removed_t
                    .zip(g.se2(0, centre).zip(g.se2(1, centre)))
                    .map(|(x, (a, b))| {
                        let ci = MeanCi::from_se2(x, share * share * (a + b));
                        [ci.low(), ci.high()]
                    });
            Consequence {
                shocks: shocks.iter().map(|&i| m.shocks[i].id.clone()).collect(),
                trials_hit: g.count[1],
                mean_hit: hit,
                mean_clear: clear,
                removed_t,
                removed_ci95,
            }
        })
        .collect()
}

/// Builds the summary of a run, with the profile of its worst trials (which the engine
/// re-simulates: see `sim::engine::tail_profile`).
pub fn summarise(m: &Model, r: &RunResult, tail: &TailProfile) -> Summary {
    let n = r.trials as usize;
    let tt = m.periods;
    let mag_ranks = magnitude_ranks(m, r);
    let demand: Vec<DemandSummary> = m
        .demand
        .iter()
        .enumerate()
        .map(|(d, dn)| {
            let node = &m.nodes[dn.node as usize];
            let st = &r.streams[d];
            let total = dn.total;
            let short = |k: usize| r.shortfall(k, d);
            let order = argsort_f32(n, |k| r.shortfall[k * r.demand_nodes + d]);
            let shortfall_t = Spread::of_column(n, short, &order);
            let drivers = drivers(m, r, &short, &order, &mag_ranks);
            // Dividing by a positive constant keeps the order.
            let share = |k: usize| if total > 0.0 { short(k) / total } else { 0.0 };
            let shortfall_share = Spread::of_column(n, share, &order);
            // Trials above a threshold: those after the last one at or below it in `order`.
            let exceedance = m
                .thresholds
                .iter()
                .map(|&th| Exceedance {
                    threshold_share: th,
                    threshold_t: th * total,
                    probability: (n - order.partition_point(|&k| short(k as usize) <= th * total))
                        as f64
                        / n as f64,
                })
                .collect();
            drop(order);
            let bands = (0..tt)
                .map(|t| {
                    let h = &r.hist[(d * tt + t) * BINS..(d * tt + t + 1) * BINS];
                    Band {
                        month: m.month_label(t),
                        p5: hist_quantile(h, 0.05),
                        p25: hist_quantile(h, 0.25),
                        p50: hist_quantile(h, 0.5),
                        p75: hist_quantile(h, 0.75),
                        p95: hist_quantile(h, 0.95),
                        percentile_ci95: [0.05, 0.25, 0.5, 0.75, 0.95]
                            .map(|p| hist_quantile_ci(h, p)),
                        prob_short: hist_prob_short(h),
                        short_given_short: hist_short_given_short(h),
                    }
                })
                .collect();
            let mut limited_by: Vec<Limit> = (m.limit_off[d] as usize..m.limit_off[d + 1] as usize)
                .filter(|&c| tail.limited_by.get(c).is_some_and(|&x| x > 0.0))
                .map(|c| {
                    let k = m.limits[c].material as usize;
                    Limit {
                        material: m.materials[k].id.clone(),
                        label: m.materials[k].label.clone(),
                        share: tail.limited_by[c],
                    }
                })
                .collect();
            limited_by.sort_by(|a, b| b.share.total_cmp(&a.share));
            DemandSummary {
                material: m.material_id(dn.material).map(str::to_string),
                limited_by,
                node: node.id.clone(),
                label: node.label.clone(),
                demand_t: total,
                shortfall_t,
                shortfall_share,
                exceedance,
                worst_period_t: Spread::of_sketch(&st.worst),
                worst_period_share: Spread::of_sketch(&st.worst_frac),
                time_to_survive: Durations::of(&st.survive),
                time_to_recover: Durations::of(&st.recover),
                tariff_cost_usd: Spread::of_sketch(&st.tariff),
                bands,
                drivers,
            }
        })
        .collect();
    let shocks = m
        .shocks
        .iter()
        .enumerate()
        .map(|(i, s)| ShockSummary {
            id: s.id.clone(),
            category: s.category.to_string(),
            probability: (0..n).filter(|&k| r.occurred(k, i)).count() as f64 / n as f64,
        })
        .collect();
    let total = |k: usize| r.total_shortfall(k);
    let (node_shocks, edge_shocks) = shocks_by_target(m);
    let planned = planned_flows(m);
    let blocked_periods = mean_magnitudes(m, r);
    // The consequences of each node's shocks and of each restricted edge's, in one pass.
    let sets: Vec<&[usize]> = node_shocks
        .iter()
        .flatten()
        .chain(edge_shocks.iter().filter(|s| !s.is_empty()))
        .map(Vec::as_slice)
        .collect();
    let mut hit = consequences(m, r, &sets, &total).into_iter();
    let nodes = m
        .nodes
        .iter()
        .enumerate()
        .map(|(i, node)| NodeSummary {
            // A co-product plant makes several: its parts say which.
            material: if m.hot[i].joint() {
                None
            } else {
                m.material_id(node.material).map(str::to_string)
            },
            part_of: match node.part {
                Part::Whole => None,
                Part::Input { of, .. } | Part::Output { of, .. } => {
                    Some(m.nodes[of as usize].id.clone())
                }
            },
            id: node.id.clone(),
            label: node.label.clone(),
            kind: node.kind,
            country: m.countries[node.country as usize].clone(),
            capacity: if node.kind == Kind::Demand {
                m.demand
                    .iter()
                    .find(|d| d.node as usize == i)
                    .map_or(0.0, |d| d.per_period[0])
            } else {
                node.capacity
            },
            tail_trials: tail.node_trials[i],
            tail_share: tail.node_share[i],
            disruption: node_shocks[i].as_ref().and_then(|_| hit.next()),
        })
        .collect();
    let edges = m
        .edges
        .iter()
        .enumerate()
        .map(|(e, edge)| EdgeSummary {
            from: m.nodes[edge.src as usize].id.clone(),
            to: m.nodes[edge.dst as usize].id.clone(),
            share: edge.share,
            tail_flow: tail.edge_flow[e],
            restricted_by: edge_shocks[e]
                .iter()
                .map(|&i| m.shocks[i].id.clone())
                .collect(),
            planned_flow_t: planned[e],
            withheld_t: edge_shocks[e]
                .iter()
                .map(|&i| blocked_periods[i] * planned[e])
                .sum(),
            restriction: (!edge_shocks[e].is_empty()).then(|| hit.next()).flatten(),
            material: m.material_id(edge.material).map(str::to_string),
        })
        .collect();
    let warnings = tail_warnings(r.trials, &demand);
    Summary {
        warnings,
        drivers: drivers(m, r, &total, &argsort_by(n, total), &mag_ranks),
        sensitivity: crate::stats::sensitivity::sensitivity(m, r),
        nodes,
        edges,
        schema_version: SCHEMA_VERSION,
        scenario: m.name.clone(),
        description: m.description.clone(),
        seed: r.seed,
        trials: r.trials,
        periods: tt,
        start: m.month_label(0),
        policy: m.policy,
        demand,
        shocks,
    }
}

/// The model's kinds and policies in summary.json: by the names scenario files give them.
mod by_name {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::model::{Kind, Policy};

    /// A model enum named as in scenario files.
    pub trait Named: Sized + Copy {
        fn name(self) -> &'static str;
        fn from_name(name: &str) -> Option<Self>;
    }

    impl Named for Kind {
        fn name(self) -> &'static str {
            Kind::name(self)
        }
        fn from_name(name: &str) -> Option<Kind> {
            Kind::from_name(name)
        }
    }

    impl Named for Policy {
        fn name(self) -> &'static str {
            Policy::name(self)
        }
        fn from_name(name: &str) -> Option<Policy> {
            Policy::from_name(name)
        }
    }

    pub fn serialize<S: Serializer, T: Named>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: Named>(d: D) -> Result<T, D::Error> {
        let name = String::deserialize(d)?;
        T::from_name(&name).ok_or_else(|| D::Error::custom(format!("unknown name `{name}`")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prob::estimate::{quantile, quantile_ci, tail_mean};

    #[test]
    fn argsort_of_f32_keys_matches_the_comparison_sort() {
        use rand::{RngExt, SeedableRng};
        let mut g = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(9);
        // Many ties (zeros and repeated values), signed zeros, extremes and random values.
        let v: Vec<f32> = (0..50_000)
            .map(|i| match i % 7 {
                0 | 1 => 0.0,
                2 => 1.5,
                3 => -0.0,
                4 => [f32::MAX, f32::MIN_POSITIVE, -2.0, f32::INFINITY][i % 4],
                _ => g.random::<f32>() * 1e4,
            })
            .collect();
        // The plain comparison sort, ties by index.
        let mut by_f64: Vec<u32> = (0..v.len() as u32).collect();
        by_f64.sort_by(|&a, &b| {
            f64::from(v[a as usize])
                .total_cmp(&f64::from(v[b as usize]))
                .then(a.cmp(&b))
        });
        assert_eq!(argsort_f32(v.len(), |k| v[k]), by_f64);
        assert_eq!(argsort_by(v.len(), |k| f64::from(v[k])), by_f64);
        // Values no f32 holds sort alike.
        let w: Vec<f64> = v.iter().map(|&x| f64::from(x) * (1.0 + 1e-12)).collect();
        let mut by_w: Vec<u32> = (0..w.len() as u32).collect();
        by_w.sort_by(|&a, &b| w[a as usize].total_cmp(&w[b as usize]).then(a.cmp(&b)));
        assert_eq!(argsort_by(w.len(), |k| w[k]), by_w);
    }

    #[test]
    fn ranks_average_ties_whatever_the_values() {
        // The definition: 1 + the values below, + half the other values equal to it.
        let naive = |v: &[f64]| -> Vec<f32> {
            v.iter()
                .map(|&x| {
                    let below = v.iter().filter(|&&y| y < x).count();
                    let equal = v.iter().filter(|&&y| y == x).count();
                    (below as f64 + (equal as f64 + 1.0) / 2.0) as f32
                })
                .collect()
        };
        let f32s: Vec<f64> = (0..3000)
            .map(|i| f64::from([0.0f32, -0.0, 1.5, 2.25, 1e-30, -7.0][i % 6] * (i % 5) as f32))
            .collect();
        assert_eq!(ranks(&f32s), naive(&f32s));
        let f64s: Vec<f64> = f32s.iter().map(|&x| x + 0.1).collect();
        assert_eq!(ranks(&f64s), naive(&f64s));
    }

    #[test]
    fn nearest_rank_quantiles_and_tail_means() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.95), 95.0);
        assert_eq!(quantile(&v, 0.5), 50.0);
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&v, 1.0), 100.0);
        assert_eq!(tail_mean(&v, 0.95), 98.0); // mean of 96..=100
        assert_eq!(tail_mean(&v, 0.99), 100.0);
    }

    #[test]
    fn order_statistic_intervals_cover_the_quantile() {
        let v: Vec<f64> = (1..=1000).map(f64::from).collect();
        let [lo, hi] = quantile_ci(&v, 0.95);
        // np = 950, 1.96 sqrt(950 * 0.05) = 13.5: ranks 936 and 965.
        assert_eq!((lo, hi), (936.0, 965.0));
        assert!(lo <= quantile(&v, 0.95) && quantile(&v, 0.95) <= hi);
        let [lo, hi] = quantile_ci(&v[..10], 0.999);
        assert_eq!((lo, hi), (9.0, 10.0));
    }

    #[test]
    fn spearman_of_monotone_and_tied_data() {
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]), Some(1.0));
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), Some(-1.0));
        assert_eq!(spearman(&[1.0, 1.0, 1.0], &[3.0, 2.0, 1.0]), None);
        assert_eq!(ranks(&[5.0, 1.0, 5.0, 2.0]), vec![3.5, 1.0, 3.5, 2.0]);
    }

    #[test]
    fn histogram_quantiles() {
        let mut h = vec![0u32; BINS];
        h[0] = 10; // 10 trials fully short
        h[BINS - 1] = 90; // 90 fully served
        assert_eq!(hist_quantile(&h, 0.05), 0.0);
        assert_eq!(hist_quantile(&h, 0.10), 0.0);
        assert_eq!(hist_quantile(&h, 0.11), 1.0);
    }
}
