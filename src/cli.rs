//! Command-line interface: argument types and the `run` entry point the binary calls.

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};

use crate::io::output;
use crate::model::{self, Model};
use crate::report;
use crate::sim::engine::{self, Kernel, RunOptions};
use crate::sim::shard::{self, Shard, ShardFile};

/// `println!` that returns an error instead of panicking when standard output is closed (as in
/// `supplyshock run | head`); `main` ends quietly on a broken pipe.
macro_rules! outln {
    ($($arg:tt)*) => {
        writeln!(std::io::stdout().lock(), $($arg)*)?
    };
}

/// `print!` counterpart of [`outln!`].
macro_rules! out {
    ($($arg:tt)*) => {
        write!(std::io::stdout().lock(), $($arg)*)?
    };
}

/// Monte Carlo simulator of supply disruptions in the rare-earth magnet chain.
#[derive(Debug, Parser)]
#[command(name = "supplyshock", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario (default: the built-in rare-earth chain) and write its results.
    Run(RunArgs),
    /// Measure the simulation kernel on a scenario: per-trial cost, allocations, scaling.
    Bench(BenchArgs),
    /// Compare alternatives with the base on the same shock draws (common random numbers).
    Compare(CompareArgs),
    /// Run a scenario over a grid of settings, e.g. --set node.us_auto.cover=1,2,3.
    Sweep(SweepArgs),
    /// Merge the output folders of `run --shard I/N` into the result of one run.
    Merge {
        /// Shard output folders, in any order.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Output folder for the merged results.
        #[arg(long, short = 'o', default_value = "supplyshock-out")]
        out: PathBuf,
        /// Print summary.json to standard output instead of the table.
        #[arg(long)]
        json: bool,
        /// No table.
        #[arg(long, short = 'q')]
        quiet: bool,
    },
    /// Redraw the PNG report of a saved output folder, without re-running trials.
    Report {
        /// Output folder of an earlier `run` or `merge`.
        dir: PathBuf,
    },
    /// Check a scenario file without running it.
    Validate {
        /// Scenario file (default: the built-in scenario).
        scenario: Option<PathBuf>,
    },
}

/// Options shared by `run`, `compare` and `sweep`.
#[derive(Debug, Args)]
pub struct Common {
    /// Number of trials (default: the (base) scenario's `trials`).
    #[arg(long, short = 'n')]
    pub trials: Option<u64>,
    /// Master seed (default: the (base) scenario's `seed`).
    #[arg(long, short = 's')]
    pub seed: Option<u64>,
    /// Worker threads, at most 1024 (default: one per core). Results do not depend on it.
    #[arg(long, short = 'j', default_value_t = 0, value_parser = threads_arg())]
    pub threads: usize,
    /// Output folder (default: supplyshock-out for run, supplyshock-compare, supplyshock-sweep).
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    /// No progress bar and no table.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Print the JSON result to standard output instead of the table.
    #[arg(long)]
    pub json: bool,
    /// The kernel's instruction set: auto (the widest this processor has), avx512, avx2, sse2
    /// (neon on ARM), or one-trial (the reference kernel). Results do not depend on it.
    #[arg(long, default_value = "auto", value_parser = Kernel::parse)]
    pub kernel: Kernel,
}

impl Common {
    /// The output folder, or `default`.
    fn out_or(&self, default: &str) -> PathBuf {
        self.out.clone().unwrap_or_else(|| PathBuf::from(default))
    }

    /// Whether to draw a progress bar.
    fn progress(&self) -> bool {
        !self.quiet && !self.json && std::io::stderr().is_terminal()
    }
}

/// Options of `supplyshock run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario file (default: the built-in scenarios/rare-earths-2026.toml).
    pub scenario: Option<PathBuf>,
    /// Trials, seed, threads and output.
    #[command(flatten)]
    pub common: Common,
    /// Add batches of --trials trials until the 95% CI of each demand node's mean total shortfall
    /// is within this fraction of the mean (e.g. 0.05), or --max-trials is reached.
    #[arg(long, value_name = "FRACTION")]
    pub precision: Option<f64>,
    /// Most trials to run with --precision.
    #[arg(long, default_value_t = 1_000_000, requires = "precision")]
    pub max_trials: u64,
    /// Skip the PNG report.
    #[arg(long)]
    pub no_report: bool,
    /// Skip trials.csv (about 190 bytes per trial: 1.9 GB for ten million trials); the summary
    /// and the report's figures are the same without it.
    #[arg(long)]
    pub no_trials_csv: bool,
    /// Run only the I-th of N equal parts of the trials (e.g. 3/8) and save them for `merge`.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
}

/// Options of `supplyshock compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The base scenario, then one or more alternatives (scenario or variant files).
    #[arg(required = true, num_args = 2..)]
    pub scenarios: Vec<PathBuf>,
    /// Trials, seed, threads and output (default folder: supplyshock-compare).
    #[command(flatten)]
    pub common: Common,
}

/// Options of `supplyshock sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Scenario or variant file (default: the built-in scenario).
    pub scenario: Option<PathBuf>,
    /// PATH=v1,v2,... (repeat for a grid). Paths: scenario.KEY, node.ID.KEY,
    /// edge.FROM->TO.KEY, outage.ID.KEY, delay.ID.KEY, restriction.ID.KEY, tariff.ID.KEY.
    #[arg(long = "set", required = true, value_name = "PATH=VALUES")]
    pub sets: Vec<String>,
    /// Trials per grid point, seed, threads and output (default folder: supplyshock-sweep).
    #[command(flatten)]
    pub common: Common,
}

/// Options of `supplyshock bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Scenario file (default: the built-in scenario).
    pub scenario: Option<PathBuf>,
    /// Trials timed on one thread for the kernel figures.
    #[arg(long, default_value_t = 20_000)]
    pub trials: u64,
    /// Trials per engine run in the scaling table.
    #[arg(long, default_value_t = 100_000)]
    pub batch: u64,
    /// Thread counts for the scaling table, e.g. 1,2,4,8,16 (default: powers of two up to the
    /// number of cores).
    #[arg(long, value_delimiter = ',', value_parser = threads_arg())]
    pub threads: Vec<usize>,
    /// Timings of each kernel and of each thread count, 1 to 100; the best is kept.
    #[arg(long, default_value_t = crate::app::bench::REPEATS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=100))]
    pub repeats: usize,
    /// Master seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Kernels to time, e.g. avx2,sse2,one-trial (default: every kernel this processor runs);
    /// the first also runs the scaling table.
    #[arg(long, value_delimiter = ',', value_parser = Kernel::parse)]
    pub kernel: Vec<Kernel>,
}

/// Most worker threads a run starts: far beyond any machine's cores, and a guard against a typo
/// that would start millions.
pub const MAX_THREADS: u64 = 1024;

fn threads_arg() -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::new().range(0..=MAX_THREADS)
}

/// Loads the named scenario, or the built-in default, printing its warnings.
pub fn load_scenario(path: Option<&Path>) -> anyhow::Result<Model> {
    Ok(load_scenario_text(path, false)?.model)
}

/// A scenario as loaded: its text, display name, model and, for a variant file, the variant
/// (where each line of the text came from) with the file's path.
struct Loaded<'a> {
    text: String,
    name: String,
    model: Model,
    variant: Option<(crate::scenario::variant::Resolved, &'a Path)>,
}

/// Loads a scenario with its text and display name; prints the scenario's warnings (see
/// [`Model::warnings`]) unless `quiet`.
fn load_scenario_text(path: Option<&Path>, quiet: bool) -> anyhow::Result<Loaded<'_>> {
    let loaded = match path {
        Some(p) => {
            let (text, model, variant) = crate::io::read::load_text(p)?;
            Loaded {
                text,
                name: p.display().to_string(),
                model,
                variant: variant.map(|v| (v, p)),
            }
        }
        None => Loaded {
            text: crate::DEFAULT_SCENARIO.to_string(),
            name: crate::DEFAULT_SCENARIO_NAME.to_string(),
            model: model::compile_str(crate::DEFAULT_SCENARIO, crate::DEFAULT_SCENARIO_NAME)?,
            variant: None,
        },
    };
    if !quiet {
        for w in &loaded.model.warnings {
            eprintln!("warning: {}: {w}", loaded.name);
        }
    }
    Ok(loaded)
}

/// Runs the command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Validate { scenario } => {
            let m = load_scenario(scenario.as_deref())?;
            outln!(
                "{}: valid ({} nodes, {} edges, {} demand node(s), {} shock(s), {} periods from {})",
                m.name,
                m.nodes.len(),
                m.edges.len(),
                m.demand.len(),
                m.shocks.len(),
                m.periods,
                m.month_label(0)
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Run(args) => run_scenario(args),
        Command::Compare(args) => run_compare(args),
        Command::Sweep(args) => run_sweep(args),
        Command::Merge {
            dirs,
            out,
            json,
            quiet,
        } => {
            output::check_folder(&out, output::Contents::Run)?;
            if let Ok(o) = out.canonicalize()
                && let Some(d) = dirs.iter().find(|d| d.canonicalize().is_ok_and(|d| d == o))
            {
                anyhow::bail!(
                    "--out {} is the shard folder {} being merged; writing there would replace that shard's trials.csv. Choose another --out",
                    out.display(),
                    d.display()
                );
            }
            let mut shards = dirs
                .iter()
                .map(|d| crate::io::read::shard(d))
                .collect::<anyhow::Result<Vec<_>>>()?;
            shards.sort_by_key(|s| s.first_trial);
            let ordered: Vec<(PathBuf, u64, u64, u32)> = shards
                .iter()
                .map(|s| {
                    (
                        s.folder.clone(),
                        s.first_trial,
                        s.trials(),
                        s.trials_csv_crc,
                    )
                })
                .collect();
            let (_, name, m, result) = shard::merge(shards)?;
            let csv = output::concat_trials_csv(&out, &ordered)
                .with_context(|| format!("writing results to {}", out.display()))?;
            let info = serde_json::json!({ "scenario_file": name, "merged_from": dirs });
            write_results(&m, &result, &out, Some(csv), json, quiet, true, info)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Report { dir } => {
            // A run killed while it moved its files into place is finished first, so that the
            // charts are drawn from the results they will sit beside.
            output::repair(&dir);
            let input = crate::io::read::report_input(&dir)?;
            let files: Vec<_> = report::in_output(report::files(&input)?).collect();
            let rdir = dir.join(report::DIR);
            output::write_all(&dir, &files)
                .with_context(|| format!("writing the report to {}", rdir.display()))?;
            outln!("report in {}/index.html", rdir.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(args) => {
            let m = load_scenario(args.scenario.as_deref())?;
            if args.trials == 0 || args.batch == 0 {
                anyhow::bail!("--trials and --batch must be at least 1");
            }
            engine::check_trials(&m, args.batch).map_err(anyhow::Error::msg)?;
            let kernels = if args.kernel.is_empty() {
                Kernel::available()
            } else {
                args.kernel.clone()
            };
            let tps =
                crate::app::bench::kernels(&m, args.seed, args.trials, args.repeats, &kernels);
            let threads = if args.threads.is_empty() {
                crate::app::bench::thread_ladder(
                    std::thread::available_parallelism().map_or(1, |n| n.get()),
                )
            } else {
                args.threads.clone()
            };
            if threads.contains(&0) {
                anyhow::bail!("--threads takes counts of at least 1, e.g. --threads 1,2,4");
            }
            let rows = crate::app::bench::scaling(
                &m,
                args.seed,
                args.batch,
                &threads,
                args.repeats,
                kernels[0],
            )?;
            out!("{}", crate::app::bench::report(&m, &tps, &rows, args.batch));
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn run_scenario(args: RunArgs) -> anyhow::Result<ExitCode> {
    let out = args.common.out_or("supplyshock-out");
    output::check_folder(&out, output::Contents::Run)?;
    let Loaded {
        text,
        name,
        model: m,
        ..
    } = load_scenario_text(args.scenario.as_deref(), args.common.quiet)?;
    let total = args.common.trials.unwrap_or(m.trials);
    engine::check_trials(&m, total).map_err(anyhow::Error::msg)?;
    let (first_trial, trials) = args.shard.map_or((0, total), |s| s.range(total));
    let opts = RunOptions {
        seed: args.common.seed.unwrap_or(m.seed),
        first_trial,
        trials,
        threads: args.common.threads,
        progress: args.common.progress(),
        kernel: args.common.kernel,
    };
    if args.precision.is_some() && args.shard.is_some() {
        anyhow::bail!(
            "--precision cannot be combined with --shard: a shard's size is fixed by --trials"
        );
    }
    if args.common.json && args.shard.is_some() {
        anyhow::bail!(
            "--json cannot be combined with --shard: a shard has no summary of its own; `merge --json` prints the whole run's"
        );
    }
    if args.no_trials_csv && args.shard.is_some() {
        anyhow::bail!(
            "--no-trials-csv cannot be combined with --shard: `merge` joins the shards' trials.csv"
        );
    }
    let started = Instant::now();
    // trials.csv is written as the trials run, under a temporary name until every file is done.
    let mut csv = if args.no_trials_csv {
        None
    } else {
        Some(
            output::TrialsCsv::create(&m, &out)
                .with_context(|| format!("writing results to {}", out.display()))?,
        )
    };
    let mut write =
        |first: u64, outs: &[crate::sim::result::DemandOutcome], occ: &[u64]| match &mut csv {
            Some(csv) => csv.block(first, outs, occ),
            None => Ok(()),
        };
    // Without trials.csv the engine need not keep each block's full outcomes at all.
    let sink: Option<&mut engine::BlockSink> = if args.no_trials_csv {
        None
    } else {
        Some(&mut write)
    };
    if let Some(p) = args.precision
        && p >= 1.0
        && !args.common.quiet
    {
        eprintln!(
            "warning: --precision {p} asks for a 95% interval within {:.0}% of the mean; --precision is a fraction (0.05 for 5%)",
            100.0 * p
        );
    }
    let result = match args.precision {
        Some(p) => engine::run_to_precision(&m, &opts, p, args.max_trials, sink)?,
        None => engine::run_with(&m, &opts, sink)?,
    };
    let (csv, csv_crc) = match csv {
        Some(c) => {
            let (staged, crc) = c.finish()?;
            (Some(staged), crc)
        }
        None => (None, 0),
    };
    let trials = result.trials;
    let sim_secs = started.elapsed().as_secs_f64();
    if let Some(p) = args.precision {
        let reached = result.worst_relative_half_width();
        if !args.common.quiet && !args.common.json {
            let verdict = if reached <= p {
                "reached"
            } else {
                "not reached (raise --max-trials)"
            };
            eprintln!(
                "precision {:.2}% {verdict}: {:.2}% after {trials} trials",
                100.0 * p,
                100.0 * reached
            );
        }
    }
    let info = serde_json::json!({
        "scenario_file": name,
        "threads": if args.common.threads == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { args.common.threads },
        "kernel": args.common.kernel.name(),
        "kernel_detail": args.common.kernel.describe(),
        "simulation_seconds": sim_secs,
        "trials_csv": !args.no_trials_csv,
        "trials_per_second": trials as f64 / sim_secs.max(1e-9),
        "version": env!("CARGO_PKG_VERSION"),
    });
    if let Some(sh) = args.shard {
        let file = ShardFile::new(&text, &name, sh, total, result, csv_crc).to_bytes()?;
        // The folder now holds a shard: an earlier full run's summary and report would belie it.
        let mut stale = vec!["summary.json".to_string()];
        stale.extend(report::FILES.map(report::path));
        output::write_all_staged(
            &out,
            &[
                (shard::SHARD_FILE, file),
                ("run-info.json", serde_json::to_vec_pretty(&info)?),
            ],
            csv.into_iter().collect(),
            &stale,
        )
        .with_context(|| format!("writing shard results to {}", out.display()))?;
        if !args.common.quiet {
            outln!(
                "shard {}/{}: trials {}..{} of {} written to {}/; combine the shards with `supplyshock merge DIR... --out DIR`",
                sh.index,
                sh.count,
                first_trial,
                first_trial + trials,
                total,
                out.display()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    write_results(
        &m,
        &result,
        &out,
        csv,
        args.common.json,
        args.common.quiet,
        !args.no_report,
        info,
    )?;
    if !args.common.quiet && !args.common.json {
        outln!("{:.2} s for {} trials", sim_secs, trials);
    }
    Ok(ExitCode::SUCCESS)
}

fn run_sweep(args: SweepArgs) -> anyhow::Result<ExitCode> {
    let out = args.common.out_or("supplyshock-sweep");
    output::check_folder(&out, output::Contents::Sweep)?;
    // A variant's lines come from its base and its settings: errors are reported there.
    let Loaded {
        text,
        name,
        model: base,
        variant,
    } = load_scenario_text(args.scenario.as_deref(), args.common.quiet)?;
    let sets = args
        .sets
        .iter()
        .map(|a| crate::scenario::variant::parse_sweep(a))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let trials = args.common.trials.unwrap_or(base.trials);
    let seed = args.common.seed.unwrap_or(base.seed);
    for (i, (path, _)) in sets.iter().enumerate() {
        anyhow::ensure!(
            sets[..i].iter().all(|(p, _)| p != path),
            "--set {path} is given twice; give each path once, with all its values (PATH=v1,v2,...)"
        );
    }
    let size = sets
        .iter()
        .fold(1u64, |n, s| n.saturating_mul(s.1.len() as u64));
    anyhow::ensure!(
        size <= crate::stats::sweep::MAX_POINTS,
        "--set: the grid has {size} points (the product of the values' counts), more than {}; sweep fewer values, or fewer paths at once",
        crate::stats::sweep::MAX_POINTS
    );
    let points = crate::stats::sweep::grid(&sets);
    // Build every point's model before running any, so a bad path or value fails fast.
    let models = points
        .iter()
        .map(|settings| {
            let label: Vec<String> = settings.iter().map(|s| s.flag()).collect();
            let point = format!(" with --set {}", label.join(" --set "));
            let shown = format!("{name}{point}");
            let p = crate::scenario::variant::patch(&text, settings, &name)
                .map_err(crate::scenario::variant::flag_error)?;
            let m = model::compile_str(&p.text, &shown).map_err(|e| {
                let variant = variant.as_ref().map(|(v, path)| (v, *path));
                crate::scenario::variant::sweep_error(e, &p, settings, &name, &point, variant)
            })?;
            engine::check_trials(&m, trials).map_err(anyhow::Error::msg)?;
            Ok(m)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut out_points = Vec::with_capacity(points.len());
    for (settings, m) in points.iter().zip(&models) {
        let r = engine::run(
            m,
            &RunOptions {
                seed,
                first_trial: 0,
                trials,
                threads: args.common.threads,
                progress: false,
                kernel: args.common.kernel,
            },
        )?;
        out_points.push(crate::stats::sweep::Point {
            values: settings
                .iter()
                .map(|s| crate::stats::sweep::show(&s.value))
                .collect(),
            demand: crate::stats::sweep::metrics(m, &r),
        });
    }
    let s = crate::stats::sweep::Sweep {
        scenario: base.name.clone(),
        seed,
        trials,
        paths: sets.iter().map(|s| s.0.clone()).collect(),
        points: out_points,
    };
    let mut json = serde_json::to_vec_pretty(&s)?;
    json.push(b'\n');
    output::write_all(
        &out,
        &[
            ("sweep.json".to_string(), json.clone()),
            ("sweep.csv".to_string(), crate::stats::sweep::to_csv(&s)?),
            ("sweep.png".to_string(), report::sweep_png(&s)?),
        ],
    )
    .with_context(|| format!("writing the sweep to {}", out.display()))?;
    let mut stdout = std::io::stdout().lock();
    if args.common.json {
        stdout.write_all(&json)?;
    } else if !args.common.quiet {
        write!(stdout, "{}", crate::stats::sweep::table(&s))?;
        writeln!(
            stdout,
            "results in {}/ (sweep.json, sweep.csv, sweep.png)",
            out.display()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn run_compare(args: CompareArgs) -> anyhow::Result<ExitCode> {
    let out = args.common.out_or("supplyshock-compare");
    output::check_folder(&out, output::Contents::Compare)?;
    let loaded = args
        .scenarios
        .iter()
        .map(|p| load_scenario_text(Some(p), args.common.quiet))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let base = &loaded[0].model;
    let trials = args.common.trials.unwrap_or(base.trials);
    let seed = args.common.seed.unwrap_or(base.seed);
    for Loaded { name, model: m, .. } in &loaded {
        engine::check_trials(m, trials).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    }
    let results = loaded
        .iter()
        .map(|Loaded { model: m, .. }| {
            let opts = RunOptions {
                seed,
                first_trial: 0,
                trials,
                threads: args.common.threads,
                progress: args.common.progress(),
                kernel: args.common.kernel,
            };
            engine::run(m, &opts)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let alts: Vec<(&Model, &crate::sim::result::RunResult)> = loaded[1..]
        .iter()
        .map(|l| &l.model)
        .zip(&results[1..])
        .collect();
    let c = crate::stats::compare::compare((base, &results[0]), &alts);
    if let Some(a) = c.alternatives.iter().find(|a| a.demand.is_empty()) {
        anyhow::bail!(
            "{} shares no demand node (by id) with the base {}: nothing to compare",
            a.scenario,
            c.base
        );
    }
    let nodes: Vec<String> = (0..base.demand.len())
        .map(|d| base.demand_id(d).to_string())
        .collect();
    let columns: Vec<Vec<Vec<f64>>> = loaded
        .iter()
        .zip(&results)
        .map(|(Loaded { model: m, .. }, r)| {
            nodes
                .iter()
                .map(|id| crate::stats::compare::column(m, r, id).unwrap_or_default())
                .collect()
        })
        .collect();
    let names: Vec<String> = loaded.iter().map(|l| l.model.name.clone()).collect();
    let mut json = serde_json::to_vec_pretty(&c)?;
    json.push(b'\n');
    let mut files = vec![
        ("compare.json".to_string(), json.clone()),
        (
            "compare.csv".to_string(),
            crate::stats::compare::to_csv(&c)?,
        ),
    ];
    files.extend(report::in_output(report::compare_files(
        &c, &names, &nodes, &columns,
    )?));
    output::write_all(&out, &files)
        .with_context(|| format!("writing the comparison to {}", out.display()))?;
    let mut stdout = std::io::stdout().lock();
    if args.common.json {
        stdout.write_all(&json)?;
    } else if !args.common.quiet {
        write!(stdout, "{}", crate::stats::compare::table(&c))?;
        writeln!(
            stdout,
            "\nresults in {}/ (compare.json, compare.csv, report/index.html)",
            out.display()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Summarises a complete run, writes summary.json and run-info.json, moves the staged
/// trials.csv into place beside them, and prints the table or the JSON.
#[allow(clippy::too_many_arguments)]
fn write_results(
    m: &Model,
    result: &crate::sim::result::RunResult,
    out: &Path,
    trials_csv: Option<output::Staged>,
    json: bool,
    quiet: bool,
    with_report: bool,
    info: serde_json::Value,
) -> anyhow::Result<()> {
    let s = crate::app::summarise(m, result);
    if !quiet {
        for w in &s.warnings {
            eprintln!("warning: {w}");
        }
    }
    let summary_bytes = output::summary_json(&s)?;
    let with_csv = trials_csv.is_some();
    let mut files = vec![
        ("summary.json".to_string(), summary_bytes.clone()),
        (
            "run-info.json".to_string(),
            serde_json::to_vec_pretty(&info)?,
        ),
    ];
    if with_report {
        let input = report::ReportInput {
            trials_csv: with_csv,
            ..report::input_from_run(s.clone(), result)
        };
        files.extend(report::in_output(report::files(&input)?));
    }
    // An earlier run's files that would not match this summary: its trials.csv, its report, or
    // the shard file of an earlier `run --shard` into this folder.
    let mut stale: Vec<String> = vec![shard::SHARD_FILE.to_string()];
    if !with_csv {
        stale.push("trials.csv".to_string());
    }
    stale.extend(
        report::FILES
            .map(report::path)
            .into_iter()
            .filter(|f| files.iter().all(|(name, _)| name != f)),
    );
    output::write_all_staged(out, &files, trials_csv.into_iter().collect(), &stale)
        .with_context(|| format!("writing results to {}", out.display()))?;
    let mut stdout = std::io::stdout().lock();
    if json {
        stdout.write_all(&summary_bytes)?;
    } else if !quiet {
        write!(stdout, "{}", output::console_table(&s))?;
        let csv_note = if with_csv { ", trials.csv" } else { "" };
        let report_note = if with_report {
            ", report/index.html"
        } else {
            ""
        };
        writeln!(
            stdout,
            "results in {}/ (summary.json{csv_note}{report_note})",
            out.display()
        )?;
    }
    Ok(())
}
