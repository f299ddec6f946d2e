//! Golden snapshots of the summary of every shipped scenario at a small trial count.

use std::path::Path;

use supplyshock::{model, output, summary};

use crate::common::run;

#[test]
fn shipped_scenarios() {
    let files = supplyshock::bench::shipped_scenarios();
    assert!(
        files.len() >= 12,
        "expected the default, three teaching scenarios and the what-if variants"
    );
    for path in files {
        let m = model::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let r = run(&m, 400, 2026, 0);
        let json = output::summary_json(&summary::summarise(&m, &r)).unwrap();
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        let name = if path.parent().is_some_and(|p| p.ends_with("what-if")) {
            format!("what-if-{stem}")
        } else {
            stem
        };
        insta::assert_snapshot!(name, String::from_utf8(json).unwrap());
    }
}

#[test]
fn the_built_in_default_is_the_shipped_file() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/rare-earths-2026.toml");
    assert_eq!(
        std::fs::read_to_string(path).unwrap(),
        supplyshock::DEFAULT_SCENARIO
    );
}
