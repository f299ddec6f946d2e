//! Comparing alternatives on common random numbers.
//!
//! Every alternative runs the same trials with the same seed. A shock draws from a stream keyed
//! by its id, so in trial k each alternative sees the same shocks wherever their definitions
//! agree. The difference between two alternatives is then measured trial by trial (paired),
//! which removes the shared shock noise from the comparison.

use serde::{Deserialize, Serialize};

use crate::model::{Model, Shock, ShockKind};
use crate::prob::estimate::{MeanCi, mean_var, sorted, tail_risk};
use crate::sim::result::RunResult;

/// The result of `supplyshock compare`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Comparison {
    /// Name of the base scenario.
    pub base: String,
    /// Master seed shared by all runs.
    pub seed: u64,
    /// Trials of each run.
    pub trials: u64,
    /// One entry per alternative, in the order given.
    pub alternatives: Vec<Alternative>,
}

/// One alternative against the base.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Alternative {
    /// Name of the alternative scenario.
    pub scenario: String,
    /// Shocks of the base that the alternative does not declare identically by id (their draws
    /// are not shared).
    pub unmatched_shocks: Vec<String>,
    /// One entry per demand node present in both.
    pub demand: Vec<NodeDiff>,
}

/// Paired difference (alternative - base) in a demand node's total shortfall, tonnes.
/// Negative differences mean the alternative has less shortfall.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NodeDiff {
    /// Demand node id.
    pub node: String,
    /// Mean shortfall of the base.
    pub base_mean: f64,
    /// Mean shortfall of the alternative.
    pub alt_mean: f64,
    /// Mean of the paired differences.
    pub mean_diff: f64,
    /// 95% confidence interval of the mean difference from the paired differences.
    pub ci95_low: f64,
    /// Upper end.
    pub ci95_high: f64,
    /// Half-width of that interval.
    pub paired_half_width: f64,
    /// Half-width the interval would have if the runs were independent (for reference).
    pub unpaired_half_width: f64,
    /// P95 of the base.
    pub base_p95: f64,
    /// P95 of the alternative.
    pub alt_p95: f64,
    /// alt_p95 - base_p95.
    pub diff_p95: f64,
    /// CVaR95 of the base.
    pub base_cvar95: f64,
    /// CVaR95 of the alternative.
    pub alt_cvar95: f64,
    /// alt_cvar95 - base_cvar95.
    pub diff_cvar95: f64,
    /// Fraction of trials in which the alternative has less shortfall.
    pub prob_better: f64,
    /// Fraction of trials in which it has more.
    pub prob_worse: f64,
}

/// Per-trial total shortfall of the demand node `id`, if the model has it.
pub fn column(m: &Model, r: &RunResult, id: &str) -> Option<Vec<f64>> {
    let d = (0..m.demand.len()).find(|&d| m.demand_id(d) == id)?;
    Some(r.shortfalls(d))
}

/// The paired comparison of two per-trial columns of equal length.
pub fn node_diff(node: &str, base: &[f64], alt: &[f64]) -> NodeDiff {
    let n = base.len().max(1) as f64;
    let diffs: Vec<f64> = alt.iter().zip(base).map(|(a, b)| a - b).collect();
    let (mean_diff, var_diff) = mean_var(&diffs);
    let (base_mean, var_b) = mean_var(base);
    let (alt_mean, var_a) = mean_var(alt);
    let paired = MeanCi::from_se2(mean_diff, var_diff / n);
    let unpaired = MeanCi::from_se2(mean_diff, var_a / n + var_b / n);
    let (bp, bc) = tail_risk(&sorted(base), 0.95);
    let (ap, ac) = tail_risk(&sorted(alt), 0.95);
    NodeDiff {
        node: node.to_string(),
        base_mean,
        alt_mean,
        mean_diff,
        ci95_low: paired.low(),
        ci95_high: paired.high(),
        paired_half_width: paired.half_width,
        unpaired_half_width: unpaired.half_width,
        base_p95: bp,
        alt_p95: ap,
        diff_p95: ap - bp,
        base_cvar95: bc,
        alt_cvar95: ac,
        diff_cvar95: ac - bc,
        prob_better: diffs.iter().filter(|d| **d < 0.0).count() as f64 / n,
        prob_worse: diffs.iter().filter(|d| **d > 0.0).count() as f64 / n,
    }
}

/// Ids of `base`'s shocks that `alt` does not declare with the same id and definition.
fn unmatched(base: &Model, alt: &Model) -> Vec<String> {
    base.shocks
        .iter()
        .filter(|s| {
            let def = definition(base, s);
            !alt.shocks
                .iter()
                .any(|a| a.id == s.id && definition(alt, a) == def)
        })
        .map(|s| s.id.clone())
        .collect()
}

/// A shock's definition with the node or edges it acts on named by their ids rather than their
/// indices, which change when a scenario gains a node or lists its nodes in another order.
fn definition(m: &Model, s: &Shock) -> String {
    let mut kind = s.kind.clone();
    let on = match &mut kind {
        ShockKind::Markov { node, .. }
        | ShockKind::Events { node, .. }
        | ShockKind::Delay { node, .. } => {
            let id = m.nodes[*node as usize].id.clone();
            *node = 0;
            id
        }
        ShockKind::Restriction { edges, .. } | ShockKind::Tariff { edges, .. } => {
            let mut names: Vec<String> = edges
                .iter()
                .map(|&e| {
                    let e = &m.edges[e as usize];
                    let id = |n: u32| m.nodes[n as usize].id.as_str();
                    format!("{}->{}", id(e.src), id(e.dst))
                })
                .collect();
            names.sort();
            edges.clear();
            names.join(", ")
        }
    };
    format!("{kind:?} on {on}")
}

/// Compares each alternative with the base; all runs must share seed and trial count.
pub fn compare(base: (&Model, &RunResult), alts: &[(&Model, &RunResult)]) -> Comparison {
    let (bm, br) = base;
    let alternatives = alts
        .iter()
        .map(|(am, ar)| Alternative {
            scenario: am.name.clone(),
            unmatched_shocks: unmatched(bm, am),
            demand: (0..bm.demand.len())
                .filter_map(|d| {
                    let id = bm.demand_id(d);
                    let b = column(bm, br, id)?;
                    let a = column(am, ar, id)?;
                    Some(node_diff(id, &b, &a))
                })
                .collect(),
        })
        .collect();
    Comparison {
        base: bm.name.clone(),
        seed: br.seed,
        trials: br.trials,
        alternatives,
    }
}

/// compare.csv: one row per alternative and demand node.
pub fn to_csv(c: &Comparison) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "alternative",
        "node",
        "base_mean_t",
        "alt_mean_t",
        "mean_diff_t",
        "ci95_low_t",
        "ci95_high_t",
        "unpaired_half_width_t",
        "base_p95_t",
        "alt_p95_t",
        "diff_p95_t",
        "base_cvar95_t",
        "alt_cvar95_t",
        "diff_cvar95_t",
        "prob_better",
        "prob_worse",
    ])?;
    for a in &c.alternatives {
        for d in &a.demand {
            let nums = [
                d.base_mean,
                d.alt_mean,
                d.mean_diff,
                d.ci95_low,
                d.ci95_high,
                d.unpaired_half_width,
                d.base_p95,
                d.alt_p95,
                d.diff_p95,
                d.base_cvar95,
                d.alt_cvar95,
                d.diff_cvar95,
                d.prob_better,
                d.prob_worse,
            ];
            let mut row = vec![a.scenario.clone(), d.node.clone()];
            row.extend(nums.iter().map(|v| v.to_string()));
            w.write_record(&row)?;
        }
    }
    w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))
}

/// The table printed after a comparison.
pub fn table(c: &Comparison) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "base {}: {} trials, seed {}, common random numbers; diff = alternative - base (negative is better)",
        c.base, c.trials, c.seed
    );
    for a in &c.alternatives {
        let _ = writeln!(s, "\n{}", a.scenario);
        if !a.unmatched_shocks.is_empty() {
            let _ = writeln!(
                s,
                "  shocks changed or missing (draws not shared): {}",
                a.unmatched_shocks.join(", ")
            );
        }
        let _ = writeln!(
            s,
            "  {:<10} {:>10} {:>10} {:>26} {:>10} {:>12} {:>9}",
            "node",
            "base mean",
            "alt mean",
            "mean diff [95% CI]",
            "diff P95",
            "diff CVaR95",
            "P(better)"
        );
        for d in &a.demand {
            let ci = format!("{:.0} [{:.0}, {:.0}]", d.mean_diff, d.ci95_low, d.ci95_high);
            let _ = writeln!(
                s,
                "  {:<10} {:>10.0} {:>10.0} {:>26} {:>10.0} {:>12.0} {:>8.1}%",
                d.node,
                d.base_mean,
                d.alt_mean,
                ci,
                d.diff_p95,
                d.diff_cvar95,
                100.0 * d.prob_better
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paired_statistics() {
        let base = [10.0, 0.0, 20.0, 5.0];
        let alt = [8.0, 0.0, 15.0, 5.0];
        let d = node_diff("x", &base, &alt);
        assert_eq!(d.mean_diff, -7.0 / 4.0);
        assert_eq!(d.prob_better, 0.5);
        assert_eq!(d.prob_worse, 0.0);
        assert!(d.paired_half_width < d.unpaired_half_width);
    }
}
