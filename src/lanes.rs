//! The kernel for [`LANES`] trials at once: the engine's production path.
//!
//! Every trial samples its own shocks (into its lane of a [`Timeline`]), then the periods of all
//! lanes are stepped together: each per-node and per-edge quantity is an array with one entry per
//! trial, so the same instruction advances eight trials, and the compiler turns the lane loops
//! into vector instructions. The graph is the same for every lane; where trials differ (a short
//! node re-routes, a restricted edge withholds) the lanes take both sides and keep their own.
//!
//! Each lane performs exactly the floating-point operations of the one-trial kernel
//! ([`crate::kernel::run_trial`]) in the same order, so its results are bit for bit those of
//! that trial run alone, whatever the lane, the group or the instruction set (tests check this).
//! The one-trial kernel stays the reference, and serves the observers (invariant tests and the
//! tail profile).

// Index loops over lanes and CSR ranges read more plainly than zipped iterators.
#![allow(clippy::needless_range_loop)]

use crate::kernel::{DemandOutcome, EPS, NONE, Timeline, sample_timeline};
use crate::model::Model;
use crate::scenario::{Kind, Policy};

/// Trials stepped together.
pub const LANES: usize = 8;

type F = [f64; LANES];

/// Working memory for groups of [`LANES`] trials of one model; reuse it across groups.
#[derive(Clone, Debug)]
pub struct LaneScratch {
    /// The lanes' sampled shocks.
    pub tl: Timeline<LANES>,
    cap: Vec<F>,
    stock: Vec<F>,
    want: Vec<F>,
    plan: Vec<F>,
    need: Vec<F>,
    out: Vec<F>,
    spare: Vec<F>,
    cost_in: Vec<F>,
    asked: Vec<F>,
    asked_prev: Vec<F>,
    short_run: Vec<[u32; LANES]>,
    weight: Vec<F>,
    order: Vec<F>,
    base: Vec<F>,
    ship: Vec<F>,
    stockpile: Vec<F>,
    /// Delivered fraction of demand per (demand node, period): `frac[d * periods + t][lane]`.
    pub frac: Vec<[f32; LANES]>,
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
        let z = [0.0; LANES];
        LaneScratch {
            tl: Timeline::new(m),
            cap: vec![z; n],
            stock: vec![z; n],
            want: vec![z; n],
            plan: vec![z; n],
            need: vec![z; n],
            out: vec![z; n],
            spare: vec![z; n],
            cost_in: vec![z; n],
            asked: vec![z; n],
            asked_prev: vec![z; n],
            short_run: vec![[0; LANES]; n],
            weight: vec![z; e],
            order: vec![z; e],
            base: vec![z; e],
            ship: vec![z; e],
            stockpile: vec![z; d],
            frac: vec![[0.0; LANES]; d * t],
            outcomes: vec![[DemandOutcome::default(); LANES]; d],
            occurred: vec![0; LANES * m.shock_words()],
            magnitude: vec![0.0; LANES * m.shocks.len()],
        }
    }
}

/// Runs the trials `trials` (one per lane) of `m` under master seed `seed`; results land in
/// `s.outcomes`, `s.frac`, `s.occurred` and `s.magnitude`.
pub fn run_group(m: &Model, seed: u64, trials: &[u64; LANES], s: &mut LaneScratch) {
    let (words, ns) = (m.shock_words(), m.shocks.len());
    for (l, &trial) in trials.iter().enumerate() {
        sample_timeline(
            m,
            seed,
            trial,
            &mut s.tl,
            l,
            &mut s.occurred[l * words..(l + 1) * words],
            &mut s.magnitude[l * ns..(l + 1) * ns],
        );
    }
    step_dispatch(m, s);
}

/// Steps the periods with the widest vector instructions the processor has. Every variant runs
/// the same source, and so the same operations in each lane.
fn step_dispatch(m: &Model, s: &mut LaneScratch) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the processor supports AVX-512F, checked just above.
            return unsafe { step_avx512(m, s) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the processor supports AVX2, checked just above.
            return unsafe { step_avx2(m, s) };
        }
    }
    step_periods(m, s);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn step_avx512(m: &Model, s: &mut LaneScratch) {
    step_periods(m, s);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn step_avx2(m: &Model, s: &mut LaneScratch) {
    step_periods(m, s);
}

/// Steps all periods of the lanes' trials over their sampled timelines.
#[inline(always)]
fn step_periods(m: &Model, s: &mut LaneScratch) {
    let tt = m.periods;
    let flexible = m.policy == Policy::Flexible;
    let mut cost_on = [false; LANES];
    let z = [0.0; LANES];
    for (n, node) in m.hot.iter().enumerate() {
        s.stock[n] = [node.stock0; LANES];
        s.cost_in[n] = z;
        s.short_run[n] = [0; LANES];
        s.asked[n] = z;
        s.asked_prev[n] = z;
    }
    for (d, dn) in m.demand.iter().enumerate() {
        s.stock[dn.node as usize] = [dn.cover * dn.per_period.first().copied().unwrap_or(0.0); LANES];
        s.stockpile[d] = [dn.stockpile; LANES];
        s.outcomes[d] = [DemandOutcome {
            first_short: NONE,
            survive: NONE,
            recover: NONE,
            ..DemandOutcome::default()
        }; LANES];
    }
    for (e, edge) in m.edges.iter().enumerate() {
        s.weight[e] = [edge.share; LANES];
    }
    for t in 0..tt {
        step_period(m, s, t, flexible, &mut cost_on);
    }
    for o in s.outcomes.iter_mut().flatten() {
        if o.first_short != NONE && o.recover == NONE {
            o.recover = (tt - o.first_short as usize) as u16;
        }
    }
}

/// One period of every lane: the one-trial kernel's `step_period`, lane by lane.
#[inline(always)]
fn step_period(m: &Model, s: &mut LaneScratch, t: usize, flexible: bool, cost_on: &mut [bool; LANES]) {
    let (nn, ne, tt) = (m.nodes.len(), m.edges.len(), m.periods);
    let LaneScratch {
        tl,
        cap: cap_,
        stock: stock_,
        want: want_,
        plan: plan_,
        need: need_,
        out: out_,
        spare: spare_,
        cost_in: cost_in_,
        asked: asked_,
        asked_prev: asked_prev_,
        short_run: short_run_,
        weight: weight_,
        order: order_,
        base: base_,
        ship: ship_,
        stockpile: stockpile_,
        frac: frac_,
        outcomes,
        ..
    } = s;
    let tl: &Timeline<LANES> = tl;
    let cap_: &mut [F] = cap_;
    let stock_: &mut [F] = stock_;
    let want_: &mut [F] = want_;
    let plan_: &mut [F] = plan_;
    let need_: &mut [F] = need_;
    let out_: &mut [F] = out_;
    let spare_: &mut [F] = spare_;
    let cost_in_: &mut [F] = cost_in_;
    let asked_: &mut [F] = asked_;
    let asked_prev_: &mut [F] = asked_prev_;
    let short_run_: &mut [[u32; LANES]] = short_run_;
    let weight_: &mut [F] = weight_;
    let order_: &mut [F] = order_;
    let base_: &mut [F] = base_;
    let ship_: &mut [F] = ship_;
    let stockpile_: &mut [F] = stockpile_;
    let frac_: &mut [[f32; LANES]] = frac_;
    let outcomes: &mut [[DemandOutcome; LANES]] = outcomes;
    let first_shock = tl.first_shock;
    let fac = &tl.node_factor[t * nn..(t + 1) * nn];
    let allow = &tl.edge_allow[t * ne..(t + 1) * ne];
    let rate = &tl.edge_rate[t * ne..(t + 1) * ne];
    let restricted = tl.allow_touched[t];
    let tariffed = tl.tariff_touched[t];
    for l in 0..LANES {
        cost_on[l] |= tariffed[l];
    }

    // Tariffs shift buyers' shares towards untariffed suppliers (and back once they end).
    let mut reweight = [false; LANES];
    for l in 0..LANES {
        reweight[l] = tariffed[l] || (t > 0 && tl.tariff_touched[t - 1][l]);
    }
    if reweight.contains(&true) {
        let wmul = &tl.edge_wmul[t * ne..(t + 1) * ne];
        for &n in &m.tariff_buyers {
            let n = n as usize;
            let (a, b) = (m.in_off[n] as usize, m.in_off[n + 1] as usize);
            let mut sum = [0.0; LANES];
            for e in a..b {
                let share = m.edges[e].share;
                for l in 0..LANES {
                    sum[l] += share * wmul[e][l];
                }
            }
            for e in a..b {
                let share = m.edges[e].share;
                let w = &mut weight_[e];
                for l in 0..LANES {
                    let x = share * wmul[e][l];
                    let x = if sum[l] > 0.0 { x / sum[l] } else { x };
                    w[l] = if reweight[l] { x } else { w[l] };
                }
            }
        }
    }

    // Pass 1: orders, buyers first.
    want_.fill([0.0; LANES]);
    let mut di = m.demand.len();
    for n in (0..nn).rev() {
        let node = &m.hot[n];
        let mut need = [0.0; LANES];
        let mut used = [0.0; LANES];
        match node.kind {
            Kind::Demand => {
                di -= 1;
                let dn = &m.demand[di];
                let dem = dn.per_period[t];
                cap_[n] = [f64::INFINITY; LANES];
                let stock = &stock_[n];
                for l in 0..LANES {
                    need[l] = dem + (dn.cover * dem - stock[l]).max(0.0);
                    used[l] = dem;
                }
            }
            kind => {
                let (f, want, stock, asked_prev) = (&fac[n], &want_[n], &stock_[n], &asked_prev_[n]);
                let (cap, plan) = (&mut cap_[n], &mut plan_[n]);
                for l in 0..LANES {
                    cap[l] = node.capacity * f[l];
                    plan[l] = want[l].min(cap[l]);
                }
                if kind != Kind::Mine {
                    for l in 0..LANES {
                        let target = node.stock0 + asked_prev[l] * node.inv_yield;
                        used[l] = plan[l] * node.inv_yield;
                        need[l] = (used[l] + target - stock[l]).max(0.0);
                    }
                }
            }
        }
        need_[n] = need;
        for e in m.in_off[n] as usize..m.in_off[n + 1] as usize {
            let w = weight_[e];
            let src = m.edges[e].src as usize;
            let (order, base) = (&mut order_[e], &mut base_[e]);
            let want = &mut want_[src];
            for l in 0..LANES {
                let o = need[l] * w[l];
                order[l] = o;
                base[l] = used[l] * w[l];
                want[l] += o;
            }
        }
    }

    // Pass 2: production and shipping, suppliers first.
    let mut di = 0usize;
    for n in 0..nn {
        let node = &m.hot[n];
        let (ia, ib) = (m.in_off[n] as usize, m.in_off[n + 1] as usize);
        let mut recv = [0.0; LANES];
        for e in ia..ib {
            let ship = &ship_[e];
            for l in 0..LANES {
                recv[l] += ship[l];
            }
        }
        let need = need_[n];
        let mut short = [false; LANES];
        let mut left = [0.0; LANES];
        for l in 0..LANES {
            let gap = need[l] - recv[l];
            short[l] = gap > EPS * need[l].max(1.0);
            if flexible && short[l] && short_run_[n][l] >= m.reroute_lag {
                left[l] = gap;
            }
        }
        // Flexible policy: re-order a gap from suppliers with spare output. A lane with nothing
        // left to re-order changes nothing below, as the one-trial kernel's early exit.
        if left.iter().any(|&x| x > 0.0) {
            let mut asked = [0.0; LANES];
            for e in ia..ib {
                let edge = &m.edges[e];
                if !edge.reroute {
                    continue;
                }
                let src = edge.src as usize;
                let src_node = &m.hot[src];
                let stocked = src_node.kind != Kind::Mine;
                let iy = src_node.inv_yield;
                let (allow, ship) = (&allow[e], &mut ship_[e]);
                for l in 0..LANES {
                    // Restricted routes cannot carry re-routed volume.
                    let ok = allow[l] >= 1.0 && left[l] > 0.0;
                    let x = if ok { left[l].min(spare_[src][l]) } else { 0.0 };
                    let pos = x > 0.0;
                    ship[l] = if pos { ship[l] + x } else { ship[l] };
                    spare_[src][l] = if pos { spare_[src][l] - x } else { spare_[src][l] };
                    out_[src][l] = if pos { out_[src][l] + x } else { out_[src][l] };
                    recv[l] = if pos { recv[l] + x } else { recv[l] };
                    left[l] = if pos { left[l] - x } else { left[l] };
                    if stocked {
                        let st = stock_[src][l];
                        stock_[src][l] = if pos { (st - x * iy).max(0.0) } else { st };
                        let a = (left[l] - asked[l])
                            .max(0.0)
                            .min((cap_[src][l] - out_[src][l]).max(0.0));
                        let add = x.max(0.0) + a;
                        asked_[src][l] = if ok { asked_[src][l] + add } else { asked_[src][l] };
                        asked[l] = if ok { asked[l] + a } else { asked[l] };
                    }
                }
            }
        }
        let short_run = &mut short_run_[n];
        for l in 0..LANES {
            short_run[l] = if short[l] {
                short_run[l].saturating_add(1)
            } else {
                0
            };
        }

        // Tariff cost carried into this node's stock (average cost per input tonne).
        let mut avail = [0.0; LANES];
        for l in 0..LANES {
            avail[l] = stock_[n][l] + recv[l];
        }
        if node.tariffed && cost_on.contains(&true) {
            let mut money = [0.0; LANES];
            for l in 0..LANES {
                money[l] = cost_in_[n][l] * stock_[n][l];
            }
            for e in ia..ib {
                let src = m.edges[e].src as usize;
                let (price, iy) = (m.hot[src].price, m.hot[src].inv_yield);
                for l in 0..LANES {
                    let per_t = price * rate[e][l] + cost_in_[src][l] * iy;
                    money[l] += ship_[e][l] * per_t;
                }
            }
            let cost_in = &mut cost_in_[n];
            for l in 0..LANES {
                let c = if avail[l] > 0.0 {
                    money[l] / avail[l]
                } else {
                    0.0
                };
                cost_in[l] = if cost_on[l] { c } else { cost_in[l] };
            }
        }

        if node.kind == Kind::Demand {
            let dn = &m.demand[di];
            let dem = dn.per_period[t];
            for l in 0..LANES {
                let from_stock = dem.min(avail[l]);
                stock_[n][l] = avail[l] - from_stock;
                let mut gap = dem - from_stock;
                let pile = &mut stockpile_[di][l];
                if gap > 0.0 && *pile > 0.0 {
                    let r = gap.min(*pile).min(dn.max_release);
                    *pile -= r;
                    gap -= r;
                }
                if gap <= EPS * dem {
                    gap = 0.0;
                }
                let o = &mut outcomes[di][l];
                o.tariff += cost_in_[n][l] * from_stock;
                o.shortfall += gap;
                let frac = if dem > 0.0 { (dem - gap) / dem } else { 1.0 };
                frac_[di * tt + t][l] = frac as f32;
                if gap > 0.0 {
                    if gap > o.worst {
                        o.worst = gap;
                    }
                    if (1.0 - frac) as f32 > o.worst_frac {
                        o.worst_frac = (1.0 - frac) as f32;
                    }
                    if o.first_short == NONE {
                        o.first_short = t as u16;
                        if first_shock[l] <= t {
                            o.survive = (t - first_shock[l]) as u16;
                        }
                    }
                } else if o.first_short != NONE && o.recover == NONE {
                    o.recover = (t - o.first_short as usize) as u16;
                }
            }
            di += 1;
        } else {
            let (y, iy) = (node.yield_, node.inv_yield);
            let mine = node.kind == Kind::Mine;
            let mut made = plan_[n];
            if !mine {
                let stock = &mut stock_[n];
                for l in 0..LANES {
                    made[l] = made[l].min(avail[l] * y);
                    stock[l] = (avail[l] - made[l] * iy).max(0.0);
                }
            }
            // Ship: orders in full, else offtakes first and the rest pro rata.
            let outs = &m.out_edges[m.out_off[n] as usize..m.out_off[n + 1] as usize];
            let wanted = want_[n];
            let mut full = [false; LANES];
            let mut ratio = [0.0; LANES];
            for l in 0..LANES {
                full[l] = made[l] >= wanted[l] * (1.0 - 1e-12);
                ratio[l] = if wanted[l] > 0.0 {
                    made[l] / wanted[l]
                } else {
                    0.0
                };
            }
            if node.has_offtake {
                let mut rem = made;
                let mut unmet = [0.0; LANES];
                for &e in outs {
                    let e = e as usize;
                    let off = m.edges[e].offtake;
                    let (ship, order) = (&mut ship_[e], &order_[e]);
                    for l in 0..LANES {
                        let a = order[l].min(off * made[l]);
                        ship[l] = if full[l] { order[l] } else { a };
                        rem[l] = if full[l] { rem[l] } else { rem[l] - a };
                        unmet[l] = if full[l] {
                            unmet[l]
                        } else {
                            unmet[l] + (order[l] - a)
                        };
                    }
                }
                let mut k = [0.0; LANES];
                let mut spread = [false; LANES];
                for l in 0..LANES {
                    spread[l] = !full[l] && unmet[l] > 0.0 && rem[l] > 0.0;
                    k[l] = (rem[l] / unmet[l]).min(1.0);
                }
                if spread.contains(&true) {
                    for &e in outs {
                        let e = e as usize;
                        let (ship, order) = (&mut ship_[e], &order_[e]);
                        for l in 0..LANES {
                            let x = ship[l] + (order[l] - ship[l]) * k[l];
                            ship[l] = if spread[l] { x } else { ship[l] };
                        }
                    }
                }
            } else {
                // Multipliers: 1 for a lane that ships in full, else its ratio.
                let mut mult = [0.0; LANES];
                for l in 0..LANES {
                    mult[l] = if full[l] { 1.0 } else { ratio[l] };
                }
                for &e in outs {
                    let e = e as usize;
                    let (ship, order) = (&mut ship_[e], &order_[e]);
                    for l in 0..LANES {
                        ship[l] = order[l] * mult[l];
                    }
                }
            }
            // Export restrictions withhold part of the allocation.
            if restricted.contains(&true) {
                let mut withheld = [0.0; LANES];
                let mut offer = [0.0; LANES];
                for &e in outs {
                    let e = e as usize;
                    let into = if m.edges[e].blocked_domestic {
                        &mut offer
                    } else {
                        &mut withheld
                    };
                    let (ship, base, allow) = (&mut ship_[e], &base_[e], &allow[e]);
                    for l in 0..LANES {
                        // The allowed fraction of current use passes; stock refills do not.
                        let blocked = ship[l] - allow[l] * ship[l].min(base[l]);
                        let cut = allow[l] < 1.0 && blocked > 0.0;
                        ship[l] = if cut { ship[l] - blocked } else { ship[l] };
                        into[l] = if cut { into[l] + blocked } else { into[l] };
                    }
                }
                if offer.iter().any(|&x| x > 0.0) {
                    let mut unmet = [0.0; LANES];
                    for &e in outs {
                        let e = e as usize;
                        if m.edges[e].domestic {
                            for l in 0..LANES {
                                unmet[l] += (order_[e][l] - ship_[e][l]).max(0.0);
                            }
                        }
                    }
                    let mut give = [0.0; LANES];
                    for l in 0..LANES {
                        give[l] = offer[l].min(unmet[l]);
                    }
                    for &e in outs {
                        let e = e as usize;
                        if m.edges[e].domestic {
                            let (ship, order) = (&mut ship_[e], &order_[e]);
                            for l in 0..LANES {
                                let x = ship[l] + give[l] * (order[l] - ship[l]).max(0.0) / unmet[l];
                                ship[l] = if offer[l] > 0.0 && give[l] > 0.0 {
                                    x
                                } else {
                                    ship[l]
                                };
                            }
                        }
                    }
                    for l in 0..LANES {
                        let w = withheld[l] + (offer[l] - give[l]);
                        withheld[l] = if offer[l] > 0.0 { w } else { withheld[l] };
                    }
                }
                for l in 0..LANES {
                    let w = withheld[l] > 0.0;
                    made[l] = if w { made[l] - withheld[l] } else { made[l] };
                    if !mine {
                        let st = stock_[n][l];
                        stock_[n][l] = if w { st + withheld[l] * iy } else { st };
                    }
                }
            }
            out_[n] = made;
            let (spare, cap, stock) = (&mut spare_[n], &cap_[n], &stock_[n]);
            if mine {
                for l in 0..LANES {
                    spare[l] = (cap[l] - made[l]).max(0.0);
                }
            } else {
                for l in 0..LANES {
                    spare[l] = (cap[l] - made[l]).min(stock[l] * y).max(0.0);
                }
            }
        }
    }

    asked_prev_.copy_from_slice(asked_);
    asked_.fill([0.0; LANES]);

    // Stock caps: input beyond the cap is lost.
    for n in 0..nn {
        let c = m.hot[n].stock_cap;
        let stock = &mut stock_[n];
        for l in 0..LANES {
            stock[l] = if stock[l] - c > 0.0 { c } else { stock[l] };
        }
    }
}
