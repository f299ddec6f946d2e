//! Decision analysis: alternatives compared with a base on the same shock draws, and one
//! scenario swept over a grid of settings.

use std::path::Path;

use anyhow::Context as _;

use super::{Loaded, Settings};
use crate::io::output;
use crate::model::{self, Model};
use crate::report;
use crate::scenario::variant;
use crate::sim::engine;
use crate::sim::result::RunResult;
use crate::stats::compare::Comparison;
use crate::stats::sweep::{self, Sweep};

/// What `compare` found and wrote.
#[derive(Clone, Debug)]
pub struct CompareOutcome {
    /// The comparison.
    pub comparison: Comparison,
    /// compare.json's bytes.
    pub json: Vec<u8>,
}

/// What `sweep` found and wrote.
#[derive(Clone, Debug)]
pub struct SweepOutcome {
    /// The sweep.
    pub sweep: Sweep,
    /// sweep.json's bytes.
    pub json: Vec<u8>,
}

/// Runs the base (`loaded[0]`) and each alternative on the same trials and seed, compares them
/// trial by trial, and writes compare.json, compare.csv and the report into `out`.
pub fn compare(
    loaded: &[Loaded],
    settings: &Settings,
    out: &Path,
) -> anyhow::Result<CompareOutcome> {
    output::check_folder(out, output::Contents::Compare)?;
    let base = &loaded[0].model;
    let trials = settings.trials.unwrap_or(base.trials);
    let seed = settings.seed.unwrap_or(base.seed);
    for Loaded { name, model: m, .. } in loaded {
        engine::check_trials(m, trials).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    }
    let results = loaded
        .iter()
        .map(|l| engine::run(&l.model, &settings.options(seed, 0, trials)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let alts: Vec<(&Model, &RunResult)> = loaded[1..]
        .iter()
        .map(|l| &l.model)
        .zip(&results[1..])
        .collect();
    let c = crate::stats::compare::compare((base, &results[0]), &alts);
    if let Some(a) = c.alternatives.iter().find(|a| a.demand.is_empty()) {
        anyhow::bail!(
            "{} shares no demand node (by id) with the base {}: nothing to compare",
            a.scenario,
            c.base
        );
    }
    let nodes: Vec<String> = (0..base.demand.len())
        .map(|d| base.demand_id(d).to_string())
        .collect();
    let columns: Vec<Vec<Vec<f64>>> = loaded
        .iter()
        .zip(&results)
        .map(|(l, r)| {
            nodes
                .iter()
                .map(|id| crate::stats::compare::column(&l.model, r, id).unwrap_or_default())
                .collect()
        })
        .collect();
    let names: Vec<String> = loaded.iter().map(|l| l.model.name.clone()).collect();
    let mut json = serde_json::to_vec_pretty(&c)?;
    json.push(b'\n');
    let mut files = vec![
        ("compare.json".to_string(), json.clone()),
        (
            "compare.csv".to_string(),
            crate::stats::compare::to_csv(&c)?,
        ),
    ];
    files.extend(report::in_output(report::compare_files(
        &c, &names, &nodes, &columns,
    )?));
    output::write_all(out, &files)
        .with_context(|| format!("writing the comparison to {}", out.display()))?;
    Ok(CompareOutcome {
        comparison: c,
        json,
    })
}

/// Runs `loaded` at every point of the grid of `sets` (each a path and its values), all on the
/// same trials and seed, and writes sweep.json, sweep.csv and sweep.png into `out`.
pub fn sweep(
    loaded: &Loaded,
    sets: &[(String, Vec<toml::Value>)],
    settings: &Settings,
    out: &Path,
) -> anyhow::Result<SweepOutcome> {
    output::check_folder(out, output::Contents::Sweep)?;
    let Loaded {
        text,
        name,
        model: base,
        variant,
    } = loaded;
    let trials = settings.trials.unwrap_or(base.trials);
    let seed = settings.seed.unwrap_or(base.seed);
    for (i, (path, _)) in sets.iter().enumerate() {
        anyhow::ensure!(
            sets[..i].iter().all(|(p, _)| p != path),
            "--set {path} is given twice; give each path once, with all its values (PATH=v1,v2,...)"
        );
    }
    let size = sets
        .iter()
        .fold(1u64, |n, s| n.saturating_mul(s.1.len() as u64));
    anyhow::ensure!(
        size <= sweep::MAX_POINTS,
        "--set: the grid has {size} points (the product of the values' counts), more than {}; sweep fewer values, or fewer paths at once",
        sweep::MAX_POINTS
    );
    let points = sweep::grid(sets);
    // Build every point's model before running any, so a bad path or value fails fast. A
    // variant's lines come from its base and its settings: errors are reported there.
    let models = points
        .iter()
        .map(|settings| {
            let label: Vec<String> = settings.iter().map(|s| s.flag()).collect();
            let point = format!(" with --set {}", label.join(" --set "));
            let shown = format!("{name}{point}");
            let p = variant::patch(text, settings, name).map_err(variant::flag_error)?;
            let m = model::compile_str(&p.text, &shown).map_err(|e| {
                let variant = variant.as_ref().map(|(v, path)| (v, path.as_path()));
                variant::sweep_error(e, &p, settings, name, &point, variant)
            })?;
            engine::check_trials(&m, trials).map_err(anyhow::Error::msg)?;
            Ok(m)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut out_points = Vec::with_capacity(points.len());
    for (point, m) in points.iter().zip(&models) {
        let r = engine::run(
            m,
            &Settings {
                progress: false,
                ..*settings
            }
            .options(seed, 0, trials),
        )?;
        out_points.push(sweep::Point {
            values: point.iter().map(|s| variant::show(&s.value)).collect(),
            demand: sweep::metrics(m, &r),
        });
    }
    let s = Sweep {
        scenario: base.name.clone(),
        seed,
        trials,
        paths: sets.iter().map(|s| s.0.clone()).collect(),
        points: out_points,
    };
    let mut json = serde_json::to_vec_pretty(&s)?;
    json.push(b'\n');
    output::write_all(
        out,
        &[
            ("sweep.json".to_string(), json.clone()),
            ("sweep.csv".to_string(), sweep::to_csv(&s)?),
            ("sweep.png".to_string(), report::sweep_png(&s)?),
        ],
    )
    .with_context(|| format!("writing the sweep to {}", out.display()))?;
    Ok(SweepOutcome { sweep: s, json })
}
