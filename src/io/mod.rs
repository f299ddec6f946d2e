//! Every file the program reads or writes: scenario files, output folders (written whole or not
//! at all), shard files and the report's inputs.

pub mod output;
pub mod parquet;
pub mod read;
pub mod trials;
