//! Command-line interface: argument types and the `run` entry point the binary calls.

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::app::{self, Loaded, RunJob, RunOutcome, Settings, Written};
use crate::io::output;
use crate::io::trials::Format;
use crate::sim::engine::Kernel;
use crate::sim::shard::Shard;

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
        /// Format of the merged per-trial file: csv or parquet (default: the shards' format,
        /// which it must match).
        #[arg(long, value_enum, value_name = "FORMAT")]
        trials_format: Option<TrialsFormat>,
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

    /// The workflows' run settings.
    fn settings(&self) -> Settings {
        Settings {
            trials: self.trials,
            seed: self.seed,
            threads: self.threads,
            kernel: self.kernel,
            progress: self.progress(),
        }
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
    /// Skip the per-trial file (trials.csv is about 190 bytes per trial: 1.9 GB for ten million
    /// trials); the summary and the report's figures are the same without it.
    #[arg(long, conflicts_with = "trials_format")]
    pub no_trials_csv: bool,
    /// Format of the per-trial file: csv (trials.csv) or parquet (trials.parquet: the same
    /// columns, typed and compressed, for pandas, polars and other columnar tools).
    #[arg(long, value_enum, default_value_t = TrialsFormat::Csv, value_name = "FORMAT")]
    pub trials_format: TrialsFormat,
    /// Run only the I-th of N equal parts of the trials (e.g. 3/8) and save them for `merge`.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
}

/// The format of the per-trial file, as the command line names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TrialsFormat {
    /// trials.csv.
    Csv,
    /// trials.parquet.
    Parquet,
}

impl From<TrialsFormat> for Format {
    fn from(f: TrialsFormat) -> Format {
        match f {
            TrialsFormat::Csv => Format::Csv,
            TrialsFormat::Parquet => Format::Parquet,
        }
    }
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

/// Loads the named scenario, or the built-in default, printing its warnings unless `quiet`.
fn load(path: Option<&Path>, quiet: bool) -> anyhow::Result<Loaded> {
    let loaded = app::load(path)?;
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
            let m = load(scenario.as_deref(), false)?.model;
            outln!(
                "{}: valid ({}, {} demand node(s), {} shock(s), {} periods from {})",
                m.name,
                m.graph_size(),
                m.demand.len(),
                m.shocks.len(),
                m.periods,
                m.month_label(0)
            );
        }
        Command::Run(args) => run_scenario(args)?,
        Command::Compare(args) => {
            let loaded = args
                .scenarios
                .iter()
                .map(|p| load(Some(p), args.common.quiet))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let out = args.common.out_or("supplyshock-compare");
            let c = app::compare(&loaded, &args.common.settings(), &out)?;
            if args.common.json {
                std::io::stdout().lock().write_all(&c.json)?;
            } else if !args.common.quiet {
                out!("{}", crate::stats::compare::table(&c.comparison));
                outln!(
                    "\nresults in {}/ (compare.json, compare.csv, report/index.html)",
                    out.display()
                );
            }
        }
        Command::Sweep(args) => {
            let loaded = load(args.scenario.as_deref(), args.common.quiet)?;
            let sets = args
                .sets
                .iter()
                .map(|a| crate::scenario::variant::parse_sweep(a))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let out = args.common.out_or("supplyshock-sweep");
            let s = app::sweep(&loaded, &sets, &args.common.settings(), &out)?;
            if args.common.json {
                std::io::stdout().lock().write_all(&s.json)?;
            } else if !args.common.quiet {
                out!("{}", crate::stats::sweep::table(&s.sweep));
                outln!(
                    "results in {}/ (sweep.json, sweep.csv, sweep.png)",
                    out.display()
                );
            }
        }
        Command::Merge {
            dirs,
            out,
            json,
            quiet,
            trials_format,
        } => {
            let written = app::merge(&dirs, &out, trials_format.map(Format::from))?;
            print_results(&written, &out, json, quiet)?;
        }
        Command::Report { dir } => {
            let rdir = app::report(&dir)?;
            outln!("report in {}/index.html", rdir.display());
        }
        Command::Bench(args) => {
            let m = load(args.scenario.as_deref(), false)?.model;
            let job = app::bench::BenchJob {
                trials: args.trials,
                batch: args.batch,
                threads: args.threads,
                repeats: args.repeats,
                seed: args.seed,
                kernels: args.kernel,
            };
            out!("{}", app::bench::bench(&m, &job)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run_scenario(args: RunArgs) -> anyhow::Result<()> {
    let quiet = args.common.quiet;
    let loaded = load(args.scenario.as_deref(), quiet)?;
    if args.common.json && args.shard.is_some() {
        anyhow::bail!(
            "--json cannot be combined with --shard: a shard has no summary of its own; `merge --json` prints the whole run's"
        );
    }
    if let Some(p) = args.precision
        && p >= 1.0
        && !quiet
    {
        eprintln!(
            "warning: --precision {p} asks for a 95% interval within {:.0}% of the mean; --precision is a fraction (0.05 for 5%)",
            100.0 * p
        );
    }
    let job = RunJob {
        settings: args.common.settings(),
        out: args.common.out_or("supplyshock-out"),
        precision: args.precision,
        max_trials: args.max_trials,
        shard: args.shard,
        trials: (!args.no_trials_csv).then_some(args.trials_format.into()),
        report: !args.no_report,
    };
    match app::run(&job, &loaded)? {
        RunOutcome::Shard {
            shard,
            first_trial,
            trials,
            total,
        } => {
            if !quiet {
                outln!(
                    "shard {}/{}: trials {}..{} of {} written to {}/; combine the shards with `supplyshock merge DIR... --out DIR`",
                    shard.index,
                    shard.count,
                    first_trial,
                    first_trial + trials,
                    total,
                    job.out.display()
                );
            }
        }
        RunOutcome::Full {
            written,
            trials,
            seconds,
            reached,
        } => {
            if let (Some(p), Some(reached)) = (args.precision, reached)
                && !quiet
                && !args.common.json
            {
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
            print_results(&written, &job.out, args.common.json, quiet)?;
            if !quiet && !args.common.json {
                outln!("{:.2} s for {} trials", seconds, trials);
            }
        }
    }
    Ok(())
}

/// Prints a written run's warnings, then its table or its summary.json.
fn print_results(w: &Written, out: &Path, json: bool, quiet: bool) -> anyhow::Result<()> {
    if !quiet {
        for warning in &w.summary.warnings {
            eprintln!("warning: {warning}");
        }
    }
    if json {
        std::io::stdout().lock().write_all(&w.summary_json)?;
    } else if !quiet {
        out!("{}", output::console_table(&w.summary));
        let csv_note = w
            .trials
            .map_or(String::new(), |f| format!(", {}", f.file()));
        let report_note = if w.report { ", report/index.html" } else { "" };
        outln!(
            "results in {}/ (summary.json, summary.csv{csv_note}{report_note})",
            out.display()
        );
    }
    Ok(())
}
