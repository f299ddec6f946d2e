//! The workflows the command line offers, as library functions: each takes its options, runs
//! the simulation, writes its output folder and returns what it found; the command line only
//! parses arguments, calls them and prints.

pub mod bench;

use crate::model::Model;
use crate::sim::result::RunResult;
use crate::stats::summary::Summary;

/// The summary of a run: re-simulates its worst trials for the tail profile, then aggregates.
pub fn summarise(m: &Model, r: &RunResult) -> Summary {
    crate::stats::summary::summarise(m, r, &crate::sim::engine::tail_profile(m, r))
}
