//! The sensitivity of the shortfall to the scenario's uncertain inputs: a known ranking is
//! recovered, an input that does nothing scores 0 within its interval, and uncertain regime rows
//! are drawn per trial and recorded.

use crate::common::{self, TWO_NODES};

/// The mine of [`TWO_NODES`] is a planned plant whose slip (uniform 0 to 12 months) decides the
/// shortfall, and a tariff on its only route, with an uncertain rate and no elasticity, costs
/// money but moves no tonne.
fn driven_and_inert() -> String {
    format!(
        r#"{TWO_NODES}
[[delay]]
node = "mine"
nominal = 0
delay = {{ dist = "uniform", low = 0, high = 12 }}

[[tariff]]
id = "duty"
from = "AA"
to = "BB"
rate = {{ dist = "uniform", low = 0.1, high = 0.5 }}
elasticity = 0
"#
    )
}

#[test]
fn the_input_that_drives_the_shortfall_ranks_first_and_an_inert_one_scores_zero() {
    let (_, _, s) = common::summarise(&driven_and_inert(), 20_000, 7);
    let node = &s.sensitivity[0];
    assert_eq!(node.node, "d");
    let names: Vec<&str> = node.inputs.iter().map(|e| e.input.as_str()).collect();
    assert_eq!(
        names,
        ["delay:mine.delay", "duty.rate"],
        "ranked by first-order index"
    );
    let (delay, duty) = (&node.inputs[0], &node.inputs[1]);
    // The shortfall is 10 t times the slip: the slip explains all of its variance.
    assert!(delay.first_order > 0.95, "{delay:?}");
    assert!(delay.first_order_ci95[0] > 0.9, "{delay:?}");
    assert!(delay.rank_correlation > 0.99, "{delay:?}");
    assert_eq!(delay.trials, 20_000);
    // The rate changes no tonne: its index is 0 within its interval, and so is its rank
    // correlation.
    let [lo, hi] = duty.first_order_ci95;
    assert!(lo <= 0.0 && 0.0 <= hi, "{duty:?}");
    assert!(hi < 0.02, "a sharp interval: {duty:?}");
    let [lo, hi] = duty.rank_correlation_ci95;
    assert!(lo <= 0.0 && 0.0 <= hi, "{duty:?}");
}

#[test]
fn the_sensitivity_is_the_same_whatever_the_thread_count() {
    let m = common::model(&driven_and_inert());
    let a = supplyshock::app::summarise(&m, &common::run(&m, 5_000, 3, 1));
    let b = supplyshock::app::summarise(&m, &common::run(&m, 5_000, 3, 2));
    assert_eq!(a.sensitivity, b.sensitivity);
}

/// A three-state regime whose middle row is uncertain (Dirichlet) and whose last row has one
/// uncertain entry, with an outage whose probability depends on the state.
fn uncertain_regime() -> String {
    format!(
        r#"{TWO_NODES}
[regime]
states = ["calm", "tense", "crisis"]
initial = "calm"
transition = [
  [0.9, 0.1, 0.0],
  {{ dirichlet = [8, 80, 12] }},
  [0.0, {{ dist = "uniform", low = 0.1, high = 0.3 }}, 0.8],
]

[[outage]]
node = "mine"
p_fail = {{ calm = 0.0, tense = 0.05, crisis = 0.3 }}
p_recover = 0.5
"#
    )
}

#[test]
fn uncertain_regime_rows_are_drawn_per_trial_and_recorded_as_inputs() {
    let m = common::model(&uncertain_regime());
    let names: Vec<&str> = m.inputs.list.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "regime.tense->calm",
            "regime.tense->tense",
            "regime.tense->crisis",
            "regime.crisis->calm",
            "regime.crisis->tense",
            "regime.crisis->crisis",
        ]
    );
    let trials = 20_000;
    let r = common::run(&m, trials, 11, 0);
    let (ns, stride) = (m.shocks.len(), m.draw_stride());
    let col = |j: usize| -> Vec<f64> {
        (0..trials as usize)
            .map(|k| f64::from(r.draws[k * stride + ns + j]))
            .collect()
    };
    // Dirichlet(8, 80, 12): means 0.08, 0.8 and 0.12; every drawn row adds up to 1.
    for (j, mean) in [(0, 0.08), (1, 0.8), (2, 0.12)] {
        common::assert_mean_near(&col(j), mean, 4.0, &format!("regime entry {j}"));
    }
    let (a, b, c) = (col(0), col(1), col(2));
    for k in 0..trials as usize {
        assert!((a[k] + b[k] + c[k] - 1.0).abs() < 1e-5);
    }
    // The crisis row: weights 0, U(0.1, 0.3) and 0.8, divided by their sum.
    let stay = col(5);
    let expected = {
        // E[0.8 / (0.8 + u)], u uniform on [0.1, 0.3]: (0.8 / 0.2) ln(1.1 / 0.9).
        4.0 * (1.1f64 / 0.9).ln()
    };
    common::assert_mean_near(&stay, expected, 4.0, "crisis -> crisis");
    assert!(col(3).iter().all(|&p| p == 0.0));
    // The rows change the outage's exposure, so the shortfall varies with them.
    let s = supplyshock::app::summarise(&m, &r);
    assert_eq!(s.sensitivity[0].inputs.len(), 6);
}

#[test]
fn a_scenario_without_uncertain_inputs_records_none() {
    let m = common::model(TWO_NODES);
    assert!(m.inputs.is_empty());
    let s = supplyshock::app::summarise(&m, &common::run(&m, 100, 1, 1));
    assert!(s.sensitivity.is_empty());
}

/// A restriction that happens in about half the trials, with an uncertain severity drawn per
/// episode, under a regime whose start probability is uncertain in one state only.
fn per_episode() -> String {
    format!(
        r#"{TWO_NODES}
[regime]
states = ["calm", "crisis"]
initial = "calm"
transition = [[0.9, 0.1], [0.2, 0.8]]

[[restriction]]
id = "ban"
country = "AA"
severity = {{ dist = "uniform", low = 0.2, high = 1.0 }}
when = {{ at = 3, probability = {{ calm = 0.5, crisis = {{ dist = "uniform", low = 0.4, high = 0.6 }} }}, duration = 6 }}
"#
    )
}

#[test]
fn a_quantity_drawn_per_episode_is_recorded_exactly_in_the_trials_that_had_one() {
    let m = common::model(&per_episode());
    let names: Vec<&str> = m.inputs.list.iter().map(|i| i.name.as_str()).collect();
    // A fixed value by state is not an input; the uncertain one is, named by its state.
    assert_eq!(names, ["ban.probability[crisis]", "ban.severity"]);
    let trials = 4_000;
    let r = common::run(&m, trials, 5, 0);
    let (ns, stride) = (m.shocks.len(), m.draw_stride());
    let (mut had, mut drawn) = (0, 0);
    for k in 0..trials as usize {
        let occurred = r.occurred(k, 0);
        let probability = r.draws[k * stride + ns];
        let severity = r.draws[k * stride + ns + 1];
        // Drawn once per trial, whether or not the episode happens.
        assert!(
            (0.4..=0.6).contains(&probability),
            "trial {k}: {probability}"
        );
        assert_eq!(occurred, !severity.is_nan(), "trial {k}");
        if occurred {
            assert!((0.2..=1.0).contains(&severity), "trial {k}: {severity}");
        }
        had += usize::from(occurred);
        drawn += usize::from(!severity.is_nan());
    }
    assert!(
        had > trials as usize / 4 && had < trials as usize * 3 / 4,
        "{had}"
    );
    // The summary measures the severity over exactly those trials.
    let s = supplyshock::app::summarise(&m, &r);
    let severity = s.sensitivity[0]
        .inputs
        .iter()
        .find(|e| e.input == "ban.severity")
        .unwrap();
    assert_eq!(severity.trials, drawn as u64);
}
