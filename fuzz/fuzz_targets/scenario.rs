//! Scenario text, parsed, validated, compiled and (when small) run: see `supplyshock::fuzzing`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    supplyshock::fuzzing::scenario(data);
});
