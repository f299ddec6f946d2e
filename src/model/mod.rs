//! The compiled model: validated, names resolved to indices, nodes in topological order, edges
//! in contiguous arrays. The kernel sees only this form.

mod compile;
pub mod inputs;
mod materials;
mod validate;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::ops::Range;

use toml::Spanned;

use crate::prob::dist::{Dist, Geometric};
use crate::scenario::dist::Param;
use crate::scenario::error::{Diagnostic, ScenarioError};
use crate::scenario::{self, Blocked, Period, RawScenario, RawTiming, When};

/// Stage of the chain a node belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// Mine or concentrate producer: no inputs.
    Mine,
    /// Separation / refining into oxides.
    Refinery,
    /// Metal and alloy making.
    Metal,
    /// Magnet making.
    Magnet,
    /// End-use demand.
    Demand,
}

impl Kind {
    /// Every kind, in the order of the chain.
    pub const ALL: [Kind; 5] = [
        Kind::Mine,
        Kind::Refinery,
        Kind::Metal,
        Kind::Magnet,
        Kind::Demand,
    ];

    /// Lower-case name as written in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Mine => "mine",
            Kind::Refinery => "refinery",
            Kind::Metal => "metal",
            Kind::Magnet => "magnet",
            Kind::Demand => "demand",
        }
    }

    /// The kind named `name` (see [`Kind::name`]).
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl From<scenario::Kind> for Kind {
    fn from(k: scenario::Kind) -> Kind {
        match k {
            scenario::Kind::Mine => Kind::Mine,
            scenario::Kind::Refinery => Kind::Refinery,
            scenario::Kind::Metal => Kind::Metal,
            scenario::Kind::Magnet => Kind::Magnet,
            scenario::Kind::Demand => Kind::Demand,
        }
    }
}

/// Allocation policy for blocked or unserved volume.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Contracts are fixed: blocked or unserved volume is simply lost.
    Fixed,
    /// A short buyer re-orders from its other suppliers that have spare output.
    Flexible,
}

impl Policy {
    /// Lower-case name as written in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            Policy::Fixed => "fixed",
            Policy::Flexible => "flexible",
        }
    }

    /// The policy named `name` (see [`Policy::name`]).
    pub fn from_name(name: &str) -> Option<Policy> {
        [Policy::Fixed, Policy::Flexible]
            .into_iter()
            .find(|p| p.name() == name)
    }
}

impl From<scenario::Policy> for Policy {
    fn from(p: scenario::Policy) -> Policy {
        match p {
            scenario::Policy::Fixed => Policy::Fixed,
            scenario::Policy::Flexible => Policy::Flexible,
        }
    }
}

/// Whether a Markov outage starts up or in its stationary state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Initial {
    /// Up in period 0.
    Up,
    /// Down in period 0 with the stationary probability p_fail / (p_fail + p_recover).
    Stationary,
}

impl From<scenario::Initial> for Initial {
    fn from(i: scenario::Initial) -> Initial {
        match i {
            scenario::Initial::Up => Initial::Up,
            scenario::Initial::Stationary => Initial::Stationary,
        }
    }
}

/// Largest horizon accepted (100 years of months).
pub const MAX_PERIODS: u32 = 1200;
/// Largest number of regime states.
pub const MAX_STATES: usize = 16;
/// Largest distance, in periods, of a period-valued input from the start of the horizon (a
/// plant's planned start, an episode's scheduled start, a duration, delay, ramp or lag): 100
/// times the longest horizon. Beyond it a value can only be a typo, and the kernel's period
/// arithmetic stays far from overflow.
pub const MAX_PERIOD_OFFSET: i64 = 100 * MAX_PERIODS as i64;
/// Largest memory a run may plan to use for kept per-trial results, in bytes.
pub const MAX_RESULT_BYTES: u64 = 8 << 30;

/// A material an edge carries, in scenarios that declare materials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Material {
    /// Identifier from the scenario file.
    pub id: String,
    /// Readable name.
    pub label: String,
}

/// What a node of the model is to the scenario: a node of the file, or a part the model adds
/// to one to hold a recipe's input or a co-product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// A node of the scenario file.
    Whole,
    /// The stock of one input of a recipe node `of`: it buys `material`, holds it, and hands the
    /// recipe node one tonne of kit (the input for one tonne of output) per coefficient tonnes.
    /// The recipe node makes what the scarcest of its inputs allows.
    Input {
        /// The recipe node (node index).
        of: u32,
        /// The input's material.
        material: u16,
    },
    /// One co-product of a plant `of`: it receives the plant's whole throughput and turns it
    /// into `material` at the co-product's share, for the buyers of that material; its capacity
    /// is the plant's times the share.
    Output {
        /// The co-product plant (node index).
        of: u32,
        /// The co-product's material.
        material: u16,
    },
}

/// One facility or demand node.
#[derive(Clone, Debug)]
pub struct Node {
    /// Identifier from the scenario file (a part's: `node[material]`).
    pub id: String,
    /// Readable name.
    pub label: String,
    /// Stage.
    pub kind: Kind,
    /// Index into [`Model::countries`].
    pub country: u16,
    /// Output capacity per period in tonnes (infinite for demand nodes).
    pub capacity: f64,
    /// What the node is to the scenario.
    pub part: Part,
    /// The material it makes, or for a demand node buys ([`Model::materials`]; 0 where the
    /// scenario declares none, and for a co-product plant, whose parts make its materials).
    pub material: u16,
}

/// The fields of a node the kernel reads every period, packed together ([`Model::hot`]); the
/// flow parameters (yield, stocks, price) live only here.
#[derive(Clone, Copy, Debug)]
pub struct Hot {
    /// Output capacity per period (infinite for demand nodes).
    pub capacity: f64,
    /// Output per tonne of input.
    pub yield_: f64,
    /// 1 / yield.
    pub inv_yield: f64,
    /// Initial input stock and safety stock.
    pub stock0: f64,
    /// Largest input stock.
    pub stock_cap: f64,
    /// Output price, USD per tonne.
    pub price: f64,
    /// Stage.
    pub kind: Kind,
    /// Whether any out-edge carries an offtake share.
    pub has_offtake: bool,
    /// Whether tariff costs can reach the node (it lies downstream of a tariffed edge).
    pub tariffed: bool,
    /// Whether tariffs may shift the node's shares over its suppliers (it is in
    /// [`Model::tariff_buyers`]); other nodes split their orders by the fixed edge shares.
    pub reweighted: bool,
    /// Whether a restriction covers any of the node's out-edges.
    pub restricted: bool,
    /// Whether the node can re-order a gap under the flexible policy: it has an in-edge open to
    /// re-routed volume.
    pub reroutes: bool,
    /// How the node takes its inputs and hands out its output (see [`Form`]).
    pub form: Form,
}

/// How a node takes its inputs and hands out its output; one byte, so that [`Hot`] stays within
/// 56 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Form {
    /// Inputs from any of its suppliers into one stock; output rationed over its buyers.
    #[default]
    Plain,
    /// A recipe node: its in-edges come from its input parts ([`Part::Input`]), it orders its
    /// whole need from each, and receives as much as the least of them ships (the rest returns
    /// to that part's stock).
    Assembly,
    /// A co-product plant: its out-edges go to its co-product parts ([`Part::Output`]), it plans
    /// for the largest of their orders, and each receives its whole output.
    Joint,
    /// A co-product plant whose parts receive at most their orders: output beyond what the
    /// buyers order is lost rather than stocked.
    JointLose,
}

impl Hot {
    /// A recipe node ([`Form::Assembly`]).
    #[inline(always)]
    pub fn assembly(&self) -> bool {
        self.form == Form::Assembly
    }

    /// A co-product plant ([`Form::Joint`] or [`Form::JointLose`]).
    #[inline(always)]
    pub fn joint(&self) -> bool {
        matches!(self.form, Form::Joint | Form::JointLose)
    }

    /// A co-product plant that loses what its buyers do not order ([`Form::JointLose`]).
    #[inline(always)]
    pub fn lose(&self) -> bool {
        self.form == Form::JointLose
    }
}

// The kernels read these for every node every period: keep one to 56 bytes.
const _: () = assert!(std::mem::size_of::<Hot>() <= 56);

/// A supplier -> buyer link.
#[derive(Clone, Debug)]
pub struct Edge {
    /// Supplier node index.
    pub src: u32,
    /// Buyer node index.
    pub dst: u32,
    /// Buyer-side share of the buyer's needs.
    pub share: f64,
    /// Supplier-side share of the supplier's output reserved when it rations.
    pub offtake: f64,
    /// Whether re-routed volume may flow here under the flexible policy.
    pub reroute: bool,
    /// Supplier and buyer are in the same country.
    pub domestic: bool,
    /// Volume blocked on this edge is offered to the supplier's domestic buyers.
    pub blocked_domestic: bool,
    /// The material it carries ([`Model::materials`]; 0 where the scenario declares none).
    pub material: u16,
    /// Where a restriction reaches this edge through the origin of its content: its index in
    /// [`Model::reaches`], else [`NO_REACH`] (an index keeps the edge within 32 bytes).
    pub reach: u16,
}

/// One figure each trial records: demand node `demand`'s shortfall in the periods when a recipe
/// node upstream of it was short of `material`, its scarcest input.
#[derive(Clone, Debug, PartialEq)]
pub struct Limit {
    /// The demand node (index into [`Model::demand`]).
    pub demand: u32,
    /// The input material.
    pub material: u16,
    /// The edges from input parts of `material` into the recipe nodes upstream of the demand
    /// node: the recipe node was short of it when one of them was its scarcest in a period.
    pub gates: Vec<u32>,
}

/// Marks an edge that no restriction reaches through its content's origin.
pub const NO_REACH: u16 = u16::MAX;

// The kernels read edges in their inner loops: keep one to 32 bytes.
const _: () = assert!(std::mem::size_of::<Edge>() <= 32);

/// A restriction's reach to another country's exports: the edge is restricted only while the
/// origin share of what its supplier ships is above the threshold.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reach {
    /// The origin, as an index into [`Model::origins`].
    pub origin: u16,
    /// The de minimis share: at or below it the edge is not covered.
    pub threshold: f64,
}

/// A demand node's requirements.
#[derive(Clone, Debug)]
pub struct DemandNode {
    /// Node index.
    pub node: u32,
    /// Demand in tonnes for each period.
    pub per_period: Vec<f64>,
    /// Sum of `per_period`.
    pub total: f64,
    /// Stock held, in periods of current demand.
    pub cover: f64,
    /// Strategic stockpile in tonnes.
    pub stockpile: f64,
    /// Largest stockpile release per period.
    pub max_release: f64,
    /// The material it buys ([`Model::materials`]; 0 where the scenario declares none).
    pub material: u16,
}

/// The geopolitical regime chain.
#[derive(Clone, Debug)]
pub struct Regime {
    /// State names.
    pub states: Vec<String>,
    /// Initial state index.
    pub initial: usize,
    /// Holding times of each state: periods until it is left (waiting times for its per-period
    /// probability of leaving).
    pub holding: Vec<Geometric>,
    /// For each state, cumulative probabilities of the next state given that it leaves.
    pub next_cdf: Vec<Vec<f64>>,
    /// Per state: where its row of the transition matrix is uncertain, the distribution of each
    /// entry's weight; a trial draws the row once and divides it by its sum (see [`chain_row`]).
    /// `holding` and `next_cdf` then hold nothing a trial reads.
    pub uncertain: Vec<Option<Vec<Dist>>>,
}

/// The holding time and next-state cdf of state `i` of a chain whose row `i` is `p`
/// (probabilities adding up to 1).
pub fn chain_row(i: usize, p: &[f64]) -> (Geometric, Vec<f64>) {
    let mut cdf = vec![0.0; p.len()];
    (chain_row_into(i, p, 1.0, &mut cdf), cdf)
}

/// [`chain_row`] for a row of weights `p` times `scale` (1 / their sum; where the weights are all
/// zero, the state is never left), writing the cdf into `cdf` without allocating.
#[inline]
pub fn chain_row_into(i: usize, p: &[f64], scale: f64, cdf: &mut [f64]) -> Geometric {
    let out = if scale.is_finite() {
        (1.0 - p[i] * scale).max(0.0)
    } else {
        0.0
    };
    let mut acc = 0.0;
    for (j, (&pj, c)) in p.iter().zip(cdf.iter_mut()).enumerate() {
        if j != i && out > 0.0 {
            acc += pj * scale / out;
        }
        *c = acc;
    }
    Geometric::new(out)
}

/// A probability or other parameter that may depend on the regime, sampled once per trial.
#[derive(Clone, Debug)]
pub enum RParam {
    /// Same in every state.
    Same(Dist),
    /// One distribution per regime state, in state order.
    ByRegime(Vec<Dist>),
}

impl RParam {
    /// Whether the value depends on the regime state.
    pub fn by_regime(&self) -> bool {
        matches!(self, RParam::ByRegime(_))
    }
}

/// How an episodic shock starts.
#[derive(Clone, Debug)]
pub enum Start {
    /// Active from period 0.
    Always,
    /// One episode at a scheduled or sampled period, happening with a probability.
    At {
        /// Start period (rounded to a whole period).
        at: Dist,
        /// Probability it happens, evaluated in the regime state at its start.
        probability: RParam,
    },
    /// Episodes start with a per-period probability while inactive.
    Hazard {
        /// Per-period probability that an episode starts.
        p: RParam,
        /// Whether an episode is under way in period 0 with the stationary probability of the
        /// on/off process (needs an end hazard, see [`Length::Hazard`]).
        stationary: bool,
    },
}

/// How long an episode lasts.
#[derive(Clone, Debug)]
pub enum Length {
    /// To the end of the horizon.
    Forever,
    /// Sampled number of periods (at least 1).
    Periods(Dist),
    /// Ends with a per-period probability.
    Hazard(RParam),
}

/// When an episodic shock is active.
#[derive(Clone, Debug)]
pub struct Timing {
    /// Start rule.
    pub start: Start,
    /// Length rule.
    pub length: Length,
}

/// What a shock does.
#[derive(Clone, Debug)]
pub enum ShockKind {
    /// Two-state Markov up/down process on a node.
    Markov {
        /// Node index.
        node: u32,
        /// Per-period probability of failing while up.
        p_fail: RParam,
        /// Per-period probability of recovering while down.
        p_recover: RParam,
        /// Start state.
        initial: Initial,
        /// Fraction of capacity lost while down, per episode.
        severity: Dist,
    },
    /// Random outage events on a node.
    Events {
        /// Node index.
        node: u32,
        /// Per-period probability an event starts.
        p_event: RParam,
        /// Duration in periods.
        duration: Dist,
        /// Fraction of capacity lost.
        severity: Dist,
    },
    /// A planned plant that comes online late.
    Delay {
        /// Node index.
        node: u32,
        /// Announced start period.
        nominal: i64,
        /// Slip in periods.
        delay: Dist,
        /// Ramp-up length in periods.
        ramp: Dist,
    },
    /// An export restriction.
    Restriction {
        /// Edges covered.
        edges: Vec<u32>,
        /// Fraction blocked at first.
        severity: Dist,
        /// Periods before licences flow.
        licensing_lag: Option<Dist>,
        /// Fraction blocked once licences flow.
        licensed_severity: Option<Dist>,
        /// When.
        timing: Timing,
    },
    /// A tariff.
    Tariff {
        /// Edges covered.
        edges: Vec<u32>,
        /// Ad valorem rate.
        rate: Dist,
        /// Share elasticity.
        elasticity: f64,
        /// When.
        timing: Timing,
    },
}

/// A shock with its name and random stream.
#[derive(Clone, Debug)]
pub struct Shock {
    /// Name in reports.
    pub id: String,
    /// Category in reports (outage, delay, restriction, tariff).
    pub category: &'static str,
    /// What it does.
    pub kind: ShockKind,
    /// Random stream key, a hash of `id`: the same shock draws the same numbers in any scenario.
    pub stream: u64,
}

/// A validated, compiled scenario.
#[derive(Clone, Debug)]
pub struct Model {
    /// Scenario name.
    pub name: String,
    /// What in the scenario is allowed but probably not meant (a node whose output reaches no
    /// demand node, say), for the commands to print.
    pub warnings: Vec<String>,
    /// Description.
    pub description: String,
    /// Horizon in periods.
    pub periods: usize,
    /// Year and month of period 0.
    pub start: (i32, u32),
    /// Default trial count.
    pub trials: u64,
    /// Default seed.
    pub seed: u64,
    /// Allocation policy.
    pub policy: Policy,
    /// Periods short before re-routing starts.
    pub reroute_lag: u32,
    /// Shortfall thresholds as fractions of total demand.
    pub thresholds: Vec<f64>,
    /// Country codes.
    pub countries: Vec<String>,
    /// The materials the scenario declares, in file order (empty: one material throughout).
    pub materials: Vec<Material>,
    /// The countries whose origin share the kernels carry through stocks and flows (indices
    /// into [`Model::countries`]): those of restrictions with a `de_minimis` reach.
    pub origins: Vec<u16>,
    /// The reaches edges refer to ([`Edge::reach`]).
    pub reaches: Vec<Reach>,
    /// With materials: what each trial records of which inputs limited each demand node (see
    /// [`Limit`]), by demand node; demand node d's are `limits[limit_off[d]..limit_off[d + 1]]`.
    pub limits: Vec<Limit>,
    /// Offsets into `limits`, one per demand node and one more.
    pub limit_off: Vec<u32>,
    /// Nodes in topological order (every supplier before its buyers).
    pub nodes: Vec<Node>,
    /// Edges grouped by buyer, in buyer order.
    pub edges: Vec<Edge>,
    /// In-edges of node n are `edges[in_off[n]..in_off[n + 1]]`.
    pub in_off: Vec<u32>,
    /// Out-edges of node n are `out_edges[out_off[n]..out_off[n + 1]]` (edge indices).
    pub out_edges: Vec<u32>,
    /// Offsets into `out_edges`.
    pub out_off: Vec<u32>,
    /// Demand nodes, in node order.
    pub demand: Vec<DemandNode>,
    /// The regime chain, if any.
    pub regime: Option<Regime>,
    /// Shocks, in file order by category: outages, delays, restrictions, tariffs.
    pub shocks: Vec<Shock>,
    /// Nodes with an in-edge covered by a tariff, whose shares tariffs may shift.
    pub tariff_buyers: Vec<u32>,
    /// Per node, in node order: the fields the kernel reads every period.
    pub hot: Vec<Hot>,
    /// Per node: the announced start of a planned plant (latest over its delays), before which
    /// zero capacity is the plan rather than a shock; `i64::MIN` for existing plants.
    pub planned_online: Vec<i64>,
    /// The timeline's columns: only nodes and edges that some shock can touch have one.
    pub slots: Slots,
    /// The quantities given as distributions, which each trial records after its shock
    /// magnitudes (see [`Model::draw_stride`]).
    pub inputs: inputs::Inputs,
}

/// Marks a node or edge without a column in the timeline.
pub const NO_SLOT: u32 = u32::MAX;

/// Most trials one run holds; larger runs are split into shards.
pub const MAX_TRIALS: u64 = u32::MAX as u64;

/// Smallest yield a node may have (and 1 / it the largest): far outside any real process, and
/// keeps 1 / yield and every flow finite.
pub const MIN_YIELD: f64 = 1e-6;

/// Columns of the shock timeline (see [`crate::sim::kernel::Timeline`]): a node with an outage or
/// delay; the edges under one and the same set of restrictions; the edges under one and the same
/// set of tariffs. Edges that share a column see the same shocks in the same order, so they hold
/// the same values bit for bit, and a shock writes each of its columns once. Everything else
/// keeps its neutral value (capacity factor 1, allowed fraction 1, tariff rate 0) without storing
/// it.
#[derive(Clone, Debug, Default)]
pub struct Slots {
    /// Per node: its column of capacity factors, or [`NO_SLOT`].
    pub node: Vec<u32>,
    /// Columns of capacity factors.
    pub nodes: usize,
    /// Per edge: its column of allowed fractions, or [`NO_SLOT`].
    pub allow: Vec<u32>,
    /// Columns of allowed fractions.
    pub allows: usize,
    /// Per edge: its column of tariff rates and share multipliers, or [`NO_SLOT`].
    pub tariff: Vec<u32>,
    /// Columns of tariff rates.
    pub tariffs: usize,
    /// Per shock: the columns it writes, each once (node, allowed-fraction or tariff columns by
    /// its kind).
    pub columns: Vec<Vec<u32>>,
}

impl Slots {
    fn of(n_nodes: usize, n_edges: usize, shocks: &[Shock]) -> Slots {
        let mut s = Slots {
            node: vec![NO_SLOT; n_nodes],
            allow: vec![NO_SLOT; n_edges],
            tariff: vec![NO_SLOT; n_edges],
            ..Slots::default()
        };
        // The restrictions and the tariffs over each edge, in shock order.
        let mut restricted_by = vec![Vec::new(); n_edges];
        let mut taxed_by = vec![Vec::new(); n_edges];
        for (i, sh) in shocks.iter().enumerate() {
            match &sh.kind {
                ShockKind::Markov { node, .. }
                | ShockKind::Events { node, .. }
                | ShockKind::Delay { node, .. } => {
                    let slot = &mut s.node[*node as usize];
                    if *slot == NO_SLOT {
                        *slot = s.nodes as u32;
                        s.nodes += 1;
                    }
                }
                ShockKind::Restriction { edges, .. } => {
                    for &e in edges {
                        restricted_by[e as usize].push(i);
                    }
                }
                ShockKind::Tariff { edges, .. } => {
                    for &e in edges {
                        taxed_by[e as usize].push(i);
                    }
                }
            }
        }
        // One column per distinct set of shocks, numbered in edge order.
        let classes = |by: &[Vec<usize>], slot: &mut [u32], count: &mut usize| {
            let mut seen: HashMap<&[usize], u32> = HashMap::new();
            for (e, set) in by.iter().enumerate() {
                if !set.is_empty() {
                    let next = seen.len() as u32;
                    slot[e] = *seen.entry(set.as_slice()).or_insert(next);
                }
            }
            *count = seen.len();
        };
        classes(&restricted_by, &mut s.allow, &mut s.allows);
        classes(&taxed_by, &mut s.tariff, &mut s.tariffs);
        s.columns = shocks
            .iter()
            .map(|sh| {
                let (edges, slot) = match &sh.kind {
                    ShockKind::Markov { node, .. }
                    | ShockKind::Events { node, .. }
                    | ShockKind::Delay { node, .. } => return vec![s.node[*node as usize]],
                    ShockKind::Restriction { edges, .. } => (edges, &s.allow),
                    ShockKind::Tariff { edges, .. } => (edges, &s.tariff),
                };
                let mut cols: Vec<u32> = Vec::new();
                for &e in edges {
                    let c = slot[e as usize];
                    if !cols.contains(&c) {
                        cols.push(c);
                    }
                }
                cols
            })
            .collect();
        s
    }
}

impl Model {
    /// Calendar label `YYYY-MM` of period `t`.
    pub fn month_label(&self, t: usize) -> String {
        let m0 = self.start.0 as i64 * 12 + (self.start.1 as i64 - 1) + t as i64;
        format!("{:04}-{:02}", m0.div_euclid(12), m0.rem_euclid(12) + 1)
    }

    /// Figures one trial records besides its outcomes, at least 1: each shock's magnitude, then
    /// the value of each uncertain input (see [`inputs`]), then each [`Limit`].
    pub fn draw_stride(&self) -> usize {
        (self.shocks.len() + self.inputs.len() + self.limits.len()).max(1)
    }

    /// The share of tracked origin `k` ([`Model::origins`]) in what node `n` ships, where it is
    /// fixed: 1 for a node in that country, 0 for a mine elsewhere; `None` where it follows the
    /// node's input stock.
    #[inline(always)]
    pub fn fixed_origin(&self, n: usize, k: usize) -> Option<f64> {
        if self.nodes[n].country == self.origins[k] {
            Some(1.0)
        } else if self.hot[n].kind == Kind::Mine {
            Some(0.0)
        } else {
            None
        }
    }

    /// Where a trial's [`Limit`] figures start in its row of draws.
    pub fn limit_base(&self) -> usize {
        self.shocks.len() + self.inputs.len()
    }

    /// 64-bit words of one trial's shock flags (at least 1).
    pub fn shock_words(&self) -> usize {
        self.shocks.len().div_ceil(64).max(1)
    }

    /// Node index of a demand node.
    pub fn demand_id(&self, d: usize) -> &str {
        &self.nodes[self.demand[d].node as usize].id
    }

    /// The graph's size for messages: "31 nodes, 60 edges", and with materials the parts the
    /// model adds and the materials.
    pub fn graph_size(&self) -> String {
        let parts = self.nodes.iter().filter(|n| n.part != Part::Whole).count();
        if self.materials.is_empty() {
            format!("{} nodes, {} edges", self.nodes.len(), self.edges.len())
        } else {
            format!(
                "{} nodes + {parts} parts of recipes and co-products, {} edges, {} materials",
                self.nodes.len() - parts,
                self.edges.len(),
                self.materials.len()
            )
        }
    }

    /// The id of material `k`, or `None` where the scenario declares no materials.
    pub fn material_id(&self, k: u16) -> Option<&str> {
        self.materials.get(k as usize).map(|x| x.id.as_str())
    }
}

/// Parses and compiles scenario text; `path` names it in errors.
pub fn compile_str(text: &str, path: &str) -> Result<Model, ScenarioError> {
    let raw = scenario::parse(text).map_err(|error| ScenarioError::Parse {
        path: path.to_string(),
        error: Box::new(error),
    })?;
    validate::Compiler { path, text }
        .validate(&raw)
        .map(compile::compile)
        .map_err(|d| ScenarioError::Invalid(Box::new(d)))
}

/// FNV-1a, a fixed hash for stream keys (never `DefaultHasher`, whose output may change).
pub fn stream_key(id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}
