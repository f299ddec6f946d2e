//! The workflows the command line offers, as library functions: each takes its options, runs
//! the simulation, writes its output folder and returns what it found; the command line only
//! parses arguments, calls them and prints.

pub mod bench;
mod compare;
mod run;
mod table;

use std::path::{Path, PathBuf};

use crate::model::{self, Model};
use crate::scenario::variant::Resolved;
use crate::sim::engine::{Kernel, RunOptions};
use crate::sim::result::RunResult;
use crate::stats::summary::Summary;

pub use compare::{CompareOutcome, SweepOutcome, compare, sweep};
pub use run::{RunJob, RunOutcome, Written, merge, report, run};
pub use table::{TableRun, run_table};

/// The summary of a run: re-simulates its worst trials for the tail profile, then aggregates.
pub fn summarise(m: &Model, r: &RunResult) -> Summary {
    crate::stats::summary::summarise(m, r, &crate::sim::engine::tail_profile(m, r))
}

/// A scenario as loaded: its text, display name, model and, for a variant file, the variant
/// (where each line of the text came from) with the file's path.
#[derive(Debug)]
pub struct Loaded {
    /// The scenario text (for a variant, its base with the settings applied).
    pub text: String,
    /// The file's path as given, or the built-in scenario's name.
    pub name: String,
    /// The compiled model; its `warnings` are for the caller to show.
    pub model: Model,
    /// For a variant file: where each line of `text` came from, and the variant's path.
    pub variant: Option<(Resolved, PathBuf)>,
}

/// Loads a scenario or variant file, or the built-in default scenario where `path` is `None`.
pub fn load(path: Option<&Path>) -> anyhow::Result<Loaded> {
    Ok(match path {
        Some(p) => {
            let (text, model, variant) = crate::io::read::load_text(p)?;
            Loaded {
                text,
                name: p.display().to_string(),
                model,
                variant: variant.map(|v| (v, p.to_path_buf())),
            }
        }
        None => Loaded {
            text: crate::DEFAULT_SCENARIO.to_string(),
            name: crate::DEFAULT_SCENARIO_NAME.to_string(),
            model: model::compile_str(crate::DEFAULT_SCENARIO, crate::DEFAULT_SCENARIO_NAME)?,
            variant: None,
        },
    })
}

/// How a workflow runs its trials. Trials and seed default to the (base) scenario's own.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Trials (per run, per grid point, per alternative).
    pub trials: Option<u64>,
    /// Master seed.
    pub seed: Option<u64>,
    /// Worker threads (0: one per core).
    pub threads: usize,
    /// The kernel that steps the trials (every kernel gives the same bits).
    pub kernel: Kernel,
    /// Draw a progress bar on standard error.
    pub progress: bool,
}

impl Settings {
    /// The engine's options for `trials` trials from `first_trial`, seeded with `seed`.
    fn options(&self, seed: u64, first_trial: u64, trials: u64) -> RunOptions {
        RunOptions {
            seed,
            first_trial,
            trials,
            threads: self.threads,
            progress: self.progress,
            kernel: self.kernel,
        }
    }
}
