//! A run kept in memory: its summary and its per-trial table, with no file written, for callers
//! that want the trials as data (the Python package).

use super::{Loaded, Settings};
use crate::io::output;
use crate::io::trials::{Block, Table};
use crate::sim::engine::{self, BlockSink};
use crate::sim::result::TrialBlock;
use crate::stats::summary::Summary;

/// What [`run_table`] returns.
#[derive(Clone, Debug)]
pub struct TableRun {
    /// The summary, as in summary.json.
    pub summary: Summary,
    /// summary.json's bytes.
    pub summary_json: Vec<u8>,
    /// Every trial, in the columns of trials.csv (see [`crate::io::trials::columns`]).
    pub table: Table,
}

/// Runs a loaded scenario with `settings` and returns its summary and per-trial table, writing
/// nothing. The figures are those `run` writes for the same scenario, seed and trial count.
/// The table holds every trial in memory (about 30 bytes per demand node and a byte per shock
/// per trial); a table that does not fit is refused before any trial runs.
pub fn run_table(loaded: &Loaded, settings: &Settings) -> anyhow::Result<TableRun> {
    let m = &loaded.model;
    let trials = settings.trials.unwrap_or(m.trials);
    engine::check_trials(m, trials).map_err(anyhow::Error::msg)?;
    let opts = settings.options(settings.seed.unwrap_or(m.seed), 0, trials);
    let mut table = Table::new(m);
    table
        .try_reserve(usize::try_from(trials).unwrap_or(usize::MAX))
        .map_err(|_| {
            anyhow::anyhow!(
                "the table of {trials} trials does not fit in memory; ask for fewer trials, or write trials.parquet with `supplyshock run --trials-format parquet` and read it in parts"
            )
        })?;
    let mut push = |b: &TrialBlock| {
        table.push(&Block::new(m, b));
        Ok(())
    };
    let sink: &mut BlockSink = &mut push;
    let result = engine::run_with(m, &opts, Some(sink))?;
    let summary = super::summarise(m, &result);
    let summary_json = output::summary_json(&summary)?;
    Ok(TableRun {
        summary,
        summary_json,
        table,
    })
}
