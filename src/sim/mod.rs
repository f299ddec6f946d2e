//! The simulation: the kernels that step trials through the periods, the engine that runs
//! them in parallel, what a run produces, and the shard format that splits a run over machines.

pub mod engine;
pub mod kernel;
pub mod lanes;
pub mod result;
pub mod shard;
