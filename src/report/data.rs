//! The data behind each chart, computed from a summary and per-trial shortfalls. No pixels
//! here: these structures are what the tests check.

use serde::Serialize;

use crate::model::Kind;
use crate::stats::summary::Summary;

/// What a report is drawn from: the summary, and each demand node's shortfall histogram and
/// exceedance curve, reduced from its per-trial total shortfall (one node at a time, so that a
/// large run needs memory for one column only).
#[derive(Clone, Debug)]
pub struct ReportInput {
    /// The run's summary.
    pub summary: Summary,
    /// Histogram of each demand node's total shortfall, in the order of `summary.demand`.
    pub histograms: Vec<Histogram>,
    /// Exceedance curve of each demand node.
    pub exceedance: Vec<Exceedance>,
    /// Whether trials.csv sits beside the report (the index links to it).
    pub trials_csv: bool,
}

impl ReportInput {
    /// Builds the input from the summary and `column(d)`: demand node d's per-trial total
    /// shortfall, tonnes.
    pub fn new(summary: Summary, mut column: impl FnMut(usize) -> Vec<f64>) -> ReportInput {
        let (mut histograms, mut exceedance) = (Vec::new(), Vec::new());
        for (i, d) in summary.demand.iter().enumerate() {
            let mut values = column(i);
            values.sort_unstable_by(f64::total_cmp);
            histograms.push(histogram(d, &values));
            exceedance.push(Exceedance {
                node: d.node.clone(),
                points: curve_of_sorted(&values),
            });
        }
        ReportInput {
            summary,
            histograms,
            exceedance,
            trials_csv: true,
        }
    }
}

/// Histogram of one demand node's total shortfall over the trials that had one.
#[derive(Clone, Debug, Serialize)]
pub struct Histogram {
    /// Node id.
    pub node: String,
    /// Total demand, tonnes.
    pub demand_t: f64,
    /// Number of trials.
    pub trials: u64,
    /// Trials without shortfall (not drawn as a bar).
    pub zero_trials: u64,
    /// `(low, high, count)` of each bin, tonnes.
    pub bins: Vec<(f64, f64, u64)>,
    /// Mean over all trials.
    pub mean: f64,
    /// 95% value at risk.
    pub var95: f64,
    /// 95% expected shortfall.
    pub cvar95: f64,
}

/// Bins of a histogram.
pub const HIST_BINS: usize = 30;

/// The histogram of one demand node's per-trial total shortfall.
pub fn histogram(d: &crate::stats::summary::DemandSummary, values: &[f64]) -> Histogram {
    let positive = values.iter().filter(|v| **v > 0.0);
    let max = positive.clone().copied().fold(0.0, f64::max);
    let n_positive = positive.clone().count();
    let mut bins = Vec::new();
    if max > 0.0 {
        let width = max / HIST_BINS as f64;
        let mut counts = [0u64; HIST_BINS];
        for v in positive {
            counts[((v / width) as usize).min(HIST_BINS - 1)] += 1;
        }
        bins = counts
            .iter()
            .enumerate()
            .map(|(i, c)| (i as f64 * width, (i + 1) as f64 * width, *c))
            .collect();
    }
    Histogram {
        node: d.node.clone(),
        demand_t: d.demand_t,
        trials: values.len() as u64,
        zero_trials: (values.len() - n_positive) as u64,
        bins,
        mean: d.shortfall_t.mean,
        var95: d.shortfall_t.var95,
        cvar95: d.shortfall_t.cvar95,
    }
}

/// One point of a loss-exceedance curve: P(shortfall > x) with its 95% Wilson interval.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct ExceedancePoint {
    /// Shortfall, tonnes.
    pub x: f64,
    /// Fraction of trials above x.
    pub p: f64,
    /// Lower end of the 95% confidence interval of p.
    pub low: f64,
    /// Upper end.
    pub high: f64,
}

/// The loss-exceedance curve of one demand node.
#[derive(Clone, Debug, Serialize)]
pub struct Exceedance {
    /// Node id.
    pub node: String,
    /// Points in increasing x, at most [`CURVE_POINTS`].
    pub points: Vec<ExceedancePoint>,
}

/// Exceedance curves of several scenarios for one demand node: the node id and, per scenario,
/// its name and curve.
pub type CurvePanel = (String, Vec<(String, Vec<ExceedancePoint>)>);

/// Most points kept on a curve.
pub const CURVE_POINTS: usize = 200;

/// Wilson score interval for `k` successes in `n` trials at 95%.
pub fn wilson(k: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (n, p, z) = (n as f64, k as f64 / n as f64, crate::prob::estimate::Z975);
    let denom = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / denom;
    // The interval always holds the estimate; clamp away rounding at p = 0 or 1.
    ((centre - half).clamp(0.0, p), (centre + half).clamp(p, 1.0))
}

/// The exceedance curve of per-trial values: P(value > x) at up to [`CURVE_POINTS`] values of x
/// (0 and the observed positive values), with 95% Wilson intervals; empty if no value is above 0.
pub fn curve(values: &[f64]) -> Vec<ExceedancePoint> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    curve_of_sorted(&sorted)
}

/// [`curve`] of values already sorted.
pub fn curve_of_sorted(sorted: &[f64]) -> Vec<ExceedancePoint> {
    let n = sorted.len() as u64;
    let positive = &sorted[sorted.partition_point(|v| *v <= 0.0)..];
    let step = positive.len().div_ceil(CURVE_POINTS).max(1);
    let mut xs: Vec<f64> = Vec::new();
    if let Some(&last) = positive.last() {
        xs.push(0.0);
        xs.extend(positive.iter().step_by(step));
        if xs.last().is_some_and(|x| *x < last) {
            xs.push(last);
        }
    }
    xs.into_iter()
        .map(|x| {
            let above = (sorted.len() - sorted.partition_point(|v| *v <= x)) as u64;
            let (low, high) = wilson(above, n);
            ExceedancePoint {
                x,
                p: above as f64 / n as f64,
                low,
                high,
            }
        })
        .collect()
}

/// A tornado bar: total shortfall with and without a shock.
#[derive(Clone, Debug, Serialize)]
pub struct TornadoBar {
    /// Shock id.
    pub id: String,
    /// Mean with the shock, tonnes.
    pub with: f64,
    /// Mean without.
    pub without: f64,
    /// Trials with it.
    pub n_with: u64,
    /// Trials without it.
    pub n_without: u64,
    /// 95% confidence interval of with - without, if both groups have two trials or more.
    pub ci: Option<[f64; 2]>,
}

/// Most bars on the tornado chart.
pub const TORNADO_BARS: usize = 14;

/// The tornado: the mean total shortfall over all trials, the shocks that occurred in some but
/// not all trials (largest effect first, at most [`TORNADO_BARS`]), and how many shocks it
/// leaves out for occurring in every trial or in none.
pub fn tornado(input: &ReportInput) -> (f64, Vec<TornadoBar>, usize) {
    let overall: f64 = input
        .summary
        .demand
        .iter()
        .map(|d| d.shortfall_t.mean)
        .sum();
    let compared: Vec<TornadoBar> = input
        .summary
        .drivers
        .iter()
        .filter_map(|d| {
            Some(TornadoBar {
                id: d.id.clone(),
                with: d.mean_with?,
                without: d.mean_without?,
                n_with: d.trials_with,
                n_without: d.trials_without,
                ci: d.effect_ci95,
            })
        })
        .collect();
    let hidden = input.summary.drivers.len() - compared.len();
    let bars = compared.into_iter().take(TORNADO_BARS).collect();
    (overall, bars, hidden)
}

/// A node placed on the supply-graph picture.
#[derive(Clone, Debug, Serialize)]
pub struct GraphNode {
    /// Node id.
    pub id: String,
    /// Stage column, 0 (mines) to 4 (demand).
    pub column: usize,
    /// Vertical position in [0, 1], top to bottom.
    pub y: f64,
    /// Capacity (demand nodes: demand), tonnes per period.
    pub size: f64,
    /// How often it was down or binding in the worst 5% of trials, in [0, 1]; for demand nodes,
    /// the probability of any shortfall.
    pub criticality: f64,
}

/// An edge of the supply-graph picture.
#[derive(Clone, Debug, Serialize)]
pub struct GraphEdge {
    /// Index of the supplier in the node list.
    pub from: usize,
    /// Index of the buyer.
    pub to: usize,
    /// Mean flow per period in the worst trials, tonnes.
    pub flow: f64,
}

/// Stage column of a node kind.
pub fn column(kind: Kind) -> usize {
    match kind {
        Kind::Mine => 0,
        Kind::Refinery => 1,
        Kind::Metal => 2,
        Kind::Magnet => 3,
        Kind::Demand => 4,
    }
}

/// Lays the network out in stage columns, keeping the summary's (topological) order within a
/// column.
pub fn graph(input: &ReportInput) -> (Vec<GraphNode>, Vec<GraphEdge>) {
    let s = &input.summary;
    let mut per_col = [0usize; 5];
    for n in &s.nodes {
        per_col[column(n.kind)] += 1;
    }
    let mut seen = [0usize; 5];
    let nodes: Vec<GraphNode> = s
        .nodes
        .iter()
        .map(|n| {
            let c = column(n.kind);
            seen[c] += 1;
            GraphNode {
                id: n.id.clone(),
                column: c,
                y: (seen[c] as f64 - 0.5) / per_col[c] as f64,
                size: n.capacity,
                criticality: if n.kind == Kind::Demand {
                    s.demand
                        .iter()
                        .find(|d| d.node == n.id)
                        .map_or(0.0, |d| d.shortfall_t.prob_any)
                } else {
                    n.tail_trials
                },
            }
        })
        .collect();
    let index = |id: &str| s.nodes.iter().position(|n| n.id == id);
    let edges = s
        .edges
        .iter()
        .filter_map(|e| {
            Some(GraphEdge {
                from: index(&e.from)?,
                to: index(&e.to)?,
                flow: e.tail_flow,
            })
        })
        .collect();
    (nodes, edges)
}

/// Panels of a per-node chart at most: one per demand node, so a scenario with more demand nodes
/// shows only some of them, those with the largest mean shortfall (see [`largest`]).
pub const MAX_PANELS: usize = 24;

/// The indices of the [`MAX_PANELS`] largest `scores` (the earlier of equal ones; NaN last), in
/// their original order.
pub fn largest(scores: &[f64]) -> Vec<usize> {
    let key = |i: usize| {
        if scores[i].is_nan() {
            f64::NEG_INFINITY
        } else {
            scores[i]
        }
    };
    let mut shown: Vec<usize> = (0..scores.len()).collect();
    shown.sort_by(|&a, &b| key(b).total_cmp(&key(a)));
    shown.truncate(MAX_PANELS);
    shown.sort_unstable();
    shown
}

/// The base's demand nodes (`nodes`, by index) a comparison's charts show: for the overlaid
/// curves, those with the largest mean shortfall in any alternative; for the paired
/// differences, the same among the nodes an alternative has too, with how many those are.
pub fn compare_panels(
    c: &crate::stats::compare::Comparison,
    nodes: &[String],
) -> (Vec<usize>, Vec<usize>, usize) {
    // The largest mean shortfall of each node in any alternative; none where no alternative
    // has the node.
    let most: Vec<Option<f64>> = nodes
        .iter()
        .map(|n| {
            c.alternatives
                .iter()
                .flat_map(|a| a.demand.iter().filter(|d| &d.node == n))
                .map(|d| d.base_mean.max(d.alt_mean))
                .reduce(f64::max)
        })
        .collect();
    let scores: Vec<f64> = most.iter().map(|m| m.unwrap_or(0.0)).collect();
    let paired: Vec<f64> = most.iter().map(|m| m.unwrap_or(f64::NAN)).collect();
    let mut with_diffs = largest(&paired);
    with_diffs.retain(|&d| !paired[d].is_nan());
    let paired_nodes = paired.iter().filter(|s| !s.is_nan()).count();
    (largest(&scores), with_diffs, paired_nodes)
}

/// The demand nodes a sweep's chart shows, by index: those a swept path addresses (see
/// [`crate::scenario::variant::path_node`]), then those with the largest mean shortfall at any point.
pub fn sweep_panels(s: &crate::stats::sweep::Sweep) -> Vec<usize> {
    let Some(first) = s.points.first() else {
        return Vec::new();
    };
    let swept: Vec<&str> = s
        .paths
        .iter()
        .filter_map(|p| crate::scenario::variant::path_node(p))
        .collect();
    let scores: Vec<f64> = first
        .demand
        .iter()
        .enumerate()
        .map(|(d, m)| {
            if swept.contains(&m.node.as_str()) {
                return f64::INFINITY;
            }
            s.points
                .iter()
                .filter_map(|p| p.demand.get(d))
                .map(|m| m.mean)
                .fold(0.0, f64::max)
        })
        .collect();
    largest(&scores)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_interval_contains_the_estimate() {
        let (lo, hi) = wilson(5, 100);
        assert!(lo < 0.05 && 0.05 < hi);
        assert!(
            (lo - 0.0215).abs() < 1e-3 && (hi - 0.1118).abs() < 1e-3,
            "{lo} {hi}"
        );
        assert_eq!(wilson(0, 10).0, 0.0);
    }
}
