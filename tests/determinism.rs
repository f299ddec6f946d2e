//! Results depend on the scenario, seed and trial count only: not on the thread count, the split
//! into shards, or on unrelated parts of the scenario (common random numbers).

use supplyshock::io::output;
use supplyshock::sim::engine::{self, RunOptions};

use crate::common::{self, TWO_NODES, model, run};
use crate::invariants::{random_material_scenario, random_scenario};

fn summary_bytes(text: &str, trials: u64, threads: usize) -> Vec<u8> {
    let m = model(text);
    let r = run(&m, trials, 42, threads);
    output::summary_json(&supplyshock::app::summarise(&m, &r)).unwrap()
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
        kernel: supplyshock::sim::engine::Kernel::best(),
    };
    let mut a = engine::run(&m, &opts(0, 300)).unwrap();
    let b = engine::run(&m, &opts(300, 700)).unwrap();
    a.append(b);
    assert_eq!(a.shortfall, whole.shortfall);
    assert_eq!(a.occurred, whole.occurred);
    assert_eq!(common::bits(&a.draws), common::bits(&whole.draws));
    assert_eq!(a.streams, whole.streams);
    assert_eq!(a.hist, whole.hist);
}

/// Shocks for the two-node chain: cheap enough for a million trials.
const SHOCKS: &str = r#"
[[outage]]
id = "flood"
node = "mine"
p_fail = 0.02
p_recover = 0.3
severity = { dist = "uniform", low = 0.2, high = 1.0 }

[[restriction]]
id = "ban"
country = "AA"
severity = { dist = "uniform", low = 0.0, high = 0.5 }
when = { p_start = 0.01, duration = { dist = "uniform", low = 1, high = 4 } }
"#;

#[test]
fn a_split_across_blocks_and_the_rank_sample_gives_the_same_summary() {
    // More trials than one engine block and than the trials whose magnitudes are kept, so that
    // shards cut through a block and through the rank sample.
    let m = model(&format!("{TWO_NODES}{SHOCKS}"));
    let total = supplyshock::sim::result::RANK_TRIALS + 3_000;
    assert!(total > engine::BLOCK as u64);
    let whole = run(&m, total, 11, 0);
    let cut = supplyshock::sim::result::RANK_TRIALS - 1_234;
    let opts = |first, trials| RunOptions {
        seed: 11,
        first_trial: first,
        trials,
        threads: 0,
        progress: false,
        kernel: supplyshock::sim::engine::Kernel::best(),
    };
    let mut a = engine::run(&m, &opts(0, cut)).unwrap();
    a.append(engine::run(&m, &opts(cut, total - cut)).unwrap());
    assert_eq!(
        a.draws.len(),
        supplyshock::sim::result::RANK_TRIALS as usize * m.draw_stride()
    );
    let bytes = |r| output::summary_json(&supplyshock::app::summarise(&m, r)).unwrap();
    assert_eq!(bytes(&a), bytes(&whole));
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
        kernel: supplyshock::sim::engine::Kernel::best(),
    };
    let a = engine::run_to_precision(&m, &opts, 0.05, 200_000, None).unwrap();
    let b = engine::run_to_precision(
        &m,
        &RunOptions {
            threads: 1,
            ..opts.clone()
        },
        0.05,
        200_000,
        None,
    )
    .unwrap();
    assert_eq!(a.trials % 2_000, 0);
    assert!(
        a.trials > 2_000,
        "the first batch should not be precise enough"
    );
    assert!(a.worst_relative_half_width() <= 0.05);
    assert_eq!(a.trials, b.trials);
    assert_eq!(a.shortfall, b.shortfall);
    // Batches are the trials of one run of that size.
    let one = run(&m, a.trials, 5, 2);
    assert_eq!(one.shortfall, a.shortfall);
    assert_eq!(one.streams, a.streams);
    assert_eq!(one.hist, a.hist);
    assert_eq!(common::bits(&one.draws), common::bits(&a.draws));
    // A cap stops it early.
    let capped = engine::run_to_precision(&m, &opts, 0.0001, 6_000, None).unwrap();
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
    assert!((0..1_000).all(|k| r.shortfall(k, 0) == 3.0));
}

/// Everything a chunk of trials produces, with floats as bits (so that 0.0 and -0.0 differ).
fn chunk_bits(
    m: &supplyshock::model::Model,
    mut worker: engine::Worker,
    trials: usize,
) -> Vec<u64> {
    let (dn, words, stride) = (m.demand.len(), m.shock_words(), m.draw_stride());
    let mut outs = vec![supplyshock::sim::result::DemandOutcome::default(); trials * dn];
    let mut occ = vec![0u64; trials * words];
    let mut mags = vec![0f32; trials * stride];
    let mut hist = vec![0u32; dn * m.periods * supplyshock::sim::result::BINS];
    worker.run_chunk(m, 77, 1_000, &mut outs, &mut occ, &mut mags, &mut hist);
    let mut bits = occ;
    for o in &outs {
        bits.extend([o.shortfall.to_bits(), o.worst.to_bits(), o.tariff.to_bits()]);
        bits.extend(
            [
                o.worst_frac.to_bits(),
                o.first_short.into(),
                o.survive.into(),
                o.recover.into(),
            ]
            .map(u64::from),
        );
    }
    // The shock magnitudes (the inputs' values follow them only where a quantity is drawn),
    // and which inputs limited each demand node.
    let (ns, base) = (m.shocks.len(), m.limit_base());
    for row in mags.chunks_exact(stride) {
        bits.extend(row[..ns].iter().map(|x| u64::from(x.to_bits())));
        bits.extend(
            row[base..base + m.limits.len()]
                .iter()
                .map(|x| u64::from(x.to_bits())),
        );
    }
    bits.extend(hist.iter().map(|&c| u64::from(c)));
    bits
}

/// The lane kernel's paths this processor runs, after saying which it cannot run: those are
/// reported, never skipped silently. The baseline path runs everywhere.
fn lane_paths() -> Vec<supplyshock::sim::lanes::Path> {
    use std::io::Write as _;
    use supplyshock::sim::lanes::Path;
    static REPORT: std::sync::Once = std::sync::Once::new();
    REPORT.call_once(|| {
        let names = |ps: Vec<Path>| ps.iter().map(|p| p.name()).collect::<Vec<_>>().join(", ");
        let lacked: Vec<Path> = Path::ALL.into_iter().filter(|p| !p.available()).collect();
        // Written to the process's stderr, past the test harness's capture, so that every
        // `cargo test` says which paths it compared and which this processor cannot run.
        let _ = writeln!(
            std::io::stderr(),
            "lane kernel paths compared with the one-trial kernel: {}; not run: {}",
            names(Path::available_paths()),
            if lacked.is_empty() {
                "none".to_string()
            } else {
                format!("{} (this processor lacks them)", names(lacked))
            }
        );
    });
    let paths = Path::available_paths();
    assert!(paths.contains(&Path::Baseline));
    paths
}

/// Every lane path this processor runs gives the one-trial kernel's bits, on every shipped
/// scenario and on random graphs, and so the same bits as each other.
#[test]
fn every_lane_path_gives_the_one_trial_kernels_bits() {
    let mut models: Vec<_> = (0..40).map(|seed| model(&random_scenario(seed))).collect();
    models.extend((0..40).map(|seed| model(&random_material_scenario(seed))));
    for path in supplyshock::io::read::shipped_scenarios() {
        models.push(supplyshock::io::read::load(&path).unwrap_or_else(|e| panic!("{e}")));
    }
    assert!(models.len() > 90);
    let paths = lane_paths();
    for m in &models {
        // 203 trials: the last group of lanes is short.
        let single = chunk_bits(m, engine::Worker::single(m), 203);
        for &p in &paths {
            let worker = engine::Worker::with_kernel(m, engine::Kernel::Lanes(p));
            assert_eq!(worker.kernel(), engine::Kernel::Lanes(p));
            assert!(
                chunk_bits(m, worker, 203) == single,
                "the {p} lane path and the one-trial kernel differ on {}",
                m.name
            );
        }
    }
}

/// The engine gives the same results with every kernel it can be told to use.
#[test]
fn a_run_does_not_depend_on_the_kernel() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/rare-earths-2026.toml");
    let m = supplyshock::io::read::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let run_with = |kernel| {
        engine::run(
            &m,
            &RunOptions {
                seed: 5,
                first_trial: 17,
                trials: 1_000,
                threads: 2,
                progress: false,
                kernel,
            },
        )
        .unwrap_or_else(|e| panic!("{e}"))
    };
    let reference = run_with(engine::Kernel::OneTrial);
    lane_paths();
    for kernel in engine::Kernel::available() {
        let r = run_with(kernel);
        assert!(
            r.shortfall == reference.shortfall
                && r.occurred == reference.occurred
                && common::bits(&r.draws) == common::bits(&reference.draws)
                && r.hist == reference.hist
                && r.streams == reference.streams,
            "{kernel}"
        );
    }
}

/// Shocks that draw nothing are applied once, to the rows every trial starts from, where no
/// sampled shock before them (in the model's order: outages, delays, restrictions, tariffs)
/// shares their rows; either way they must act exactly as the same shocks drawn in every trial.
/// Each row here has two sampled shocks and a fixed one, the fixed one first (applied once) or
/// last (applied in every trial, after the others: floating-point products of three factors
/// depend on their order). The plant's fixed delay always follows its outages; the second
/// mine's has its row to itself.
#[test]
fn fixed_shocks_act_as_if_drawn_in_every_trial() {
    let world = |fixed_first: bool, value: &dyn Fn(f64) -> String| {
        let fixed = format!(
            r#"
[[delay]]
node = "plant"
nominal = 2
delay = {}
ramp = {}

[[delay]]
node = "mine2"
nominal = 1
delay = {}
ramp = {}

[[restriction]]
id = "fixed-restriction"
country = "AA"
severity = {}
licensing_lag = {}
licensed_severity = {}

[[tariff]]
id = "fixed-tariff"
from = "AA"
to = "BB"
rate = {}
elasticity = 1.0
"#,
            value(3.0),
            value(29.0),
            value(2.0),
            value(4.0),
            value(0.3),
            value(2.0),
            value(0.1),
            value(0.2)
        );
        let mut sampled = String::new();
        for k in 0..2 {
            sampled += &format!(
                r#"
[[outage]]
id = "outage-{k}"
node = "plant"
p_event = 0.1
duration = 2
severity = {{ dist = "uniform", low = 0.1, high = 0.9 }}

[[restriction]]
id = "restriction-{k}"
country = "AA"
severity = {{ dist = "uniform", low = 0.2, high = 0.6 }}
when = {{ p_start = 0.05, duration = 3 }}

[[tariff]]
id = "tariff-{k}"
from = "AA"
to = "BB"
rate = {{ dist = "uniform", low = 0.1, high = 0.4 }}
elasticity = 1.0
when = {{ p_start = 0.1, p_end = 0.3 }}
"#
            );
        }
        let shocks = if fixed_first {
            fixed + &sampled
        } else {
            sampled + &fixed
        };
        format!(
            r#"
[scenario]
name = "fixed-shocks"
periods = 30
start = "2027-01"

[[node]]
id = "mine"
kind = "mine"
country = "AA"
capacity = 20
price = 50

[[node]]
id = "mine2"
kind = "mine"
country = "CC"
capacity = 8
price = 60

[[node]]
id = "plant"
kind = "refinery"
country = "BB"
capacity = 15
price = 100
stock = 5

[[node]]
id = "d"
kind = "demand"
country = "CC"
demand = 10
cover = 1

[[edge]]
from = "mine"
to = "plant"
share = 0.7

[[edge]]
from = "mine2"
to = "plant"
share = 0.3

[[edge]]
from = "plant"
to = "d"
{shocks}"#
        )
    };
    let plain = |v: f64| format!("{v}");
    let drawn = |v: f64| format!("{{ dist = \"discrete\", values = [{v}], weights = [1] }}");
    for (fixed_first, applied_once) in [(true, 3), (false, 1)] {
        let fixed = model(&world(fixed_first, &plain));
        let drawn = model(&world(fixed_first, &drawn));
        let is_fixed = fixed
            .shocks
            .iter()
            .filter(|s| supplyshock::sim::kernel::is_fixed(&s.kind))
            .count();
        let baked = supplyshock::sim::kernel::baked(&fixed);
        assert_eq!(is_fixed, 4);
        assert_eq!(baked.iter().filter(|&&b| b).count(), applied_once);
        assert!(!supplyshock::sim::kernel::baked(&drawn).contains(&true));
        let single = chunk_bits(&fixed, engine::Worker::single(&fixed), 500);
        assert!(
            single == chunk_bits(&drawn, engine::Worker::single(&drawn), 500),
            "fixed first: {fixed_first}"
        );
        for p in lane_paths() {
            let worker = engine::Worker::with_kernel(&fixed, engine::Kernel::Lanes(p));
            assert!(single == chunk_bits(&fixed, worker, 500), "{p}");
        }
    }
}

/// Beyond `TAIL_TRIALS` worst trials the tail profile re-simulates an evenly spaced sample of
/// them in trial order; its fractions stay close to the full profile's.
#[test]
fn a_sampled_tail_profile_is_an_even_sample_of_the_full_one() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/rare-earths-2026.toml");
    let m = supplyshock::io::read::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let r = run(&m, 20_000, 3, 0);
    let full = engine::tail_profile(&m, &r);
    assert_eq!(full.trials.len(), 1_000);
    let sampled = engine::tail_profile_sampled(&m, &r, 300);
    // ceil(1000 / 300) = 4: every fourth of the worst trials, 250 in all.
    let every_fourth: Vec<u64> = full.trials.iter().step_by(4).copied().collect();
    assert_eq!(sampled.trials, every_fourth);
    for (a, b) in sampled.node_trials.iter().zip(&full.node_trials) {
        // Four binomial standard errors of a 250-trial sample (a sample without replacement
        // from 1,000 varies less).
        assert!(
            (a - b).abs() <= 4.0 * (b * (1.0 - b) / 250.0).sqrt() + 1e-12,
            "{a} vs {b}"
        );
    }
    // Fractions strictly between 0 and 1, where a bad sample would show.
    assert!(
        full.node_trials
            .iter()
            .filter(|&&x| x > 0.05 && x < 0.95)
            .count()
            >= 3
    );
}

/// A calm period that every lane enters in the unshocked state is replayed rather than stepped
/// (`sim::lanes`): rare, short outages and a restriction with a licensing lag, around a standing
/// tariff whose cost is carried, a stockpile and re-routing, so that groups leave the unshocked
/// state and come back to it. A fixed three-month stop of Chinese exports at the start leaves
/// even the unshocked trial short, so lanes recover in a replayed period. Every path gives the
/// one-trial kernel's bits (a replay that adds no tariff cost, or records no recovery, fails
/// here), and periods were both replayed and stepped.
#[test]
fn replayed_calm_periods_give_the_stepped_bits() {
    let text = r#"
[scenario]
name = "calm-periods"
periods = 48
start = "2026-12"
policy = "flexible"
reroute_lag = 1
[[node]]
id = "cn"
kind = "mine"
country = "CN"
capacity = 300
price = 20
[[node]]
id = "au"
kind = "mine"
country = "AU"
capacity = 60
[[node]]
id = "plant"
kind = "refinery"
country = "US"
capacity = 130
price = 20
[[node]]
id = "user"
kind = "demand"
country = "US"
demand = 100
growth = 0.0
cover = 1.0
stockpile = { periods = 0.5, max_release = 20 }
[[edge]]
from = "cn"
to = "plant"
share = 0.8
[[edge]]
from = "au"
to = "plant"
share = 0.2
[[edge]]
from = "plant"
to = "user"
[[outage]]
node = "plant"
p_event = 0.004
duration = { dist = "uniform", low = 1, high = 3 }
severity = { dist = "uniform", low = 0.5, high = 1.0 }
[[outage]]
node = "au"
id = "outage:au"
p_fail = 0.003
p_recover = 0.5
[[restriction]]
id = "cn-start"
country = "CN"
severity = 1.0
when = { duration = 3 }
[[restriction]]
id = "cn-controls"
country = "CN"
severity = 0.9
licensing_lag = 2
licensed_severity = 0.2
when = { at = 20, probability = 0.1, duration = 4 }
[[tariff]]
id = "standing"
from = "CN"
to = "US"
rate = 0.25
elasticity = 0.5
"#;
    let m = supplyshock::model::compile_str(text, "calm-periods.toml")
        .unwrap_or_else(|e| panic!("{e}"));
    let single = chunk_bits(&m, engine::Worker::single(&m), 2003);
    for &p in &lane_paths() {
        let worker = engine::Worker::with_kernel(&m, engine::Kernel::Lanes(p));
        assert!(
            chunk_bits(&m, worker, 2003) == single,
            "the {p} lane path and the one-trial kernel differ"
        );
    }
    // The same trials through one scratch, counting the periods replayed and stepped.
    use supplyshock::sim::lanes::{LANES, LaneScratch, run_group};
    let mut ls = LaneScratch::new(&m, supplyshock::sim::lanes::Path::Baseline);
    for g in 0..2003u64.div_ceil(LANES as u64) {
        run_group(
            &m,
            77,
            &std::array::from_fn(|l| 1_000 + g * LANES as u64 + l as u64),
            &mut ls,
        );
    }
    let (replayed, stepped) = ls.periods_replayed_and_stepped();
    assert!(
        replayed > stepped / 10 && stepped > replayed / 10,
        "{replayed} replayed, {stepped} stepped"
    );
}
