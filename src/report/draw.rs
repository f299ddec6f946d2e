//! Pixels: each chart drawn with plotters into an RGB buffer and encoded as PNG bytes.
//! Text uses the embedded DejaVu Sans font, so no system fonts are needed.

use std::sync::Once;

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use super::data::{Exceedance, GraphEdge, GraphNode, Histogram, MAX_PANELS, TornadoBar};
use crate::stats::summary::DemandSummary;

type DrawResult = Result<(), Box<dyn std::error::Error>>;
type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// Okabe-Ito colours, distinguishable with the common colour-vision deficiencies.
pub const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(213, 94, 0),
    RGBColor(86, 180, 233),
    RGBColor(204, 121, 167),
    RGBColor(0, 0, 0),
];
/// The dash and gap lengths of the `i`th curve of a chart that colours its curves by
/// [`PALETTE`]: solid for the first colours, then dashed, each round of colours its own way.
fn dashes(i: usize) -> Option<(u32, u32)> {
    const ROUNDS: [(u32, u32); 3] = [(12, 6), (5, 4), (2, 6)];
    match i / PALETTE.len() {
        0 => None,
        r => Some(ROUNDS[(r - 1) % ROUNDS.len()]),
    }
}

const BLUE_: RGBColor = PALETTE[0];
const ORANGE: RGBColor = PALETTE[1];
const VERMILLION: RGBColor = PALETTE[3];
const SKY: RGBColor = PALETTE[4];
const FONT: &str = "sans-serif";

fn fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The embedded fonts are valid; a failure would only mean no text.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        let _ = plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
    });
}

/// Draws with `f` on a `w` x `h` white canvas and returns PNG bytes.
pub fn render(w: u32, h: u32, f: impl FnOnce(&Area) -> DrawResult) -> anyhow::Result<Vec<u8>> {
    fonts();
    let pixels = u64::from(w) * u64::from(h);
    anyhow::ensure!(
        pixels <= MAX_PIXELS,
        "a chart of {w} x {h} pixels is too large to draw"
    );
    let mut buf = vec![255u8; pixels as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        f(&root).map_err(|e| anyhow::anyhow!("drawing a chart: {e}"))?;
        root.present()
            .map_err(|e| anyhow::anyhow!("drawing a chart: {e}"))?;
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Fast);
        let mut writer = enc.write_header()?;
        writer.write_image_data(&buf)?;
    }
    Ok(out)
}

/// Readable tonnes: 1234567 -> "1.23 Mt", 12345 -> "12.3 kt", 123 -> "123 t".
pub fn tonnes(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.2} Mt", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1} kt", v / 1e3)
    } else if a >= 100.0 {
        format!("{v:.0} t")
    } else if a >= 1.0 {
        format!("{v:.1} t")
    } else if a < 0.005 {
        "0 t".into()
    } else {
        format!("{v:.2} t")
    }
}

/// Tick labels of a tonnage axis that runs to `top` in absolute value: one unit for the whole
/// axis (t, kt or Mt, as [`tonnes`] would give for `top`), so that "8000 t" and "10.0 kt" never
/// stand side by side.
pub fn tonnes_axis(top: f64) -> impl Fn(&f64) -> String {
    let top = top.abs();
    let (scale, unit, decimals) = if top >= 1e6 {
        (1e6, "Mt", 2)
    } else if top >= 1e4 {
        (1e3, "kt", if top >= 1e5 { 0 } else { 1 })
    } else if top >= 100.0 {
        (1.0, "t", 0)
    } else if top >= 1.0 {
        (1.0, "t", 1)
    } else {
        (1.0, "t", 2)
    };
    move |v: &f64| {
        let x = v / scale;
        // No "-0" for a tick a rounding away from zero.
        let x = if (x * 10f64.powi(decimals)).round() == 0.0 {
            0.0
        } else {
            x
        };
        format!("{x:.*} {unit}", decimals as usize)
    }
}

/// A number with at most four decimals and no trailing zeros: 0.30000000000000004 -> "0.3".
pub fn short(x: f64) -> String {
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.to_string() }
}

fn grid(n: usize) -> (usize, usize) {
    let cols = if n > 1 { 2 } else { 1 };
    (n.div_ceil(cols), cols)
}

/// Largest canvas drawn, in pixels (360 MB of RGB).
const MAX_PIXELS: u64 = 120_000_000;

/// A title's note on the panels left out, saying which are shown (`which`): empty when every
/// one of `all` is shown.
pub fn left_out_note(shown: usize, all: usize, which: &str) -> String {
    if shown < all {
        format!(" ({shown} of {all} demand nodes: {which})")
    } else {
        String::new()
    }
}

/// What the per-node charts show of a large scenario.
pub const LARGEST: &str = "the largest mean shortfalls";

/// Nodes of one stage that the supply graph draws at most; beyond them it would be unreadable.
pub const MAX_GRAPH_COLUMN: usize = 60;

/// Panel size of grid charts.
pub const PANEL: (u32, u32) = (760, 400);

/// Canvas size of a grid with `n` panels.
pub fn grid_size(n: usize) -> (u32, u32) {
    let (rows, cols) = grid(n);
    (PANEL.0 * cols as u32, PANEL.1 * rows as u32 + 50)
}

/// Draws the series legend of a chart in a white box at `pos`, in text of `size` points.
fn legend<'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, BitMapBackend<'a>, CT>,
    pos: SeriesLabelPosition,
    size: u32,
) -> DrawResult {
    chart
        .configure_series_labels()
        .position(pos)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK.mix(0.4))
        .label_font((FONT, size))
        .draw()?;
    Ok(())
}

/// A panel with nothing to plot: its caption and a line saying why, instead of an empty frame.
fn nothing(area: &Area, caption: &str, why: &str) -> DrawResult {
    let (w, h) = area.dim_in_pixel();
    let half = |text: &str, size: i32| text.chars().count() as i32 * size / 4;
    area.draw(&Text::new(
        caption.to_string(),
        (w as i32 / 2 - half(caption, 17), 16),
        (FONT, 17),
    ))?;
    area.draw(&Text::new(
        why.to_string(),
        (w as i32 / 2 - half(why, 18), h as i32 / 2),
        (FONT, 18),
    ))?;
    Ok(())
}

/// Draws one panel per item, in a grid of two columns under a title.
fn grid_chart<T>(
    items: &[T],
    title: &str,
    title_size: u32,
    mut f: impl FnMut(&T, &Area) -> DrawResult,
) -> anyhow::Result<Vec<u8>> {
    // Callers choose the panels (see `largest`) and say so in the title.
    debug_assert!(items.len() <= MAX_PANELS, "{} panels", items.len());
    let (w, h) = grid_size(items.len());
    render(w, h, |root| {
        root.fill(&WHITE)?;
        let (top, body) = root.split_vertically(50);
        top.titled(title, (FONT, title_size))?;
        let (rows, cols) = grid(items.len());
        for (item, area) in items.iter().zip(body.split_evenly((rows, cols))) {
            f(item, &area)?;
        }
        Ok(())
    })
}

/// Shortfall histograms, one panel per demand node.
pub fn histograms(hists: &[Histogram], scenario: &str) -> anyhow::Result<Vec<u8>> {
    grid_chart(
        hists,
        &format!("{scenario}: distribution of total shortfall per demand node"),
        26,
        |hist, area| {
            let share = |v: f64| {
                if hist.demand_t > 0.0 {
                    100.0 * v / hist.demand_t
                } else {
                    0.0
                }
            };
            let p_any = 100.0 * (hist.trials - hist.zero_trials) as f64 / hist.trials.max(1) as f64;
            let caption = format!(
                "{}: P(any) {:.1}%, mean {} ({:.2}% of demand)",
                hist.node,
                p_any,
                tonnes(hist.mean),
                share(hist.mean)
            );
            let xmax = hist
                .bins
                .last()
                .map_or(1.0, |b| b.1)
                .max(hist.cvar95)
                .max(1e-9)
                * 1.03;
            let ymax = hist.bins.iter().map(|b| b.2).max().unwrap_or(1).max(1) as f64 * 1.2;
            if hist.bins.is_empty() {
                return nothing(
                    area,
                    &caption,
                    &format!("no trial had a shortfall ({} trials)", hist.trials),
                );
            }
            let mut chart = ChartBuilder::on(area)
                .caption(caption, (FONT, 17))
                .margin(12)
                .margin_right(36)
                .x_label_area_size(42)
                .y_label_area_size(62)
                .build_cartesian_2d(0.0..xmax, 0.0..ymax)?;
            chart
                .configure_mesh()
                .light_line_style(WHITE)
                .x_desc(format!(
                    "total shortfall over the horizon, t (demand {}; {} of {} trials had none, not drawn)",
                    tonnes(hist.demand_t),
                    hist.zero_trials,
                    hist.trials
                ))
                .y_desc("trials")
                .y_label_formatter(&|y| format!("{y:.0}"))
                .x_label_formatter(&tonnes_axis(xmax))
                .label_style((FONT, 13))
                .axis_desc_style((FONT, 14))
                .draw()?;
            chart.draw_series(
                hist.bins.iter().map(|(lo, hi, c)| {
                    Rectangle::new([(*lo, 0.0), (*hi, *c as f64)], SKY.filled())
                }),
            )?;
            // Each marker is labelled beside its line, staggered so that labels never meet.
            for (k, (value, label, colour)) in [
                (hist.mean, format!("mean {}", tonnes(hist.mean)), BLACK),
                (hist.var95, format!("VaR95 {}", tonnes(hist.var95)), ORANGE),
                (
                    hist.cvar95,
                    format!("CVaR95 {}", tonnes(hist.cvar95)),
                    VERMILLION,
                ),
            ]
            .into_iter()
            .enumerate()
            {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(value, 0.0), (value, ymax)],
                    colour.stroke_width(2),
                )))?;
                let right = value > xmax * 0.8;
                let anchor = plotters::style::text_anchor::Pos::new(
                    if right {
                        plotters::style::text_anchor::HPos::Right
                    } else {
                        plotters::style::text_anchor::HPos::Left
                    },
                    plotters::style::text_anchor::VPos::Top,
                );
                let style = (FONT, 13).into_font().color(&colour).pos(anchor);
                let dx = xmax * 0.008 * if right { -1.0 } else { 1.0 };
                chart.draw_series(std::iter::once(Text::new(
                    label,
                    (value + dx, ymax * (0.98 - 0.07 * k as f64)),
                    style,
                )))?;
            }
            Ok(())
        },
    )
}

/// Loss-exceedance curves on one chart, x in % of demand, log probability.
pub fn exceedance(
    curves: &[Exceedance],
    demand: &[DemandSummary],
    trials: u64,
    scenario: &str,
) -> anyhow::Result<Vec<u8>> {
    render(1200, 720, |root| {
        root.fill(&WHITE)?;
        let pct = |c: &Exceedance, x: f64| {
            let d = demand
                .iter()
                .find(|d| d.node == c.node)
                .map_or(1.0, |d| d.demand_t.max(1e-12));
            100.0 * x / d
        };
        let xmax = curves
            .iter()
            .flat_map(|c| c.points.iter().map(move |p| pct(c, p.x)))
            .fold(0.0, f64::max)
            .max(1e-6)
            * 1.03;
        let ymin = (0.5 / trials.max(1) as f64).min(0.5);
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!("{scenario}: probability that total shortfall exceeds x"),
                (FONT, 24),
            )
            .margin(16)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..xmax, (ymin..1.0).log_scale())?;
        chart
            .configure_mesh()
            .x_desc("x: total shortfall, % of the node's demand over the horizon")
            .y_desc("P(shortfall > x), log scale")
            .y_label_formatter(&|y| {
                if *y >= 0.01 {
                    format!("{:.0}%", 100.0 * y)
                } else {
                    format!("{:.2}%", 100.0 * y)
                }
            })
            .x_label_formatter(&|x| format!("{x:.1}%"))
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 15))
            .draw()?;
        let mut any = false;
        for (i, c) in curves.iter().enumerate() {
            if c.points.is_empty() {
                continue;
            }
            any = true;
            let colour = PALETTE[i % PALETTE.len()];
            let mut band: Vec<(f64, f64)> = c
                .points
                .iter()
                .map(|p| (pct(c, p.x), p.high.max(ymin)))
                .collect();
            band.extend(
                c.points
                    .iter()
                    .rev()
                    .map(|p| (pct(c, p.x), p.low.max(ymin))),
            );
            chart.draw_series(std::iter::once(Polygon::new(
                band,
                colour.mix(0.18).filled(),
            )))?;
            let line: Vec<(f64, f64)> = c
                .points
                .iter()
                .filter(|p| p.p > 0.0)
                .map(|p| (pct(c, p.x), p.p))
                .collect();
            // Past the palette's colours, dashes tell the curves apart.
            let style = colour.stroke_width(3);
            match dashes(i) {
                None => {
                    chart
                        .draw_series(LineSeries::new(line, style))?
                        .label(c.node.clone())
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], style));
                }
                Some((dash, gap)) => {
                    chart
                        .draw_series(DashedLineSeries::new(line, dash, gap, style))?
                        .label(c.node.clone())
                        .legend(move |(x, y)| {
                            DashedPathElement::new(vec![(x, y), (x + 22, y)], dash, gap, style)
                        });
                }
            }
        }
        if any {
            legend(&mut chart, SeriesLabelPosition::UpperRight, 15)?;
            chart.draw_series(std::iter::once(Text::new(
                "shaded: 95% confidence band of each curve",
                (xmax * 0.02, ymin * 1.6),
                (FONT, 13).into_font().color(&BLACK.mix(0.7)),
            )))?;
        } else {
            chart.draw_series(std::iter::once(Text::new(
                "no trial had a shortfall",
                (xmax * 0.3, 0.1),
                (FONT, 20),
            )))?;
        }
        Ok(())
    })
}

/// Fan charts of the delivered fraction over time, one panel per demand node.
pub fn fans(demand: &[DemandSummary], scenario: &str) -> anyhow::Result<Vec<u8>> {
    grid_chart(
        demand,
        &format!(
            "{scenario}: delivered share of demand by month (bands: P5-P95, P25-P75; line: median)"
        ),
        22,
        |d, area| {
            let n = d.bands.len();
            let lo = d.bands.iter().map(|b| b.p5).fold(1.0, f64::min);
            let ymin = ((lo * 10.0).floor() / 10.0).clamp(0.0, 0.9);
            let months: Vec<String> = d.bands.iter().map(|b| b.month.clone()).collect();
            let mut chart = ChartBuilder::on(area)
                .caption(d.node.as_str(), (FONT, 17))
                .margin(12)
                .x_label_area_size(42)
                .y_label_area_size(58)
                .build_cartesian_2d(0.0..(n.max(2) - 1) as f64, ymin..1.005)?;
            chart
                .configure_mesh()
                .light_line_style(WHITE)
                .x_labels(7)
                .x_label_formatter(&|x| months.get(x.round() as usize).cloned().unwrap_or_default())
                .y_label_formatter(&|y| format!("{:.0}%", 100.0 * y))
                .x_desc("month")
                .y_desc("delivered / demand")
                .label_style((FONT, 13))
                .axis_desc_style((FONT, 14))
                .draw()?;
            let band = |lo: &dyn Fn(usize) -> f64, hi: &dyn Fn(usize) -> f64| {
                let mut v: Vec<(f64, f64)> = (0..n).map(|t| (t as f64, hi(t))).collect();
                v.extend((0..n).rev().map(|t| (t as f64, lo(t))));
                v
            };
            let b = &d.bands;
            chart.draw_series(std::iter::once(Polygon::new(
                band(&|t| b[t].p5, &|t| b[t].p95),
                SKY.mix(0.35).filled(),
            )))?;
            chart.draw_series(std::iter::once(Polygon::new(
                band(&|t| b[t].p25, &|t| b[t].p75),
                BLUE_.mix(0.45).filled(),
            )))?;
            chart.draw_series(LineSeries::new(
                (0..n).map(|t| (t as f64, b[t].p50)),
                BLACK.stroke_width(2),
            ))?;
            Ok(())
        },
    )
}

/// Tornado of shock effects on the total shortfall, largest effect on top.
pub fn tornado(
    overall: f64,
    bars: &[TornadoBar],
    hidden: usize,
    scenario: &str,
) -> anyhow::Result<Vec<u8>> {
    let n = bars.len();
    // Two blank rows at the bottom hold the legend.
    let rows = n as i32 + 2;
    let h = 150 + 42 * rows as u32;
    render(1400, h, |root| {
        root.fill(&WHITE)?;
        let lo = bars
            .iter()
            .map(|b| b.with.min(b.without))
            .fold(overall, f64::min);
        let hi = bars
            .iter()
            .map(|b| b.with.max(b.without))
            .fold(overall, f64::max);
        let span = (hi - lo).max(hi.abs() * 0.05).max(1e-9);
        let (xmin, xmax) = ((lo - 0.15 * span).max(0.0), hi + 1.1 * span);
        // Row of bar i: the largest effect gets the top row.
        let row = |i: usize| rows - 1 - i as i32;
        let ids: Vec<String> = bars.iter().map(|b| b.id.clone()).collect();
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!("{scenario}: mean total shortfall with vs without each shock"),
                (FONT, 22),
            )
            .margin(16)
            .x_label_area_size(46)
            .y_label_area_size(300)
            .build_cartesian_2d(xmin..xmax, (0..rows).into_segmented())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(WHITE)
            .y_labels(rows as usize)
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(r) if *r >= 2 => ids
                    .get((rows - 1 - r) as usize)
                    .cloned()
                    .unwrap_or_default(),
                _ => String::new(),
            })
            .x_label_formatter(&tonnes_axis(xmin.abs().max(xmax.abs())))
            .x_desc("mean total shortfall over all demand nodes, t")
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 15))
            .draw()?;
        if bars.is_empty() {
            chart.draw_series(std::iter::once(Text::new(
                "no shock varies between trials",
                (xmin + (xmax - xmin) * 0.2, SegmentValue::CenterOf(0)),
                (FONT, 18),
            )))?;
            return Ok(());
        }
        for (i, b) in bars.iter().enumerate() {
            let r = row(i);
            let (a, z) = (b.with.min(b.without), b.with.max(b.without));
            let colour = if b.with >= b.without { ORANGE } else { BLUE_ };
            // An effect whose interval includes 0 (or that has none) is drawn pale: the run
            // cannot tell it from noise.
            let noise = b.ci.is_none_or(|[lo, hi]| lo <= 0.0 && 0.0 <= hi);
            let fill = if noise {
                colour.mix(0.3).filled()
            } else {
                colour.filled()
            };
            let rect = [(a, SegmentValue::Exact(r)), (z, SegmentValue::Exact(r + 1))];
            chart.draw_series(std::iter::once(Rectangle::new(rect.clone(), fill)))?;
            chart.draw_series(std::iter::once(Rectangle::new(rect, BLACK.mix(0.5))))?;
            let effect = match b.ci {
                Some([lo, hi]) => format!(
                    "effect {} [{}, {}]",
                    tonnes(b.with - b.without),
                    tonnes(lo),
                    tonnes(hi)
                ),
                None => "too few trials for an interval".to_string(),
            };
            let label = format!(
                "with {} (n={})   without {} (n={})   {effect}",
                tonnes(b.with),
                b.n_with,
                tonnes(b.without),
                b.n_without
            );
            chart.draw_series(std::iter::once(Text::new(
                label,
                (z + (xmax - xmin) * 0.01, SegmentValue::CenterOf(r)),
                (FONT, 13),
            )))?;
        }
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![
                    (overall, SegmentValue::Exact(2)),
                    (overall, SegmentValue::Exact(rows)),
                ],
                BLACK.stroke_width(2),
            )))?
            .label(format!("mean over all trials: {}", tonnes(overall)))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK.stroke_width(2)));
        // Legend swatches: empty rectangles that only carry a label.
        for (style, label) in [
            (
                ORANGE.filled(),
                "the shock raises the mean (bar from without to with)",
            ),
            (BLUE_.filled(), "the shock lowers the mean"),
            (
                ORANGE.mix(0.3).filled(),
                "pale: the effect's 95% interval includes 0, or is unknown (could be noise)",
            ),
        ] {
            let at = (xmin, SegmentValue::Exact(0));
            chart
                .draw_series(std::iter::once(Rectangle::new([at.clone(), at], style)))?
                .label(label)
                .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 18, y + 6)], style));
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight, 13)?;
        if hidden > 0 {
            chart.draw_series(std::iter::once(Text::new(
                format!(
                    "not shown: {hidden} shock{} that occurred in every trial or in none",
                    if hidden == 1 { "" } else { "s" }
                ),
                (xmin + (xmax - xmin) * 0.01, SegmentValue::CenterOf(0)),
                (FONT, 13).into_font().color(&BLACK.mix(0.7)),
            )))?;
        }
        Ok(())
    })
}

/// A sequential colour from light yellow (0) to dark purple (1), after viridis.
pub fn sequential(v: f64) -> RGBColor {
    const STOPS: [(u8, u8, u8); 5] = [
        (253, 231, 37),
        (94, 201, 98),
        (33, 145, 140),
        (59, 82, 139),
        (68, 1, 84),
    ];
    let v = v.clamp(0.0, 1.0) * (STOPS.len() - 1) as f64;
    let i = (v.floor() as usize).min(STOPS.len() - 2);
    let f = v - i as f64;
    let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// The supply graph in stage columns, nodes sized by capacity and coloured by criticality.
pub fn graph(nodes: &[GraphNode], edges: &[GraphEdge], scenario: &str) -> anyhow::Result<Vec<u8>> {
    let per_col = (0..5)
        .map(|c| nodes.iter().filter(|n| n.column == c).count())
        .max()
        .unwrap_or(1);
    if per_col > MAX_GRAPH_COLUMN {
        return render(1700, 300, |root| {
            root.fill(&WHITE)?;
            root.titled(&format!("{scenario}: supply graph"), (FONT, 24))?;
            root.draw(&Text::new(
                format!("Not drawn: one stage has {per_col} nodes, more than the {MAX_GRAPH_COLUMN} a readable chart holds. Each node's figures are in summary.json."),
                (20, 140),
                (FONT, 18).into_font().color(&BLACK.mix(0.75)),
            ))?;
            Ok(())
        });
    }
    let (w, h) = (1700u32, (260 + 70 * per_col as u32).max(760));
    render(w, h, |root| {
        root.fill(&WHITE)?;
        let (top, rest) = root.split_vertically(90);
        top.titled(&format!("{scenario}: supply graph"), (FONT, 24))?;
        top.draw(&Text::new(
            "circle area ~ capacity (demand: monthly demand); colour: share of the worst 5% of trials in which the node was down or binding while demand went short; line width ~ mean flow in those trials",
            (20, 58),
            (FONT, 14).into_font().color(&BLACK.mix(0.75)),
        ))?;
        let (body, legend) = rest.split_vertically(h - 90 - 70);
        let (bw, bh) = body.dim_in_pixel();
        let col_x = |c: usize| 120 + (c as i32) * ((bw as i32 - 240) / 4);
        let pos = |n: &GraphNode| (col_x(n.column), 40 + (n.y * (bh as f64 - 60.0)) as i32);
        for (c, name) in [
            "mines",
            "separation / refining",
            "metal / alloy",
            "magnets",
            "demand",
        ]
        .iter()
        .enumerate()
        {
            body.draw(&Text::new(
                name.to_string(),
                (col_x(c) - 60, 6),
                (FONT, 17).into_font().style(FontStyle::Bold),
            ))?;
        }
        let max_flow = edges.iter().map(|e| e.flow).fold(0.0, f64::max).max(1e-12);
        for e in edges {
            let (a, b) = (pos(&nodes[e.from]), pos(&nodes[e.to]));
            let width = 1 + (7.0 * e.flow / max_flow).round() as u32;
            body.draw(&PathElement::new(
                vec![a, b],
                RGBColor(120, 120, 120).mix(0.55).stroke_width(width),
            ))?;
        }
        let max_size = nodes.iter().map(|n| n.size).fold(0.0, f64::max).max(1e-12);
        for n in nodes {
            let (x, y) = pos(n);
            let r = (5.0 + 24.0 * (n.size / max_size).sqrt()) as i32;
            let fill = if n.column == 4 {
                RGBColor(200, 200, 200)
            } else {
                sequential(n.criticality)
            };
            body.draw(&Circle::new((x, y), r, fill.filled()))?;
            body.draw(&Circle::new((x, y), r, BLACK.stroke_width(1)))?;
            let label = if n.column == 4 {
                format!("{}: P(short) {:.0}%", n.id, 100.0 * n.criticality)
            } else {
                format!("{} {:.0}%", n.id, 100.0 * n.criticality)
            };
            let style: TextStyle = (FONT, 13).into_font().into();
            let width = body
                .estimate_text_size(&label, &style)
                .map_or(7 * label.chars().count() as i32, |(w, _)| w as i32);
            let left = if n.column == 4 {
                x - r - 6 - width
            } else {
                x + r + 5
            };
            // An opaque backing, as wide as the text, keeps labels readable where edges cross
            // them.
            body.draw(&Rectangle::new(
                [(left - 2, y - 9), (left + width + 2, y + 8)],
                WHITE.filled(),
            ))?;
            body.draw(&Text::new(label, (left, y - 7), style))?;
        }
        legend.draw(&Text::new(
            "down or binding in worst 5%:",
            (20, 22),
            (FONT, 14),
        ))?;
        for k in 0..=20 {
            let v = k as f64 / 20.0;
            legend.draw(&Rectangle::new(
                [(250 + 12 * k, 16), (262 + 12 * k, 36)],
                sequential(v).filled(),
            ))?;
        }
        legend.draw(&Text::new("0%", (245, 42), (FONT, 12)))?;
        legend.draw(&Text::new("100%", (480, 42), (FONT, 12)))?;
        Ok(())
    })
}

/// Exceedance curves of several scenarios, one panel per demand node.
pub fn compare_exceedance(
    panels: &[super::data::CurvePanel],
    trials: u64,
    note: &str,
) -> anyhow::Result<Vec<u8>> {
    let ymin = (0.5 / trials.max(1) as f64).min(0.5);
    grid_chart(
        panels,
        &format!(
            "probability that total shortfall exceeds x, per alternative (same shock draws){note}"
        ),
        22,
        |(node, series): &super::data::CurvePanel, area| {
            if series.iter().all(|(_, c)| c.iter().all(|p| p.x <= 0.0)) {
                return nothing(area, node, "no trial had a shortfall, in any alternative");
            }
            let xmax = series
                .iter()
                .flat_map(|(_, c)| c.iter().map(|p| p.x))
                .fold(0.0, f64::max)
                .max(1.0)
                * 1.03;
            let mut chart = ChartBuilder::on(area)
                .caption(node.as_str(), (FONT, 17))
                .margin(12)
                .x_label_area_size(42)
                .y_label_area_size(70)
                .build_cartesian_2d(0.0..xmax, (ymin..1.0).log_scale())?;
            chart
                .configure_mesh()
                .x_desc("x: total shortfall, t")
                .y_desc("P(shortfall > x)")
                .x_label_formatter(&tonnes_axis(xmax))
                .y_label_formatter(&|y| {
                    if *y >= 0.01 {
                        format!("{:.0}%", 100.0 * y)
                    } else {
                        format!("{:.2}%", 100.0 * y)
                    }
                })
                .label_style((FONT, 13))
                .axis_desc_style((FONT, 14))
                .draw()?;
            let mut any = false;
            for (i, (name, pts)) in series.iter().enumerate() {
                let colour = PALETTE[i % PALETTE.len()];
                // Later alternatives thinner, so that identical curves still show every colour.
                let width = (7u32.saturating_sub(2 * i as u32)).max(1);
                let line: Vec<(f64, f64)> = pts
                    .iter()
                    .filter(|p| p.p > 0.0)
                    .map(|p| (p.x, p.p))
                    .collect();
                if line.is_empty() {
                    return Ok(());
                }
                any = true;
                chart
                    .draw_series(LineSeries::new(line, colour.stroke_width(width)))?
                    .label(name.clone())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 22, y)], colour.stroke_width(width))
                    });
            }
            if any {
                legend(&mut chart, SeriesLabelPosition::UpperRight, 12)?;
            } else {
                chart.draw_series(std::iter::once(Text::new(
                    "no shortfall in any alternative",
                    (xmax * 0.2, 0.1),
                    (FONT, 16),
                )))?;
            }
            Ok(())
        },
    )
}

/// Mean paired difference in total shortfall with its 95% interval, per demand node and
/// alternative: one bar per alternative, named above it.
pub fn compare_diffs(
    c: &crate::stats::compare::Comparison,
    nodes: &[String],
    note: &str,
) -> anyhow::Result<Vec<u8>> {
    let alts = c.alternatives.len().max(1);
    let title = format!(
        "paired difference in mean total shortfall vs {} (alternative - base, 95% CI){note}",
        c.base
    );
    grid_chart(nodes, &title, 20, |node, area| {
        let diffs: Vec<(&str, &crate::stats::compare::NodeDiff)> = c
            .alternatives
            .iter()
            .filter_map(|a| {
                a.demand
                    .iter()
                    .find(|d| &d.node == node)
                    .map(|d| (a.scenario.as_str(), d))
            })
            .collect();
        let lo = diffs.iter().map(|d| d.1.ci95_low).fold(0.0, f64::min);
        let hi = diffs.iter().map(|d| d.1.ci95_high).fold(0.0, f64::max);
        let pad = if hi - lo < 1e-6 { 1.0 } else { (hi - lo) * 0.1 };
        let (xmin, xmax) = (lo - pad, hi + pad);
        let mut chart = ChartBuilder::on(area)
            .caption(node.as_str(), (FONT, 17))
            .margin(16)
            .x_label_area_size(42)
            .y_label_area_size(8)
            .build_cartesian_2d(xmin..xmax, 0.0..alts as f64)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .disable_y_axis()
            .light_line_style(WHITE)
            .x_label_formatter(&tonnes_axis(xmin.abs().max(xmax.abs())))
            .x_desc("mean difference in total shortfall, t")
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 14))
            .draw()?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(0.0, 0.0), (0.0, alts as f64)],
            BLACK.stroke_width(1),
        )))?;
        for (i, (name, d)) in diffs.iter().enumerate() {
            // The first alternative on top.
            let r = (alts - 1 - i) as f64;
            let colour = if d.mean_diff <= 0.0 {
                PALETTE[2]
            } else {
                VERMILLION
            };
            chart.draw_series(std::iter::once(Rectangle::new(
                [(0.0, r + 0.15), (d.mean_diff, r + 0.6)],
                colour.mix(0.8).filled(),
            )))?;
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(d.ci95_low, r + 0.375), (d.ci95_high, r + 0.375)],
                BLACK.stroke_width(2),
            )))?;
            for x in [d.ci95_low, d.ci95_high] {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(x, r + 0.3), (x, r + 0.45)],
                    BLACK.stroke_width(2),
                )))?;
            }
            let label = format!(
                "{name}: {} [{}, {}]",
                tonnes(d.mean_diff),
                tonnes(d.ci95_low),
                tonnes(d.ci95_high)
            );
            chart.draw_series(std::iter::once(Text::new(
                label,
                (xmin + (xmax - xmin) * 0.01, r + 0.92),
                (FONT, 12),
            )))?;
        }
        Ok(())
    })
}

/// Key metrics against the first swept path: one panel per demand node, one colour per
/// combination of the other paths, the mean with its 95% interval (band) and the P95 (thin).
pub fn sweep(s: &crate::stats::sweep::Sweep) -> anyhow::Result<Vec<u8>> {
    let nodes: Vec<String> = s
        .points
        .first()
        .map(|p| p.demand.iter().map(|d| d.node.clone()).collect())
        .unwrap_or_default();
    // x: the first path's value, on its own scale when numeric, else evenly spaced.
    let firsts: Vec<String> = s.points.iter().map(|p| p.values[0].clone()).collect();
    let mut distinct: Vec<String> = Vec::new();
    for v in &firsts {
        if !distinct.contains(v) {
            distinct.push(v.clone());
        }
    }
    let numeric = firsts.iter().all(|v| v.parse::<f64>().is_ok());
    let x_of = |v: &str| {
        if numeric {
            v.parse::<f64>().unwrap_or(0.0)
        } else {
            distinct.iter().position(|d| d == v).unwrap_or(0) as f64
        }
    };
    // Series: one per combination of the other paths' values.
    let mut series: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, p) in s.points.iter().enumerate() {
        let key = p.values[1..].join(", ");
        match series.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(i),
            None => series.push((key, vec![i])),
        }
    }
    let index = super::data::sweep_panels(s);
    let note = left_out_note(
        index.len(),
        nodes.len(),
        "those swept, then the largest mean shortfalls",
    );
    let title = format!(
        "{}: total shortfall against {}{note}",
        s.scenario,
        s.paths.join(" x "),
    );
    grid_chart(&index, &title, 22, |&d, area| {
        let xs: Vec<f64> = firsts.iter().map(|v| x_of(v)).collect();
        let (xmin, xmax) = xs
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
                (a.min(*x), b.max(*x))
            });
        let span = (xmax - xmin).max(1e-9);
        let top = s
            .points
            .iter()
            .map(|p| p.demand[d].p95.max(p.demand[d].ci95_high))
            .fold(0.0, f64::max);
        if top <= 0.0 {
            return nothing(area, &nodes[d], "no shortfall at any point of the sweep");
        }
        // Headroom above the data for the legend: two lines per series, about 15 of the plot's
        // 300 pixels each.
        let ymax = top * (1.15 + (30 * series.len() + 20) as f64 / 300.0);
        let mut chart = ChartBuilder::on(area)
            .caption(nodes[d].as_str(), (FONT, 17))
            .margin(16)
            .x_label_area_size(42)
            .y_label_area_size(70)
            .build_cartesian_2d((xmin - 0.05 * span)..(xmax + 0.05 * span), 0.0..ymax)?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .x_labels(if numeric { 8 } else { distinct.len().min(12) })
            .x_label_formatter(&|x| {
                if numeric {
                    short(*x)
                } else {
                    distinct
                        .get(x.round().max(0.0) as usize)
                        .cloned()
                        .unwrap_or_default()
                }
            })
            .y_label_formatter(&tonnes_axis(ymax))
            .x_desc(s.paths[0].as_str())
            .y_desc("total shortfall, t")
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 14))
            .draw()?;
        for (k, (key, idx)) in series.iter().enumerate() {
            let colour = PALETTE[k % PALETTE.len()];
            let pts: Vec<(f64, &crate::stats::sweep::Metrics)> = idx
                .iter()
                .map(|&i| (xs[i], &s.points[i].demand[d]))
                .collect();
            let mut band: Vec<(f64, f64)> = pts.iter().map(|(x, m)| (*x, m.ci95_high)).collect();
            band.extend(pts.iter().rev().map(|(x, m)| (*x, m.ci95_low)));
            chart.draw_series(std::iter::once(Polygon::new(
                band,
                colour.mix(0.2).filled(),
            )))?;
            let name = if key.is_empty() {
                String::new()
            } else {
                format!("{key}: ")
            };
            chart
                .draw_series(LineSeries::new(
                    pts.iter().map(|(x, m)| (*x, m.mean)),
                    colour.stroke_width(3),
                ))?
                .label(format!("{name}mean (band: 95% CI)"))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(3))
                });
            chart
                .draw_series(LineSeries::new(
                    pts.iter().map(|(x, m)| (*x, m.p95)),
                    colour.stroke_width(1),
                ))?
                .label(format!("{name}P95"))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(1))
                });
            chart.draw_series(
                pts.iter()
                    .map(|(x, m)| Circle::new((*x, m.mean), 3, colour.filled())),
            )?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight, 11)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::{MAX_PANELS, PALETTE, dashes, tonnes_axis};

    #[test]
    fn an_axis_keeps_one_unit() {
        let ticks = |top: f64, at: &[f64]| at.iter().map(tonnes_axis(top)).collect::<Vec<_>>();
        assert_eq!(
            ticks(12_000.0, &[0.0, 8000.0, 10_000.0]),
            ["0.0 kt", "8.0 kt", "10.0 kt"]
        );
        assert_eq!(ticks(250_000.0, &[50_000.0]), ["50 kt"]);
        assert_eq!(ticks(2.5e6, &[500_000.0]), ["0.50 Mt"]);
        assert_eq!(ticks(900.0, &[-0.2, 450.0]), ["0 t", "450 t"]);
        assert_eq!(ticks(0.5, &[0.25]), ["0.25 t"]);
    }

    #[test]
    fn every_curve_of_a_full_chart_has_its_own_colour_and_dashes() {
        let looks: Vec<_> = (0..MAX_PANELS)
            .map(|i| (PALETTE[i % PALETTE.len()], dashes(i)))
            .collect();
        for (i, a) in looks.iter().enumerate() {
            assert!(looks[..i].iter().all(|b| b != a), "curve {i} repeats");
        }
    }
}
