//! Writers: pure functions from results to bytes, and one place that puts bytes on disk.
//!
//! Files are written whole to a temporary name in the output folder and renamed into place only
//! after every file of the run has been written, so an interrupted or failed run leaves the
//! previous results intact and never a half-written file. The renames are a transaction: the
//! files they replace are set aside first and put back if any rename fails, so a folder never
//! holds one run's summary beside another run's report.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::model::Model;
use crate::stats::summary::Summary;

/// summary.json bytes (pretty-printed, trailing newline).
pub fn summary_json(s: &Summary) -> anyhow::Result<Vec<u8>> {
    let mut v = serde_json::to_vec_pretty(s)?;
    v.push(b'\n');
    Ok(v)
}

/// A file written under a temporary name beside its destination, to be renamed into place by
/// [`write_all_staged`] together with the rest of a run's files; removed if never moved.
#[derive(Debug)]
pub struct Staged {
    tmp: PathBuf,
    dst: PathBuf,
    /// This process's lock on the output folder, held while the file exists.
    _held: Held,
}

/// This process's lock file in an output folder, `.lock-TOKEN`, exclusively locked while the
/// process has files staged there: another process tells a live writer's leftovers from a dead
/// one's by trying the lock, which the system releases when a process ends however it ends,
/// whatever process namespace it ran in.
#[derive(Debug)]
struct Held(PathBuf);

/// The lock files this process holds: per folder, the open locked file and how many staged files
/// use it.
static HELD: std::sync::Mutex<Vec<(PathBuf, std::fs::File, usize)>> =
    std::sync::Mutex::new(Vec::new());

fn lock_file(dir: &Path, token: &str) -> PathBuf {
    dir.join(format!(".lock-{token}"))
}

impl Held {
    /// Takes (or shares) this process's lock on `dir`. The lock file appears under its name
    /// already locked: it is created and locked as `.locking-TOKEN`, then renamed, so that no
    /// other process can find it unlocked while this one lives.
    fn take(dir: &Path) -> anyhow::Result<Held> {
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        let mut held = HELD
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(h) = held.iter_mut().find(|h| h.0 == dir) {
            h.2 += 1;
            return Ok(Held(dir));
        }
        let (path, staging) = (
            lock_file(&dir, token()),
            dir.join(format!(".locking-{}", token())),
        );
        // The staging file can be taken for a dead run's, and deleted, by a process that cannot
        // see this one's id: then try again.
        for _ in 0..5 {
            let f = std::fs::File::create(&staging).with_context(|| cannot_write_in(&dir))?;
            // Where the file system has no locks, the process-id check of `ended` still works.
            let locked = !matches!(f.try_lock(), Err(std::fs::TryLockError::WouldBlock));
            if locked && std::fs::rename(&staging, &path).is_ok() {
                held.push((dir.clone(), f, 1));
                return Ok(Held(dir));
            }
        }
        anyhow::bail!(
            "cannot take the lock of the output folder {}: other processes keep clearing it; run again, or choose another --out",
            dir.display()
        )
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut held = HELD
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(i) = held.iter().position(|h| h.0 == self.0) {
            held[i].2 -= 1;
            if held[i].2 == 0 {
                let _ = std::fs::remove_file(lock_file(&self.0, token()));
                held.swap_remove(i);
            }
        }
    }
}

/// What names this process's temporary files: its process id and the time it first wrote, so
/// that a later process with the same id (a restarted container's process 1, say) can tell the
/// files apart from its own.
fn token() -> &'static str {
    static TOKEN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TOKEN.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!("{}-{nanos:x}", std::process::id())
    })
}

/// Why a result file could not be written, named as the user will see it (not as the hidden
/// temporary file it is staged in), with what to do.
pub(super) fn cannot_write(dst: &Path) -> String {
    format!(
        "cannot write {}: check that the folder is writable and the disk has room, or choose another --out (earlier results there are kept)",
        dst.display()
    )
}

/// Why nothing could be written into an output folder, with what to do.
fn cannot_write_in(dir: &Path) -> String {
    format!(
        "cannot write in the output folder {}: check that it is writable and the disk has room, or choose another --out",
        dir.display()
    )
}

/// `.NAME.KIND-TOKEN` beside `dst`: a temporary (`tmp`) or set-aside (`old`) file of this
/// process.
fn aside(dst: &Path, kind: &str) -> PathBuf {
    let name = dst.file_name().unwrap_or_default().to_string_lossy();
    dst.with_file_name(format!(".{name}.{kind}-{}", token()))
}

/// The marker that a process has begun moving its files into `dir`: it lists, one per line, the
/// files the commit removes.
fn commit_marker(dir: &Path, token: &str) -> PathBuf {
    dir.join(format!(".commit-{token}"))
}

impl Staged {
    /// Where the file goes once moved into place.
    pub fn dst(&self) -> &Path {
        &self.dst
    }

    /// Creates the temporary file for `dir/name` (and the folders above it). Callers first
    /// [`recover`] `dir`, once.
    pub(super) fn create(dir: &Path, name: &str) -> anyhow::Result<(Staged, std::fs::File)> {
        let dst = dir.join(name);
        ensure_dir(dst.parent().unwrap_or(dir))?;
        let held = Held::take(dir)?;
        let tmp = aside(&dst, "tmp");
        // Another run may remove the subfolder, found empty, between the two steps: make it
        // again once.
        let f = std::fs::File::create(&tmp)
            .or_else(|_| {
                ensure_dir(dst.parent().unwrap_or(dir))?;
                std::fs::File::create(&tmp).map_err(anyhow::Error::from)
            })
            .with_context(|| cannot_write(&dst))?;
        Ok((
            Staged {
                tmp,
                dst,
                _held: held,
            },
            f,
        ))
    }
}

/// Whether the process that wrote files under `token` into `dir` has ended: its lock file
/// there can be locked (see [`Held`]), or, where it left none, its id is not running or is this
/// process's id with another token. Without either sign nothing is taken for dead, and leftovers
/// stay, hidden, until removed by hand.
fn ended(dir: &Path, token: &str) -> bool {
    if token == self::token() {
        return false;
    }
    let lock = lock_file(dir, token);
    // Read and write: an exclusive lock over NFS needs a writable handle.
    if let Ok(f) = std::fs::File::options().read(true).write(true).open(&lock) {
        match f.try_lock() {
            // Unless the file was replaced since it was opened: then it is a live writer's.
            Ok(()) => return same_file(&f, &lock),
            Err(std::fs::TryLockError::WouldBlock) => return false,
            // A file system without locks: go by the process id.
            Err(std::fs::TryLockError::Error(_)) => {}
        }
    }
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return false;
    }
    match token
        .split_once('-')
        .and_then(|(pid, _)| pid.parse::<u32>().ok())
    {
        Some(pid) => pid == std::process::id() || !proc.join(pid.to_string()).exists(),
        None => false,
    }
}

/// Whether `f` is the file now at `path` (not one deleted and replaced since it was opened).
fn same_file(f: &std::fs::File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        match (f.metadata(), std::fs::metadata(path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (f, path);
        true
    }
}

/// Finishes or clears, in `dir` and its subfolders, what runs that were killed while writing
/// there (Ctrl-C or a kill skip the clean-up of [`Staged`]) left behind. A run killed after it
/// began moving its files into place (it left its commit marker) is finished: its remaining
/// files are moved in, and the files it set aside or was to remove are deleted. A run killed
/// before then changed nothing, and its temporary files are deleted.
fn recover(dir: &Path) {
    // Leftovers: (folder, destination name, kind, token).
    let mut left: Vec<(PathBuf, String, String, String)> = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    if let Ok(entries) = std::fs::read_dir(dir) {
        folders.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
    }
    for folder in &folders {
        let Ok(entries) = std::fs::read_dir(folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let file = entry.file_name();
            let Some(rest) = file.to_str().and_then(|f| f.strip_prefix('.')) else {
                continue;
            };
            for kind in ["tmp", "old"] {
                if let Some((name, token)) = rest.rsplit_once(&format!(".{kind}-")) {
                    left.push((
                        folder.clone(),
                        name.to_string(),
                        kind.into(),
                        token.to_string(),
                    ));
                }
            }
        }
    }
    let mut tokens: Vec<String> = left.iter().map(|l| l.3.clone()).collect();
    if let Ok(entries) = std::fs::read_dir(dir) {
        tokens.extend(entries.flatten().filter_map(|e| {
            let name = e.file_name();
            let name = name.to_str()?;
            let token = name
                .strip_prefix(".commit-")
                .or_else(|| name.strip_prefix(".lock-"))
                .or_else(|| name.strip_prefix(".locking-"))?;
            Some(token.to_string())
        }));
    }
    tokens.sort();
    tokens.dedup();
    for token in tokens.iter().filter(|t| ended(dir, t)) {
        let marker = commit_marker(dir, token);
        let committing = std::fs::read_to_string(&marker).ok();
        let mine = left.iter().filter(|l| &l.3 == token);
        for (folder, name, kind, _) in mine {
            let path = folder.join(format!(".{name}.{kind}-{token}"));
            if kind == "tmp" && committing.is_some() {
                let _ = std::fs::rename(&path, folder.join(name));
            } else {
                let _ = std::fs::remove_file(&path);
            }
        }
        if let Some(removed) = committing {
            for name in removed.lines().filter(|l| !l.is_empty()) {
                let _ = std::fs::remove_file(dir.join(name));
            }
            let _ = std::fs::remove_file(&marker);
        }
        let _ = std::fs::remove_file(lock_file(dir, token));
        let _ = std::fs::remove_file(dir.join(format!(".locking-{token}")));
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        // Gone already once it has been renamed into place.
        let _ = std::fs::remove_file(&self.tmp);
    }
}

/// Rows of trials.csv processed per parallel formatting task.
const CSV_ROWS: usize = 4096;

/// The header line of trials.csv: the names of [`super::trials::columns`].
pub fn trials_csv_header(m: &Model) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(super::trials::columns(m).iter().map(|c| c.name.as_str()))?;
    w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))
}

/// trials.csv rows of consecutive trials from `first`: outcomes `[trial * demand_nodes + d]`
/// and shock flags `[trial * words + i / 64]`, formatted in parallel. Numbers are written in
/// the shortest form that reads back to the same value, a missing month as an empty field and
/// a shock flag as `1` or `0`.
pub fn trials_csv_rows(m: &Model, b: &crate::sim::result::TrialBlock) -> anyhow::Result<Vec<u8>> {
    use super::trials::{Block, Value};
    use rayon::prelude::*;
    let block = Block::new(m, b);
    let (cols, months) = (super::trials::columns(m), super::trials::month_labels(m));
    let trials = block.trials();
    let parts: Vec<anyhow::Result<Vec<u8>>> = (0..trials.div_ceil(CSV_ROWS))
        .into_par_iter()
        .map(|c| {
            let mut w = csv::WriterBuilder::new()
                .has_headers(false)
                .from_writer(Vec::with_capacity(CSV_ROWS * 128));
            let mut field = String::new();
            let mut put = |w: &mut csv::Writer<Vec<u8>>, x: &dyn std::fmt::Display| {
                field.clear();
                let _ = write!(field, "{x}");
                w.write_field(&field)
            };
            for k in c * CSV_ROWS..((c + 1) * CSV_ROWS).min(trials) {
                for col in &cols {
                    match block.value(col.source, k) {
                        Value::Trial(t) => put(&mut w, &t)?,
                        Value::Number(x) => put(&mut w, &x)?,
                        // An input the trial never drew: an empty field.
                        Value::Drawn(x) if x.is_nan() => w.write_field("")?,
                        Value::Drawn(x) => put(&mut w, &x)?,
                        Value::Month(p) => w.write_field(
                            p.and_then(|p| months.get(usize::from(p)))
                                .map_or("", String::as_str),
                        )?,
                        Value::Flag(on) => w.write_field(if on { "1" } else { "0" })?,
                    }
                }
                w.write_record(None::<&[u8]>)?;
            }
            w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))
        })
        .collect();
    let mut bytes = Vec::new();
    for p in parts {
        bytes.extend_from_slice(&p?);
    }
    Ok(bytes)
}

/// trials.csv, written as the trials run: one row per trial with per-demand-node figures and
/// shock flags. Rows of a block are formatted in parallel and written in trial order.
pub struct TrialsCsv<'m> {
    m: &'m Model,
    file: std::io::BufWriter<std::fs::File>,
    staged: Staged,
    crc: crc32fast::Hasher,
}

impl<'m> TrialsCsv<'m> {
    /// Starts trials.csv in `dir` (under a temporary name) and writes its header.
    pub fn create(m: &'m Model, dir: &Path) -> anyhow::Result<TrialsCsv<'m>> {
        prepare(dir)?;
        let (staged, f) = Staged::create(dir, "trials.csv")?;
        let mut t = TrialsCsv {
            m,
            file: std::io::BufWriter::with_capacity(1 << 20, f),
            staged,
            crc: crc32fast::Hasher::new(),
        };
        let bytes = trials_csv_header(m)?;
        t.write(&bytes)?;
        Ok(t)
    }

    fn write(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.crc.update(bytes);
        self.file
            .write_all(bytes)
            .with_context(|| cannot_write(&self.staged.dst))
    }

    /// Appends the rows of a block of trials (see [`crate::sim::engine::BlockSink`]).
    pub fn block(&mut self, b: &crate::sim::result::TrialBlock) -> anyhow::Result<()> {
        let bytes = trials_csv_rows(self.m, b)?;
        self.write(&bytes)
    }

    /// Completes the file, for [`write_all_staged`] to move into place, with the CRC-32 of its
    /// bytes (which a shard keeps, for `merge` to check).
    pub fn finish(mut self) -> anyhow::Result<(Staged, u32)> {
        let dst = self.staged.dst.clone();
        self.file
            .flush()
            .and_then(|_| self.file.get_ref().sync_all())
            .with_context(|| cannot_write(&dst))?;
        Ok((self.staged, self.crc.finalize()))
    }
}

/// The per-trial file of a run in either format, written as the trials run.
pub enum TrialsWriter<'m> {
    /// trials.csv.
    Csv(TrialsCsv<'m>),
    /// trials.parquet.
    Parquet(Box<super::parquet::TrialsParquet<'m>>),
}

impl<'m> TrialsWriter<'m> {
    /// Starts the file in `dir`, under a temporary name.
    pub fn create(
        format: super::trials::Format,
        m: &'m Model,
        dir: &Path,
    ) -> anyhow::Result<TrialsWriter<'m>> {
        Ok(match format {
            super::trials::Format::Csv => TrialsWriter::Csv(TrialsCsv::create(m, dir)?),
            super::trials::Format::Parquet => {
                TrialsWriter::Parquet(Box::new(super::parquet::TrialsParquet::create(m, dir)?))
            }
        })
    }

    /// Appends a block of trials (see [`crate::sim::engine::BlockSink`]).
    pub fn block(&mut self, b: &crate::sim::result::TrialBlock) -> anyhow::Result<()> {
        match self {
            TrialsWriter::Csv(f) => f.block(b),
            TrialsWriter::Parquet(f) => f.block(b),
        }
    }

    /// Completes the file, with the CRC-32 of its bytes.
    pub fn finish(self) -> anyhow::Result<(Staged, u32)> {
        match self {
            TrialsWriter::Csv(f) => f.finish(),
            TrialsWriter::Parquet(f) => f.finish(),
        }
    }
}

/// trials.csv of a merged run: the shards' files in trial order, with one header. `shards` gives
/// each shard's folder with its first trial, trial count and the CRC-32 of its trials.csv (from
/// its shard.bin); a file whose rows are not exactly those trials (written by another run into
/// the same folder, say) or whose bytes have changed is refused.
pub fn concat_trials_csv(
    out: &Path,
    shards: &[(PathBuf, u64, u64, u32)],
) -> anyhow::Result<Staged> {
    use std::io::BufRead as _;
    prepare(out)?;
    let (staged, f) = Staged::create(out, "trials.csv")?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    let mut line = Vec::new();
    for (i, (dir, first, trials, crc)) in shards.iter().enumerate() {
        let mut hash = crc32fast::Hasher::new();
        let path = dir.join("trials.csv");
        let mut r =
            std::io::BufReader::new(std::fs::File::open(&path).with_context(|| {
                format!("cannot read {} (every shard writes one)", path.display())
            })?);
        let read = |r: &mut std::io::BufReader<std::fs::File>, line: &mut Vec<u8>| {
            line.clear();
            r.read_until(b'\n', line)
                .with_context(|| format!("cannot read {}", path.display()))
        };
        read(&mut r, &mut line)?;
        hash.update(&line);
        if i == 0 {
            w.write_all(&line)?;
        }
        let mut expect = *first;
        while read(&mut r, &mut line)? > 0 {
            let id = line.split(|&b| b == b',').next().unwrap_or_default();
            if std::str::from_utf8(id)
                .ok()
                .and_then(|t| t.parse::<u64>().ok())
                != Some(expect)
            {
                anyhow::bail!(
                    "{} does not hold trials {first}..{} of its shard.bin (row {} is not trial {expect}); was another run written into {}? Re-run that shard",
                    path.display(),
                    first + trials,
                    expect - first + 2,
                    dir.display()
                );
            }
            hash.update(&line);
            w.write_all(&line)?;
            expect += 1;
        }
        anyhow::ensure!(
            expect == first + trials,
            "{} has {} of the {trials} trials of its shard.bin; was another run written into {}? Re-run that shard",
            path.display(),
            expect - first,
            dir.display()
        );
        anyhow::ensure!(
            hash.finalize() == *crc,
            "{} is not the file its shard wrote (its bytes have changed since); re-run that shard",
            path.display()
        );
    }
    w.flush()
        .and_then(|_| w.get_ref().sync_all())
        .with_context(|| cannot_write(&staged.dst))?;
    Ok(staged)
}

/// summary.csv: one labelled row per demand node and statistic, for spreadsheets. Columns:
/// node, label, quantity (what is measured and its unit), statistic, value, and the 95%
/// confidence interval of the value where the summary has one (empty otherwise).
pub fn summary_csv(s: &Summary) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "node",
        "label",
        "quantity",
        "statistic",
        "value",
        "ci95_low",
        "ci95_high",
    ])?;
    for d in &s.demand {
        let mut row = |quantity: &str, statistic: &str, value: f64, ci: Option<[f64; 2]>| {
            let [lo, hi] = ci.map_or([String::new(), String::new()], |c| c.map(|x| x.to_string()));
            w.write_record([
                d.node.as_str(),
                d.label.as_str(),
                quantity,
                statistic,
                &value.to_string(),
                &lo,
                &hi,
            ])
        };
        row("demand_t", "total", d.demand_t, None)?;
        for (quantity, x) in [
            ("shortfall_t", &d.shortfall_t),
            ("shortfall_share", &d.shortfall_share),
            ("worst_period_t", &d.worst_period_t),
            ("worst_period_share", &d.worst_period_share),
            ("tariff_cost_usd", &d.tariff_cost_usd),
        ] {
            let pc = &x.percentile_ci95;
            row(quantity, "mean", x.mean, Some([x.ci95_low, x.ci95_high]))?;
            row(quantity, "sd", x.sd, None)?;
            row(quantity, "p5", x.p5, None)?;
            row(quantity, "p50", x.p50, Some(pc.p50))?;
            row(quantity, "p90", x.p90, Some(pc.p90))?;
            row(quantity, "p95", x.p95, Some(pc.p95))?;
            row(quantity, "p99", x.p99, Some(pc.p99))?;
            row(quantity, "p999", x.p999, Some(pc.p999))?;
            row(quantity, "cvar95", x.cvar95, None)?;
            row(quantity, "cvar99", x.cvar99, None)?;
            row(quantity, "max", x.max, None)?;
            row(quantity, "prob_any", x.prob_any, None)?;
        }
        for e in &d.exceedance {
            let statistic = format!("prob_exceeds_{}", e.threshold_share);
            row("shortfall_share", &statistic, e.probability, None)?;
        }
    }
    Ok(w.into_inner().map_err(|e| e.into_error())?)
}

/// The readable table printed after a run.
pub fn console_table(s: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} trials, seed {}, {} months from {}",
        s.scenario, s.trials, s.seed, s.periods, s.start
    );
    let w = s
        .demand
        .iter()
        .map(|d| d.node.len())
        .max()
        .unwrap_or(4)
        .max(11);
    let _ = writeln!(
        out,
        "{:<w$} {:>10} {:>24} {:>9} {:>9} {:>9} {:>9} {:>7}",
        "demand node",
        "demand t",
        "mean shortfall t [95% CI]",
        "P50 t",
        "P95 t",
        "P99 t",
        "CVaR95 t",
        "P(any)"
    );
    for d in &s.demand {
        let x = &d.shortfall_t;
        let ci = format!(
            "{} [{}, {}]",
            num(x.mean),
            num(x.ci95_low),
            num(x.ci95_high)
        );
        let _ = writeln!(
            out,
            "{:<w$} {:>10} {:>24} {:>9} {:>9} {:>9} {:>9} {:>6.1}%",
            d.node,
            num(d.demand_t),
            ci,
            num(x.p50),
            num(x.p95),
            num(x.p99),
            num(x.cvar95),
            100.0 * x.prob_any
        );
    }
    out
}

/// A tonnage rounded for reading.
fn num(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else if v == 0.0 {
        "0".into()
    } else {
        format!("{v:.2}")
    }
}

/// Writes named files into `dir` all-or-nothing (see [`write_all_staged`]); a name may hold a
/// subfolder, as `report/index.html` does.
pub fn write_all<S: AsRef<str>>(dir: &Path, files: &[(S, Vec<u8>)]) -> anyhow::Result<()> {
    write_all_staged::<S, &str>(dir, files, Vec::new(), &[])
}

/// What a command writes into its output folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contents {
    /// A run's, a shard's or a merge's results.
    Run,
    /// A comparison.
    Compare,
    /// A sweep.
    Sweep,
}

impl Contents {
    const ALL: [Contents; 3] = [Contents::Run, Contents::Compare, Contents::Sweep];

    /// The files that show a folder holds these results.
    fn markers(self) -> &'static [&'static str] {
        match self {
            Contents::Run => &[
                "summary.json",
                crate::sim::shard::SHARD_FILE,
                "trials.csv",
                "report/01-shortfall-histograms.png",
            ],
            Contents::Compare => &[
                "compare.json",
                "compare.csv",
                "report/01-exceedance-overlay.png",
            ],
            Contents::Sweep => &["sweep.json", "sweep.csv", "sweep.png"],
        }
    }

    /// One of these results' files that `dir` holds, if any.
    fn marker_in(self, dir: &Path) -> Option<&'static str> {
        self.markers()
            .iter()
            .copied()
            .find(|m| dir.join(m).exists())
    }

    /// What results `dir` holds: the kind and one of its files.
    pub fn found_in(dir: &Path) -> Option<(Contents, &'static str)> {
        Contents::ALL
            .into_iter()
            .find_map(|c| c.marker_in(dir).map(|m| (c, m)))
    }

    /// How messages name these results.
    pub fn what(self) -> &'static str {
        match self {
            Contents::Run => "a run's results",
            Contents::Compare => "a comparison",
            Contents::Sweep => "a sweep",
        }
    }
}

/// Fails when `dir` exists and is not a folder, or holds another command's results (a
/// comparison written into a run's folder would mix the two reports); commands call it before
/// any trial runs, so that a bad --out is reported at once.
pub fn check_folder(dir: &Path, writes: Contents) -> anyhow::Result<()> {
    not_a_file(dir)?;
    for other in Contents::ALL.into_iter().filter(|&c| c != writes) {
        if let Some(m) = other.marker_in(dir) {
            anyhow::bail!(
                "{} holds {} ({m}); writing {} there would mix the two. Choose another --out, or move that folder's files away",
                dir.display(),
                other.what(),
                writes.what()
            );
        }
    }
    Ok(())
}

fn not_a_file(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() && !dir.is_dir() {
        anyhow::bail!(
            "{} exists and is not a folder, where results go; move it away or choose another --out",
            dir.display()
        );
    }
    Ok(())
}

fn ensure_dir(dir: &Path) -> anyhow::Result<()> {
    not_a_file(dir)?;
    // A symbolic link to nothing: creating the folder would fail with "File exists".
    if !dir.exists()
        && let Ok(target) = std::fs::read_link(dir)
    {
        anyhow::bail!(
            "{} (--out) is a symbolic link to {}, which does not exist; create that folder, or give --out another folder",
            dir.display(),
            target.display()
        );
    }
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create output folder {} (--out)", dir.display()))
}

/// Finishes or undoes what a run killed while writing into `dir` left there, as the next write
/// would, so that what is read next is one run's results. Nothing to do where `dir` is not a
/// folder.
pub fn repair(dir: &Path) {
    if dir.is_dir() {
        let _lock = FolderLock::take(dir);
        recover(dir);
    }
}

/// An exclusive lock on an output folder itself (its directory, opened and locked), held while
/// a process moves files in or out of it: while one run commits its files, sets aside and
/// perhaps puts back what it replaces, no other run or recovery touches them, so the commits
/// into one folder happen one after another and the last one's files are all there. Locking
/// the folder rather than a file in it leaves nothing behind; the lock goes with the process.
struct FolderLock {
    /// The open folder; closing it frees the lock.
    _folder: Option<std::fs::File>,
}

impl FolderLock {
    /// Waits for the folder's lock. Where the folder cannot be opened or locked (a platform or
    /// file system without locks), goes on without it, as before locks.
    fn take(dir: &Path) -> FolderLock {
        #[cfg(unix)]
        {
            let f = std::fs::File::open(dir).ok();
            FolderLock {
                _folder: f.filter(|f| f.lock().is_ok()),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = dir;
            FolderLock { _folder: None }
        }
    }
}

/// Makes `dir` ready for a write: created if need be, and cleared of what dead runs left there
/// (see [`recover`]).
pub(super) fn prepare(dir: &Path) -> anyhow::Result<()> {
    ensure_dir(dir)?;
    let _lock = FolderLock::take(dir);
    recover(dir);
    Ok(())
}

/// Changes `dir` to hold `files`, the `already` staged files (such as a streamed trials.csv)
/// and none of the files named in `remove` (an earlier run's files that would not match these),
/// all or nothing. Every file is written under a temporary name first; then the files to be
/// replaced or removed are set aside, the new ones renamed into place, and the set-aside ones
/// deleted. If a step fails, what was done is undone and the folder is left as it was.
pub fn write_all_staged<S: AsRef<str>, R: AsRef<str>>(
    dir: &Path,
    files: &[(S, Vec<u8>)],
    already: Vec<Staged>,
    remove: &[R],
) -> anyhow::Result<()> {
    prepare(dir)?;
    // Every path the commit replaces or removes.
    let mut gone: Vec<PathBuf> = already.iter().map(|s| s.dst.clone()).collect();
    gone.extend(files.iter().map(|(name, _)| dir.join(name.as_ref())));
    gone.extend(remove.iter().map(|r| dir.join(r.as_ref())));
    let mut staged = already;
    let result = (|| {
        for (name, bytes) in files {
            let (s, mut f) = Staged::create(dir, name.as_ref())?;
            let dst = s.dst.clone();
            staged.push(s);
            f.write_all(bytes)
                .and_then(|_| f.sync_all())
                .with_context(|| cannot_write(&dst))?;
        }
        commit(dir, &staged, &gone, remove)
    })();
    // The temporary files of a failed commit go; those of a done one are gone already.
    drop(staged);
    remove_empty_subfolders(dir, &gone);
    result
}

/// Moves complete `staged` files into place in `dir`, all or nothing: sets aside what is at
/// `gone` (the staged files' destinations and the files to `remove`), renames the staged files
/// in, then deletes what was set aside. A commit marker lists `remove` meanwhile, so that a run
/// killed in between is finished by the next (see [`recover`]); a failed step puts back what
/// was set aside.
fn commit<R: AsRef<str>>(
    dir: &Path,
    staged: &[Staged],
    gone: &[PathBuf],
    remove: &[R],
) -> anyhow::Result<()> {
    // One commit into a folder at a time; what a run killed before this one left is finished
    // first, so that it can never land on top of this commit's files later.
    let _lock = FolderLock::take(dir);
    recover(dir);
    if let Some(d) = gone.iter().find(|d| d.is_dir()) {
        anyhow::bail!(
            "{} is a folder, where this run writes a file; move it away or choose another --out",
            d.display()
        );
    }
    let marker = commit_marker(dir, token());
    let list: String = remove.iter().map(|r| format!("{}\n", r.as_ref())).collect();
    std::fs::File::create(&marker)
        .and_then(|mut f| f.write_all(list.as_bytes()).and_then(|_| f.sync_all()))
        .with_context(|| cannot_write_in(dir))?;
    let (mut set_aside, mut placed) = (Vec::new(), Vec::new());
    let moved = (|| {
        for dst in gone {
            if std::fs::symlink_metadata(dst).is_ok() {
                let old = aside(dst, "old");
                rename(dst, &old).with_context(|| format!("cannot replace {}", dst.display()))?;
                set_aside.push((old, dst));
            }
        }
        for s in staged {
            rename(&s.tmp, &s.dst)
                .with_context(|| format!("cannot move {} into place", s.dst.display()))?;
            placed.push(&s.dst);
        }
        anyhow::Ok(())
    })();
    if moved.is_ok() {
        for (old, _) in &set_aside {
            let _ = std::fs::remove_file(old);
        }
    } else {
        for dst in placed {
            let _ = std::fs::remove_file(dst);
        }
        for (old, dst) in &set_aside {
            let _ = std::fs::rename(old, dst);
        }
    }
    let _ = std::fs::remove_file(&marker);
    moved
}

/// `std::fs::rename`, for the steps of a commit; tests make it fail at a chosen step.
fn rename(from: &Path, to: &Path) -> std::io::Result<()> {
    #[cfg(test)]
    if tests::fail_now() {
        return Err(std::io::Error::other("failed on purpose"));
    }
    std::fs::rename(from, to)
}

/// Removes those of the subfolders of `dir` that hold `gone` that are empty (a report folder
/// emptied by a run without a report, or created by a run that failed).
fn remove_empty_subfolders(dir: &Path, gone: &[PathBuf]) {
    for p in gone.iter().filter_map(|g| g.parent()).filter(|p| *p != dir) {
        if std::fs::read_dir(p).is_ok_and(|mut d| d.next().is_none()) {
            let _ = std::fs::remove_dir(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::path::Path;

    thread_local! {
        /// Commit renames left before one fails; none fails when unset.
        static FAIL_IN: Cell<Option<usize>> = const { Cell::new(None) };
    }

    pub fn fail_now() -> bool {
        FAIL_IN.with(|c| match c.get() {
            Some(0) => {
                c.set(None);
                true
            }
            Some(n) => {
                c.set(Some(n - 1));
                false
            }
            None => false,
        })
    }

    /// Every file under `dir`, hidden ones included, with its bytes.
    fn contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(contents(&p));
            } else {
                out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
            }
        }
        out.sort();
        out
    }

    #[test]
    fn a_commit_that_fails_at_any_rename_leaves_the_folder_as_it_was() {
        let dir = std::env::temp_dir().join(format!("supplyshock-commit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = [
            ("a.json", b"a1".to_vec()),
            ("report/b.png", b"b1".to_vec()),
            ("c.csv", b"c1".to_vec()),
        ];
        super::write_all(&dir, &first).unwrap();
        let before = contents(&dir);
        let second = [("a.json", b"a2".to_vec()), ("report/b.png", b"b2".to_vec())];
        // Three files set aside, then two renamed in: five renames, each made to fail in turn.
        for k in 0..5 {
            FAIL_IN.with(|c| c.set(Some(k)));
            let err = super::write_all_staged(&dir, &second, Vec::new(), &["c.csv"]).unwrap_err();
            assert!(format!("{err:#}").contains("failed on purpose"), "{err:#}");
            assert_eq!(contents(&dir), before, "after a failure at rename {k}");
        }
        FAIL_IN.with(|c| c.set(None));
        super::write_all_staged(&dir, &second, Vec::new(), &["c.csv"]).unwrap();
        let names = |v: Vec<(String, Vec<u8>)>| {
            v.into_iter()
                .map(|(n, b)| (n.replace(&dir.display().to_string(), ""), b))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(contents(&dir)),
            [
                ("/a.json".to_string(), b"a2".to_vec()),
                ("/report/b.png".to_string(), b"b2".to_vec())
            ]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
