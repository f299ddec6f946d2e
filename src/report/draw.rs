//! Pixels: each chart drawn with plotters into an RGB buffer and encoded as PNG bytes.
//! Text uses the embedded DejaVu Sans font, so no system fonts are needed.

use std::sync::Once;

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use super::data::{Exceedance, FanPanel, Graph, GraphNode, Histogram, MAX_PANELS, TornadoBar};
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

/// Height of the title strip of grid charts.
pub const TITLE: u32 = 50;

/// Height of the title strip of a grid chart with a legend under its title.
pub const TITLE_WITH_LEGEND: u32 = 84;

/// Canvas size of a grid with `n` panels under a title strip of `header` pixels.
pub fn grid_size(n: usize, header: u32) -> (u32, u32) {
    let (rows, cols) = grid(n);
    (PANEL.0 * cols as u32, PANEL.1 * rows as u32 + header)
}

/// A node's readable name: its label, or its id where it has none.
pub fn name(label: &str, id: &str) -> String {
    if label.trim().is_empty() {
        id.to_string()
    } else {
        label.to_string()
    }
}

/// `text` cut to at most `max` characters, ending in an ellipsis where cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
        out = out.trim_end().to_string();
        out.push('\u{2026}');
        out
    }
}

/// `text` wrapped at spaces into at most `lines` lines of about `width` characters, the last
/// clipped.
pub fn wrap(text: &str, width: usize, lines: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            out.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push(line);
    }
    if out.len() > lines {
        let rest = out[lines - 1..].join(" ");
        out.truncate(lines - 1);
        out.push(clip(&rest, width));
    }
    out
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
    f: impl FnMut(&T, &Area) -> DrawResult,
) -> anyhow::Result<Vec<u8>> {
    grid_chart_with(items, title, title_size, TITLE, |_| Ok(()), f)
}

/// [`grid_chart`] with a title strip of `header` pixels, in which `strip` draws (under the
/// title) what every panel shares, such as a legend.
fn grid_chart_with<T>(
    items: &[T],
    title: &str,
    title_size: u32,
    header: u32,
    strip: impl FnOnce(&Area) -> DrawResult,
    mut f: impl FnMut(&T, &Area) -> DrawResult,
) -> anyhow::Result<Vec<u8>> {
    // Callers choose the panels (see `largest`) and say so in the title.
    debug_assert!(items.len() <= MAX_PANELS, "{} panels", items.len());
    let (w, h) = grid_size(items.len(), header);
    render(w, h, |root| {
        root.fill(&WHITE)?;
        let (top, body) = root.split_vertically(header);
        // A title wider than the canvas (one panel, a long scenario name) is set smaller.
        let mut size = title_size;
        while size > 12
            && top
                .estimate_text_size(title, &(FONT, size).into_font().into())
                .is_ok_and(|(tw, _)| tw + 20 > w)
        {
            size -= 1;
        }
        top.titled(title, (FONT, size))?;
        strip(&top)?;
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
        &format!(
            "{scenario}: total shortfall over the horizon per demand node, in the trials short"
        ),
        24,
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
                "{}: P(any) {:.1}%, all-trial mean {} ({:.2}% of demand)",
                clip(&name(&hist.label, &hist.node), 30),
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
                .caption(caption, (FONT, 15))
                .margin(12)
                .margin_right(36)
                .x_label_area_size(42)
                .y_label_area_size(62)
                .build_cartesian_2d(0.0..xmax, 0.0..ymax)?;
            chart
                .configure_mesh()
                .light_line_style(WHITE)
                .x_desc(format!(
                    "total shortfall, {} (demand {}); {} of {} trials had none, not drawn",
                    hist.unit,
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
            // Each marker is labelled beside its line, staggered so that labels never meet. The
            // mean is that of the trials drawn; VaR95 and CVaR95 count every trial, as in the
            // summary, and say so.
            for (k, (value, label, colour)) in [
                (
                    hist.mean_if_short,
                    format!("mean of the bars {}", tonnes(hist.mean_if_short)),
                    BLACK,
                ),
                (
                    hist.var95,
                    format!("VaR95, all trials {}", tonnes(hist.var95)),
                    ORANGE,
                ),
                (
                    hist.cvar95,
                    format!("CVaR95, all trials {}", tonnes(hist.cvar95)),
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
                let right = value > xmax * 0.6;
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
        let label_of = |c: &Exceedance| {
            demand
                .iter()
                .find(|d| d.node == c.node)
                .map_or(c.node.clone(), |d| clip(&name(&d.label, &d.node), 40))
        };
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
                        .label(label_of(c))
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], style));
                }
                Some((dash, gap)) => {
                    chart
                        .draw_series(DashedLineSeries::new(line, dash, gap, style))?
                        .label(label_of(c))
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

/// Draws a legend swatch with its top-left corner at a point of an area.
type Swatch<'s> = dyn Fn(&Area, (i32, i32)) -> DrawResult + 's;

/// Draws a row of legend entries at height `y` of `area`, from `x`: each a swatch (drawn by
/// `swatch` at its top-left corner) and its text.
fn legend_row(area: &Area, x: i32, y: i32, entries: &[(&Swatch, String)]) -> DrawResult {
    let style: TextStyle = (FONT, 14).into_font().into();
    let (right, _) = area.dim_in_pixel();
    let (left, mut x, mut y) = (x, x, y);
    for (swatch, text) in entries {
        let width = area
            .estimate_text_size(text, &style)
            .map_or(8 * text.chars().count() as i32, |(w, _)| w as i32);
        // An entry that would run off the canvas starts a new row.
        if x > left && x + 30 + width > right as i32 - 10 {
            (x, y) = (left, y + 22);
        }
        swatch(area, (x, y))?;
        area.draw(&Text::new(text.clone(), (x + 30, y - 1), style.clone()))?;
        x += 30 + width + 28;
    }
    Ok(())
}

/// Colour of the probability bars of the monthly shortfall chart.
const PROB: RGBColor = PALETTE[3];

/// Monthly shortfall, one panel per demand node: on top, the probability of any shortfall in
/// each month; below, how deep the shortfall is in the trials short that month (median, middle
/// half and 90% band). Both scales are shared by every panel.
pub fn fans(
    panels: &[FanPanel],
    p_top: f64,
    depth_top: f64,
    scenario: &str,
) -> anyhow::Result<Vec<u8>> {
    let strip = |top: &Area| {
        let bar = |a: &Area, (x, y): (i32, i32)| -> DrawResult {
            a.draw(&Rectangle::new(
                [(x, y), (x + 22, y + 14)],
                PROB.mix(0.75).filled(),
            ))?;
            Ok(())
        };
        let wide = |a: &Area, (x, y): (i32, i32)| -> DrawResult {
            a.draw(&Rectangle::new(
                [(x, y), (x + 22, y + 14)],
                SKY.mix(0.45).filled(),
            ))?;
            Ok(())
        };
        let mid = |a: &Area, (x, y): (i32, i32)| -> DrawResult {
            a.draw(&Rectangle::new(
                [(x, y), (x + 22, y + 14)],
                BLUE_.mix(0.55).filled(),
            ))?;
            Ok(())
        };
        let line = |a: &Area, (x, y): (i32, i32)| -> DrawResult {
            a.draw(&PathElement::new(
                vec![(x, y + 7), (x + 22, y + 7)],
                BLACK.stroke_width(2),
            ))?;
            Ok(())
        };
        legend_row(
            top,
            20,
            if panels.len() == 1 { 44 } else { 52 },
            &[
                (
                    &bar,
                    "top: probability of any shortfall that month".to_string(),
                ),
                (
                    &wide,
                    "below, in the trials short that month: P5-P95 of the shortfall".to_string(),
                ),
                (&mid, "P25-P75".to_string()),
                (&line, "median".to_string()),
            ],
        )
    };
    grid_chart_with(
        panels,
        &format!(
            "{scenario}: monthly shortfall, how likely and how deep (same scales in every panel)"
        ),
        22,
        // One panel is narrow: its legend takes three rows.
        if panels.len() == 1 {
            TITLE_WITH_LEGEND + 40
        } else {
            TITLE_WITH_LEGEND
        },
        strip,
        |d, area| {
            let n = d.months.len();
            let caption = clip(&name(&d.label, &d.node), 60);
            if d.prob_short.iter().all(|p| *p <= 0.0) {
                return nothing(area, &caption, "no trial was short in any month");
            }
            let (head, body) = area.split_vertically(150);
            let xr = -0.5..(n.max(1) as f64 - 0.5);
            let months = &d.months;
            let month_label = |x: &f64| {
                let i = x.round();
                if i < 0.0 {
                    String::new()
                } else {
                    months.get(i as usize).cloned().unwrap_or_default()
                }
            };
            let mut top = ChartBuilder::on(&head)
                .caption(caption, (FONT, 16))
                .margin(12)
                .margin_bottom(2)
                .x_label_area_size(6)
                .y_label_area_size(58)
                .build_cartesian_2d(xr.clone(), 0.0..p_top)?;
            top.configure_mesh()
                .light_line_style(WHITE)
                .x_labels(7)
                .x_label_formatter(&|_| String::new())
                .y_labels(3)
                .y_label_formatter(&|y| format!("{:.0}%", 100.0 * y))
                .y_desc("P(short)")
                .label_style((FONT, 12))
                .axis_desc_style((FONT, 13))
                .draw()?;
            top.draw_series(
                d.prob_short
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| **p > 0.0)
                    .map(|(t, p)| {
                        Rectangle::new(
                            [(t as f64 - 0.4, 0.0), (t as f64 + 0.4, *p)],
                            PROB.mix(0.75).filled(),
                        )
                    }),
            )?;
            let mut chart = ChartBuilder::on(&body)
                .margin(12)
                .margin_top(4)
                .x_label_area_size(40)
                .y_label_area_size(58)
                .build_cartesian_2d(xr, 0.0..depth_top)?;
            chart
                .configure_mesh()
                .light_line_style(WHITE)
                .x_labels(7)
                .x_label_formatter(&month_label)
                .y_label_formatter(&|y| format!("{:.0}%", 100.0 * y))
                .x_desc("month")
                .y_desc("shortfall if short, % of demand")
                .label_style((FONT, 12))
                .axis_desc_style((FONT, 13))
                .draw()?;
            // Bands over each run of months with short trials; a lone month gets a narrow box.
            let mut t = 0;
            while t < n {
                if d.depth[t].is_none() {
                    t += 1;
                    continue;
                }
                let start = t;
                while t < n && d.depth[t].is_some() {
                    t += 1;
                }
                let run: Vec<(f64, [f64; 5])> = (start..t)
                    .filter_map(|k| d.depth[k].map(|q| (k as f64, q)))
                    .collect();
                let widen = |pts: Vec<(f64, [f64; 5])>| {
                    if pts.len() == 1 {
                        let (x, q) = pts[0];
                        vec![(x - 0.3, q), (x + 0.3, q)]
                    } else {
                        pts
                    }
                };
                let run = widen(run);
                let band = |lo: usize, hi: usize| {
                    let mut v: Vec<(f64, f64)> = run.iter().map(|(x, q)| (*x, q[hi])).collect();
                    v.extend(run.iter().rev().map(|(x, q)| (*x, q[lo])));
                    v
                };
                chart.draw_series(std::iter::once(Polygon::new(
                    band(0, 4),
                    SKY.mix(0.45).filled(),
                )))?;
                chart.draw_series(std::iter::once(Polygon::new(
                    band(1, 3),
                    BLUE_.mix(0.55).filled(),
                )))?;
                chart.draw_series(LineSeries::new(
                    run.iter().map(|(x, q)| (*x, q[2])),
                    BLACK.stroke_width(2),
                ))?;
            }
            Ok(())
        },
    )
}

/// Tornado of shock effects on the total shortfall, largest effect on top.
pub fn tornado(
    overall: f64,
    bars: &[TornadoBar],
    hidden: usize,
    tested: usize,
    unit: &str,
    scenario: &str,
) -> anyhow::Result<Vec<u8>> {
    let n = bars.len();
    // Two blank rows at the bottom hold the legend.
    let rows = n as i32 + 2;
    let h = 190 + 42 * rows as u32;
    render(1400, h, |root| {
        root.fill(&WHITE)?;
        let (top, root) = root.split_vertically(80);
        let root = &root;
        top.draw(&Text::new(
            format!("{scenario}: mean total shortfall with vs without each shock"),
            (16, 10),
            (FONT, 22),
        ))?;
        top.draw(&Text::new(
            if tested <= 1 {
                "One shock varies between trials: its interval is a plain 95% interval.".to_string()
            } else {
                format!(
                    "Intervals are adjusted for comparing {tested} shocks at once (Bonferroni): together they hold every true effect with 95% confidence."
                )
            },
            (16, 44),
            (FONT, 14).into_font().color(&BLACK.mix(0.75)),
        ))?;
        top.draw(&Text::new(
            "Unadjusted 95% intervals, p-values and adjusted p-values are in summary.json (drivers).",
            (16, 62),
            (FONT, 14).into_font().color(&BLACK.mix(0.75)),
        ))?;
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
            .x_desc(format!(
                "mean total shortfall over all demand nodes over the horizon, {unit}"
            ))
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
            // An effect whose adjusted interval includes 0 (or that has none) is drawn pale: the
            // run cannot tell it from noise.
            let noise = !super::data::clear_of_noise(b);
            let fill = if noise {
                colour.mix(0.3).filled()
            } else {
                colour.filled()
            };
            let rect = [(a, SegmentValue::Exact(r)), (z, SegmentValue::Exact(r + 1))];
            chart.draw_series(std::iter::once(Rectangle::new(rect.clone(), fill)))?;
            chart.draw_series(std::iter::once(Rectangle::new(rect, BLACK.mix(0.5))))?;
            let effect = match b.ci_adjusted {
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
                "pale: the effect's adjusted interval includes 0, or is unknown (could be noise)",
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

/// Colour of restricted routes on the supply graph.
const RESTRICTED: RGBColor = RGBColor(200, 30, 30);

/// The supply graph in stage columns: nodes sized by capacity and coloured by criticality by
/// consequence (the shortfall their own outages and late start cause), restricted routes dashed
/// red with the tonnes withheld, and the restriction sets with what they cost.
pub fn graph(g: &Graph, scenario: &str) -> anyhow::Result<Vec<u8>> {
    let (nodes, edges) = (&g.nodes, &g.edges);
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
    let unit = g.unit.as_str();
    let head = 150u32;
    let foot = 70 + 22 * g.restrictions.len().max(1) as u32;
    let (w, h) = (2000u32, (head + foot + 60 + 84 * per_col as u32).max(820));
    render(w, h, |root| {
        root.fill(&WHITE)?;
        let (top, rest) = root.split_vertically(head);
        let (body, legend) = rest.split_vertically(h - head - foot);
        let grey = BLACK.mix(0.75);
        top.draw(&Text::new(
            format!("{scenario}: supply graph, what each disruption costs"),
            (20, 10),
            (FONT, 24),
        ))?;
        for (k, line) in [
            format!("Criticality by consequence (colour, and the figure under each plant): the mean total shortfall ({unit}, all demand nodes, over the horizon) that the plant's own outages"),
            format!(
                "or late start cause = the mean over all trials minus the mean over the trials in which the plant was never down or late; {}. It is not how often a plant",
                if g.tested <= 1 {
                    "with its 95% interval".to_string()
                } else {
                    format!("intervals adjusted for the {} figures compared (Bonferroni)", g.tested)
                }
            ),
            "was busy when demand went short: a plant that runs flat out while exports are restricted is binding, but removing its outages would not remove that shortfall.".to_string(),
            "Dashed red: routes under export restrictions, with the tonnes withheld over the horizon (mean over trials; estimate: blocked share x planned flow). Circle area ~ capacity (demand nodes:".to_string(),
            "monthly demand); line width ~ planned monthly flow. Grey circles: no outage or delay modelled.".to_string(),
        ]
        .into_iter()
        .enumerate()
        {
            top.draw(&Text::new(line, (20, 46 + 19 * k as i32), (FONT, 14).into_font().color(&grey)))?;
        }
        let (bw, bh) = body.dim_in_pixel();
        // Labels sit to the right of each circle, so the last column leaves room for them.
        let col_x = |c: usize| 70 + (c as i32) * ((bw as i32 - 70 - 330) / 4);
        let pos = |n: &GraphNode| (col_x(n.column), 50 + (n.y * (bh as f64 - 80.0)) as i32);
        for (c, title) in [
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
                title.to_string(),
                (col_x(c) - 30, 6),
                (FONT, 17).into_font().style(FontStyle::Bold),
            ))?;
        }
        let max_flow = edges.iter().map(|e| e.flow).fold(0.0, f64::max).max(1e-12);
        // Plain routes first, restricted ones over them.
        for restricted in [false, true] {
            for e in edges
                .iter()
                .filter(|e| e.restricted_by.is_empty() != restricted)
            {
                let (a, b) = (pos(&nodes[e.from]), pos(&nodes[e.to]));
                let width = 1 + (7.0 * e.flow / max_flow).round() as u32;
                if restricted {
                    body.draw(&DashedPathElement::new(
                        vec![a, b],
                        10,
                        6,
                        RESTRICTED.stroke_width(width.max(2)),
                    ))?;
                } else {
                    body.draw(&PathElement::new(
                        vec![a, b],
                        RGBColor(120, 120, 120).mix(0.5).stroke_width(width),
                    ))?;
                }
            }
        }
        let max_size = nodes.iter().map(|n| n.size).fold(0.0, f64::max).max(1e-12);
        let radius = |n: &GraphNode| (5.0 + 22.0 * (n.size / max_size).sqrt()) as i32;
        for n in nodes {
            let (x, y) = pos(n);
            let r = radius(n);
            let fill = if n.column == 4 {
                RGBColor(200, 200, 200)
            } else if n.hit.is_none() {
                RGBColor(236, 236, 236)
            } else {
                sequential(n.criticality)
            };
            body.draw(&Circle::new((x, y), r, fill.filled()))?;
            body.draw(&Circle::new((x, y), r, BLACK.stroke_width(1)))?;
        }
        // Labels after every circle and route, each on an opaque backing.
        let style: TextStyle = (FONT, 12).into_font().into();
        let figure_style: TextStyle = (FONT, 12).into_font().color(&RGBColor(40, 40, 120));
        let backed = |text: &str, (x, y): (i32, i32), style: &TextStyle| -> DrawResult {
            let width = body
                .estimate_text_size(text, style)
                .map_or(7 * text.chars().count() as i32, |(w, _)| w as i32);
            body.draw(&Rectangle::new(
                [(x - 2, y - 1), (x + width + 2, y + 14)],
                WHITE.filled(),
            ))?;
            body.draw(&Text::new(text.to_string(), (x, y), style.clone()))?;
            Ok(())
        };
        for n in nodes {
            let (x, y) = pos(n);
            let figure = if let Some(p) = n.prob_short {
                format!("P(any shortfall) {:.1}%", 100.0 * p)
            } else {
                match (n.hit, n.consequence) {
                    (None, _) => "no outage or delay modelled".to_string(),
                    (Some(h), _) if h >= 1.0 => "down or late in every trial".to_string(),
                    (Some(h), None) => format!("down or late in {:.0}% of trials", 100.0 * h),
                    (Some(_), Some(c)) => match n.consequence_ci {
                        Some([lo, hi]) if lo <= 0.0 && 0.0 <= hi => {
                            format!(
                                "no clear effect: {} [{}, {}]",
                                tonnes(c),
                                tonnes(lo),
                                tonnes(hi)
                            )
                        }
                        Some([lo, hi]) => {
                            format!("causes {} [{}, {}]", tonnes(c), tonnes(lo), tonnes(hi))
                        }
                        None => format!("causes {} (no interval)", tonnes(c)),
                    },
                }
            };
            let lines = wrap(&name(&n.label, &n.id), 34, 2);
            let left = x + radius(n) + 5;
            // The label's lines and the figure, centred on the circle.
            let first = y - 15 * (lines.len() as i32 + 1) / 2;
            for (k, line) in lines.iter().enumerate() {
                backed(line, (left, first + 15 * k as i32), &style)?;
            }
            backed(
                &figure,
                (left, first + 15 * lines.len() as i32),
                &figure_style,
            )?;
        }
        // Restricted routes: the tonnes withheld, near the buyer's end.
        let withheld_style: TextStyle = (FONT, 12).into_font().color(&RESTRICTED);
        for e in edges.iter().filter(|e| !e.restricted_by.is_empty()) {
            let (a, b) = (pos(&nodes[e.from]), pos(&nodes[e.to]));
            let f = 0.62;
            let at = (
                a.0 + ((b.0 - a.0) as f64 * f) as i32 - 30,
                a.1 + ((b.1 - a.1) as f64 * f) as i32 - 7,
            );
            backed(
                &format!("{} withheld", tonnes(e.withheld_t)),
                at,
                &withheld_style,
            )?;
        }
        // Legend: the colour scale, then each set of restrictions with what it costs.
        legend.draw(&Text::new(
            "criticality by consequence, as a share of the mean total shortfall:",
            (20, 14),
            (FONT, 14),
        ))?;
        for k in 0..=20 {
            let v = k as f64 / 20.0;
            legend.draw(&Rectangle::new(
                [(500 + 12 * k, 10), (512 + 12 * k, 30)],
                sequential(v).filled(),
            ))?;
        }
        legend.draw(&Text::new("0%", (495, 34), (FONT, 12)))?;
        legend.draw(&Text::new("100%", (730, 34), (FONT, 12)))?;
        legend.draw(&Text::new(
            format!(
                "mean total shortfall: {} {}",
                tonnes(g.mean_total),
                unit.trim_start_matches('t').trim()
            ),
            (800, 14),
            (FONT, 14),
        ))?;
        if g.restrictions.is_empty() {
            legend.draw(&Text::new(
                "no export restriction covers any route",
                (20, 56),
                (FONT, 14).into_font().color(&grey),
            ))?;
        }
        for (k, r) in g.restrictions.iter().enumerate() {
            let y = 56 + 22 * k as i32;
            legend.draw(&DashedPathElement::new(
                vec![(20, y + 7), (60, y + 7)],
                10,
                6,
                RESTRICTED.stroke_width(3),
            ))?;
            let cost = match (r.consequence, r.consequence_ci) {
                (Some(c), Some([lo, hi])) => format!(
                    "they cause {} [{}, {}] of it",
                    tonnes(c),
                    tonnes(lo),
                    tonnes(hi)
                ),
                (Some(c), None) => format!("they cause {} of it", tonnes(c)),
                (None, _) => "in force in every trial or none: no comparison".to_string(),
            };
            legend.draw(&Text::new(
                format!(
                    "{} ({} route{}): in force in {:.0}% of trials; {} withheld in all (mean over trials); {cost}",
                    r.shocks.join(" + "),
                    r.edges,
                    if r.edges == 1 { "" } else { "s" },
                    100.0 * r.hit,
                    tonnes(r.withheld_t),
                ),
                (70, y),
                (FONT, 14),
            ))?;
        }
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

/// Inputs drawn per panel of the sensitivity chart.
pub const SENSITIVITY_ROWS: usize = 10;

/// The sensitivity of each shown demand node's total shortfall to the scenario's uncertain
/// inputs: one panel per node, its inputs by first-order index with their 95% intervals, on one
/// scale.
pub fn sensitivity(
    panels: &[(String, Vec<crate::stats::sensitivity::InputEffect>)],
    scenario: &str,
) -> anyhow::Result<Vec<u8>> {
    let top = panels
        .iter()
        .flat_map(|(_, v)| v.iter().map(|e| e.first_order_ci95[1].max(e.first_order)))
        .fold(0.05f64, f64::max)
        .min(1.0);
    grid_chart(
        panels,
        &format!(
            "{scenario}: share of the total shortfall's variance each uncertain input explains alone"
        ),
        20,
        |(node, inputs), area| {
            if inputs.is_empty() {
                return nothing(
                    area,
                    node,
                    "the shortfall is the same in every trial, or no input is uncertain",
                );
            }
            let rows = inputs.len().min(SENSITIVITY_ROWS);
            // Segments 0..=n - 1, one per row (at least two: one segment would have no height).
            let n = rows.max(2) as i32;
            let names: Vec<String> = inputs[..rows].iter().map(|e| clip(&e.input, 46)).collect();
            let mut chart = ChartBuilder::on(area)
                .caption(clip(node, 60), (FONT, 17))
                .margin(10)
                .x_label_area_size(40)
                .y_label_area_size(320)
                .build_cartesian_2d(-0.02 * top..top * 1.4, (0..n - 1).into_segmented())?;
            chart
                .configure_mesh()
                .disable_y_mesh()
                .y_labels(n as usize)
                .y_label_formatter(&|v| match v {
                    SegmentValue::CenterOf(r) => {
                        names.get((n - 1 - r) as usize).cloned().unwrap_or_default()
                    }
                    _ => String::new(),
                })
                // The room right of 100% holds the labels.
                .x_label_formatter(&|v| {
                    if *v <= 1.0 + 1e-9 {
                        format!("{:.0}%", 100.0 * v)
                    } else {
                        String::new()
                    }
                })
                .x_desc("first-order index S1, with its 95% interval")
                .label_style((FONT, 13))
                .axis_desc_style((FONT, 14))
                .draw()?;
            for (i, e) in inputs[..rows].iter().enumerate() {
                let r = n - 1 - i as i32;
                let clear = e.first_order_ci95[0] > 0.0;
                let fill = if clear {
                    ORANGE.filled()
                } else {
                    ORANGE.mix(0.3).filled()
                };
                let bar = [
                    (0.0, SegmentValue::Exact(r)),
                    (e.first_order.max(0.0), SegmentValue::Exact(r + 1)),
                ];
                chart.draw_series(std::iter::once(Rectangle::new(bar, fill)))?;
                let [lo, hi] = e.first_order_ci95;
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![
                        (lo.max(-0.02 * top), SegmentValue::CenterOf(r)),
                        (hi.min(top * 1.4), SegmentValue::CenterOf(r)),
                    ],
                    BLACK.stroke_width(2),
                )))?;
                chart.draw_series(std::iter::once(Text::new(
                    format!("rank corr. {:+.2}", e.rank_correlation),
                    (
                        hi.max(e.first_order) + 0.02 * top,
                        SegmentValue::CenterOf(r),
                    ),
                    (FONT, 12).into_font().color(&BLACK.mix(0.7)),
                )))?;
            }
            if inputs.len() > rows {
                area.draw(&Text::new(
                    format!("{} more inputs in summary.json", inputs.len() - rows),
                    (area.dim_in_pixel().0 as i32 - 200, 30),
                    (FONT, 12).into_font().color(&BLACK.mix(0.7)),
                ))?;
            }
            Ok(())
        },
    )
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
