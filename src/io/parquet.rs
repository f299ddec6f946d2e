//! trials.parquet: the per-trial table of [`super::trials`] in Apache Parquet, with the columns
//! and values of trials.csv, typed. Written as the run goes, one row group per block of trials,
//! under a temporary name until the rest of the run's files are ready; read back by `report DIR`
//! and `merge`.

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use parquet::basic::{Compression, LogicalType, Repetition, Type as Physical};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, FloatType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader as _, SerializedFileReader};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;

use super::output::{Staged, cannot_write, prepare};
use super::trials::{Block, Column, Data, Kind, Table};
use crate::model::Model;

/// The file's name in an output folder.
pub const FILE: &str = "trials.parquet";

/// The Parquet schema of `cols`: a trial index is a required INT64, a quantity a required
/// DOUBLE, a month an optional UTF-8 string (null where trials.csv's field is empty), a shock
/// flag a required BOOLEAN, an input's value an optional FLOAT (null where the trial drew none).
pub fn schema(cols: &[Column]) -> anyhow::Result<Type> {
    let fields = cols
        .iter()
        .map(|c| {
            let (physical, logical, repetition) = match c.kind() {
                Kind::Trial => (Physical::INT64, None, Repetition::REQUIRED),
                Kind::Number => (Physical::DOUBLE, None, Repetition::REQUIRED),
                Kind::Month => (
                    Physical::BYTE_ARRAY,
                    Some(LogicalType::String),
                    Repetition::OPTIONAL,
                ),
                Kind::Flag => (Physical::BOOLEAN, None, Repetition::REQUIRED),
                Kind::Drawn => (Physical::FLOAT, None, Repetition::OPTIONAL),
            };
            Type::primitive_type_builder(&c.name, physical)
                .with_repetition(repetition)
                .with_logical_type(logical)
                .build()
                .map(Arc::new)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Type::group_type_builder("trials")
        .with_fields(fields)
        .build()?)
}

/// A writer that keeps the CRC-32 of what passes through it.
struct Crc<W> {
    inner: W,
    hash: crc32fast::Hasher,
}

impl<W: std::io::Write> std::io::Write for Crc<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

type Sink = Crc<std::io::BufWriter<std::fs::File>>;

/// trials.parquet, written as the trials run: each block of trials becomes one row group.
pub struct TrialsParquet<'m> {
    m: &'m Model,
    writer: SerializedFileWriter<Sink>,
    table: Table,
    months: Vec<ByteArray>,
    staged: Staged,
}

impl<'m> TrialsParquet<'m> {
    /// Starts trials.parquet in `dir`, under a temporary name.
    pub fn create(m: &'m Model, dir: &Path) -> anyhow::Result<TrialsParquet<'m>> {
        prepare(dir)?;
        let (staged, f) = Staged::create(dir, FILE)?;
        let table = Table::new(m);
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by(format!("supplyshock {}", env!("CARGO_PKG_VERSION")))
            .build();
        let sink = Crc {
            inner: std::io::BufWriter::with_capacity(1 << 20, f),
            hash: crc32fast::Hasher::new(),
        };
        let writer =
            SerializedFileWriter::new(sink, Arc::new(schema(&table.columns)?), Arc::new(props))
                .with_context(|| cannot_write(staged.dst()))?;
        let months = table
            .months
            .iter()
            .map(|l| ByteArray::from(l.as_bytes().to_vec()))
            .collect();
        Ok(TrialsParquet {
            m,
            writer,
            table,
            months,
            staged,
        })
    }

    /// Writes a block of trials (see [`crate::sim::engine::BlockSink`]) as one row group.
    pub fn block(&mut self, block: &crate::sim::result::TrialBlock) -> anyhow::Result<()> {
        let b = Block::new(self.m, block);
        if b.trials() == 0 {
            return Ok(());
        }
        self.table.clear();
        self.table.push(&b);
        write_row_group(&mut self.writer, &self.months, &self.table)
            .with_context(|| cannot_write(self.staged.dst()))
    }

    /// Writes the trials of `t`, a table of this file's columns, as one row group.
    pub fn table(&mut self, t: &Table) -> anyhow::Result<()> {
        anyhow::ensure!(
            t.columns == self.table.columns,
            "the trials are not this scenario's"
        );
        if t.trials() == 0 {
            return Ok(());
        }
        write_row_group(&mut self.writer, &self.months, t)
            .with_context(|| cannot_write(self.staged.dst()))
    }

    /// Completes the file, for [`super::output::write_all_staged`] to move into place, with the
    /// CRC-32 of its bytes (which a shard keeps, for `merge` to check).
    pub fn finish(self) -> anyhow::Result<(Staged, u32)> {
        let dst = self.staged.dst().to_path_buf();
        let sink = self
            .writer
            .into_inner()
            .with_context(|| cannot_write(&dst))?;
        let Crc { mut inner, hash } = sink;
        inner
            .flush()
            .and_then(|_| inner.get_ref().sync_all())
            .with_context(|| cannot_write(&dst))?;
        Ok((self.staged, hash.finalize()))
    }
}

/// Writes `table` as one row group of `writer`, month labels from `months`.
fn write_row_group(
    writer: &mut SerializedFileWriter<Sink>,
    months: &[ByteArray],
    table: &Table,
) -> anyhow::Result<()> {
    let mut rg = writer.next_row_group()?;
    let mut data = table.data.iter();
    while let Some(mut col) = rg.next_column()? {
        let Some(d) = data.next() else {
            anyhow::bail!("the schema has more columns than the table");
        };
        match d {
            Data::Trial(v) => {
                col.typed::<Int64Type>().write_batch(v, None, None)?;
            }
            Data::Number(v) => {
                col.typed::<DoubleType>().write_batch(v, None, None)?;
            }
            Data::Flag(v) => {
                col.typed::<BoolType>().write_batch(v, None, None)?;
            }
            Data::Drawn(v) => {
                let def: Vec<i16> = v.iter().map(|x| i16::from(!x.is_nan())).collect();
                let vals: Vec<f32> = v.iter().copied().filter(|x| !x.is_nan()).collect();
                col.typed::<FloatType>()
                    .write_batch(&vals, Some(&def), None)?;
            }
            Data::Month(v) => {
                let def: Vec<i16> = v.iter().map(|p| i16::from(p.is_some())).collect();
                let vals: Vec<ByteArray> = v
                    .iter()
                    .flatten()
                    .map(|&p| months.get(usize::from(p)).cloned().unwrap_or_default())
                    .collect();
                col.typed::<ByteArrayType>()
                    .write_batch(&vals, Some(&def), None)?;
            }
        }
        col.close()?;
    }
    rg.close()?;
    Ok(())
}

/// Reads the per-trial table of `m` from the trials.parquet at `path`, handing it to `each` a
/// row group at a time; fails, naming the file, where its columns are not `m`'s.
pub fn read_blocks(
    m: &Model,
    path: &Path,
    mut each: impl FnMut(&Table) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let name = path.display();
    let file = std::fs::File::open(path).with_context(|| format!("cannot read {name}"))?;
    let reader = SerializedFileReader::new(file)
        .with_context(|| format!("{name} is not a Parquet file; re-run to rewrite it"))?;
    let mut table = Table::new(m);
    let found: Vec<String> = reader
        .metadata()
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    let expected: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
    anyhow::ensure!(
        found == expected,
        "{name} does not have this scenario's trial columns (it has {} columns, the scenario {}); was it written by another scenario? Re-run to rewrite it",
        found.len(),
        expected.len()
    );
    let by_label: std::collections::HashMap<Vec<u8>, u16> = table
        .months
        .iter()
        .enumerate()
        .map(|(p, l)| (l.as_bytes().to_vec(), p as u16))
        .collect();
    for g in 0..reader.num_row_groups() {
        let rg = reader
            .get_row_group(g)
            .with_context(|| format!("cannot read row group {g} of {name}"))?;
        let rows = usize::try_from(rg.metadata().num_rows()).unwrap_or(0);
        table.clear();
        for (i, d) in table.data.iter_mut().enumerate() {
            let col = rg
                .get_column_reader(i)
                .with_context(|| format!("cannot read {name}"))?;
            read_column(col, rows, d, &by_label)
                .with_context(|| format!("cannot read column {} of {name}", expected[i]))?;
            anyhow::ensure!(
                d.len() == rows,
                "{name}: column {} has {} values in row group {g}, not {rows}; re-run to rewrite it",
                expected[i],
                d.len()
            );
        }
        each(&table)?;
    }
    Ok(())
}

/// Reads `rows` values of one column chunk into `d`.
fn read_column(
    col: parquet::column::reader::ColumnReader,
    rows: usize,
    d: &mut Data,
    by_label: &std::collections::HashMap<Vec<u8>, u16>,
) -> anyhow::Result<()> {
    use parquet::column::reader::ColumnReader as C;
    match (col, d) {
        (C::Int64ColumnReader(mut r), Data::Trial(v)) => {
            r.read_records(rows, None, None, v)?;
        }
        (C::DoubleColumnReader(mut r), Data::Number(v)) => {
            r.read_records(rows, None, None, v)?;
        }
        (C::BoolColumnReader(mut r), Data::Flag(v)) => {
            r.read_records(rows, None, None, v)?;
        }
        (C::ByteArrayColumnReader(mut r), Data::Month(v)) => {
            let (mut def, mut vals) = (Vec::with_capacity(rows), Vec::new());
            r.read_records(rows, Some(&mut def), None, &mut vals)?;
            let mut vals = vals.into_iter();
            for d in def {
                v.push(if d == 0 {
                    None
                } else {
                    let label = vals.next().unwrap_or_default();
                    let p = by_label.get(label.data()).with_context(|| {
                        format!(
                            "{:?} is not a month of the scenario's horizon",
                            String::from_utf8_lossy(label.data())
                        )
                    })?;
                    Some(*p)
                });
            }
        }
        (C::FloatColumnReader(mut r), Data::Drawn(v)) => {
            let (mut def, mut vals) = (Vec::with_capacity(rows), Vec::new());
            r.read_records(rows, Some(&mut def), None, &mut vals)?;
            let mut vals = vals.into_iter();
            v.extend(def.iter().map(|&d| {
                if d == 0 {
                    f32::NAN
                } else {
                    vals.next().unwrap_or(f32::NAN)
                }
            }));
        }
        _ => anyhow::bail!("its type is not the one supplyshock writes"),
    }
    Ok(())
}

/// The CRC-32 of the bytes of the file at `path`.
fn file_crc(path: &Path) -> anyhow::Result<u32> {
    use std::io::Read as _;
    let mut f = std::fs::File::open(path)
        .with_context(|| format!("cannot read {} (every shard writes one)", path.display()))?;
    let (mut hash, mut buf) = (crc32fast::Hasher::new(), vec![0u8; 1 << 20]);
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            return Ok(hash.finalize());
        }
        hash.update(&buf[..n]);
    }
}

/// trials.parquet of a merged run of `m`: the shards' files in trial order. `shards` gives each
/// shard's folder with its first trial, trial count and the CRC-32 of its trials.parquet (from
/// its shard.bin); a file whose rows are not exactly those trials or whose bytes have changed is
/// refused.
pub fn concat(
    m: &Model,
    out: &Path,
    shards: &[(std::path::PathBuf, u64, u64, u32)],
) -> anyhow::Result<Staged> {
    let mut w = TrialsParquet::create(m, out)?;
    for (dir, first, trials, crc) in shards {
        let path = dir.join(FILE);
        anyhow::ensure!(
            file_crc(&path)? == *crc,
            "{} is not the file its shard wrote (its bytes have changed since); re-run that shard",
            path.display()
        );
        let mut expect = *first;
        read_blocks(m, &path, |t| {
            if let Some(Data::Trial(v)) = t.data.first()
                && let Some(k) = (0..v.len()).find(|&k| v[k] as u64 != expect + k as u64)
            {
                anyhow::bail!(
                    "{} does not hold trials {first}..{} of its shard.bin (row {} is not trial {}); was another run written into {}? Re-run that shard",
                    path.display(),
                    first + trials,
                    expect - first + k as u64 + 1,
                    expect + k as u64,
                    dir.display()
                );
            }
            expect += t.trials() as u64;
            w.table(t)
        })?;
        anyhow::ensure!(
            expect == first + trials,
            "{} has {} of the {trials} trials of its shard.bin; was another run written into {}? Re-run that shard",
            path.display(),
            expect - first,
            dir.display()
        );
    }
    Ok(w.finish()?.0)
}

/// The values of the DOUBLE columns `names` of the trials.parquet at `path`, in row order.
pub fn read_numbers(path: &Path, names: &[String]) -> anyhow::Result<Vec<Vec<f64>>> {
    let name = path.display();
    let file = std::fs::File::open(path).with_context(|| format!("cannot read {name}"))?;
    let reader = SerializedFileReader::new(file)
        .with_context(|| format!("{name} is not a Parquet file; re-run to rewrite it"))?;
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    let cols: Vec<usize> = names
        .iter()
        .map(|n| {
            (0..schema.num_columns())
                .find(|&i| schema.column(i).name() == n)
                .with_context(|| format!("{name} has no column {n}"))
        })
        .collect::<anyhow::Result<_>>()?;
    let mut values = vec![Vec::new(); names.len()];
    for g in 0..reader.num_row_groups() {
        let rg = reader
            .get_row_group(g)
            .with_context(|| format!("cannot read row group {g} of {name}"))?;
        let rows = usize::try_from(rg.metadata().num_rows()).unwrap_or(0);
        for ((v, &c), n) in values.iter_mut().zip(&cols).zip(names) {
            let col = rg
                .get_column_reader(c)
                .with_context(|| format!("cannot read {name}"))?;
            let mut d = Data::Number(std::mem::take(v));
            read_column(col, rows, &mut d, &Default::default())
                .with_context(|| format!("cannot read column {n} of {name}"))?;
            if let Data::Number(d) = d {
                *v = d;
            }
        }
    }
    Ok(values)
}
