//! What a run produces: each trial's outcome per demand node, the compact per-trial columns a
//! run keeps, its streamed statistics and the profile of its worst trials. Data only: the
//! engine fills these, the statistics read them.

use crate::prob::sketch::{Counts, Sketch};

/// Marks "no such period" in per-trial outcomes.
pub const NONE: u16 = u16::MAX;

/// What one trial produced for one demand node.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DemandOutcome {
    /// Total shortfall over the horizon, tonnes.
    pub shortfall: f64,
    /// Largest single-period shortfall, tonnes.
    pub worst: f64,
    /// Extra landed cost from tariffs embedded in deliveries, USD.
    pub tariff: f64,
    /// Largest single-period shortfall as a fraction of that period's demand.
    pub worst_frac: f32,
    /// First period with a shortfall, or [`NONE`].
    pub first_short: u16,
    /// Periods from the first shock to the first shortfall, or [`NONE`].
    pub survive: u16,
    /// Periods from the first shortfall until a period without shortfall (censored at the
    /// horizon), or [`NONE`] when there was no shortfall.
    pub recover: u16,
}

/// Consecutive trials' full results, as the engine hands them over block by block.
#[derive(Clone, Copy, Debug)]
pub struct TrialBlock<'a> {
    /// Index of the first trial.
    pub first: u64,
    /// Outcomes, `[trial * demand_nodes + d]`.
    pub outs: &'a [DemandOutcome],
    /// Shock flags, `[trial * words + i / 64]`.
    pub occurred: &'a [u64],
    /// Shock magnitudes, then the uncertain inputs' values, `[trial * stride + i]` (stride
    /// `Model::draw_stride`).
    pub draws: &'a [f32],
}

/// Trials (by global index, from 0) whose shock magnitudes are kept for the rank correlations
/// of the drivers; beyond them a run keeps no per-shock figures per trial.
pub const RANK_TRIALS: u64 = 1 << 20;
/// Bins of the delivered-fraction histograms: fractions are rounded to 1/(BINS - 1) = 0.0025.
/// Small enough that a worker's histograms stay in its core's cache.
pub const BINS: usize = 401;

/// The histogram bin of a delivered fraction: the nearest multiple of 1/(BINS - 1), as
/// `(f * 400).round()` would give (x = f * 400 is exact in f64, and so is x + 0.5 wherever it
/// can reach the next integer), without the libm call that `round` costs on baseline x86-64.
#[inline]
pub fn bin_of(f: f32) -> usize {
    ((f64::from(f) * (BINS - 1) as f64 + 0.5) as usize).min(BINS - 1)
}

/// The secondary figures of one demand node over all trials, streamed (see [`crate::prob::sketch`]).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DemandStreams {
    /// Largest single-period shortfall, tonnes.
    pub worst: Sketch,
    /// Largest single-period shortfall as a fraction of that period's demand.
    pub worst_frac: Sketch,
    /// Tariff cost, USD.
    pub tariff: Sketch,
    /// Periods from the first shock to the first shortfall, in trials that have both.
    pub survive: Counts,
    /// Periods to recover, in trials with a shortfall.
    pub recover: Counts,
}

impl DemandStreams {
    /// Nothing seen yet, for a horizon of `periods` periods.
    pub fn new(periods: usize) -> DemandStreams {
        DemandStreams {
            worst: Sketch::new(),
            worst_frac: Sketch::new(),
            tariff: Sketch::new(),
            survive: Counts::new(periods + 1),
            recover: Counts::new(periods + 1),
        }
    }

    /// Adds what `other` has seen, leaving the exact sums in canonical form (see
    /// [`Sketch::canonicalize`]): the state, and a shard file that holds it, is then the same
    /// bytes whatever the threads or shards it came from.
    pub fn merge(&mut self, other: &DemandStreams) {
        for (a, b) in [
            (&mut self.worst, &other.worst),
            (&mut self.worst_frac, &other.worst_frac),
            (&mut self.tariff, &other.tariff),
        ] {
            a.merge(b);
            a.canonicalize();
        }
        self.survive.merge(&other.survive);
        self.recover.merge(&other.recover);
    }

    /// Folds in one trial's outcome.
    pub fn add(&mut self, o: &DemandOutcome) {
        self.worst.add(o.worst);
        self.worst_frac.add(f64::from(o.worst_frac));
        self.tariff.add(o.tariff);
        if o.survive != NONE {
            self.survive.add(usize::from(o.survive));
        }
        if o.recover != NONE {
            self.recover.add(usize::from(o.recover));
        }
    }
}

/// What a run keeps: compact per-trial columns in trial order, and streamed statistics.
///
/// Per trial it keeps each demand node's total shortfall (as f32: 4 bytes) and the shock flags
/// (8 bytes per 64 shocks); per-shock magnitudes only for trials below [`RANK_TRIALS`]. The
/// secondary figures live in [`DemandStreams`] and the per-period delivered fractions in
/// histograms, so ten million trials of a six-market scenario need about 320 MB.
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
    /// `shortfall[trial * demand_nodes + d]`: total shortfall of demand node d, tonnes.
    pub shortfall: Vec<f32>,
    /// 64-bit words of shock flags per trial.
    pub words: usize,
    /// `occurred[trial * words + i / 64]` bit `i % 64`: shock i was active in the trial.
    pub occurred: Vec<u64>,
    /// `draws[trial * stride + i]`, for the first [`RunResult::rank_trials`] trials of the run:
    /// how much of shock i the trial drew (see [`crate::sim::kernel::Scratch::draws`]), then from
    /// `i = shocks` the value it drew for each uncertain input (NaN where none); `stride` is
    /// `Model::draw_stride`.
    pub draws: Vec<f32>,
    /// Secondary figures per demand node.
    pub streams: Vec<DemandStreams>,
    /// Counts of the delivered fraction, `hist[(d * periods + t) * BINS + bin]`.
    pub hist: Vec<u32>,
}

impl RunResult {
    /// Appends the trials of `next`, which must follow this run's trials directly.
    pub fn append(&mut self, next: RunResult) {
        debug_assert_eq!(next.first_trial, self.first_trial + self.trials);
        self.trials += next.trials;
        self.shortfall.extend(next.shortfall);
        self.occurred.extend(next.occurred);
        self.draws.extend(next.draws);
        for (a, b) in self.streams.iter_mut().zip(&next.streams) {
            a.merge(b);
        }
        for (a, b) in self.hist.iter_mut().zip(&next.hist) {
            *a += b;
        }
    }

    /// The largest relative half-width of the 95% confidence interval of the mean total
    /// shortfall over the demand nodes (nodes without shortfall count as exact).
    pub fn worst_relative_half_width(&self) -> f64 {
        let n = self.trials as f64;
        (0..self.demand_nodes)
            .map(|d| {
                let (mean, var) = crate::prob::estimate::mean_var_by(self.trials as usize, |k| {
                    self.shortfall(k, d)
                });
                if mean <= 0.0 || n < 2.0 {
                    return if mean > 0.0 { f64::INFINITY } else { 0.0 };
                }
                crate::prob::estimate::MeanCi::from_se2(mean, var / n).half_width / mean
            })
            .fold(0.0, f64::max)
    }

    /// Trials of the run (a prefix) whose shock magnitudes are kept: those below
    /// [`RANK_TRIALS`].
    pub fn rank_trials(&self) -> usize {
        rank_trials(self.first_trial, self.trials)
    }

    /// Total shortfall of demand node `d` in trial `k` (0-based within this run).
    pub fn shortfall(&self, k: usize, d: usize) -> f64 {
        f64::from(self.shortfall[k * self.demand_nodes + d])
    }

    /// Per-trial total shortfall of demand node `d`, in trial order.
    pub fn shortfalls(&self, d: usize) -> Vec<f64> {
        (0..self.trials as usize)
            .map(|k| self.shortfall(k, d))
            .collect()
    }

    /// Total shortfall of trial `k` summed over all demand nodes.
    pub fn total_shortfall(&self, k: usize) -> f64 {
        let dn = self.demand_nodes;
        self.shortfall[k * dn..(k + 1) * dn]
            .iter()
            .map(|&x| f64::from(x))
            .sum()
    }

    /// Whether shock `i` occurred in trial `k`.
    pub fn occurred(&self, k: usize, i: usize) -> bool {
        flag(&self.occurred[k * self.words..], i)
    }
}

/// Whether shock `i` occurred, from a trial's shock flags (bit `i % 64` of word `i / 64`).
#[inline]
pub fn flag(words: &[u64], i: usize) -> bool {
    words[i / 64] >> (i % 64) & 1 == 1
}

/// Trials of `[first, first + trials)` whose global index is below [`RANK_TRIALS`].
pub fn rank_trials(first: u64, trials: u64) -> usize {
    RANK_TRIALS.saturating_sub(first).min(trials) as usize
}

/// Where the worst trials' shortfall comes from: nodes that were down or binding while demand
/// went short, and the flows on each edge.
#[derive(Clone, Debug, PartialEq)]
pub struct TailProfile {
    /// Indices (within the run), in increasing order, of the trials profiled: the worst 5% by
    /// total shortfall over all demand nodes (ties broken by trial index), or, where those are
    /// more than [`crate::sim::engine::TAIL_TRIALS`], an evenly spaced sample of them in trial order.
    pub trials: Vec<u64>,
    /// Per node: fraction of those trials in which it was down or binding in a period with a
    /// shortfall.
    pub node_trials: Vec<f64>,
    /// Per node: share of those trials' total shortfall that fell in periods when it was down or
    /// binding.
    pub node_share: Vec<f64>,
    /// Per edge: mean shipment per period in those trials, tonnes.
    pub edge_flow: Vec<f64>,
    /// Per [`crate::model::Limit`] of the model: the share of its demand node's shortfall in
    /// those trials that fell in periods when a recipe node upstream of it was short of the
    /// limit's material (its scarcest input). Empty without materials.
    pub limited_by: Vec<f64>,
}
