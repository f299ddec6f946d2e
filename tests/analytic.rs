//! Cases whose answer is known in closed form. Stochastic cases compare the sample mean with
//! the exact expectation within 4 standard errors of the mean (a false alarm about once in
//! 16,000 runs; the seeds are fixed, so a pass is reproducible, and a real bias of a few
//! percent fails).

use crate::common::{TWO_NODES, assert_mean_near, first_trial, model, run, summarise};

#[test]
fn single_markov_outage_matches_the_transient_down_probability() {
    let (a, b) = (0.1, 0.3);
    let text = format!("{TWO_NODES}\n[[outage]]\nnode = \"mine\"\np_fail = {a}\np_recover = {b}\n");
    let m = model(&text);
    let r = run(&m, 20_000, 11, 0);
    // Started up: P(down at t) = pi * (1 - (1 - a - b)^t), pi = a / (a + b).
    let pi = a / (a + b);
    let expected: f64 = (0..24)
        .map(|t| 10.0 * pi * (1.0 - (1.0f64 - a - b).powi(t)))
        .sum();
    assert_mean_near(&r.shortfalls(0), expected, 4.0, "markov outage");
}

fn redundant(policy: &str) -> String {
    format!(
        r#"
[scenario]
name = "redundant"
periods = 12
start = "2027-01"
policy = "{policy}"

[[node]]
id = "a"
kind = "mine"
country = "AA"
capacity = 10

[[node]]
id = "b"
kind = "mine"
country = "AA"
capacity = 10

[[node]]
id = "d"
kind = "demand"
country = "AA"
demand = 10

[[edge]]
from = "a"
to = "d"
share = 0.5

[[edge]]
from = "b"
to = "d"
share = 0.5

[[outage]]
node = "a"
p_fail = 0.1
p_recover = 0.4
initial = "stationary"

[[outage]]
node = "b"
p_fail = 0.1
p_recover = 0.4
initial = "stationary"
"#
    )
}

#[test]
fn redundant_suppliers_fail_together_only_under_flexible_sourcing() {
    let pi = 0.1 / (0.1 + 0.4);
    // Flexible: the survivor has spare capacity for the whole demand, so shortfall needs both
    // down: 10 * pi^2 per period in the stationary state.
    let r = run(&model(&redundant("flexible")), 40_000, 5, 0);
    assert_mean_near(&r.shortfalls(0), 12.0 * 10.0 * pi * pi, 4.0, "flexible");
    // Fixed contracts: each supplier's half is lost while it is down.
    let r = run(&model(&redundant("fixed")), 40_000, 5, 0);
    assert_mean_near(&r.shortfalls(0), 12.0 * 2.0 * 5.0 * pi, 4.0, "fixed");
}

#[test]
fn scheduled_embargo_removes_exactly_its_blocked_volume() {
    let text = format!(
        "{TWO_NODES}\n[[restriction]]\nid = \"ban\"\ncountry = \"AA\"\nseverity = 0.6\nwhen = {{ at = 6, duration = 4 }}\n"
    );
    let (_, r, s) = summarise(&text, 200, 1);
    assert!(r.shortfalls(0).iter().all(|&x| (x - 24.0).abs() < 1e-9));
    assert_eq!(s.shocks[0].probability, 1.0);
    assert_eq!(s.demand[0].time_to_survive.p50, Some(0.0));

    // Licensing: full block for 2 periods, then 20% for the remaining 2.
    let text = format!(
        "{TWO_NODES}\n[[restriction]]\nid = \"ban\"\ncountry = \"AA\"\nseverity = 1\nlicensing_lag = 2\nlicensed_severity = 0.2\nwhen = {{ at = \"2027-07\", duration = 4 }}\n"
    );
    let (_, r, _) = summarise(&text, 50, 1);
    assert!(
        r.shortfalls(0).iter().all(|&x| (x - 24.0).abs() < 1e-9),
        "{:?}",
        &r.shortfalls(0)[..3]
    );

    // An embargo that happens with probability one half.
    let text = format!(
        "{TWO_NODES}\n[[restriction]]\nid = \"ban\"\ncountry = \"AA\"\nseverity = 0.6\nwhen = {{ at = 6, duration = 4, probability = 0.5 }}\n"
    );
    let (_, r, _) = summarise(&text, 20_000, 3);
    assert_mean_near(&r.shortfalls(0), 12.0, 4.0, "embargo with probability 0.5");
}

#[test]
fn flexible_sourcing_routes_around_an_embargo() {
    let text = format!(
        "{}\n[[node]]\nid = \"alt\"\nkind = \"mine\"\ncountry = \"CC\"\ncapacity = 10\n\n[[edge]]\nfrom = \"alt\"\nto = \"d\"\n\n[[restriction]]\nid = \"ban\"\ncountry = \"AA\"\nseverity = 1\nwhen = {{ at = 6, duration = 4 }}\n",
        TWO_NODES
            .replace(
                "name = \"two-nodes\"",
                "name = \"reroute\"\npolicy = \"flexible\""
            )
            .replace("to = \"d\"\n", "to = \"d\"\nshare = 1\n")
    );
    let (_, r, _) = summarise(&text, 100, 1);
    assert!(r.shortfalls(0).iter().all(|&x| x.abs() < 1e-9));
    // With a one-period re-routing lag, the first blocked period is lost.
    let lagged = text.replace(
        "policy = \"flexible\"",
        "policy = \"flexible\"\nreroute_lag = 1",
    );
    let (_, r, _) = summarise(&lagged, 100, 1);
    assert!(r.shortfalls(0).iter().all(|&x| (x - 10.0).abs() < 1e-9));
}

#[test]
fn uniform_delay_and_linear_ramp() {
    let text = format!(
        "{TWO_NODES}\n[[delay]]\nnode = \"mine\"\nnominal = 0\ndelay = {{ dist = \"uniform\", low = 0, high = 10 }}\nramp = 4\n"
    );
    let (_, r, _) = summarise(&text, 20_000, 9);
    // round(U(0, 10)) has mean 5; the ramp loses 10 * (3/4 + 2/4 + 1/4) = 15.
    assert_mean_near(&r.shortfalls(0), 10.0 * 5.0 + 15.0, 4.0, "delay");
}

const RATIONING: &str = r#"
[scenario]
name = "rationing"
periods = 12
start = "2027-01"

[[node]]
id = "mine"
kind = "mine"
country = "AA"
capacity = 9

[[node]]
id = "big"
kind = "demand"
country = "AA"
demand = 10

[[node]]
id = "small"
kind = "demand"
country = "AA"
demand = 5

[[edge]]
from = "mine"
to = "big"

[[edge]]
from = "mine"
to = "small"
"#;

#[test]
fn short_supply_is_rationed_pro_rata_after_offtakes() {
    let r = first_trial(RATIONING);
    // 9 for orders of 10 and 5: 6 and 3 delivered.
    assert!((r[0].shortfall - 12.0 * 4.0).abs() < 1e-9);
    assert!((r[1].shortfall - 12.0 * 2.0).abs() < 1e-9);
    // An offtake of 0.8 for `big`: 7.2 first, then 1.8 pro rata to unmet orders 2.8 and 5.
    let text = RATIONING.replace("to = \"big\"\n", "to = \"big\"\nofftake = 0.8\n");
    let r = first_trial(&text);
    let big = 10.0 - 7.2 - 1.8 * 2.8 / 7.8;
    let small = 5.0 - 1.8 * 5.0 / 7.8;
    assert!((r[0].shortfall - 12.0 * big).abs() < 1e-9);
    assert!((r[1].shortfall - 12.0 * small).abs() < 1e-9);
}

#[test]
fn stock_buffer_delays_and_stockpile_reduces_the_shortfall() {
    let text = format!(
        "{}\n[[restriction]]\nid = \"ban\"\ncountry = \"AA\"\nseverity = 1\nwhen = {{ at = 5, duration = 4 }}\n",
        TWO_NODES.replace("demand = 10\n", "demand = 10\ncover = 2\n")
    );
    let (_, _, s) = summarise(&text, 10, 1);
    let o = first_trial(&text)[0];
    // Two periods of cover against four blocked: periods 7 and 8 are short.
    assert!((o.shortfall - 20.0).abs() < 1e-9);
    assert_eq!(o.first_short, 7);
    assert_eq!(o.survive, 2);
    assert_eq!(o.recover, 2);
    assert_eq!(s.demand[0].worst_period_share.max, 1.0);
    // A 30 t stockpile released at most 5 t a period halves it.
    let text = text.replace(
        "cover = 2\n",
        "cover = 2\nstockpile = { tonnes = 30, max_release = 5 }\n",
    );
    let r = first_trial(&text);
    assert!((r[0].shortfall - 10.0).abs() < 1e-9);
}

#[test]
fn regime_drives_a_restriction_hazard() {
    let q: f64 = 0.1;
    let text = format!(
        "{TWO_NODES}
[regime]
states = [\"calm\", \"crisis\"]
initial = \"calm\"
transition = [[{}, {q}], [0, 1]]

[[restriction]]
id = \"ban\"
country = \"AA\"
severity = 1
when = {{ p_start = {{ calm = 0, crisis = 1 }} }}
",
        1.0 - q
    );
    let (_, r, _) = summarise(&text, 20_000, 21);
    // The crisis (absorbing) starts in period k >= 1 with probability (1-q)^(k-1) q and the ban
    // then lasts to the horizon: E = sum_k 10 (24 - k) (1-q)^(k-1) q.
    let expected: f64 = (1..24)
        .map(|k| 10.0 * (24 - k) as f64 * (1.0 - q).powi(k - 1) * q)
        .sum();
    assert_mean_near(&r.shortfalls(0), expected, 4.0, "regime hazard");
}

#[test]
fn tariffs_cost_money_and_shift_shares() {
    let text = r#"
[scenario]
name = "tariff"
periods = 12
start = "2027-01"

[[node]]
id = "cheap"
kind = "mine"
country = "AA"
capacity = 100
price = 1000

[[node]]
id = "home"
kind = "mine"
country = "BB"
capacity = 100
price = 1000

[[node]]
id = "d"
kind = "demand"
country = "BB"
demand = 10

[[edge]]
from = "cheap"
to = "d"
share = 0.5

[[edge]]
from = "home"
to = "d"
share = 0.5

[[tariff]]
id = "t"
from = "AA"
to = "BB"
rate = 1.0
elasticity = 1
"#;
    let r = first_trial(text);
    // Weights 0.5/2 and 0.5 renormalise to 1/3 and 2/3: 10/3 t a period pay 100% of 1000 USD/t.
    let expected = 12.0 * 10.0 / 3.0 * 1000.0;
    assert!((r[0].tariff - expected).abs() < 1e-6, "{}", r[0].tariff);
    assert_eq!(r[0].shortfall, 0.0);
}

fn with(base: &str, extra: &str) -> String {
    format!("{base}\n{extra}")
}

#[test]
fn a_restricted_route_cannot_be_refilled_by_reordering() {
    let flexible = TWO_NODES
        .replace(
            "name = \"two-nodes\"",
            "name = \"leak\"\npolicy = \"flexible\"",
        )
        .replace("capacity = 10", "capacity = 100");
    let text = with(
        &flexible,
        "[[restriction]]\nid = \"r\"\ncountry = \"AA\"\nseverity = 0.7\n",
    );
    let (_, r, _) = summarise(&text, 20, 1);
    assert!(
        r.shortfalls(0)
            .iter()
            .all(|&x| (x - 0.7 * 10.0 * 24.0).abs() < 1e-9)
    );
    // Stock refills do not pass a restriction either: cover 1 (10 t) then half of use.
    let fixed = TWO_NODES
        .replace("capacity = 10", "capacity = 100")
        .replace("demand = 10\n", "demand = 10\ncover = 1\n");
    let text = with(
        &fixed,
        "[[restriction]]\nid = \"r\"\ncountry = \"AA\"\nseverity = 0.5\n",
    );
    let (_, r, _) = summarise(&text, 20, 1);
    assert!(
        r.shortfalls(0)
            .iter()
            .all(|&x| (x - (240.0 - 10.0 - 24.0 * 5.0)).abs() < 1e-9)
    );
}

/// An on/off restriction (`p_start`, `p_end`) started in its stationary state is in force in
/// every period with probability s / (s + e (1 - s)): a period is on after an on period with
/// probability (1 - e) + e s, since another episode may start as soon as one ends. A two-state
/// outage with p_fail = s and p_recover = e would be down s / (s + e) of the time instead.
#[test]
fn a_stationary_on_off_restriction_is_in_force_with_its_stationary_probability() {
    let (s, e) = (0.3, 0.5);
    let text = with(
        TWO_NODES,
        &format!(
            "[[restriction]]\nid = \"r\"\ncountry = \"AA\"\nseverity = 1\nwhen = {{ p_start = {s}, p_end = {e}, initial = \"stationary\" }}\n"
        ),
    );
    let (_, r, _) = summarise(&text, 20_000, 5);
    let pi = s / (s + e * (1.0 - s));
    assert_mean_near(
        &r.shortfalls(0),
        240.0 * pi,
        4.0,
        "stationary on/off restriction",
    );
    // Started off, the chance of being on in period t is pi (1 - (1 - s - e (1 - s))^(t + 1)).
    let off = text.replace(", initial = \"stationary\"", "");
    let (_, r, _) = summarise(&off, 20_000, 5);
    let lambda = 1.0 - s - e * (1.0 - s);
    let expected: f64 = (0..24)
        .map(|t| 10.0 * pi * (1.0 - lambda.powi(t + 1)))
        .sum();
    assert_mean_near(
        &r.shortfalls(0),
        expected,
        4.0,
        "on/off restriction started off",
    );
}

#[test]
fn episodes_scheduled_before_the_start_count_their_lag_from_the_schedule() {
    // Blocked in periods -2, -1 and 0, then licensed: only period 0 is in the horizon.
    let text = with(
        TWO_NODES,
        "[[restriction]]\nid = \"r\"\ncountry = \"AA\"\nseverity = 1\nlicensing_lag = 3\nlicensed_severity = 0\nwhen = { at = -2, duration = 6 }\n",
    );
    let (_, r, _) = summarise(&text, 10, 1);
    assert!(r.shortfalls(0).iter().all(|&x| (x - 10.0).abs() < 1e-9));
}

#[test]
fn an_end_hazard_reads_the_regime_from_the_episode_start() {
    // Truce only in period 0; the ban starts at 10 in tension, where it never ends.
    let text = with(
        TWO_NODES,
        "[regime]\nstates = [\"truce\", \"tension\"]\ninitial = \"truce\"\ntransition = [[0, 1], [0, 1]]\n\n[[restriction]]\nid = \"r\"\ncountry = \"AA\"\nseverity = 1\nwhen = { at = 10, p_end = { truce = 1, tension = 0 } }\n",
    );
    let (_, r, _) = summarise(&text, 10, 1);
    assert!(r.shortfalls(0).iter().all(|&x| (x - 140.0).abs() < 1e-9));
}

#[test]
fn a_standby_plant_without_stock_stocks_up_for_rerouted_demand() {
    let text = r#"
[scenario]
name = "standby"
periods = 12
start = "2027-01"
policy = "flexible"

[[node]]
id = "main"
kind = "mine"
country = "AA"
capacity = 100

[[node]]
id = "far"
kind = "mine"
country = "CC"
capacity = 100

[[node]]
id = "alt"
kind = "refinery"
country = "CC"
capacity = 10

[[node]]
id = "d"
kind = "demand"
country = "BB"
demand = 10

[[edge]]
from = "far"
to = "alt"

[[edge]]
from = "main"
to = "d"
share = 1

[[edge]]
from = "alt"
to = "d"

[[restriction]]
id = "ban"
country = "AA"
severity = 1
"#;
    // Short in period 0 only: the standby plant learns of the demand and stocks its input.
    let (_, r, _) = summarise(text, 10, 1);
    assert!(
        r.shortfalls(0).iter().all(|&x| (x - 10.0).abs() < 1e-9),
        "{:?}",
        &r.shortfalls(0)[..2]
    );
}

#[test]
fn blocked_volume_goes_to_short_domestic_buyers_or_is_withheld() {
    // A 10 t mine rations orders of 8 + 8 to 5 + 5; a full ban on exports blocks the US half.
    let base = r#"
[scenario]
name = "domestic"
periods = 12
start = "2027-01"

[[node]]
id = "mine"
kind = "mine"
country = "CN"
capacity = 10

[[node]]
id = "cn"
kind = "demand"
country = "CN"
demand = 8

[[node]]
id = "us"
kind = "demand"
country = "US"
demand = 8

[[edge]]
from = "mine"
to = "cn"

[[edge]]
from = "mine"
to = "us"

[[restriction]]
id = "ban"
country = "CN"
severity = 1
"#;
    // Lost: the US gets nothing and China keeps its rationed 5 t.
    let r = first_trial(&format!("{base}blocked = \"lost\"\n"));
    assert!((r[0].shortfall - 12.0 * 3.0).abs() < 1e-9);
    assert!((r[1].shortfall - 12.0 * 8.0).abs() < 1e-9);
    // Domestic: the blocked 5 t first fill China's unmet 3 t.
    let r = first_trial(&format!("{base}blocked = \"domestic\"\n"));
    assert!(r[0].shortfall.abs() < 1e-9);
    assert!((r[1].shortfall - 12.0 * 8.0).abs() < 1e-9);
}

#[test]
fn demand_grows_at_its_annual_rate_and_reroute_false_keeps_a_supplier_out() {
    let text = TWO_NODES.replace("demand = 10\n", "demand = 10\ngrowth = 0.12\n");
    let (_, _, s) = summarise(&text, 5, 1);
    let expected: f64 = (0..24).map(|t| 10.0 * 1.12f64.powf(t as f64 / 12.0)).sum();
    assert!((s.demand[0].demand_t - expected).abs() < 1e-9);
    // The embargo test's standby, marked reroute = false, no longer steps in.
    let text = format!(
        "{}\n[[node]]\nid = \"alt\"\nkind = \"mine\"\ncountry = \"CC\"\ncapacity = 10\n\n[[edge]]\nfrom = \"alt\"\nto = \"d\"\nreroute = false\n\n[[restriction]]\nid = \"ban\"\ncountry = \"AA\"\nseverity = 1\nwhen = {{ at = 6, duration = 4 }}\n",
        TWO_NODES
            .replace(
                "name = \"two-nodes\"",
                "name = \"no-reroute\"\npolicy = \"flexible\""
            )
            .replace("to = \"d\"\n", "to = \"d\"\nshare = 1\n")
    );
    let (_, r, _) = summarise(&text, 20, 1);
    assert!(r.shortfalls(0).iter().all(|&x| (x - 40.0).abs() < 1e-9));
}

#[test]
fn a_driver_without_effect_has_an_interval_that_covers_zero_95_percent_of_the_time() {
    // The tariff changes costs, never tonnes, so its true effect on the shortfall is 0; the
    // outage gives the shortfall its spread.
    let text = format!(
        "{TWO_NODES}\n[[outage]]\nnode = \"mine\"\np_fail = 0.1\np_recover = 0.3\n\n\
         [[tariff]]\nid = \"t\"\nfrom = \"AA\"\nto = \"BB\"\nrate = 0.1\n\
         when = {{ p_start = 0.03, p_end = 0.2 }}\n"
    );
    let m = model(&text);
    let runs = 400;
    let mut covered = 0;
    for seed in 0..runs {
        let r = run(&m, 1000, seed, 1);
        let s = supplyshock::app::summarise(&m, &r);
        let d = s.drivers.iter().find(|d| d.id == "t").unwrap();
        let [lo, hi] = d.effect_ci95.unwrap();
        if seed == 0 {
            // The interval against one computed here in two passes.
            let i = m.shocks.iter().position(|s| s.id == "t").unwrap();
            let (mut with, mut without) = (Vec::new(), Vec::new());
            for k in 0..1000 {
                let v = r.total_shortfall(k);
                if r.occurred(k, i) {
                    with.push(v)
                } else {
                    without.push(v)
                }
            }
            let (mw, sw) = crate::common::mean_se(&with);
            let (mo, so) = crate::common::mean_se(&without);
            let half = 1.959_963_984_540_054 * (sw * sw + so * so).sqrt();
            assert!((lo - (mw - mo - half)).abs() < 1e-6 && (hi - (mw - mo + half)).abs() < 1e-6);
            assert!(
                with.len() > 100 && without.len() > 100,
                "{} {}",
                with.len(),
                without.len()
            );
        }
        if lo <= 0.0 && 0.0 <= hi {
            covered += 1;
        }
    }
    // Coverage 0.95 within 4 standard errors of a proportion over 400 runs (0.044).
    let share = f64::from(covered) / f64::from(runs as u32);
    assert!((share - 0.95).abs() < 0.044, "coverage {share}");
}

/// Two materials from two mines with independent stationary outages, and a magnet maker whose
/// recipe needs both and keeps no stock of either: it makes its capacity exactly in the periods
/// both mines are up, so the expected output per period is capacity x P(a up) x P(b up).
#[test]
fn a_two_input_recipe_makes_its_capacity_times_the_chance_both_inputs_are_up() {
    let (fa, ra, fb, rb) = (0.1, 0.3, 0.05, 0.2);
    let text = format!(
        r#"
[scenario]
name = "recipe"
periods = 24
start = "2027-01"

[[material]]
id = "a"
[[material]]
id = "b"
[[material]]
id = "magnet"

[[node]]
id = "mine_a"
kind = "mine"
country = "AA"
output = "a"
capacity = 100
[[node]]
id = "mine_b"
kind = "mine"
country = "BB"
output = "b"
capacity = 100
[[node]]
id = "maker"
kind = "magnet"
country = "CC"
output = "magnet"
capacity = 10
inputs = {{ a = 0.3, b = 0.02 }}
stock_caps = {{ a = 0, b = 0 }}
[[node]]
id = "users"
kind = "demand"
country = "CC"
demand = 10

[[edge]]
from = "mine_a"
to = "maker"
[[edge]]
from = "mine_b"
to = "maker"
[[edge]]
from = "maker"
to = "users"

[[outage]]
node = "mine_a"
p_fail = {fa}
p_recover = {ra}
initial = "stationary"
[[outage]]
node = "mine_b"
p_fail = {fb}
p_recover = {rb}
initial = "stationary"
"#
    );
    let m = model(&text);
    // The recipe node's two input parts come just before it.
    let ids: Vec<&str> = m.nodes.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(
        ids,
        ["mine_a", "mine_b", "maker[a]", "maker[b]", "maker", "users"]
    );
    let r = run(&m, 20_000, 5, 0);
    let up = (ra / (fa + ra)) * (rb / (fb + rb));
    assert_mean_near(&r.shortfalls(0), 24.0 * 10.0 * (1.0 - up), 4.0, "recipe");
    // Each trial records which input limited the users: `a` in the months mine a is down (its
    // part comes first, so it counts where both are down), `b` where only mine b is.
    assert_eq!(m.limits.len(), 2);
    let (stride, base) = (m.draw_stride(), m.limit_base());
    let limited = |c: usize| -> Vec<f64> {
        (0..r.trials as usize)
            .map(|k| f64::from(r.draws[k * stride + base + c]))
            .collect()
    };
    let (down_a, down_b) = (fa / (fa + ra), fb / (fb + rb));
    assert_mean_near(&limited(0), 240.0 * down_a, 4.0, "limited by a");
    assert_mean_near(
        &limited(1),
        240.0 * (1.0 - down_a) * down_b,
        4.0,
        "limited by b",
    );
}

/// A separation plant splits its feed into two co-products, a = 0.3 and b = 0.05 per tonne
/// processed, for buyers of 30 t of a and 10 t of b a period. It processes for the larger need
/// (200 t, for b) up to its capacity of 150 t: 45 t of a, of which the 15 t nobody ordered is
/// lost, and 7.5 t of b, 2.5 t short. With a stationary outage it makes that in the periods it
/// is up: expected shortfalls 24 x (30 (1 - p) ) for a and 24 x (10 - 7.5 p) for b.
#[test]
fn co_products_split_the_feed_in_fixed_shares_and_the_scarcer_one_sets_the_pace() {
    let (f, rr) = (0.1, 0.4);
    let text = format!(
        r#"
[scenario]
name = "co-products"
periods = 24
start = "2027-01"

[[material]]
id = "ore"
[[material]]
id = "a"
[[material]]
id = "b"

[[node]]
id = "mine"
kind = "mine"
country = "AA"
output = "ore"
capacity = 1000
[[node]]
id = "sep"
kind = "refinery"
country = "AA"
capacity = 150
outputs = {{ a = 0.3, b = 0.05 }}
surplus = "lose"
[[node]]
id = "users_a"
kind = "demand"
country = "AA"
demand = 30
[[node]]
id = "users_b"
kind = "demand"
country = "AA"
demand = 10

[[edge]]
from = "mine"
to = "sep"
[[edge]]
from = "sep"
to = "users_a"
material = "a"
[[edge]]
from = "sep"
to = "users_b"
material = "b"

[[outage]]
node = "sep"
p_fail = {f}
p_recover = {rr}
initial = "stationary"
"#
    );
    let m = model(&text);
    assert_eq!(
        m.demand
            .iter()
            .map(|d| m.material_id(d.material))
            .collect::<Vec<_>>(),
        [Some("a"), Some("b")]
    );
    let r = run(&m, 20_000, 9, 0);
    let p = rr / (f + rr);
    assert_mean_near(
        &r.shortfalls(0),
        24.0 * 30.0 * (1.0 - p),
        4.0,
        "co-product a",
    );
    assert_mean_near(
        &r.shortfalls(1),
        24.0 * (10.0 - 7.5 * p),
        4.0,
        "co-product b",
    );
    // Without the outage: a in full, b 2.5 t short every period.
    let calm = text.split("[[outage]]").next().unwrap_or_default();
    let out = first_trial(calm);
    assert_eq!(out[0].shortfall, 0.0);
    assert!(
        (out[1].shortfall - 24.0 * 2.5).abs() < 1e-9,
        "{}",
        out[1].shortfall
    );
}

/// A Malaysian separation plant buys 40% of its feed from a Chinese mine and 60% from an
/// Australian one, and sells to US users. China's restriction reaches other countries' exports
/// whose Chinese content is above its de minimis share: the plant's content is 40% Chinese, so a
/// de minimis of 0.39 stops its exports (severity 1) and one of 0.41 lets them through.
fn blend(de_minimis: f64) -> String {
    format!(
        r#"
[scenario]
name = "origin-blend"
periods = 12
start = "2027-01"

[[node]]
id = "mine_cn"
kind = "mine"
country = "CN"
capacity = 100
[[node]]
id = "mine_au"
kind = "mine"
country = "AU"
capacity = 100
[[node]]
id = "sep_my"
kind = "refinery"
country = "MY"
capacity = 100
[[node]]
id = "users_us"
kind = "demand"
country = "US"
demand = 10

[[edge]]
from = "mine_cn"
to = "sep_my"
share = 0.4
[[edge]]
from = "mine_au"
to = "sep_my"
share = 0.6
[[edge]]
from = "sep_my"
to = "users_us"

[[restriction]]
id = "cn-content"
country = "CN"
stages = ["refinery"]
de_minimis = {de_minimis}
severity = 1
"#
    )
}

#[test]
fn an_origin_share_carries_through_a_blend_and_a_de_minimis_binds_only_above_it() {
    use supplyshock::sim::kernel::{Observer, Scratch, run_trial};
    use supplyshock::sim::result::DemandOutcome;
    struct Share(Vec<f64>);
    impl Observer for Share {
        fn period(&mut self, _t: usize, m: &supplyshock::model::Model, s: &Scratch) {
            let n = m.nodes.iter().position(|n| n.id == "sep_my").unwrap_or(0);
            self.0.push(s.origin[n]);
        }
    }
    for (dm, short) in [(0.39, 12.0 * 10.0), (0.41, 0.0)] {
        let m = model(&blend(dm));
        assert_eq!(m.origins.len(), 1);
        let mut out = vec![DemandOutcome::default(); 1];
        let mut share = Share(Vec::new());
        run_trial(
            &m,
            1,
            0,
            &mut Scratch::new(&m),
            &mut out,
            &mut [0],
            &mut share,
        );
        for x in &share.0 {
            assert!((x - 0.4).abs() < 1e-12, "origin share {x}");
        }
        assert!(
            (out[0].shortfall - short).abs() < 1e-9,
            "de minimis {dm}: {}",
            out[0].shortfall
        );
        // The engine's lane kernel agrees.
        let r = run(&m, 64, 3, 1);
        assert!((r.shortfall(0, 0) - short).abs() < 1e-4);
    }
}

/// A Japanese magnet maker uses 0.3 t of Australian NdPr and 0.02 t of Chinese Dy/Tb per tonne:
/// its magnets are 0.02 / 0.32 = 6.25% Chinese by rare-earth content. A de minimis of 0.1%
/// (China's October 2025 rule) reaches its exports to US users; one of 10% does not.
#[test]
fn a_recipe_carries_the_origin_of_its_scarce_input_into_its_product() {
    let text = |dm: f64| {
        format!(
            r#"
[scenario]
name = "origin-recipe"
periods = 12
start = "2027-01"

[[material]]
id = "ndpr"
[[material]]
id = "dytb"
[[material]]
id = "magnet"

[[node]]
id = "ndpr_au"
kind = "mine"
country = "AU"
output = "ndpr"
capacity = 100
[[node]]
id = "dytb_cn"
kind = "mine"
country = "CN"
output = "dytb"
capacity = 100
[[node]]
id = "magnets_jp"
kind = "magnet"
country = "JP"
output = "magnet"
capacity = 100
inputs = {{ ndpr = 0.3, dytb = 0.02 }}
[[node]]
id = "users_us"
kind = "demand"
country = "US"
demand = 10

[[edge]]
from = "ndpr_au"
to = "magnets_jp"
[[edge]]
from = "dytb_cn"
to = "magnets_jp"
[[edge]]
from = "magnets_jp"
to = "users_us"

[[restriction]]
id = "cn-content"
country = "CN"
stages = ["magnet"]
de_minimis = {dm}
severity = 1
"#
        )
    };
    // China makes no magnets here: the restriction acts only through its reach.
    assert_eq!(first_trial(&text(0.001))[0].shortfall, 120.0);
    assert_eq!(first_trial(&text(0.1))[0].shortfall, 0.0);
    let m = model(&text(0.001));
    let r = run(&m, 64, 3, 1);
    assert_eq!(r.shortfall(0, 0), 120.0);
}

/// A mine that yields two co-products stops yielding both when it is down: its parts make their
/// products from the mine's output, not from nothing.
#[test]
fn an_outage_of_a_co_product_mine_cuts_every_co_product() {
    let text = r#"
[scenario]
name = "co-product-mine"
periods = 12
start = "2027-01"

[[material]]
id = "a"
[[material]]
id = "b"

[[node]]
id = "mine"
kind = "mine"
country = "AA"
capacity = 100
outputs = { a = 0.5, b = 0.1 }

[[node]]
id = "users_a"
kind = "demand"
country = "AA"
demand = 20
[[node]]
id = "users_b"
kind = "demand"
country = "AA"
demand = 5

[[edge]]
from = "mine"
to = "users_a"
material = "a"
[[edge]]
from = "mine"
to = "users_b"
material = "b"
"#;
    // Up: 50 t of a and 10 t of b at capacity, more than enough.
    let out = first_trial(text);
    assert_eq!((out[0].shortfall, out[1].shortfall), (0.0, 0.0));
    // Down from the start for good: nothing of either.
    let down = format!(
        "{text}\n[[outage]]\nnode = \"mine\"\np_fail = 1\np_recover = 0\ninitial = \"stationary\"\n"
    );
    let out = first_trial(&down);
    assert_eq!((out[0].shortfall, out[1].shortfall), (240.0, 60.0));
}

/// A co-product plant runs for its more wanted product: of the other, what nobody ordered is
/// stocked and sold later with `surplus = "stock"`, or lost with `surplus = "lose"`. Here the
/// plant processes 50 t a month for 5 t of b, making 25 t of a for 20 t of demand; from month
/// 1 it is down for good. Stocked, the 5 t of surplus a covers month 1; lost, it does not.
#[test]
fn co_product_surplus_is_stocked_for_later_orders_or_lost() {
    let text = |surplus: &str| {
        format!(
            r#"
[scenario]
name = "surplus"
periods = 12
start = "2027-01"

[[material]]
id = "ore"
[[material]]
id = "a"
[[material]]
id = "b"

[[node]]
id = "mine"
kind = "mine"
country = "AA"
output = "ore"
capacity = 1000
[[node]]
id = "sep"
kind = "refinery"
country = "AA"
capacity = 100
outputs = {{ a = 0.5, b = 0.1 }}
surplus = "{surplus}"
[[node]]
id = "users_a"
kind = "demand"
country = "AA"
demand = 20
[[node]]
id = "users_b"
kind = "demand"
country = "AA"
demand = 5

[[edge]]
from = "mine"
to = "sep"
[[edge]]
from = "sep"
to = "users_a"
material = "a"
[[edge]]
from = "sep"
to = "users_b"
material = "b"

[[outage]]
node = "sep"
p_fail = 1
p_recover = 0
"#
        )
    };
    // The outage starts up, so the plant works in month 0 and is down from month 1 on.
    let down = text;
    let stock = first_trial(&down("stock"));
    let lose = first_trial(&down("lose"));
    // b: 5 t in month 0, nothing after (no surplus of b: it sets the pace).
    assert_eq!(stock[1].shortfall, 55.0);
    assert_eq!(lose[1].shortfall, 55.0);
    // a: 20 t in month 0; stocked, the 5 t surplus is sold in month 1.
    assert_eq!(stock[0].shortfall, 240.0 - 25.0);
    assert_eq!(lose[0].shortfall, 240.0 - 20.0);
}
