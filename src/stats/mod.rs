//! Statistics of runs: the summary of one run, the paired comparison of alternatives, and the
//! sweep over a grid of settings.

pub mod compare;
pub mod sensitivity;
pub mod summary;
pub mod sweep;
