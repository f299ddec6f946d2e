//! The engine's kernel: [`LANES`] trials stepped together, written once over plain lane arrays
//! and compiled for several instruction sets, one chosen per run (see [`Path`]).
//!
//! Every trial samples its own shocks into its lane of a [`crate::sim::kernel::Timeline`]; then the
//! periods of all lanes are stepped together. Each per-node and per-edge quantity is a `V`:
//! `[f64; LANES]`, one trial per element. Every operation on it is a loop over the lanes that
//! the compiler turns into vector instructions of whatever width the path allows (8 f64 per
//! instruction with AVX-512, 4 with AVX2, 2 with SSE2 or NEON); the instructions of one lane
//! group are independent chains of work that the processor overlaps. The graph is the same for
//! every lane; where trials differ (a short node re-routes, a restricted edge withholds) every
//! lane computes both sides and a mask (`M`) keeps its own. Wider groups spread each node's
//! bookkeeping (loops, branches, mask tests) over more trials, for more working memory.
//!
//! Each lane performs the floating-point operations of the one-trial kernel
//! ([`crate::sim::kernel::run_trial`]), in the same order and never fused (Rust does not contract
//! `a * b + c` into a fused multiply-add, whatever the instruction set), so that its results are
//! bit for bit those of that trial run alone, on every path (tests check this on every shipped
//! and many random scenarios). It departs from them only in ways that are exact for the values a
//! model holds, which are finite and non-negative or +inf, never NaN and never -0 (the scenario
//! reader turns a written -0 into 0, and yields are bounded, so 1 / yield is finite):
//! - it leaves out operations that cannot change a value: adding +0 (sums start from their first
//!   term; tariff-cost terms that are 0; re-routing passes over suppliers with nothing to give and
//!   no idle capacity to hear of) and multiplying by 1 (nodes no shock touches, lanes shipping in
//!   full);
//! - it leaves out work whose result nothing reads or that changes nothing: the stock cap of a
//!   node without one (`min` with +inf), and the count of short periods of a node with no
//!   in-edge open to re-routing (read only to decide whether to re-route);
//! - it adds +0 to lanes the one-trial kernel leaves alone, where that turns a lane-masked store
//!   into a whole-vector one (re-routing);
//! - it takes `min` and `max` where the one-trial kernel compares and selects (stock caps, the
//!   worst shortfall), which agree on such values;
//! - it keeps each market's largest lost share in f64 and rounds it to f32 once, at the end:
//!   rounding is monotone, so that is the largest of the rounded shares.
//!
//! The one-trial kernel stays the reference: tests compare every path with it, and it serves
//! the observers (invariant tests and the tail profile).
//!
//! No path uses hand-written intrinsics. Measured on AMD Zen 4 with AVX-512 (see
//! docs/performance.md): comparisons and blends through mask-register intrinsics stepped the
//! default scenario about 5% faster, below the 10% that would justify a second form of these
//! operations; the hand-written AVX-512 kernel this one replaced ran about 1.25 times as fast
//! there, the price of stating the period's rules once for every processor.

// Index loops over CSR ranges and lanes read more plainly than zipped iterators over several
// arrays.
#![allow(clippy::needless_range_loop)]

use crate::model::{Kind, Policy};
use crate::model::{Model, NO_SLOT};
use crate::sim::kernel::{EPS, Timeline, sample_timelines};
use crate::sim::result::{DemandOutcome, NONE};

/// Trials stepped together: a power of two, at most 64 (one bit each in a `u64` lane mask).
/// `supplyshock bench` on the default scenario, AMD EPYC with AVX2, stepping per trial: 15.8 us
/// with 4 lanes, 13.8 with 8, 13.8 with 16, 16.5 with 32 (AVX2); 20.9 with 8 and 23.5 with 16
/// (SSE2). With AVX-512 a lane array of 16 is two vectors: wider groups amortise each node's
/// bookkeeping over more trials, and an earlier AVX-512 kernel stepped 10% faster with 32 lanes
/// than with 16 and 30% faster than with 8.
pub const LANES: usize = 16;
const _: () = assert!(LANES <= 64 && LANES.is_power_of_two());

/// An instruction set the lane kernel is compiled for. The engine takes the widest one the
/// processor has ([`Path::best`]) unless told otherwise; every path gives the same bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Path {
    /// x86-64 with AVX-512 (F, DQ, VL, BW): 8 lanes per instruction.
    Avx512,
    /// x86-64 with AVX2: 4 lanes per instruction, no fused multiply-add.
    Avx2,
    /// The target's baseline: SSE2 on x86-64, NEON on aarch64, 2 lanes per instruction; plain
    /// code elsewhere.
    Baseline,
}

impl Path {
    /// Every path, widest first.
    pub const ALL: [Path; 3] = [Path::Avx512, Path::Avx2, Path::Baseline];

    /// The path's name, as `--kernel` takes it and reports show it.
    pub fn name(self) -> &'static str {
        match self {
            Path::Avx512 => "avx512",
            Path::Avx2 => "avx2",
            Path::Baseline if cfg!(target_arch = "x86_64") => "sse2",
            Path::Baseline if cfg!(target_arch = "aarch64") => "neon",
            Path::Baseline => "baseline",
        }
    }

    /// The path named `name` (see [`Path::name`]).
    pub fn from_name(name: &str) -> Option<Path> {
        Path::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Whether this processor runs the path.
    pub fn available(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Path::Avx512 => {
                std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512dq")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                    && std::arch::is_x86_feature_detected!("avx512bw")
            }
            #[cfg(target_arch = "x86_64")]
            Path::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(not(target_arch = "x86_64"))]
            Path::Avx512 | Path::Avx2 => false,
            Path::Baseline => true,
        }
    }

    /// The widest path this processor runs.
    pub fn best() -> Path {
        Path::ALL
            .into_iter()
            .find(|p| p.available())
            .unwrap_or(Path::Baseline)
    }

    /// The paths this processor runs, widest first.
    pub fn available_paths() -> Vec<Path> {
        Path::ALL.into_iter().filter(|p| p.available()).collect()
    }

    /// A description for reports, e.g. "16 trials per step, avx2".
    pub fn describe(self) -> String {
        format!("{LANES} trials per step, {}", self.name())
    }
}

impl std::fmt::Display for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The lanes set in the lane mask `mask`, lowest first.
pub fn lanes_of(mut mask: u64) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        (mask != 0).then(|| {
            let l = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            l
        })
    })
}

/// One f64 per lane. Every operation below is a loop over the lanes, inlined into the path's
/// compiled body, where the compiler turns it into the path's vector instructions.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
struct V([f64; LANES]);

/// One mask per lane: all bits set where true, none where false (the form vector comparisons
/// give and blends take).
#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
struct M([u64; LANES]);

impl V {
    const ZERO: V = V([0.0; LANES]);
}

#[inline(always)]
fn splat(x: f64) -> V {
    V([x; LANES])
}

#[inline(always)]
fn load(a: &[f64; LANES]) -> V {
    V(*a)
}

macro_rules! lanewise {
    ($(#[$doc:meta])* $name:ident, |$a:ident, $b:ident| $e:expr) => {
        $(#[$doc])*
        #[inline(always)]
        fn $name(a: V, b: V) -> V {
            let mut r = [0.0; LANES];
            for l in 0..LANES {
                let ($a, $b) = (a.0[l], b.0[l]);
                r[l] = $e;
            }
            V(r)
        }
    };
}
lanewise!(add, |a, b| a + b);
lanewise!(sub, |a, b| a - b);
lanewise!(mul, |a, b| a * b);
lanewise!(div, |a, b| a / b);
lanewise!(
    /// `a.min(b)` for numbers (no lane is NaN), in the form of the vector instructions. It may
    /// differ from `f64::min` in the sign of a zero result (min(-0, +0)), but no quantity of
    /// the model is -0: the scenario reader turns a written -0 into 0, and stocks, flows and
    /// capacities are clamped at +0 or built from non-negative products.
    min,
    |a, b| if a < b { a } else { b }
);
lanewise!(
    /// `a.max(b)` for numbers, as [`min`].
    max,
    |a, b| if a > b { a } else { b }
);

macro_rules! compare {
    ($name:ident, $op:tt) => {
        #[inline(always)]
        fn $name(a: V, b: V) -> M {
            let mut r = [0u64; LANES];
            for l in 0..LANES {
                r[l] = u64::from(a.0[l] $op b.0[l]).wrapping_neg();
            }
            M(r)
        }
    };
}
compare!(gt, >);
compare!(ge, >=);
compare!(lt, <);
compare!(le, <=);

/// Per lane: `if m { a } else { b }`.
#[inline(always)]
fn sel(m: M, a: V, b: V) -> V {
    let mut r = [0.0; LANES];
    for l in 0..LANES {
        r[l] = if m.0[l] != 0 { a.0[l] } else { b.0[l] };
    }
    V(r)
}

/// Each lane rounded to f32, as `x as f32`.
#[inline(always)]
fn to_f32(a: V) -> [f32; LANES] {
    let mut r = [0.0; LANES];
    for l in 0..LANES {
        r[l] = a.0[l] as f32;
    }
    r
}

impl M {
    const NONE: M = M([0; LANES]);

    #[inline(always)]
    fn from_bools(b: &[bool; LANES]) -> M {
        let mut r = [0u64; LANES];
        for l in 0..LANES {
            r[l] = u64::from(b[l]).wrapping_neg();
        }
        M(r)
    }

    /// Whether any lane is set.
    #[inline(always)]
    fn any(self) -> bool {
        self.0.iter().fold(0, |a, &x| a | x) != 0
    }

    /// Whether every lane is set.
    #[inline(always)]
    fn all(self) -> bool {
        self.0.iter().fold(!0, |a, &x| a & x) == !0
    }

    /// One bit per lane, lane `l` as bit `l`.
    #[inline(always)]
    fn bits(self) -> u64 {
        let mut b = 0;
        for l in 0..LANES {
            b |= (self.0[l] & 1) << l;
        }
        b
    }
}

macro_rules! mask_op {
    ($trait:ident, $method:ident, $op:tt) => {
        impl std::ops::$trait for M {
            type Output = M;
            #[inline(always)]
            fn $method(self, o: M) -> M {
                let mut r = [0u64; LANES];
                for l in 0..LANES {
                    r[l] = self.0[l] $op o.0[l];
                }
                M(r)
            }
        }
    };
}
mask_op!(BitAnd, bitand, &);
mask_op!(BitOr, bitor, |);

impl std::ops::Not for M {
    type Output = M;
    #[inline(always)]
    fn not(self) -> M {
        let mut r = [0u64; LANES];
        for l in 0..LANES {
            r[l] = !self.0[l];
        }
        M(r)
    }
}

/// Per node, everything the period steps keep, all lanes each: one base address for all of a
/// node's fields keeps the hot loops from spilling pointers.
#[derive(Clone, Copy, Debug)]
struct NodeLanes {
    /// This period's capacity, kept only for nodes a shock can touch (see [`cap`]).
    cap: V,
    stock: V,
    want: V,
    need: V,
    out: V,
    spare: V,
    cost_in: V,
    /// What buyers re-ordered from this node (flexible policy), by period parity: `asked[t % 2]`
    /// collects period t's, and pass 1 of period t reads period t - 1's from the other and
    /// clears it for period t + 1.
    asked: [V; 2],
    short_run: V,
}

impl NodeLanes {
    const ZERO: NodeLanes = NodeLanes {
        cap: V::ZERO,
        stock: V::ZERO,
        want: V::ZERO,
        need: V::ZERO,
        out: V::ZERO,
        spare: V::ZERO,
        cost_in: V::ZERO,
        asked: [V::ZERO; 2],
        short_run: V::ZERO,
    };
}

/// This period's capacity of supplier `n`: its own where no shock touches it, else the one
/// pass 1 kept.
#[inline(always)]
fn cap(m: &Model, nd: &[NodeLanes], n: usize) -> V {
    if m.slots.node[n] == NO_SLOT {
        splat(m.hot[n].capacity)
    } else {
        nd[n].cap
    }
}

/// Per edge: buyer-side weight, order, the part of it for current use, shipment.
#[derive(Clone, Copy, Debug)]
struct EdgeLanes {
    weight: V,
    order: V,
    base: V,
    ship: V,
}

impl EdgeLanes {
    const ZERO: EdgeLanes = EdgeLanes {
        weight: V::ZERO,
        order: V::ZERO,
        base: V::ZERO,
        ship: V::ZERO,
    };
}

/// Per demand node: strategic stockpile left and the running outcomes.
#[derive(Clone, Copy, Debug)]
struct DemandLanes {
    stockpile: V,
    shortfall: V,
    worst: V,
    tariff: V,
    /// Largest share of a period's demand that went short (the outcome's `worst_frac`, kept in
    /// f64: rounding to f32 at the end gives the largest of the rounded shares).
    worst_frac: V,
    /// This period's shortfall.
    gap: V,
    /// Lanes short at some point.
    started: M,
    /// Lanes short at some point and not yet recovered.
    pending: M,
}

impl DemandLanes {
    /// A trial's start: the full stockpile `stockpile`, nothing short yet.
    #[inline(always)]
    fn start(stockpile: V) -> DemandLanes {
        DemandLanes {
            stockpile,
            shortfall: V::ZERO,
            worst: V::ZERO,
            tariff: V::ZERO,
            worst_frac: V::ZERO,
            gap: V::ZERO,
            started: M::NONE,
            pending: M::NONE,
        }
    }
}

/// Working memory for groups of [`LANES`] trials of one model on one [`Path`]; reuse it across
/// groups.
#[derive(Clone, Debug)]
pub struct LaneScratch {
    /// The instruction set the periods are stepped with.
    path: Path,
    /// The lanes' sampled shocks.
    pub tl: Timeline<LANES>,
    nodes: Vec<NodeLanes>,
    /// Per node and tracked origin, `origin[n * origins + k]`: the origin share of its stock
    /// (see [`crate::sim::kernel::Scratch::origin`]); empty without tracked origins.
    origin: Vec<V>,
    edges: Vec<EdgeLanes>,
    /// Per edge into a recipe node: the lanes in which the node was short of inputs this period
    /// and this edge's part shipped least (the first such; the one-trial kernel's `scarcest`).
    scarce: Vec<M>,
    /// The lanes' [`crate::model::Limit`] figures so far (the one-trial kernel's `limited`).
    limited: Vec<V>,
    demand: Vec<DemandLanes>,
    /// Delivered fraction of demand per (demand node, period): `frac[d * periods + t][lane]`.
    pub frac: Vec<[f32; LANES]>,
    /// Lanes with a shortfall per (demand node, period), bit `lane` of `short[d * periods + t]`:
    /// the others delivered all their demand, a fraction of exactly 1.
    pub short: Vec<u64>,
    /// Outcomes per demand node and lane: `outcomes[d][lane]`.
    pub outcomes: Vec<[DemandOutcome; LANES]>,
    /// Shock flags per lane: `occurred[lane * words + i / 64]`.
    pub occurred: Vec<u64>,
    /// Shock magnitudes and input values per lane: `draws[lane * stride + i]` (see
    /// [`crate::sim::kernel::Scratch::draws`]).
    pub draws: Vec<f32>,
    /// The trajectory of a trial that no sampled shock touches, replayed where a group's lanes
    /// all follow it.
    unshocked: Unshocked,
    /// Periods replayed rather than stepped since the scratch was made (see [`Unshocked`]).
    replayed: u64,
    /// Periods stepped since the scratch was made.
    stepped: u64,
}

/// The state a trial that no sampled shock touches carries into each period (its stocks,
/// carried costs, re-orders, runs of short periods, buyers' shares and stockpiles, the same in
/// every lane), recorded once per model by stepping the rows of the fixed shocks alone.
///
/// A period whose rows no lane's sampled shocks touch, entered by lanes that all carry this
/// state, ends in the next period's recorded state in every lane, to the bit: the kernel's
/// operations are the same functions of the same operands. Such a period is replayed instead of
/// stepped: only what it adds to the demand nodes' outcomes is applied, lane by lane as the
/// kernel would. Most periods of a group are stepped in scenarios with many shocks (some lane
/// of sixteen is nearly always under one); where shocks are rare or short, calm periods before,
/// between and after them are replayed.
#[derive(Clone, Debug, Default)]
struct Unshocked {
    /// Per period start `t` in `0..=periods` and node: `nodes[t * nodes + n]`.
    nodes: Vec<NodeState>,
    /// Per period start, node and tracked origin: the origin share.
    origin: Vec<f64>,
    /// Per period start and edge: the buyer-side weight.
    weight: Vec<f64>,
    /// Per period start and demand node: the strategic stockpile left.
    stockpile: Vec<f64>,
    /// Per period start: whether a tariff has applied yet (the kernel's `cost_on`).
    cost_on: Vec<bool>,
    /// Per period: every demand node ends it with stock left over, so it met its demand from
    /// stock (`from_stock` is the demand), with no shortfall and no stockpile release.
    calm: Vec<bool>,
}

/// One node's carried state, one lane's worth.
#[derive(Clone, Copy, Debug)]
struct NodeState {
    stock: f64,
    want: f64,
    cost_in: f64,
    asked: [f64; 2],
    short_run: f64,
}

impl NodeState {
    #[inline(always)]
    fn of(nl: &NodeLanes) -> NodeState {
        NodeState {
            stock: nl.stock.0[0],
            want: nl.want.0[0],
            cost_in: nl.cost_in.0[0],
            asked: [nl.asked[0].0[0], nl.asked[1].0[0]],
            short_run: nl.short_run.0[0],
        }
    }

    /// Whether every lane of `nl` carries this state, bit for bit.
    #[inline(always)]
    fn held_by(&self, nl: &NodeLanes) -> bool {
        same(nl.stock, self.stock)
            && same(nl.want, self.want)
            && same(nl.cost_in, self.cost_in)
            && same(nl.asked[0], self.asked[0])
            && same(nl.asked[1], self.asked[1])
            && same(nl.short_run, self.short_run)
    }

    /// Puts this state into every lane of `nl`.
    #[inline(always)]
    fn put(&self, nl: &mut NodeLanes) {
        nl.stock = splat(self.stock);
        nl.want = splat(self.want);
        nl.cost_in = splat(self.cost_in);
        nl.asked = [splat(self.asked[0]), splat(self.asked[1])];
        nl.short_run = splat(self.short_run);
    }
}

/// Whether every lane of `a` has the bits of `x`.
#[inline(always)]
fn same(a: V, x: f64) -> bool {
    let x = x.to_bits();
    a.0.iter().fold(true, |all, v| all & (v.to_bits() == x))
}

impl Unshocked {
    /// Steps one group of lanes over the fixed shocks' rows, recording the state each period
    /// starts with. `s.tl` must hold those rows alone (as a new timeline does).
    fn record(m: &Model, s: &mut LaneScratch) -> Unshocked {
        let (nn, tt) = (m.nodes.len(), m.periods);
        let mut u = Unshocked {
            nodes: Vec::with_capacity((tt + 1) * nn),
            origin: Vec::with_capacity((tt + 1) * s.origin.len()),
            weight: Vec::with_capacity((tt + 1) * m.edges.len()),
            stockpile: Vec::with_capacity((tt + 1) * m.demand.len()),
            cost_on: Vec::with_capacity(tt + 1),
            calm: Vec::with_capacity(tt),
        };
        let flexible = m.policy == Policy::Flexible;
        let mut cost_on = M::NONE;
        start_trials(m, s);
        for t in 0..=tt {
            u.nodes.extend(s.nodes.iter().map(NodeState::of));
            u.origin.extend(s.origin.iter().map(|o| o.0[0]));
            u.weight.extend(s.edges.iter().map(|el| el.weight.0[0]));
            u.stockpile
                .extend(s.demand.iter().map(|dl| dl.stockpile.0[0]));
            u.cost_on.push(cost_on.0[0] != 0);
            if t > 0 {
                u.calm.push(
                    m.demand
                        .iter()
                        .all(|dn| s.nodes[dn.node as usize].stock.0[0] > 0.0),
                );
            }
            if t < tt {
                step_period(m, s, t, flexible, &mut cost_on);
            }
        }
        u
    }

    /// Whether every lane of `s` carries the state period `t` starts with, `cost_on` included.
    #[inline(always)]
    fn held_at(&self, s: &LaneScratch, t: usize, cost_on: M) -> bool {
        let (nn, ne, dn) = (s.nodes.len(), s.edges.len(), s.demand.len());
        let no = s.origin.len();
        let on = self.cost_on[t];
        (if on { cost_on.all() } else { !cost_on.any() })
            && self.nodes[t * nn..(t + 1) * nn]
                .iter()
                .zip(&s.nodes)
                .all(|(x, nl)| x.held_by(nl))
            && self.origin[t * no..(t + 1) * no]
                .iter()
                .zip(&s.origin)
                .all(|(&x, o)| same(*o, x))
            && self.weight[t * ne..(t + 1) * ne]
                .iter()
                .zip(&s.edges)
                .all(|(&w, el)| same(el.weight, w))
            && self.stockpile[t * dn..(t + 1) * dn]
                .iter()
                .zip(&s.demand)
                .all(|(&p, dl)| same(dl.stockpile, p))
    }

    /// Puts the state period `t` starts with into every lane of `s`.
    #[inline(always)]
    fn put(&self, s: &mut LaneScratch, t: usize) {
        let (nn, ne, dn) = (s.nodes.len(), s.edges.len(), s.demand.len());
        for (x, nl) in self.nodes[t * nn..(t + 1) * nn].iter().zip(&mut s.nodes) {
            x.put(nl);
        }
        let no = s.origin.len();
        for (&x, o) in self.origin[t * no..(t + 1) * no].iter().zip(&mut s.origin) {
            *o = splat(x);
        }
        for (&w, el) in self.weight[t * ne..(t + 1) * ne].iter().zip(&mut s.edges) {
            el.weight = splat(w);
        }
        for (&p, dl) in self.stockpile[t * dn..(t + 1) * dn]
            .iter()
            .zip(&mut s.demand)
        {
            dl.stockpile = splat(p);
        }
    }

    /// Replays calm period `t` in every lane: the demand nodes' outcomes as stepping it would
    /// leave them. Each met its demand from stock: the tariff cost carried on what it used is
    /// added, every lane delivered its whole demand, and lanes short until now recover.
    #[inline(always)]
    fn replay(&self, m: &Model, s: &mut LaneScratch, t: usize) {
        let (nn, tt) = (m.nodes.len(), m.periods);
        for (di, dn) in m.demand.iter().enumerate() {
            // The cost the node carried after this period's deliveries, as in the kernel's
            // `mul(cost_in, from_stock)` with `from_stock` the whole demand.
            let cost = self.nodes[(t + 1) * nn + dn.node as usize].cost_in;
            let dl = &mut s.demand[di];
            dl.tariff = add(dl.tariff, mul(splat(cost), splat(dn.per_period[t])));
            s.frac[di * tt + t] = [1.0; LANES];
            s.short[di * tt + t] = 0;
            let recovered = dl.pending;
            if recovered.any() {
                for l in lanes_of(recovered.bits()) {
                    let o = &mut s.outcomes[di][l];
                    o.recover = (t - o.first_short as usize) as u16;
                }
                dl.pending = M::NONE;
            }
        }
    }
}

impl LaneScratch {
    /// Buffers sized for `m`, stepped with `path`, or with the widest path this processor has
    /// where it lacks `path` (see [`LaneScratch::path`]): every path gives the same bits.
    pub fn new(m: &Model, path: Path) -> LaneScratch {
        let path = if path.available() { path } else { Path::best() };
        let (n, e, t, d) = (m.nodes.len(), m.edges.len(), m.periods, m.demand.len());
        let mut s = LaneScratch {
            path,
            tl: Timeline::new(m),
            nodes: vec![NodeLanes::ZERO; n],
            origin: vec![V::ZERO; n * m.origins.len()],
            edges: vec![EdgeLanes::ZERO; e],
            scarce: vec![M::NONE; e],
            limited: vec![V::ZERO; m.limits.len()],
            demand: vec![DemandLanes::start(V::ZERO); d],
            frac: vec![[0.0; LANES]; d * t],
            short: vec![0; d * t],
            outcomes: vec![[DemandOutcome::default(); LANES]; d],
            occurred: vec![0; LANES * m.shock_words()],
            draws: vec![0.0; LANES * m.draw_stride()],
            unshocked: Unshocked::default(),
            replayed: 0,
            stepped: 0,
        };
        s.unshocked = Unshocked::record(m, &mut s);
        s
    }

    /// Bytes of the buffers [`LaneScratch::new`] allocates for `m` (the timeline's rows
    /// included), for estimating a run's memory before it starts.
    pub fn bytes(m: &Model) -> u64 {
        use std::mem::size_of;
        let (n, e, t, d) = (m.nodes.len(), m.edges.len(), m.periods, m.demand.len());
        let sl = &m.slots;
        let rows = t * (sl.nodes + sl.allows + 2 * sl.tariffs) * size_of::<[f64; LANES]>();
        (n * size_of::<NodeLanes>()
            + n * m.origins.len() * (size_of::<V>() + (t + 1) * size_of::<f64>())
            + e * (size_of::<EdgeLanes>() + size_of::<M>())
            + m.limits.len() * size_of::<V>()
            + d * size_of::<DemandLanes>()
            + d * t * (size_of::<[f32; LANES]>() + size_of::<u64>())
            + d * size_of::<[DemandOutcome; LANES]>()
            + LANES * (m.shock_words() * size_of::<u64>() + m.draw_stride() * size_of::<f32>())
            + rows
            + (t + 1) * (n * size_of::<NodeState>() + (e + d) * size_of::<f64>() + 2))
            as u64
    }

    /// The path the periods are stepped with.
    pub fn path(&self) -> Path {
        self.path
    }

    /// Group periods replayed (calm periods that every lane entered in the state of a trial no
    /// sampled shock touches: the same bits as stepping them) and stepped since the scratch was
    /// made.
    pub fn periods_replayed_and_stepped(&self) -> (u64, u64) {
        (self.replayed, self.stepped)
    }
}

/// Runs the trials `trials` (one per lane) of `m` under master seed `seed`; results land in
/// `s.outcomes`, `s.frac`, `s.short`, `s.occurred` and `s.draws`.
pub fn run_group(m: &Model, seed: u64, trials: &[u64; LANES], s: &mut LaneScratch) {
    sample_group(m, seed, trials, s);
    step_group(m, s);
}

/// The first half of [`run_group`]: samples each lane's shocks into `s.tl`, with the occurred
/// flags and magnitudes.
pub fn sample_group(m: &Model, seed: u64, trials: &[u64; LANES], s: &mut LaneScratch) {
    s.tl.reset(m);
    sample_timelines(m, seed, trials, &mut s.tl, &mut s.occurred, &mut s.draws);
}

/// The second half of [`run_group`]: steps the periods of the sampled lanes with the scratch's
/// path; they may be stepped again with the same results.
pub fn step_group(m: &Model, s: &mut LaneScratch) {
    match s.path {
        #[cfg(target_arch = "x86_64")]
        Path::Avx512 => {
            // SAFETY: a scratch exists only for a path the processor has (`LaneScratch::new`).
            unsafe { step_avx512(m, s) }
        }
        #[cfg(target_arch = "x86_64")]
        Path::Avx2 => {
            // SAFETY: as above.
            unsafe { step_avx2(m, s) }
        }
        #[cfg(not(target_arch = "x86_64"))]
        Path::Avx512 | Path::Avx2 => unreachable!("no scratch exists for an x86-64 path here"),
        Path::Baseline => step_periods(m, s),
    }
}

/// [`step_periods`] compiled for AVX-512.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx512bw")]
fn step_avx512(m: &Model, s: &mut LaneScratch) {
    step_periods(m, s);
}

/// [`step_periods`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn step_avx2(m: &Model, s: &mut LaneScratch) {
    step_periods(m, s);
}

/// Steps all periods of the lanes' trials over their sampled timelines, replaying the calm
/// periods that every lane enters in the unshocked state (see [`Unshocked`]). Inlined into each
/// path's function, which compiles it for that path's instructions.
#[inline(always)]
fn step_periods(m: &Model, s: &mut LaneScratch) {
    let tt = m.periods;
    let flexible = m.policy == Policy::Flexible;
    let mut cost_on = M::NONE;
    start_trials(m, s);
    // Moved out for the steps, which borrow the whole scratch (moving its buffers allocates
    // nothing).
    let u = std::mem::take(&mut s.unshocked);
    // Every lane starts in the unshocked state; `stale` once replayed periods have left the
    // lanes' arrays behind it.
    let (mut held, mut stale) = (true, false);
    for t in 0..tt {
        if held && u.calm[t] && s.tl.untouched(t) {
            if u.cost_on[t + 1] {
                cost_on = !M::NONE;
            }
            u.replay(m, s, t);
            s.replayed += 1;
            stale = true;
            continue;
        }
        if stale {
            u.put(s, t);
            stale = false;
        }
        step_period(m, s, t, flexible, &mut cost_on);
        s.stepped += 1;
        // Worth asking only where the next period could be replayed.
        held = t + 1 < tt && u.calm[t + 1] && s.tl.untouched(t + 1) && u.held_at(s, t + 1, cost_on);
    }
    s.unshocked = u;
    let (base, stride) = (m.limit_base(), m.draw_stride());
    for (c, x) in s.limited.iter().enumerate() {
        for l in 0..LANES {
            s.draws[l * stride + base + c] = x.0[l] as f32;
        }
    }
    for d in 0..m.demand.len() {
        let dl = &s.demand[d];
        let lost = to_f32(dl.worst_frac);
        for (l, o) in s.outcomes[d].iter_mut().enumerate() {
            o.shortfall = dl.shortfall.0[l];
            o.worst = dl.worst.0[l];
            o.tariff = dl.tariff.0[l];
            o.worst_frac = lost[l];
            if o.first_short != NONE && o.recover == NONE {
                o.recover = (tt - o.first_short as usize) as u16;
            }
        }
    }
}

/// Puts every lane in the state a trial starts from.
#[inline(always)]
fn start_trials(m: &Model, s: &mut LaneScratch) {
    let z = V::ZERO;
    s.limited.fill(z);
    for (nl, node) in s.nodes.iter_mut().zip(&m.hot) {
        nl.stock = splat(node.stock0);
        nl.cost_in = z;
        nl.short_run = z;
        nl.asked = [z; 2];
        // Pass 2 clears each node's orders after reading them, ready for the next period.
        nl.want = z;
    }
    for (d, dn) in m.demand.iter().enumerate() {
        s.nodes[dn.node as usize].stock =
            splat(dn.cover * dn.per_period.first().copied().unwrap_or(0.0));
        s.demand[d] = DemandLanes::start(splat(dn.stockpile));
        s.outcomes[d] = [DemandOutcome {
            first_short: NONE,
            survive: NONE,
            recover: NONE,
            ..DemandOutcome::default()
        }; LANES];
    }
    for (el, edge) in s.edges.iter_mut().zip(&m.edges) {
        el.weight = splat(edge.share);
    }
    let no = m.origins.len();
    for n in 0..m.nodes.len() {
        for k in 0..no {
            s.origin[n * no + k] = splat(m.fixed_origin(n, k).unwrap_or(0.0));
        }
    }
}

/// The allowed fractions `al` of edge `e`, or 1 in the lanes where a restriction reaches the edge
/// through its content's origin and the supplier's share of that origin is at or below the de
/// minimis (the one-trial kernel's `reach_allow`).
#[inline(always)]
fn reach_allow(m: &Model, origin: &[V], e: usize, al: V) -> V {
    match m.reaches.get(m.edges[e].reach as usize) {
        Some(r) => {
            let src = m.edges[e].src as usize;
            let share = origin[src * m.origins.len() + r.origin as usize];
            sel(le(share, splat(r.threshold)), splat(1.0), al)
        }
        None => al,
    }
}

/// One period of every lane: the one-trial kernel's `step_period`, [`LANES`] trials wide.
///
/// Long by design: it is the one-trial kernel's period, pass by pass and in the same order of
/// floating-point operations, so that the two can be read side by side; its passes share the
/// lane state they leave behind, and splitting them would hide that order.
#[inline(always)]
fn step_period(m: &Model, s: &mut LaneScratch, t: usize, flexible: bool, cost_on: &mut M) {
    let (nn, tt) = (m.nodes.len(), m.periods);
    let (zero, one) = (splat(0.0), splat(1.0));
    let LaneScratch {
        tl,
        nodes,
        origin,
        edges,
        scarce,
        limited,
        demand,
        frac: frac_,
        short: short_,
        outcomes,
        ..
    } = s;
    let (nd, ed, dm): (&mut [NodeLanes], &mut [EdgeLanes], &mut [DemandLanes]) =
        (nodes, edges, demand);
    let frac_: &mut [[f32; LANES]] = frac_;
    let origin: &mut [V] = origin;
    let scarce: &mut [M] = scarce;
    let limited: &mut [V] = limited;
    let no = m.origins.len();
    let short_: &mut [u64] = short_;
    let outcomes: &mut [[DemandOutcome; LANES]] = outcomes;
    let tl: &Timeline<LANES> = tl;
    let restricted = M::from_bools(&tl.allow_touched[t]);
    let tariffed = M::from_bools(&tl.tariff_touched[t]);
    *cost_on = *cost_on | tariffed;
    let cost_any = cost_on.any();

    // Tariffs shift buyers' shares towards untariffed suppliers (and back once they end); the
    // shares change only where an episode starts or ends.
    let reweight = M::from_bools(&tl.tariff_changed[t]);
    if reweight.any() {
        let every = reweight.all();
        for &n in &m.tariff_buyers {
            let n = n as usize;
            let (a, b) = (m.in_off[n] as usize, m.in_off[n + 1] as usize);
            let weight = |e: usize| mul(splat(m.edges[e].share), load(&tl.wmul(m, t, e)));
            // A tariff buyer buys over at least the tariffed edge.
            debug_assert!(a < b);
            let mut sum = weight(a);
            for e in a + 1..b {
                sum = add(sum, weight(e));
            }
            let pos = gt(sum, zero);
            for e in a..b {
                let x = weight(e);
                let x = sel(pos, div(x, sum), x);
                ed[e].weight = if every {
                    x
                } else {
                    sel(reweight, x, ed[e].weight)
                };
            }
        }
    }

    // Pass 1: orders, buyers first.
    let (now, before) = (t % 2, (t + 1) % 2);
    let mut di = m.demand.len();
    for n in (0..nn).rev() {
        let node = &m.hot[n];
        let (need, used) = match node.kind {
            Kind::Demand => {
                // Its `cap` is left unset: only suppliers' capacities are read, and a demand
                // node supplies no one.
                di -= 1;
                let dn = &m.demand[di];
                let dem = dn.per_period[t];
                let need = add(
                    splat(dem),
                    max(sub(splat(dn.cover * dem), nd[n].stock), zero),
                );
                (need, splat(dem))
            }
            kind => {
                // A node no shock touches keeps its capacity (x * 1 = x).
                let cap = if m.slots.node[n] == NO_SLOT {
                    splat(node.capacity)
                } else {
                    // Kept for pass 2 and buyers' re-routing (see [`cap`]).
                    let cap = mul(splat(node.capacity), load(&tl.factor(m, t, n)));
                    nd[n].cap = cap;
                    cap
                };
                if node.joint() {
                    // A co-product plant processes for the largest of its parts' orders.
                    let mut w = zero;
                    for &e in &m.out_edges[m.out_off[n] as usize..m.out_off[n + 1] as usize] {
                        w = max(w, ed[e as usize].order);
                    }
                    nd[n].want = w;
                }
                let plan = min(nd[n].want, cap);
                if kind == Kind::Mine {
                    (zero, zero)
                } else {
                    let iy = splat(node.inv_yield);
                    let asked = nd[n].asked[before];
                    nd[n].asked[before] = zero;
                    let target = add(splat(node.stock0), mul(asked, iy));
                    let used = mul(plan, iy);
                    (max(sub(add(used, target), nd[n].stock), zero), used)
                }
            }
        };
        nd[n].need = need;
        for e in m.in_off[n] as usize..m.in_off[n + 1] as usize {
            // Only tariffs move a node's shares off the edge shares.
            let w = if node.reweighted {
                ed[e].weight
            } else {
                splat(m.edges[e].share)
            };
            let o = mul(need, w);
            ed[e].order = o;
            // Read only where a restriction may block the edge.
            if m.slots.allow[e] != NO_SLOT {
                ed[e].base = mul(used, w);
            }
            let src = m.edges[e].src as usize;
            nd[src].want = add(nd[src].want, o);
        }
    }

    // Pass 2: production and shipping, suppliers first.
    let mut di = 0usize;
    for n in 0..nn {
        let node = &m.hot[n];
        let (ia, ib) = (m.in_off[n] as usize, m.in_off[n + 1] as usize);
        let mut recv;
        if node.assembly() {
            // A recipe node gets as many kits as its scarcest input part shipped; the others'
            // extra goes back to their stocks.
            recv = ed[ia].ship;
            for el in &ed[ia + 1..ib] {
                recv = min(recv, el.ship);
            }
            // Short of inputs, and which part shipped least (the first to reach the minimum).
            let short = lt(recv, mul(nd[n].need, splat(1.0 - 1e-9)));
            let mut found = M::NONE;
            for e in ia..ib {
                let least = le(ed[e].ship, recv) & !found;
                scarce[e] = least & short;
                found = found | least;
            }
            for e in ia..ib {
                let ship = ed[e].ship;
                let extra = sub(ship, recv);
                let back = gt(extra, zero);
                if back.any() {
                    let src = m.edges[e].src as usize;
                    ed[e].ship = sel(back, recv, ship);
                    nd[src].out = sel(back, sub(nd[src].out, extra), nd[src].out);
                    let iy = splat(m.hot[src].inv_yield);
                    nd[src].stock = sel(back, add(nd[src].stock, mul(extra, iy)), nd[src].stock);
                }
            }
        } else {
            // 0 + x = x: the first shipment starts the sum.
            recv = ed[ia..ib].first().map_or(zero, |el| el.ship);
            for el in ed[ia..ib].iter().skip(1) {
                recv = add(recv, el.ship);
            }
        }
        // Flexible policy: re-order a gap from suppliers with spare output. A lane with nothing
        // left to re-order changes nothing below, as the one-trial kernel's early exit. Nor does
        // a node without an in-edge open to re-routing, whose count of short periods no one
        // reads.
        let (mut reroute, mut gap) = (M::NONE, zero);
        if flexible && node.reroutes {
            let need = nd[n].need;
            gap = sub(need, recv);
            let short = gt(gap, mul(splat(EPS), max(need, one)));
            let run = nd[n].short_run;
            reroute = short & ge(run, splat(m.reroute_lag as f64));
            nd[n].short_run = sel(short, add(run, one), zero);
        }
        if reroute.any() {
            let mut left = sel(reroute, gap, zero);
            let mut asked = zero;
            for e in ia..ib {
                let edge = &m.edges[e];
                if !edge.reroute {
                    continue;
                }
                // The one-trial kernel stops once nothing is left to re-order.
                let live = gt(left, zero);
                if !live.any() {
                    break;
                }
                let src = edge.src as usize;
                let src_node = &m.hot[src];
                // Restricted routes cannot carry re-routed volume.
                let ok = if m.slots.allow[e] == NO_SLOT {
                    live
                } else {
                    ge(reach_allow(m, origin, e, load(&tl.allow(m, t, e))), one) & live
                };
                // `x` is zero in every lane that re-orders nothing here, and adding or taking
                // away zero leaves a quantity as it was (none is -0): so every lane is updated,
                // with whole-vector stores, and nothing is when no lane re-orders.
                let (spare, mut out) = (nd[src].spare, nd[src].out);
                let x = sel(ok, min(left, spare), zero);
                let mine = src_node.kind == Kind::Mine;
                let some = gt(x, zero).any();
                if some {
                    ed[e].ship = add(ed[e].ship, x);
                    nd[src].spare = sub(spare, x);
                    out = add(out, x);
                    nd[src].out = out;
                    recv = add(recv, x);
                    left = sub(left, x);
                    if !mine {
                        let stock = nd[src].stock;
                        let used = mul(x, splat(src_node.inv_yield));
                        nd[src].stock = max(sub(stock, used), zero);
                    }
                }
                if !mine {
                    // What is still missing, up to the supplier's idle capacity: nothing where
                    // it has none (and then, having re-ordered nothing either, the supplier
                    // hears of nothing).
                    let idle = sub(cap(m, nd, src), out);
                    if !(ok & gt(idle, zero)).any() && !some {
                        continue;
                    }
                    let a = min(max(sub(left, asked), zero), max(idle, zero));
                    nd[src].asked[now] = add(nd[src].asked[now], sel(ok, add(x, a), zero));
                    asked = sel(ok, add(asked, a), asked);
                }
            }
        }

        // Tariff cost carried into this node's stock (average cost per input tonne).
        let mut stock = nd[n].stock;
        let avail = add(stock, recv);
        if node.tariffed && cost_any {
            let mut money = mul(nd[n].cost_in, stock);
            for e in ia..ib {
                let src = m.edges[e].src as usize;
                // Per tonne: the tariff on this edge plus the cost the supplier carries. An edge
                // without a tariff adds price * 0 = 0, a supplier no tariff reaches carries 0,
                // and adding zero changes nothing (no term is -0): skip those terms.
                let tariff = m.slots.tariff[e] != NO_SLOT;
                let carried = m.hot[src].tariffed;
                let per_t = match (tariff, carried) {
                    (false, false) => continue,
                    (true, false) => mul(splat(m.hot[src].price), load(&tl.rate(m, t, e))),
                    (false, true) => mul(nd[src].cost_in, splat(m.hot[src].inv_yield)),
                    (true, true) => add(
                        mul(splat(m.hot[src].price), load(&tl.rate(m, t, e))),
                        mul(nd[src].cost_in, splat(m.hot[src].inv_yield)),
                    ),
                };
                money = add(money, mul(ed[e].ship, per_t));
            }
            let c = sel(gt(avail, zero), div(money, avail), zero);
            nd[n].cost_in = if cost_on.all() {
                c
            } else {
                sel(*cost_on, c, nd[n].cost_in)
            };
        }
        let cost_in = nd[n].cost_in;

        // The origin mix carried into this node's stock (see the one-trial kernel).
        for k in 0..no {
            if m.fixed_origin(n, k).is_some() {
                continue;
            }
            let mut x = mul(origin[n * no + k], stock);
            if node.assembly() {
                let (mut num, mut den) = (zero, zero);
                for e in ia..ib {
                    let src = m.edges[e].src as usize;
                    let c = splat(m.hot[src].inv_yield);
                    num = add(num, mul(c, origin[src * no + k]));
                    den = add(den, c);
                }
                x = add(x, mul(recv, div(num, den)));
            } else {
                for e in ia..ib {
                    let src = m.edges[e].src as usize;
                    x = add(x, mul(ed[e].ship, origin[src * no + k]));
                }
            }
            origin[n * no + k] = sel(gt(avail, zero), div(x, avail), zero);
        }

        if node.kind == Kind::Demand {
            let dn = &m.demand[di];
            let dem_t = dn.per_period[t];
            let dem = splat(dem_t);
            let from_stock = min(dem, avail);
            stock = sub(avail, from_stock);
            let mut gap = sub(dem, from_stock);
            let pile = dm[di].stockpile;
            let release = gt(gap, zero) & gt(pile, zero);
            let r = min(min(gap, pile), splat(dn.max_release));
            dm[di].stockpile = sel(release, sub(pile, r), pile);
            gap = sel(release, sub(gap, r), gap);
            gap = sel(le(gap, splat(EPS * dem_t)), zero, gap);
            dm[di].tariff = add(dm[di].tariff, mul(cost_in, from_stock));
            dm[di].gap = gap;
            dm[di].shortfall = add(dm[di].shortfall, gap);
            dm[di].worst = max(dm[di].worst, gap);
            // Without a shortfall the fraction is dem / dem = 1 exactly.
            let short = gt(gap, zero);
            let any_short = short.any();
            let frac = if dem_t > 0.0 && any_short {
                div(sub(dem, gap), dem)
            } else {
                one
            };
            frac_[di * tt + t] = to_f32(frac);
            short_[di * tt + t] = if any_short { short.bits() } else { 0 };
            // The one-trial kernel's `record_period`, all lanes at once. A lane without a
            // shortfall has frac = 1 and loses +0, which leaves the largest loss as it was.
            dm[di].worst_frac = max(dm[di].worst_frac, sub(one, frac));
            // Timings change only in a lane's first short period and where it recovers.
            let first = short & !dm[di].started;
            let recovered = !short & dm[di].pending;
            if (first | recovered).any() {
                for l in lanes_of(first.bits()) {
                    let o = &mut outcomes[di][l];
                    o.first_short = t as u16;
                    let shock = tl.first_shock[l];
                    if shock <= t {
                        o.survive = (t - shock) as u16;
                    }
                }
                for l in lanes_of(recovered.bits()) {
                    let o = &mut outcomes[di][l];
                    o.recover = (t - o.first_short as usize) as u16;
                }
                dm[di].started = dm[di].started | first;
                dm[di].pending = (dm[di].pending | first) & !recovered;
            }
            di += 1;
        } else {
            let (y, iy) = (splat(node.yield_), splat(node.inv_yield));
            let mine = node.kind == Kind::Mine;
            let mut made = min(nd[n].want, cap(m, nd, n));
            if !mine {
                made = min(made, mul(avail, y));
                stock = max(sub(avail, mul(made, iy)), zero);
            }
            // Ship: orders in full, else offtakes first and the rest pro rata.
            let outs = &m.out_edges[m.out_off[n] as usize..m.out_off[n + 1] as usize];
            let wanted = nd[n].want;
            nd[n].want = zero;
            let full = ge(made, mul(wanted, splat(1.0 - 1e-12)));
            let all_full = full.all();
            // The ratio matters only in lanes that cannot ship in full: skip the division when
            // there are none.
            let ratio = if all_full {
                zero
            } else {
                sel(gt(wanted, zero), div(made, wanted), zero)
            };
            if node.joint() {
                // Every co-product part receives the whole throughput (`lose`: at most its
                // order).
                for &e in outs {
                    let e = e as usize;
                    ed[e].ship = if node.lose() {
                        min(ed[e].order, made)
                    } else {
                        made
                    };
                }
            } else if node.has_offtake {
                let mut rem = made;
                let mut unmet = zero;
                for &e in outs {
                    let e = e as usize;
                    let order = ed[e].order;
                    let a = min(order, mul(splat(m.edges[e].offtake), made));
                    ed[e].ship = sel(full, order, a);
                    rem = sel(full, rem, sub(rem, a));
                    unmet = sel(full, unmet, add(unmet, sub(order, a)));
                }
                let spread = !full & gt(unmet, zero) & gt(rem, zero);
                if spread.any() {
                    let k = min(div(rem, unmet), one);
                    for &e in outs {
                        let e = e as usize;
                        let x = add(ed[e].ship, mul(sub(ed[e].order, ed[e].ship), k));
                        ed[e].ship = sel(spread, x, ed[e].ship);
                    }
                }
            } else if all_full {
                // A lane shipping in full multiplies by 1, which changes nothing.
                for &e in outs {
                    let e = e as usize;
                    ed[e].ship = ed[e].order;
                }
            } else {
                let mult = sel(full, one, ratio);
                for &e in outs {
                    let e = e as usize;
                    ed[e].ship = mul(ed[e].order, mult);
                }
            }
            // Export restrictions withhold part of the allocation.
            if node.restricted && restricted.any() {
                let mut withheld = zero;
                let mut offer = zero;
                for &e in outs {
                    let e = e as usize;
                    if m.slots.allow[e] == NO_SLOT {
                        continue;
                    }
                    let al = reach_allow(m, origin, e, load(&tl.allow(m, t, e)));
                    let ship = ed[e].ship;
                    // The allowed fraction of current use passes; stock refills do not.
                    let blocked = sub(ship, mul(al, min(ship, ed[e].base)));
                    let cut = lt(al, one) & gt(blocked, zero);
                    ed[e].ship = sel(cut, sub(ship, blocked), ship);
                    if m.edges[e].blocked_domestic {
                        offer = sel(cut, add(offer, blocked), offer);
                    } else {
                        withheld = sel(cut, add(withheld, blocked), withheld);
                    }
                }
                let offering = gt(offer, zero);
                if offering.any() {
                    let mut unmet = zero;
                    for &e in outs {
                        let e = e as usize;
                        if m.edges[e].domestic {
                            unmet = add(unmet, max(sub(ed[e].order, ed[e].ship), zero));
                        }
                    }
                    let give = min(offer, unmet);
                    let giving = offering & gt(give, zero);
                    for &e in outs {
                        let e = e as usize;
                        if m.edges[e].domestic {
                            let x = add(
                                ed[e].ship,
                                div(mul(give, max(sub(ed[e].order, ed[e].ship), zero)), unmet),
                            );
                            ed[e].ship = sel(giving, x, ed[e].ship);
                        }
                    }
                    withheld = sel(offering, add(withheld, sub(offer, give)), withheld);
                }
                let w = gt(withheld, zero);
                if w.any() {
                    made = sel(w, sub(made, withheld), made);
                    if !mine {
                        stock = sel(w, add(stock, mul(withheld, iy)), stock);
                    }
                }
            }
            nd[n].out = made;
            let room = sub(cap(m, nd, n), made);
            nd[n].spare = if mine {
                max(room, zero)
            } else {
                max(min(room, mul(stock, y)), zero)
            };
        }
        nd[n].stock = stock;
    }

    // Which inputs limited each demand node (the one-trial kernel's `limited`): lanes without a
    // shortfall, or not short of that input, add +0.
    for (c, lim) in m.limits.iter().enumerate() {
        let mut hit = M::NONE;
        for &e in &lim.gates {
            hit = hit | scarce[e as usize];
        }
        let gap = dm[lim.demand as usize].gap;
        let hit = hit & gt(gap, zero);
        if hit.any() {
            limited[c] = add(limited[c], sel(hit, gap, zero));
        }
    }

    // Stock caps: input beyond the cap is lost. `min` is the one-trial kernel's
    // `if stock - cap > 0 { stock = cap }` for numbers; without a cap it would change nothing.
    for (nl, node) in nd.iter_mut().zip(&m.hot) {
        if node.stock_cap < f64::INFINITY {
            nl.stock = min(nl.stock, splat(node.stock_cap));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_of_lists_the_set_bits() {
        assert_eq!(lanes_of(0).count(), 0);
        assert_eq!(lanes_of(0b1010_0001).collect::<Vec<_>>(), [0, 5, 7]);
        assert_eq!(
            lanes_of(u64::MAX).collect::<Vec<_>>(),
            (0..64).collect::<Vec<_>>()
        );
    }

    #[test]
    fn masks_pack_their_lanes_into_bits() {
        let mut b = [false; LANES];
        b[0] = true;
        b[LANES - 1] = true;
        let m = M::from_bools(&b);
        assert_eq!(m.bits(), 1 | 1 << (LANES - 1));
        assert!(m.any() && !m.all());
        assert!((!M::NONE).all() && !M::NONE.any());
        assert_eq!((m & !m).bits(), 0);
        assert_eq!((m | !m).bits(), u64::MAX >> (64 - LANES));
    }

    #[test]
    fn paths_are_named_once_and_the_baseline_always_runs() {
        for p in Path::ALL {
            assert_eq!(Path::from_name(p.name()), Some(p));
        }
        assert!(Path::Baseline.available());
        assert!(Path::best().available());
        assert_eq!(Path::available_paths()[0], Path::best());
    }
}
