//! supplyshock: a Monte Carlo simulator of supply disruptions in the rare-earth magnet chain.
//!
//! The modules are layers, and each imports only from those below it (docs/architecture.md
//! states the rules; a test checks them):
//!
//! - [`prob`]: random numbers, samplers and estimators, knowing nothing of scenarios;
//! - [`scenario`]: the scenario file's text, read into a serde mirror with positions kept;
//! - [`model`]: the scenario validated, then compiled into flat, index-based arrays;
//! - [`sim`]: the kernels, the parallel engine, what a run produces, shards;
//! - [`stats`]: summaries, paired comparisons and sweeps of runs;
//! - [`report`]: the PNG charts and HTML page, as bytes;
//! - [`io`]: every file read and written;
//! - [`app`]: the workflows (run, compare, sweep, merge, report, bench) as library functions;
//! - [`cli`]: the command line, which parses arguments, calls [`app`] and prints;
//! - [`fuzzing`]: entry points shared by the fuzz targets (fuzz/) and the corpus replay test.

#![warn(missing_docs)]

pub mod app;
pub mod cli;
pub mod fuzzing;
pub mod io;
pub mod model;
pub mod prob;
pub mod report;
pub mod scenario;
pub mod sim;
pub mod stats;

/// The built-in default scenario: the rare-earth magnet chain as of late 2026.
pub const DEFAULT_SCENARIO: &str = include_str!("../scenarios/rare-earths-2026.toml");
/// Name under which the built-in scenario appears in messages.
pub const DEFAULT_SCENARIO_NAME: &str = "scenarios/rare-earths-2026.toml (built in)";
