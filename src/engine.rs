//! Runs many trials in parallel and keeps their outcomes in trial order.
//!
//! Trials are cut into fixed-size chunks; rayon runs chunks on a local pool, each worker with
//! its own [`Scratch`]. Every trial's random streams depend only on (seed, trial index), and each
//! chunk writes its outcomes into its own slice of the result, so the result is the same whatever
//! the thread count. Per-period histograms are integer counts, merged by addition, which is
//! exact in any order.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;

use crate::kernel::{DemandOutcome, NoObserver, Scratch, run_trial};
use crate::model::Model;

/// Trials per parallel work unit.
pub const CHUNK: usize = 256;
/// Bins of the delivered-fraction histograms: fractions are rounded to 1/(BINS - 1).
pub const BINS: usize = 1001;

/// What to run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Master seed.
    pub seed: u64,
    /// Index of the first trial (non-zero for a shard).
    pub first_trial: u64,
    /// Number of trials.
    pub trials: u64,
    /// Worker threads (0: one per core).
    pub threads: usize,
    /// Show a progress bar on a terminal.
    pub progress: bool,
}

/// Outcomes of a run, in trial order.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// Master seed.
    pub seed: u64,
    /// Index of the first trial.
    pub first_trial: u64,
    /// Number of trials.
    pub trials: u64,
    /// Demand nodes per trial.
    pub demand_nodes: usize,
    /// `outcomes[trial * demand_nodes + d]`.
    pub outcomes: Vec<DemandOutcome>,
    /// 64-bit words of shock flags per trial.
    pub words: usize,
    /// `occurred[trial * words + i / 64]` bit `i % 64`: shock i was active in the trial.
    pub occurred: Vec<u64>,
    /// Counts of the delivered fraction, `hist[(d * periods + t) * BINS + bin]`.
    pub hist: Vec<u64>,
}

impl RunResult {
    /// Outcomes of trial `k` (0-based within this run).
    pub fn trial(&self, k: usize) -> &[DemandOutcome] {
        &self.outcomes[k * self.demand_nodes..(k + 1) * self.demand_nodes]
    }

    /// Whether shock `i` occurred in trial `k`.
    pub fn occurred(&self, k: usize, i: usize) -> bool {
        self.occurred[k * self.words + i / 64] >> (i % 64) & 1 == 1
    }
}

/// Runs `opts.trials` trials of `m`.
pub fn run(m: &Model, opts: &RunOptions) -> anyhow::Result<RunResult> {
    m.check_trials(opts.trials).map_err(anyhow::Error::msg)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads)
        .build()?;
    Ok(pool.install(|| run_in_pool(m, opts)))
}

fn run_in_pool(m: &Model, opts: &RunOptions) -> RunResult {
    let n = opts.trials as usize;
    let dn = m.demand.len();
    let words = m.shocks.len().div_ceil(64).max(1);
    let tt = m.periods;
    let mut outcomes = vec![DemandOutcome::default(); n * dn];
    let mut occurred = vec![0u64; n * words];
    let bar = if opts.progress {
        let b = ProgressBar::with_draw_target(Some(opts.trials), ProgressDrawTarget::stderr());
        b.set_style(
            ProgressStyle::with_template(
                "{spinner} {pos}/{len} trials [{elapsed_precise}] {wide_bar} {per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    } else {
        ProgressBar::hidden()
    };

    let hist = outcomes
        .par_chunks_mut(CHUNK * dn.max(1))
        .zip(occurred.par_chunks_mut(CHUNK * words))
        .enumerate()
        .fold(
            || (Scratch::new(m), vec![0u64; dn * tt * BINS]),
            |(mut scratch, mut hist), (c, (outs, occ))| {
                let base = opts.first_trial + (c * CHUNK) as u64;
                let count = occ.len() / words;
                for k in 0..count {
                    run_trial(
                        m,
                        opts.seed,
                        base + k as u64,
                        &mut scratch,
                        &mut outs[k * dn..(k + 1) * dn],
                        &mut occ[k * words..(k + 1) * words],
                        &mut NoObserver,
                    );
                    for (i, f) in scratch.frac.iter().enumerate() {
                        let bin = (f64::from(*f) * (BINS - 1) as f64).round() as usize;
                        hist[i * BINS + bin.min(BINS - 1)] += 1;
                    }
                }
                bar.inc(count as u64);
                (scratch, hist)
            },
        )
        .map(|(_, h)| h)
        .reduce(
            || vec![0u64; dn * tt * BINS],
            |mut a, b| {
                for (x, y) in a.iter_mut().zip(&b) {
                    *x += y;
                }
                a
            },
        );
    bar.finish_and_clear();
    RunResult {
        seed: opts.seed,
        first_trial: opts.first_trial,
        trials: opts.trials,
        demand_nodes: dn,
        outcomes,
        words,
        occurred,
        hist,
    }
}
