//! Command-line interface: argument types and the `run` entry point the binary calls.

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};

use crate::engine::{self, RunOptions};
use crate::model::{self, Model};
use crate::{output, summary};

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
    /// Check a scenario file without running it.
    Validate {
        /// Scenario file (default: the built-in scenario).
        scenario: Option<PathBuf>,
    },
}

/// Options of `supplyshock run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario file (default: the built-in scenarios/rare-earths-2026.toml).
    pub scenario: Option<PathBuf>,
    /// Number of trials (default: the scenario's `trials`).
    #[arg(long, short = 'n')]
    pub trials: Option<u64>,
    /// Master seed (default: the scenario's `seed`).
    #[arg(long, short = 's')]
    pub seed: Option<u64>,
    /// Worker threads (default: one per core). Results do not depend on it.
    #[arg(long, short = 'j', default_value_t = 0)]
    pub threads: usize,
    /// Output folder.
    #[arg(long, short = 'o', default_value = "supplyshock-out")]
    pub out: PathBuf,
    /// No progress bar and no table.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Print summary.json to standard output instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Loads the named scenario, or the built-in default.
pub fn load_scenario(path: Option<&Path>) -> anyhow::Result<Model> {
    Ok(match path {
        Some(p) => model::load(p)?,
        None => model::compile_str(crate::DEFAULT_SCENARIO, crate::DEFAULT_SCENARIO_NAME)?,
    })
}

/// Runs the command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Validate { scenario } => {
            let m = load_scenario(scenario.as_deref())?;
            println!(
                "{}: valid ({} nodes, {} edges, {} demand nodes, {} shocks, {} periods from {})",
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
    }
}

fn run_scenario(args: RunArgs) -> anyhow::Result<ExitCode> {
    let m = load_scenario(args.scenario.as_deref())?;
    let trials = args.trials.unwrap_or(m.trials);
    m.check_trials(trials).map_err(anyhow::Error::msg)?;
    let opts = RunOptions {
        seed: args.seed.unwrap_or(m.seed),
        first_trial: 0,
        trials,
        threads: args.threads,
        progress: !args.quiet && std::io::stderr().is_terminal(),
    };
    let started = Instant::now();
    let result = engine::run(&m, &opts)?;
    let sim_secs = started.elapsed().as_secs_f64();
    let s = summary::summarise(&m, &result);
    let json = output::summary_json(&s)?;
    let csv = output::trials_csv(&m, &result)?;
    let info = serde_json::to_vec_pretty(&serde_json::json!({
        "scenario_file": args.scenario.as_ref().map_or(crate::DEFAULT_SCENARIO_NAME.to_string(), |p| p.display().to_string()),
        "threads": rayon::current_num_threads().max(1),
        "requested_threads": args.threads,
        "simulation_seconds": sim_secs,
        "trials_per_second": trials as f64 / sim_secs.max(1e-9),
        "version": env!("CARGO_PKG_VERSION"),
    }))?;
    output::write_all(
        &args.out,
        &[
            ("summary.json", json.clone()),
            ("trials.csv", csv),
            ("run-info.json", info),
        ],
    )
    .with_context(|| format!("writing results to {}", args.out.display()))?;
    let mut stdout = std::io::stdout().lock();
    if args.json {
        stdout.write_all(&json)?;
    } else if !args.quiet {
        write!(stdout, "{}", output::console_table(&s))?;
        writeln!(
            stdout,
            "results in {}/ (summary.json, trials.csv); {:.2} s for {} trials",
            args.out.display(),
            sim_secs,
            trials
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
