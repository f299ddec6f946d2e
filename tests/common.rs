//! Helpers shared by the test modules.

use supplyshock::model::{self, Model};
use supplyshock::sim::engine::{self, RunOptions};
use supplyshock::sim::result::RunResult;
use supplyshock::stats::summary::Summary;

/// A mine supplying one demand node across a border, 10 t a month each, for 24 months.
pub const TWO_NODES: &str = r#"
[scenario]
name = "two-nodes"
periods = 24
start = "2027-01"

[[node]]
id = "mine"
kind = "mine"
country = "AA"
capacity = 10

[[node]]
id = "d"
kind = "demand"
country = "BB"
demand = 10

[[edge]]
from = "mine"
to = "d"
"#;

/// Compiles an inline scenario, panicking with the rendered error if it is invalid.
pub fn model(text: &str) -> Model {
    model::compile_str(text, "inline.toml").unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `trials` trials with `threads` threads.
pub fn run(m: &Model, trials: u64, seed: u64, threads: usize) -> RunResult {
    engine::run(
        m,
        &RunOptions {
            seed,
            first_trial: 0,
            trials,
            threads,
            progress: false,
            kernel: supplyshock::sim::engine::Kernel::best(),
        },
    )
    .unwrap()
}

/// Runs and summarises.
pub fn summarise(text: &str, trials: u64, seed: u64) -> (Model, RunResult, Summary) {
    let m = model(text);
    let r = run(&m, trials, seed, 0);
    let s = supplyshock::app::summarise(&m, &r);
    (m, r, s)
}

/// Mean and standard error of the mean.
pub fn mean_se(v: &[f64]) -> (f64, f64) {
    let (mean, var) = supplyshock::prob::estimate::mean_var(v);
    (mean, (var / v.len() as f64).sqrt())
}

/// Asserts that the sample mean of `v` is within `z` standard errors of `expected`.
pub fn assert_mean_near(v: &[f64], expected: f64, z: f64, what: &str) {
    let (mean, se) = mean_se(v);
    assert!(
        (mean - expected).abs() <= z * se,
        "{what}: mean {mean} vs expected {expected}, se {se}, |diff| = {} se",
        (mean - expected).abs() / se
    );
}

/// The full outcomes of trial 0 (seed 1) of an inline scenario, straight from the kernel.
pub fn first_trial(text: &str) -> Vec<supplyshock::sim::result::DemandOutcome> {
    use supplyshock::sim::kernel::{NoObserver, Scratch, run_trial};
    use supplyshock::sim::result::DemandOutcome;
    let m = model(text);
    let mut out = vec![DemandOutcome::default(); m.demand.len()];
    let mut occ = vec![0u64; m.shock_words()];
    run_trial(
        &m,
        1,
        0,
        &mut Scratch::new(&m),
        &mut out,
        &mut occ,
        &mut NoObserver,
    );
    out
}

/// trials.csv of a run, rebuilt from the kernel (a run keeps only compact columns).
pub fn trials_csv(m: &Model, r: &RunResult) -> Vec<u8> {
    use supplyshock::sim::kernel::{NoObserver, Scratch, run_trial};
    use supplyshock::sim::result::DemandOutcome;
    let (dn, words) = (m.demand.len(), m.shock_words());
    let n = r.trials as usize;
    let mut outs = vec![DemandOutcome::default(); n * dn];
    let mut occ = vec![0u64; n * words];
    let stride = m.draw_stride();
    let mut draws = vec![0f32; n * stride];
    let mut scratch = Scratch::new(m);
    for k in 0..n {
        run_trial(
            m,
            r.seed,
            r.first_trial + k as u64,
            &mut scratch,
            &mut outs[k * dn..(k + 1) * dn],
            &mut occ[k * words..(k + 1) * words],
            &mut NoObserver,
        );
        draws[k * stride..(k + 1) * stride].copy_from_slice(&scratch.draws);
    }
    let mut bytes = supplyshock::io::output::trials_csv_header(m).unwrap();
    bytes.extend(
        supplyshock::io::output::trials_csv_rows(
            m,
            &supplyshock::sim::result::TrialBlock {
                first: r.first_trial,
                outs: &outs,
                occurred: &occ,
                draws: &draws,
            },
        )
        .unwrap(),
    );
    bytes
}

/// Nodes and edges of 30 demand nodes d0..d29, each fed by its own mine m0..m29 of capacity 34
/// down to 5 against a demand of 10, so that only d25 to d29 are ever short.
pub fn wide_demand() -> String {
    (0..30)
        .map(|i| {
            format!(
                "[[node]]\nid = \"m{i}\"\nkind = \"mine\"\ncountry = \"AA\"\ncapacity = {}\n\
                 [[node]]\nid = \"d{i}\"\nkind = \"demand\"\ncountry = \"BB\"\ndemand = 10\n\
                 [[edge]]\nfrom = \"m{i}\"\nto = \"d{i}\"\nshare = 1\n",
                34 - i
            )
        })
        .collect()
}

/// A variant file of the shipped default scenario named `name`, with `set` (lines of
/// `"PATH" = VALUE`) as its settings: the settings start at line 5.
pub fn default_variant(name: &str, set: &str) -> String {
    let base =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/rare-earths-2026.toml");
    format!("[variant]\nbase = {base:?}\nname = {name:?}\n[variant.set]\n{set}\n")
}

/// The bit patterns of an f32 column, which compare equal where the values are the same bits
/// (NaN marks an input a trial never drew).
pub fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}
