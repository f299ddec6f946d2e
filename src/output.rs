//! Writers: pure functions from results to bytes, and one place that puts bytes on disk.
//!
//! Files are written whole to a temporary name in the output folder and renamed into place only
//! after every file of the run has been written, so an interrupted or failed run leaves the
//! previous results intact and never a half-written file.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::engine::RunResult;
use crate::model::Model;
use crate::summary::Summary;

/// summary.json bytes (pretty-printed, trailing newline).
pub fn summary_json(s: &Summary) -> anyhow::Result<Vec<u8>> {
    let mut v = serde_json::to_vec_pretty(s)?;
    v.push(b'\n');
    Ok(v)
}

/// trials.csv bytes: one row per trial with per-demand-node totals and shock flags.
pub fn trials_csv(m: &Model, r: &RunResult) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["trial".to_string()];
    for d in 0..m.demand.len() {
        let id = m.demand_id(d);
        for col in ["shortfall_t", "worst_period_t", "first_short", "tariff_usd"] {
            header.push(format!("{id}.{col}"));
        }
    }
    for s in &m.shocks {
        header.push(format!("shock.{}", s.id));
    }
    w.write_record(&header)?;
    let mut row: Vec<String> = Vec::with_capacity(header.len());
    for k in 0..r.trials as usize {
        row.clear();
        row.push((r.first_trial + k as u64).to_string());
        for o in r.trial(k) {
            row.push(o.shortfall.to_string());
            row.push(o.worst.to_string());
            row.push(if o.first_short == crate::kernel::NONE {
                String::new()
            } else {
                m.month_label(o.first_short as usize)
            });
            row.push(o.tariff.to_string());
        }
        for i in 0..m.shocks.len() {
            row.push(if r.occurred(k, i) { "1" } else { "0" }.to_string());
        }
        w.write_record(&row)?;
    }
    w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))
}

/// The readable table printed after a run.
pub fn console_table(s: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} trials, seed {}, {} months from {}",
        s.scenario, s.trials, s.seed, s.periods, s.start
    );
    let w = s
        .demand
        .iter()
        .map(|d| d.node.len())
        .max()
        .unwrap_or(4)
        .max(11);
    let _ = writeln!(
        out,
        "{:<w$} {:>10} {:>24} {:>9} {:>9} {:>9} {:>9} {:>7}",
        "demand node",
        "demand t",
        "mean shortfall t [95% CI]",
        "P50 t",
        "P95 t",
        "P99 t",
        "CVaR95 t",
        "P(any)"
    );
    for d in &s.demand {
        let x = &d.shortfall_t;
        let ci = format!(
            "{} [{}, {}]",
            num(x.mean),
            num(x.ci95_low),
            num(x.ci95_high)
        );
        let _ = writeln!(
            out,
            "{:<w$} {:>10} {:>24} {:>9} {:>9} {:>9} {:>9} {:>6.1}%",
            d.node,
            num(d.demand_t),
            ci,
            num(x.p50),
            num(x.p95),
            num(x.p99),
            num(x.cvar95),
            100.0 * x.prob_any
        );
    }
    out
}

/// A tonnage rounded for reading.
fn num(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else if v == 0.0 {
        "0".into()
    } else {
        format!("{v:.2}")
    }
}

/// Removes the named files from `dir` (those that exist), then `dir` if it is left empty: used
/// so that a run without a report does not leave an earlier run's report beside its results.
pub fn remove_stale(dir: &Path, names: &[&str]) -> anyhow::Result<()> {
    for name in names {
        let p = dir.join(name);
        if p.exists() {
            std::fs::remove_file(&p)
                .with_context(|| format!("cannot remove the stale {}", p.display()))?;
        }
    }
    if dir.is_dir() && std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_none()) {
        let _ = std::fs::remove_dir(dir);
    }
    Ok(())
}

/// Writes named files into `dir` all-or-nothing: each is written to a temporary file first and
/// renamed into place only when all have been written.
pub fn write_all<S: AsRef<str>>(dir: &Path, files: &[(S, Vec<u8>)]) -> anyhow::Result<()> {
    if dir.exists() && !dir.is_dir() {
        anyhow::bail!(
            "--out {}: exists and is not a folder; choose another --out",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create output folder {} (--out)", dir.display()))?;
    let mut staged: Vec<(PathBuf, PathBuf)> = Vec::new();
    let result = (|| -> anyhow::Result<()> {
        for (name, bytes) in files {
            let name = name.as_ref();
            let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
            staged.push((tmp.clone(), dir.join(name)));
            let mut f = std::fs::File::create(&tmp)
                .with_context(|| format!("cannot write {}", tmp.display()))?;
            f.write_all(bytes)
                .and_then(|_| f.sync_all())
                .with_context(|| format!("cannot write {}", tmp.display()))?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        for (tmp, _) in &staged {
            let _ = std::fs::remove_file(tmp);
        }
        return Err(e);
    }
    for (tmp, dst) in &staged {
        std::fs::rename(tmp, dst)
            .with_context(|| format!("cannot move {} into place", dst.display()))?;
    }
    Ok(())
}
