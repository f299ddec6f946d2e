//! A shard.bin, read, checked and merged: see `supplyshock::fuzzing`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    supplyshock::fuzzing::shard(data);
});
