//! The layering rules of docs/architecture.md, checked on the sources: each module imports only
//! from the layers below it, the kernels reach no serde or TOML, and only `io` touches files.

use std::path::{Path, PathBuf};

/// The layers, lowest first; `app`'s callers (the command line and the fuzzing entry points) sit
/// on top.
const LAYERS: [&str; 10] = [
    "prob", "scenario", "model", "sim", "stats", "report", "io", "app", "cli", "fuzzing",
];

/// Narrower rules: (module path prefix, forbidden reference, why).
const FORBIDDEN: [(&str, &str, &str); 4] = [
    (
        "stats",
        "crate::sim::engine",
        "statistics read what a run produced (sim::result); they never run the engine",
    ),
    (
        "stats",
        "crate::sim::kernel",
        "statistics read what a run produced (sim::result); they never run the kernels",
    ),
    (
        "report",
        "crate::sim::engine",
        "the report draws results; it never runs the engine",
    ),
    (
        "sim::shard",
        "crate::sim::engine",
        "a shard file holds results; reading one runs nothing",
    ),
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// A source file's module path under src/ (`sim::engine`, `scenario`, `lib`).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .filter(|c| c != "mod")
        .collect();
    parts.join("::")
}

/// The code of a file: its unit tests (the `#[cfg(test)]` module at its end) and its comments
/// left out.
fn code(text: &str) -> String {
    let body = text.split("\n#[cfg(test)]\n").next().unwrap_or("");
    body.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The layers a file's code names (`crate::LAYER...`), with the full reference.
fn references(code: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i..];
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        let full = rest[..end].trim_end_matches(':').to_string();
        let layer = full["crate::".len()..]
            .split("::")
            .next()
            .unwrap_or("")
            .to_string();
        out.push((layer, full));
    }
    out
}

#[test]
fn imports_run_only_downwards() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    files.sort();
    let rank = |layer: &str| LAYERS.iter().position(|l| *l == layer);
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in &files {
        let module = module_of(&src, file);
        let own = module.split("::").next().unwrap();
        if own == "lib" || own == "main" {
            continue;
        }
        let own_rank = rank(own)
            .unwrap_or_else(|| panic!("{module} is in no layer; add it to LAYERS and the docs"));
        let text = std::fs::read_to_string(file).unwrap();
        for (layer, full) in references(&code(&text)) {
            checked += 1;
            // Items of the crate root (the built-in scenario) are for everyone.
            let Some(r) = rank(&layer) else { continue };
            if r > own_rank {
                broken.push(format!("{module} reaches up to {full}"));
            }
            for (prefix, forbidden, why) in FORBIDDEN {
                if module.starts_with(prefix) && full.starts_with(forbidden) {
                    broken.push(format!("{module} uses {full}: {why}"));
                }
            }
        }
    }
    assert!(broken.is_empty(), "layering broken:\n{}", broken.join("\n"));
    assert!(
        checked > 100,
        "only {checked} references found: is src/ where it was?"
    );
}

#[test]
fn the_kernels_and_samplers_reach_no_serde_or_toml() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for rel in [
        "prob/dist.rs",
        "prob/rng.rs",
        "prob/estimate.rs",
        "sim/kernel.rs",
        "sim/lanes.rs",
        "sim/engine.rs",
    ] {
        let text = code(&std::fs::read_to_string(src.join(rel)).unwrap());
        for word in ["serde", "toml", "crate::scenario"] {
            assert!(!text.contains(word), "src/{rel} names {word}");
        }
    }
    // The model converts the scenario's serde types into its own plain ones.
    for rel in ["model/mod.rs", "model/validate.rs", "model/compile.rs"] {
        let model = code(&std::fs::read_to_string(src.join(rel)).unwrap());
        for word in ["Serialize", "Deserialize"] {
            assert!(!model.contains(word), "src/{rel} names {word}");
        }
    }
}

#[test]
fn only_io_touches_files() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    for file in &files {
        let module = module_of(&src, file);
        if module.starts_with("io") {
            continue;
        }
        let text = code(&std::fs::read_to_string(file).unwrap());
        for (at, _) in text.match_indices("fs::") {
            let line = text[at..].lines().next().unwrap_or("");
            // The engine asks the system for the machine's memory, before a run starts.
            if module == "sim::engine" && line.contains("/proc/meminfo") {
                continue;
            }
            panic!("{module} touches the file system outside io/: {line}");
        }
        for opens in ["File::open", "File::create", "OpenOptions"] {
            assert!(
                !text.contains(opens),
                "{module} opens a file outside io/ ({opens})"
            );
        }
    }
}
