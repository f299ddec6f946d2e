//! Probability primitives with no knowledge of scenarios or files: the trials' random number
//! generator and the samplers for uncertain quantities.

pub mod dist;
pub mod estimate;
pub mod rng;
pub mod sketch;
