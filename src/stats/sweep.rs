//! Sweeps: the same run over a grid of scenario settings (`--set PATH=v1,v2,...`).
//!
//! Every grid point runs the same trials with the same seed, so points differ only by the
//! settings (common random numbers), and the curves they trace are smooth.

use serde::{Deserialize, Serialize};
use toml::Value;

use crate::model::Model;
use crate::scenario::variant::Setting;
use crate::sim::result::RunResult;
use crate::stats::summary::Spread;

/// The result of `supplyshock sweep`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Sweep {
    /// Scenario name.
    pub scenario: String,
    /// Master seed.
    pub seed: u64,
    /// Trials per point.
    pub trials: u64,
    /// Swept paths, in the order given.
    pub paths: Vec<String>,
    /// Grid points; the last path varies fastest.
    pub points: Vec<Point>,
}

/// One grid point.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Point {
    /// The value of each path, as written in TOML.
    pub values: Vec<String>,
    /// Key metrics per demand node.
    pub demand: Vec<Metrics>,
}

/// Key metrics of a demand node's total shortfall at one grid point, tonnes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Metrics {
    /// Node id.
    pub node: String,
    /// Mean.
    pub mean: f64,
    /// 95% confidence interval of the mean.
    pub ci95_low: f64,
    /// Upper end.
    pub ci95_high: f64,
    /// 95th percentile.
    pub p95: f64,
    /// Mean of the worst 5%.
    pub cvar95: f64,
    /// Probability of any shortfall.
    pub prob_any: f64,
}

/// Most points a sweep runs: each is a whole run of the scenario.
pub const MAX_POINTS: u64 = 1000;

/// Every combination of the swept values, the last path varying fastest.
pub fn grid(sets: &[(String, Vec<Value>)]) -> Vec<Vec<Setting>> {
    let mut out: Vec<Vec<Setting>> = vec![Vec::new()];
    for (path, values) in sets {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                values.iter().map(move |v| {
                    let mut p = prefix.clone();
                    p.push(Setting {
                        path: path.clone(),
                        value: v.clone(),
                    });
                    p
                })
            })
            .collect();
    }
    out
}

/// Metrics of one run.
pub fn metrics(m: &Model, r: &RunResult) -> Vec<Metrics> {
    (0..m.demand.len())
        .map(|d| {
            let s = Spread::of(&r.shortfalls(d));
            Metrics {
                node: m.demand_id(d).to_string(),
                mean: s.mean,
                ci95_low: s.ci95_low,
                ci95_high: s.ci95_high,
                p95: s.p95,
                cvar95: s.cvar95,
                prob_any: s.prob_any,
            }
        })
        .collect()
}

/// sweep.csv: one row per grid point and demand node.
pub fn to_csv(s: &Sweep) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = s.paths.clone();
    header.extend(
        [
            "node",
            "mean_t",
            "ci95_low_t",
            "ci95_high_t",
            "p95_t",
            "cvar95_t",
            "prob_any",
        ]
        .map(String::from),
    );
    w.write_record(&header)?;
    for p in &s.points {
        for d in &p.demand {
            let mut row = p.values.clone();
            row.push(d.node.clone());
            row.extend(
                [d.mean, d.ci95_low, d.ci95_high, d.p95, d.cvar95, d.prob_any]
                    .iter()
                    .map(|v| v.to_string()),
            );
            w.write_record(&row)?;
        }
    }
    w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))
}

/// The table printed after a sweep.
pub fn table(s: &Sweep) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} trials per point, seed {} (same shock draws at every point)",
        s.scenario, s.trials, s.seed
    );
    let label = s.paths.join(", ");
    let _ = writeln!(
        out,
        "{:<40} {:<10} {:>10} {:>10} {:>10} {:>8}",
        label, "node", "mean t", "P95 t", "CVaR95 t", "P(any)"
    );
    for p in &s.points {
        for d in &p.demand {
            let _ = writeln!(
                out,
                "{:<40} {:<10} {:>10.0} {:>10.0} {:>10.0} {:>7.1}%",
                p.values.join(", "),
                d.node,
                d.mean,
                d.p95,
                d.cvar95,
                100.0 * d.prob_any
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_is_the_cartesian_product() {
        let g = grid(&[
            ("a".into(), vec![Value::Integer(1), Value::Integer(2)]),
            (
                "b".into(),
                vec![Value::Integer(3), Value::Integer(4), Value::Integer(5)],
            ),
        ]);
        assert_eq!(g.len(), 6);
        assert_eq!(
            g[1].iter()
                .map(|s| s.value.as_integer().unwrap())
                .collect::<Vec<_>>(),
            vec![1, 4]
        );
    }
}
