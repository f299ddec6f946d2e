//! Entry points shared by the fuzz targets and the corpus replay test.
//!
//! Each function takes arbitrary bytes, goes the way the command line would with them, and must
//! never panic: every input is either refused with an error (which is rendered, as the command
//! line would print it) or accepted. The fuzz targets in `fuzz/` (run with `cargo +nightly fuzz
//! run scenario` or `shard`, see fuzz/README.md) are one-line calls of these, and
//! `tests/fuzz_corpus.rs` replays the checked-in corpus and saved crashes through them under
//! plain `cargo test`.
//!
//! A scenario that compiles and is small runs a few trials; an input that only fails must fail
//! with a message. Both functions are bounded: no input takes more than a few milliseconds or
//! more than a few MiB beyond its own size.

use std::path::Path;

use crate::model::{self, Model};
use crate::scenario::error::ScenarioError;
use crate::scenario::variant;
use crate::sim::engine::{self, Kernel, RunOptions};
use crate::sim::result::{BINS, DemandOutcome, RunResult};
use crate::sim::shard::{self, ShardFile};

/// What an input came to, in order: the furthest of several tries counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Refused with an error message (not UTF-8, invalid scenario, damaged shard...).
    Refused,
    /// Accepted, but too large to run trials on here.
    Accepted,
    /// Accepted, and trials ran: a scenario's, or a merged shard's summary.
    Ran,
}

/// Trials a small scenario runs: one group of lanes and a short one.
const TRIALS: u64 = 19;

/// Largest `periods x (nodes + edges + shocks + demand nodes)` of a scenario that runs trials.
/// The teaching scenarios (at most 36 x 13) run; the default scenario (36 x 120), which takes
/// about 10 ms here and whose trials the test suite checks, is only compiled.
const MAX_WORK: usize = 2_000;

/// Largest working memory ([`engine::working_bytes`]) of a scenario that runs trials.
const MAX_BYTES: u64 = 16 << 20;

/// Where [`scenario`] reads a variant file from: as if it were in `scenarios/what-if/`.
const VARIANT_PATH: &str = "scenarios/what-if/fuzz.toml";

/// The files a variant read by [`scenario`] may name as its base, compiled in: the shipped
/// scenarios, as the files in `scenarios/what-if/` name them, and a variant (which is refused as
/// a base). Nothing is read from disk.
const BASES: [(&str, &str); 5] = [
    ("scenarios/rare-earths-2026.toml", crate::DEFAULT_SCENARIO),
    (
        "scenarios/teach-embargo.toml",
        include_str!("../scenarios/teach-embargo.toml"),
    ),
    (
        "scenarios/teach-late-plant.toml",
        include_str!("../scenarios/teach-late-plant.toml"),
    ),
    (
        "scenarios/teach-markov-outage.toml",
        include_str!("../scenarios/teach-markov-outage.toml"),
    ),
    (
        "scenarios/what-if/controls-return.toml",
        include_str!("../scenarios/what-if/controls-return.toml"),
    ),
];

/// The text of the file at `path` among [`BASES`] (`scenarios/what-if/../teach-embargo.toml`
/// names `scenarios/teach-embargo.toml`); any other path is not found.
fn read_base(path: &Path) -> std::io::Result<String> {
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for c in path.components() {
        match c {
            std::path::Component::Normal(p) => parts.push(p),
            std::path::Component::ParentDir if parts.pop().is_some() => {}
            std::path::Component::CurDir => {}
            _ => return Err(std::io::ErrorKind::NotFound.into()),
        }
    }
    BASES
        .iter()
        .find(|(name, _)| Path::new(name).iter().eq(parts.iter().copied()))
        .map(|(_, text)| text.to_string())
        .ok_or_else(|| std::io::ErrorKind::NotFound.into())
}

/// Scenario text: parses, validates and compiles it as `supplyshock validate` does (a variant
/// file too, read as if from `scenarios/what-if/`, whose base can be one of the shipped
/// scenarios, compiled in: nothing is read from disk), and renders any error. A small model runs a few
/// trials with the engine, which must give the one-trial kernel's bits, and they are summarised
/// as `run` summarises them.
///
/// # Panics
///
/// Only on a bug: a panic in the library, or the engine and the one-trial kernel differing.
pub fn scenario(data: &[u8]) -> Outcome {
    let Ok(text) = std::str::from_utf8(data) else {
        return Outcome::Refused;
    };
    let plain = compile(model::compile_str(text, "fuzz.toml"));
    let variant = variant(text);
    plain.max(variant)
}

/// The scenario a variant file stands for, read as [`crate::io::read::load_text`] reads one
/// from [`VARIANT_PATH`], with [`read_base`] reading its base.
fn variant(text: &str) -> Outcome {
    let path = Path::new(VARIANT_PATH);
    let v = match variant::resolve(text, path, &read_base) {
        Ok(Some(v)) => v,
        Ok(None) => return Outcome::Refused,
        Err(e) => {
            std::hint::black_box(format!("{e:#}"));
            return Outcome::Refused;
        }
    };
    let name = v.base_name(path);
    let m = model::compile_str(&v.patched.text, &name).map_err(|e| {
        match variant::diagnostic(e, &v.patched.text, &name) {
            Ok(d) => ScenarioError::Invalid(Box::new(v.place(d, path))),
            Err(other) => other,
        }
    });
    compile(m)
}

/// A compiled model run, or its error rendered.
fn compile(m: Result<Model, ScenarioError>) -> Outcome {
    match m {
        Ok(m) => run(&m),
        Err(e) => {
            std::hint::black_box(e.to_string());
            Outcome::Refused
        }
    }
}

/// Whether `m` is small enough to run trials on in a fuzz iteration.
fn small(m: &Model) -> bool {
    let per_period = m.nodes.len() + m.edges.len() + m.shocks.len() + m.demand.len();
    m.periods.saturating_mul(per_period) <= MAX_WORK
        && engine::working_bytes(m, TRIALS, 1) <= MAX_BYTES
}

/// Runs [`TRIALS`] trials of a small `m` with the engine on one thread, checks them against the
/// one-trial kernel, and summarises them as `run` does.
fn run(m: &Model) -> Outcome {
    if !small(m) {
        return Outcome::Accepted;
    }
    let seed = m.seed;
    let opts = RunOptions {
        seed,
        first_trial: 0,
        trials: TRIALS,
        threads: 1,
        progress: false,
        kernel: Kernel::best(),
    };
    let (mut outs, mut occ) = (Vec::new(), Vec::new());
    let mut sink = |b: &crate::sim::result::TrialBlock| {
        outs.extend_from_slice(b.outs);
        occ.extend_from_slice(b.occurred);
        Ok(())
    };
    let r = match engine::run_with(m, &opts, Some(&mut sink)) {
        Ok(r) => r,
        Err(e) => {
            std::hint::black_box(format!("{e:#}"));
            return Outcome::Refused;
        }
    };
    // The same trials with the one-trial kernel, the reference.
    let (dn, words, stride) = (m.demand.len(), m.shock_words(), m.draw_stride());
    let n = TRIALS as usize;
    let mut one = vec![DemandOutcome::default(); n * dn];
    let mut one_occ = vec![0u64; n * words];
    let mut mags = vec![0f32; n * stride];
    let mut hist = vec![0u32; dn * m.periods * BINS];
    engine::Worker::single(m).run_chunk(m, seed, 0, &mut one, &mut one_occ, &mut mags, &mut hist);
    let bits = |o: &[DemandOutcome]| -> Vec<u64> {
        o.iter()
            .flat_map(|o| {
                [
                    o.shortfall.to_bits(),
                    o.worst.to_bits(),
                    o.tariff.to_bits(),
                    u64::from(o.worst_frac.to_bits()),
                    u64::from(o.first_short),
                    u64::from(o.survive),
                    u64::from(o.recover),
                ]
            })
            .collect()
    };
    let f32_bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert!(
        bits(&outs) == bits(&one)
            && occ == one_occ
            && f32_bits(&r.draws) == f32_bits(&mags)
            && r.hist == hist,
        "the engine's {} kernel and the one-trial kernel differ on scenario {}",
        opts.kernel,
        m.name
    );
    summarise(m, &r);
    Outcome::Ran
}

/// Summarises a run and renders the summary as `run` prints and writes it (without the PNG
/// report).
fn summarise(m: &Model, r: &RunResult) {
    let s = crate::app::summarise(m, r);
    std::hint::black_box(crate::io::output::console_table(&s));
    if let Err(e) = crate::io::output::summary_json(&s) {
        // summary.json is written with NaN and infinities as null: it always serialises.
        panic!(
            "summary.json of scenario {} does not serialise: {e:#}",
            m.name
        );
    }
}

/// A shard.bin: reads it as `merge` does, and merges it alone (a shard 1/1 merges; any other
/// is refused as incomplete) and summarises the result. The input is tried as it is and, where
/// its last four bytes are not the CRC-32 of the rest, once more with them replaced by it, so
/// that mutated files reach the checks past the CRC.
///
/// # Panics
///
/// Only on a bug in the library.
pub fn shard(data: &[u8]) -> Outcome {
    let as_is = merged(data);
    let Some((body, crc)) = data.split_last_chunk::<4>() else {
        return as_is;
    };
    let sum = crc32fast::hash(body);
    if u32::from_le_bytes(*crc) == sum {
        return as_is;
    }
    let mut fixed = body.to_vec();
    fixed.extend_from_slice(&sum.to_le_bytes());
    as_is.max(merged(&fixed))
}

/// Reads, merges and summarises one shard file's bytes.
fn merged(data: &[u8]) -> Outcome {
    let dir = Path::new("fuzz-shard");
    let refused = |e: anyhow::Error| {
        std::hint::black_box(format!("{e:#}"));
        Outcome::Refused
    };
    let f = match ShardFile::from_bytes(data, dir) {
        Ok(f) => f,
        Err(e) => return refused(e),
    };
    match shard::merge(vec![f]) {
        Ok((_, _, m, r)) => {
            summarise(&m, &r);
            Outcome::Ran
        }
        Err(e) => refused(e),
    }
}
