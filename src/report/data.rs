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
    /// The per-trial file beside the report (trials.csv or trials.parquet), which the index
    /// links to; `None` where the run kept none.
    pub trials_file: Option<&'static str>,
}

impl ReportInput {
    /// Builds the input from the summary and `column(d)`: demand node d's per-trial total
    /// shortfall, tonnes.
    pub fn new(summary: Summary, mut column: impl FnMut(usize) -> Vec<f64>) -> ReportInput {
        let (mut histograms, mut exceedance) = (Vec::new(), Vec::new());
        for (i, d) in summary.demand.iter().enumerate() {
            let mut values = column(i);
            values.sort_unstable_by(f64::total_cmp);
            let mut h = histogram(d, &values);
            h.unit = demand_unit(&summary, &d.node);
            histograms.push(h);
            exceedance.push(Exceedance {
                node: d.node.clone(),
                points: curve_of_sorted(&values),
            });
        }
        ReportInput {
            summary,
            histograms,
            exceedance,
            trials_file: Some("trials.csv"),
        }
    }
}

/// Histogram of one demand node's total shortfall over the trials that had one.
#[derive(Clone, Debug, Serialize)]
pub struct Histogram {
    /// Node id.
    pub node: String,
    /// Readable name.
    pub label: String,
    /// What its tonnes are of (see [`demand_unit`]).
    pub unit: String,
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
    /// Mean over the trials with a shortfall, those the bars show (0 if none).
    pub mean_if_short: f64,
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
    let mean_if_short = if n_positive > 0 {
        values.iter().filter(|v| **v > 0.0).sum::<f64>() / n_positive as f64
    } else {
        0.0
    };
    Histogram {
        node: d.node.clone(),
        label: d.label.clone(),
        unit: "t".to_string(),
        demand_t: d.demand_t,
        trials: values.len() as u64,
        zero_trials: (values.len() - n_positive) as u64,
        bins,
        mean: d.shortfall_t.mean,
        mean_if_short,
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
    /// The same interval corrected for comparing every shown and hidden shock with an interval
    /// at once (Bonferroni; see [`crate::stats::summary::adjust_for_multiple_tests`]).
    pub ci_adjusted: Option<[f64; 2]>,
}

/// Whether a bar's effect can be told from noise: its adjusted interval excludes 0.
pub fn clear_of_noise(b: &TornadoBar) -> bool {
    b.ci_adjusted.is_some_and(|[lo, hi]| lo > 0.0 || hi < 0.0)
}

/// Most bars on the tornado chart.
pub const TORNADO_BARS: usize = 14;

/// The tornado: the mean total shortfall over all trials, the shocks that occurred in some but
/// not all trials (largest effect first, at most [`TORNADO_BARS`]), and how many shocks it
/// leaves out for occurring in every trial or in none.
pub fn tornado(input: &ReportInput) -> (f64, Vec<TornadoBar>, usize) {
    // A summary written before the adjusted intervals existed: adjust here.
    let mut drivers = input.summary.drivers.clone();
    if drivers
        .iter()
        .any(|d| d.effect_ci95.is_some() && d.effect_ci95_adjusted.is_none())
    {
        crate::stats::summary::adjust_for_multiple_tests(&mut drivers);
    }
    let overall: f64 = input
        .summary
        .demand
        .iter()
        .map(|d| d.shortfall_t.mean)
        .sum();
    let compared: Vec<TornadoBar> = drivers
        .iter()
        .filter_map(|d| {
            Some(TornadoBar {
                id: d.id.clone(),
                with: d.mean_with?,
                without: d.mean_without?,
                n_with: d.trials_with,
                n_without: d.trials_without,
                ci: d.effect_ci95,
                ci_adjusted: d.effect_ci95_adjusted,
            })
        })
        .collect();
    let hidden = drivers.len() - compared.len();
    let bars = compared.into_iter().take(TORNADO_BARS).collect();
    (overall, bars, hidden)
}

/// How many shocks the drivers compare with an interval: the family the adjusted intervals are
/// corrected for.
pub fn tested(input: &ReportInput) -> usize {
    input
        .summary
        .drivers
        .iter()
        .filter(|d| d.effect_ci95.is_some())
        .count()
}

/// A node placed on the supply-graph picture.
#[derive(Clone, Debug, Serialize)]
pub struct GraphNode {
    /// Node id.
    pub id: String,
    /// Readable name.
    pub label: String,
    /// Stage column, 0 (mines) to 4 (demand).
    pub column: usize,
    /// Vertical position in [0, 1], top to bottom.
    pub y: f64,
    /// Capacity (demand nodes: demand), tonnes per period.
    pub size: f64,
    /// Criticality by consequence: the mean total shortfall, tonnes, that the node's own outages
    /// and late start cause (see [`crate::stats::summary::Consequence`]); `None` for a demand
    /// node, a node no outage or delay hits, or one hit in every trial or none.
    pub consequence: Option<f64>,
    /// Its interval, adjusted for every interval the graph shows (Bonferroni; see
    /// [`adjust_intervals`]).
    pub consequence_ci: Option<[f64; 2]>,
    /// Share of trials in which its outages or delays occurred; `None` where none can.
    pub hit: Option<f64>,
    /// `consequence` as a share of the mean total shortfall, in [0, 1] (the colour).
    pub criticality: f64,
    /// Demand nodes: the probability of any shortfall.
    pub prob_short: Option<f64>,
}

/// An edge of the supply-graph picture.
#[derive(Clone, Debug, Serialize)]
pub struct GraphEdge {
    /// Index of the supplier in the node list.
    pub from: usize,
    /// Index of the buyer.
    pub to: usize,
    /// Planned flow per period (with no shock), tonnes.
    pub flow: f64,
    /// The export restrictions that cover it, by id.
    pub restricted_by: Vec<String>,
    /// Tonnes withheld over the horizon, mean over trials (see
    /// [`crate::stats::summary::EdgeSummary::withheld_t`]).
    pub withheld_t: f64,
}

/// A set of export restrictions that covers some edges, and what it costs.
#[derive(Clone, Debug, Serialize)]
pub struct GraphRestriction {
    /// The restrictions, by id.
    pub shocks: Vec<String>,
    /// Edges it covers.
    pub edges: usize,
    /// Tonnes withheld on those edges over the horizon, mean over trials.
    pub withheld_t: f64,
    /// Share of trials in which at least one was in force.
    pub hit: f64,
    /// The mean total shortfall they cause, tonnes.
    pub consequence: Option<f64>,
    /// Its interval, adjusted as the nodes'.
    pub consequence_ci: Option<[f64; 2]>,
}

/// 95% intervals widened to hold together over all of them (Bonferroni): each `[lo, hi]` about
/// its centre, by `simultaneous_z(m) / Z975` for the `m` intervals given.
pub fn adjust_intervals(intervals: &mut [&mut Option<[f64; 2]>]) {
    let m = intervals.iter().filter(|c| c.is_some()).count();
    let factor = crate::stats::summary::simultaneous_z(m) / crate::prob::estimate::Z975;
    for ci in intervals.iter_mut() {
        if let Some([lo, hi]) = ci {
            let (centre, half) = ((*lo + *hi) / 2.0, (*hi - *lo) / 2.0 * factor);
            **ci = Some([centre - half, centre + half]);
        }
    }
}

/// The supply graph's data: nodes, edges and the restriction sets on its edges.
#[derive(Clone, Debug, Serialize)]
pub struct Graph {
    /// Nodes, in the summary's order.
    pub nodes: Vec<GraphNode>,
    /// Edges.
    pub edges: Vec<GraphEdge>,
    /// Each distinct set of restrictions that covers an edge, in order of first appearance.
    pub restrictions: Vec<GraphRestriction>,
    /// Mean total shortfall over all demand nodes, tonnes.
    pub mean_total: f64,
    /// What the demand nodes' tonnes are of.
    pub unit: String,
    /// How many intervals the graph shows (nodes' and restriction sets'): the family they are
    /// adjusted for.
    pub tested: usize,
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

/// What a node's tonnes of output are of, as a phrase after "t": "of magnets".
pub fn output_unit(kind: Kind) -> &'static str {
    match kind {
        Kind::Mine => "of mine output",
        Kind::Refinery => "of oxide",
        Kind::Metal => "of metal",
        Kind::Magnet => "of magnets",
        Kind::Demand => "delivered",
    }
}

/// What a demand node's tonnes are of: "t of magnets" when its suppliers all make magnets, and so
/// on; "t" when they differ or it has none.
pub fn demand_unit(s: &Summary, node: &str) -> String {
    let kind = |id: &str| s.nodes.iter().find(|n| n.id == id).map(|n| n.kind);
    let mut kinds = s
        .edges
        .iter()
        .filter(|e| e.to == node)
        .map(|e| kind(&e.from));
    match kinds.next() {
        Some(Some(first)) if kinds.all(|k| k == Some(first)) => {
            format!("t {}", output_unit(first))
        }
        _ => "t".to_string(),
    }
}

/// The unit of a sum over every demand node: theirs where they agree, else "t".
pub fn total_unit(s: &Summary) -> String {
    let units: Vec<String> = s.demand.iter().map(|d| demand_unit(s, &d.node)).collect();
    match units.first() {
        Some(u) if units.iter().all(|v| v == u) => u.clone(),
        _ => "t".to_string(),
    }
}

/// Lays the network out in stage columns, keeping the summary's (topological) order within a
/// column, with each node's criticality by consequence and each edge's restrictions. The parts
/// of recipe nodes and co-product plants are drawn as their node: an edge into or out of a part
/// joins that node, and the edges between a node and its own parts are left out.
pub fn graph(input: &ReportInput) -> Graph {
    let s = &input.summary;
    let mean_total: f64 = s.demand.iter().map(|d| d.shortfall_t.mean).sum();
    let whole: Vec<&crate::stats::summary::NodeSummary> =
        s.nodes.iter().filter(|n| n.part_of.is_none()).collect();
    let mut per_col = [0usize; 5];
    for n in &whole {
        per_col[column(n.kind)] += 1;
    }
    let mut seen = [0usize; 5];
    let trials = s.trials.max(1) as f64;
    let nodes: Vec<GraphNode> = whole
        .iter()
        .map(|n| {
            let c = column(n.kind);
            seen[c] += 1;
            let d = n.disruption.as_ref();
            let consequence = d.and_then(|d| d.removed_t);
            GraphNode {
                id: n.id.clone(),
                label: n.label.clone(),
                column: c,
                y: (seen[c] as f64 - 0.5) / per_col[c] as f64,
                size: n.capacity,
                consequence,
                consequence_ci: d.and_then(|d| d.removed_ci95),
                hit: d.map(|d| d.trials_hit as f64 / trials),
                criticality: match consequence {
                    Some(x) if mean_total > 0.0 => (x / mean_total).clamp(0.0, 1.0),
                    _ => 0.0,
                },
                prob_short: (n.kind == Kind::Demand).then(|| {
                    s.demand
                        .iter()
                        .find(|d| d.node == n.id)
                        .map_or(0.0, |d| d.shortfall_t.prob_any)
                }),
            }
        })
        .collect();
    // A part stands for its node.
    let index = |id: &str| {
        let id = s
            .nodes
            .iter()
            .find(|n| n.id == id)
            .and_then(|n| n.part_of.as_deref())
            .unwrap_or(id);
        whole.iter().position(|n| n.id == id)
    };
    let mut restrictions: Vec<GraphRestriction> = Vec::new();
    let mut edges = Vec::new();
    for e in &s.edges {
        let (Some(from), Some(to)) = (index(&e.from), index(&e.to)) else {
            continue;
        };
        if from == to {
            continue;
        }
        if let Some(c) = &e.restriction {
            match restrictions.iter_mut().find(|r| r.shocks == c.shocks) {
                Some(r) => {
                    r.edges += 1;
                    r.withheld_t += e.withheld_t;
                }
                None => restrictions.push(GraphRestriction {
                    shocks: c.shocks.clone(),
                    edges: 1,
                    withheld_t: e.withheld_t,
                    hit: c.trials_hit as f64 / trials,
                    consequence: c.removed_t,
                    consequence_ci: c.removed_ci95,
                }),
            }
        }
        edges.push(GraphEdge {
            from,
            to,
            flow: e.planned_flow_t,
            restricted_by: e.restricted_by.clone(),
            withheld_t: e.withheld_t,
        });
    }
    let mut nodes = nodes;
    let mut intervals: Vec<&mut Option<[f64; 2]>> = nodes
        .iter_mut()
        .map(|n| &mut n.consequence_ci)
        .chain(restrictions.iter_mut().map(|r| &mut r.consequence_ci))
        .collect();
    let tested = intervals.iter().filter(|c| c.is_some()).count();
    adjust_intervals(&mut intervals);
    Graph {
        nodes,
        edges,
        restrictions,
        mean_total,
        unit: total_unit(s),
        tested,
    }
}

/// One demand node's monthly shortfall: the probability of any, and how deep it is given one.
#[derive(Clone, Debug, Serialize)]
pub struct FanPanel {
    /// Node id.
    pub node: String,
    /// Readable name.
    pub label: String,
    /// Month labels.
    pub months: Vec<String>,
    /// Per month: the share of trials short.
    pub prob_short: Vec<f64>,
    /// Per month, in the trials short: p5, p25, p50, p75, p95 of the shortfall as a share of the
    /// month's demand; `None` in a month no trial was short.
    pub depth: Vec<Option<[f64; 5]>>,
}

/// The panels of the monthly shortfall chart, and the tops of their two shared y-scales: the
/// probability of a shortfall and its depth, each rounded up to a tenth (at least 0.1).
pub fn fans(demand: &[crate::stats::summary::DemandSummary]) -> (Vec<FanPanel>, f64, f64) {
    let panels: Vec<FanPanel> = demand
        .iter()
        .map(|d| FanPanel {
            node: d.node.clone(),
            label: d.label.clone(),
            months: d.bands.iter().map(|b| b.month.clone()).collect(),
            prob_short: d.bands.iter().map(|b| b.prob_short).collect(),
            depth: d.bands.iter().map(|b| b.short_given_short).collect(),
        })
        .collect();
    let tenth_up = |x: f64| ((x * 10.0 - 1e-9).ceil() / 10.0).clamp(0.1, 1.0);
    let p_top = panels
        .iter()
        .flat_map(|p| p.prob_short.iter().copied())
        .fold(0.0, f64::max);
    let depth_top = panels
        .iter()
        .flat_map(|p| p.depth.iter().flatten().map(|q| q[4]))
        .fold(0.0, f64::max);
    (panels, tenth_up(p_top), tenth_up(depth_top))
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
