//! The PNG risk report: charts and an index.html, drawn from a summary and per-trial shortfalls.
//!
//! [`data`] computes what each chart shows (tested without pixels); `draw` turns it into PNG
//! bytes with plotters; this module names the files and writes the HTML page.

pub mod data;
mod draw;

use std::fmt::Write as _;

use crate::sim::result::RunResult;
use crate::stats::summary::Summary;
pub use data::ReportInput;

/// Every file a run's report folder holds.
pub const FILES: [&str; 7] = [
    "01-shortfall-histograms.png",
    "02-loss-exceedance.png",
    "03-delivered-fan-charts.png",
    "04-drivers.png",
    "05-supply-graph.png",
    "06-sensitivity.png",
    "index.html",
];

/// The report's folder inside an output folder.
pub const DIR: &str = "report";

/// A report file's path inside an output folder.
pub fn path(file: &str) -> String {
    format!("{DIR}/{file}")
}

/// Report files, named inside the report folder, as paths inside an output folder.
pub fn in_output(files: Vec<(String, Vec<u8>)>) -> impl Iterator<Item = (String, Vec<u8>)> {
    files.into_iter().map(|(name, bytes)| (path(&name), bytes))
}

/// One chart of the report.
#[derive(Clone, Debug)]
pub struct Chart {
    /// File name inside `report/`.
    pub file: &'static str,
    /// Heading in index.html.
    pub title: &'static str,
    /// How to read it.
    pub about: &'static str,
    /// PNG bytes.
    pub png: Vec<u8>,
}

/// The report's input from a run in memory.
pub fn input_from_run(summary: Summary, r: &RunResult) -> ReportInput {
    ReportInput::new(summary, |d| r.shortfalls(d))
}

/// The demand nodes the per-node charts show, in scenario order: all of them, or in a scenario
/// with more than [`data::MAX_PANELS`], those with the largest mean shortfall.
pub fn charted_demand(s: &Summary) -> Vec<usize> {
    let means: Vec<f64> = s.demand.iter().map(|d| d.shortfall_t.mean).collect();
    data::largest(&means)
}

/// Draws every chart.
pub fn charts(input: &ReportInput) -> anyhow::Result<Vec<Chart>> {
    let s = &input.summary;
    let name = s.scenario.as_str();
    let (overall, bars, hidden) = data::tornado(input);
    let tested = data::tested(input);
    let unit = data::total_unit(s);
    let graph = data::graph(input);
    let (n, shown) = (s.demand.len(), charted_demand(s));
    let hists: Vec<_> = shown.iter().map(|&d| input.histograms[d].clone()).collect();
    let curves: Vec<_> = shown.iter().map(|&d| input.exceedance[d].clone()).collect();
    let demand: Vec<_> = shown.iter().map(|&d| s.demand[d].clone()).collect();
    let (fan_panels, p_top, depth_top) = data::fans(&demand);
    let label = format!(
        "{name}{}",
        draw::left_out_note(shown.len(), n, draw::LARGEST)
    );
    let label = label.as_str();
    // The sensitivity of the same nodes, by name.
    let sens: Vec<_> = shown
        .iter()
        .map(|&d| {
            let node = &s.demand[d];
            let inputs = s
                .sensitivity
                .iter()
                .find(|x| x.node == node.node)
                .map_or_else(Vec::new, |x| x.inputs.clone());
            (draw::name(&node.label, &node.node), inputs)
        })
        .collect();
    // The charts are independent: draw them in parallel.
    let (((hist, exceed), sensitivity), (fans, (tornado, graph))) = rayon::join(
        || {
            rayon::join(
                || {
                    rayon::join(
                        || draw::histograms(&hists, label),
                        || draw::exceedance(&curves, &demand, s.trials, label),
                    )
                },
                || draw::sensitivity(&sens, label),
            )
        },
        || {
            rayon::join(
                || draw::fans(&fan_panels, p_top, depth_top, label),
                || {
                    rayon::join(
                        || draw::tornado(overall, &bars, hidden, tested, &unit, name),
                        || draw::graph(&graph, name),
                    )
                },
            )
        },
    );
    Ok(vec![
        Chart {
            file: "01-shortfall-histograms.png",
            title: "Shortfall distribution per demand node",
            about: "Histogram of each demand node's total shortfall over the horizon, in tonnes of what the node buys (magnets in the default scenario), over the trials that had one; the trials with none are counted under the axis and not drawn. The panel title gives the share of trials with any shortfall and the mean over all trials. Vertical lines: the mean of the trials drawn, and over all trials VaR95 (the shortfall exceeded in 5% of trials; 0 where fewer than 5% are short) and CVaR95 (the mean of the worst 5%).",
            png: hist?,
        },
        Chart {
            file: "02-loss-exceedance.png",
            title: "Loss-exceedance curves",
            about: "For each demand node, the probability (log scale) that its total shortfall exceeds x% of its demand. Read across at 1% to find the 1-in-100 shortfall; the shaded band is the 95% confidence interval of each probability from the finite number of trials.",
            png: exceed?,
        },
        Chart {
            file: "03-delivered-fan-charts.png",
            title: "Monthly shortfall: how likely and how deep",
            about: "Month by month, for each demand node: on top, the probability that the node is short that month (short by at least 0.125% of the month's demand); below, in the trials short that month, how deep the shortfall is as a share of the month's demand: the median (line), the middle half (dark band, P25-P75) and 90% (light band, P5-P95). Every panel has the same two scales. Where half the trials or more have no shortfall, a plain fan of delivered shares sits at 100%; split this way, when shortages bite, how often and how badly all show.",
            png: fans?,
        },
        Chart {
            file: "04-drivers.png",
            title: "Drivers of the shortfall",
            about: "For each shock, the mean total shortfall over all demand nodes in trials where it occurred against trials where it did not, with the number of trials in each group and the interval of the difference; largest effect first. The intervals are adjusted for testing every shock at once (Bonferroni): together they hold all the true effects with 95% confidence, where plain 95% intervals would let about one shock in twenty look like a driver by chance. A wide orange bar marks a shock that drives the shortfall; a pale bar's adjusted interval includes 0 (or too few trials gave one), so the run cannot tell its effect from noise. Shocks are correlated through the regime, so effects overlap. Shocks that occurred in every trial or in none have no comparison and are not shown. summary.json lists the unadjusted intervals and p-values beside the adjusted ones.",
            png: tornado?,
        },
        Chart {
            file: "05-supply-graph.png",
            title: "Supply graph and critical nodes",
            about: "The network by stage, each node by its label. Colour and the figure under each plant give its criticality by consequence: the mean total shortfall that its own outages or late start cause (the mean over all trials minus the mean over the trials in which it was never down or late, with a 95% interval), as a share of the mean total shortfall. Routes under export restrictions are dashed red and labelled with the tonnes withheld (mean over trials; an estimate: the blocked share over the months in force times the route's planned flow); the legend gives each set of restrictions, how often it was in force and the shortfall it causes. Circle area follows capacity (demand nodes: monthly demand); line width follows the planned monthly flow.",
            png: graph?,
        },
        Chart {
            file: "06-sensitivity.png",
            title: "Which uncertain inputs matter",
            about: "For each demand node, the quantities the scenario gives as distributions rather than numbers (a restriction's severity, an uncertain probability, a plant's slip, an entry of an uncertain regime row), by the share of the node's total shortfall variance each explains alone: the first-order (Sobol) index S1, estimated from the run's own trials by binning them on the input (bias-corrected, so an input that does nothing scores about 0), with its 95% interval (jackknife). A pale bar's interval reaches 0: the run cannot tell the input from noise. Beside each bar, the Spearman rank correlation between the input and the shortfall (its sign says which way the input pushes). A quantity drawn per episode is measured over the trials that had an episode. The indices need not add up to 100%: the rest is the inputs' joint effects and the chance of the episodes themselves. summary.json (sensitivity) lists every input with both measures and their intervals.",
            png: sensitivity?,
        },
    ])
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Readable dollars: 251_200_000 -> "$251.2M".
fn usd(v: f64) -> String {
    match v.abs() {
        a if a >= 1e9 => format!("${:.1}B", v / 1e9),
        a if a >= 1e6 => format!("${:.1}M", v / 1e6),
        a if a >= 1e3 => format!("${:.1}k", v / 1e3),
        _ => format!("${v:.0}"),
    }
}

fn num(v: f64) -> String {
    draw::tonnes(v)
}

/// index.html: the scenario, its key assumptions, the summary table and the charts, with
/// relative links and no scripts.
pub fn index_html(s: &Summary, charts: &[Chart], trials_file: Option<&str>) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{name}: supplyshock report</title>\n<style>body{{font-family:sans-serif;max-width:1500px;margin:2em auto;padding:0 1em;color:#222}}table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #bbb;padding:4px 8px;text-align:right}}th{{background:#eee}}td:first-child,th:first-child{{text-align:left}}img{{max-width:100%;border:1px solid #ddd}}p.about{{max-width:1100px}}</style></head><body>\n<h1>{name}</h1>\n<p>{desc}</p>\n",
        name = esc(&s.scenario),
        desc = esc(&s.description)
    );
    let _ = write!(
        h,
        "<h2>Run</h2>\n<ul><li>{} trials, seed {}</li><li>horizon: {} months from {}</li><li>allocation policy: {}</li></ul>\n",
        s.trials,
        s.seed,
        s.periods,
        esc(&s.start),
        match s.policy {
            crate::model::Policy::Fixed => "fixed contracts",
            crate::model::Policy::Flexible => "flexible (re-routing)",
        }
    );
    let _ = writeln!(
        h,
        "<h2>Shortfall per demand node</h2>\n<p>Tonnes over the {} months of the horizon, of what each node buys (the unit column).</p>\n<table><tr><th>demand node</th><th>unit</th><th>demand</th><th>mean shortfall [95% CI]</th><th>share of demand</th><th>P50</th><th>P95</th><th>P99</th><th>CVaR95</th><th>P(any)</th><th>worst month P95 (share of the month's demand)</th><th>months to recover (median)</th><th>tariff cost, mean</th></tr>",
        s.periods
    );
    for d in &s.demand {
        let x = &d.shortfall_t;
        let _ = writeln!(
            h,
            "<tr><td>{} ({})</td><td>{}</td><td>{}</td><td>{} [{}, {}]</td><td>{:.2}%</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}%</td><td>{:.0}%</td><td>{}</td><td>{}</td></tr>",
            esc(&d.label),
            esc(&d.node),
            esc(&data::demand_unit(s, &d.node)),
            num(d.demand_t),
            num(x.mean),
            num(x.ci95_low),
            num(x.ci95_high),
            100.0 * d.shortfall_share.mean,
            num(x.p50),
            num(x.p95),
            num(x.p99),
            num(x.cvar95),
            100.0 * x.prob_any,
            100.0 * d.worst_period_share.p95,
            d.time_to_recover
                .p50
                .map_or("-".to_string(), |v| format!("{v:.0}")),
            usd(d.tariff_cost_usd.mean)
        );
    }
    h.push_str("</table>\n");
    if s.demand.iter().any(|d| !d.limited_by.is_empty()) {
        h.push_str("<h2>Which input limited supply</h2>\n<p>In the worst 5% of trials, the share of each demand node's shortfall that fell in months when a magnet maker (or other recipe node) upstream of it was short of that input: its scarcest. Shares may add up to more than 100% where several inputs were short at once.</p>\n<table><tr><th>demand node</th><th>buys</th><th>limited by (share of its tail shortfall)</th></tr>\n");
        for d in &s.demand {
            let limits: Vec<String> = d
                .limited_by
                .iter()
                .map(|l| format!("{} {:.0}%", esc(&l.label), 100.0 * l.share))
                .collect();
            let _ = writeln!(
                h,
                "<tr><td>{} ({})</td><td>{}</td><td>{}</td></tr>",
                esc(&d.label),
                esc(&d.node),
                esc(d.material.as_deref().unwrap_or("-")),
                if limits.is_empty() {
                    "no input ran short".to_string()
                } else {
                    limits.join(", ")
                }
            );
        }
        h.push_str("</table>\n");
    }
    h.push_str("<h2>Key assumptions: shocks and how often they occurred</h2>\n<table><tr><th>shock</th><th>kind</th><th>share of trials in which it occurred</th></tr>\n");
    for sh in &s.shocks {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{:.1}%</td></tr>",
            esc(&sh.id),
            esc(&sh.category),
            100.0 * sh.probability
        );
    }
    match trials_file {
        Some(f) => {
            let _ = writeln!(
                h,
                "</table>\n<p>Full figures: <a href=\"../summary.json\">summary.json</a>, per trial: <a href=\"../{f}\">{f}</a>.</p>"
            );
        }
        None => h.push_str(
            "</table>\n<p>Full figures: <a href=\"../summary.json\">summary.json</a> (the run kept no per-trial file).</p>\n",
        ),
    }
    for c in charts {
        let _ = write!(
            h,
            "<h2>{}</h2>\n<p class=\"about\">{}</p>\n<img src=\"{}\" alt=\"{}\">\n",
            esc(c.title),
            esc(c.about),
            c.file,
            esc(c.title)
        );
    }
    h.push_str("</body></html>\n");
    h
}

/// The charts and page of `supplyshock compare`: overlaid exceedance curves and the paired
/// differences. `columns[s][d]` holds scenario s's per-trial shortfall at the base's demand
/// node d (empty where the scenario lacks the node).
pub fn compare_files(
    c: &crate::stats::compare::Comparison,
    names: &[String],
    nodes: &[String],
    columns: &[Vec<Vec<f64>>],
) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let (shown, with_diffs, paired_nodes) = data::compare_panels(c, nodes);
    let note = draw::left_out_note(shown.len(), nodes.len(), draw::LARGEST);
    let diff_nodes: Vec<String> = with_diffs.iter().map(|&d| nodes[d].clone()).collect();
    let diff_note = draw::left_out_note(with_diffs.len(), paired_nodes, draw::LARGEST);
    let panels: Vec<data::CurvePanel> = shown
        .iter()
        .map(|&d| (d, &nodes[d]))
        .map(|(d, node)| {
            let series = names
                .iter()
                .zip(columns)
                .map(|(name, cols)| (name.clone(), data::curve(&cols[d])))
                .collect();
            (node.clone(), series)
        })
        .collect();
    let charts = [
        (
            "01-exceedance-overlay.png",
            "Exceedance curves of each alternative",
            "For each demand node, the probability that total shortfall exceeds x under each alternative, all run on the same shock draws. A curve below and left of the base's is better.",
            draw::compare_exceedance(&panels, c.trials, &note)?,
        ),
        (
            "02-paired-differences.png",
            "Paired differences",
            "Mean over trials of (alternative - base) total shortfall, with the 95% confidence interval from the paired differences; green: the alternative has less shortfall.",
            draw::compare_diffs(c, &diff_nodes, &diff_note)?,
        ),
    ];
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>compare: {}</title><style>body{{font-family:sans-serif;max-width:1500px;margin:2em auto;padding:0 1em}}table{{border-collapse:collapse}}td,th{{border:1px solid #bbb;padding:4px 8px;text-align:right}}td:first-child,td:nth-child(2),th{{text-align:left}}img{{max-width:100%}}</style></head><body>\n<h1>Alternatives against {}</h1>\n<p>{} trials each, seed {}, common random numbers.</p>\n<table><tr><th>alternative</th><th>node</th><th>base mean</th><th>alt mean</th><th>mean diff [95% CI]</th><th>diff P95</th><th>diff CVaR95</th><th>P(better)</th></tr>\n",
        esc(&c.base),
        esc(&c.base),
        c.trials,
        c.seed
    );
    for a in &c.alternatives {
        for d in &a.demand {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} [{}, {}]</td><td>{}</td><td>{}</td><td>{:.1}%</td></tr>",
                esc(&a.scenario),
                esc(&d.node),
                num(d.base_mean),
                num(d.alt_mean),
                num(d.mean_diff),
                num(d.ci95_low),
                num(d.ci95_high),
                num(d.diff_p95),
                num(d.diff_cvar95),
                100.0 * d.prob_better
            );
        }
    }
    h.push_str("</table>\n");
    for (file, title, about, _) in &charts {
        let _ = write!(
            h,
            "<h2>{}</h2>\n<p>{}</p>\n<img src=\"{}\" alt=\"{}\">\n",
            esc(title),
            esc(about),
            file,
            esc(title)
        );
    }
    h.push_str("</body></html>\n");
    let mut out: Vec<(String, Vec<u8>)> = charts
        .into_iter()
        .map(|(f, _, _, png)| (f.to_string(), png))
        .collect();
    out.push(("index.html".to_string(), h.into_bytes()));
    Ok(out)
}

pub use data::sweep_panels;

/// The chart of a sweep.
pub fn sweep_png(s: &crate::stats::sweep::Sweep) -> anyhow::Result<Vec<u8>> {
    draw::sweep(s)
}

/// Every file of the report folder: the charts and index.html.
pub fn files(input: &ReportInput) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let charts = charts(input)?;
    let html = index_html(&input.summary, &charts, input.trials_file);
    let mut out: Vec<(String, Vec<u8>)> = charts
        .into_iter()
        .map(|c| (c.file.to_string(), c.png))
        .collect();
    out.push(("index.html".to_string(), html.into_bytes()));
    Ok(out)
}
