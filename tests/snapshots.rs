//! Golden snapshots of the summary of every shipped scenario at a small trial count.

use std::path::Path;

use supplyshock::{model, output, summary};

use crate::common::run;

#[test]
fn shipped_scenarios() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 4,
        "expected the default and three teaching scenarios"
    );
    for path in files {
        let m = model::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let r = run(&m, 400, 2026, 0);
        let json = output::summary_json(&summary::summarise(&m, &r)).unwrap();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
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
