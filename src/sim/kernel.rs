//! One trial: sample the shock timeline, then step the periods.
//!
//! A plain function over plain data. It performs no I/O, never panics on model data, and
//! allocates nothing: every buffer lives in a [`Scratch`] sized once from the model.
//!
//! Per period the kernel runs two passes over the nodes (see scenarios/README.md, "What the model
//! does each period"):
//! 1. orders, buyers before suppliers: each node works out what it needs and splits the order
//!    over its suppliers by (tariff-adjusted) shares;
//! 2. production and shipping, suppliers before buyers: each node receives what its suppliers
//!    shipped, re-orders any gap from suppliers with spare output (flexible policy), produces
//!    within capacity and input, and ships, rationing pro rata (after offtakes) when short and
//!    withholding what export restrictions block.

// Index loops over CSR ranges read more plainly than zipped iterators over several arrays.
#![allow(clippy::needless_range_loop)]

use crate::model::inputs::Field;
use crate::model::{Initial, Kind, Policy, chain_row_into};
use crate::model::{
    Length, MAX_PERIOD_OFFSET, MAX_STATES, Model, NO_SLOT, RParam, ShockKind, Start, Timing,
};
use crate::prob::dist::{Dist, Geometric, unit};

use crate::prob::rng::{TrialRng, splitmix64};
use crate::sim::result::{DemandOutcome, NONE};

/// Stream key of the regime path.
const REGIME_STREAM: u64 = 0x7265_6769_6d65; // "regime"

/// A relative tolerance below which a shortfall is float noise.
pub(crate) const EPS: f64 = 1e-9;

/// The part of a trial's generators shared by all its streams (see [`keyed_rng`]).
#[inline]
fn trial_hash(seed: u64, trial: u64) -> u64 {
    splitmix64(splitmix64(seed) ^ trial)
}

/// The generator of stream `key` of the trial with [`trial_hash`] `hash`. It depends on the
/// master seed, the trial index and the key alone, so a trial draws the same numbers whatever
/// thread or shard runs it, and a shock (keyed by its id) draws the same numbers in any scenario
/// that declares it: common random numbers.
#[inline]
fn keyed_rng(hash: u64, key: u64) -> TrialRng {
    TrialRng::seed_from_u64(splitmix64(hash ^ key))
}

/// The sampled shocks of up to `W` trials, one lane per trial: multipliers and flags per period,
/// read by the period steps. Rows are `[t * columns + column]`, with columns only for the nodes
/// and edges that shocks can touch, and one column for all the edges under the same set of
/// restrictions or tariffs (see [`crate::model::Slots`]); lane `l` of each holds trial `l`'s
/// value. Read them per node or edge through [`Timeline::factor`] and its siblings.
#[derive(Clone, Debug)]
pub struct Timeline<const W: usize> {
    /// Capacity multiplier per (period, node column): outages and delays.
    pub node_factor: Vec<[f64; W]>,
    /// Fraction allowed through per (period, edge column): export restrictions.
    pub edge_allow: Vec<[f64; W]>,
    /// Summed tariff rate per (period, edge column).
    pub edge_rate: Vec<[f64; W]>,
    /// Share multiplier per (period, edge column) from tariff elasticities.
    pub edge_wmul: Vec<[f64; W]>,
    /// Whether any node factor of period t differs from 1 (rows not touched stay all 1).
    pub node_touched: Vec<[bool; W]>,
    /// Whether any restriction is active in period t.
    pub allow_touched: Vec<[bool; W]>,
    /// Whether any tariff is active in period t.
    pub tariff_touched: Vec<[bool; W]>,
    /// Whether a tariff episode starts or ends at period t: the tariff rows differ from the
    /// previous period's (or period 0 has a tariff), so buyers' shares must be recomputed.
    pub tariff_changed: Vec<[bool; W]>,
    /// First period any outage, delay or restriction is active, or `usize::MAX`.
    pub first_shock: [usize; W],
    /// Regime state of each period, lane by lane: `regime[lane * periods + t]`.
    regime: Vec<u8>,
    /// Periods whose node, restriction or tariff rows a trial has written since the last reset.
    dirty: Vec<[bool; 3]>,
    /// What every trial starts from: the effect of the fixed shocks applied once (see [`baked`]).
    base: Base,
}

/// The rows of one trial with only the fixed shocks applied (the same in every trial), and the
/// first period and magnitude of each fixed shock.
#[derive(Clone, Debug)]
struct Base {
    rows: Timeline1,
    /// Per shock: `(first active period, magnitude)` when the shock is fixed.
    fixed: Vec<Option<(usize, f64)>>,
}

/// Lane-uniform rows: [`Timeline`]'s fields for one trial.
#[derive(Clone, Debug, Default)]
struct Timeline1 {
    node_factor: Vec<f64>,
    edge_allow: Vec<f64>,
    edge_rate: Vec<f64>,
    edge_wmul: Vec<f64>,
    node_touched: Vec<bool>,
    allow_touched: Vec<bool>,
    tariff_touched: Vec<bool>,
    tariff_changed: Vec<bool>,
}

/// Which shocks are applied once, to the rows every trial starts from: the fixed ones (see
/// [`is_fixed`]) whose row columns no sampled shock before them (in `m.shocks` order) touches.
/// Each row then sees its shocks in that order, as if all were drawn in every trial, which keeps
/// the floating-point products and sums the same to the bit.
pub fn baked(m: &Model) -> Vec<bool> {
    let sl = &m.slots;
    let mut sampled = [
        vec![false; sl.nodes],
        vec![false; sl.allows],
        vec![false; sl.tariffs],
    ];
    m.shocks
        .iter()
        .zip(&sl.columns)
        .map(|(shock, cols)| {
            let rows = match &shock.kind {
                ShockKind::Markov { .. } | ShockKind::Events { .. } | ShockKind::Delay { .. } => 0,
                ShockKind::Restriction { .. } => 1,
                ShockKind::Tariff { .. } => 2,
            };
            let seen = &mut sampled[rows];
            let bake = is_fixed(&shock.kind) && cols.iter().all(|&c| !seen[c as usize]);
            if !bake {
                for &c in cols {
                    seen[c as usize] = true;
                }
            }
            bake
        })
        .collect()
}

/// Whether a shock has the same effect in every trial: it draws no random number (fixed
/// values, active from period 0 for a fixed length or to the end). Such shocks can be applied
/// once to the rows every trial starts from (see [`baked`]).
pub fn is_fixed(kind: &ShockKind) -> bool {
    let fixed = |d: &Dist| matches!(d, Dist::Fixed(_));
    let fixed_timing = |t: &Timing| {
        matches!(t.start, Start::Always)
            && match &t.length {
                Length::Forever => true,
                Length::Periods(d) => fixed(d),
                Length::Hazard(_) => false,
            }
    };
    match kind {
        ShockKind::Markov { .. } | ShockKind::Events { .. } => false,
        ShockKind::Delay { delay, ramp, .. } => fixed(delay) && fixed(ramp),
        ShockKind::Restriction {
            severity,
            licensing_lag,
            licensed_severity,
            timing,
            ..
        } => {
            fixed_timing(timing)
                && fixed(severity)
                && licensing_lag.as_ref().is_none_or(fixed)
                && licensed_severity.as_ref().is_none_or(fixed)
        }
        ShockKind::Tariff { rate, timing, .. } => fixed_timing(timing) && fixed(rate),
    }
}

impl<const W: usize> Timeline<W> {
    /// Rows sized for `m`, every lane with only the fixed shocks.
    pub fn new(m: &Model) -> Timeline<W> {
        let (sl, t) = (&m.slots, m.periods);
        let mut tl = Timeline {
            node_factor: vec![[1.0; W]; t * sl.nodes],
            edge_allow: vec![[1.0; W]; t * sl.allows],
            edge_rate: vec![[0.0; W]; t * sl.tariffs],
            edge_wmul: vec![[1.0; W]; t * sl.tariffs],
            node_touched: vec![[false; W]; t],
            allow_touched: vec![[false; W]; t],
            tariff_touched: vec![[false; W]; t],
            tariff_changed: vec![[false; W]; t],
            first_shock: [usize::MAX; W],
            regime: vec![0; W * t],
            dirty: vec![[false; 3]; t],
            base: Base {
                rows: Timeline1::default(),
                fixed: vec![None; m.shocks.len()],
            },
        };
        // The fixed shocks draw nothing, so any generator will do; they ignore the regime path.
        let mut rng = TrialRng::seed_from_u64(0);
        for (i, baked) in baked(m).into_iter().enumerate() {
            if baked {
                // Nor have they an uncertain input to record.
                let mut rec = Rec {
                    row: &mut [],
                    cols: &m.inputs.shock[i],
                };
                let (first, mag) = (0..W)
                    .map(|l| apply_shock(m, i, &mut rng, &mut rec, &mut tl, l))
                    .last()
                    .unwrap_or((usize::MAX, 0.0));
                tl.base.fixed[i] = Some((first, mag));
            }
        }
        let lane0 = |rows: &[[f64; W]]| rows.iter().map(|r| r[0]).collect();
        let flags0 = |rows: &[[bool; W]]| rows.iter().map(|r| r[0]).collect();
        tl.base.rows = Timeline1 {
            node_factor: lane0(&tl.node_factor),
            edge_allow: lane0(&tl.edge_allow),
            edge_rate: lane0(&tl.edge_rate),
            edge_wmul: lane0(&tl.edge_wmul),
            node_touched: flags0(&tl.node_touched),
            allow_touched: flags0(&tl.allow_touched),
            tariff_touched: flags0(&tl.tariff_touched),
            tariff_changed: flags0(&tl.tariff_changed),
        };
        tl.dirty.fill([false; 3]);
        tl
    }

    /// Returns every lane to the fixed shocks alone, rewriting only the periods that trials
    /// have written since the last reset.
    pub fn reset(&mut self, m: &Model) {
        let (sn, sa, st) = (m.slots.nodes, m.slots.allows, m.slots.tariffs);
        let b = &self.base.rows;
        let splat = |dst: &mut [[f64; W]], src: &[f64]| {
            for (d, &v) in dst.iter_mut().zip(src) {
                *d = [v; W];
            }
        };
        for (t, dirty) in self.dirty.iter_mut().enumerate() {
            if dirty[0] {
                splat(
                    &mut self.node_factor[t * sn..(t + 1) * sn],
                    &b.node_factor[t * sn..(t + 1) * sn],
                );
                self.node_touched[t] = [b.node_touched[t]; W];
            }
            if dirty[1] {
                splat(
                    &mut self.edge_allow[t * sa..(t + 1) * sa],
                    &b.edge_allow[t * sa..(t + 1) * sa],
                );
                self.allow_touched[t] = [b.allow_touched[t]; W];
            }
            if dirty[2] {
                splat(
                    &mut self.edge_rate[t * st..(t + 1) * st],
                    &b.edge_rate[t * st..(t + 1) * st],
                );
                splat(
                    &mut self.edge_wmul[t * st..(t + 1) * st],
                    &b.edge_wmul[t * st..(t + 1) * st],
                );
                self.tariff_touched[t] = [b.tariff_touched[t]; W];
            }
            self.tariff_changed[t] = [b.tariff_changed[t]; W];
            *dirty = [false; 3];
        }
    }

    /// Whether no lane's sampled shocks touch period `t`: its rows are those of the fixed shocks
    /// alone, the same in every lane.
    #[inline]
    pub fn untouched(&self, t: usize) -> bool {
        self.dirty[t] == [false; 3]
            && self.tariff_changed[t] == [self.base.rows.tariff_changed[t]; W]
    }

    /// Scales lane `l` of node column `k` in period `t` by `f`.
    #[inline(always)]
    fn scale_node(&mut self, m: &Model, t: usize, k: usize, l: usize, f: f64) {
        self.node_factor[t * m.slots.nodes + k][l] *= f;
        self.node_touched[t][l] = true;
        self.dirty[t][0] = true;
    }

    /// Capacity multipliers of node `n` in period `t`.
    #[inline(always)]
    pub fn factor(&self, m: &Model, t: usize, n: usize) -> [f64; W] {
        match m.slots.node[n] {
            NO_SLOT => [1.0; W],
            k => self.node_factor[t * m.slots.nodes + k as usize],
        }
    }

    /// Allowed fractions of edge `e` in period `t`.
    #[inline(always)]
    pub fn allow(&self, m: &Model, t: usize, e: usize) -> [f64; W] {
        match m.slots.allow[e] {
            NO_SLOT => [1.0; W],
            k => self.edge_allow[t * m.slots.allows + k as usize],
        }
    }

    /// Tariff rates of edge `e` in period `t`.
    #[inline(always)]
    pub fn rate(&self, m: &Model, t: usize, e: usize) -> [f64; W] {
        match m.slots.tariff[e] {
            NO_SLOT => [0.0; W],
            k => self.edge_rate[t * m.slots.tariffs + k as usize],
        }
    }

    /// Share multipliers of edge `e` in period `t`.
    #[inline(always)]
    pub fn wmul(&self, m: &Model, t: usize, e: usize) -> [f64; W] {
        match m.slots.tariff[e] {
            NO_SLOT => [1.0; W],
            k => self.edge_wmul[t * m.slots.tariffs + k as usize],
        }
    }
}

/// Working memory for trials of one model; reuse it across trials.
#[derive(Clone, Debug)]
pub struct Scratch {
    /// The trial's sampled shocks.
    pub tl: Timeline<1>,
    /// Effective capacity this period, per node.
    pub cap: Vec<f64>,
    /// Input stock per node (demand nodes: their stock of the finished good).
    pub stock: Vec<f64>,
    /// Orders received this period, per node.
    pub want: Vec<f64>,
    /// Planned output this period, per node.
    pub plan: Vec<f64>,
    /// Input needed this period, per node.
    pub need: Vec<f64>,
    /// Output this period, per node.
    pub out: Vec<f64>,
    /// Output a node could still make this period, per node.
    pub spare: Vec<f64>,
    /// Received this period, per node.
    pub recv: Vec<f64>,
    /// Volume lost to stock caps this period, per node.
    pub lost: Vec<f64>,
    /// Tariff cost per tonne of input stock, per node.
    pub cost_in: Vec<f64>,
    /// Per node and tracked origin ([`Model::origins`]), `origin[n * origins + k]`: the share of
    /// that origin in the node's input stock, and so in what it ships (1 for a node in that
    /// country).
    pub origin: Vec<f64>,
    /// Per recipe node: in a period it was short of inputs, the in-edge of the input part that
    /// shipped least (the first such), which set how much it could make; else `u32::MAX`.
    pub scarcest: Vec<u32>,
    /// The trial's [`crate::model::Limit`] figures so far: per limit, its demand node's shortfall
    /// in the periods when a recipe node upstream was short of its material.
    pub limited: Vec<f64>,
    /// Consecutive periods a node has been short of its needs.
    pub short_run: Vec<u32>,
    /// Re-routed volume asked of each node this period beyond what it could serve (output
    /// tonnes); next period it raises its input stock target by as much.
    pub asked: Vec<f64>,
    /// `asked` of the previous period.
    pub asked_prev: Vec<f64>,
    /// Buyer-side weight of each edge this period.
    pub weight: Vec<f64>,
    /// Order on each edge this period.
    pub order: Vec<f64>,
    /// The part of each order that serves current use (output or demand), without stock
    /// refills: a restricted edge carries at most its allowed fraction of it.
    pub base: Vec<f64>,
    /// Shipment on each edge this period.
    pub ship: Vec<f64>,
    /// Remaining strategic stockpile per demand node.
    pub stockpile: Vec<f64>,
    /// Delivered this period per demand node (including stockpile releases).
    pub delivered: Vec<f64>,
    /// Shortfall this period per demand node.
    pub shortfall: Vec<f64>,
    /// Delivered fraction of demand per (demand node, period).
    pub frac: Vec<f32>,
    /// Per shock, how much of it the trial drew: capacity-periods lost (outages), periods of
    /// slip (delays), blocked-fraction-periods (restrictions) or rate-periods (tariffs); then the
    /// value it drew for each uncertain input, NaN where it drew none (see
    /// [`Model::draw_stride`]).
    pub draws: Vec<f32>,
}

impl Scratch {
    /// Buffers sized for `m`.
    pub fn new(m: &Model) -> Scratch {
        let (n, e, t, d) = (m.nodes.len(), m.edges.len(), m.periods, m.demand.len());
        Scratch {
            tl: Timeline::new(m),
            cap: vec![0.0; n],
            stock: vec![0.0; n],
            want: vec![0.0; n],
            plan: vec![0.0; n],
            need: vec![0.0; n],
            out: vec![0.0; n],
            spare: vec![0.0; n],
            recv: vec![0.0; n],
            lost: vec![0.0; n],
            cost_in: vec![0.0; n],
            origin: vec![0.0; n * m.origins.len()],
            scarcest: vec![u32::MAX; n],
            limited: vec![0.0; m.limits.len()],
            short_run: vec![0; n],
            asked: vec![0.0; n],
            asked_prev: vec![0.0; n],
            weight: vec![0.0; e],
            order: vec![0.0; e],
            base: vec![0.0; e],
            ship: vec![0.0; e],
            stockpile: vec![0.0; d],
            delivered: vec![0.0; d],
            shortfall: vec![0.0; d],
            frac: vec![0.0; d * t],
            draws: vec![0.0; m.draw_stride()],
        }
    }
}

/// Sees the state after each period; used by tests to check invariants.
pub trait Observer {
    /// Called after period `t` has been simulated.
    fn period(&mut self, _t: usize, _m: &Model, _s: &Scratch) {}
}

/// Observes nothing (the production path).
pub struct NoObserver;
impl Observer for NoObserver {}

/// Runs trial `trial` of `m` under master seed `seed`. Writes one outcome per demand node into
/// `out` and the occurred flag of each shock into the bitset `occurred` (shock i is bit i % 64
/// of word i / 64); `s.frac` holds the delivered fraction per demand node and period.
pub fn run_trial<O: Observer>(
    m: &Model,
    seed: u64,
    trial: u64,
    s: &mut Scratch,
    out: &mut [DemandOutcome],
    occurred: &mut [u64],
    obs: &mut O,
) {
    s.tl.reset(m);
    sample_timelines(m, seed, &[trial], &mut s.tl, occurred, &mut s.draws);
    step_periods(m, s, out, obs);
    let base = m.limit_base();
    for (d, &x) in s.draws[base..].iter_mut().zip(&s.limited) {
        *d = x as f32;
    }
}

/// Fills each lane `l` of `s` with the shocks of trial `trials[l]`, its occurred flags (in
/// `occurred[l * words..]`, see [`run_trial`]), its per-shock magnitudes and then the values it
/// drew for each uncertain input (in `draws[l * stride..]`, stride [`Model::draw_stride`]; NaN
/// for an input the trial never drew). The lanes must hold only the fixed shocks (a new or reset
/// [`Timeline`]). Each shock is drawn for every lane before the next: the lanes' rows of a column
/// lie side by side, and each lane still sees its shocks in model order.
pub fn sample_timelines<const W: usize>(
    m: &Model,
    seed: u64,
    trials: &[u64; W],
    s: &mut Timeline<W>,
    occurred: &mut [u64],
    draws: &mut [f32],
) {
    let (tt, words, ns) = (m.periods, m.shock_words(), m.shocks.len());
    let stride = m.draw_stride();
    debug_assert_eq!(occurred.len(), W * words);
    debug_assert_eq!(draws.len(), W * stride);
    occurred.fill(0);
    if !m.inputs.is_empty() {
        for row in draws.chunks_exact_mut(stride) {
            row[ns..].fill(f32::NAN);
        }
    }
    let hash = trials.map(|trial| trial_hash(seed, trial));
    // Regime paths: holding times are geometric, so draws happen only at transitions.
    for (l, &hash) in hash.iter().enumerate() {
        let path = &mut s.regime[l * tt..(l + 1) * tt];
        match &m.regime {
            None => path.fill(0),
            Some(r) => {
                let mut rng = keyed_rng(hash, REGIME_STREAM);
                // Uncertain rows first, once per trial: each entry's weight, divided by the sum.
                let n = r.states.len();
                let mut holding = [Geometric::new(0.0); MAX_STATES];
                let mut cdf = [[0.0; MAX_STATES]; MAX_STATES];
                for (i, row) in r.uncertain.iter().enumerate() {
                    let Some(row) = row else { continue };
                    let mut w = [0.0; MAX_STATES];
                    for (w, d) in w.iter_mut().zip(row) {
                        *w = d.sample(&mut rng);
                    }
                    let sum: f64 = w[..n].iter().sum();
                    holding[i] = chain_row_into(i, &w[..n], 1.0 / sum, &mut cdf[i][..n]);
                    let rec = &mut draws[l * stride + ns..(l + 1) * stride];
                    for (j, &x) in w[..n].iter().enumerate() {
                        rec[m.inputs.regime[i * n + j] as usize] = (x / sum) as f32;
                    }
                }
                let mut state = r.initial;
                let mut t = 0usize;
                while t < tt {
                    let fixed = r.uncertain[state].is_none();
                    let hold = if fixed {
                        &r.holding[state]
                    } else {
                        &holding[state]
                    };
                    let stay = hold.sample(&mut rng) as usize;
                    let end = t.saturating_add(stay).min(tt);
                    path[t..end].fill(state as u8);
                    t = end;
                    if t < tt {
                        let u = unit(&mut rng);
                        let cdf = if fixed {
                            &r.next_cdf[state][..]
                        } else {
                            &cdf[state][..n]
                        };
                        state = cdf.iter().position(|&c| u < c).unwrap_or(cdf.len() - 1);
                    }
                }
            }
        }
    }

    let mut first_shock = [usize::MAX; W];
    for (i, shock) in m.shocks.iter().enumerate() {
        // Tariffs cost money but cut no supply: they do not start the survival clock.
        let supply = !matches!(shock.kind, ShockKind::Tariff { .. });
        for (l, &hash) in hash.iter().enumerate() {
            let (row, rest) = draws[l * stride..(l + 1) * stride].split_at_mut(ns);
            let (first, mag) = match s.base.fixed[i] {
                Some(fixed) => fixed,
                None => {
                    let mut rec = Rec {
                        row: rest,
                        cols: &m.inputs.shock[i],
                    };
                    apply_shock(m, i, &mut keyed_rng(hash, shock.stream), &mut rec, s, l)
                }
            };
            row[i] = mag as f32;
            if first < tt {
                occurred[l * words + i / 64] |= 1 << (i % 64);
                if supply {
                    first_shock[l] = first_shock[l].min(first);
                }
            }
        }
    }
    s.first_shock = first_shock;
}

/// Applies one shock's draws to lane `l` of `s`; returns the first period it is active
/// (`usize::MAX` if never) and its magnitude (see [`Scratch::draws`]).
///
/// One arm per shock kind, each a short, self-contained sampler: the match is the dispatch, and
/// every arm draws only from the shock's own random stream.
fn apply_shock<const W: usize>(
    m: &Model,
    i: usize,
    rng: &mut TrialRng,
    rec: &mut Rec,
    s: &mut Timeline<W>,
    l: usize,
) -> (usize, f64) {
    let tt = m.periods;
    let sl = &m.slots;
    let (shock, cols) = (&m.shocks[i], &sl.columns[i]);
    let mut first = usize::MAX;
    let mut mag = 0.0f64;
    match &shock.kind {
        ShockKind::Markov {
            node,
            p_fail,
            p_recover,
            initial,
            severity,
        } => {
            let n = sl.node[*node as usize] as usize;
            let pf = rec.param(Field::PFail, p_fail, rng);
            let pr = rec.param(Field::PRecover, p_recover, rng);
            let r0 = s.regime.get(l * tt).copied().unwrap_or(0) as usize;
            let mut up = match initial {
                Initial::Up => true,
                Initial::Stationary => {
                    let (f, r) = (pf.at(r0), pr.at(r0));
                    let p_down = if f + r > 0.0 { f / (f + r) } else { 0.0 };
                    unit(rng) >= p_down
                }
            };
            let mut t = 0usize;
            if pf.varies || pr.varies {
                let mut sev = 0.0;
                if !up {
                    sev = rec.dist(Field::Severity, severity, rng);
                }
                while t < tt {
                    if !up {
                        s.scale_node(m, t, n, l, 1.0 - sev);
                        first = first.min(t);
                        mag += sev;
                    }
                    let g = s.regime[l * tt + t] as usize;
                    if up {
                        if unit(rng) < pf.at(g) {
                            up = false;
                            sev = rec.dist(Field::Severity, severity, rng);
                        }
                    } else if unit(rng) < pr.at(g) {
                        up = true;
                    }
                    t += 1;
                }
            } else {
                while t < tt {
                    if up {
                        t = t.saturating_add(pf.waiting().sample(rng) as usize);
                        up = false;
                    } else {
                        let sev = rec.dist(Field::Severity, severity, rng);
                        let end = t.saturating_add(pr.waiting().sample(rng) as usize).min(tt);
                        for k in t..end {
                            s.scale_node(m, k, n, l, 1.0 - sev);
                        }
                        first = first.min(t);
                        mag += sev * (end - t) as f64;
                        t = end;
                        up = true;
                    }
                }
            }
        }
        ShockKind::Events {
            node,
            p_event,
            duration,
            severity,
        } => {
            let n = sl.node[*node as usize] as usize;
            let pe = rec.param(Field::PEvent, p_event, rng);
            let mut t = 0usize;
            while t < tt {
                let start = next_start(&pe, t, tt, &s.regime[l * tt..(l + 1) * tt], rng);
                if start >= tt {
                    break;
                }
                let len = rec.periods(Field::Duration, duration, rng).max(1);
                let sev = rec.dist(Field::Severity, severity, rng);
                let end = start.saturating_add(len).min(tt);
                for k in start..end {
                    s.scale_node(m, k, n, l, 1.0 - sev);
                }
                first = first.min(start);
                mag += sev * (end - start) as f64;
                t = end;
            }
        }
        ShockKind::Delay {
            node,
            nominal,
            delay,
            ramp,
        } => {
            let n = sl.node[*node as usize] as usize;
            // At most MAX_PERIOD_OFFSET each, as the planned start is: `online` stays far from
            // overflow.
            let d = rec.periods(Field::Delay, delay, rng) as i64;
            let r = rec.periods(Field::Ramp, ramp, rng) as i64;
            let online = nominal.saturating_add(d);
            mag = d as f64;
            for t in 0..tt {
                let k = t as i64;
                let f = if k < online {
                    0.0
                } else if r == 0 {
                    break;
                } else {
                    (((k - online + 1) as f64) / r as f64).min(1.0)
                };
                if f >= 1.0 {
                    break;
                }
                s.scale_node(m, t, n, l, f);
            }
            if d >= 1 && *nominal < tt as i64 {
                first = (*nominal).max(0) as usize;
            }
        }
        ShockKind::Restriction {
            severity,
            licensing_lag,
            licensed_severity,
            timing,
            ..
        } => {
            let Timeline {
                edge_allow: allow,
                allow_touched: touched,
                dirty,
                regime,
                ..
            } = s;
            let sa = sl.allows;
            let regime = &regime[l * tt..(l + 1) * tt];
            episodes(timing, regime, tt, rng, rec, |a, b, origin, rng, rec| {
                let sev = rec.dist(Field::Severity, severity, rng);
                let lag = licensing_lag
                    .as_ref()
                    .map_or(usize::MAX, |l| rec.periods(Field::LicensingLag, l, rng));
                let licensed = licensed_severity
                    .as_ref()
                    .map_or(sev, |l| rec.dist(Field::LicensedSeverity, l, rng));
                for t in a..b {
                    let since = (t as i64).saturating_sub(origin) as u64;
                    let v = if since < lag as u64 { sev } else { licensed };
                    if v > 0.0 {
                        first = first.min(t);
                        mag += v;
                        touched[t][l] = true;
                        dirty[t][1] = true;
                        let row = &mut allow[t * sa..(t + 1) * sa];
                        for &c in cols {
                            row[c as usize][l] *= 1.0 - v;
                        }
                    }
                }
            });
        }
        ShockKind::Tariff {
            rate,
            elasticity,
            timing,
            ..
        } => {
            let Timeline {
                edge_rate: rates,
                edge_wmul: wmul,
                tariff_touched: touched,
                tariff_changed: changed,
                dirty,
                regime,
                ..
            } = s;
            let st = sl.tariffs;
            let regime = &regime[l * tt..(l + 1) * tt];
            episodes(timing, regime, tt, rng, rec, |a, b, _, rng, rec| {
                let r = rec.dist(Field::Rate, rate, rng);
                if r <= 0.0 {
                    return;
                }
                let mul = (1.0 + r).powf(-elasticity);
                first = first.min(a);
                mag += r * (b - a) as f64;
                changed[a][l] = true;
                if b < tt {
                    changed[b][l] = true;
                }
                for t in a..b {
                    touched[t][l] = true;
                    dirty[t][2] = true;
                    let (rates, wmul) = (
                        &mut rates[t * st..(t + 1) * st],
                        &mut wmul[t * st..(t + 1) * st],
                    );
                    for &c in cols {
                        let k = c as usize;
                        rates[k][l] += r;
                        wmul[k][l] *= mul;
                    }
                }
            });
        }
    }
    (first, mag)
}

/// Where one trial records the values it draws for the model's uncertain inputs (see
/// [`crate::model::inputs`]): the first value drawn for each, into the trial's row.
struct Rec<'a> {
    /// The trial's input values, NaN until drawn.
    row: &'a mut [f32],
    /// The input index of each field and regime state of the shock being drawn.
    cols: &'a [u32],
}

impl Rec<'_> {
    /// Records `v` as the value of `field` in regime state `state`, unless one is already.
    #[inline]
    fn put(&mut self, field: Field, state: usize, v: f64) {
        let c = self.cols[field as usize * MAX_STATES + state];
        if c != NO_SLOT {
            let x = &mut self.row[c as usize];
            if x.is_nan() {
                *x = v as f32;
            }
        }
    }

    /// Draws from `d` and records the value.
    #[inline]
    fn dist(&mut self, field: Field, d: &Dist, rng: &mut TrialRng) -> f64 {
        let v = d.sample(rng);
        self.put(field, 0, v);
        v
    }

    /// Draws a number of periods from `d` and records it.
    #[inline]
    fn periods(&mut self, field: Field, d: &Dist, rng: &mut TrialRng) -> usize {
        let v = periods(d, rng);
        self.put(field, 0, v as f64);
        v
    }

    /// Draws a parameter's values and records them.
    #[inline]
    fn param(&mut self, field: Field, p: &RParam, rng: &mut TrialRng) -> ParamVals {
        let v = ParamVals::sample(p, rng);
        match p {
            RParam::Same(_) => self.put(field, 0, v.at(0)),
            RParam::ByRegime(ds) => {
                for g in 0..ds.len() {
                    self.put(field, g, v.at(g));
                }
            }
        }
        v
    }
}

/// A regime-dependent parameter's values for one trial.
struct ParamVals {
    vals: [f64; MAX_STATES],
    varies: bool,
    /// Waiting times for the value, where it does not vary by regime (read through
    /// [`ParamVals::waiting`]).
    geo: Geometric,
}

impl ParamVals {
    fn sample(p: &RParam, rng: &mut TrialRng) -> ParamVals {
        let mut vals = [0.0; MAX_STATES];
        match p {
            RParam::Same(d) => {
                let v = d.sample(rng);
                vals.fill(v);
                ParamVals {
                    vals,
                    varies: false,
                    geo: Geometric::new(v),
                }
            }
            RParam::ByRegime(ds) => {
                for (v, d) in vals.iter_mut().zip(ds) {
                    *v = d.sample(rng);
                }
                ParamVals {
                    vals,
                    varies: true,
                    geo: Geometric::new(0.0),
                }
            }
        }
    }

    #[inline]
    fn at(&self, state: usize) -> f64 {
        self.vals[state]
    }

    /// Waiting times for a value that does not vary by regime.
    #[inline]
    fn waiting(&self) -> Geometric {
        debug_assert!(
            !self.varies,
            "a regime-dependent hazard has no single waiting time"
        );
        self.geo
    }
}

/// A sampled number of whole periods (negative values count as zero), at most
/// [`MAX_PERIOD_OFFSET`] (reached only by the far tail of an unbounded distribution, and longer
/// than any horizon), so that period arithmetic on it cannot overflow.
fn periods(d: &Dist, rng: &mut TrialRng) -> usize {
    let v = d.sample(rng).max(0.0).round();
    v.min(MAX_PERIOD_OFFSET as f64) as usize
}

/// First period at or after `t` in which an episode with per-period probability `p` starts.
fn next_start(p: &ParamVals, t: usize, tt: usize, regime: &[u8], rng: &mut TrialRng) -> usize {
    if p.varies {
        let mut k = t;
        while k < tt && unit(rng) >= p.at(regime[k] as usize) {
            k += 1;
        }
        k
    } else {
        t.saturating_add(p.waiting().sample(rng) as usize - 1)
    }
}

/// Calls `f(start, end, origin, rng)` for each active episode `[start, end)` of an episodic
/// shock; `origin` is the scheduled start, which may lie before period 0 (an episode already
/// under way), so that lags and durations count from it.
fn episodes(
    timing: &Timing,
    regime: &[u8],
    tt: usize,
    rng: &mut TrialRng,
    rec: &mut Rec,
    mut f: impl FnMut(usize, usize, i64, &mut TrialRng, &mut Rec),
) {
    match &timing.start {
        Start::Always => {
            let len = episode_len(&timing.length, 0, tt, regime, rng, rec);
            f(0, len.min(tt), 0, rng, rec);
        }
        Start::At { at, probability } => {
            let a = rec.dist(Field::At, at, rng).round();
            let p = rec.param(Field::Probability, probability, rng);
            if a >= tt as f64 {
                return;
            }
            let origin = a.max(-1e12) as i64;
            let begin = origin.max(0) as usize;
            let happens = unit(rng) < p.at(regime[begin] as usize);
            let len = episode_len(&timing.length, begin, tt, regime, rng, rec);
            if happens {
                let end = match timing.length {
                    // A sampled duration counts from the scheduled start, even one before period 0.
                    Length::Periods(_) => origin.saturating_add(len as i64).max(0) as usize,
                    Length::Forever => tt,
                    // An end hazard runs from the first simulated period of the episode.
                    Length::Hazard(_) => begin.saturating_add(len),
                };
                let end = end.min(tt);
                if end > begin {
                    f(begin, end, origin, rng, rec);
                }
            }
        }
        Start::Hazard { p, stationary } => {
            let p = rec.param(Field::PStart, p, rng);
            let mut t = 0usize;
            if *stationary && let Length::Hazard(p_end) = &timing.length {
                // On or off in period 0 with the stationary probabilities of the on/off process
                // in period 0's regime state: a period is on after an on period with
                // probability (1 - e) + e s (the episode goes on, or ends and another starts at
                // once) and after an off one with probability s, so on has probability
                // s / (s + e (1 - s)). Its remaining length is geometric, as every episode's,
                // and a licensing lag counts from period 0.
                let e = rec.param(Field::PEnd, p_end, rng);
                let g = regime.first().copied().unwrap_or(0) as usize;
                let (ps, pe) = (p.at(g), e.at(g));
                let denom = ps + pe * (1.0 - ps);
                let on = if denom > 0.0 { ps / denom } else { 0.0 };
                if unit(rng) < on {
                    let end = hazard_len(&e, 0, tt, regime, rng).max(1).min(tt);
                    f(0, end, 0, rng, rec);
                    t = end;
                } else {
                    // Off in period 0: the next episode starts in period 1 at the earliest.
                    t = 1;
                }
            }
            while t < tt {
                let a = next_start(&p, t, tt, regime, rng);
                if a >= tt {
                    break;
                }
                let len = episode_len(&timing.length, a, tt, regime, rng, rec).max(1);
                let end = a.saturating_add(len).min(tt);
                f(a, end, a as i64, rng, rec);
                t = end;
            }
        }
    }
}

/// Length in periods (at least 1) of an episode whose first simulated period is `a`; with
/// `Forever`, to the end of the horizon.
fn episode_len(
    len: &Length,
    a: usize,
    tt: usize,
    regime: &[u8],
    rng: &mut TrialRng,
    rec: &mut Rec,
) -> usize {
    match len {
        Length::Forever => tt.saturating_sub(a).max(1),
        Length::Periods(d) => rec.periods(Field::Duration, d, rng).max(1),
        Length::Hazard(p) => hazard_len(&rec.param(Field::PEnd, p, rng), a, tt, regime, rng),
    }
}

/// Length in periods (at least 1) of an episode whose first simulated period is `a` and which
/// ends with per-period probability `p`.
fn hazard_len(p: &ParamVals, a: usize, tt: usize, regime: &[u8], rng: &mut TrialRng) -> usize {
    if p.varies {
        let mut k = a;
        loop {
            let g = regime
                .get(k)
                .copied()
                .unwrap_or(*regime.last().unwrap_or(&0)) as usize;
            k += 1;
            if unit(rng) < p.at(g) || k >= tt {
                break;
            }
        }
        k - a
    } else {
        p.waiting().sample(rng) as usize
    }
}

/// One period of one trial. The scratch is split into slices of its fields first, so that the
/// compiler can keep their addresses and lengths in registers through the passes.
///
/// Long by design: it states the model's per-period rules (orders, production, shipping,
/// restrictions, re-routing, demand) in the order the lane kernel repeats them operation for
/// operation, and is read beside it.
#[inline(always)]
fn step_period(
    m: &Model,
    s: &mut Scratch,
    out: &mut [DemandOutcome],
    t: usize,
    flexible: bool,
    cost_on: &mut bool,
) {
    let (nn, tt) = (m.nodes.len(), m.periods);
    let Scratch {
        asked: asked_,
        asked_prev: asked_prev_,
        base: base_,
        cap: cap_,
        cost_in: cost_in_,
        origin: origin_,
        scarcest: scarcest_,
        limited: limited_,
        delivered: delivered_,
        frac: frac_,
        lost: lost_,
        need: need_,
        order: order_,
        out: out_,
        plan: plan_,
        recv: recv_,
        ship: ship_,
        short_run: short_run_,
        shortfall: shortfall_,
        spare: spare_,
        stock: stock_,
        stockpile: stockpile_,
        want: want_,
        weight: weight_,
        tl,
        ..
    } = s;
    let asked_: &mut [_] = asked_;
    let asked_prev_: &mut [_] = asked_prev_;
    let base_: &mut [_] = base_;
    let cap_: &mut [_] = cap_;
    let cost_in_: &mut [_] = cost_in_;
    let origin_: &mut [_] = origin_;
    let scarcest_: &mut [_] = scarcest_;
    let limited_: &mut [_] = limited_;
    let no = m.origins.len();
    let delivered_: &mut [_] = delivered_;
    let frac_: &mut [_] = frac_;
    let lost_: &mut [_] = lost_;
    let need_: &mut [_] = need_;
    let order_: &mut [_] = order_;
    let out_: &mut [_] = out_;
    let plan_: &mut [_] = plan_;
    let recv_: &mut [_] = recv_;
    let ship_: &mut [_] = ship_;
    let short_run_: &mut [_] = short_run_;
    let shortfall_: &mut [_] = shortfall_;
    let spare_: &mut [_] = spare_;
    let stock_: &mut [_] = stock_;
    let stockpile_: &mut [_] = stockpile_;
    let want_: &mut [_] = want_;
    let weight_: &mut [_] = weight_;
    let tl: &Timeline<1> = tl;
    let first_shock = tl.first_shock[0];
    let allow = |e: usize| tl.allow(m, t, e)[0];

    let restricted = tl.allow_touched[t][0];
    let touched = tl.node_touched[t][0];
    let tariffed = tl.tariff_touched[t][0];
    *cost_on |= tariffed;

    // Tariffs shift buyers' shares towards untariffed suppliers (and back once they end). The
    // shares depend only on the tariff rows, so they change only where an episode starts or ends.
    if tl.tariff_changed[t][0] {
        for &n in &m.tariff_buyers {
            let n = n as usize;
            let (a, b) = (m.in_off[n] as usize, m.in_off[n + 1] as usize);
            let mut sum = 0.0;
            for e in a..b {
                weight_[e] = m.edges[e].share * tl.wmul(m, t, e)[0];
                sum += weight_[e];
            }
            if sum > 0.0 {
                for e in a..b {
                    weight_[e] /= sum;
                }
            }
        }
    }

    // Pass 1: orders, buyers first.
    want_.fill(0.0);
    let mut di = m.demand.len();
    for n in (0..nn).rev() {
        let node = &m.hot[n];
        // `used`: input for this period's output or demand; the rest of `need` refills stock.
        let (need, used) = match node.kind {
            Kind::Demand => {
                di -= 1;
                let dem = m.demand[di].per_period[t];
                cap_[n] = f64::INFINITY;
                (dem + (m.demand[di].cover * dem - stock_[n]).max(0.0), dem)
            }
            kind => {
                let cap = if touched {
                    node.capacity * tl.factor(m, t, n)[0]
                } else {
                    node.capacity
                };
                cap_[n] = cap;
                if node.joint() {
                    // A co-product plant processes for the largest of its parts' orders.
                    let mut w = 0.0f64;
                    for &e in &m.out_edges[m.out_off[n] as usize..m.out_off[n + 1] as usize] {
                        w = w.max(order_[e as usize]);
                    }
                    want_[n] = w;
                }
                let plan = want_[n].min(cap);
                plan_[n] = plan;
                if kind == Kind::Mine {
                    (0.0, 0.0)
                } else {
                    let target = node.stock0 + asked_prev_[n] * node.inv_yield;
                    let used = plan * node.inv_yield;
                    ((used + target - stock_[n]).max(0.0), used)
                }
            }
        };
        need_[n] = need;
        for e in m.in_off[n] as usize..m.in_off[n + 1] as usize {
            let o = need * weight_[e];
            order_[e] = o;
            base_[e] = used * weight_[e];
            want_[m.edges[e].src as usize] += o;
        }
    }

    // Pass 2: production and shipping, suppliers first.
    let mut di = 0usize;
    for n in 0..nn {
        let node = &m.hot[n];
        let (ia, ib) = (m.in_off[n] as usize, m.in_off[n + 1] as usize);
        let mut recv = 0.0;
        if node.assembly() {
            // A recipe node gets as many kits as its scarcest input part shipped; the others'
            // extra goes back to their stocks.
            recv = ship_[ia];
            let mut scarcest = ia;
            for e in ia + 1..ib {
                if ship_[e] < recv {
                    scarcest = e;
                }
                recv = recv.min(ship_[e]);
            }
            // Short of inputs: the scarcest part shipped less than the node needed.
            scarcest_[n] = if recv < need_[n] * (1.0 - 1e-9) {
                scarcest as u32
            } else {
                u32::MAX
            };
            for e in ia..ib {
                let extra = ship_[e] - recv;
                if extra > 0.0 {
                    let src = m.edges[e].src as usize;
                    ship_[e] = recv;
                    out_[src] -= extra;
                    stock_[src] += extra * m.hot[src].inv_yield;
                }
            }
        } else {
            for e in ia..ib {
                recv += ship_[e];
            }
        }
        // Flexible policy: re-order a gap from suppliers with spare output.
        let gap = need_[n] - recv;
        if gap > EPS * need_[n].max(1.0) {
            if flexible && short_run_[n] >= m.reroute_lag {
                let mut left = gap;
                let mut asked = 0.0;
                for e in ia..ib {
                    let edge = &m.edges[e];
                    // Restricted routes cannot carry re-routed volume.
                    if !edge.reroute || reach_allow(m, origin_, e, allow(e)) < 1.0 {
                        continue;
                    }
                    let src = edge.src as usize;
                    let x = left.min(spare_[src]);
                    if x > 0.0 {
                        ship_[e] += x;
                        spare_[src] -= x;
                        out_[src] += x;
                        if m.hot[src].kind != Kind::Mine {
                            stock_[src] = (stock_[src] - x * m.hot[src].inv_yield).max(0.0);
                        }
                        recv += x;
                        left -= x;
                    }
                    // The supplier learns of re-routed demand: what it served, and what is still
                    // missing up to its idle capacity. Next period it stocks inputs for both.
                    if m.hot[src].kind != Kind::Mine {
                        let a = (left - asked)
                            .max(0.0)
                            .min((cap_[src] - out_[src]).max(0.0));
                        asked_[src] += x.max(0.0) + a;
                        asked += a;
                    }
                    if left <= 0.0 {
                        break;
                    }
                }
            }
            short_run_[n] = short_run_[n].saturating_add(1);
        } else {
            short_run_[n] = 0;
        }
        recv_[n] = recv;

        // Tariff cost carried into this node's stock (average cost per input tonne).
        let avail = stock_[n] + recv;
        if *cost_on && node.tariffed {
            let mut money = cost_in_[n] * stock_[n];
            for e in ia..ib {
                let src = m.edges[e].src as usize;
                let per_t =
                    m.hot[src].price * tl.rate(m, t, e)[0] + cost_in_[src] * m.hot[src].inv_yield;
                money += ship_[e] * per_t;
            }
            cost_in_[n] = if avail > 0.0 { money / avail } else { 0.0 };
        }

        // The origin mix carried into this node's stock, for restrictions that reach other
        // countries' exports by their content (a node in that country ships its own origin).
        for k in 0..no {
            if m.fixed_origin(n, k).is_some() {
                continue;
            }
            let mut x = origin_[n * no + k] * stock_[n];
            if node.assembly() {
                // A kit holds each input in its recipe proportion: its origin is their
                // coefficient-weighted mean.
                let (mut num, mut den) = (0.0, 0.0);
                for e in ia..ib {
                    let src = m.edges[e].src as usize;
                    let c = m.hot[src].inv_yield;
                    num += c * origin_[src * no + k];
                    den += c;
                }
                x += recv * (num / den);
            } else {
                for e in ia..ib {
                    let src = m.edges[e].src as usize;
                    x += ship_[e] * origin_[src * no + k];
                }
            }
            origin_[n * no + k] = if avail > 0.0 { x / avail } else { 0.0 };
        }

        if node.kind == Kind::Demand {
            let dn = &m.demand[di];
            let dem = dn.per_period[t];
            let from_stock = dem.min(avail);
            stock_[n] = avail - from_stock;
            let mut gap = dem - from_stock;
            if gap > 0.0 && stockpile_[di] > 0.0 {
                let r = gap.min(stockpile_[di]).min(dn.max_release);
                stockpile_[di] -= r;
                gap -= r;
            }
            if gap <= EPS * dem {
                gap = 0.0;
            }
            delivered_[di] = dem - gap;
            shortfall_[di] = gap;
            let o = &mut out[di];
            o.tariff += cost_in_[n] * from_stock;
            o.shortfall += gap;
            let frac = if dem > 0.0 { (dem - gap) / dem } else { 1.0 };
            frac_[di * tt + t] = frac as f32;
            if gap > o.worst {
                o.worst = gap;
            }
            record_period(o, t, gap, (1.0 - frac) as f32, first_shock);
            // Which inputs limited it: each material once, where a recipe node upstream was
            // short of it.
            if gap > 0.0 {
                for c in m.limit_off[di] as usize..m.limit_off[di + 1] as usize {
                    let short = m.limits[c]
                        .gates
                        .iter()
                        .any(|&e| scarcest_[m.edges[e as usize].dst as usize] == e);
                    if short {
                        limited_[c] += gap;
                    }
                }
            }
            di += 1;
        } else {
            let y = node.yield_;
            let mine = node.kind == Kind::Mine;
            let mut made = if mine {
                plan_[n]
            } else {
                plan_[n].min(avail * y)
            };
            if !mine {
                stock_[n] = (avail - made * node.inv_yield).max(0.0);
            }
            // Ship: orders in full, else offtakes first and the rest pro rata.
            let (oa, ob) = (m.out_off[n] as usize, m.out_off[n + 1] as usize);
            let wanted = want_[n];
            let full = made >= wanted * (1.0 - 1e-12);
            let ratio = if wanted > 0.0 { made / wanted } else { 0.0 };
            if node.joint() {
                // Every co-product part receives the whole throughput (`lose`: at most its
                // order).
                for &e in &m.out_edges[oa..ob] {
                    let e = e as usize;
                    ship_[e] = if node.lose() {
                        order_[e].min(made)
                    } else {
                        made
                    };
                }
            } else if !full && node.has_offtake {
                let mut rem = made;
                let mut unmet = 0.0;
                for &e in &m.out_edges[oa..ob] {
                    let e = e as usize;
                    let a = order_[e].min(m.edges[e].offtake * made);
                    ship_[e] = a;
                    rem -= a;
                    unmet += order_[e] - a;
                }
                if unmet > 0.0 && rem > 0.0 {
                    let k = (rem / unmet).min(1.0);
                    for &e in &m.out_edges[oa..ob] {
                        let e = e as usize;
                        ship_[e] += (order_[e] - ship_[e]) * k;
                    }
                }
            } else {
                for &e in &m.out_edges[oa..ob] {
                    let e = e as usize;
                    ship_[e] = if full { order_[e] } else { order_[e] * ratio };
                }
            }
            // Export restrictions withhold part of the allocation.
            if restricted {
                let mut withheld = 0.0;
                let mut offer = 0.0;
                for &e in &m.out_edges[oa..ob] {
                    let e = e as usize;
                    let allow = reach_allow(m, origin_, e, allow(e));
                    if allow >= 1.0 {
                        continue;
                    }
                    // The allowed fraction of current use passes; stock refills do not.
                    let blocked = ship_[e] - allow * ship_[e].min(base_[e]);
                    if blocked > 0.0 {
                        ship_[e] -= blocked;
                        if m.edges[e].blocked_domestic {
                            offer += blocked;
                        } else {
                            withheld += blocked;
                        }
                    }
                }
                if offer > 0.0 {
                    let mut unmet = 0.0;
                    for &e in &m.out_edges[oa..ob] {
                        let e = e as usize;
                        if m.edges[e].domestic {
                            unmet += (order_[e] - ship_[e]).max(0.0);
                        }
                    }
                    let give = offer.min(unmet);
                    if give > 0.0 {
                        for &e in &m.out_edges[oa..ob] {
                            let e = e as usize;
                            if m.edges[e].domestic {
                                ship_[e] += give * (order_[e] - ship_[e]).max(0.0) / unmet;
                            }
                        }
                    }
                    withheld += offer - give;
                }
                if withheld > 0.0 {
                    made -= withheld;
                    if !mine {
                        stock_[n] += withheld * node.inv_yield;
                    }
                }
            }
            out_[n] = made;
            let room = cap_[n] - made;
            spare_[n] = if mine { room } else { room.min(stock_[n] * y) }.max(0.0);
        }
    }

    asked_prev_.copy_from_slice(asked_);
    asked_.fill(0.0);

    // Stock caps: input beyond the cap is lost.
    for n in 0..nn {
        let c = m.hot[n].stock_cap;
        let excess = stock_[n] - c;
        lost_[n] = excess.max(0.0);
        if excess > 0.0 {
            stock_[n] = c;
        }
    }
}

/// The allowed fraction `allow` of edge `e`, or 1 where a restriction reaches the edge through
/// its content's origin and the supplier's share of that origin is at or below the de minimis.
#[inline(always)]
fn reach_allow(m: &Model, origin: &[f64], e: usize, allow: f64) -> f64 {
    match m.reaches.get(m.edges[e].reach as usize) {
        Some(r) => {
            let src = m.edges[e].src as usize;
            if origin[src * m.origins.len() + r.origin as usize] <= r.threshold {
                1.0
            } else {
                allow
            }
        }
        None => allow,
    }
}

/// Records what period `t` means for a demand node's outcome beyond the running totals: its
/// shortfall `gap`, the share of demand that went short (`lost`, as f32) and the period of the
/// trial's first shock. The lane kernel keeps the same record with lane masks.
#[inline(always)]
fn record_period(o: &mut DemandOutcome, t: usize, gap: f64, lost: f32, first_shock: usize) {
    if gap > 0.0 {
        if lost > o.worst_frac {
            o.worst_frac = lost;
        }
        if o.first_short == NONE {
            o.first_short = t as u16;
            if first_shock <= t {
                o.survive = (t - first_shock) as u16;
            }
        }
    } else if o.first_short != NONE && o.recover == NONE {
        o.recover = (t - o.first_short as usize) as u16;
    }
}

/// Steps the periods of one trial over the sampled timeline.
fn step_periods<O: Observer>(m: &Model, s: &mut Scratch, out: &mut [DemandOutcome], obs: &mut O) {
    let tt = m.periods;
    let flexible = m.policy == Policy::Flexible;
    // Tariff costs are tracked from the first period with an active tariff.
    let mut cost_on = false;

    s.limited.fill(0.0);
    for (n, node) in m.hot.iter().enumerate() {
        s.stock[n] = node.stock0;
        s.cost_in[n] = 0.0;
        for k in 0..m.origins.len() {
            s.origin[n * m.origins.len() + k] = m.fixed_origin(n, k).unwrap_or(0.0);
        }
        s.short_run[n] = 0;
        s.asked[n] = 0.0;
        s.asked_prev[n] = 0.0;
    }
    for (d, dn) in m.demand.iter().enumerate() {
        s.stock[dn.node as usize] = dn.cover * dn.per_period.first().copied().unwrap_or(0.0);
        s.stockpile[d] = dn.stockpile;
        out[d] = DemandOutcome {
            first_short: NONE,
            survive: NONE,
            recover: NONE,
            ..DemandOutcome::default()
        };
    }
    for (e, edge) in m.edges.iter().enumerate() {
        s.weight[e] = edge.share;
    }

    for t in 0..tt {
        step_period(m, s, out, t, flexible, &mut cost_on);
        obs.period(t, m, s);
    }

    for o in out.iter_mut() {
        if o.first_short != NONE && o.recover == NONE {
            o.recover = (tt - o.first_short as usize) as u16;
        }
    }
}
