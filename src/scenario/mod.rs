//! The scenario file as written: a serde mirror of the TOML, with positions kept for the
//! cross-reference checks that [`crate::model::compile_str`] makes afterwards.
//!
//! Range checks that need no context (probabilities in `[0, 1]`, non-negative tonnages, finite
//! numbers, distribution parameters) happen here, during deserialisation, so that toml reports
//! them at their own line and column.

pub mod dist;
pub mod error;
pub mod variant;

use serde::Deserialize;
use serde::de::Error as _;
use toml::Spanned;

use crate::prob::dist::Dist;
use crate::scenario::dist::Param;

/// A whole scenario file.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a scenario: a [scenario] table with [[node]] and [[edge]] tables"
)]
pub struct RawScenario {
    /// Name, horizon, defaults and the allocation policy.
    pub scenario: Meta,
    /// The shared geopolitical regime, if any.
    pub regime: Option<Spanned<RawRegime>>,
    /// Materials the edges carry (element-level scenarios); without any, every edge carries
    /// the same one.
    #[serde(default, rename = "material")]
    pub materials: Vec<RawMaterial>,
    /// Facilities and demand, any order.
    #[serde(default, rename = "node")]
    pub nodes: Vec<RawNode>,
    /// Supplier -> buyer links.
    #[serde(default, rename = "edge")]
    pub edges: Vec<RawEdge>,
    /// Facility outages (Markov up/down or random events).
    #[serde(default, rename = "outage")]
    pub outages: Vec<RawOutage>,
    /// Late plants: nominal start, sampled delay, ramp-up.
    #[serde(default, rename = "delay")]
    pub delays: Vec<RawDelay>,
    /// Export restrictions by country.
    #[serde(default, rename = "restriction")]
    pub restrictions: Vec<RawRestriction>,
    /// Tariffs on origin -> destination country pairs.
    #[serde(default, rename = "tariff")]
    pub tariffs: Vec<RawTariff>,
}

/// The `[scenario]` table.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "the [scenario] table, e.g. [scenario] with name = \"...\" and periods = 36"
)]
pub struct Meta {
    /// Short name, used in reports.
    pub name: Spanned<String>,
    /// One or two sentences on what the scenario represents.
    #[serde(default)]
    pub description: String,
    /// Horizon in monthly periods.
    pub periods: Spanned<u32>,
    /// Calendar month of period 0, `"YYYY-MM"`.
    pub start: Spanned<String>,
    /// Default number of trials (`--trials` overrides).
    #[serde(default = "default_trials")]
    pub trials: Spanned<u64>,
    /// Default master seed (`--seed` overrides).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// What happens to blocked or unserved volume.
    #[serde(default)]
    pub policy: Policy,
    /// Periods a buyer must have been short before re-routed volume flows (flexible policy).
    #[serde(default)]
    pub reroute_lag: u32,
    /// Shortfall thresholds, as fractions of total demand, whose exceedance probabilities are
    /// reported.
    #[serde(default = "default_thresholds")]
    pub thresholds: Vec<Fraction>,
}

fn default_trials() -> Spanned<u64> {
    // Never reported: only an invalid count, which the default is not, is shown at its span.
    Spanned::new(0..0, 10_000)
}
fn default_seed() -> u64 {
    2026
}
fn default_thresholds() -> Vec<Fraction> {
    vec![Fraction(0.05), Fraction(0.1), Fraction(0.2)]
}

/// A `[[material]]` table.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a [[material]] table, e.g. id = \"dytb_oxide\" and label = \"Dy/Tb oxide\""
)]
pub struct RawMaterial {
    /// Unique identifier, referenced by nodes, edges, restrictions and tariffs.
    pub id: Spanned<String>,
    /// Readable name for reports.
    #[serde(default)]
    pub label: Option<String>,
}

/// Tonnes by material, e.g. `{ ndpr_metal = 0.3, dytb_metal = 0.02 }`, in the materials'
/// alphabetical order.
pub type ByMaterial = Spanned<std::collections::BTreeMap<String, Spanned<f64>>>;

/// What a co-product plant does with output nobody takes.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Surplus {
    /// Kept in stock, for later orders.
    #[default]
    Stock,
    /// Lost at the end of the period.
    Lose,
}

/// Allocation policy for blocked or unserved volume.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Contracts are fixed: blocked or unserved volume is simply lost.
    #[default]
    Fixed,
    /// A short buyer re-orders from its other suppliers that have spare output.
    Flexible,
}

/// The `[regime]` table: a Markov chain over named states.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "the [regime] table, with states, initial and a transition matrix"
)]
pub struct RawRegime {
    /// State names, e.g. `["truce", "tension", "escalation"]`.
    pub states: Vec<String>,
    /// State in period 0.
    pub initial: Spanned<String>,
    /// Row-stochastic matrix: `transition[i][j]` is the per-period probability of moving from
    /// state i to state j. An uncertain row is drawn once per trial (see [`RawRow`]).
    pub transition: Spanned<Vec<RawRow>>,
}

/// One row of the regime's transition matrix: one entry per state, each a probability (the
/// row adding up to 1) or, where any entry is uncertain, a weight drawn once per trial, the row
/// then divided by its sum. `{ dirichlet = [a1, a2, ...] }` is the row of gamma weights with
/// shapes a_j, i.e. Dirichlet probabilities with mean a_j / sum a (the larger the sum, the less
/// uncertain).
#[derive(Debug)]
pub struct RawRow(pub Vec<Dist>);

impl<'de> Deserialize<'de> for RawRow {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match toml::Value::deserialize(d)? {
            toml::Value::Array(entries) => entries.into_iter().map(row_entry).collect(),
            toml::Value::Table(mut t) if t.len() == 1 && t.contains_key("dirichlet") => {
                let alpha = t
                    .remove("dirichlet")
                    .unwrap_or(toml::Value::Array(Vec::new()));
                Vec::<f64>::deserialize(alpha)
                    .map_err(|e| format!("`dirichlet`: {e}"))
                    .and_then(|alpha| alpha.into_iter().map(dirichlet_weight).collect())
            }
            other => Err(format!(
                "a transition row is an array of probabilities (numbers or distribution tables) \
                 or {{ dirichlet = [...] }}, found {}",
                other.type_str()
            )),
        }
        .map(RawRow)
        .map_err(D::Error::custom)
    }
}

/// One entry of a transition row: a distribution table, or a probability from 0 to 1.
fn row_entry(v: toml::Value) -> Result<Dist, String> {
    match v {
        toml::Value::Table(_) => dist::from_value(v),
        v => {
            let p = f64::deserialize(v).map_err(|e| e.to_string())?;
            if (0.0..=1.0).contains(&p) {
                Ok(Dist::Fixed(p + 0.0))
            } else {
                Err(format!(
                    "expected a probability between 0 and 1 or a distribution table, got {p}"
                ))
            }
        }
    }
}

/// The weight of one state in a `dirichlet` row: gamma with the concentration as its shape.
fn dirichlet_weight(a: f64) -> Result<Dist, String> {
    if !(a > 0.0 && a.is_finite()) {
        return Err(format!(
            "every `dirichlet` concentration must be a positive number, got {a}"
        ));
    }
    rand_distr::Gamma::new(a, 1.0)
        .map(Dist::Gamma)
        .map_err(|e| e.to_string())
}

/// Stage of the chain a node belongs to.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Mine or concentrate producer: no inputs.
    Mine,
    /// Separation / refining into oxides.
    #[serde(alias = "separation")]
    Refinery,
    /// Metal and alloy making.
    #[serde(alias = "alloy")]
    Metal,
    /// Magnet making.
    Magnet,
    /// End-use demand.
    Demand,
}

/// A `[[node]]` table.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a [[node]] table, with id, kind and capacity or demand"
)]
pub struct RawNode {
    /// Unique identifier, referenced by edges and shocks.
    pub id: Spanned<String>,
    /// Stage.
    pub kind: Kind,
    /// ISO-like country code, used by export restrictions and tariffs.
    pub country: String,
    /// Readable name for reports.
    #[serde(default)]
    pub label: Option<String>,
    /// Output capacity in tonnes per period (not for demand nodes).
    pub capacity: Option<Spanned<NonNeg>>,
    /// Tonnes of output per tonne of input (default 1).
    #[serde(rename = "yield")]
    pub yield_: Option<Spanned<f64>>,
    /// Initial input stock in tonnes, also the safety stock the node re-orders towards.
    pub stock: Option<NonNeg>,
    /// Largest input stock in tonnes; input beyond it is lost (default: no cap).
    pub stock_cap: Option<NonNeg>,
    /// Price of the node's output in USD per tonne, for tariff costs.
    pub price: Option<NonNeg>,
    /// Demand in tonnes per period (demand nodes).
    pub demand: Option<Spanned<NonNeg>>,
    /// Annual growth rate of demand, compounded monthly (e.g. 0.08).
    pub growth: Option<Spanned<Finite>>,
    /// Stock held by a demand node, in periods of its own demand; also its re-order target.
    pub cover: Option<NonNeg>,
    /// A strategic stockpile released only to cover shortfall.
    pub stockpile: Option<Spanned<RawStockpile>>,
    /// The material it makes (scenarios with materials).
    pub output: Option<Spanned<String>>,
    /// Co-products: tonnes of each material per tonne processed (a separation plant's split of
    /// its feed); `capacity` is then tonnes processed per period.
    pub outputs: Option<ByMaterial>,
    /// A recipe: tonnes of each input material per tonne of output, output limited by the
    /// scarcest input (in place of `yield`).
    pub inputs: Option<ByMaterial>,
    /// With `inputs`: the initial and safety stock of each input, in tonnes.
    pub stocks: Option<ByMaterial>,
    /// With `inputs`: the largest stock of each input, in tonnes (default: no cap).
    pub stock_caps: Option<ByMaterial>,
    /// With `outputs`: whether a co-product nobody takes is kept in stock or lost.
    pub surplus: Option<Spanned<Surplus>>,
}

/// A strategic stockpile at a demand node.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a stockpile table, e.g. { periods = 3, max_release = 600 }"
)]
pub struct RawStockpile {
    /// Size in periods of the node's initial demand.
    pub periods: Option<NonNeg>,
    /// Size in tonnes.
    pub tonnes: Option<NonNeg>,
    /// Largest release per period, in tonnes (default: unlimited).
    pub max_release: Option<NonNeg>,
}

/// An `[[edge]]` table.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "an [[edge]] table, with from, to and share"
)]
pub struct RawEdge {
    /// Supplier node id.
    pub from: Spanned<String>,
    /// Buyer node id.
    pub to: Spanned<String>,
    /// Buyer side: fraction of the buyer's needs ordered from this supplier.
    pub share: Option<Spanned<Fraction>>,
    /// Supplier side: fraction of the supplier's output reserved for this buyer when it
    /// rations (an offtake contract).
    pub offtake: Option<Spanned<Fraction>>,
    /// Whether re-routed volume may flow on this edge under the flexible policy (default true).
    #[serde(default = "yes")]
    pub reroute: bool,
    /// The material it carries (default: the supplier's only output).
    pub material: Option<Spanned<String>>,
}

fn yes() -> bool {
    true
}

/// Whether a Markov outage starts up or in its stationary state.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Initial {
    /// Up in period 0.
    #[default]
    Up,
    /// Down in period 0 with the stationary probability p_fail / (p_fail + p_recover).
    Stationary,
}

/// An `[[outage]]` table: either a Markov up/down process (`p_fail`, `p_recover`) or random
/// events (`p_event`, `duration`).
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "an [[outage]] table, with node and p_fail/p_recover or p_event/duration"
)]
pub struct RawOutage {
    /// Name in reports (default: `outage:<node>`).
    pub id: Option<String>,
    /// Node affected.
    pub node: Spanned<String>,
    /// Markov: per-period probability of failing while up.
    pub p_fail: Option<Spanned<Param>>,
    /// Markov: per-period probability of recovering while down.
    pub p_recover: Option<Spanned<Param>>,
    /// Markov: starting state.
    #[serde(default)]
    pub initial: Initial,
    /// Events: per-period probability that an event starts.
    pub p_event: Option<Spanned<Param>>,
    /// Events: duration in periods, sampled per event.
    pub duration: Option<Spanned<Dist>>,
    /// Fraction of capacity lost while down, sampled per episode (default 1).
    pub severity: Option<Spanned<Dist>>,
}

/// A `[[delay]]` table: a planned plant that comes online late.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a [[delay]] table, with node, nominal (its planned start) and delay"
)]
pub struct RawDelay {
    /// Name in reports (default: `delay:<node>`).
    pub id: Option<String>,
    /// Node affected: its capacity is zero until it is online.
    pub node: Spanned<String>,
    /// Announced start, as a period index or `"YYYY-MM"`.
    pub nominal: Spanned<Period>,
    /// Slip against the announced start, in periods, sampled per trial.
    #[serde(default)]
    pub delay: Option<Spanned<Dist>>,
    /// Periods to ramp linearly from zero to full capacity once online (default 0).
    #[serde(default)]
    pub ramp: Option<Spanned<Dist>>,
}

/// The `when` table of an episodic shock (restriction or tariff). At most one way to start:
/// `at` (scheduled or sampled period) or `p_start` (per-period hazard, a Markov on/off process);
/// with neither, the shock is active from period 0.
#[derive(Debug, Deserialize, Default)]
#[serde(
    deny_unknown_fields,
    expecting = "a `when` table, e.g. { at = 0, probability = 0.4 } or { p_start = 0.02 }"
)]
pub struct RawTiming {
    /// Scheduled start period (a number, `"YYYY-MM"`, or a distribution over periods).
    pub at: Option<Spanned<When>>,
    /// With `at`: probability that the scheduled episode happens, evaluated in the regime state
    /// of its start period (default 1).
    pub probability: Option<Spanned<Param>>,
    /// Per-period probability that an episode starts while inactive.
    pub p_start: Option<Spanned<Param>>,
    /// Per-period probability that an active episode ends (alternative to `duration`).
    pub p_end: Option<Spanned<Param>>,
    /// Episode length in periods, sampled per episode (default: to the end of the horizon).
    pub duration: Option<Spanned<Dist>>,
    /// With `p_start` and `p_end`: whether an episode may already be under way in period 0.
    pub initial: Option<Spanned<EpisodeInitial>>,
}

/// Whether an on/off episodic shock (`p_start` with `p_end`) starts off, or in its stationary
/// state.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum EpisodeInitial {
    /// No episode under way in period 0.
    #[default]
    Off,
    /// An episode under way in period 0 with the on/off process's stationary probability
    /// p_start / (p_start + p_end (1 - p_start)).
    Stationary,
}

/// An `[[restriction]]` table: a country blocks part of its exports.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a [[restriction]] table, with id, country and severity"
)]
pub struct RawRestriction {
    /// Name in reports.
    pub id: Spanned<String>,
    /// Exporting country.
    pub country: Spanned<String>,
    /// Stages of the exporting node covered (default: every stage).
    #[serde(default)]
    pub stages: Vec<Kind>,
    /// Named routes `"from->to"` covered instead of stages.
    #[serde(default)]
    pub routes: Vec<Spanned<String>>,
    /// Destination countries covered (default: every foreign country).
    #[serde(default)]
    pub to: Vec<String>,
    /// Destination countries exempt.
    #[serde(default)]
    pub exempt: Vec<String>,
    /// Materials covered (default: every material).
    #[serde(default)]
    pub materials: Vec<Spanned<String>>,
    /// Also covers other countries' exports (of the chosen stages, materials and
    /// destinations) whose content of this country's origin is above this share, by mass:
    /// China's October 2025 rule for foreign-made items with Chinese rare earths.
    pub de_minimis: Option<Spanned<Fraction>>,
    /// Fraction of covered shipments blocked, sampled per episode.
    pub severity: Spanned<Dist>,
    /// Periods at full severity before licences start to flow, sampled per episode (default 0).
    pub licensing_lag: Option<Spanned<Dist>>,
    /// Fraction still blocked once licences flow (default: the episode's severity).
    pub licensed_severity: Option<Spanned<Dist>>,
    /// What happens to blocked volume.
    #[serde(default)]
    pub blocked: Blocked,
    /// When it is active (default: from period 0 to the end of the horizon).
    #[serde(default)]
    pub when: RawTiming,
}

/// Fate of blocked export volume.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Blocked {
    /// Not delivered; the exporter does not produce it.
    #[default]
    Lost,
    /// Offered to the exporter's buyers in its own country that are short.
    Domestic,
}

/// A `[[tariff]]` table.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a [[tariff]] table, with id, from, to and rate"
)]
pub struct RawTariff {
    /// Name in reports.
    pub id: Spanned<String>,
    /// Origin country.
    pub from: String,
    /// Destination country.
    pub to: String,
    /// Stages of the exporting node covered (default: every stage).
    #[serde(default)]
    pub stages: Vec<Kind>,
    /// Materials covered (default: every material).
    #[serde(default)]
    pub materials: Vec<Spanned<String>>,
    /// Ad valorem rate (0.25 = 25%), sampled per episode.
    pub rate: Spanned<Dist>,
    /// Price elasticity of the buyer's shares: weight x (1 + rate)^-elasticity (default 0).
    #[serde(default)]
    pub elasticity: NonNeg,
    /// When it is active (default: from period 0 to the end of the horizon).
    #[serde(default)]
    pub when: RawTiming,
}

/// A calendar reference: a period index, `"YYYY-MM"`, or a distribution over period indices.
#[derive(Clone, Debug)]
pub enum When {
    /// A month, resolved against the scenario's start.
    Month(i32, u32),
    /// A period index or a distribution over period indices.
    Periods(Dist),
}

impl<'de> Deserialize<'de> for When {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = toml::Value::deserialize(d)?;
        match value {
            toml::Value::String(s) => parse_month(&s)
                .map(|(y, m)| When::Month(y, m))
                .map_err(D::Error::custom),
            v => crate::scenario::dist::from_value(v)
                .map(When::Periods)
                .map_err(D::Error::custom),
        }
    }
}

/// A fixed period: an index or `"YYYY-MM"`.
#[derive(Clone, Copy, Debug)]
pub enum Period {
    /// Period index from the start.
    Index(i64),
    /// Calendar month.
    Month(i32, u32),
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = toml::Value::deserialize(d)?;
        match value {
            toml::Value::String(s) => parse_month(&s)
                .map(|(y, m)| Period::Month(y, m))
                .map_err(D::Error::custom),
            toml::Value::Integer(i) => Ok(Period::Index(i)),
            other => Err(D::Error::custom(format!(
                "expected a period index (integer) or a month \"YYYY-MM\", found {}",
                other.type_str()
            ))),
        }
    }
}

/// Parses `"YYYY-MM"`.
pub fn parse_month(s: &str) -> Result<(i32, u32), String> {
    let bad = || format!("expected a month written \"YYYY-MM\" (e.g. \"2026-11\"), got \"{s}\"");
    let (y, m) = s.split_once('-').ok_or_else(bad)?;
    let y: i32 = y.parse().map_err(|_| bad())?;
    let m: u32 = m.parse().map_err(|_| bad())?;
    if !(1..=12).contains(&m) || !(1900..=2200).contains(&y) {
        return Err(bad());
    }
    Ok((y, m))
}

/// A finite number.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Finite(pub f64);

impl<'de> Deserialize<'de> for Finite {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        if v.is_finite() {
            Ok(Finite(v))
        } else {
            Err(D::Error::custom(format!(
                "expected a finite number, got {v}"
            )))
        }
    }
}

/// Largest tonnage, price or rate a scenario may give: far above any real market, small enough
/// that sums over trials and periods stay exact enough.
pub const MAX_QUANTITY: f64 = 1e15;

/// A finite number >= 0 and at most [`MAX_QUANTITY`]; a written -0 is read as 0 (the kernels rely
/// on no quantity being -0).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct NonNeg(pub f64);

impl<'de> Deserialize<'de> for NonNeg {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        if !(v.is_finite() && v >= 0.0) {
            Err(D::Error::custom(format!(
                "expected a finite number >= 0 (tonnes, prices and rates cannot be negative), got {v}"
            )))
        } else if v > MAX_QUANTITY {
            Err(D::Error::custom(format!(
                "{v:e} is beyond any plausible tonnage or price (at most {MAX_QUANTITY:e}); check the units"
            )))
        } else {
            Ok(NonNeg(v + 0.0))
        }
    }
}

/// A number in `[0, 1]`; a written -0 is read as 0.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Fraction(pub f64);

impl<'de> Deserialize<'de> for Fraction {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        if (0.0..=1.0).contains(&v) {
            Ok(Fraction(v + 0.0))
        } else {
            Err(D::Error::custom(format!(
                "expected a probability or fraction between 0 and 1, got {v}"
            )))
        }
    }
}

/// Parses scenario text. Errors carry toml's own rendering: line, column and a caret.
pub fn parse(text: &str) -> Result<RawScenario, toml::de::Error> {
    toml::from_str(text)
}

/// Keys of a by-regime parameter table, for cross-checking against the regime's states.
pub fn regime_keys(p: &Param) -> Vec<&str> {
    match p {
        Param::Same(_) => Vec::new(),
        Param::ByRegime(v) => v.iter().map(|(k, _)| k.as_str()).collect(),
    }
}
