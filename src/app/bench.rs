//! Measurements of the simulation kernel: single-thread throughput, heap allocations per trial
//! and parallel scaling. Used by `supplyshock bench` and by `cargo bench`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::model::Model;
use crate::sim::engine::{self, CHUNK, Kernel, RunOptions, Worker};
use crate::sim::lanes::Path;
use crate::sim::result::BINS;
use crate::sim::result::DemandOutcome;

/// A global allocator that counts allocations; install it with `#[global_allocator]` to let
/// [`kernel_throughput`] report allocations per trial. Each thread counts its own, so that other
/// threads (a thread pool winding down, say) do not disturb a measurement.
pub struct CountingAlloc;

static INSTALLED: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    INSTALLED.store(1, Ordering::Relaxed);
    // `try_with`: a thread's counter is gone while the thread is being torn down.
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: defers every call to the system allocator; only counts.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocations counted so far on this thread, or `None` when [`CountingAlloc`] is not the
/// global allocator.
pub fn allocations() -> Option<u64> {
    (INSTALLED.load(Ordering::Relaxed) == 1).then(|| ALLOCATIONS.with(Cell::get))
}

/// Timings of each kernel and thread count that `supplyshock bench` and `cargo bench` take by
/// default, keeping the fastest: on a shared machine one disturbed timing in three is common, and
/// five leave the best of them undisturbed far more often.
pub const REPEATS: usize = 5;

/// Single-thread kernel throughput.
#[derive(Clone, Debug)]
pub struct Throughput {
    /// Trials timed (after warm-up).
    pub trials: u64,
    /// Seconds for them.
    pub seconds: f64,
    /// Nodes x periods of the model.
    pub node_periods_per_trial: u64,
    /// Heap allocations during the timed trials, if counted.
    pub allocations: Option<u64>,
    /// Which kernel ran.
    pub kernel: Kernel,
    /// For the lane kernel: its two halves timed apart (see [`lane_split`]).
    pub split: Option<Split>,
}

/// The lane kernel's time per trial in its two halves: sampling the shocks (one shock at a time
/// across the lanes) and stepping the periods (all lanes at once). The rest of the
/// kernel's time per trial is copying the outcomes out and counting the fan-chart histogram.
#[derive(Clone, Copy, Debug)]
pub struct Split {
    /// Microseconds per trial sampling the shock timelines.
    pub sample: f64,
    /// Microseconds per trial stepping the periods.
    pub step: f64,
    /// The share of the groups' periods replayed rather than stepped: calm periods that every
    /// lane entered in the state of a trial no sampled shock touches.
    pub replayed: f64,
}

/// Times the lane kernel's halves ([`crate::sim::lanes::sample_group`] and
/// [`crate::sim::lanes::step_group`]) apart over `trials` trials (rounded up to whole groups) on one
/// thread with `path`, after `trials / 10` warm-up trials as [`kernel_throughput`] takes.
pub fn lane_split(m: &Model, seed: u64, trials: u64, path: Path) -> Split {
    use crate::sim::lanes::{LANES, LaneScratch, sample_group, step_group};
    let mut ls = LaneScratch::new(m, path);
    let warm = (trials / 10).max(1).div_ceil(LANES as u64);
    let groups = trials.div_ceil(LANES as u64).max(1);
    let group = |g: u64| -> [u64; LANES] { std::array::from_fn(|l| g * LANES as u64 + l as u64) };
    // Warm-up on the groups after the timed ones.
    for g in groups..groups + warm {
        sample_group(m, seed, &group(g), &mut ls);
        step_group(m, &mut ls);
    }
    let (mut sample, mut step) = (0.0, 0.0);
    for g in 0..groups {
        let trials = group(g);
        let t0 = Instant::now();
        sample_group(m, seed, &trials, &mut ls);
        let t1 = Instant::now();
        step_group(m, &mut ls);
        step += t1.elapsed().as_secs_f64();
        sample += (t1 - t0).as_secs_f64();
        std::hint::black_box(&ls.outcomes);
    }
    let per_trial = 1e6 / (groups * LANES as u64) as f64;
    let (replayed, stepped) = ls.periods_replayed_and_stepped();
    Split {
        sample: sample * per_trial,
        step: step * per_trial,
        replayed: replayed as f64 / (replayed + stepped).max(1) as f64,
    }
}

impl Throughput {
    /// Trials per second.
    pub fn trials_per_sec(&self) -> f64 {
        self.trials as f64 / self.seconds
    }
    /// Node-periods per second.
    pub fn node_periods_per_sec(&self) -> f64 {
        self.trials_per_sec() * self.node_periods_per_trial as f64
    }
    /// Microseconds per trial.
    pub fn micros_per_trial(&self) -> f64 {
        1e6 * self.seconds / self.trials as f64
    }
}

/// Times `trials` trials of `worker`'s kernel (see [`Worker`]) on one thread, in chunks of
/// [`CHUNK`] trials with buffers allocated beforehand, after `trials / 10` warm-up trials;
/// counts heap allocations in the timed part.
pub fn kernel_throughput(m: &Model, seed: u64, trials: u64, mut worker: Worker) -> Throughput {
    let kernel = worker.kernel();
    let (dn, words, stride) = (m.demand.len(), m.shock_words(), m.draw_stride());
    let mut outs = vec![DemandOutcome::default(); CHUNK * dn];
    let mut occ = vec![0u64; CHUNK * words];
    let mut mags = vec![0f32; CHUNK * stride];
    let mut hist = vec![0u32; dn * m.periods * BINS];
    let mut run = |first: u64, n: u64| {
        let mut k = 0;
        while k < n {
            let c = (n - k).min(CHUNK as u64) as usize;
            worker.run_chunk(
                m,
                seed,
                first + k,
                &mut outs[..c * dn],
                &mut occ[..c * words],
                &mut mags[..c * stride],
                &mut hist,
            );
            std::hint::black_box(&outs);
            k += c as u64;
        }
    };
    let warm = (trials / 10).max(1);
    run(0, warm);
    let before = allocations();
    let start = Instant::now();
    run(warm, trials);
    let seconds = start.elapsed().as_secs_f64();
    let allocations = match (before, allocations()) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    Throughput {
        trials,
        seconds,
        node_periods_per_trial: (m.nodes.len() * m.periods) as u64,
        allocations,
        kernel,
        split: None,
    }
}

/// Each kernel of `kernels` timed `repeats` times by turns (so that all meet the same machine),
/// the fastest run kept; allocations are the most any run made. The halves of each lane kernel
/// are timed apart in the same turns (see [`lane_split`]), the fastest kept.
pub fn kernels(
    m: &Model,
    seed: u64,
    trials: u64,
    repeats: usize,
    kernels: &[Kernel],
) -> Vec<Throughput> {
    let mut best: Vec<Option<Throughput>> = vec![None; kernels.len()];
    for _ in 0..repeats.max(1) {
        for (&kernel, slot) in kernels.iter().zip(&mut best) {
            let mut tp = kernel_throughput(m, seed, trials, Worker::with_kernel(m, kernel));
            if let Kernel::Lanes(path) = tp.kernel {
                tp.split = Some(lane_split(m, seed, trials, path));
            }
            *slot = Some(match slot.take() {
                None => tp,
                Some(b) => {
                    let allocations = match (b.allocations, tp.allocations) {
                        (Some(x), Some(y)) => Some(x.max(y)),
                        _ => None,
                    };
                    let split = match (b.split, tp.split) {
                        (Some(x), Some(y)) if x.sample + x.step > y.sample + y.step => Some(y),
                        (x, _) => x,
                    };
                    let fastest = if tp.seconds < b.seconds { tp } else { b };
                    Throughput {
                        allocations,
                        split,
                        ..fastest
                    }
                }
            });
        }
    }
    best.into_iter().flatten().collect()
}

/// One row of a scaling run.
#[derive(Clone, Debug)]
pub struct ScalingRow {
    /// Worker threads.
    pub threads: usize,
    /// Best wall time over the repeats, seconds.
    pub seconds: f64,
}

/// Runs the same batch of trials through the engine at each thread count, `repeats` times
/// each, keeping the best time. The repeats go by turns (every thread count once, then again),
/// so that a slow spell of a shared machine does not fall on one thread count alone.
pub fn scaling(
    m: &Model,
    seed: u64,
    trials: u64,
    threads: &[usize],
    repeats: usize,
    kernel: Kernel,
) -> anyhow::Result<Vec<ScalingRow>> {
    let mut rows: Vec<ScalingRow> = threads
        .iter()
        .map(|&threads| ScalingRow {
            threads,
            seconds: f64::INFINITY,
        })
        .collect();
    for _ in 0..repeats.max(1) {
        for row in &mut rows {
            let opts = RunOptions {
                seed,
                first_trial: 0,
                trials,
                threads: row.threads,
                progress: false,
                kernel,
            };
            let start = Instant::now();
            let r = engine::run(m, &opts)?;
            row.seconds = row.seconds.min(start.elapsed().as_secs_f64());
            std::hint::black_box(&r);
        }
    }
    Ok(rows)
}

/// Thread counts 1, 2, 4, ... up to `max`, plus `max` itself.
pub fn thread_ladder(max: usize) -> Vec<usize> {
    let mut v = Vec::new();
    let mut t = 1;
    while t < max {
        v.push(t);
        t *= 2;
    }
    v.push(max.max(1));
    v
}

/// A readable report of throughput measurements (the engine's kernel first, then any others
/// for comparison) and a scaling run.
pub fn report(m: &Model, tps: &[Throughput], rows: &[ScalingRow], batch: u64) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "scenario {}: {}, {} periods, {} shock{}",
        m.name,
        m.graph_size(),
        m.periods,
        m.shocks.len(),
        if m.shocks.len() == 1 { "" } else { "s" }
    );
    for tp in tps {
        let _ = writeln!(
            s,
            "kernel {} ({}), 1 thread: {:.2} us/trial, {:.0} trials/s, {:.1} M node-periods/s",
            tp.kernel,
            tp.kernel.describe(),
            tp.micros_per_trial(),
            tp.trials_per_sec(),
            tp.node_periods_per_sec() / 1e6
        );
        if let Some(sp) = tp.split {
            let _ = writeln!(
                s,
                "  timed apart: {:.2} us/trial sampling the shocks, {:.2} us/trial stepping the periods \
                 ({:.1}% of the periods replayed, calm in every lane)",
                sp.sample,
                sp.step,
                100.0 * sp.replayed
            );
        }
        match tp.allocations {
            Some(a) => {
                let _ = writeln!(
                    s,
                    "  heap allocations in {} timed trials: {a} ({:.3} per trial)",
                    tp.trials,
                    a as f64 / tp.trials as f64
                );
            }
            None => {
                let _ = writeln!(
                    s,
                    "  heap allocations: not counted (no counting allocator installed)"
                );
            }
        }
    }
    let per_trial = |tp: &Throughput| tp.seconds / tp.trials as f64;
    if let (Some(first), Some(oracle)) = (
        tps.first(),
        tps.iter().find(|tp| tp.kernel == Kernel::OneTrial),
    ) && first.kernel != Kernel::OneTrial
    {
        let _ = writeln!(
            s,
            "  the {} kernel is {:.2}x the one-trial kernel",
            first.kernel,
            per_trial(oracle) / per_trial(first)
        );
    }
    if let Some(base) = rows.first() {
        let _ = writeln!(s, "engine scaling, {batch} trials (best of repeats):");
        let _ = writeln!(
            s,
            "{:>8} {:>10} {:>12} {:>9} {:>11}",
            "threads", "seconds", "trials/s", "speed-up", "efficiency"
        );
        for r in rows {
            let speedup = base.seconds / r.seconds * base.threads as f64;
            let _ = writeln!(
                s,
                "{:>8} {:>10.3} {:>12.0} {:>9.2} {:>10.0}%",
                r.threads,
                r.seconds,
                batch as f64 / r.seconds,
                speedup,
                100.0 * speedup / r.threads as f64
            );
        }
    }
    s
}

/// What `bench` measures.
#[derive(Clone, Debug)]
pub struct BenchJob {
    /// Trials timed on one thread per kernel.
    pub trials: u64,
    /// Trials per engine run in the scaling table.
    pub batch: u64,
    /// Thread counts of the scaling table (empty: powers of two up to the number of cores).
    pub threads: Vec<usize>,
    /// Timings of each kernel and thread count; the best is kept.
    pub repeats: usize,
    /// Master seed.
    pub seed: u64,
    /// Kernels to time (empty: every kernel this processor runs); the first runs the scaling.
    pub kernels: Vec<Kernel>,
}

/// Times the kernels and the engine's scaling on `m`; returns the printed report.
pub fn bench(m: &Model, job: &BenchJob) -> anyhow::Result<String> {
    if job.trials == 0 || job.batch == 0 {
        anyhow::bail!("--trials and --batch must be at least 1");
    }
    engine::check_trials(m, job.batch).map_err(anyhow::Error::msg)?;
    let kernels = if job.kernels.is_empty() {
        Kernel::available()
    } else {
        job.kernels.clone()
    };
    let tps = self::kernels(m, job.seed, job.trials, job.repeats, &kernels);
    let threads = if job.threads.is_empty() {
        thread_ladder(std::thread::available_parallelism().map_or(1, |n| n.get()))
    } else {
        job.threads.clone()
    };
    if threads.contains(&0) {
        anyhow::bail!("--threads takes counts of at least 1, e.g. --threads 1,2,4");
    }
    let rows = scaling(m, job.seed, job.batch, &threads, job.repeats, kernels[0])?;
    Ok(report(m, &tps, &rows, job.batch))
}
