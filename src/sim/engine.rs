//! Runs many trials in parallel and keeps their outcomes in trial order.
//!
//! Trials are cut into fixed-size chunks; rayon runs chunks on a local pool, each thread with
//! its own kernel buffers ([`Worker`]) for the whole run. Every trial's random streams depend
//! only on (seed, trial index), and each chunk writes its outcomes into its own slice of the
//! result, so the result is the same whatever the thread count. Each thread also folds its
//! trials into its own histograms and streamed statistics; these merge exactly (integer counts,
//! exact sums), so merging the threads' shares at the end gives the same bits in any order.

use std::sync::{Mutex, PoisonError};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;

use crate::model::{MAX_RESULT_BYTES, MAX_TRIALS, Model};
use crate::sim::kernel::{NoObserver, Scratch, run_trial};
use crate::sim::lanes::{LANES, LaneScratch, Path, lanes_of, run_group};
use crate::sim::result::{
    BINS, DemandOutcome, DemandStreams, RunResult, TailProfile, TrialBlock, bin_of, rank_trials,
};

/// Trials per parallel work unit.
pub const CHUNK: usize = 256;
/// Trials per block: the engine runs a block in parallel, then hands its full outcomes to the
/// caller (who writes trials.csv), so that only the compact per-trial columns grow with the
/// run. A multiple of [`CHUNK`].
pub const BLOCK: usize = 1 << 17;
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
    /// The kernel that steps the trials (every kernel gives the same bits).
    pub kernel: Kernel,
}

/// Receives each block's full results, in trial order.
pub type BlockSink<'a> = dyn FnMut(&TrialBlock) -> anyhow::Result<()> + Send + 'a;

/// Runs `opts.trials` trials of `m`.
pub fn run(m: &Model, opts: &RunOptions) -> anyhow::Result<RunResult> {
    run_with(m, opts, None)
}

/// Runs `opts.trials` trials of `m`, handing each block's full outcomes to `sink`.
pub fn run_with(
    m: &Model,
    opts: &RunOptions,
    sink: Option<&mut BlockSink>,
) -> anyhow::Result<RunResult> {
    // An empty run is allowed (a shard of a tiny run can be empty); sizes are checked above it.
    if opts.trials > 0 {
        check_trials(m, opts.trials).map_err(anyhow::Error::msg)?;
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads)
        .build()?;
    check_memory(m, opts.trials, pool.current_num_threads(), memory_total())?;
    pool.install(|| run_in_pool(m, opts, sink))
}

/// Bytes a sketch of a typical streamed figure keeps (a few thousand buckets, see
/// [`Sketch`]): the estimate of a run's memory counts its streamed statistics at this.
const TYPICAL_SKETCH_BYTES: u64 = 8 << 10;

/// Bytes a run of `trials` trials of `m` on `threads` threads needs at least: each thread's
/// kernel buffers, fan-chart histograms, streamed statistics and chunk of outcomes, the merged
/// copy of the histograms and statistics, and the kept per-trial results.
pub fn working_bytes(m: &Model, trials: u64, threads: usize) -> u64 {
    let (dn, t) = (m.demand.len() as u64, m.periods as u64);
    let outcome = std::mem::size_of::<DemandOutcome>() as u64;
    let hist = dn * t * BINS as u64 * std::mem::size_of::<u32>() as u64;
    let streams = dn * (3 * TYPICAL_SKETCH_BYTES + 2 * (t + 1) * 8);
    let per_thread = hist + streams + LaneScratch::bytes(m) + CHUNK as u64 * dn * outcome;
    (threads as u64)
        .saturating_mul(per_thread)
        .saturating_add(hist + streams)
        .saturating_add(trials.saturating_mul(bytes_per_trial(m)))
}

/// Bytes the engine keeps per trial (per-trial results), used to refuse absurd runs.
pub fn bytes_per_trial(m: &Model) -> u64 {
    // Outcomes, shock magnitudes with the inputs' values, and shock flags, as the engine keeps
    // them.
    (m.demand.len() * std::mem::size_of::<DemandOutcome>()
        + m.draw_stride() * std::mem::size_of::<f32>()
        + m.shock_words() * std::mem::size_of::<u64>()) as u64
}

/// Checks that `trials` fit in memory; the error names the flag to change.
pub fn check_trials(m: &Model, trials: u64) -> Result<(), String> {
    if trials == 0 {
        return Err("--trials must be at least 1".into());
    }
    if trials > MAX_TRIALS {
        return Err(format!(
            "--trials can be at most {MAX_TRIALS} in one run; split larger runs into shards with `run --shard`"
        ));
    }
    let bytes = trials.saturating_mul(bytes_per_trial(m));
    if bytes > MAX_RESULT_BYTES {
        return Err(format!(
            "{trials} trials would keep about {:.1} GiB of per-trial results, more than the \
             {} GiB limit: lower --trials (at most about {}), or split the run",
            bytes as f64 / (1u64 << 30) as f64,
            MAX_RESULT_BYTES >> 30,
            MAX_RESULT_BYTES / bytes_per_trial(m)
        ));
    }
    Ok(())
}

/// The machine's memory in bytes, where the system says (Linux: /proc/meminfo).
fn memory_total() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Refuses, before it starts, a run that would need more memory than the machine has, saying
/// what to change.
pub fn check_memory(
    m: &Model,
    trials: u64,
    threads: usize,
    total: Option<u64>,
) -> anyhow::Result<()> {
    let Some(total) = total else { return Ok(()) };
    let need = working_bytes(m, trials, threads);
    if need <= total {
        return Ok(());
    }
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    let fits = (1..threads)
        .rev()
        .find(|&k| working_bytes(m, trials, k) <= total);
    let advice = match fits {
        Some(k) => format!("use --threads {k} or fewer, or fewer demand nodes"),
        None => "use fewer demand nodes or fewer --trials (split the run with `run --shard`)"
            .to_string(),
    };
    anyhow::bail!(
        "this run needs about {:.1} GiB of working memory ({} demand nodes x {} months of fan-chart histograms and buffers on each of {threads} threads, and the per-trial results), more than this machine's {:.1} GiB: {advice}",
        gib(need),
        m.demand.len(),
        m.periods,
        gib(total)
    )
}

/// Runs batches of `opts.trials` trials until the 95% confidence interval of every demand node's
/// mean total shortfall is within `relative` of the mean, or `max_trials` are done. Batches are
/// fixed trial ranges, so the same inputs stop at the same trial count with the same result.
pub fn run_to_precision(
    m: &Model,
    opts: &RunOptions,
    relative: f64,
    max_trials: u64,
    mut sink: Option<&mut BlockSink>,
) -> anyhow::Result<RunResult> {
    anyhow::ensure!(
        relative > 0.0 && relative.is_finite(),
        "--precision must be a positive fraction, e.g. 0.05 for 5%"
    );
    check_trials(m, max_trials).map_err(|e| anyhow::anyhow!("--max-trials: {e}"))?;
    let mut r = run_with(
        m,
        &RunOptions {
            trials: opts.trials.min(max_trials),
            ..opts.clone()
        },
        sink.as_deref_mut(),
    )?;
    while r.trials < max_trials && r.worst_relative_half_width() > relative {
        let more = opts.trials.min(max_trials - r.trials);
        let next = run_with(
            m,
            &RunOptions {
                first_trial: opts.first_trial + r.trials,
                trials: more,
                ..opts.clone()
            },
            sink.as_deref_mut(),
        )?;
        r.append(next);
    }
    Ok(r)
}

fn progress_bar(opts: &RunOptions) -> ProgressBar {
    if !opts.progress {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::with_draw_target(Some(opts.trials), ProgressDrawTarget::stderr());
    b.set_style(
        ProgressStyle::with_template(
            "{spinner} {pos}/{len} trials [{elapsed_precise}] {wide_bar} {per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    b
}

/// Which kernel steps a run's trials: the lane kernel on one of its paths (the engine's, see
/// [`crate::sim::lanes`]), or the one-trial kernel (the reference). All give the same bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// The lane kernel compiled for `Path`.
    Lanes(Path),
    /// The one-trial kernel.
    OneTrial,
}

impl Kernel {
    /// The fastest kernel this processor runs: the lane kernel on its widest path.
    pub fn best() -> Kernel {
        Kernel::Lanes(Path::best())
    }

    /// Every kernel this processor runs, fastest first.
    pub fn available() -> Vec<Kernel> {
        let mut v: Vec<Kernel> = Path::available_paths()
            .into_iter()
            .map(Kernel::Lanes)
            .collect();
        v.push(Kernel::OneTrial);
        v
    }

    /// The name `--kernel` takes: a path's name, or "one-trial".
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Lanes(p) => p.name(),
            Kernel::OneTrial => "one-trial",
        }
    }

    /// A description for reports.
    pub fn describe(self) -> String {
        match self {
            Kernel::Lanes(p) => p.describe(),
            Kernel::OneTrial => "1 trial per step".to_string(),
        }
    }

    /// The kernel `name` names ("auto" for [`Kernel::best`]), if this processor runs it; else
    /// why not, with the names it accepts.
    pub fn parse(name: &str) -> Result<Kernel, String> {
        let names = || {
            let mut v = vec!["auto"];
            v.extend(Kernel::available().into_iter().map(Kernel::name));
            v.join(", ")
        };
        let k = match name {
            "auto" => return Ok(Kernel::best()),
            "one-trial" => Kernel::OneTrial,
            _ => match Path::from_name(name) {
                Some(p) => Kernel::Lanes(p),
                None => {
                    return Err(format!(
                        "unknown kernel '{name}'; this processor runs: {}",
                        names()
                    ));
                }
            },
        };
        match k {
            Kernel::Lanes(p) if !p.available() => Err(format!(
                "this processor cannot run the '{name}' kernel; it runs: {}",
                names()
            )),
            k => Ok(k),
        }
    }
}

impl std::fmt::Display for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A worker's kernel and its working memory.
pub enum Worker {
    /// The lane kernel.
    Lanes(Box<LaneScratch>),
    /// The one-trial kernel.
    Single(Box<Scratch>),
}

impl Worker {
    /// `kernel` with its buffers sized for `m`; a lane path this processor lacks falls back to
    /// the widest it has (the same bits, see [`Kernel`]).
    pub fn with_kernel(m: &Model, kernel: Kernel) -> Worker {
        match kernel {
            Kernel::Lanes(p) => Worker::Lanes(Box::new(LaneScratch::new(m, p))),
            Kernel::OneTrial => Worker::single(m),
        }
    }

    /// The one-trial kernel, whatever the processor.
    pub fn single(m: &Model) -> Worker {
        Worker::Single(Box::new(Scratch::new(m)))
    }

    /// Which kernel this is.
    pub fn kernel(&self) -> Kernel {
        match self {
            Worker::Lanes(ls) => Kernel::Lanes(ls.path()),
            Worker::Single(_) => Kernel::OneTrial,
        }
    }

    /// Runs consecutive trials from `base` into `outs` (`[trial * demand_nodes + d]`) and `occ`
    /// (`[trial * words + i / 64]`), their count given by `occ`; shock magnitudes and input
    /// values go into `mags` (`[trial * stride + i]`, see [`Model::draw_stride`]) as far as it
    /// reaches, and each trial's delivered
    /// fractions are counted into `hist` (`[(d * periods + t) * BINS + bin]`). Allocates nothing.
    #[allow(clippy::too_many_arguments)]
    pub fn run_chunk(
        &mut self,
        m: &Model,
        seed: u64,
        base: u64,
        outs: &mut [DemandOutcome],
        occ: &mut [u64],
        mags: &mut [f32],
        hist: &mut [u32],
    ) {
        let (dn, words) = (m.demand.len(), m.shock_words());
        let stride = m.draw_stride();
        let count = occ.len() / words;
        match self {
            Worker::Lanes(ls) => {
                for g in (0..count).step_by(LANES) {
                    let live = (count - g).min(LANES);
                    // A short last group repeats its last trial in the spare lanes.
                    let trials: [u64; LANES] =
                        std::array::from_fn(|l| base + (g + l.min(live - 1)) as u64);
                    run_group(m, seed, &trials, ls);
                    for l in 0..live {
                        let k = g + l;
                        for d in 0..dn {
                            outs[k * dn + d] = ls.outcomes[d][l];
                        }
                        occ[k * words..(k + 1) * words]
                            .copy_from_slice(&ls.occurred[l * words..(l + 1) * words]);
                        if let Some(mag) = mags.get_mut(k * stride..(k + 1) * stride) {
                            mag.copy_from_slice(&ls.draws[l * stride..(l + 1) * stride]);
                        }
                    }
                    // Most cells are delivered in full: count those with one addition per
                    // (market, period) and bin the short ones one by one (rounded to f32, a
                    // tiny shortfall may still read as full).
                    let full = bin_of(1.0);
                    let live_lanes = u64::MAX >> (u64::BITS as usize - live);
                    for (i, (f, &short)) in ls.frac.iter().zip(&ls.short).enumerate() {
                        let short = short & live_lanes;
                        let h = &mut hist[i * BINS..(i + 1) * BINS];
                        h[full] += live as u32 - short.count_ones();
                        for l in lanes_of(short) {
                            h[bin_of(f[l])] += 1;
                        }
                    }
                }
            }
            Worker::Single(scratch) => {
                for k in 0..count {
                    run_trial(
                        m,
                        seed,
                        base + k as u64,
                        scratch,
                        &mut outs[k * dn..(k + 1) * dn],
                        &mut occ[k * words..(k + 1) * words],
                        &mut NoObserver,
                    );
                    if let Some(mag) = mags.get_mut(k * stride..(k + 1) * stride) {
                        mag.copy_from_slice(&scratch.draws);
                    }
                    for (i, &f) in scratch.frac.iter().enumerate() {
                        hist[i * BINS + bin_of(f)] += 1;
                    }
                }
            }
        }
    }
}

/// What one pool thread keeps for the whole run: its kernel's buffers and its share of the
/// streamed figures, merged at the end (exactly, so in any order).
struct ThreadState {
    worker: Worker,
    hist: Vec<u32>,
    streams: Vec<DemandStreams>,
    /// A chunk's full outcomes, when no caller keeps them.
    outs: Vec<DemandOutcome>,
}

impl ThreadState {
    fn new(m: &Model, kernel: Kernel) -> ThreadState {
        ThreadState {
            worker: Worker::with_kernel(m, kernel),
            hist: vec![0u32; m.demand.len() * m.periods * BINS],
            streams: vec![DemandStreams::new(m.periods); m.demand.len()],
            outs: vec![DemandOutcome::default(); CHUNK * m.demand.len()],
        }
    }
}

fn run_in_pool(
    m: &Model,
    opts: &RunOptions,
    mut sink: Option<&mut BlockSink>,
) -> anyhow::Result<RunResult> {
    let n = opts.trials as usize;
    let dn = m.demand.len();
    let words = m.shock_words();
    let tt = m.periods;
    let stride = m.draw_stride();
    let kept = rank_trials(opts.first_trial, opts.trials);
    let mut shortfall = vec![0f32; n * dn];
    let mut occurred = vec![0u64; n * words];
    let mut draws = vec![0f32; kept * stride];
    // A block's full outcomes, for the caller; without one each thread reuses a chunk's worth.
    let mut block = match sink {
        Some(_) => vec![DemandOutcome::default(); n.min(BLOCK) * dn],
        None => Vec::new(),
    };
    // And its draws, of every trial (the run keeps only the first `kept` trials' draws).
    let mut block_draws = match sink {
        Some(_) => vec![0f32; n.min(BLOCK) * stride],
        None => Vec::new(),
    };
    // One slot per pool thread, filled the first time the thread runs a chunk; a thread only
    // ever locks its own slot, so the locks are never contended.
    let states: Vec<Mutex<Option<ThreadState>>> = (0..rayon::current_num_threads())
        .map(|_| Mutex::new(None))
        .collect();
    let bar = progress_bar(opts);

    for b0 in (0..n).step_by(BLOCK) {
        let bn = (n - b0).min(BLOCK);
        let chunks = bn.div_ceil(CHUNK);
        let out_chunks: Vec<&mut [DemandOutcome]> = if block.is_empty() {
            (0..chunks).map(|_| Default::default()).collect()
        } else {
            block[..bn * dn].chunks_mut(CHUNK * dn.max(1)).collect()
        };
        let occ = &mut occurred[b0 * words..(b0 + bn) * words];
        let short = &mut shortfall[b0 * dn..(b0 + bn) * dn];
        // This block's kept magnitudes (with a sink, all of its draws), cut into the same
        // chunks as the trials.
        let (lo, hi) = (b0.min(kept), (b0 + bn).min(kept));
        let mut mags_left = if block_draws.is_empty() {
            &mut draws[lo * stride..hi * stride]
        } else {
            &mut block_draws[..bn * stride]
        };
        let mut mag_chunks = Vec::with_capacity(chunks);
        for _ in 0..chunks {
            let take = (CHUNK * stride).min(mags_left.len());
            let (head, tail) = std::mem::take(&mut mags_left).split_at_mut(take);
            mag_chunks.push(head);
            mags_left = tail;
        }
        // A compiled model always has a demand node, so chunks of `short` are the
        // chunks of trials.
        short
            .par_chunks_mut(CHUNK * dn.max(1))
            .zip(occ.par_chunks_mut(CHUNK * words))
            .zip(out_chunks.into_par_iter())
            .zip(mag_chunks.into_par_iter())
            .enumerate()
            .for_each(|(c, (((short, occ), outs), mags))| {
                let slot = &states[rayon::current_thread_index().unwrap_or(0)];
                let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
                let ThreadState {
                    worker,
                    hist,
                    streams,
                    outs: own,
                } = slot.get_or_insert_with(|| ThreadState::new(m, opts.kernel));
                let outs = if outs.is_empty() {
                    &mut own[..short.len()]
                } else {
                    outs
                };
                let base = opts.first_trial + (b0 + c * CHUNK) as u64;
                worker.run_chunk(m, opts.seed, base, outs, occ, mags, hist);
                for (s, o) in short.iter_mut().zip(outs.iter()) {
                    *s = o.shortfall as f32;
                }
                for trial in outs.chunks_exact(dn.max(1)) {
                    for (s, o) in streams.iter_mut().zip(trial) {
                        s.add(o);
                    }
                }
                bar.inc((occ.len() / words) as u64);
            });
        if let Some(sink) = sink.as_deref_mut() {
            draws[lo * stride..hi * stride].copy_from_slice(&block_draws[..(hi - lo) * stride]);
            sink(&TrialBlock {
                first: opts.first_trial + b0 as u64,
                outs: &block[..bn * dn],
                occurred: &occurred[b0 * words..(b0 + bn) * words],
                draws: &block_draws[..bn * stride],
            })?;
        }
    }
    bar.finish_and_clear();
    let mut streams = vec![DemandStreams::new(tt); dn];
    let mut hist = vec![0u32; dn * tt * BINS];
    for st in states
        .into_iter()
        .filter_map(|s| s.into_inner().unwrap_or_else(PoisonError::into_inner))
    {
        for (a, b) in streams.iter_mut().zip(&st.streams) {
            a.merge(b);
        }
        for (a, b) in hist.iter_mut().zip(&st.hist) {
            *a += b;
        }
    }
    Ok(RunResult {
        seed: opts.seed,
        first_trial: opts.first_trial,
        trials: opts.trials,
        demand_nodes: dn,
        shortfall,
        words,
        occurred,
        draws,
        streams,
        hist,
    })
}

/// One trial's tail record, written in place into `row`: `[0]` the trial's total shortfall,
/// `[1 + n]` 1 if node n was down or binding in a period with a shortfall, `[1 + nodes + n]` the
/// shortfall of the periods in which it was, `[1 + 2 nodes + e]` the summed flow on edge e; then,
/// where the model has [`crate::model::Limit`]s, the trial's figure of each (the kernel's
/// `limited`) and each demand node's total shortfall, written after the trial (see
/// [`TailObserver::finish`]).
struct TailObserver<'a> {
    row: &'a mut [f64],
}

impl TailObserver<'_> {
    /// Length of a record.
    fn len(m: &Model) -> usize {
        1 + 2 * m.nodes.len() + m.edges.len() + Self::limit_len(m)
    }

    /// Length of the limit figures at the end of a record.
    fn limit_len(m: &Model) -> usize {
        if m.limits.is_empty() {
            0
        } else {
            m.limits.len() + m.demand.len()
        }
    }

    /// Writes what the trial recorded of its limits and its shortfalls.
    fn finish(&mut self, m: &Model, s: &Scratch, out: &[DemandOutcome]) {
        if m.limits.is_empty() {
            return;
        }
        let tail = self.row.len() - Self::limit_len(m);
        let (limited, shortfall) = self.row[tail..].split_at_mut(m.limits.len());
        limited.copy_from_slice(&s.limited);
        for (x, o) in shortfall.iter_mut().zip(out) {
            *x = o.shortfall;
        }
    }
}

impl crate::sim::kernel::Observer for TailObserver<'_> {
    fn period(&mut self, t: usize, m: &Model, s: &Scratch) {
        let nn = m.nodes.len();
        let short: f64 = s.shortfall.iter().sum();
        self.row[0] += short;
        for (n, node) in m.nodes.iter().enumerate() {
            // Demand nodes have no capacity; a plant before its announced start is not late.
            if node.kind == crate::model::Kind::Demand || (t as i64) < m.planned_online[n] {
                continue;
            }
            let down = s.cap[n] < node.capacity * (1.0 - 1e-12);
            let binding =
                s.out[n] >= s.cap[n] * (1.0 - 1e-9) && s.want[n] > s.cap[n] * (1.0 + 1e-9);
            if down || binding {
                self.row[1 + nn + n] += short;
                if short > 0.0 {
                    self.row[1 + n] = 1.0;
                }
            }
        }
        let ne = m.edges.len();
        for (f, x) in self.row[1 + 2 * nn..1 + 2 * nn + ne]
            .iter_mut()
            .zip(&s.ship)
        {
            *f += x;
        }
    }
}

/// The most trials the tail profile re-simulates: beyond 2,000,000 trials the worst 5% are
/// sampled (every j-th in trial order, an unbiased sample: trial order is independent of the
/// outcome), which keeps the profile's fractions within about 0.3 percentage points (95%) and
/// its cost bounded.
pub const TAIL_TRIALS: usize = 100_000;

/// Re-runs the worst 5% of a run's trials (they are reproducible from the seed), at most
/// [`TAIL_TRIALS`] of them, and records which nodes constrained them.
pub fn tail_profile(m: &Model, r: &RunResult) -> TailProfile {
    tail_profile_sampled(m, r, TAIL_TRIALS)
}

/// [`tail_profile`] with at most `most` trials re-simulated.
pub fn tail_profile_sampled(m: &Model, r: &RunResult, most: usize) -> TailProfile {
    let n = r.trials as usize;
    let k = ((0.05 * n as f64 - 1e-9).ceil() as usize)
        .clamp(1, n.max(1))
        .min(n);
    // Largest total first, ties by trial index: the first k in that order.
    let mut order: Vec<u32> = (0..n as u32).collect();
    let worse = |a: &u32, b: &u32| {
        r.total_shortfall(*b as usize)
            .total_cmp(&r.total_shortfall(*a as usize))
            .then(a.cmp(b))
    };
    if k < n {
        order.select_nth_unstable_by(k, worse);
    }
    let mut worst: Vec<u64> = order[..k].iter().map(|&i| u64::from(i)).collect();
    drop(order);
    worst.sort_unstable();
    if k > most.max(1) {
        let step = k.div_ceil(most.max(1));
        worst = worst.into_iter().step_by(step).collect();
    }
    let (nn, ne) = (m.nodes.len(), m.edges.len());
    let mut limits = vec![0.0; TailObserver::limit_len(m)];
    let mut node_trials = vec![0.0; nn];
    let mut node_share = vec![0.0; nn];
    let mut edge_flow = vec![0.0; ne];
    let mut total = 0.0;
    // Windows of trials run in parallel, each writing its record in place; the records are
    // added in trial order, so the profile does not depend on the thread count.
    const WINDOW: usize = 4096;
    let len = TailObserver::len(m);
    let mut records = vec![0.0; WINDOW.min(worst.len()) * len];
    for window in worst.chunks(WINDOW) {
        let records = &mut records[..window.len() * len];
        records.par_chunks_mut(len).zip(window).for_each_init(
            || {
                (
                    Scratch::new(m),
                    vec![DemandOutcome::default(); r.demand_nodes],
                    vec![0u64; r.words],
                )
            },
            |(scratch, out, occ), (row, &i)| {
                row.fill(0.0);
                let mut obs = TailObserver { row };
                run_trial(m, r.seed, r.first_trial + i, scratch, out, occ, &mut obs);
                obs.finish(m, scratch, out);
            },
        );
        for row in records.chunks_exact(len) {
            total += row[0];
            for i in 0..nn {
                node_trials[i] += row[1 + i];
                node_share[i] += row[1 + nn + i];
            }
            for (f, x) in edge_flow.iter_mut().zip(&row[1 + 2 * nn..1 + 2 * nn + ne]) {
                *f += x;
            }
            for (f, x) in limits.iter_mut().zip(&row[1 + 2 * nn + ne..]) {
                *f += x;
            }
        }
    }
    // Each limit's shortfall as a share of its demand node's tail shortfall.
    let limited_by: Vec<f64> = m
        .limits
        .iter()
        .zip(&limits)
        .map(|(lim, &x)| {
            let own = limits[m.limits.len() + lim.demand as usize];
            if own > 0.0 { x / own } else { 0.0 }
        })
        .collect();
    let kk = worst.len().max(1) as f64;
    for i in 0..nn {
        node_trials[i] /= kk;
        node_share[i] = if total > 0.0 {
            node_share[i] / total
        } else {
            0.0
        };
    }
    for f in &mut edge_flow {
        *f /= kk * m.periods as f64;
    }
    TailProfile {
        trials: worst,
        node_trials,
        node_share,
        edge_flow,
        limited_by,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_round_like_round() {
        let by_round = |f: f32| ((f64::from(f) * (BINS - 1) as f64).round() as usize).min(BINS - 1);
        // Every half-way point between bins and the floats beside it, then a sweep of [0, 1].
        let mut fs = vec![0.0f32, f32::MIN_POSITIVE, 1e-30, 1.0, 1.5, -0.25, f32::NAN];
        for k in 0..BINS {
            let f = (k as f32 + 0.5) / (BINS - 1) as f32;
            fs.extend([f, f.next_down(), f.next_up()]);
        }
        fs.extend((0..1_000_000).map(|i| i as f32 / 1e6));
        for f in fs {
            assert_eq!(bin_of(f), by_round(f), "f = {f:e}");
        }
    }
}
