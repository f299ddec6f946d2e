//! The command line, end to end: a few runs of the real binary.

use std::path::Path;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_supplyshock"))
}

/// Runs `cmd` and returns its output, failing the test with its stderr if it did not succeed.
fn succeed(cmd: &mut Command) -> std::process::Output {
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

/// Runs `cmd`, which must fail with exit status 2 (bad input), and returns its output.
fn fails(cmd: &mut Command) -> std::process::Output {
    let o = cmd.output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// Asserts that `dir` holds no hidden temporary file: nothing staged or set aside is left.
fn assert_no_leftovers(dir: &Path, context: &str) {
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().to_string();
        assert!(!name.starts_with('.'), "{context} left {name}");
    }
}

fn tmp(name: &str) -> std::path::PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// An --out that is a symbolic link to nothing says so, and creates nothing.
#[cfg(unix)]
#[test]
fn a_dangling_symbolic_link_as_out_is_explained() {
    let dir = tmp("cli-dangling");
    std::fs::create_dir_all(&dir).unwrap();
    let (link, target) = (dir.join("out"), dir.join("gone"));
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let o = bin()
        .args(["run", "--trials", "10", "--quiet", "--out"])
        .arg(&link)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("is a symbolic link to") && err.contains("which does not exist"),
        "{err}"
    );
    assert!(!err.contains("os error 17"), "{err}");
    assert!(!target.exists());
}

#[test]
fn run_writes_results_and_a_table() {
    let out = tmp("cli-run");
    let o = succeed(
        bin()
            .args(["run", "--trials", "300", "--threads", "2", "--out"])
            .arg(&out),
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("mean shortfall t [95% CI]"), "{stdout}");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["trials"], 300);
    assert!(summary["demand"].as_array().unwrap().len() >= 2);
    let csv = std::fs::read_to_string(out.join("trials.csv")).unwrap();
    assert_eq!(csv.lines().count(), 301);
    // Nothing temporary is left behind.
    assert_no_leftovers(&out, "");
}

#[test]
fn bad_scenario_exits_2_with_location_and_keeps_earlier_results() {
    let out = tmp("cli-bad");
    assert!(
        bin()
            .args(["run", "--trials", "50", "--quiet", "--out"])
            .arg(&out)
            .status()
            .unwrap()
            .success()
    );
    let before = std::fs::read(out.join("summary.json")).unwrap();
    let bad = out.join("bad.toml");
    std::fs::write(
        &bad,
        "[scenario]\nname = \"x\"\nperiods = 12\nstart = \"2027-13\"\n",
    )
    .unwrap();
    let o = fails(bin().arg("run").arg(&bad).arg("--out").arg(&out));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.toml") && err.contains("line 4") && err.contains("YYYY-MM"),
        "{err}"
    );
    assert_eq!(std::fs::read(out.join("summary.json")).unwrap(), before);
}

#[test]
fn validate_and_flag_errors() {
    let o = bin().args(["validate"]).output().unwrap();
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("valid"));
    let o = fails(bin().args(["run", "--trials", "abc"]));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--trials"));
    let o = fails(bin().args(["run", "--trials", "0"]));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--trials"));
    let o = fails(bin().args(["run", "no-such-file.toml"]));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no-such-file.toml"));
    // Sizes that would run for hours or exhaust memory are refused up front.
    let o = fails(bin().args(["run", "--threads", "100000"]));
    assert!(String::from_utf8_lossy(&o.stderr).contains("0..=1024"));
    let o = fails(bin().args(["bench", "--threads", "1,5000"]));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--threads"));
    // A precision of 5 is 500%: legal, surely a slip, and said so.
    let out = tmp("cli-precision-5");
    let o = succeed(
        bin()
            .args([
                "run",
                "--trials",
                "50",
                "--precision",
                "5",
                "--no-report",
                "--out",
            ])
            .arg(&out),
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("warning: --precision 5") && err.contains("500%"),
        "{err}"
    );
    let o = fails(bin().args(["run", "--max-trials", "5"]));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--precision"));
    let o = fails(bin().args(["run", "--json", "--shard", "1/2"]));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--json cannot be combined with --shard"));
    // A kernel is named from what this processor runs.
    let o = fails(bin().args(["run", "--kernel", "avx1024"]));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--kernel")
            && err.contains("unknown kernel 'avx1024'")
            && err.contains("one-trial"),
        "{err}"
    );
    for p in supplyshock::sim::lanes::Path::ALL
        .into_iter()
        .filter(|p| !p.available())
    {
        let o = fails(bin().args(["bench", "--kernel", p.name()]));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("this processor cannot run"), "{err}");
    }
    let o = fails(bin().args(["bench", "--repeats", "0"]));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--repeats"));
    let o = fails(bin().args([
        "sweep",
        "--set",
        "node.us_auto.cover=1",
        "--set",
        "node.us_auto.cover=2",
    ]));
    assert!(String::from_utf8_lossy(&o.stderr).contains("given twice"));
    let values = (1..=32)
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let o = fails(
        bin()
            .args(["sweep", "--out"])
            .arg(tmp("cli-big-sweep"))
            .args([
                "--set",
                &format!("node.us_auto.cover={values}"),
                "--set",
                &format!("node.eu_ind.cover={values}"),
            ]),
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("1024 points") && err.contains("--set"),
        "{err}"
    );
    // A trials.csv edited to hold a shortfall that no run writes.
    let out = tmp("cli-report-inf");
    succeed(
        bin()
            .args(["run", "--trials", "20", "--quiet", "--out"])
            .arg(&out),
    );
    let csv = std::fs::read_to_string(out.join("trials.csv")).unwrap();
    let mut lines: Vec<String> = csv.lines().map(str::to_string).collect();
    let mut row: Vec<&str> = lines[1].split(',').collect();
    row[1] = "inf";
    lines[1] = row.join(",");
    std::fs::write(out.join("trials.csv"), lines.join("\n") + "\n").unwrap();
    let o = fails(bin().arg("report").arg(&out));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("line 2: column 2 is inf"), "{err}");
}

#[test]
fn merged_shards_equal_one_run_byte_for_byte() {
    let whole = tmp("cli-whole");
    let merged = tmp("cli-merged");
    let args = [
        "run", "--trials", "1000", "--seed", "77", "--quiet", "--out",
    ];
    assert!(bin().args(args).arg(&whole).status().unwrap().success());
    let mut dirs = Vec::new();
    for i in [3, 1, 2] {
        let d = tmp(&format!("cli-shard-{i}"));
        succeed(
            bin()
                .args(args)
                .arg(&d)
                .args(["--shard", &format!("{i}/3"), "--threads", "1"]),
        );
        dirs.push(d);
    }
    // A shard whose run was stopped before it finished (its lock and a staged trials.csv left
    // behind, no shard.bin) is named as unfinished, with what to do.
    let stopped = tmp("cli-shard-stopped");
    std::fs::create_dir_all(&stopped).unwrap();
    std::fs::write(stopped.join(".lock-4242-1"), b"").unwrap();
    std::fs::write(stopped.join(".trials.csv.tmp-4242-1"), b"trial,").unwrap();
    let o = fails(
        bin()
            .arg("merge")
            .args(&dirs[..2])
            .arg(&stopped)
            .arg("--out")
            .arg(&merged),
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("cli-shard-stopped is an unfinished shard") && err.contains("again"),
        "{err}"
    );
    // Missing a shard is an error that says so.
    let o = fails(
        bin()
            .arg("merge")
            .args(&dirs[..2])
            .arg("--out")
            .arg(&merged),
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("missing"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    succeed(
        bin()
            .arg("merge")
            .args(&dirs)
            .arg("--quiet")
            .arg("--out")
            .arg(&merged),
    );
    for f in ["summary.json", "trials.csv"] {
        assert_eq!(
            std::fs::read(whole.join(f)).unwrap(),
            std::fs::read(merged.join(f)).unwrap(),
            "{f} differs"
        );
    }
    // A shard file is the same bytes whatever the thread count (its exact sums are stored in
    // one canonical form, however the threads' shares were merged).
    let shard_bytes = |threads: &str| {
        let d = tmp(&format!("cli-shard-threads-{threads}"));
        succeed(
            bin()
                .args([
                    "run",
                    "--trials",
                    "20000",
                    "--seed",
                    "5",
                    "--quiet",
                    "--no-report",
                ])
                .args(["--shard", "1/2", "--threads", threads, "--out"])
                .arg(&d),
        );
        std::fs::read(d.join("shard.bin")).unwrap()
    };
    assert!(shard_bytes("1") == shard_bytes("2"));
    assert!(shard_bytes("3") == shard_bytes("2"));
}

#[test]
fn bench_prints_kernel_figures() {
    let o = bin()
        .args([
            "bench",
            "--trials",
            "200",
            "--batch",
            "500",
            "--threads",
            "1,2",
            "--repeats",
            "1",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(
        s.contains("node-periods/s")
            && s.contains("heap allocations in 200 timed trials: 0")
            && s.contains("efficiency"),
        "{s}"
    );
    // Every kernel this processor runs is timed and named, the lane kernel's halves apart.
    for k in supplyshock::sim::engine::Kernel::available() {
        assert!(s.contains(&format!("kernel {k} (")), "{k}: {s}");
    }
    assert!(
        s.contains("us/trial sampling the shocks") && s.contains("us/trial stepping the periods"),
        "{s}"
    );
}

#[test]
fn compare_writes_paired_results_and_charts() {
    let out = tmp("cli-compare");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let variant = out.with_extension("toml");
    std::fs::write(
        &variant,
        crate::common::default_variant(
            "eu-stockpile",
            "\"node.eu_ind.stockpile\" = { periods = 3 }",
        ),
    )
    .unwrap();
    // The default scenario against the variant, into `out`.
    let compare = |trials: &str, out: &Path| {
        let mut c = bin();
        c.arg("compare")
            .arg(dir.join("rare-earths-2026.toml"))
            .arg(&variant)
            .args(["--trials", trials, "--out"])
            .arg(out);
        c
    };
    let o = succeed(&mut compare("500", &out));
    assert!(String::from_utf8_lossy(&o.stdout).contains("eu-stockpile"));
    let c: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("compare.json")).unwrap()).unwrap();
    assert_eq!(c["alternatives"][0]["scenario"], "eu-stockpile");
    for f in [
        "compare.csv",
        "report/index.html",
        "report/01-exceedance-overlay.png",
        "report/02-paired-differences.png",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
    // A run or a sweep into the comparison's folder is refused and leaves it as it was, and so
    // is a comparison into a run's folder.
    let before = std::fs::read(out.join("report/index.html")).unwrap();
    for cmd in [
        vec!["run", "--trials", "10", "--out"],
        vec![
            "sweep",
            "--set",
            "node.us_auto.cover=1",
            "--trials",
            "10",
            "--out",
        ],
    ] {
        let o = fails(bin().args(cmd).arg(&out));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("holds a comparison (compare.json)") && err.contains("another --out"),
            "{err}"
        );
    }
    assert_eq!(
        std::fs::read(out.join("report/index.html")).unwrap(),
        before
    );
    assert!(!out.join("summary.json").exists() && !out.join("sweep.json").exists());
    let run = tmp("cli-compare-into-run");
    succeed(
        bin()
            .args(["run", "--trials", "10", "--quiet", "--out"])
            .arg(&run),
    );
    let o = fails(&mut compare("10", &run));
    assert!(String::from_utf8_lossy(&o.stderr).contains("holds a run's results (summary.json)"));
    assert!(!run.join("compare.json").exists());
}

#[test]
fn sweep_writes_a_table_and_a_chart() {
    let out = tmp("cli-sweep");
    let o = bin()
        .args([
            "sweep",
            "--set",
            "node.us_auto.cover=0.5,3",
            "--trials",
            "300",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let csv = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    assert!(csv.starts_with("node.us_auto.cover,node,mean_t"), "{csv}");
    assert_eq!(csv.lines().count(), 1 + 2 * 6);
    assert!(out.join("sweep.png").exists() && out.join("sweep.json").exists());
    let o = fails(
        bin()
            .args([
                "sweep",
                "--set",
                "node.nope.cover=1",
                "--trials",
                "10",
                "--out",
            ])
            .arg(&out),
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("no node `nope`"));
}

#[test]
fn review_edge_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    // A run without a report removes the previous run's report instead of leaving it stale.
    let out = tmp("cli-stale");
    assert!(
        bin()
            .args(["run", "--trials", "50", "--quiet", "--out"])
            .arg(&out)
            .status()
            .unwrap()
            .success()
    );
    assert!(out.join("report/index.html").exists());
    assert!(
        bin()
            .args(["run", "--trials", "60", "--quiet", "--no-report", "--out"])
            .arg(&out)
            .status()
            .unwrap()
            .success()
    );
    assert!(!out.join("report").exists());
    // Without trials.csv the summary is the same, and the previous run's trials.csv goes.
    let summary = std::fs::read(out.join("summary.json")).unwrap();
    assert!(out.join("trials.csv").exists());
    let o = succeed(
        bin()
            .args([
                "run",
                "--trials",
                "60",
                "--no-report",
                "--no-trials-csv",
                "--out",
            ])
            .arg(&out),
    );
    assert!(!String::from_utf8_lossy(&o.stdout).contains("trials.csv"));
    assert!(!out.join("trials.csv").exists());
    assert_eq!(std::fs::read(out.join("summary.json")).unwrap(), summary);
    let info = std::fs::read_to_string(out.join("run-info.json")).unwrap();
    assert!(info.contains("\"trials_csv\": false"), "{info}");
    // run-info.json names the kernel that ran; every kernel gives the same summary.
    let best = supplyshock::sim::engine::Kernel::best();
    assert!(info.contains(&format!("\"kernel\": \"{best}\"")), "{info}");
    for kernel in supplyshock::sim::engine::Kernel::available() {
        succeed(
            bin()
                .args(["run", "--trials", "60", "--no-report", "--no-trials-csv"])
                .args(["--kernel", kernel.name(), "--out"])
                .arg(&out),
        );
        assert_eq!(std::fs::read(out.join("summary.json")).unwrap(), summary);
        let info = std::fs::read_to_string(out.join("run-info.json")).unwrap();
        assert!(
            info.contains(&format!("\"kernel\": \"{kernel}\"")),
            "{info}"
        );
    }
    // With a report, its index does not link to the missing file.
    succeed(
        bin()
            .args([
                "run",
                "--trials",
                "60",
                "--quiet",
                "--no-trials-csv",
                "--out",
            ])
            .arg(&out),
    );
    let index = std::fs::read_to_string(out.join("report/index.html")).unwrap();
    assert!(index.contains("summary.json") && !index.contains("trials.csv\""));
    let o = fails(
        bin()
            .args([
                "run",
                "--trials",
                "60",
                "--shard",
                "1/2",
                "--no-trials-csv",
                "--out",
            ])
            .arg(tmp("cli-shard-no-csv")),
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("--no-trials-csv"));
    // An empty shard of a tiny run is fine.
    succeed(
        bin()
            .args(["run", "--trials", "3", "--shard", "1/5", "--quiet", "--out"])
            .arg(tmp("cli-empty-shard")),
    );
    // Alternatives without a demand node in common cannot be compared.
    let o = fails(
        bin()
            .arg("compare")
            .arg(dir.join("teach-embargo.toml"))
            .arg(dir.join("teach-late-plant.toml"))
            .args(["--trials", "10", "--out"])
            .arg(tmp("cli-nothing")),
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("no demand node"));
    // A bad value in a variant is reported at its setting in the variant file, with the line it
    // makes in the base.
    let variant = tmp("cli-variant").with_extension("toml");
    std::fs::write(
        &variant,
        crate::common::default_variant("v", "\"restriction.cn-controls-episode.severity\" = 1.5"),
    )
    .unwrap();
    let o = fails(bin().arg("validate").arg(&variant));
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(
        err.contains(&format!(
            "{}: error at line 5, column 46",
            variant.display()
        )) && err.contains("reads `severity = 1.5`")
            && err.contains("fix this setting of the variant"),
        "{err}"
    );
    // An error on a line of the base is reported at that line's number in the base file, even
    // where a setting before it added a line.
    let base = std::fs::read_to_string(dir.join("rare-earths-2026.toml")).unwrap();
    let lines: Vec<&str> = base.lines().collect();
    let first_into = lines.iter().position(|l| *l == "to = \"us_auto\"").unwrap();
    let share = first_into
        + 1
        + lines[first_into..]
            .iter()
            .position(|l| l.starts_with("share ="))
            .unwrap();
    std::fs::write(
        &variant,
        crate::common::default_variant(
            "v",
            "\"node.eu_ind.stockpile.periods\" = 3\n\"edge.cn_mag->us_auto.share\" = 0.95",
        ),
    )
    .unwrap();
    let o = fails(bin().arg("validate").arg(&variant));
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(
        err.contains(&format!(
            "(the base of variant {}): error at line {share},",
            variant.display()
        )) && err.contains(&format!("{share} | {}", lines[share - 1]))
            && err.contains("sum to"),
        "{err}"
    );
    // So does a sweep over a variant, naming the sweep's point.
    std::fs::write(
        &variant,
        crate::common::default_variant("v", "\"node.eu_ind.stockpile.periods\" = 3"),
    )
    .unwrap();
    let o = fails(
        bin()
            .arg("sweep")
            .arg(&variant)
            .args([
                "--set",
                "edge.cn_mag->us_auto.share=0.95",
                "--trials",
                "10",
                "--out",
            ])
            .arg(tmp("cli-sweep-variant")),
    );
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(
        err.contains(&format!(
            "(the base of variant {}) with --set edge.cn_mag->us_auto.share=0.95: error at line {share},",
            variant.display()
        )),
        "{err}"
    );
    // A sweep names the --set that made a line invalid.
    let o = fails(
        bin()
            .args([
                "sweep",
                "--set",
                "node.eu_ind.cover=1,-2",
                "--trials",
                "10",
                "--out",
            ])
            .arg(tmp("cli-sweep-bad")),
    );
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(
        err.contains("with --set node.eu_ind.cover=-2:") && err.contains("reads `cover = -2"),
        "{err}"
    );
    // A file where the output folder should be fails before any trial runs.
    let file = tmp("cli-out-file");
    std::fs::write(&file, "x").unwrap();
    let o = fails(bin().args(["run", "--trials", "10", "--out"]).arg(&file));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a folder"));
}

#[test]
fn a_run_that_fails_after_starting_trials_csv_keeps_earlier_results() {
    let out = tmp("cli-fail-late");
    succeed(
        bin()
            .args(["run", "--trials", "200", "--quiet", "--no-report", "--out"])
            .arg(&out),
    );
    let before = std::fs::read(out.join("trials.csv")).unwrap();
    // trials.csv is staged before the trials run; a precision of 0 is refused only then.
    let o = fails(
        bin()
            .args(["run", "--trials", "300", "--precision", "0", "--out"])
            .arg(&out),
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("--precision"));
    assert_eq!(std::fs::read(out.join("trials.csv")).unwrap(), before);
    assert!(out.join("summary.json").exists());
    assert_no_leftovers(&out, "");
}

#[test]
fn merge_refuses_a_shard_whose_trials_csv_does_not_match_and_orphans_are_cleared() {
    let (a, b, merged) = (tmp("cli-mm-a"), tmp("cli-mm-b"), tmp("cli-mm-out"));
    for (i, d) in [(1, &a), (2, &b)] {
        succeed(
            bin()
                .args(["run", "--trials", "100", "--quiet", "--shard"])
                .arg(format!("{i}/2"))
                .arg("--out")
                .arg(d),
        );
    }
    // A row too many in the first shard's trials.csv.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(a.join("trials.csv"))
        .unwrap();
    std::io::Write::write_all(&mut f, b"0,1\n").unwrap();
    let o = fails(bin().arg("merge").args([&a, &b]).arg("--out").arg(&merged));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("does not hold trials 0..50"), "{err}");
    assert!(!merged.join("summary.json").exists() && !merged.join("trials.csv").exists());
    // The same trials with other figures (another seed's shard), or a damaged shard.bin.
    let other = tmp("cli-mm-other");
    for (seed, d) in [("2026", &a), ("7", &other)] {
        succeed(
            bin()
                .args([
                    "run", "--trials", "100", "--quiet", "--shard", "1/2", "--seed", seed,
                ])
                .arg("--out")
                .arg(d),
        );
    }
    std::fs::copy(other.join("trials.csv"), a.join("trials.csv")).unwrap();
    let o = fails(bin().arg("merge").args([&a, &b]).arg("--out").arg(&merged));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("its bytes have changed"), "{err}");
    let mut bin_bytes = std::fs::read(other.join("shard.bin")).unwrap();
    let mid = bin_bytes.len() / 2;
    bin_bytes[mid] ^= 1;
    std::fs::write(other.join("shard.bin"), bin_bytes).unwrap();
    let o = fails(
        bin()
            .arg("merge")
            .args([&other, &b])
            .arg("--out")
            .arg(&merged),
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("is damaged"), "{err}");
    // A shard of an earlier format (2, without a CRC) says so.
    let mut bin_bytes = std::fs::read(other.join("shard.bin")).unwrap();
    bin_bytes[0] = 2;
    std::fs::write(other.join("shard.bin"), bin_bytes).unwrap();
    let o = fails(
        bin()
            .arg("merge")
            .args([&other, &b])
            .arg("--out")
            .arg(&merged),
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("shard format 2, of an earlier supplyshock"),
        "{err}"
    );
    // `report` on a shard folder points to merge.
    let o = fails(bin().arg("report").arg(&b));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("holds a shard") && err.contains("merge"),
        "{err}"
    );
    // A full run into a shard folder removes the shard file that no longer matches it; a shard
    // run into a full run's folder removes its summary and report.
    succeed(
        bin()
            .args(["run", "--trials", "50", "--quiet", "--out"])
            .arg(&b),
    );
    assert!(!b.join("shard.bin").exists() && b.join("summary.json").exists());
    let o = bin()
        .args([
            "run", "--trials", "100", "--quiet", "--shard", "2/2", "--out",
        ])
        .arg(&b)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(b.join("shard.bin").exists());
    assert!(!b.join("summary.json").exists() && !b.join("report").exists());
    // A temporary file of a run that was killed is cleared by the next run into the folder.
    let orphan = merged.join(".trials.csv.tmp-4000000000-1");
    std::fs::write(&orphan, b"half").unwrap();
    succeed(
        bin()
            .args(["run", "--trials", "50", "--quiet", "--no-report", "--out"])
            .arg(&merged),
    );
    assert!(!orphan.exists());
}

#[test]
fn a_run_that_cannot_put_every_file_in_place_changes_nothing() {
    let out = tmp("cli-all-or-nothing");
    let args = ["run", "--trials", "200", "--quiet", "--out"];
    succeed(bin().args(args).arg(&out).args(["--seed", "1"]));
    let files = [
        "summary.json",
        "trials.csv",
        "report/index.html",
        "report/04-drivers.png",
    ];
    let before: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(out.join(f)).unwrap())
        .collect();
    // run-info.json is now a folder: the run's last file to go in place cannot, so none does.
    std::fs::remove_file(out.join("run-info.json")).unwrap();
    std::fs::create_dir(out.join("run-info.json")).unwrap();
    let o = fails(bin().args(args).arg(&out).args(["--seed", "2"]));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("run-info.json is a folder"), "{err}");
    for (f, b) in files.iter().zip(&before) {
        assert!(std::fs::read(out.join(f)).unwrap() == *b, "{f} changed");
    }
    for dir in [out.clone(), out.join("report")] {
        assert_no_leftovers(&dir, "");
    }
    // A run killed while moving its files into place (it left its commit marker) is finished
    // by the next run into the folder: its summary.json is in place, its trials.csv still
    // staged, the earlier ones set aside, and an earlier report listed for removal.
    std::fs::remove_dir(out.join("run-info.json")).unwrap();
    let dead = "4000000000-1";
    let put = |name: &str, text: &str| std::fs::write(out.join(name), text).unwrap();
    std::fs::rename(
        out.join("summary.json"),
        out.join(format!(".summary.json.old-{dead}")),
    )
    .unwrap();
    put("summary.json", "killed run's summary");
    std::fs::rename(
        out.join("trials.csv"),
        out.join(format!(".trials.csv.old-{dead}")),
    )
    .unwrap();
    put(&format!(".trials.csv.tmp-{dead}"), "killed run's trials");
    put(&format!(".commit-{dead}"), "report/index.html\n");
    // A run killed before that changed nothing: its temporary file goes.
    put(".run-info.json.tmp-4000000001-1", "never placed");
    // The next run fails (a precision of 0 is refused after trials.csv is staged).
    fails(bin().args(args).arg(&out).args(["--precision", "0"]));
    let read = |name: &str| std::fs::read_to_string(out.join(name)).unwrap();
    assert_eq!(read("summary.json"), "killed run's summary");
    assert_eq!(read("trials.csv"), "killed run's trials");
    assert!(!out.join("report/index.html").exists() && !out.join("run-info.json").exists());
    assert_no_leftovers(&out, "");
    succeed(
        bin()
            .args(args)
            .arg(&out)
            .args(["--seed", "1", "--shard", "1/2"]),
    );
    // Merging into one of the shard folders would overwrite its trials.csv.
    let o = fails(bin().arg("merge").arg(&out).arg("--out").arg(&out));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("is the shard folder"), "{err}");
}

/// `report DIR` over a folder whose last run was killed while it moved its files into place
/// finishes that run's commit first, then draws the charts from its results: never charts of
/// the earlier results beside the killed run's data.
#[test]
fn report_finishes_a_killed_commit_before_reading() {
    let (a, b) = (tmp("cli-report-killed-a"), tmp("cli-report-killed-b"));
    for (dir, seed) in [(&a, "1"), (&b, "2")] {
        succeed(
            bin()
                .args(["run", "--trials", "300", "--quiet", "--seed", seed, "--out"])
                .arg(dir),
        );
    }
    // The charts `report` draws from b's results.
    succeed(bin().arg("report").arg(&b));
    // a's folder as b's run would leave it if killed after writing its commit marker and before
    // moving any file: every b file staged beside a's, which are still in place.
    let dead = "4000000000-1";
    let files = ["summary.json", "trials.csv", "run-info.json"]
        .into_iter()
        .map(String::from)
        .chain(supplyshock::report::FILES.map(supplyshock::report::path));
    for f in files {
        let (dir, name) = f.rsplit_once('/').unwrap_or(("", &f));
        let staged = a.join(dir).join(format!(".{name}.tmp-{dead}"));
        std::fs::copy(b.join(&f), staged).unwrap();
    }
    std::fs::write(a.join(format!(".commit-{dead}")), "").unwrap();
    succeed(bin().arg("report").arg(&a));
    let read = |dir: &std::path::Path, f: &str| std::fs::read(dir.join(f)).unwrap();
    assert_eq!(read(&a, "summary.json"), read(&b, "summary.json"));
    assert_eq!(read(&a, "trials.csv"), read(&b, "trials.csv"));
    for f in supplyshock::report::FILES.map(supplyshock::report::path) {
        assert!(
            read(&a, &f) == read(&b, &f),
            "{f} is not drawn from the results beside it"
        );
    }
    assert_no_leftovers(&a, "");
}

/// Runs started together into one folder all succeed, and the folder ends with one run's
/// results whole: each commit waits for the folder's lock, so no run's rollback or rename lands
/// on another's files.
#[test]
fn concurrent_runs_into_one_folder_leave_one_runs_results() {
    let (out, refs) = (tmp("cli-concurrent"), tmp("cli-concurrent-refs"));
    let args = |seed: usize| {
        let mut c = bin();
        c.args([
            "run",
            "--trials",
            "100",
            "--quiet",
            "--seed",
            &seed.to_string(),
        ]);
        c
    };
    for seed in 1..=6 {
        succeed(args(seed).arg("--out").arg(refs.join(seed.to_string())));
    }
    let files = ["summary.json", "trials.csv"]
        .into_iter()
        .map(String::from)
        .chain(supplyshock::report::FILES.map(supplyshock::report::path));
    let files: Vec<String> = files.collect();
    for round in 0..6 {
        let children: Vec<_> = (1..=6)
            .map(|seed| {
                args(seed)
                    .arg("--out")
                    .arg(&out)
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for c in children {
            let o = c.wait_with_output().unwrap();
            assert!(
                o.status.success(),
                "round {round}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        let summary = std::fs::read_to_string(out.join("summary.json")).unwrap();
        let seed = (1..=6)
            .find(|s| summary.contains(&format!("\"seed\": {s},")))
            .expect("a seed of the runs");
        let reference = refs.join(seed.to_string());
        for f in &files {
            assert!(
                std::fs::read(out.join(f)).unwrap() == std::fs::read(reference.join(f)).unwrap(),
                "round {round}: {f} is not seed {seed}'s"
            );
        }
        assert_no_leftovers(&out, &format!("round {round}"));
    }
}

#[test]
fn a_closed_standard_output_ends_quietly() {
    // As in `supplyshock validate | head -0`: the output meets a pipe whose reader has gone.
    for args in [
        &["validate"][..],
        &[
            "bench",
            "--trials",
            "16",
            "--batch",
            "16",
            "--threads",
            "1",
            "--repeats",
            "1",
        ],
    ] {
        let mut child = bin()
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success() && err.is_empty(), "{args:?}: {err}");
    }
}

#[test]
fn compare_and_sweep_chart_the_demand_nodes_with_the_largest_shortfall() {
    // 30 demand nodes, each fed by its own mine; only the last five (capacity 9 down to 5
    // against demand 10) are ever short.
    let out = tmp("cli-wide");
    std::fs::create_dir_all(&out).unwrap();
    let text = format!(
        "[scenario]\nname = \"wide\"\nperiods = 6\nstart = \"2027-01\"\n{}",
        crate::common::wide_demand()
    );
    let scenario = out.join("wide.toml");
    std::fs::write(&scenario, text).unwrap();
    let variant = out.join("wide-more.toml");
    std::fs::write(
        &variant,
        "[variant]\nbase = \"wide.toml\"\nname = \"more\"\n[variant.set]\n\"node.m29.capacity\" = 20\n",
    )
    .unwrap();
    let height = |path: &Path| {
        let bytes = std::fs::read(path).unwrap();
        png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .unwrap()
            .info()
            .height
    };
    let compared = out.join("compare");
    succeed(
        bin()
            .arg("compare")
            .arg(&scenario)
            .arg(&variant)
            .args(["--trials", "50", "--quiet", "--out"])
            .arg(&compared),
    );
    // 24 panels in 12 rows of two, plus the title strip.
    for f in ["01-exceedance-overlay.png", "02-paired-differences.png"] {
        assert_eq!(
            height(&compared.join("report").join(f)),
            12 * 400 + 50,
            "{f}"
        );
    }
    let swept = out.join("sweep");
    succeed(
        bin()
            .arg("sweep")
            .arg(&scenario)
            .args([
                "--set",
                "node.m0.capacity=5,50",
                "--trials",
                "50",
                "--quiet",
                "--out",
            ])
            .arg(&swept),
    );
    assert_eq!(height(&swept.join("sweep.png")), 12 * 400 + 50);
}

#[test]
fn leftovers_are_cleared_by_their_writers_lock_not_by_process_ids() {
    let out = tmp("cli-locks");
    let args = ["run", "--trials", "50", "--quiet", "--no-report", "--out"];
    succeed(bin().args(args).arg(&out));
    // A writer whose process id this machine does not know (another process namespace, say)
    // but which holds its lock is alive: its staged file stays.
    let alive = "4000000002-1";
    let staged = out.join(format!(".summary.json.tmp-{alive}"));
    std::fs::write(&staged, "being written").unwrap();
    let lock = std::fs::File::create(out.join(format!(".lock-{alive}"))).unwrap();
    lock.lock().unwrap();
    // A writer whose process id is running (this test's) but whose lock is free has ended.
    let ended = format!("{}-1", std::process::id());
    let orphan = out.join(format!(".trials.csv.tmp-{ended}"));
    std::fs::write(&orphan, "half").unwrap();
    std::fs::write(out.join(format!(".lock-{ended}")), "").unwrap();
    succeed(bin().args(args).arg(&out));
    assert!(staged.exists(), "a live writer's file was removed");
    assert!(!orphan.exists() && !out.join(format!(".lock-{ended}")).exists());
    // The staging lock file of an ended writer goes too.
    let locking = out.join(".locking-4000000003-1");
    std::fs::write(&locking, "").unwrap();
    succeed(bin().args(args).arg(&out));
    assert!(!locking.exists());
    // Once its lock is released, its leftovers go too.
    drop(lock);
    succeed(bin().args(args).arg(&out));
    let hidden: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "{hidden:?}");
}

#[test]
fn summary_csv_holds_the_summarys_figures_by_node_and_statistic() {
    let dir = tmp("cli-summary-csv");
    succeed(
        bin()
            .args(["run", "--trials", "500", "--quiet", "--no-report", "--out"])
            .arg(&dir),
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    let mut rows = csv::Reader::from_path(dir.join("summary.csv")).unwrap();
    let headers = rows.headers().unwrap().clone();
    assert_eq!(
        headers.iter().collect::<Vec<_>>(),
        [
            "node",
            "label",
            "quantity",
            "statistic",
            "value",
            "ci95_low",
            "ci95_high"
        ]
    );
    let rows: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    let demand = summary["demand"].as_array().unwrap();
    for d in demand {
        let node = d["node"].as_str().unwrap();
        let find = |quantity: &str, statistic: &str| {
            rows.iter()
                .find(|r| r[0] == *node && &r[2] == quantity && &r[3] == statistic)
                .unwrap_or_else(|| panic!("no row {node} {quantity} {statistic}"))
                .clone()
        };
        let mean = find("shortfall_t", "mean");
        assert_eq!(&mean[1], d["label"].as_str().unwrap());
        let num = |s: &str| s.parse::<f64>().unwrap();
        assert_eq!(num(&mean[4]), d["shortfall_t"]["mean"].as_f64().unwrap());
        assert_eq!(
            num(&mean[5]),
            d["shortfall_t"]["ci95_low"].as_f64().unwrap()
        );
        assert_eq!(
            num(&mean[6]),
            d["shortfall_t"]["ci95_high"].as_f64().unwrap()
        );
        let p95 = find("worst_period_share", "p95");
        assert_eq!(
            num(&p95[4]),
            d["worst_period_share"]["p95"].as_f64().unwrap()
        );
        assert_eq!(
            num(&p95[5]),
            d["worst_period_share"]["percentile_ci95"]["p95"][0]
                .as_f64()
                .unwrap()
        );
    }
    // 1 demand row, 12 statistics of 5 quantities and the exceedance probabilities, per node.
    let per_node = 1 + 5 * 12 + demand[0]["exceedance"].as_array().unwrap().len();
    assert_eq!(rows.len(), demand.len() * per_node);
}
