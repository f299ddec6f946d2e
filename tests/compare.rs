//! Comparisons on common random numbers: a mitigation that only adds a stockpile is measured
//! far more precisely from paired differences than from two independent runs.

use supplyshock::stats::compare;

use crate::common::{TWO_NODES, model, run};

/// The two-node chain with a little spare capacity, a month of cover, and two shocks.
fn base() -> String {
    let chain = TWO_NODES
        .replace("name = \"two-nodes\"", "name = \"base\"")
        .replace("capacity = 10", "capacity = 12")
        .replace("demand = 10\n", "demand = 10\ncover = 1\n");
    format!("{chain}{SHOCKS}")
}

const SHOCKS: &str = r#"
[[outage]]
node = "mine"
p_event = 0.05
duration = { dist = "lognormal", median = 2, p90 = 5 }
severity = { dist = "uniform", low = 0.5, high = 1 }

[[restriction]]
id = "ban"
country = "AA"
severity = { dist = "uniform", low = 0.3, high = 0.9 }
when = { p_start = 0.03, duration = { dist = "uniform", low = 2, high = 6 } }
"#;

#[test]
fn paired_interval_is_much_narrower_for_a_stockpile() {
    let alt_text = base()
        .replace("name = \"base\"", "name = \"stockpile\"")
        .replace(
            "cover = 1\n",
            "cover = 1\nstockpile = { periods = 2, max_release = 5 }\n",
        );
    let (b, a) = (model(&base()), model(&alt_text));
    let (rb, ra) = (run(&b, 20_000, 3, 0), run(&a, 20_000, 3, 0));
    // Same shock draws in every trial.
    assert_eq!(rb.occurred, ra.occurred);
    let c = compare::compare((&b, &rb), &[(&a, &ra)]);
    let d = &c.alternatives[0].demand[0];
    assert!(c.alternatives[0].unmatched_shocks.is_empty());
    assert!(d.mean_diff < 0.0 && d.ci95_high < 0.0, "{d:?}");
    assert!(
        d.paired_half_width < 0.5 * d.unpaired_half_width,
        "paired {} vs unpaired {}",
        d.paired_half_width,
        d.unpaired_half_width
    );
    // A stockpile never makes a trial worse.
    assert_eq!(d.prob_worse, 0.0);
    assert!(d.prob_better > 0.1);
}

#[test]
fn a_changed_shock_is_reported_as_unmatched() {
    let alt_text = base()
        .replace("name = \"base\"", "name = \"milder\"")
        .replace("high = 0.9 }", "high = 0.5 }");
    let (b, a) = (model(&base()), model(&alt_text));
    let c = compare::compare((&b, &run(&b, 100, 3, 0)), &[(&a, &run(&a, 100, 3, 0))]);
    assert_eq!(c.alternatives[0].unmatched_shocks, vec!["ban".to_string()]);
}

#[test]
fn shocks_match_by_what_they_name_not_by_index() {
    // A standby mine added first in the file moves every other node's index; the outage on
    // `mine` and the restriction on AA's exports are the same shocks, with the same draws.
    let alt_text = base()
        .replace("name = \"base\"", "name = \"second-mine\"")
        .replace(
            "[[node]]\nid = \"mine\"",
            "[[node]]\nid = \"mine2\"\nkind = \"mine\"\ncountry = \"CC\"\ncapacity = 3\n\n[[node]]\nid = \"mine\"",
        )
        .replace(
            "[[edge]]\nfrom = \"mine\"\nto = \"d\"\n",
            "[[edge]]\nfrom = \"mine\"\nto = \"d\"\nshare = 1\n\n[[edge]]\nfrom = \"mine2\"\nto = \"d\"\n",
        );
    let (b, a) = (model(&base()), model(&alt_text));
    assert_eq!(a.nodes.len(), b.nodes.len() + 1);
    let (rb, ra) = (run(&b, 2_000, 3, 0), run(&a, 2_000, 3, 0));
    assert_eq!(rb.occurred, ra.occurred);
    let c = compare::compare((&b, &rb), &[(&a, &ra)]);
    assert!(
        c.alternatives[0].unmatched_shocks.is_empty(),
        "{:?}",
        c.alternatives[0].unmatched_shocks
    );
    // A restriction that now covers another edge is another shock.
    let wider = alt_text.replace("country = \"CC\"", "country = \"AA\"");
    let w = model(&wider);
    let c = compare::compare((&b, &rb), &[(&w, &run(&w, 2_000, 3, 0))]);
    assert_eq!(c.alternatives[0].unmatched_shocks, vec!["ban".to_string()]);
}

#[test]
fn sweeping_a_stockpile_lowers_the_shortfall_monotonically() {
    use supplyshock::app::{self, Loaded, Settings};
    use supplyshock::scenario::variant;
    let sets = vec![variant::parse_sweep("node.d.stockpile.periods=0,1,2,4").unwrap()];
    let loaded = Loaded {
        text: base(),
        name: "base".into(),
        model: model(&base()),
        variant: None,
    };
    let settings = Settings {
        trials: Some(5_000),
        seed: Some(9),
        threads: 0,
        kernel: supplyshock::sim::engine::Kernel::best(),
        progress: false,
    };
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("sweep-stockpile");
    let _ = std::fs::remove_dir_all(&out);
    let s = app::sweep(&loaded, &sets, &settings, &out).unwrap().sweep;
    std::fs::remove_dir_all(&out).unwrap();
    let means: Vec<f64> = s.points.iter().map(|p| p.demand[0].mean).collect();
    assert_eq!(s.points.len(), 4);
    // Same shock draws at every point: a bigger stockpile can only help, trial by trial.
    assert!(means.windows(2).all(|w| w[1] <= w[0]), "{means:?}");
    assert!(means[3] < 0.5 * means[0], "{means:?}");
}

#[test]
fn a_bad_sweep_path_names_what_exists() {
    use supplyshock::scenario::variant;
    let sets = variant::parse_sweep("node.dd.cover=1").unwrap();
    let settings = supplyshock::stats::sweep::grid(&[sets]);
    let err = variant::apply_all(&base(), &settings[0], "base")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("--set node.dd.cover")
            && err.contains("no node `dd`")
            && err.contains("mine, d"),
        "{err}"
    );
}

#[test]
fn a_sweep_chart_shows_the_swept_nodes_then_the_largest_shortfalls() {
    use supplyshock::stats::sweep::{Metrics, Point, Sweep};
    // 30 nodes: d25..d28 short; d3 swept by a node path, d7 by an edge into it; d70, whose id
    // starts with a swept node's, neither.
    let ids: Vec<String> = (0..30)
        .map(|i| {
            if i == 29 {
                "d70".into()
            } else {
                format!("d{i}")
            }
        })
        .collect();
    let point = |v: &str| Point {
        values: vec![v.into(), v.into()],
        demand: ids
            .iter()
            .enumerate()
            .map(|(i, id)| Metrics {
                node: id.clone(),
                mean: if (25..29).contains(&i) { i as f64 } else { 0.0 },
                ci95_low: 0.0,
                ci95_high: 0.0,
                p95: 0.0,
                cvar95: 0.0,
                prob_any: 0.0,
            })
            .collect(),
    };
    let s = Sweep {
        scenario: "wide".into(),
        seed: 1,
        trials: 10,
        paths: vec!["node.d3.cover".into(), "edge.m7->d7.share".into()],
        points: vec![point("1"), point("2")],
    };
    let shown = supplyshock::report::sweep_panels(&s);
    assert_eq!(shown.len(), 24);
    for d in [3, 7, 25, 26, 27, 28] {
        assert!(shown.contains(&d), "{d} not in {shown:?}");
    }
    // Were d70 taken for d7, it would be shown ahead of the unshort nodes before it.
    assert!(!shown.contains(&29), "{shown:?}");
    assert!(shown.windows(2).all(|w| w[0] < w[1]));
}
