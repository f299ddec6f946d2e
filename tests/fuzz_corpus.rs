//! Replays the fuzz targets' seed corpus (`fuzz/corpus/`) and saved crashes
//! (`fuzz/regressions/`) through the library's entry points ([`supplyshock::fuzzing`]), so that
//! plain `cargo test` on stable keeps every input the fuzzers were given, or that once broke the
//! library, passing. See fuzz/README.md.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use supplyshock::fuzzing::{self, Outcome};

/// The inputs in `fuzz/<kind>/<target>/`, sorted; files whose name starts with a dot, and
/// README files, are notes rather than inputs.
fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind)
        .join(target);
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}; it must exist", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|e| {
            e.unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path()
        })
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            p.is_file() && !name.starts_with('.') && !name.starts_with("README")
        })
        .collect();
    files.sort();
    files
}

/// Runs every corpus and regression input of `target` through `entry`; fails on an empty or
/// missing corpus folder. Returns each input with what it came to.
fn replay(target: &str, entry: fn(&[u8]) -> Outcome) -> Vec<(PathBuf, Outcome)> {
    let corpus = inputs("corpus", target);
    assert!(
        !corpus.is_empty(),
        "fuzz/corpus/{target}/ holds no inputs: the seed corpus is missing"
    );
    let regressions = inputs("regressions", target);
    let mut seen = Vec::new();
    for path in corpus.iter().chain(&regressions) {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // A panic names the input that caused it.
        let outcome = std::panic::catch_unwind(|| entry(&data)).unwrap_or_else(|p| {
            panic!(
                "fuzz target `{target}` panicked on {}: {}",
                path.display(),
                p.downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| p.downcast_ref::<&str>().copied())
                    .unwrap_or("(no message)")
            )
        });
        seen.push((path.clone(), outcome));
    }
    let count = |o: Outcome| seen.iter().filter(|(_, x)| *x == o).count();
    // Written past the test harness's capture, so that every `cargo test` shows it.
    let _ = writeln!(
        std::io::stderr(),
        "fuzz corpus `{target}`: replayed {} inputs ({} seeds, {} regressions): {} ran trials, {} accepted without running, {} refused",
        seen.len(),
        corpus.len(),
        regressions.len(),
        count(Outcome::Ran),
        count(Outcome::Accepted),
        count(Outcome::Refused)
    );
    seen
}

/// What the seed named `name` came to.
fn outcome_of(seen: &[(PathBuf, Outcome)], name: &str) -> Outcome {
    seen.iter()
        .find(|(p, _)| p.file_name().is_some_and(|n| n == name))
        .unwrap_or_else(|| panic!("the seed corpus has no {name}"))
        .1
}

#[test]
fn the_scenario_fuzz_corpus_replays_without_a_panic() {
    let seen = replay("scenario", fuzzing::scenario);
    // The seeds reach the engine, not only the parser: the small shipped scenarios, a variant
    // of one (resolved against the shipped file) and the hand-made edge cases run trials; the
    // default scenario and its variants compile but are too large to run in a fuzz iteration.
    for name in [
        "teach-embargo.toml",
        "teach-late-plant.toml",
        "teach-markov-outage.toml",
        "variant-teach.toml",
        "edge-every-shock.toml",
        "edge-minimal.toml",
        "edge-tiny-shard.toml",
    ] {
        assert_eq!(outcome_of(&seen, name), Outcome::Ran, "{name}");
    }
    for name in ["rare-earths-2026.toml", "what-if-stockpile-3m.toml"] {
        assert_eq!(outcome_of(&seen, name), Outcome::Accepted, "{name}");
    }
    for name in [
        "bad-shares.toml",
        "variant-bad-setting.toml",
        "not-utf8.toml",
    ] {
        assert_eq!(outcome_of(&seen, name), Outcome::Refused, "{name}");
    }
}

#[test]
fn the_shard_fuzz_corpus_replays_without_a_panic() {
    let seen = replay("shard", fuzzing::shard);
    // A whole run in one shard merges; one shard of two alone is refused as incomplete.
    assert_eq!(outcome_of(&seen, "tiny-1-of-1.bin"), Outcome::Ran);
    assert_eq!(outcome_of(&seen, "tiny-1-of-2.bin"), Outcome::Refused);
}
