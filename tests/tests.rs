//! One integration-test binary; the modules below test the library at its boundaries.

mod analytic;
mod architecture;
mod bad_input;
mod cli;
mod common;
mod compare;
mod determinism;
mod fuzz_corpus;
mod invariants;
mod report;
mod sensitivity;
mod snapshots;
mod trials_parquet;
