//! Every class of bad input gives a clear error naming the line and the fix, and never panics.

use supplyshock::model;

const GOOD: &str = r#"[scenario]
name = "good"
periods = 12
start = "2027-01"

[[node]]
id = "mine"
kind = "mine"
country = "AA"
capacity = 10

[[node]]
id = "sep"
kind = "refinery"
country = "AA"
capacity = 10

[[node]]
id = "d"
kind = "demand"
country = "BB"
demand = 8

[[edge]]
from = "mine"
to = "sep"

[[edge]]
from = "sep"
to = "d"
"#;

/// Compiles `text`, expecting an error whose message contains every one of `needles`.
fn fails(text: &str, needles: &[&str]) -> String {
    match model::compile_str(text, "bad.toml") {
        Ok(_) => panic!("expected an error containing {needles:?}"),
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains("bad.toml"), "no file name in: {msg}");
            for n in needles {
                assert!(msg.contains(n), "missing {n:?} in:\n{msg}");
            }
            msg
        }
    }
}

#[test]
fn the_base_case_is_valid() {
    model::compile_str(GOOD, "good.toml").unwrap();
}

#[test]
fn syntax_error() {
    fails(
        &GOOD.replace(
            "capacity = 10\n\n[[node]]\nid = \"d\"",
            "capacity = = 10\n\n[[node]]\nid = \"d\"",
        ),
        &["line 16", "column"],
    );
}

#[test]
fn unknown_key_lists_the_expected_ones() {
    fails(
        &GOOD.replace(
            "capacity = 10\n\n[[node]]\nid = \"sep\"",
            "capacty = 10\n\n[[node]]\nid = \"sep\"",
        ),
        &["line 10", "unknown field `capacty`", "capacity"],
    );
}

#[test]
fn wrong_type() {
    fails(
        &GOOD.replace("demand = 8", "demand = \"eight\""),
        &["line 22", "demand"],
    );
}

#[test]
fn probability_outside_unit_interval() {
    let t = format!("{GOOD}\n[[outage]]\nnode = \"sep\"\np_fail = 1.5\np_recover = 0.5\n");
    fails(
        &t,
        &["line 34", "`p_fail` is a probability", "between 0 and 1"],
    );
    let t = format!(
        "{GOOD}\n[regime]\nstates = [\"a\", \"b\"]\ninitial = \"a\"\ntransition = [[0.5, 0.5], [-0.1, 1.1]]\n"
    );
    fails(&t, &["line 35", "between 0 and 1"]);
}

#[test]
fn negative_capacity_and_demand() {
    fails(
        &GOOD.replacen("capacity = 10", "capacity = -10", 1),
        &["line 10", ">= 0", "cannot be negative"],
    );
    fails(
        &GOOD.replace("demand = 8", "demand = -8"),
        &["line 22", "cannot be negative"],
    );
}

#[test]
fn shares_must_sum_to_one() {
    let t = GOOD.replace("[[edge]]\nfrom = \"sep\"\nto = \"d\"\n", "[[edge]]\nfrom = \"sep\"\nto = \"d\"\nshare = 0.7\n\n[[edge]]\nfrom = \"mine\"\nto = \"d\"\nshare = 0.2\n");
    fails(&t, &["line 31", "sum to 0.9", "add up to 1"]);
}

#[test]
fn edge_to_unknown_node() {
    fails(
        &GOOD.replace("to = \"d\"", "to = \"dd\""),
        &["line 30", "`dd` is not a node", "mine, sep, d"],
    );
}

#[test]
fn cycle() {
    let t = GOOD.replace("[[node]]\nid = \"d\"", "[[node]]\nid = \"sep2\"\nkind = \"refinery\"\ncountry = \"AA\"\ncapacity = 5\n\n[[edge]]\nfrom = \"sep2\"\nto = \"sep\"\nshare = 0.5\n\n[[edge]]\nfrom = \"sep\"\nto = \"sep2\"\n\n[[node]]\nid = \"d\"")
        .replace("[[edge]]\nfrom = \"mine\"\nto = \"sep\"\n", "[[edge]]\nfrom = \"mine\"\nto = \"sep\"\nshare = 0.5\n");
    fails(&t, &["cycle", "sep2 -> sep -> sep2", "remove one edge"]);
}

#[test]
fn demand_without_path_from_a_mine() {
    let t = GOOD.replace("[[edge]]\nfrom = \"mine\"\nto = \"sep\"\n", "");
    fails(&t, &["line 19", "has no path from any mine"]);
}

#[test]
fn empty_graph() {
    fails(
        "[scenario]\nname = \"e\"\nperiods = 12\nstart = \"2027-01\"\n",
        &["empty", "[[node]]"],
    );
}

#[test]
fn impossible_distribution() {
    let t = format!(
        "{GOOD}\n[[outage]]\nnode = \"sep\"\np_event = 0.1\nduration = {{ dist = \"pert\", min = 5, mode = 1, max = 9 }}\n"
    );
    fails(&t, &["line 35", "min <= mode <= max"]);
    let t = format!(
        "{GOOD}\n[[outage]]\nnode = \"sep\"\np_event = 0.1\nduration = {{ dist = \"lognormal\", median = 3, p90 = 2 }}\n"
    );
    fails(&t, &["line 35", "p90 >= median"]);
}

#[test]
fn nan_and_infinity() {
    fails(
        &GOOD.replace("demand = 8", "demand = nan"),
        &["line 22", "finite"],
    );
    fails(
        &GOOD.replacen("capacity = 10", "capacity = inf", 1),
        &["line 10", "finite"],
    );
}

#[test]
fn absurd_sizes() {
    fails(
        &GOOD.replace("demand = 8", "demand = 1e300"),
        &["line 22", "beyond any plausible", "units"],
    );
    fails(
        &GOOD.replace("periods = 12", "periods = 100000"),
        &["line 3", "between 1 and 1200"],
    );
    fails(
        &GOOD.replace("periods = 12", "periods = 12\ntrials = 10000000000"),
        &["line 4", "`trials` must be between 1 and"],
    );
    fails(
        &GOOD.replace("demand = 8", "demand = 8\ngrowth = 1e100"),
        &["line 23", "column 10", "`growth`", "beyond any plausible"],
    );
    let m = model::compile_str(GOOD, "good.toml").unwrap();
    let err = supplyshock::sim::engine::check_trials(&m, 1_000_000_000).unwrap_err();
    assert!(err.contains("--trials") && err.contains("GiB"), "{err}");
    let err = supplyshock::sim::engine::check_trials(&m, u64::MAX / 2).unwrap_err();
    assert!(err.contains("--trials") && err.contains("--shard"), "{err}");
}

/// Every period-valued input is range-checked at its line: a planned start or scheduled start
/// far outside any horizon, or a bounded duration, delay, ramp or lag beyond it, is an error,
/// not an overflow in the kernel.
#[test]
fn period_values_are_range_checked() {
    let shock = |text: &str| format!("{GOOD}\n{text}\n");
    fails(
        &shock("[[delay]]\nnode = \"sep\"\nnominal = -9223372036854775808\nramp = 12"),
        &[
            "line 34",
            "column 11",
            "`nominal` lies",
            "within 120000 periods",
            "month",
        ],
    );
    fails(
        &shock("[[delay]]\nnode = \"sep\"\nnominal = 120001"),
        &["line 34", "`nominal` lies 120001 periods", "within 120000"],
    );
    fails(
        &shock("[[delay]]\nnode = \"sep\"\nnominal = 2\ndelay = 1e300"),
        &["line 35", "`delay` reaches", "within 120000"],
    );
    fails(
        &shock(
            "[[delay]]\nnode = \"sep\"\nnominal = 2\nramp = { dist = \"uniform\", low = 0, high = 1e9 }",
        ),
        &["line 35", "`ramp` reaches 1000000000"],
    );
    let restriction = |when: &str| {
        shock(&format!(
            "[[restriction]]\nid = \"r\"\ncountry = \"AA\"\nseverity = 0.5\nlicensing_lag = 1e12\n[restriction.when]\n{when}"
        ))
    };
    fails(
        &restriction("at = 1"),
        &["line 36", "`licensing_lag` reaches"],
    );
    let restriction = |when: &str| {
        shock(&format!(
            "[[restriction]]\nid = \"r\"\ncountry = \"AA\"\nseverity = 0.5\n[restriction.when]\n{when}"
        ))
    };
    fails(
        &restriction("at = -1e15"),
        &["line 37", "`at` reaches", "within 120000"],
    );
    fails(
        &restriction("at = 2\nduration = 1e300"),
        &["line 38", "`duration` reaches"],
    );
    // Within the range, a long-ago plant and a scheduled start far past the horizon run, and
    // the plant that was due long ago is simply on line.
    let m = model::compile_str(
        &format!(
            "{}\n{}",
            shock("[[delay]]\nnode = \"sep\"\nnominal = -120000\nramp = 12"),
            "[[restriction]]\nid = \"r\"\ncountry = \"AA\"\nseverity = 0.5\n[restriction.when]\nat = 120000\nduration = { dist = \"lognormal\", median = 3, p90 = 9 }"
        ),
        "far.toml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let r = supplyshock::sim::engine::run(
        &m,
        &supplyshock::sim::engine::RunOptions {
            seed: 1,
            first_trial: 0,
            trials: 100,
            threads: 1,
            progress: false,
            kernel: supplyshock::sim::engine::Kernel::best(),
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!((0..100).all(|k| r.shortfall(k, 0) == 0.0));
}

/// A legal value that is surely a slip (a growth of 15 is 1500% a year) is a warning with its
/// line, not an error.
#[test]
fn implausible_growth_is_a_warning_at_its_line() {
    let m = model::compile_str(
        &GOOD.replace("demand = 8", "demand = 8\ngrowth = 15"),
        "growth.toml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.warnings.len(), 1, "{:?}", m.warnings);
    let w = &m.warnings[0];
    assert!(
        w.contains("line 23") && w.contains("`growth` = 15") && w.contains("1500% a year"),
        "{w}"
    );
    let m = model::compile_str(
        &GOOD.replace("demand = 8", "demand = 8\ngrowth = 0.08"),
        "g.toml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
}

#[test]
fn a_stationary_start_needs_an_on_off_process() {
    let restriction = |when: &str| {
        format!(
            "{GOOD}\n[[restriction]]\nid = \"r\"\ncountry = \"AA\"\nseverity = 0.5\nwhen = {{ {when} }}\n"
        )
    };
    fails(
        &restriction("at = 3, initial = \"stationary\""),
        &["line 36", "`initial` needs `p_start`"],
    );
    fails(
        &restriction("p_start = 0.1, duration = 3, initial = \"stationary\""),
        &["line 36", "needs `p_end`", "p_end = 1 / mean length"],
    );
    fails(
        &restriction("p_start = 0.1, p_end = 0.2, initial = \"up\""),
        &["line 36", "unknown variant `up`"],
    );
    model::compile_str(
        &restriction("p_start = 0.1, p_end = 0.2, initial = \"stationary\""),
        "ok.toml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
}

/// Memory grows with demand nodes x threads, whatever the trial count: a run that would need
/// more than the machine has is refused before it starts, with a thread count that fits.
#[test]
fn a_run_too_large_for_the_machine_is_refused_before_it_starts() {
    let mut text = String::from(
        "[scenario]\nname = \"many-markets\"\nperiods = 36\nstart = \"2027-01\"\n\n[[node]]\nid = \"mine\"\nkind = \"mine\"\ncountry = \"AA\"\ncapacity = 20000\n",
    );
    for i in 0..2000 {
        text += &format!(
            "[[node]]\nid = \"d{i}\"\nkind = \"demand\"\ncountry = \"BB\"\ndemand = 10\n[[edge]]\nfrom = \"mine\"\nto = \"d{i}\"\n"
        );
    }
    let m = model::compile_str(&text, "many.toml").unwrap_or_else(|e| panic!("{e}"));
    use supplyshock::sim::engine::{check_memory, working_bytes};
    // One thread: the 2,000 markets' fan-chart histograms (115 MB) twice, and buffers; measured
    // at 277 MB resident for ten trials.
    let one = working_bytes(&m, 10, 1);
    assert!((200 << 20..400 << 20).contains(&one), "{one}");
    let gib = 1u64 << 30;
    let err = check_memory(&m, 10, 64, Some(2 * gib))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("2000 demand nodes")
            && err.contains("64 threads")
            && err.contains("2.0 GiB")
            && err.contains("use --threads"),
        "{err}"
    );
    // The thread count it names fits, and one more does not.
    let k: usize = err
        .split("use --threads ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|k| k.parse().ok())
        .unwrap();
    assert!(working_bytes(&m, 10, k) <= 2 * gib && working_bytes(&m, 10, k + 1) > 2 * gib);
    assert!(check_memory(&m, 10, 64, Some(64 * gib)).is_ok());
    assert!(check_memory(&m, 10, 64, None).is_ok());
    // Even one thread cannot hold it in 100 MB: the advice is fewer markets or trials.
    let err = check_memory(&m, 10, 4, Some(100 << 20))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("fewer demand nodes or fewer --trials"),
        "{err}"
    );
}

#[test]
fn regime_state_names_are_checked() {
    let t = format!(
        "{GOOD}\n[regime]\nstates = [\"calm\", \"crisis\"]\ninitial = \"calm\"\ntransition = [[0.9, 0.1], [0.2, 0.8]]\n\n[[restriction]]\nid = \"r\"\ncountry = \"AA\"\nseverity = 1\nwhen = {{ p_start = {{ calm = 0.1, crisi = 0.5 }} }}\n"
    );
    fails(&t, &["line 41", "`crisi`", "calm, crisis"]);
}

#[test]
fn restriction_that_covers_nothing() {
    let t = format!("{GOOD}\n[[restriction]]\nid = \"r\"\ncountry = \"BB\"\nseverity = 1\n");
    fails(&t, &["line 33", "covers no edge"]);
}

#[test]
fn garbage_never_panics() {
    // Truncations of a valid file at every byte: errors, never panics.
    for cut in 0..GOOD.len() {
        if GOOD.is_char_boundary(cut) {
            let _ = model::compile_str(&GOOD[..cut], "cut.toml");
        }
    }
}

#[test]
fn absurd_yields() {
    let t = GOOD.replace("kind = \"refinery\"", "kind = \"refinery\"\nyield = 1e-310");
    fails(&t, &["line 15", "`yield` must be between"]);
    let t = GOOD.replace("kind = \"refinery\"", "kind = \"refinery\"\nyield = 1e9");
    fails(&t, &["line 15", "`yield` must be between"]);
}

#[test]
fn a_route_named_twice() {
    let t = format!(
        "{GOOD}\n[[restriction]]\nid = \"r\"\ncountry = \"AA\"\nseverity = 1\nroutes = [\"sep->d\", \"sep->d\"]\n"
    );
    fails(
        &t,
        &[
            "line 36",
            "`sep->d` names the same edge as an earlier route",
        ],
    );
}

/// The kernels rely on no quantity being -0: a written -0 is read as 0.
#[test]
fn negative_zero_reads_as_zero() {
    let t = GOOD
        .replacen("capacity = 10", "capacity = -0.0", 1)
        .replace("demand = 8", "demand = 8\ncover = -0.0");
    let m = model::compile_str(&t, "zero.toml").unwrap();
    let mine = m.nodes.iter().position(|n| n.id == "mine").unwrap();
    assert_eq!(m.hot[mine].capacity.to_bits(), 0);
    assert_eq!(m.demand[0].cover.to_bits(), 0);
}

#[test]
fn a_file_that_is_not_a_scenario_is_refused_before_parsing() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let latin1 = dir.join("latin1.toml");
    std::fs::write(&latin1, b"[scenario]\nname = \"caf\xe9\"\n").unwrap();
    let err = supplyshock::io::read::load_text(&latin1)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("latin1.toml") && err.contains("line 2, column 12") && err.contains("UTF-8"),
        "{err}"
    );
    // A variant whose base is a variant (here itself).
    let selfish = dir.join("selfish.toml");
    std::fs::write(
        &selfish,
        "[variant]\nbase = \"selfish.toml\"\nname = \"x\"\n",
    )
    .unwrap();
    let err = format!(
        "{:#}",
        supplyshock::io::read::load_text(&selfish).unwrap_err()
    );
    assert!(err.contains("is a variant too"), "{err}");
    let huge = dir.join("huge.toml");
    let f = std::fs::File::create(&huge).unwrap();
    f.set_len(supplyshock::io::read::MAX_SCENARIO_BYTES + 1)
        .unwrap();
    let err = supplyshock::io::read::load_text(&huge)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("huge.toml") && err.contains("larger than 16 MiB"),
        "{err}"
    );
}

#[test]
fn an_empty_name_is_an_error_and_a_dead_end_a_warning() {
    fails(
        &GOOD.replace("name = \"good\"", "name = \" \""),
        &["line 2", "column 8", "`name`", "is empty"],
    );
    assert!(
        model::compile_str(GOOD, "good.toml")
            .unwrap()
            .warnings
            .is_empty()
    );
    let t = format!(
        "{GOOD}\n[[node]]\nid = \"spare\"\nkind = \"mine\"\ncountry = \"AA\"\ncapacity = 1\n"
    );
    let m = model::compile_str(&t, "spare.toml").unwrap();
    assert_eq!(m.warnings.len(), 1);
    assert!(
        m.warnings[0].contains("`spare` (mine) has no buyer"),
        "{:?}",
        m.warnings
    );
}

#[test]
fn a_variant_whose_base_cannot_be_read_is_reported_at_its_base_line() {
    let v = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("variant-no-base.toml");
    std::fs::write(
        &v,
        "[variant]\nname = \"v\"\nbase = \"no-such-base.toml\"\n\n[variant.set]\n\"scenario.periods\" = 12\n",
    )
    .unwrap();
    let err = format!("{:#}", supplyshock::io::read::load_text(&v).unwrap_err());
    for e in [
        &format!("{}: error at line 3, column 8", v.display()),
        "cannot read the base scenario",
        "no-such-base.toml",
        "relative to the variant file",
    ] {
        assert!(err.contains(e), "{e}: {err}");
    }
}

#[test]
fn a_variant_setting_that_does_not_apply_is_reported_at_its_line() {
    let v = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("variant-setting.toml");
    let error = |set: &str| {
        std::fs::write(&v, crate::common::default_variant("v", set)).unwrap();
        format!("{:#}", supplyshock::io::read::load_text(&v).unwrap_err())
    };
    let check = |set: &str, expect: &[&str]| {
        let err = error(set);
        assert!(
            err.contains(&format!("{}: error at line 5", v.display())),
            "{set}: {err}"
        );
        for e in expect {
            assert!(err.contains(e), "{set}: {err}");
        }
    };
    // A path that names nothing, unquoted dots, and the name set twice.
    check("\"node.nope.cover\" = 2", &["no node `nope`", "help: "]);
    check(
        "node.us_auto.cover = 2",
        &["dots are not quoted", "\"node.us_auto.cover\" = 2"],
    );
    check("\"scenario.name\" = \"w\"", &["the variant's `name`"]);
    // A setting that breaks a line it did not write: the error is at that line of the base,
    // and names the variant's settings.
    let err = error("\"edge.my_lynas->cn_metal.share\" = 0.5");
    assert!(
        err.contains("(the base of variant")
            && err.contains("sets `edge.my_lynas->cn_metal.share` (line 5)"),
        "{err}"
    );
}

#[test]
fn uncertain_regime_rows_are_checked() {
    let regime = |rows: &str| {
        format!(
            "{GOOD}\n[regime]\nstates = [\"a\", \"b\"]\ninitial = \"a\"\ntransition = [{rows}]\n"
        )
    };
    // The transition matrix is on line 35.
    fails(
        &regime("[0.5, 0.5], { dirichlet = [1, 0] }"),
        &["line 35", "concentration must be a positive number"],
    );
    fails(
        &regime("[0.5, 0.5], [{ dist = \"normal\", mean = 0.1, sd = 0.1 }, 0.9]"),
        &["line 35", "can be negative", "non-negative weights"],
    );
    fails(
        &regime("[0.5, 0.5], { dirichlet = [1, 2, 3] }"),
        &["line 35", "2 x 2 matrix"],
    );
    fails(
        &regime("[0.5, 0.5], { dirichlet = [1, 2], beta = 3 }"),
        &["line 35", "dirichlet = [...]"],
    );
    // An uncertain row is accepted.
    model::compile_str(&regime("[0.5, 0.5], { dirichlet = [1, 2] }"), "ok.toml").unwrap();
}

/// An element-level version of the base case: a separation plant splits ore into NdPr and Dy/Tb,
/// a magnet maker's recipe needs both.
const MATERIALS: &str = r#"[scenario]
name = "materials"
periods = 12
start = "2027-01"

[[material]]
id = "ore"
[[material]]
id = "ndpr"
[[material]]
id = "dytb"
[[material]]
id = "magnet"

[[node]]
id = "mine"
kind = "mine"
country = "AA"
output = "ore"
capacity = 100

[[node]]
id = "sep"
kind = "refinery"
country = "AA"
capacity = 100
outputs = { ndpr = 0.2, dytb = 0.01 }

[[node]]
id = "mag"
kind = "magnet"
country = "BB"
output = "magnet"
capacity = 10
inputs = { ndpr = 0.3, dytb = 0.02 }

[[node]]
id = "d"
kind = "demand"
country = "BB"
demand = 8

[[edge]]
from = "mine"
to = "sep"

[[edge]]
from = "sep"
to = "mag"
material = "ndpr"

[[edge]]
from = "sep"
to = "mag"
material = "dytb"

[[edge]]
from = "mag"
to = "d"
"#;

#[test]
fn the_element_level_base_case_is_valid() {
    let m = model::compile_str(MATERIALS, "good.toml").unwrap();
    assert_eq!(m.materials.len(), 4);
}

#[test]
fn material_mistakes_name_their_line_and_fix() {
    // A material nobody declared.
    let msg = fails(
        &MATERIALS.replace("material = \"dytb\"", "material = \"dy\""),
        &[
            "`dy` is not a material",
            "use one of the materials: ore, ndpr, dytb, magnet",
        ],
    );
    assert!(msg.contains("line 55"), "{msg}");
    // A co-product plant's edge must say which co-product it carries.
    fails(
        &MATERIALS.replace("to = \"mag\"\nmaterial = \"ndpr\"", "to = \"mag\""),
        &[
            "`sep` makes several materials (ndpr, dytb)",
            "add material =",
        ],
    );
    // A supplier that does not make it, a buyer that does not need it.
    fails(
        &MATERIALS.replace(
            "from = \"mag\"\nto = \"d\"",
            "from = \"mag\"\nto = \"d\"\nmaterial = \"ore\"",
        ),
        &["`mag` does not make `ore`", "it makes: magnet"],
    );
    fails(
        &MATERIALS
            .replace(
                "outputs = { ndpr = 0.2, dytb = 0.01 }",
                "outputs = { ndpr = 0.2, dytb = 0.01, ore = 0.1 }",
            )
            .replace("material = \"dytb\"", "material = \"ore\""),
        &[
            "`mag` has no `ore` in its recipe",
            "its inputs are: ndpr, dytb",
        ],
    );
    // Shares of co-products above one tonne per tonne processed, or out of range.
    fails(
        &MATERIALS.replace("ndpr = 0.2, dytb = 0.01 }", "ndpr = 0.8, dytb = 0.3 }"),
        &["co-product shares of `sep` sum to 1.1", "at most 1"],
    );
    fails(
        &MATERIALS.replace("dytb = 0.01 }", "dytb = 0 }"),
        &["line 27", "must be between 1e-6 and 1"],
    );
    // Recipe coefficients, and a recipe input nobody supplies.
    fails(
        &MATERIALS.replace("dytb = 0.02 }", "dytb = -1 }"),
        &["line 35", "recipe coefficient of `mag`"],
    );
    fails(
        &MATERIALS.replace(
            "[[edge]]\nfrom = \"sep\"\nto = \"mag\"\nmaterial = \"dytb\"\n",
            "",
        ),
        &[
            "recipe input `dytb` of `mag` has no supplier",
            "add an [[edge]] carrying material = \"dytb\"",
        ],
    );
    // Two materials into a node without a recipe; yield beside a recipe.
    fails(
        &MATERIALS.replace("inputs = { ndpr = 0.3, dytb = 0.02 }", ""),
        &["`mag` receives both `ndpr` and `dytb`", "inputs = {"],
    );
    fails(
        &MATERIALS.replace("inputs = {", "yield = 0.5\ninputs = {"),
        &["gives both `yield` and `inputs`"],
    );
    // Material keys in a scenario without materials.
    fails(
        &GOOD.replace(
            "capacity = 10\n\n[[node]]\nid = \"d\"",
            "capacity = 10\noutput = \"x\"\n\n[[node]]\nid = \"d\"",
        ),
        &[
            "`x` names a material, but the scenario declares none",
            "[[material]]",
        ],
    );
}

#[test]
fn origin_rule_mistakes_name_their_line_and_fix() {
    let reach = "\n[[restriction]]\nid = \"cn\"\ncountry = \"AA\"\nstages = [\"magnet\"]\nde_minimis = 1.5\nseverity = 1\n";
    let text = MATERIALS.replace(
        "country = \"BB\"\ndemand = 8",
        "country = \"CC\"\ndemand = 8",
    );
    fails(&format!("{text}{reach}"), &["line 65", "between 0 and 1"]);
    // A reach that finds nothing to cover.
    fails(
        &format!("{MATERIALS}{}", reach.replace("1.5", "0.001")),
        &["restriction `cn` covers no edge", "`materials`"],
    );
    // Reached and restricted by its own exporter at once.
    let own = "\n[[restriction]]\nid = \"bb\"\ncountry = \"BB\"\nseverity = 1\n";
    fails(
        &format!("{text}{}{own}", reach.replace("1.5", "0.001")),
        &["covered both by its own country's restriction and by another country's reach"],
    );
}

#[test]
fn co_product_and_reach_mistakes_are_refused_at_their_line() {
    // One co-product is not co-products; a co-product plant takes no yield nor recipe.
    fails(
        &MATERIALS.replace(
            "outputs = { ndpr = 0.2, dytb = 0.01 }",
            "outputs = { ndpr = 0.2 }",
        ),
        &["line 27", "lists one material", "output = \"<material>\""],
    );
    fails(
        &MATERIALS.replace("outputs = { ndpr", "yield = 0.5\noutputs = { ndpr"),
        &["line 27", "gives a `yield`", "remove `yield`"],
    );
    fails(
        &MATERIALS.replace("dytb = 0.01 }", "dytb = 1e-320 }"),
        &["line 27", "between 1e-6 and 1"],
    );
    // Part ids are `node[material]`: a node of the file cannot take one.
    fails(
        &MATERIALS
            .replace("id = \"mine\"", "id = \"mine[x]\"")
            .replace("from = \"mine\"", "from = \"mine[x]\""),
        &["line 16", "contains `[` or `]`"],
    );
    // A reach selects by stage, material and destination, not by route.
    let reach = "\n[[restriction]]\nid = \"cn\"\ncountry = \"AA\"\nroutes = [\"sep->mag\"]\nde_minimis = 0.1\nseverity = 1\n";
    fails(
        &format!("{MATERIALS}{reach}"),
        &["line 65", "both `routes` and `de_minimis`"],
    );
    // Reached and restricted by its own exporter: the error points at the reach.
    let text = MATERIALS.replace(
        "country = \"BB\"\ndemand = 8",
        "country = \"CC\"\ndemand = 8",
    );
    let reach = "\n[[restriction]]\nid = \"cn\"\ncountry = \"AA\"\nstages = [\"magnet\"]\nde_minimis = 0.001\nseverity = 1\n";
    let own = "\n[[restriction]]\nid = \"bb\"\ncountry = \"BB\"\nseverity = 1\n";
    fails(
        &format!("{text}{reach}{own}"),
        &["line 65", "de_minimis = 0.001"],
    );
}

#[test]
fn restrictions_and_tariffs_cover_only_the_materials_they_name() {
    use supplyshock::model::ShockKind;
    let text = format!(
        "{MATERIALS}\n[[restriction]]\nid = \"stop\"\ncountry = \"AA\"\nmaterials = [\"dytb\"]\nseverity = 1\n\n[[tariff]]\nid = \"duty\"\nfrom = \"AA\"\nto = \"BB\"\nmaterials = [\"ndpr\"]\nrate = 0.1\n"
    );
    let m = model::compile_str(&text, "good.toml").unwrap();
    let carried = |edges: &[u32]| -> Vec<&str> {
        edges
            .iter()
            .map(|&e| m.material_id(m.edges[e as usize].material).unwrap_or("?"))
            .collect()
    };
    for s in &m.shocks {
        match &s.kind {
            ShockKind::Restriction { edges, .. } => assert_eq!(carried(edges), ["dytb"]),
            ShockKind::Tariff { edges, .. } => assert_eq!(carried(edges), ["ndpr"]),
            _ => {}
        }
    }
    // Without `materials` both edges of the pair are covered.
    let all = MATERIALS.to_string()
        + "\n[[restriction]]\nid = \"stop\"\ncountry = \"AA\"\nseverity = 1\n";
    let m = model::compile_str(&all, "good.toml").unwrap();
    let ShockKind::Restriction { edges, .. } = &m.shocks[0].kind else {
        panic!("a restriction")
    };
    assert_eq!(edges.len(), 2);
}
