//! Invariants on random small graphs, checked after every period of every trial:
//! delivered + shortfall = demand, output within capacity, stocks never negative, each node's
//! stock moves by exactly received - output / yield - lost, suppliers ship exactly what they
//! output, a restricted edge carries at most its allowed fraction, and buyers' shares are those
//! of the period's tariffs.

use std::fmt::Write as _;

use proptest::prelude::*;
use rand::{RngExt as _, SeedableRng as _};
use rand_xoshiro::Xoshiro256PlusPlus;
use supplyshock::model::Model;
use supplyshock::model::{Kind, Policy};
use supplyshock::sim::kernel::{Observer, Scratch, run_trial};
use supplyshock::sim::result::DemandOutcome;

use crate::common::model;

/// Writes a random layered scenario: mines -> refineries -> magnets -> demand.
pub fn random_scenario(seed: u64) -> String {
    let mut g = Xoshiro256PlusPlus::seed_from_u64(seed);
    let countries = ["AA", "BB", "CC"];
    let mut s = String::new();
    let policy = if g.random_bool(0.5) {
        "flexible"
    } else {
        "fixed"
    };
    let _ = writeln!(
        s,
        "[scenario]\nname = \"random\"\nperiods = {}\nstart = \"2027-01\"\npolicy = \"{policy}\"\nreroute_lag = {}\n",
        g.random_range(1..30),
        g.random_range(0..3)
    );
    // Now and then no regime: the regime-dependent hazards below then take one value.
    let regime = g.random_bool(0.8);
    if regime {
        let _ = writeln!(
            s,
            "[regime]\nstates = [\"calm\", \"crisis\"]\ninitial = \"calm\"\ntransition = [[0.9, 0.1], [0.3, 0.7]]\n"
        );
    }
    let by_regime = |calm: f64, crisis: f64| {
        if regime {
            format!("{{ calm = {calm}, crisis = {crisis} }}")
        } else {
            format!("{}", (calm + crisis) / 2.0)
        }
    };
    let stages = [
        ("mine", g.random_range(1..4)),
        ("refinery", g.random_range(1..4)),
        ("magnet", g.random_range(1..3)),
        ("demand", g.random_range(1..4)),
    ];
    let mut layers: Vec<Vec<String>> = Vec::new();
    let mut country_of = std::collections::HashMap::new();
    for (kind, count) in stages {
        let mut layer = Vec::new();
        for i in 0..count {
            let id = format!("{kind}{i}");
            let c = countries[g.random_range(0..3)];
            country_of.insert(id.clone(), c);
            let _ = writeln!(
                s,
                "[[node]]\nid = \"{id}\"\nkind = \"{kind}\"\ncountry = \"{c}\""
            );
            if kind == "demand" {
                let _ = writeln!(
                    s,
                    "demand = {:.3}\ngrowth = {:.3}\ncover = {:.2}",
                    g.random_range(1.0..50.0),
                    g.random_range(-0.2..0.3),
                    g.random_range(0.0..3.0)
                );
                if g.random_bool(0.3) {
                    let _ = writeln!(
                        s,
                        "stockpile = {{ tonnes = {:.1}, max_release = {:.1} }}",
                        g.random_range(0.0..100.0),
                        g.random_range(1.0..30.0)
                    );
                }
            } else {
                let _ = writeln!(
                    s,
                    "capacity = {:.3}\nprice = {:.0}",
                    g.random_range(0.0..100.0),
                    g.random_range(0.0..1000.0)
                );
                if kind != "mine" {
                    let _ = writeln!(
                        s,
                        "yield = {:.3}\nstock = {:.2}",
                        g.random_range(0.5..1.5),
                        g.random_range(0.0..40.0)
                    );
                    if g.random_bool(0.3) {
                        let _ = writeln!(s, "stock_cap = {:.2}", g.random_range(40.0..80.0));
                    }
                }
            }
            s.push('\n');
            layer.push(id);
        }
        layers.push(layer);
    }
    let mut cross: Vec<(&str, &str)> = Vec::new();
    for w in 1..layers.len() {
        for buyer in &layers[w] {
            let prev = &layers[w - 1];
            let mut sup: Vec<&String> = prev.iter().filter(|_| g.random_bool(0.6)).collect();
            if sup.is_empty() {
                sup.push(&prev[g.random_range(0..prev.len())]);
            }
            let raw: Vec<f64> = sup.iter().map(|_| g.random_range(0.1..1.0)).collect();
            let total: f64 = raw.iter().sum();
            let mut acc = 0.0;
            for (k, sp) in sup.iter().enumerate() {
                let share = if k + 1 == sup.len() {
                    1.0 - acc
                } else {
                    (raw[k] / total * 1e6).round() / 1e6
                };
                acc += share;
                let _ = writeln!(
                    s,
                    "[[edge]]\nfrom = \"{sp}\"\nto = \"{buyer}\"\nshare = {share:.6}"
                );
                if country_of[*sp] != country_of[buyer] {
                    cross.push((country_of[*sp], country_of[buyer]));
                }
                if g.random_bool(0.2) {
                    let _ = writeln!(s, "offtake = {:.2}", g.random_range(0.0..0.3));
                }
                // Now and then a route closed to re-routed volume.
                if g.random_bool(0.25) {
                    let _ = writeln!(s, "reroute = false");
                }
                s.push('\n');
            }
            // A standby supplier now and then.
            if let Some(extra) = prev.iter().find(|p| !sup.contains(p))
                && g.random_bool(0.5)
            {
                let _ = writeln!(s, "[[edge]]\nfrom = \"{extra}\"\nto = \"{buyer}\"\n");
            }
        }
    }
    for layer in &layers[..3] {
        for id in layer {
            match g.random_range(0..5) {
                0 => {
                    let _ = writeln!(
                        s,
                        "[[outage]]\nnode = \"{id}\"\np_fail = {}\np_recover = 0.4\nseverity = {{ dist = \"uniform\", low = 0.2, high = 1 }}\n",
                        by_regime(0.05, 0.3)
                    );
                }
                1 => {
                    let _ = writeln!(
                        s,
                        "[[outage]]\nnode = \"{id}\"\np_event = 0.1\nduration = {{ dist = \"lognormal\", median = 2, p90 = 5 }}\ninitial = \"up\"\n"
                    );
                }
                2 => {
                    let _ = writeln!(
                        s,
                        "[[delay]]\nnode = \"{id}\"\nnominal = {}\ndelay = {{ dist = \"pert\", min = 0, mode = 3, max = 12 }}\nramp = 3\n",
                        g.random_range(-3..10)
                    );
                }
                // No shock: the node keeps its capacity in every trial.
                4 => {}
                _ => {
                    // A delay that draws nothing: applied once to the rows every trial starts from.
                    let _ = writeln!(
                        s,
                        "[[delay]]\nnode = \"{id}\"\nnominal = 1\ndelay = 2\nramp = 2\n"
                    );
                }
            }
        }
    }
    if cross.is_empty() {
        return s;
    }
    let (from, _) = cross[g.random_range(0..cross.len())];
    let blocked = if g.random_bool(0.5) {
        "domestic"
    } else {
        "lost"
    };
    let _ = writeln!(
        s,
        "[[restriction]]\nid = \"r\"\ncountry = \"{from}\"\nseverity = {{ dist = \"beta\", alpha = 2, beta = 2 }}\nlicensing_lag = 2\nlicensed_severity = 0.3\nblocked = \"{blocked}\"\nwhen = {{ p_start = {}, p_end = 0.2 }}\n",
        by_regime(0.05, 0.5)
    );
    let (a, b) = cross[g.random_range(0..cross.len())];
    let _ = writeln!(
        s,
        "[[tariff]]\nid = \"t\"\nfrom = \"{a}\"\nto = \"{b}\"\nrate = 0.3\nelasticity = 1.5\nwhen = {{ at = {{ dist = \"uniform\", low = 0, high = 10 }}, duration = 6 }}\n"
    );
    // A standing tariff, the same in every trial.
    let (a, b) = cross[g.random_range(0..cross.len())];
    let _ = writeln!(
        s,
        "[[tariff]]\nid = \"standing\"\nfrom = \"{a}\"\nto = \"{b}\"\nrate = 0.1\nelasticity = 1.0\n"
    );
    s
}

struct Checker {
    prev_stock: Vec<f64>,
    checked: usize,
}

fn close(a: f64, b: f64, scale: f64) -> bool {
    (a - b).abs() <= 1e-9 * scale.max(1.0)
}

impl Observer for Checker {
    fn period(&mut self, t: usize, m: &Model, s: &Scratch) {
        for (d, dn) in m.demand.iter().enumerate() {
            let dem = dn.per_period[t];
            assert!(
                close(s.delivered[d] + s.shortfall[d], dem, dem),
                "delivered + shortfall != demand"
            );
            assert!(s.shortfall[d] >= 0.0 && s.delivered[d] >= -1e-12);
        }
        for (n, node) in m.nodes.iter().enumerate() {
            assert!(
                s.stock[n] >= 0.0,
                "negative stock at {} in period {t}: {}",
                node.id,
                s.stock[n]
            );
            if node.kind == Kind::Demand {
                continue;
            }
            assert!(
                s.out[n] <= s.cap[n] * (1.0 + 1e-9) + 1e-12,
                "output above capacity at {}",
                node.id
            );
            assert!(s.cap[n] <= m.hot[n].capacity * (1.0 + 1e-12));
            let outs = &m.out_edges[m.out_off[n] as usize..m.out_off[n + 1] as usize];
            if m.hot[n].joint() {
                // Every co-product part receives the whole throughput, or at most its order.
                for &e in outs {
                    let (ship, order) = (s.ship[e as usize], s.order[e as usize]);
                    if m.hot[n].lose() {
                        assert_eq!(ship, order.min(s.out[n]), "{}: co-product part", node.id);
                    } else {
                        assert_eq!(ship, s.out[n], "{}: co-product part", node.id);
                    }
                }
            } else {
                let shipped: f64 = outs.iter().map(|&e| s.ship[e as usize]).sum();
                assert!(
                    close(shipped, s.out[n], s.out[n]),
                    "{} shipped {shipped} but made {}",
                    node.id,
                    s.out[n]
                );
            }
            if m.hot[n].assembly() {
                // Each input part hands over the same number of kits: what the scarcest allowed.
                for e in m.in_off[n] as usize..m.in_off[n + 1] as usize {
                    assert_eq!(s.ship[e], s.recv[n], "{}: recipe input", node.id);
                }
            }
            if node.kind != Kind::Mine {
                let expect =
                    self.prev_stock[n] + s.recv[n] - s.out[n] / m.hot[n].yield_ - s.lost[n];
                assert!(
                    close(s.stock[n], expect, self.prev_stock[n] + s.recv[n]),
                    "stock balance broken at {} in period {t}: {} vs {expect}",
                    node.id,
                    s.stock[n]
                );
            }
        }
        for (e, edge) in m.edges.iter().enumerate() {
            let mut allow = s.tl.allow(m, t, e)[0];
            // A restriction reaches another country's exports only while their content of its
            // origin is above the de minimis share.
            if let Some(r) = m.reaches.get(edge.reach as usize) {
                let share = s.origin[edge.src as usize * m.origins.len() + r.origin as usize];
                assert!((0.0..=1.0 + 1e-12).contains(&share), "origin share {share}");
                if share <= r.threshold {
                    allow = 1.0;
                }
            }
            assert!(s.ship[e] >= 0.0);
            if allow == 0.0 {
                assert_eq!(s.ship[e], 0.0, "a fully blocked edge carried volume");
            }
            if m.policy == Policy::Fixed && !edge.domestic {
                assert!(
                    s.ship[e] <= allow * s.order[e] * (1.0 + 1e-9) + 1e-12,
                    "edge beyond its allowed fraction"
                );
            }
        }
        // Buyers' tariff-weighted shares are recomputed only where an episode starts or ends;
        // they must always be the shares of this period's tariff rows.
        for &n in &m.tariff_buyers {
            let (a, b) = (
                m.in_off[n as usize] as usize,
                m.in_off[n as usize + 1] as usize,
            );
            let raw: Vec<f64> = (a..b)
                .map(|e| m.edges[e].share * s.tl.wmul(m, t, e)[0])
                .collect();
            let sum = raw.iter().fold(0.0, |acc, w| acc + w);
            for (e, w) in (a..b).zip(raw) {
                let expect = if sum > 0.0 { w / sum } else { w };
                assert_eq!(
                    s.weight[e].to_bits(),
                    expect.to_bits(),
                    "stale tariff-weighted share on edge {e} in period {t}"
                );
            }
        }
        for n in 0..m.nodes.len() {
            self.prev_stock[n] = s.stock[n];
        }
        self.checked += 1;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, .. ProptestConfig::default() })]

    #[test]
    fn invariants_hold_every_period(seed in any::<u64>(), materials in any::<bool>()) {
        let text = if materials {
            random_material_scenario(seed)
        } else {
            random_scenario(seed)
        };
        let m = model(&text);
        let mut scratch = Scratch::new(&m);
        let mut out = vec![DemandOutcome::default(); m.demand.len()];
        let mut occ = vec![0u64; m.shock_words()];
        for trial in 0..20 {
            let mut c = Checker { prev_stock: Vec::new(), checked: 0 };
            // Initial stocks, as the kernel sets them.
            c.prev_stock = m.hot.iter().map(|n| n.stock0).collect();
            for dn in &m.demand {
                c.prev_stock[dn.node as usize] = dn.cover * dn.per_period[0];
            }
            run_trial(&m, 7, trial, &mut scratch, &mut out, &mut occ, &mut c);
            prop_assert_eq!(c.checked, m.periods);
            for (d, o) in out.iter().enumerate() {
                prop_assert!(o.shortfall >= 0.0 && o.shortfall <= m.demand[d].total * (1.0 + 1e-9));
                prop_assert!(o.worst <= o.shortfall + 1e-9);
            }
        }
    }
}

/// Edges share a timeline column exactly when the same restrictions (or the same tariffs) cover
/// them, and each shock writes every column of its edges, once: the kernels read an edge's
/// allowed fraction and tariff rate through its column.
#[test]
fn edges_share_a_column_exactly_when_the_same_shocks_cover_them() {
    use supplyshock::model::{NO_SLOT, ShockKind};
    let mut models: Vec<Model> = (0..60).map(|seed| model(&random_scenario(seed))).collect();
    for path in supplyshock::io::read::shipped_scenarios() {
        models.push(supplyshock::io::read::load(&path).unwrap_or_else(|e| panic!("{e}")));
    }
    for m in &models {
        let ne = m.edges.len();
        let (mut restricted_by, mut taxed_by) = (vec![Vec::new(); ne], vec![Vec::new(); ne]);
        for (i, shock) in m.shocks.iter().enumerate() {
            let (by, edges) = match &shock.kind {
                ShockKind::Restriction { edges, .. } => (&mut restricted_by, edges),
                ShockKind::Tariff { edges, .. } => (&mut taxed_by, edges),
                _ => continue,
            };
            for &e in edges {
                by[e as usize].push(i);
            }
        }
        for (slot, by) in [
            (&m.slots.allow, &restricted_by),
            (&m.slots.tariff, &taxed_by),
        ] {
            for a in 0..ne {
                assert_eq!(slot[a] == NO_SLOT, by[a].is_empty(), "{}: edge {a}", m.name);
                for b in 0..ne {
                    assert_eq!(
                        slot[a] == slot[b],
                        by[a] == by[b],
                        "{}: edges {a}, {b}",
                        m.name
                    );
                }
            }
        }
        for (i, shock) in m.shocks.iter().enumerate() {
            let (edges, slot) = match &shock.kind {
                ShockKind::Restriction { edges, .. } => (edges, &m.slots.allow),
                ShockKind::Tariff { edges, .. } => (edges, &m.slots.tariff),
                ShockKind::Markov { node, .. }
                | ShockKind::Events { node, .. }
                | ShockKind::Delay { node, .. } => (&vec![*node], &m.slots.node),
            };
            let mut expect: Vec<u32> = edges.iter().map(|&k| slot[k as usize]).collect();
            expect.sort_unstable();
            expect.dedup();
            let mut got = m.slots.columns[i].clone();
            got.sort_unstable();
            assert!(
                got.windows(2).all(|w| w[0] < w[1]),
                "a column written twice"
            );
            assert_eq!(got, expect, "{}: shock {}", m.name, shock.id);
        }
    }
}

/// Writes a random element-level scenario: mines of ore -> separation plants (some splitting
/// their feed into co-products `a`, `b` and `c`, some making one) -> magnet makers (most with a
/// recipe of `a` and `b`) -> demand for magnets, with outages, delays, a restriction and a
/// tariff by material.
pub fn random_material_scenario(seed: u64) -> String {
    let mut g = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x6d61_7465_7269_616c);
    let countries = ["AA", "BB", "CC"];
    let mut s = String::new();
    let policy = if g.random_bool(0.5) {
        "flexible"
    } else {
        "fixed"
    };
    let _ = writeln!(
        s,
        "[scenario]\nname = \"random-materials\"\nperiods = {}\nstart = \"2027-01\"\npolicy = \"{policy}\"\nreroute_lag = {}\n",
        g.random_range(1..30),
        g.random_range(0..3)
    );
    for m in ["ore", "a", "b", "c", "magnet"] {
        let _ = writeln!(s, "[[material]]\nid = \"{m}\"\n");
    }
    let country = |g: &mut Xoshiro256PlusPlus| countries[g.random_range(0..3)];
    let mut country_of = std::collections::HashMap::new();
    let mines = g.random_range(1..4);
    for i in 0..mines {
        let c = country(&mut g);
        country_of.insert(format!("mine{i}"), c);
        let _ = writeln!(
            s,
            "[[node]]\nid = \"mine{i}\"\nkind = \"mine\"\ncountry = \"{c}\"\noutput = \"ore\"\ncapacity = {:.3}\n",
            g.random_range(20.0..200.0)
        );
    }
    // Separation plants: what each makes.
    let seps = g.random_range(1..4);
    let mut makes: Vec<Vec<&str>> = Vec::new();
    for i in 0..seps {
        let c = country(&mut g);
        country_of.insert(format!("sep{i}"), c);
        let _ = writeln!(
            s,
            "[[node]]\nid = \"sep{i}\"\nkind = \"refinery\"\ncountry = \"{c}\"\ncapacity = {:.3}\nprice = {:.0}\nstock = {:.2}",
            g.random_range(20.0..200.0),
            g.random_range(0.0..1000.0),
            g.random_range(0.0..40.0)
        );
        if i == 0 || g.random_bool(0.5) {
            let (a, b, c): (f64, f64, f64) = (
                g.random_range(0.1..0.5),
                g.random_range(0.01..0.1),
                g.random_range(0.0..0.4),
            );
            let _ = writeln!(
                s,
                "outputs = {{ a = {a:.3}, b = {b:.3}, c = {:.3} }}\nsurplus = \"{}\"",
                c.max(0.001),
                if g.random_bool(0.5) { "stock" } else { "lose" }
            );
            makes.push(vec!["a", "b", "c"]);
        } else {
            let m = if g.random_bool(0.5) { "a" } else { "b" };
            let _ = writeln!(
                s,
                "output = \"{m}\"\nyield = {:.3}",
                g.random_range(0.2..0.9)
            );
            if g.random_bool(0.3) {
                let _ = writeln!(s, "stock_cap = {:.2}", g.random_range(40.0..80.0));
            }
            makes.push(vec![m]);
        }
        s.push('\n');
    }
    let magnets = g.random_range(1..4);
    let mut needs: Vec<Vec<&str>> = Vec::new();
    for i in 0..magnets {
        let c = country(&mut g);
        country_of.insert(format!("mag{i}"), c);
        let _ = writeln!(
            s,
            "[[node]]\nid = \"mag{i}\"\nkind = \"magnet\"\ncountry = \"{c}\"\noutput = \"magnet\"\ncapacity = {:.3}\nprice = {:.0}",
            g.random_range(5.0..60.0),
            g.random_range(0.0..1000.0)
        );
        if g.random_bool(0.75) {
            let _ = writeln!(
                s,
                "inputs = {{ a = {:.3}, b = {:.3} }}\nstocks = {{ a = {:.2}, b = {:.2} }}\n",
                g.random_range(0.2..1.5),
                g.random_range(0.01..0.2),
                g.random_range(0.0..20.0),
                g.random_range(0.0..2.0)
            );
            needs.push(vec!["a", "b"]);
        } else {
            let _ = writeln!(
                s,
                "inputs = {{ a = {:.3} }}\nstocks = {{ a = {:.2} }}\n",
                g.random_range(0.2..1.5),
                g.random_range(0.0..20.0)
            );
            needs.push(vec!["a"]);
        }
    }
    let demands = g.random_range(1..4);
    for i in 0..demands {
        let c = country(&mut g);
        country_of.insert(format!("demand{i}"), c);
        let _ = writeln!(
            s,
            "[[node]]\nid = \"demand{i}\"\nkind = \"demand\"\ncountry = \"{c}\"\ndemand = {:.3}\ncover = {:.2}\n",
            g.random_range(1.0..30.0),
            g.random_range(0.0..3.0)
        );
    }
    // Writes a buyer's edges for one material from `sup`, with shares adding up to 1.
    // (supplier, buyer, material) of every edge written.
    let mut written: Vec<(String, String, String)> = Vec::new();
    let mut edges = |g: &mut Xoshiro256PlusPlus,
                     s: &mut String,
                     buyer: &str,
                     m: &str,
                     sup: &[String]| {
        let mut pick: Vec<&String> = sup.iter().filter(|_| g.random_bool(0.6)).collect();
        if pick.is_empty() {
            pick.push(&sup[g.random_range(0..sup.len())]);
        }
        let n = pick.len();
        for (k, sp) in pick.iter().enumerate() {
            let share = if k + 1 == n {
                1.0 - (n - 1) as f64 * (1.0 / n as f64 * 1e6).round() / 1e6
            } else {
                (1.0 / n as f64 * 1e6).round() / 1e6
            };
            let _ = writeln!(
                s,
                "[[edge]]\nfrom = \"{sp}\"\nto = \"{buyer}\"\nmaterial = \"{m}\"\nshare = {share:.6}"
            );
            if g.random_bool(0.2) {
                let _ = writeln!(s, "offtake = {:.2}", g.random_range(0.0..0.3));
            }
            if g.random_bool(0.25) {
                let _ = writeln!(s, "reroute = false");
            }
            s.push('\n');
            written.push((sp.to_string(), buyer.to_string(), m.to_string()));
        }
    };
    let mine_ids: Vec<String> = (0..mines).map(|i| format!("mine{i}")).collect();
    for i in 0..seps {
        edges(&mut g, &mut s, &format!("sep{i}"), "ore", &mine_ids);
    }
    for (i, need) in needs.iter().enumerate() {
        for m in need {
            let sup: Vec<String> = (0..seps)
                .filter(|&k| makes[k].contains(m))
                .map(|k| format!("sep{k}"))
                .collect();
            edges(&mut g, &mut s, &format!("mag{i}"), m, &sup);
        }
    }
    let mag_ids: Vec<String> = (0..magnets).map(|i| format!("mag{i}")).collect();
    for i in 0..demands {
        edges(&mut g, &mut s, &format!("demand{i}"), "magnet", &mag_ids);
    }
    // Shocks on the facilities.
    let ids: Vec<String> = mine_ids
        .iter()
        .chain(&mag_ids)
        .cloned()
        .chain((0..seps).map(|i| format!("sep{i}")))
        .collect();
    for id in &ids {
        match g.random_range(0..4) {
            0 => {
                let _ = writeln!(
                    s,
                    "[[outage]]\nnode = \"{id}\"\np_fail = 0.1\np_recover = 0.4\nseverity = {{ dist = \"uniform\", low = 0.2, high = 1 }}\n"
                );
            }
            1 => {
                let _ = writeln!(
                    s,
                    "[[delay]]\nnode = \"{id}\"\nnominal = {}\ndelay = {{ dist = \"pert\", min = 0, mode = 3, max = 12 }}\nramp = 3\n",
                    g.random_range(-3..10)
                );
            }
            _ => {}
        }
    }
    // A restriction of `b` and a tariff on `a`, where such edges cross a border.
    let crossing = |m: &str| -> Vec<(&str, &str)> {
        written
            .iter()
            .filter(|(a, b, k)| k == m && country_of[a] != country_of[b])
            .map(|(a, b, _)| (country_of[a], country_of[b]))
            .collect()
    };
    let b_cross = crossing("b");
    if let Some(&(from, _)) = b_cross.first() {
        let _ = writeln!(
            s,
            "[[restriction]]\nid = \"b-stop\"\ncountry = \"{from}\"\nmaterials = [\"b\"]\nseverity = {{ dist = \"beta\", alpha = 2, beta = 2 }}\nblocked = \"{}\"\nwhen = {{ p_start = 0.1, p_end = 0.2 }}\n",
            if g.random_bool(0.5) {
                "domestic"
            } else {
                "lost"
            }
        );
    }
    // China's rule for foreign-made magnets: the first separation plant's country restricts
    // other countries' magnet exports whose content of its origin is above a de minimis share.
    let origin = country_of["sep0"];
    let reached = written.iter().any(|(a, b, k)| {
        let (ca, cb) = (country_of[a], country_of[b]);
        k == "magnet" && ca != cb && cb != origin
    });
    if reached {
        let _ = writeln!(
            s,
            "[[restriction]]\nid = \"reach\"\ncountry = \"{origin}\"\nstages = [\"magnet\"]\nde_minimis = {:.3}\nseverity = 0.8\nwhen = {{ p_start = 0.1, p_end = 0.3 }}\n",
            g.random_range(0.0..0.6)
        );
    }
    let a_cross = crossing("a");
    if let Some(&(from, to)) = a_cross.first() {
        let _ = writeln!(
            s,
            "[[tariff]]\nid = \"a-tariff\"\nfrom = \"{from}\"\nto = \"{to}\"\nmaterials = [\"a\"]\nrate = 0.3\nelasticity = 1.5\nwhen = {{ at = {{ dist = \"uniform\", low = 0, high = 10 }}, duration = 6 }}\n"
        );
    }
    s
}
