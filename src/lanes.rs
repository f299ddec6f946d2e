//! The kernel for [`LANES`] trials at once, on processors with AVX-512: the engine's fast path.
//!
//! Every trial samples its own shocks into its lane of a [`crate::kernel::Timeline`]; then the
//! periods of all lanes are stepped together. Each per-node and per-edge quantity is held in four
//! 512-bit vectors of eight trials: one instruction advances eight trials, and the vectors are
//! independent chains of work that the processor overlaps. The graph is the same for every lane;
//! where trials differ (a short node re-routes, a restricted edge withholds) every lane computes
//! both sides and a mask keeps its own. Wider groups spread each node's bookkeeping (loops,
//! branches, masks) over more trials, for more working memory: `supplyshock bench` timed the
//! default scenario's stepping at 4.7 us per trial with `LANES` set to 8, 3.6 with 16 and 3.25
//! with 32.
//!
//! Each lane performs the floating-point operations of the one-trial kernel
//! ([`crate::kernel::run_trial`]), in the same order and without fused multiply-adds, so that its
//! results are bit for bit those of that trial run alone (tests check this on every shipped and
//! many random scenarios). It departs from them only in ways that are exact for the values a
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
//! The one-trial kernel stays the reference: it runs where AVX-512 is missing, and serves the
//! observers (invariant tests and the tail profile).

// Index loops over CSR ranges read more plainly than zipped iterators over several arrays.
#![allow(clippy::needless_range_loop)]

use crate::kernel::DemandOutcome;
use crate::model::Model;

/// Trials stepped together: a multiple of 8, at most 32 (one bit each in a `u32` lane mask).
pub const LANES: usize = 32;
const _: () = assert!(LANES.is_multiple_of(8) && LANES <= 32);

/// The lane kernel's name in reports.
pub const NAME: &str = "32 trials per step, AVX-512";

/// The lanes set in the lane mask `mask`, lowest first.
pub fn lanes_of(mut mask: u32) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        (mask != 0).then(|| {
            let l = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            l
        })
    })
}

/// Whether this processor runs the lane kernel.
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(target_arch = "x86_64")]
pub use imp::{LaneScratch, run_group, sample_group, step_group};

/// Elsewhere the engine always takes the one-trial kernel; these only keep it compiling.
#[cfg(not(target_arch = "x86_64"))]
pub use fallback::{LaneScratch, run_group, sample_group, step_group};

#[cfg(not(target_arch = "x86_64"))]
mod fallback {
    use super::*;

    /// Never built: [`super::available`] is false on this processor.
    #[derive(Clone, Debug)]
    pub struct LaneScratch {
        /// Delivered fraction of demand per (demand node, period) and lane.
        pub frac: Vec<[f32; LANES]>,
        /// Lanes short per (demand node, period), one bit each.
        pub short: Vec<u32>,
        /// Outcomes per demand node and lane.
        pub outcomes: Vec<[DemandOutcome; LANES]>,
        /// Shock flags per lane.
        pub occurred: Vec<u64>,
        /// Shock magnitudes per lane.
        pub magnitude: Vec<f32>,
    }

    impl LaneScratch {
        /// Empty buffers.
        pub fn new(_: &Model) -> LaneScratch {
            LaneScratch {
                frac: Vec::new(),
                short: Vec::new(),
                outcomes: Vec::new(),
                occurred: Vec::new(),
                magnitude: Vec::new(),
            }
        }
    }

    /// Unavailable here.
    pub fn run_group(_: &Model, _: u64, _: &[u64; LANES], _: &mut LaneScratch) {
        unreachable!("the lane kernel needs an x86-64 processor with AVX-512")
    }

    /// Unavailable here.
    pub fn sample_group(_: &Model, _: u64, _: &[u64; LANES], _: &mut LaneScratch) {
        unreachable!("the lane kernel needs an x86-64 processor with AVX-512")
    }

    /// Unavailable here.
    pub fn step_group(_: &Model, _: &mut LaneScratch) {
        unreachable!("the lane kernel needs an x86-64 processor with AVX-512")
    }
}

#[cfg(target_arch = "x86_64")]
mod imp {
    use std::arch::x86_64::*;

    use super::*;
    use crate::kernel::{EPS, NONE, Timeline, sample_timelines};
    use crate::model::NO_SLOT;
    use crate::scenario::{Kind, Policy};

    /// Vectors of eight lanes per quantity.
    const K: usize = LANES / 8;

    /// [`LANES`] f64 lanes in `K` 512-bit vectors: the vectors are independent, which gives
    /// the processor several chains of work to overlap.
    #[derive(Clone, Copy)]
    #[repr(C)]
    struct V([__m512d; K]);
    /// One bit per lane.
    type M = u32;
    /// Every lane.
    const ALL: M = M::MAX >> (M::BITS as usize - LANES);

    impl std::fmt::Debug for V {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_tuple("V").field(&to_array(*self)).finish()
        }
    }

    fn from_array(a: [f64; LANES]) -> V {
        // SAFETY: V is K * 64 bytes of f64 (repr(C) array of vectors), like [f64; LANES].
        unsafe { std::mem::transmute::<[f64; LANES], V>(a) }
    }

    fn to_array(v: V) -> [f64; LANES] {
        // SAFETY: as in `from_array`.
        unsafe { std::mem::transmute::<V, [f64; LANES]>(v) }
    }

    fn mask_of(b: &[bool; LANES]) -> M {
        b.iter()
            .enumerate()
            .fold(0, |m, (l, &x)| m | (M::from(x) << l))
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn splat(x: f64) -> V {
        V([_mm512_set1_pd(x); K])
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn load(a: &[f64; LANES]) -> V {
        // SAFETY: reads the K * 64 bytes of `a`.
        V(std::array::from_fn(|k| unsafe {
            _mm512_loadu_pd(a.as_ptr().add(8 * k))
        }))
    }
    macro_rules! binary {
        ($name:ident, $op:ident) => {
            #[inline]
            #[target_feature(enable = "avx512f")]
            fn $name(a: V, b: V) -> V {
                V(std::array::from_fn(|k| $op(a.0[k], b.0[k])))
            }
        };
    }
    binary!(add, _mm512_add_pd);
    binary!(sub, _mm512_sub_pd);
    binary!(mul, _mm512_mul_pd);
    binary!(div, _mm512_div_pd);
    // `a.min(b)` and `a.max(b)` for numbers (no lane is NaN). They may differ from the one-trial
    // kernel's in the sign of a zero result (min(-0, +0)), but no quantity of the model is -0:
    // the scenario reader turns a written -0 into 0, and stocks, flows and capacities are clamped
    // at +0 or built from non-negative products.
    binary!(min, _mm512_min_pd);
    binary!(max, _mm512_max_pd);
    macro_rules! compare {
        ($name:ident, $pred:ident) => {
            #[inline]
            #[target_feature(enable = "avx512f")]
            fn $name(a: V, b: V) -> M {
                let mut m = 0;
                for k in 0..K {
                    m |= M::from(_mm512_cmp_pd_mask::<$pred>(a.0[k], b.0[k])) << (8 * k);
                }
                m
            }
        };
    }
    compare!(gt, _CMP_GT_OQ);
    compare!(ge, _CMP_GE_OQ);
    compare!(lt, _CMP_LT_OQ);
    compare!(le, _CMP_LE_OQ);
    /// Per lane: `if m { a } else { b }`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn sel(m: M, a: V, b: V) -> V {
        V(std::array::from_fn(|k| {
            _mm512_mask_blend_pd((m >> (8 * k)) as u8, b.0[k], a.0[k])
        }))
    }
    /// Each lane rounded to f32, as `x as f32`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn to_f32(a: V) -> [f32; LANES] {
        let halves: [__m256; K] = std::array::from_fn(|k| _mm512_cvtpd_ps(a.0[k]));
        // SAFETY: K __m256 are K * 32 bytes of f32, like [f32; LANES].
        unsafe { std::mem::transmute::<[__m256; K], [f32; LANES]>(halves) }
    }

    /// Per node, everything the period steps keep, all lanes each: one base address for all
    /// of a node's fields keeps the hot loops from spilling pointers.
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
        /// What buyers re-ordered from this node (flexible policy), by period parity:
        /// `asked[t % 2]` collects period t's, and pass 1 of period t reads period t - 1's from
        /// the other and clears it for period t + 1.
        asked: [V; 2],
        short_run: V,
    }

    /// This period's capacity of supplier `n`: its own where no shock touches it, else the one
    /// pass 1 kept.
    #[inline]
    #[target_feature(enable = "avx512f")]
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

    /// Per demand node: strategic stockpile left and the running outcomes.
    #[derive(Clone, Copy, Debug)]
    struct DemandLanes {
        stockpile: V,
        shortfall: V,
        worst: V,
        tariff: V,
        /// Largest share of a period's demand that went short (the outcome's `worst_frac`,
        /// kept in f64: rounding to f32 at the end gives the largest of the rounded shares).
        worst_frac: V,
        /// Lanes short at some point.
        started: M,
        /// Lanes short at some point and not yet recovered.
        pending: M,
    }

    /// Working memory for groups of [`LANES`] trials of one model; reuse it across groups.
    #[derive(Clone, Debug)]
    pub struct LaneScratch {
        /// The lanes' sampled shocks.
        pub tl: Timeline<LANES>,
        nodes: Vec<NodeLanes>,
        edges: Vec<EdgeLanes>,
        demand: Vec<DemandLanes>,
        /// Delivered fraction of demand per (demand node, period): `frac[d * periods + t][lane]`.
        pub frac: Vec<[f32; LANES]>,
        /// Lanes with a shortfall per (demand node, period), bit `lane` of `short[d * periods +
        /// t]`: the others delivered all their demand, a fraction of exactly 1.
        pub short: Vec<M>,
        /// Outcomes per demand node and lane: `outcomes[d][lane]`.
        pub outcomes: Vec<[DemandOutcome; LANES]>,
        /// Shock flags per lane: `occurred[lane * words + i / 64]`.
        pub occurred: Vec<u64>,
        /// Shock magnitudes per lane: `magnitude[lane * shocks + i]`.
        pub magnitude: Vec<f32>,
    }

    impl LaneScratch {
        /// Buffers sized for `m`.
        pub fn new(m: &Model) -> LaneScratch {
            let (n, e, t, d) = (m.nodes.len(), m.edges.len(), m.periods, m.demand.len());
            let z = from_array([0.0; LANES]);
            LaneScratch {
                tl: Timeline::new(m),
                nodes: vec![
                    NodeLanes {
                        cap: z,
                        stock: z,
                        want: z,
                        need: z,
                        out: z,
                        spare: z,
                        cost_in: z,
                        asked: [z; 2],
                        short_run: z,
                    };
                    n
                ],
                edges: vec![
                    EdgeLanes {
                        weight: z,
                        order: z,
                        base: z,
                        ship: z,
                    };
                    e
                ],
                demand: vec![
                    DemandLanes {
                        stockpile: z,
                        shortfall: z,
                        worst: z,
                        tariff: z,
                        worst_frac: z,
                        started: 0,
                        pending: 0,
                    };
                    d
                ],
                frac: vec![[0.0; LANES]; d * t],
                short: vec![0; d * t],
                outcomes: vec![[DemandOutcome::default(); LANES]; d],
                occurred: vec![0; LANES * m.shock_words()],
                magnitude: vec![0.0; LANES * m.shocks.len()],
            }
        }
    }

    /// Runs the trials `trials` (one per lane) of `m` under master seed `seed`; results land in
    /// `s.outcomes`, `s.frac`, `s.short`, `s.occurred` and `s.magnitude`. Needs AVX-512 (see
    /// [`super::available`]); panics without it.
    pub fn run_group(m: &Model, seed: u64, trials: &[u64; LANES], s: &mut LaneScratch) {
        sample_group(m, seed, trials, s);
        step_group(m, s);
    }

    /// The first half of [`run_group`]: samples each lane's shocks into `s.tl`, with the
    /// occurred flags and magnitudes.
    pub fn sample_group(m: &Model, seed: u64, trials: &[u64; LANES], s: &mut LaneScratch) {
        s.tl.reset(m);
        sample_timelines(
            m,
            seed,
            trials,
            &mut s.tl,
            &mut s.occurred,
            &mut s.magnitude,
        );
    }

    /// The second half of [`run_group`]: steps the periods of the sampled lanes, which may be
    /// stepped again with the same results. Needs AVX-512; panics without it.
    pub fn step_group(m: &Model, s: &mut LaneScratch) {
        assert!(super::available(), "the lane kernel needs AVX-512");
        // SAFETY: AVX-512F is present, checked above.
        unsafe { step_periods(m, s) };
    }

    /// Steps all periods of the lanes' trials over their sampled timelines.
    #[target_feature(enable = "avx512f")]
    fn step_periods(m: &Model, s: &mut LaneScratch) {
        let tt = m.periods;
        let flexible = m.policy == Policy::Flexible;
        let mut cost_on: M = 0;
        let z = splat(0.0);
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
            s.demand[d] = DemandLanes {
                stockpile: splat(dn.stockpile),
                shortfall: z,
                worst: z,
                tariff: z,
                worst_frac: z,
                started: 0,
                pending: 0,
            };
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
        for t in 0..tt {
            step_period(m, s, t, flexible, &mut cost_on);
        }
        for d in 0..m.demand.len() {
            let dl = &s.demand[d];
            let (short, worst, tariff, lost) = (
                to_array(dl.shortfall),
                to_array(dl.worst),
                to_array(dl.tariff),
                to_f32(dl.worst_frac),
            );
            for (l, o) in s.outcomes[d].iter_mut().enumerate() {
                o.shortfall = short[l];
                o.worst = worst[l];
                o.tariff = tariff[l];
                o.worst_frac = lost[l];
                if o.first_short != NONE && o.recover == NONE {
                    o.recover = (tt - o.first_short as usize) as u16;
                }
            }
        }
    }

    /// One period of every lane: the one-trial kernel's `step_period`, [`LANES`] trials wide.
    #[target_feature(enable = "avx512f")]
    fn step_period(m: &Model, s: &mut LaneScratch, t: usize, flexible: bool, cost_on: &mut M) {
        let (nn, tt) = (m.nodes.len(), m.periods);
        let (zero, one) = (splat(0.0), splat(1.0));
        let LaneScratch {
            tl,
            nodes,
            edges,
            demand,
            frac: frac_,
            short: short_,
            outcomes,
            ..
        } = s;
        let (nd, ed, dm): (&mut [NodeLanes], &mut [EdgeLanes], &mut [DemandLanes]) =
            (nodes, edges, demand);
        let frac_: &mut [[f32; LANES]] = frac_;
        let short_: &mut [M] = short_;
        let outcomes: &mut [[DemandOutcome; LANES]] = outcomes;
        let tl: &Timeline<LANES> = tl;
        let restricted = mask_of(&tl.allow_touched[t]);
        let tariffed = mask_of(&tl.tariff_touched[t]);
        *cost_on |= tariffed;

        // Tariffs shift buyers' shares towards untariffed suppliers (and back once they end);
        // the shares change only where an episode starts or ends.
        let reweight = mask_of(&tl.tariff_changed[t]);
        if reweight != 0 {
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
                    // A whole-vector store where every lane reweights: pass 1 reads it soon,
                    // and reading back a lane-masked store stalls.
                    ed[e].weight = if reweight == ALL {
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
            // 0 + x = x: the first shipment starts the sum.
            let mut recv = ed[ia..ib].first().map_or(zero, |el| el.ship);
            for el in ed[ia..ib].iter().skip(1) {
                recv = add(recv, el.ship);
            }
            // Flexible policy: re-order a gap from suppliers with spare output. A lane with
            // nothing left to re-order changes nothing below, as the one-trial kernel's early exit.
            // Nor does a node without an in-edge open to re-routing, whose count of short periods
            // no one reads.
            let (mut reroute, mut gap) = (0, zero);
            if flexible && node.reroutes {
                let need = nd[n].need;
                gap = sub(need, recv);
                let short = gt(gap, mul(splat(EPS), max(need, one)));
                let run = nd[n].short_run;
                reroute = short & ge(run, splat(m.reroute_lag as f64));
                nd[n].short_run = sel(short, add(run, one), zero);
            }
            if reroute != 0 {
                let mut left = sel(reroute, gap, zero);
                let mut asked = zero;
                for e in ia..ib {
                    let edge = &m.edges[e];
                    if !edge.reroute {
                        continue;
                    }
                    // The one-trial kernel stops once nothing is left to re-order.
                    let live = gt(left, zero);
                    if live == 0 {
                        break;
                    }
                    let src = edge.src as usize;
                    let src_node = &m.hot[src];
                    // Restricted routes cannot carry re-routed volume.
                    let ok = ge(load(&tl.allow(m, t, e)), one) & live;
                    // `x` is zero in every lane that re-orders nothing here, and adding or taking
                    // away zero leaves a quantity as it was (none is -0): so every lane is updated,
                    // with whole-vector stores (reading back a lane-masked store stalls), and
                    // nothing is when no lane re-orders.
                    let (spare, mut out) = (nd[src].spare, nd[src].out);
                    let x = sel(ok, min(left, spare), zero);
                    let mine = src_node.kind == Kind::Mine;
                    if gt(x, zero) != 0 {
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
                        // What is still missing, up to the supplier's idle capacity: nothing
                        // where it has none (and then, having re-ordered nothing either, the
                        // supplier hears of nothing).
                        let idle = sub(cap(m, nd, src), out);
                        if ok & gt(idle, zero) == 0 && gt(x, zero) == 0 {
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
            if node.tariffed && *cost_on != 0 {
                let mut money = mul(nd[n].cost_in, stock);
                for e in ia..ib {
                    let src = m.edges[e].src as usize;
                    // Per tonne: the tariff on this edge plus the cost the supplier carries. An
                    // edge without a tariff adds price * 0 = 0, a supplier no tariff reaches
                    // carries 0, and adding zero changes nothing (no term is -0): skip those terms.
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
                nd[n].cost_in = if *cost_on == ALL {
                    c
                } else {
                    sel(*cost_on, c, nd[n].cost_in)
                };
            }
            // Read back only after a whole-vector store: a lane-masked one would stall.
            let cost_in = nd[n].cost_in;

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
                dm[di].shortfall = add(dm[di].shortfall, gap);
                dm[di].worst = max(dm[di].worst, gap);
                // Without a shortfall the fraction is dem / dem = 1 exactly.
                let short = gt(gap, zero);
                let frac = if dem_t > 0.0 && short != 0 {
                    div(sub(dem, gap), dem)
                } else {
                    one
                };
                frac_[di * tt + t] = to_f32(frac);
                short_[di * tt + t] = short;
                // The one-trial kernel's `record_period`, all lanes at once. A lane without a
                // shortfall has frac = 1 and loses +0, which leaves the largest loss as it was.
                dm[di].worst_frac = max(dm[di].worst_frac, sub(one, frac));
                // Timings change only in a lane's first short period and where it recovers.
                let first = short & !dm[di].started;
                let recovered = !short & dm[di].pending;
                if (first | recovered) != 0 {
                    for l in lanes_of(first) {
                        let o = &mut outcomes[di][l];
                        o.first_short = t as u16;
                        let shock = tl.first_shock[l];
                        if shock <= t {
                            o.survive = (t - shock) as u16;
                        }
                    }
                    for l in lanes_of(recovered) {
                        let o = &mut outcomes[di][l];
                        o.recover = (t - o.first_short as usize) as u16;
                    }
                    dm[di].started |= first;
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
                // The ratio matters only in lanes that cannot ship in full: skip the division
                // when there are none.
                let ratio = if full == ALL {
                    zero
                } else {
                    sel(gt(wanted, zero), div(made, wanted), zero)
                };
                if node.has_offtake {
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
                    if spread != 0 {
                        let k = min(div(rem, unmet), one);
                        for &e in outs {
                            let e = e as usize;
                            let x = add(ed[e].ship, mul(sub(ed[e].order, ed[e].ship), k));
                            ed[e].ship = sel(spread, x, ed[e].ship);
                        }
                    }
                } else {
                    // A lane shipping in full multiplies by 1, which changes nothing.
                    if full == ALL {
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
                }
                // Export restrictions withhold part of the allocation.
                if restricted != 0 && node.restricted {
                    let mut withheld = zero;
                    let mut offer = zero;
                    for &e in outs {
                        let e = e as usize;
                        if m.slots.allow[e] == NO_SLOT {
                            continue;
                        }
                        let al = load(&tl.allow(m, t, e));
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
                    if offering != 0 {
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
                    if w != 0 {
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

        // Stock caps: input beyond the cap is lost. `min` is the one-trial kernel's
        // `if stock - cap > 0 { stock = cap }` for numbers, and stores every lane (reading back a
        // lane-masked store stalls); without a cap it would change nothing.
        for (nl, node) in nd.iter_mut().zip(&m.hot) {
            if node.stock_cap < f64::INFINITY {
                nl.stock = min(nl.stock, splat(node.stock_cap));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_gives_the_lane_count() {
        assert!(
            NAME.starts_with(&format!("{LANES} trials per step")),
            "{NAME}"
        );
    }

    #[test]
    fn lanes_of_lists_the_set_bits() {
        assert_eq!(lanes_of(0).count(), 0);
        assert_eq!(lanes_of(0b1010_0001).collect::<Vec<_>>(), [0, 5, 7]);
        assert_eq!(
            lanes_of(u32::MAX).collect::<Vec<_>>(),
            (0..32).collect::<Vec<_>>()
        );
    }
}
