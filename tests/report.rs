//! The report: chart data (tested without pixels), PNGs that decode at the intended size and
//! are not blank, a self-contained index.html, and a redraw from a saved folder that sees the
//! same data as the run.

use supplyshock::report::{self, data};

use crate::common::summarise;

const SCENARIO: &str = r#"
[scenario]
name = "report-test"
periods = 24
start = "2027-01"
policy = "flexible"

[[node]]
id = "mine"
kind = "mine"
country = "AA"
capacity = 12

[[node]]
id = "alt"
kind = "mine"
country = "CC"
capacity = 4

[[node]]
id = "d"
kind = "demand"
country = "BB"
demand = 10
cover = 1

[[node]]
id = "e"
kind = "demand"
country = "AA"
demand = 2

[[edge]]
from = "mine"
to = "d"
share = 1

[[edge]]
from = "alt"
to = "d"

[[edge]]
from = "mine"
to = "e"

[[outage]]
node = "mine"
p_event = 0.05
duration = { dist = "uniform", low = 1, high = 4 }

[[restriction]]
id = "ban"
country = "AA"
severity = 0.8
when = { at = { dist = "uniform", low = 0, high = 20 }, duration = 3, probability = 0.4 }
"#;

fn input(trials: u64) -> report::ReportInput {
    let (_, r, s) = summarise(SCENARIO, trials, 5);
    report::input_from_run(s, &r)
}

#[test]
fn chart_data() {
    let input = input(2_000);
    let hists = input.histograms.clone();
    assert_eq!(hists.len(), 2);
    for h in &hists {
        let counted: u64 = h.bins.iter().map(|b| b.2).sum();
        assert_eq!(counted + h.zero_trials, h.trials);
        assert!(h.bins.windows(2).all(|w| (w[0].1 - w[1].0).abs() < 1e-9));
    }
    let curves = input.exceedance.clone();
    for c in &curves {
        assert!(
            c.points
                .windows(2)
                .all(|w| w[0].x <= w[1].x && w[0].p >= w[1].p),
            "exceedance must fall as x grows"
        );
        assert!(c.points.iter().all(|p| p.low <= p.p && p.p <= p.high));
    }
    let (overall, bars, hidden) = data::tornado(&input);
    assert!(overall > 0.0);
    // Both shocks (the outage and the ban) occur in some trials, not all.
    assert_eq!((bars.len(), hidden), (2, 0));
    assert!(
        bars.windows(2)
            .all(|w| (w[0].with - w[0].without).abs() >= (w[1].with - w[1].without).abs())
    );
    let graph = data::graph(&input);
    assert_eq!((graph.nodes.len(), graph.edges.len()), (4, 3));
    let (fans, p_top, depth_top) = data::fans(&input.summary.demand);
    insta::assert_json_snapshot!(
        "report-data",
        serde_json::json!({
            "histograms": hists,
            "exceedance_first_points": curves.iter().map(|c| c.points.iter().take(5).collect::<Vec<_>>()).collect::<Vec<_>>(),
            "tornado": { "overall": overall, "bars": bars },
            "graph": graph,
            "fans": { "first_months": fans.iter().map(|f| (f.prob_short[..6].to_vec(), f.depth[..6].to_vec())).collect::<Vec<_>>(), "p_top": p_top, "depth_top": depth_top },
        })
    );
}

#[test]
fn pngs_decode_at_their_size_and_are_not_blank() {
    let input = input(500);
    let files = report::files(&input).unwrap();
    assert_eq!(files.len(), 7);
    for (name, bytes) in &files {
        if !name.ends_with(".png") {
            continue;
        }
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes.as_slice()));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        let expected = match name.as_str() {
            // Two demand nodes: one row of two panels, plus the title strip.
            "01-shortfall-histograms.png" => Some((1520, 450)),
            // The monthly shortfall chart has its legend under the title.
            "03-delivered-fan-charts.png" => Some((1520, 484)),
            "02-loss-exceedance.png" => Some((1200, 720)),
            _ => None,
        };
        if let Some((w, h)) = expected {
            assert_eq!((info.width, info.height), (w, h), "{name}");
        }
        assert!(
            info.width >= 1200 && info.height >= 250,
            "{name}: {}x{}",
            info.width,
            info.height
        );
        let px = &buf[..info.buffer_size()];
        let ink = px.chunks(3).filter(|p| p.iter().any(|&c| c < 200)).count();
        let share = ink as f64 / (px.len() / 3) as f64;
        assert!(
            share > 0.01 && share < 0.9,
            "{name}: {:.3} of pixels inked",
            share
        );
        let mut colours: Vec<&[u8]> = px.chunks(3).collect();
        colours.sort_unstable();
        colours.dedup();
        assert!(colours.len() > 10, "{name}: only {} colours", colours.len());
    }
    let html = String::from_utf8(
        files
            .iter()
            .find(|f| f.0 == "index.html")
            .unwrap()
            .1
            .clone(),
    )
    .unwrap();
    for (name, _) in &files {
        if name.ends_with(".png") {
            assert!(
                html.contains(&format!("src=\"{name}\"")),
                "{name} not linked"
            );
        }
    }
    assert!(!html.contains("http") && !html.contains("<script"));
    assert!(html.contains("report-test") && html.contains("seed 5"));
}

#[test]
fn a_saved_folder_redraws_the_same_data() {
    let (m, r, s) = summarise(SCENARIO, 300, 8);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-redraw");
    let _ = std::fs::remove_dir_all(&dir);
    supplyshock::io::output::write_all(
        &dir,
        &[
            (
                "summary.json",
                supplyshock::io::output::summary_json(&s).unwrap(),
            ),
            ("trials.csv", crate::common::trials_csv(&m, &r)),
        ],
    )
    .unwrap();
    let saved = supplyshock::io::read::report_input(&dir).unwrap();
    let live = report::input_from_run(s, &r);
    assert_eq!(
        serde_json::to_string(&saved.histograms).unwrap(),
        serde_json::to_string(&live.histograms).unwrap()
    );
    assert_eq!(
        serde_json::to_string(&saved.exceedance).unwrap(),
        serde_json::to_string(&live.exceedance).unwrap()
    );
    assert_eq!(
        serde_json::to_string(&saved.summary).unwrap(),
        serde_json::to_string(&live.summary).unwrap()
    );
}

#[test]
fn a_scenario_too_large_to_chart_whole_gets_a_report_of_its_largest_parts() {
    // 30 demand nodes, each fed by its own mine, and 61 refineries in one stage.
    let mut text = String::from("[scenario]\nname = \"wide\"\nperiods = 6\nstart = \"2027-01\"\n");
    for i in 0..61 {
        text += &format!(
            "[[node]]\nid = \"r{i}\"\nkind = \"refinery\"\ncountry = \"AA\"\ncapacity = 1\n"
        );
    }
    text += &crate::common::wide_demand();
    // The refineries: fed by m0, standby suppliers of d0.
    for i in 0..61 {
        text += &format!(
            "[[edge]]\nfrom = \"m0\"\nto = \"r{i}\"\n[[edge]]\nfrom = \"r{i}\"\nto = \"d0\"\n"
        );
    }
    // A standing tariff occurs in every trial: the drivers chart leaves it out and says so.
    text += "[[tariff]]\nid = \"standing\"\nfrom = \"AA\"\nto = \"BB\"\nrate = 0.1\n";
    let (_, r, s) = summarise(&text, 50, 1);
    let input = report::input_from_run(s, &r);
    // Only d25 to d29 (capacity 9 down to 5 against demand 10) are short: the charts must show
    // them, though they come last.
    let shown = report::charted_demand(&input.summary);
    let short: Vec<usize> = (0..30)
        .filter(|&d| input.summary.demand[d].shortfall_t.mean > 0.0)
        .collect();
    assert_eq!(short.len(), 5);
    assert!(short.iter().all(|d| shown.contains(d)), "{shown:?}");
    assert!(shown.len() == 24 && shown.windows(2).all(|w| w[0] < w[1]));
    let (_, bars, hidden) = data::tornado(&input);
    assert_eq!((bars.len(), hidden), (0, 1));
    let files = report::files(&input).unwrap();
    let size = |name: &str| {
        let bytes = &files.iter().find(|f| f.0 == name).unwrap().1;
        let info = png::Decoder::new(std::io::Cursor::new(bytes.as_slice()))
            .read_info()
            .unwrap()
            .info()
            .clone();
        (info.width, info.height)
    };
    // 24 panels in 12 rows of two, plus the title strip; the graph is a note, not a drawing.
    assert_eq!(size("01-shortfall-histograms.png"), (1520, 12 * 400 + 50));
    assert_eq!(size("03-delivered-fan-charts.png"), (1520, 12 * 400 + 84));
    assert_eq!(size("05-supply-graph.png"), (1700, 300));
    assert_eq!(size("06-sensitivity.png"), (1520, 12 * 400 + 50));
}

#[test]
fn histograms_mark_the_mean_of_the_trials_they_draw() {
    let input = input(2_000);
    for (h, d) in input.histograms.iter().zip(&input.summary.demand) {
        let short = h.trials - h.zero_trials;
        assert!(short > 0, "{}", h.node);
        // The mean of the bars is the mean over all trials scaled up by the share short (the
        // zeros add nothing), to f32 rounding of the kept per-trial shortfalls.
        let scaled = d.shortfall_t.mean * h.trials as f64 / short as f64;
        assert!(
            (h.mean_if_short - scaled).abs() <= 1e-6 * scaled.max(1.0),
            "{}: {} vs {scaled}",
            h.node,
            h.mean_if_short
        );
        assert!(h.mean_if_short >= h.mean);
        // Both nodes buy from a mine.
        assert_eq!(h.unit, "t of mine output");
    }
}

#[test]
fn drivers_adjusted_intervals_are_wider_and_bonferroni_on_a_known_case() {
    use supplyshock::stats::summary::{
        Driver, adjust_for_multiple_tests, normal_quantile, simultaneous_z,
    };
    // The quantile function against known values.
    assert!((normal_quantile(0.975) - 1.959_964).abs() < 1e-6);
    assert!((normal_quantile(0.5)).abs() < 1e-9);
    assert!((normal_quantile(1.0 - 0.05 / 42.0) - 3.0381).abs() < 1e-3);
    assert_eq!(simultaneous_z(1), supplyshock::prob::estimate::Z975);
    // 21 shocks, as in the default scenario: the effect -540 [-1078, -1.4] is clear of 0 at
    // 95% but not after adjusting for 21 tests at once.
    let driver = |id: &str, ci: Option<[f64; 2]>| Driver {
        id: id.into(),
        trials_with: 100,
        trials_without: 100,
        mean_with: Some(0.0),
        mean_without: Some(0.0),
        effect: ci.map_or(0.0, |[lo, hi]| (lo + hi) / 2.0),
        effect_ci95: ci,
        p_value: None,
        p_value_adjusted: None,
        effect_ci95_adjusted: None,
        p95_with: None,
        p95_without: None,
        rank_correlation: None,
    };
    let mut drivers: Vec<Driver> = (0..20)
        .map(|i| driver(&format!("s{i}"), Some([-10.0, 10.0])))
        .collect();
    drivers.push(driver("us_mp_mine", Some([-1078.6, -1.4])));
    // One without an interval is not part of the family.
    drivers.push(driver("always", None));
    adjust_for_multiple_tests(&mut drivers);
    let d = &drivers[20];
    let [lo, hi] = d.effect_ci95_adjusted.unwrap();
    let se = (1078.6 - 1.4) / 2.0 / supplyshock::prob::estimate::Z975;
    let z21 = normal_quantile(1.0 - 0.025 / 21.0);
    assert!((lo - (-540.0 - z21 * se)).abs() < 1e-6 && (hi - (-540.0 + z21 * se)).abs() < 1e-6);
    assert!(
        lo < -1078.6 && hi > 0.0,
        "the adjusted interval includes 0: {lo} {hi}"
    );
    let p = d.p_value.unwrap();
    assert!((p - 0.0494).abs() < 2e-3, "{p}");
    assert!((d.p_value_adjusted.unwrap() - (21.0 * p).min(1.0)).abs() < 1e-12);
    for d in &drivers[..21] {
        let ([a, b], [c, e]) = (d.effect_ci95.unwrap(), d.effect_ci95_adjusted.unwrap());
        assert!(c < a && e > b, "{}: adjusted is wider", d.id);
    }
    assert!(drivers[21].effect_ci95_adjusted.is_none() && drivers[21].p_value.is_none());
}

#[test]
fn the_summary_and_the_tornado_carry_adjusted_intervals() {
    let input = input(2_000);
    let tested = data::tested(&input);
    assert_eq!(tested, 2);
    for d in &input.summary.drivers {
        let ([a, b], [c, e]) = (d.effect_ci95.unwrap(), d.effect_ci95_adjusted.unwrap());
        assert!(c < a && e > b);
        // The adjusted interval excludes 0 exactly when the adjusted p-value is below 0.05.
        assert_eq!(c > 0.0 || e < 0.0, d.p_value_adjusted.unwrap() < 0.05);
    }
    let (_, bars, _) = data::tornado(&input);
    for b in &bars {
        assert!(b.ci_adjusted.is_some());
        assert_eq!(
            data::clear_of_noise(b),
            b.ci_adjusted.is_some_and(|[lo, hi]| lo > 0.0 || hi < 0.0)
        );
    }
    // A summary saved before the adjusted figures existed: the tornado adjusts it itself.
    let mut old = input.clone();
    for d in &mut old.summary.drivers {
        d.effect_ci95_adjusted = None;
    }
    let (_, again, _) = data::tornado(&old);
    for (a, b) in bars.iter().zip(&again) {
        assert_eq!(a.ci_adjusted, b.ci_adjusted);
    }
}

#[test]
fn the_supply_graph_shows_restricted_edges_with_the_tonnes_withheld() {
    let input = input(4_000);
    let g = data::graph(&input);
    let s = &input.summary;
    // The ban covers exports from AA: mine -> d (AA to BB) only; mine -> e is domestic and
    // alt -> d comes from CC.
    let restricted: Vec<&data::GraphEdge> = g
        .edges
        .iter()
        .filter(|e| !e.restricted_by.is_empty())
        .collect();
    assert_eq!(restricted.len(), 1);
    let e = restricted[0];
    assert_eq!(
        (g.nodes[e.from].id.as_str(), g.nodes[e.to].id.as_str()),
        ("mine", "d")
    );
    assert_eq!(e.restricted_by, ["ban"]);
    // Planned flow 10 t a month; the ban blocks 80% for 3 months in 40% of the trials where it
    // starts inside the horizon: about 0.4 x (21/21) x 3 x 0.8 x 10 = 9.6 t on average.
    assert!((e.flow - 10.0).abs() < 1e-9, "{}", e.flow);
    let hit = s.shocks.iter().find(|x| x.id == "ban").unwrap().probability;
    let expected = hit * 3.0 * 0.8 * 10.0;
    assert!(
        (e.withheld_t - expected).abs() < 0.15 * expected,
        "{} vs {expected}",
        e.withheld_t
    );
    assert_eq!(g.restrictions.len(), 1);
    let r = &g.restrictions[0];
    assert_eq!(
        (r.shocks.as_slice(), r.edges),
        (&["ban".to_string()][..], 1)
    );
    assert!((r.hit - hit).abs() < 1e-12);
    // The ban causes shortfall: trials with it are worse.
    let c = r.consequence.unwrap();
    assert!(c > 0.0 && r.consequence_ci.unwrap()[0] > 0.0, "{c}");
    // The unrestricted edges carry their planned flow and nothing withheld.
    for e in g.edges.iter().filter(|e| e.restricted_by.is_empty()) {
        assert_eq!(e.withheld_t, 0.0);
    }
    // Criticality by consequence: the mine has an outage; the standby has no shock.
    let mine = g.nodes.iter().find(|n| n.id == "mine").unwrap();
    let alt = g.nodes.iter().find(|n| n.id == "alt").unwrap();
    assert!(mine.hit.unwrap() > 0.0 && mine.consequence.unwrap() > 0.0);
    assert!(alt.hit.is_none() && alt.consequence.is_none() && alt.criticality == 0.0);
    let raw = s
        .nodes
        .iter()
        .find(|n| n.id == "mine")
        .unwrap()
        .disruption
        .clone()
        .unwrap();
    // removed = mean over all trials - mean of the trials clear of the outage.
    let total: f64 = s.demand.iter().map(|d| d.shortfall_t.mean).sum();
    assert!((raw.removed_t.unwrap() - (total - raw.mean_clear.unwrap())).abs() < 1e-6 * total);
    assert!((mine.criticality - (raw.removed_t.unwrap() / total).clamp(0.0, 1.0)).abs() < 1e-12);
    // The graph's intervals are adjusted for the two it shows, so wider than the raw one.
    assert_eq!(g.tested, 2);
    let ([a, b], [lo, hi]) = (raw.removed_ci95.unwrap(), mine.consequence_ci.unwrap());
    assert!(lo < a && hi > b);
    // Demand nodes carry their probability of any shortfall and no criticality.
    let d = g.nodes.iter().find(|n| n.id == "d").unwrap();
    assert!(d.prob_short.unwrap() > 0.0 && d.hit.is_none());
    assert_eq!(g.unit, "t of mine output");
}

#[test]
fn the_monthly_shortfall_chart_shares_its_scales_and_agrees_with_the_bands() {
    let input = input(2_000);
    let (panels, p_top, depth_top) = data::fans(&input.summary.demand);
    assert_eq!(panels.len(), 2);
    for (p, d) in panels.iter().zip(&input.summary.demand) {
        assert_eq!(p.months.len(), 24);
        for (t, b) in d.bands.iter().enumerate() {
            assert!(p.prob_short[t] <= p_top + 1e-12);
            // Short in a month: the delivered share's percentiles agree with the probability.
            if b.p50 < 1.0 {
                assert!(b.prob_short >= 0.5, "{t}: {}", b.prob_short);
            }
            if b.p5 >= 1.0 {
                assert!(b.prob_short <= 0.05 + 1e-12);
            }
            match p.depth[t] {
                None => assert_eq!(p.prob_short[t], 0.0),
                Some(q) => {
                    assert!(q.windows(2).all(|w| w[0] <= w[1]), "{q:?}");
                    assert!(q[0] > 0.0 && q[4] <= depth_top + 1e-12);
                }
            }
        }
    }
    // Scales are rounded up to a tenth.
    assert!(((p_top * 10.0).round() - p_top * 10.0).abs() < 1e-9 && p_top >= 0.1);
    assert!(((depth_top * 10.0).round() - depth_top * 10.0).abs() < 1e-9);
}

/// With materials, the supply graph draws a recipe node's input parts and a plant's co-product
/// parts as their node (no part, no edge between a node and its parts), and index.html says
/// which input limited each demand node.
#[test]
fn parts_are_drawn_as_their_node_and_the_page_names_the_limiting_input() {
    let text = r#"
[scenario]
name = "report-materials"
periods = 24
start = "2027-01"

[[material]]
id = "ore"
[[material]]
id = "ndpr"
[[material]]
id = "dytb"
[[material]]
id = "magnet"

[[node]]
id = "mine"
kind = "mine"
country = "AA"
output = "ore"
capacity = 100
[[node]]
id = "sep"
kind = "refinery"
country = "AA"
capacity = 100
outputs = { ndpr = 0.3, dytb = 0.01 }
[[node]]
id = "mag"
kind = "magnet"
country = "BB"
output = "magnet"
capacity = 10
inputs = { ndpr = 1, dytb = 0.05 }
[[node]]
id = "users"
kind = "demand"
country = "BB"
demand = 10

[[edge]]
from = "mine"
to = "sep"
[[edge]]
from = "sep"
to = "mag"
material = "ndpr"
[[edge]]
from = "sep"
to = "mag"
material = "dytb"
[[edge]]
from = "mag"
to = "users"

[[restriction]]
id = "dytb-stop"
country = "AA"
materials = ["dytb"]
severity = 1
when = { at = { dist = "uniform", low = 0, high = 20 }, duration = 3, probability = 0.5 }
"#;
    let (m, r, s) = summarise(text, 2_000, 3);
    assert!(m.nodes.len() > 4, "the model has parts");
    let input = report::input_from_run(s, &r);
    let g = data::graph(&input);
    let ids: Vec<&str> = g.nodes.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, ["mine", "sep", "mag", "users"]);
    let mut pairs: Vec<(&str, &str)> = g.edges.iter().map(|e| (ids[e.from], ids[e.to])).collect();
    pairs.sort_unstable();
    assert_eq!(
        pairs,
        [
            ("mag", "users"),
            ("mine", "sep"),
            ("sep", "mag"),
            ("sep", "mag")
        ]
    );
    // Only the Dy/Tb stop bites: Dy/Tb limits every month short.
    let d = &input.summary.demand[0];
    assert_eq!(d.material.as_deref(), Some("magnet"));
    assert_eq!(d.limited_by.len(), 1, "{:?}", d.limited_by);
    assert_eq!(d.limited_by[0].material, "dytb");
    assert!((d.limited_by[0].share - 1.0).abs() < 1e-12);
    let html = report::index_html(&input.summary, &[], None);
    assert!(html.contains("Which input limited supply"));
    assert!(html.contains("dytb 100%"), "{html}");
}
