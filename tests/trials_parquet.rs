//! trials.parquet: the same columns and values as trials.csv, read back with the parquet
//! crate's own reader; shards of Parquet trials merge; `report` reads them; bad flags are
//! refused by the command line.

use std::path::{Path, PathBuf};
use std::process::Command;

use parquet::column::reader::ColumnReader;
use parquet::file::reader::{FileReader as _, SerializedFileReader};
use supplyshock::app::{self, RunJob, RunOutcome, Settings};
use supplyshock::io::trials::Format;

fn tmp(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_supplyshock"))
}

/// Runs `scenario` (the built-in one where `None`) into `out`, writing the per-trial file as
/// `format`.
fn run(scenario: Option<&Path>, trials: u64, format: Format, out: &Path) {
    let loaded = app::load(scenario).unwrap();
    let job = RunJob {
        settings: Settings {
            trials: Some(trials),
            seed: Some(11),
            threads: 0,
            kernel: supplyshock::sim::engine::Kernel::best(),
            progress: false,
        },
        out: out.to_path_buf(),
        precision: None,
        max_trials: 0,
        shard: None,
        trials: Some(format),
        report: false,
    };
    let RunOutcome::Full { written, .. } = app::run(&job, &loaded).unwrap() else {
        panic!("a whole run")
    };
    assert_eq!(written.trials, Some(format));
}

/// One column chunk's values, as the text trials.csv holds for them.
fn column_text(col: ColumnReader, rows: usize) -> Vec<String> {
    fn read<D: parquet::data_type::DataType>(
        mut r: parquet::column::reader::ColumnReaderImpl<D>,
        rows: usize,
        optional: bool,
    ) -> Vec<Option<D::T>> {
        let (mut def, mut vals) = (Vec::new(), Vec::new());
        let (n, _, _) = r
            .read_records(rows, optional.then_some(&mut def), None, &mut vals)
            .unwrap();
        assert_eq!(n, rows);
        if !optional {
            return vals.into_iter().map(Some).collect();
        }
        let mut vals = vals.into_iter();
        def.iter()
            .map(|&d| if d == 1 { vals.next() } else { None })
            .collect()
    }
    match col {
        ColumnReader::Int64ColumnReader(r) => read(r, rows, false)
            .into_iter()
            .map(|v| v.unwrap().to_string())
            .collect(),
        // Rust prints the shortest text that reads back to the same double, as trials.csv holds.
        ColumnReader::DoubleColumnReader(r) => read(r, rows, false)
            .into_iter()
            .map(|v| v.unwrap().to_string())
            .collect(),
        // An input's value: the shortest text of the 32-bit float, empty where none was drawn.
        ColumnReader::FloatColumnReader(r) => read(r, rows, true)
            .into_iter()
            .map(|v| v.map_or(String::new(), |x| x.to_string()))
            .collect(),
        ColumnReader::BoolColumnReader(r) => read(r, rows, false)
            .into_iter()
            .map(|v| if v.unwrap() { "1" } else { "0" }.to_string())
            .collect(),
        ColumnReader::ByteArrayColumnReader(r) => read(r, rows, true)
            .into_iter()
            .map(|v| v.map_or(String::new(), |b| b.as_utf8().unwrap().to_string()))
            .collect(),
        _ => panic!("a type supplyshock does not write"),
    }
}

/// Compares trials.parquet with trials.csv column by column, a row group at a time; returns the
/// rows compared.
fn assert_parquet_equals_csv(parquet: &Path, csv: &Path) -> usize {
    let reader = SerializedFileReader::new(std::fs::File::open(parquet).unwrap()).unwrap();
    let mut csv = csv::Reader::from_path(csv).unwrap();
    let header: Vec<String> = csv.headers().unwrap().iter().map(String::from).collect();
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    let names: Vec<String> = schema.columns().iter().map(|c| c.name().into()).collect();
    assert_eq!(names, header, "the columns");
    let mut records = csv.records();
    let mut rows_seen = 0;
    for g in 0..reader.num_row_groups() {
        let rg = reader.get_row_group(g).unwrap();
        let rows = rg.metadata().num_rows() as usize;
        let cols: Vec<Vec<String>> = (0..names.len())
            .map(|c| column_text(rg.get_column_reader(c).unwrap(), rows))
            .collect();
        for k in 0..rows {
            let rec = records
                .next()
                .expect("trials.csv has as many rows")
                .unwrap();
            for (c, col) in cols.iter().enumerate() {
                assert_eq!(col[k], rec[c], "row {} column {}", rows_seen + k, names[c]);
            }
        }
        rows_seen += rows;
    }
    assert!(records.next().is_none(), "trials.csv has more rows");
    rows_seen
}

/// A million trials of a teaching scenario: trials.parquet reads back equal to trials.csv,
/// column by column, in row groups as the run wrote them.
#[test]
fn a_million_trials_in_parquet_equal_trials_csv() {
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/teach-embargo.toml");
    let (c, p) = (tmp("parquet-1m-csv"), tmp("parquet-1m-parquet"));
    run(Some(&scenario), 1_000_000, Format::Csv, &c);
    run(Some(&scenario), 1_000_000, Format::Parquet, &p);
    assert!(!p.join("trials.csv").exists() && !c.join("trials.parquet").exists());
    let rows = assert_parquet_equals_csv(&p.join("trials.parquet"), &c.join("trials.csv"));
    assert_eq!(rows, 1_000_000);
    // The same summary either way.
    assert_eq!(
        std::fs::read(c.join("summary.json")).unwrap(),
        std::fs::read(p.join("summary.json")).unwrap()
    );
    let _ = std::fs::remove_dir_all(&c);
    let _ = std::fs::remove_dir_all(&p);
}

/// A small run of the default scenario, through the command line: every column and value of
/// trials.parquet is trials.csv's; a later csv run into the folder removes trials.parquet, and
/// `report` redraws from trials.parquet.
#[test]
fn a_small_run_s_parquet_equals_its_csv() {
    let (c, p) = (tmp("parquet-small-csv"), tmp("parquet-small-parquet"));
    for (dir, format) in [(&c, "csv"), (&p, "parquet")] {
        let o = bin()
            .args(["run", "--trials", "3000", "--quiet", "--no-report"])
            .args(["--trials-format", format, "--out"])
            .arg(dir)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert_eq!(
        assert_parquet_equals_csv(&p.join("trials.parquet"), &c.join("trials.csv")),
        3000
    );
    let info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.join("run-info.json")).unwrap()).unwrap();
    assert_eq!(info["trials_format"], "parquet");
    assert_eq!(info["trials_csv"], false);
    // `report` reads the shortfalls from trials.parquet.
    let o = bin().arg("report").arg(&p).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(p.join("report/index.html").exists());
    // A csv run into the same folder replaces the Parquet file.
    let o = bin()
        .args(["run", "--trials", "100", "--quiet", "--no-report", "--out"])
        .arg(&p)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(p.join("trials.csv").exists() && !p.join("trials.parquet").exists());
    let _ = std::fs::remove_dir_all(&c);
    let _ = std::fs::remove_dir_all(&p);
}

/// Shards that wrote trials.parquet merge into the trials.parquet of one run; asking `merge`
/// for another format than the shards' is refused with what to do.
#[test]
fn parquet_shards_merge_into_one_run_s_trials() {
    let base = tmp("parquet-shards");
    let whole = base.join("whole");
    let o = bin()
        .args(["run", "--trials", "2500", "--quiet", "--no-report"])
        .args(["--trials-format", "csv", "--out"])
        .arg(&whole)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut shards = Vec::new();
    for i in 1..=3 {
        let dir = base.join(format!("s{i}"));
        let o = bin()
            .args([
                "run",
                "--trials",
                "2500",
                "--quiet",
                "--shard",
                &format!("{i}/3"),
            ])
            .args(["--trials-format", "parquet", "--out"])
            .arg(&dir)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        shards.push(dir);
    }
    let merged = base.join("merged");
    let o = bin()
        .args(["merge", "--quiet", "--trials-format", "csv", "--out"])
        .arg(&merged)
        .args(&shards)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("the shards wrote trials.parquet") && err.contains("drop --trials-format"),
        "{err}"
    );
    let o = bin()
        .args(["merge", "--quiet", "--out"])
        .arg(&merged)
        .args(&shards)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        assert_parquet_equals_csv(&merged.join("trials.parquet"), &whole.join("trials.csv")),
        2500
    );
    assert_eq!(
        std::fs::read(merged.join("summary.json")).unwrap(),
        std::fs::read(whole.join("summary.json")).unwrap()
    );
    // A shard's file that changed since its run is refused.
    let f = shards[1].join("trials.parquet");
    let mut bytes = std::fs::read(&f).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&f, bytes).unwrap();
    let o = bin()
        .args(["merge", "--quiet", "--out"])
        .arg(base.join("merged2"))
        .args(&shards)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("its bytes have changed"), "{err}");
    let _ = std::fs::remove_dir_all(&base);
}

/// A bad --trials-format is refused by the command line, naming the flag and the formats.
#[test]
fn a_bad_trials_format_is_a_clear_error() {
    for args in [
        &["run", "--trials-format", "xlsx"][..],
        &["merge", "x", "--trials-format", "json"][..],
    ] {
        let o = bin().args(args).output().unwrap();
        assert_eq!(o.status.code(), Some(2));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("invalid value")
                && err.contains("'--trials-format <FORMAT>'")
                && err.contains("[possible values: csv, parquet]"),
            "{err}"
        );
    }
    let o = bin()
        .args(["run", "--no-trials-csv", "--trials-format", "parquet"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("cannot be used with"), "{err}");
}

/// The in-memory table of `run_table` holds trials.csv's columns and values, and the same
/// summary as `run`.
#[test]
fn the_in_memory_table_is_trials_csv() {
    use supplyshock::io::trials::Data;
    let dir = tmp("table-csv");
    run(None, 2000, Format::Csv, &dir);
    let loaded = app::load(None).unwrap();
    let settings = Settings {
        trials: Some(2000),
        seed: Some(11),
        threads: 2,
        kernel: supplyshock::sim::engine::Kernel::best(),
        progress: false,
    };
    let t = app::run_table(&loaded, &settings).unwrap();
    assert_eq!(
        t.summary_json,
        std::fs::read(dir.join("summary.json")).unwrap()
    );
    let mut csv = csv::Reader::from_path(dir.join("trials.csv")).unwrap();
    let header: Vec<&str> = t.table.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(csv.headers().unwrap().iter().collect::<Vec<_>>(), header);
    assert_eq!(t.table.trials(), 2000);
    for (k, rec) in csv.records().enumerate() {
        let rec = rec.unwrap();
        for (c, d) in t.table.data.iter().enumerate() {
            let text = match d {
                Data::Trial(v) => v[k].to_string(),
                Data::Number(v) => v[k].to_string(),
                Data::Month(v) => {
                    v[k].map_or(String::new(), |p| t.table.months[p as usize].clone())
                }
                Data::Flag(v) => if v[k] { "1" } else { "0" }.to_string(),
                Data::Drawn(v) if v[k].is_nan() => String::new(),
                Data::Drawn(v) => v[k].to_string(),
            };
            assert_eq!(text, rec[c], "row {k} column {}", header[c]);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
