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
    let (nodes, edges) = data::graph(&input);
    assert_eq!((nodes.len(), edges.len()), (4, 3));
    insta::assert_json_snapshot!(
        "report-data",
        serde_json::json!({
            "histograms": hists,
            "exceedance_first_points": curves.iter().map(|c| c.points.iter().take(5).collect::<Vec<_>>()).collect::<Vec<_>>(),
            "tornado": { "overall": overall, "bars": bars },
            "graph": { "nodes": nodes, "edges": edges },
        })
    );
}

#[test]
fn pngs_decode_at_their_size_and_are_not_blank() {
    let input = input(500);
    let files = report::files(&input).unwrap();
    assert_eq!(files.len(), 6);
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
            "01-shortfall-histograms.png" | "03-delivered-fan-charts.png" => Some((1520, 450)),
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
    assert_eq!(size("03-delivered-fan-charts.png"), (1520, 12 * 400 + 50));
    assert_eq!(size("05-supply-graph.png"), (1700, 300));
}
