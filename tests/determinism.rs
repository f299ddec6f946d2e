//! Results depend on the scenario, seed and trial count only: not on the thread count, the split
//! into shards, or on unrelated parts of the scenario (common random numbers).

use supplyshock::engine::{self, RunOptions};
use supplyshock::{output, summary};

use crate::common::{model, run};
use crate::invariants::random_scenario;

fn summary_bytes(text: &str, trials: u64, threads: usize) -> Vec<u8> {
    let m = model(text);
    let r = run(&m, trials, 42, threads);
    output::summary_json(&summary::summarise(&m, &r)).unwrap()
}

#[test]
fn summary_is_byte_identical_across_thread_counts() {
    for text in [
        supplyshock::DEFAULT_SCENARIO.to_string(),
        random_scenario(3),
    ] {
        let one = summary_bytes(&text, 3_000, 1);
        assert_eq!(one, summary_bytes(&text, 3_000, 2));
        assert_eq!(one, summary_bytes(&text, 3_000, 7));
    }
}

#[test]
fn shards_reproduce_the_trials_of_one_run() {
    let m = model(supplyshock::DEFAULT_SCENARIO);
    let whole = run(&m, 1_000, 9, 2);
    let opts = |first, trials| RunOptions {
        seed: 9,
        first_trial: first,
        trials,
        threads: 3,
        progress: false,
    };
    let a = engine::run(&m, &opts(0, 300)).unwrap();
    let b = engine::run(&m, &opts(300, 700)).unwrap();
    let mut joined = a.outcomes.clone();
    joined.extend_from_slice(&b.outcomes);
    assert_eq!(joined, whole.outcomes);
    let mut occ = a.occurred.clone();
    occ.extend_from_slice(&b.occurred);
    assert_eq!(occ, whole.occurred);
}

#[test]
fn a_mitigation_sees_the_same_shocks() {
    for seed in [5, 6, 7] {
        let base = random_scenario(seed);
        // The same world with more inventory at one demand node: the shock draws must not move.
        let alt = base.replacen("cover = ", "cover = 5.0 # was ", 1);
        assert_ne!(base, alt);
        let a = run(&model(&base), 500, 4, 0);
        let b = run(&model(&alt), 500, 4, 0);
        assert_eq!(a.occurred, b.occurred);
    }
}

#[test]
fn precision_runs_stop_at_the_same_trial_count_with_the_same_result() {
    let m = model(supplyshock::DEFAULT_SCENARIO);
    let opts = RunOptions {
        seed: 5,
        first_trial: 0,
        trials: 2_000,
        threads: 2,
        progress: false,
    };
    let a = engine::run_to_precision(&m, &opts, 0.05, 200_000).unwrap();
    let b = engine::run_to_precision(
        &m,
        &RunOptions {
            threads: 1,
            ..opts.clone()
        },
        0.05,
        200_000,
    )
    .unwrap();
    assert_eq!(a.trials % 2_000, 0);
    assert!(
        a.trials > 2_000,
        "the first batch should not be precise enough"
    );
    assert!(a.worst_relative_half_width() <= 0.05);
    assert_eq!(a.trials, b.trials);
    assert_eq!(a.outcomes, b.outcomes);
    // Batches are the trials of one run of that size.
    let one = run(&m, a.trials, 5, 2);
    assert_eq!(one.outcomes, a.outcomes);
    assert_eq!(one.hist, a.hist);
    assert_eq!(one.magnitude, a.magnitude);
    // A cap stops it early.
    let capped = engine::run_to_precision(&m, &opts, 0.0001, 6_000).unwrap();
    assert_eq!(capped.trials, 6_000);
}

#[test]
fn a_scenario_without_shocks_runs_every_trial() {
    let text = r#"
[scenario]
name = "calm"
periods = 3
start = "2027-01"

[[node]]
id = "mine"
kind = "mine"
country = "AA"
capacity = 1

[[node]]
id = "d"
kind = "demand"
country = "AA"
demand = 2
"#;
    let text = format!("{text}\n[[edge]]\nfrom = \"mine\"\nto = \"d\"\n");
    let r = run(&model(&text), 1_000, 1, 3);
    assert!((0..1_000).all(|k| r.trial(k)[0].shortfall == 3.0));
}
