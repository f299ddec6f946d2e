//! Reading what the program takes in: scenario and variant files, shard files, and a saved
//! output folder for the report.

use std::path::Path;

use anyhow::Context as _;

use crate::model::{self, Model};
use crate::report::ReportInput;
use crate::scenario::error::ScenarioError;
use crate::scenario::variant;
use crate::sim::shard::{SHARD_FILE, ShardFile};
use crate::stats::summary::Summary;

/// Reads and compiles a scenario file (or a variant file, see [`crate::scenario::variant`]).
pub fn load(path: &std::path::Path) -> Result<Model, ScenarioError> {
    Ok(load_text(path)?.1)
}

/// Reads a scenario or variant file: the scenario text it stands for, the compiled model and,
/// for a variant, where each line of that text came from.
pub fn load_text(
    path: &std::path::Path,
) -> Result<(String, Model, Option<variant::Resolved>), ScenarioError> {
    let text = scenario_text(path).map_err(|error| ScenarioError::Read {
        path: path.display().to_string(),
        error,
    })?;
    match variant::resolve(&text, path, &scenario_text).map_err(ScenarioError::Variant)? {
        Some(v) => {
            let name = v.base_name(path);
            let m =
                model::compile_str(&v.patched.text, &name).map_err(
                    |e| match variant::diagnostic(e, &v.patched.text, &name) {
                        Ok(d) => ScenarioError::Invalid(Box::new(v.place(d, path))),
                        Err(other) => other,
                    },
                )?;
            Ok((v.patched.text.clone(), m, Some(v)))
        }
        None => {
            let m = model::compile_str(&text, &path.display().to_string())?;
            Ok((text, m, None))
        }
    }
}

/// Largest scenario file read: far above any real scenario, and a guard against being handed a
/// device or a data file.
pub const MAX_SCENARIO_BYTES: u64 = 16 << 20;

/// A scenario file's text: at most [`MAX_SCENARIO_BYTES`], UTF-8.
pub fn scenario_text(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_SCENARIO_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_SCENARIO_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {} MiB; a scenario is a TOML text file",
            MAX_SCENARIO_BYTES >> 20
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
        let start = good.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        // `good` is valid UTF-8, so its last line is too.
        let column = std::str::from_utf8(&good[start..]).map_or(0, |l| l.chars().count()) + 1;
        std::io::Error::other(format!(
            "not UTF-8 text (first bad byte at line {line}, column {column}); a scenario is a TOML text file, saved as UTF-8"
        ))
    })
}

/// Reads `dir/shard.bin`.
pub fn shard(dir: &Path) -> anyhow::Result<ShardFile> {
    let path = dir.join(SHARD_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && unfinished(dir) => {
            anyhow::bail!(
                "{} is an unfinished shard: its run stopped (or is still running) before it wrote {SHARD_FILE}; run that shard again into the same folder (with Slurm: `scontrol requeue ARRAYJOB_I`), then merge",
                dir.display()
            )
        }
        Err(e) => {
            return Err(e).with_context(|| {
                format!(
                    "cannot read {} (is {} the --out folder of a `run --shard` ?)",
                    path.display(),
                    dir.display()
                )
            });
        }
    };
    ShardFile::from_bytes(&bytes, dir)
}

/// Whether `dir` holds what a run leaves while it writes (its lock, or a file staged under a
/// temporary name): the marks of a run that has not finished.
fn unfinished(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with(".lock-")
                || name.starts_with(".locking-")
                || (name.starts_with('.') && name.contains(".tmp-"))
        })
    })
}

/// The report's input from a saved output folder (summary.json and trials.csv).
pub fn report_input(dir: &Path) -> anyhow::Result<ReportInput> {
    let sp = dir.join("summary.json");
    let bytes = std::fs::read(&sp).with_context(|| {
        use crate::io::output::Contents;
        let holds = match Contents::found_in(dir) {
            Some((Contents::Run, crate::sim::shard::SHARD_FILE)) => format!(
                "{} holds a shard: combine the shards with `supplyshock merge`, which draws the report",
                dir.display()
            ),
            Some((c @ (Contents::Compare | Contents::Sweep), m)) => format!(
                "{} holds {} ({m}), which has its charts already",
                dir.display(),
                c.what()
            ),
            _ => format!("is {} the --out folder of a run?", dir.display()),
        };
        format!("cannot read {} ({holds})", sp.display())
    })?;
    let summary: Summary = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a supplyshock summary", sp.display()))?;
    anyhow::ensure!(
        summary.schema_version == crate::stats::summary::SCHEMA_VERSION,
        "{} has schema version {}, which this supplyshock (schema {}) does not read; rerun the scenario with this version",
        sp.display(),
        summary.schema_version,
        crate::stats::summary::SCHEMA_VERSION
    );
    let names: Vec<String> = summary
        .demand
        .iter()
        .map(|d| format!("{}.shortfall_t", d.node))
        .collect();
    let tp = dir.join("trials.csv");
    let pq = dir.join(crate::io::parquet::FILE);
    let mut shortfall = if !tp.exists() && pq.exists() {
        let read = crate::io::parquet::read_numbers(&pq, &names)?;
        let mut shortfall: Vec<Vec<f32>> = Vec::with_capacity(read.len());
        for (v, name) in read.into_iter().zip(&names) {
            if let Some(x) = v.iter().find(|x| !(x.is_finite() && **x >= 0.0)) {
                anyhow::bail!(
                    "{}: column {name} holds {x}, not a shortfall in tonnes; rerun the scenario to rewrite the folder",
                    pq.display()
                );
            }
            // A run keeps each trial's shortfall as f32; read the file the same way.
            shortfall.push(v.into_iter().map(|x| x as f32).collect());
        }
        shortfall
    } else {
        read_csv_shortfalls(&tp, &names)?
    };
    let parquet = !tp.exists() && pq.exists();
    let tp = if parquet { pq } else { tp };
    anyhow::ensure!(
        shortfall
            .first()
            .is_none_or(|v| v.len() as u64 == summary.trials),
        "{} has {} trials but summary.json says {}",
        tp.display(),
        shortfall.first().map_or(0, |v| v.len()),
        summary.trials
    );
    let input = ReportInput::new(summary, |d| {
        std::mem::take(&mut shortfall[d])
            .into_iter()
            .map(f64::from)
            .collect()
    });
    Ok(ReportInput {
        trials_file: Some(if parquet {
            crate::io::parquet::FILE
        } else {
            "trials.csv"
        }),
        ..input
    })
}

/// The columns `names` of the trials.csv at `tp`, each shortfall rounded to f32 as a run keeps
/// it.
fn read_csv_shortfalls(tp: &Path, names: &[String]) -> anyhow::Result<Vec<Vec<f32>>> {
    let mut reader = csv::Reader::from_path(tp).with_context(|| {
        format!(
            "cannot read {} (the report is drawn from each trial's outcome: rerun without --no-trials-csv)",
            tp.display()
        )
    })?;
    let headers = reader
        .headers()
        .with_context(|| format!("cannot read {}", tp.display()))?
        .clone();
    let cols: Vec<usize> = names
        .iter()
        .map(|name| {
            headers
                .iter()
                .position(|h| h == name)
                .with_context(|| format!("{} has no column {name}", tp.display()))
        })
        .collect::<anyhow::Result<_>>()?;
    let mut shortfall = vec![Vec::new(); cols.len()];
    for (line, rec) in reader.records().enumerate() {
        let rec = rec.with_context(|| format!("{} line {}", tp.display(), line + 2))?;
        for (d, &c) in cols.iter().enumerate() {
            let v: f64 = rec.get(c).unwrap_or("").parse().with_context(|| {
                format!(
                    "{} line {}: column {} is not a number",
                    tp.display(),
                    line + 2,
                    c + 1
                )
            })?;
            anyhow::ensure!(
                v.is_finite() && v >= 0.0,
                "{} line {}: column {} is {v}, not a shortfall in tonnes; rerun the scenario to rewrite the folder",
                tp.display(),
                line + 2,
                c + 1
            );
            // A run keeps each trial's shortfall as f32; read the file the same way.
            shortfall[d].push(v as f32);
        }
    }
    Ok(shortfall)
}

/// The format of the per-trial file of the shard folder `dir`: trials.csv or trials.parquet,
/// whichever it holds.
pub fn trials_format_in(dir: &Path) -> anyhow::Result<crate::io::trials::Format> {
    use crate::io::trials::Format;
    let held: Vec<Format> = Format::ALL
        .into_iter()
        .filter(|f| dir.join(f.file()).is_file())
        .collect();
    match held[..] {
        [f] => Ok(f),
        [] => anyhow::bail!(
            "cannot read {} (every shard writes one); re-run that shard",
            dir.join("trials.csv").display()
        ),
        _ => anyhow::bail!(
            "{} holds both trials.csv and trials.parquet, and its shard.bin vouches for one of them only; re-run that shard",
            dir.display()
        ),
    }
}

/// The scenario files shipped in the source tree (scenarios/ and scenarios/what-if/), sorted:
/// what `cargo bench` measures and the tests run. Empty where the source tree is absent.
pub fn shipped_scenarios() -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<_> = [dir.clone(), dir.join("what-if")]
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}
