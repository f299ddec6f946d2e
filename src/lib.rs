//! supplyshock: a Monte Carlo simulator of supply disruptions in the rare-earth magnet chain.
//!
//! Data flows one way: scenario text -> [`scenario`] (serde mirror) -> [`model`] (validated,
//! compiled, index-based) -> [`engine`] (parallel trials) -> [`kernel`] (one trial) ->
//! [`summary`] (aggregates) -> [`output`] (bytes and files). The binary only parses arguments and
//! calls [`cli::run`].

#![warn(missing_docs)]

pub mod bench;
pub mod cli;
pub mod compare;
pub mod dist;
pub mod engine;
pub mod error;
pub mod kernel;
pub mod lanes;
pub mod model;
pub mod output;
pub mod prob;
pub mod report;

pub mod scenario;
pub mod shard;
pub mod sketch;
pub mod summary;
pub mod sweep;
pub mod variant;

/// The built-in default scenario: the rare-earth magnet chain as of late 2026.
pub const DEFAULT_SCENARIO: &str = include_str!("../scenarios/rare-earths-2026.toml");
/// Name under which the built-in scenario appears in messages.
pub const DEFAULT_SCENARIO_NAME: &str = "scenarios/rare-earths-2026.toml (built in)";
