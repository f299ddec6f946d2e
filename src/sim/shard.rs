//! Splitting a run into shards and merging them back.
//!
//! Shard I of N runs the trials `[(I-1) T / N, I T / N)` of a run of T trials and saves what a
//! run keeps (per-trial columns, streamed statistics, histograms) with the scenario text, beside
//! its own trials.csv. Since every trial's random streams depend only on (seed, trial index),
//! and the streamed statistics merge exactly, merging the shards gives exactly the summary.json
//! and trials.csv of one run of all T trials.

use std::path::Path;

use anyhow::{Context as _, bail, ensure};
use serde::{Deserialize, Serialize};

use crate::model::{self, Model, stream_key};
use crate::sim::result::{BINS, DemandStreams, RunResult, rank_trials};

/// File name of a shard's raw results inside its output folder.
pub const SHARD_FILE: &str = "shard.bin";
const FORMAT: u32 = 4;

/// Which part of a run a shard is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// 1-based shard index.
    pub index: u64,
    /// Number of shards.
    pub count: u64,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("expected I/N with 1 <= I <= N (e.g. 3/8), got `{s}`");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (u64, u64) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    /// First trial and number of trials of this shard of a `total`-trial run.
    pub fn range(&self, total: u64) -> (u64, u64) {
        let cut = |k: u64| ((total as u128 * k as u128) / self.count as u128) as u64;
        let (a, b) = (cut(self.index - 1), cut(self.index));
        (a, b - a)
    }
}

/// A shard's saved results.
#[derive(Debug, Serialize, Deserialize)]
pub struct ShardFile {
    format: u32,
    /// Scenario text the shard ran.
    pub scenario_text: String,
    /// Where the scenario came from, for messages.
    pub scenario_name: String,
    /// Master seed.
    pub seed: u64,
    /// Trials of the whole run.
    pub total_trials: u64,
    /// Which shard.
    pub index: u64,
    /// Of how many.
    pub count: u64,
    /// First trial of the shard.
    pub first_trial: u64,
    trials: u64,
    demand_nodes: usize,
    words: usize,
    shortfall: Vec<f32>,
    occurred: Vec<u64>,
    draws: Vec<f32>,
    streams: Vec<DemandStreams>,
    hist: Vec<u32>,
    /// CRC-32 of the shard's per-trial file (trials.csv or trials.parquet) as written, which
    /// `merge` checks.
    pub trials_csv_crc: u32,
    /// The folder it was read from.
    #[serde(skip)]
    pub folder: std::path::PathBuf,
}

impl ShardFile {
    /// Packs a shard's run.
    pub fn new(
        scenario_text: &str,
        scenario_name: &str,
        shard: Shard,
        total_trials: u64,
        r: RunResult,
        trials_csv_crc: u32,
    ) -> ShardFile {
        ShardFile {
            format: FORMAT,
            scenario_text: scenario_text.to_string(),
            scenario_name: scenario_name.to_string(),
            seed: r.seed,
            total_trials,
            index: shard.index,
            count: shard.count,
            first_trial: r.first_trial,
            trials: r.trials,
            demand_nodes: r.demand_nodes,
            words: r.words,
            shortfall: r.shortfall,
            occurred: r.occurred,
            draws: r.draws,
            streams: r.streams,
            hist: r.hist,
            trials_csv_crc,
            folder: Default::default(),
        }
    }

    /// Trials of the shard.
    pub fn trials(&self) -> u64 {
        self.trials
    }

    /// Bytes of the file: the packed shard, then the CRC-32 of those bytes (little-endian), so
    /// that a damaged file is refused rather than merged.
    pub fn to_bytes(&self) -> anyhow::Result<Vec<u8>> {
        let mut bytes = postcard::to_stdvec(self)?;
        let crc = crc32fast::hash(&bytes);
        bytes.extend_from_slice(&crc.to_le_bytes());
        Ok(bytes)
    }

    /// Reads the bytes of a shard.bin (see [`ShardFile::to_bytes`]); `dir` is the folder they
    /// came from, named in messages.
    pub fn from_bytes(bytes: &[u8], dir: &Path) -> anyhow::Result<ShardFile> {
        let path = dir.join(SHARD_FILE);
        let damaged = || {
            format!(
                "{} is not a supplyshock shard file, or is damaged; re-run that shard",
                path.display()
            )
        };
        let (body, crc) = bytes.split_last_chunk::<4>().with_context(damaged)?;
        if crc32fast::hash(body) != u32::from_le_bytes(*crc) {
            // A shard of an earlier version (written without a CRC) says so.
            if let Ok((format, _)) = postcard::take_from_bytes::<u32>(bytes) {
                ensure!(
                    !(1..FORMAT).contains(&format),
                    "{}: shard format {format}, of an earlier supplyshock, is not supported (expected {FORMAT}); re-run that shard with this version",
                    path.display()
                );
            }
            bail!("{}", damaged());
        }
        let mut f: ShardFile = postcard::from_bytes(body).with_context(damaged)?;
        f.folder = dir.to_path_buf();
        ensure!(
            f.format == FORMAT,
            "{}: shard format {} is not supported (expected {FORMAT})",
            path.display(),
            f.format
        );
        Ok(f)
    }
}

impl ShardFile {
    /// Checks that every array of the shard has the shape its scenario gives, that its streamed
    /// statistics are ones that adding trials can make, and that its first and last trials, run
    /// again, give the saved results: a shard whose shape, statistics' structure or scenario
    /// text was changed after it ran (even with its CRC made to match) is refused, and merge
    /// never panics on it. Values changed within those bounds are caught only where they fall
    /// in the trials run again.
    fn check(&self, m: &Model) -> anyhow::Result<()> {
        let (dn, words, stride) = (m.demand.len(), m.shock_words(), m.draw_stride());
        let path = self.folder.join(SHARD_FILE);
        let bad = |what: &str| {
            anyhow::anyhow!(
                "{}: {what} does not match its scenario ({}); the file was changed after the shard ran: re-run that shard",
                path.display(),
                self.scenario_name
            )
        };
        let trials = usize::try_from(self.trials).map_err(|_| bad("the trial count"))?;
        let (first, n) = Shard {
            index: self.index,
            count: self.count,
        }
        .range(self.total_trials);
        ensure!(
            self.first_trial == first && self.trials == n,
            bad("its trial range")
        );
        ensure!(self.demand_nodes == dn, bad("the number of demand nodes"));
        ensure!(self.words == words, bad("the number of shock flag words"));
        let sized = |len: usize, per: usize| trials.checked_mul(per) == Some(len);
        ensure!(sized(self.shortfall.len(), dn), bad("the shortfall column"));
        ensure!(sized(self.occurred.len(), words), bad("the shock flags"));
        let kept = rank_trials(self.first_trial, self.trials);
        ensure!(
            kept.checked_mul(stride) == Some(self.draws.len()),
            bad("the shock magnitudes and input values")
        );
        ensure!(
            self.hist.len() == dn * m.periods * BINS,
            bad("the fan-chart histograms")
        );
        ensure!(
            self.streams.len() == dn
                && self.streams.iter().all(|s| {
                    let at_most_once = |c: &crate::prob::sketch::Counts| {
                        c.0.len() == m.periods + 1
                            && c.0
                                .iter()
                                .try_fold(0u64, |a, &x| a.checked_add(x))
                                .is_some_and(|t| t <= self.trials)
                    };
                    at_most_once(&s.survive)
                        && at_most_once(&s.recover)
                        && [&s.worst, &s.worst_frac, &s.tariff]
                            .iter()
                            .all(|k| k.is_consistent() && k.count == self.trials)
                }),
            bad("the streamed statistics")
        );
        // The first and last trials, run again from the scenario text, give the saved bits.
        let mut scratch = crate::sim::kernel::Scratch::new(m);
        let (mut outs, mut occ) = (vec![Default::default(); dn], vec![0u64; words]);
        let mut again = |k: usize| {
            crate::sim::kernel::run_trial(
                m,
                self.seed,
                self.first_trial + k as u64,
                &mut scratch,
                &mut outs,
                &mut occ,
                &mut crate::sim::kernel::NoObserver,
            );
            // The engine keeps each total shortfall as f32.
            outs.iter()
                .map(|o| o.shortfall as f32)
                .eq(self.shortfall[k * dn..(k + 1) * dn].iter().copied())
                && occ[..] == self.occurred[k * words..(k + 1) * words]
        };
        if trials > 0 {
            ensure!(again(0) && again(trials - 1), bad("the saved trials"));
        }
        Ok(())
    }
}

/// Merges shards into the result of one run, with its scenario text, name and model; checks
/// that they belong together, cover every trial exactly once, and hold what their scenario
/// gives: the shape of every array, and a few trials run again.
///
/// A sequence of checks, each with its own message, then the concatenation: long because every
/// way a set of shards can fail to belong together is named here, in the order a user fixes them.
pub fn merge(mut shards: Vec<ShardFile>) -> anyhow::Result<(String, String, Model, RunResult)> {
    ensure!(!shards.is_empty(), "merge needs at least one shard folder");
    for s in &shards {
        ensure!(
            (1..=s.count).contains(&s.index) && s.count <= s.total_trials.max(1),
            "{}: shard {}/{} of {} trials is not a part of a run; the file was changed after the shard ran: re-run that shard",
            s.folder.join(SHARD_FILE).display(),
            s.index,
            s.count,
            s.total_trials
        );
    }
    shards.sort_by_key(|s| s.first_trial);
    let first = &shards[0];
    for s in &shards {
        if stream_key(&s.scenario_text) != stream_key(&first.scenario_text) {
            bail!(
                "shards {}/{} ({}, {}) and {}/{} ({}, {}) ran different scenarios; merge the shards of one run",
                first.index,
                first.count,
                first.folder.display(),
                first.scenario_name,
                s.index,
                s.count,
                s.folder.display(),
                s.scenario_name
            );
        }
        ensure!(
            s.seed == first.seed,
            "shards {}/{} ({}) and {}/{} ({}) used different seeds ({} and {}); merge the shards of one run",
            first.index,
            first.count,
            first.folder.display(),
            s.index,
            s.count,
            s.folder.display(),
            first.seed,
            s.seed
        );
        ensure!(
            s.total_trials == first.total_trials && s.count == first.count,
            "shards {}/{} ({}) and {}/{} ({}) belong to runs of different sizes ({} trials in {} shards against {} in {}); run every shard with the same --trials and --shard I/N",
            first.index,
            first.count,
            first.folder.display(),
            s.index,
            s.count,
            s.folder.display(),
            first.total_trials,
            first.count,
            s.total_trials,
            s.count
        );
    }
    for w in shards.windows(2) {
        if w[0].index == w[1].index {
            bail!(
                "shard {}/{} was given twice; pass every shard folder exactly once",
                w[0].index,
                w[0].count
            );
        }
    }
    // Listed from the indices given (at most 20 named), not by counting up to the shard count.
    let mut given: Vec<u64> = shards.iter().map(|s| s.index).collect();
    given.sort_unstable();
    let missing_count = first.count - given.len() as u64;
    if missing_count > 0 {
        let mut missing = Vec::new();
        let mut next = 1;
        for &i in given.iter().chain([first.count + 1].iter()) {
            while next < i && missing.len() < 20 {
                missing.push(format!("{next}/{}", first.count));
                next += 1;
            }
            next = i + 1;
        }
        bail!(
            "{missing_count} shard{} missing: {}{}; pass every shard folder of the run",
            if missing_count == 1 { "" } else { "s" },
            missing.join(", "),
            if missing_count > 20 { ", ..." } else { "" }
        );
    }
    let mut next = 0u64;
    for s in &shards {
        if s.first_trial != next {
            bail!(
                "trials {next}..{} are missing or repeated: shard {}/{} starts at trial {}; pass every shard folder exactly once",
                s.first_trial.max(next),
                s.index,
                s.count,
                s.first_trial
            );
        }
        next += s.trials;
    }
    ensure!(
        next == first.total_trials,
        "the shards cover {next} of {} trials: pass every shard folder",
        first.total_trials
    );
    let m = model::compile_str(&first.scenario_text, &first.scenario_name).with_context(|| {
        format!(
            "the scenario saved in {} no longer compiles; re-run the shards",
            first.folder.join(SHARD_FILE).display()
        )
    })?;
    for s in &shards {
        s.check(&m)?;
    }
    let (text, name, seed, total, dn, words) = (
        first.scenario_text.clone(),
        first.scenario_name.clone(),
        first.seed,
        first.total_trials,
        first.demand_nodes,
        first.words,
    );
    let mut hist = vec![0u32; first.hist.len()];
    // The first shard's streamed statistics, with every later shard's merged in.
    let mut streams: Option<Vec<DemandStreams>> = None;
    let mut shortfall = Vec::with_capacity(total as usize * dn);
    let mut occurred = Vec::with_capacity(total as usize * words);
    let mut draws = Vec::new();
    for s in shards {
        ensure!(
            s.hist.len() == hist.len()
                && streams.as_ref().is_none_or(|t| t.len() == s.streams.len()),
            "shard {}/{} has a different shape",
            s.index,
            s.count
        );
        for (a, b) in hist.iter_mut().zip(&s.hist) {
            *a += b;
        }
        match &mut streams {
            None => streams = Some(s.streams),
            Some(acc) => {
                for (a, b) in acc.iter_mut().zip(&s.streams) {
                    a.merge(b);
                }
            }
        }
        shortfall.extend(s.shortfall);
        occurred.extend(s.occurred);
        draws.extend(s.draws);
    }
    Ok((
        text,
        name,
        m,
        RunResult {
            seed,
            first_trial: 0,
            trials: total,
            demand_nodes: dn,
            shortfall,
            words,
            occurred,
            draws,
            streams: streams.unwrap_or_default(),
            hist,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::engine::{Kernel, RunOptions};

    const WORLD: &str = r#"
[scenario]
name = "merge-check"
periods = 12
start = "2027-01"

[[node]]
id = "mine"
kind = "mine"
country = "AA"
capacity = 10

[[node]]
id = "d"
kind = "demand"
country = "BB"
demand = 8

[[edge]]
from = "mine"
to = "d"

[[outage]]
id = "o"
node = "mine"
p_event = 0.2
duration = 2
severity = 0.9
"#;

    /// The two shards of a 300-trial run of `text`.
    fn shards(text: &str) -> Vec<ShardFile> {
        let m = model::compile_str(text, "world.toml").unwrap();
        (1..=2)
            .map(|index| {
                let sh = Shard { index, count: 2 };
                let (first_trial, trials) = sh.range(300);
                let r = crate::sim::engine::run(
                    &m,
                    &RunOptions {
                        seed: 9,
                        first_trial,
                        trials,
                        threads: 1,
                        progress: false,
                        kernel: Kernel::best(),
                    },
                )
                .unwrap();
                ShardFile::new(text, "world.toml", sh, 300, r, 0)
            })
            .collect()
    }

    /// A shard whose header or scenario was changed after it ran (with its CRC made to match)
    /// is refused with a message, never merged and never a panic.
    #[test]
    fn merge_refuses_shards_that_do_not_match_their_scenario() {
        assert!(merge(shards(WORLD)).is_ok());
        let refused = |edit: &dyn Fn(&mut ShardFile), what: &str| {
            let mut s = shards(WORLD);
            edit(&mut s[1]);
            let err = merge(s).expect_err(what).to_string();
            assert!(
                err.contains(what) && err.contains("re-run"),
                "{what}: {err}"
            );
        };
        refused(&|s| s.demand_nodes = 2, "demand nodes");
        refused(&|s| s.demand_nodes = 0, "demand nodes");
        refused(&|s| s.words = 2, "shock flag words");
        // A shifted range is refused as missing or repeated trials.
        for edit in [
            |s: &mut ShardFile| s.trials += 1,
            |s: &mut ShardFile| s.first_trial -= 1,
        ] {
            let mut s = shards(WORLD);
            edit(&mut s[1]);
            assert!(merge(s).is_err());
        }
        refused(&|s| s.shortfall.truncate(1), "shortfall column");
        refused(&|s| s.occurred.push(0), "shock flags");
        refused(&|s| s.draws.push(0.0), "shock magnitudes and input values");
        refused(&|s| s.hist.truncate(1), "histograms");
        refused(&|s| s.streams[0].survive.0.push(0), "streamed statistics");
        refused(&|s| s.streams[0].worst.count += 1, "streamed statistics");
        refused(&|s| s.streams[0].worst.max = -1.0, "streamed statistics");
        refused(
            &|s| s.streams[0].tariff.min_positive = f64::NAN,
            "streamed statistics",
        );
        refused(
            &|s| s.streams[0].recover.0[0] = u64::MAX,
            "streamed statistics",
        );
        let mut s = shards(WORLD);
        s.pop();
        let err = merge(s).unwrap_err().to_string();
        assert!(err.contains("1 shard missing: 2/2"), "{err}");
        // A shard index outside its count, or a count no run could have, before any loop.
        for edit in [
            |s: &mut ShardFile| s.index = 0,
            |s: &mut ShardFile| s.index = 3,
            |s: &mut ShardFile| s.count = u64::MAX,
        ] {
            let mut s = shards(WORLD);
            edit(&mut s[1]);
            let err = merge(s).unwrap_err().to_string();
            assert!(err.contains("not a part of a run"), "{err}");
        }
        refused(&|s| s.shortfall[0] += 1.0, "saved trials");
        // The same scenario text swapped in every shard: the saved trials are not its trials.
        let other = WORLD.replace("capacity = 10", "capacity = 7");
        let mut s = shards(WORLD);
        for f in &mut s {
            f.scenario_text = other.clone();
        }
        let err = merge(s).unwrap_err().to_string();
        assert!(err.contains("saved trials"), "{err}");
    }

    #[test]
    fn shard_ranges_partition_the_trials() {
        for total in [0u64, 1, 7, 1000, 1001] {
            for count in 1..=9 {
                let mut next = 0;
                for index in 1..=count {
                    let (a, n) = Shard { index, count }.range(total);
                    assert_eq!(a, next);
                    next += n;
                }
                assert_eq!(next, total);
            }
        }
        assert!("0/3".parse::<Shard>().is_err());
        assert!("4/3".parse::<Shard>().is_err());
        assert!("x".parse::<Shard>().is_err());
        assert_eq!("2/3".parse::<Shard>(), Ok(Shard { index: 2, count: 3 }));
    }
}
