//! One run of a scenario (whole, or one shard of it), the merge of shards, and redrawing a saved
//! run's report.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;

use super::{Loaded, Settings};
use crate::io::output;
use crate::io::trials::Format;
use crate::model::Model;
use crate::report;
use crate::sim::engine::{self, BlockSink};
use crate::sim::result::{RunResult, TrialBlock};
use crate::sim::shard::{self, Shard, ShardFile};
use crate::stats::summary::Summary;

/// What `run` does besides running the trials.
#[derive(Clone, Debug)]
pub struct RunJob {
    /// Trials, seed, threads, kernel.
    pub settings: Settings,
    /// The output folder.
    pub out: PathBuf,
    /// Add batches of the trial count until every demand node's 95% interval of the mean total
    /// shortfall is within this fraction of the mean, or `max_trials` is reached.
    pub precision: Option<f64>,
    /// Most trials to run with `precision`.
    pub max_trials: u64,
    /// Run only this part of the trials, saved for `merge`.
    pub shard: Option<Shard>,
    /// The per-trial file to write (trials.csv or trials.parquet), if any.
    pub trials: Option<Format>,
    /// Draw the PNG report.
    pub report: bool,
}

/// The files a complete run wrote.
#[derive(Clone, Debug)]
pub struct Written {
    /// The summary.
    pub summary: Summary,
    /// summary.json's bytes.
    pub summary_json: Vec<u8>,
    /// The per-trial file written, if any.
    pub trials: Option<Format>,
    /// Whether the report was drawn.
    pub report: bool,
}

/// What a run did.
#[derive(Clone, Debug)]
pub enum RunOutcome {
    /// A whole run: its files, trial count and simulation time.
    Full {
        /// The files written.
        written: Box<Written>,
        /// Trials run (with a precision target, where it stopped).
        trials: u64,
        /// Seconds spent simulating.
        seconds: f64,
        /// With a precision target: the worst relative half-width reached.
        reached: Option<f64>,
    },
    /// One shard of a run.
    Shard {
        /// Which part.
        shard: Shard,
        /// Its first trial.
        first_trial: u64,
        /// Its trials.
        trials: u64,
        /// Trials of the whole run.
        total: u64,
    },
}

/// Runs a loaded scenario as `job` says and writes its output folder.
pub fn run(job: &RunJob, loaded: &Loaded) -> anyhow::Result<RunOutcome> {
    let out = &job.out;
    output::check_folder(out, output::Contents::Run)?;
    let m = &loaded.model;
    let total = job.settings.trials.unwrap_or(m.trials);
    engine::check_trials(m, total).map_err(anyhow::Error::msg)?;
    let (first_trial, trials) = job.shard.map_or((0, total), |s| s.range(total));
    let opts = job
        .settings
        .options(job.settings.seed.unwrap_or(m.seed), first_trial, trials);
    if job.precision.is_some() && job.shard.is_some() {
        anyhow::bail!(
            "--precision cannot be combined with --shard: a shard's size is fixed by --trials"
        );
    }
    if job.trials.is_none() && job.shard.is_some() {
        anyhow::bail!(
            "--no-trials-csv cannot be combined with --shard: `merge` joins the shards' trials.csv"
        );
    }
    let started = Instant::now();
    // The per-trial file is written as the trials run, under a temporary name until every file
    // is done.
    let mut csv = match job.trials {
        Some(format) => Some(
            output::TrialsWriter::create(format, m, out)
                .with_context(|| format!("writing results to {}", out.display()))?,
        ),
        None => None,
    };
    let mut write = |b: &TrialBlock| match &mut csv {
        Some(csv) => csv.block(b),
        None => Ok(()),
    };
    // Without a per-trial file the engine need not keep each block's full outcomes at all.
    let sink: Option<&mut BlockSink> = if job.trials.is_some() {
        Some(&mut write)
    } else {
        None
    };
    let result = match job.precision {
        Some(p) => engine::run_to_precision(m, &opts, p, job.max_trials, sink)?,
        None => engine::run_with(m, &opts, sink)?,
    };
    let (csv, csv_crc) = match csv {
        Some(c) => {
            let (staged, crc) = c.finish()?;
            (Some(staged), crc)
        }
        None => (None, 0),
    };
    let trials = result.trials;
    let seconds = started.elapsed().as_secs_f64();
    let reached = job.precision.map(|_| result.worst_relative_half_width());
    let info = serde_json::json!({
        "scenario_file": loaded.name,
        "threads": match job.settings.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            t => t,
        },
        "kernel": job.settings.kernel.name(),
        "kernel_detail": job.settings.kernel.describe(),
        "simulation_seconds": seconds,
        "trials_csv": job.trials == Some(Format::Csv),
        "trials_format": job.trials.map(Format::name),
        "trials_per_second": trials as f64 / seconds.max(1e-9),
        "version": env!("CARGO_PKG_VERSION"),
    });
    if let Some(sh) = job.shard {
        let file =
            ShardFile::new(&loaded.text, &loaded.name, sh, total, result, csv_crc).to_bytes()?;
        // The folder now holds a shard: an earlier full run's summary and report would belie it.
        let mut stale = vec!["summary.json".to_string(), "summary.csv".to_string()];
        stale.extend(report::FILES.map(report::path));
        stale.extend(other_formats(job.trials));
        output::write_all_staged(
            out,
            &[
                (shard::SHARD_FILE, file),
                ("run-info.json", serde_json::to_vec_pretty(&info)?),
            ],
            csv.into_iter().collect(),
            &stale,
        )
        .with_context(|| format!("writing shard results to {}", out.display()))?;
        return Ok(RunOutcome::Shard {
            shard: sh,
            first_trial,
            trials,
            total,
        });
    }
    let written = Box::new(write_results(
        m,
        &result,
        out,
        csv.zip(job.trials),
        job.report,
        info,
    )?);
    Ok(RunOutcome::Full {
        written,
        trials,
        seconds,
        reached,
    })
}

/// Merges the output folders of a run's shards into `out`, as one run would have written it.
/// The trials are written in the shards' format (trials.csv or trials.parquet), which `format`,
/// where given, must match.
pub fn merge(dirs: &[PathBuf], out: &Path, format: Option<Format>) -> anyhow::Result<Written> {
    output::check_folder(out, output::Contents::Run)?;
    if let Ok(o) = out.canonicalize()
        && let Some(d) = dirs.iter().find(|d| d.canonicalize().is_ok_and(|d| d == o))
    {
        anyhow::bail!(
            "--out {} is the shard folder {} being merged; writing there would replace that shard's trials.csv. Choose another --out",
            out.display(),
            d.display()
        );
    }
    let mut shards = dirs
        .iter()
        .map(|d| crate::io::read::shard(d))
        .collect::<anyhow::Result<Vec<_>>>()?;
    shards.sort_by_key(|s| s.first_trial);
    let formats = shards
        .iter()
        .map(|s| crate::io::read::trials_format_in(&s.folder))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let shards_format = formats.first().copied().unwrap_or(Format::Csv);
    if let Some(i) = formats.iter().position(|&f| f != shards_format) {
        anyhow::bail!(
            "the shards hold different trial files: {} has {}, {} has {}; re-run the shards with the same --trials-format",
            shards[0].folder.display(),
            shards_format.file(),
            shards[i].folder.display(),
            formats[i].file()
        );
    }
    if let Some(f) = format
        && f != shards_format
    {
        anyhow::bail!(
            "--trials-format {} asks for {}, but the shards wrote {}; merge writes the shards' format: drop --trials-format, or re-run the shards with --trials-format {}",
            f.name(),
            f.file(),
            shards_format.file(),
            f.name()
        );
    }
    let ordered: Vec<(PathBuf, u64, u64, u32)> = shards
        .iter()
        .map(|s| {
            (
                s.folder.clone(),
                s.first_trial,
                s.trials(),
                s.trials_csv_crc,
            )
        })
        .collect();
    let (_, name, m, result) = shard::merge(shards)?;
    let trials = match shards_format {
        Format::Csv => output::concat_trials_csv(out, &ordered),
        Format::Parquet => crate::io::parquet::concat(&m, out, &ordered),
    }
    .with_context(|| format!("writing results to {}", out.display()))?;
    let info = serde_json::json!({
        "scenario_file": name,
        "merged_from": dirs,
        "trials_format": shards_format.name(),
    });
    write_results(&m, &result, out, Some((trials, shards_format)), true, info)
}

/// Redraws the report of the saved output folder `dir`; returns the report's folder.
pub fn report(dir: &Path) -> anyhow::Result<PathBuf> {
    // A run killed while it moved its files into place is finished first, so that the charts
    // are drawn from the results they will sit beside.
    output::repair(dir);
    let input = crate::io::read::report_input(dir)?;
    let files: Vec<_> = report::in_output(report::files(&input)?).collect();
    let rdir = dir.join(report::DIR);
    output::write_all(dir, &files)
        .with_context(|| format!("writing the report to {}", rdir.display()))?;
    Ok(rdir)
}

/// The per-trial files of the formats other than `kept`: an earlier run's, which a run that
/// writes `kept` removes.
fn other_formats(kept: Option<Format>) -> Vec<String> {
    Format::ALL
        .into_iter()
        .filter(|&f| Some(f) != kept)
        .map(|f| f.file().to_string())
        .collect()
}

/// Summarises a complete run, writes summary.json, run-info.json and the report, and moves the
/// staged per-trial file (of the given format) into place beside them.
fn write_results(
    m: &Model,
    result: &RunResult,
    out: &Path,
    trials: Option<(output::Staged, Format)>,
    with_report: bool,
    info: serde_json::Value,
) -> anyhow::Result<Written> {
    let s = super::summarise(m, result);
    let summary_json = output::summary_json(&s)?;
    let format = trials.as_ref().map(|t| t.1);
    let mut files = vec![
        ("summary.json".to_string(), summary_json.clone()),
        ("summary.csv".to_string(), output::summary_csv(&s)?),
        (
            "run-info.json".to_string(),
            serde_json::to_vec_pretty(&info)?,
        ),
    ];
    if with_report {
        let input = report::ReportInput {
            trials_file: format.map(Format::file),
            ..report::input_from_run(s.clone(), result)
        };
        files.extend(report::in_output(report::files(&input)?));
    }
    // An earlier run's files that would not match this summary: its per-trial file, its
    // report, or the shard file of an earlier `run --shard` into this folder.
    let mut stale: Vec<String> = vec![shard::SHARD_FILE.to_string()];
    stale.extend(other_formats(format));
    stale.extend(
        report::FILES
            .map(report::path)
            .into_iter()
            .filter(|f| files.iter().all(|(name, _)| name != f)),
    );
    output::write_all_staged(
        out,
        &files,
        trials.map(|t| t.0).into_iter().collect(),
        &stale,
    )
    .with_context(|| format!("writing results to {}", out.display()))?;
    Ok(Written {
        summary: s,
        summary_json,
        trials: format,
        report: with_report,
    })
}
