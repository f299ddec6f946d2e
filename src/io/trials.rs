//! The per-trial table: one definition of its columns (their names, order, types and values),
//! which trials.csv, trials.parquet and the in-memory table of [`crate::app::run_table`] share.
//!
//! A run hands its trials over in blocks (see [`crate::sim::engine::BlockSink`]); [`Block`]
//! reads one column's value of one trial from a block, and [`Table`] gathers blocks into typed
//! columns.

use crate::model::Model;
use crate::sim::result::{DemandOutcome, NONE, TrialBlock, flag};

/// The type of a column's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The trial's index: a 64-bit integer.
    Trial,
    /// A quantity (tonnes or USD): a 64-bit float.
    Number,
    /// A month, `YYYY-MM`, or nothing (empty in trials.csv, null in trials.parquet).
    Month,
    /// Whether a shock was active: `1`/`0` in trials.csv, a boolean in trials.parquet.
    Flag,
    /// A value the trial drew for an uncertain input, as the run keeps it (a 32-bit float), or
    /// nothing where it drew none (empty in trials.csv, null in trials.parquet).
    Drawn,
}

/// Where a column's values come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The trial's index.
    Trial,
    /// Demand node `d`'s total shortfall, tonnes.
    Shortfall(usize),
    /// Demand node `d`'s largest single-month shortfall, tonnes.
    Worst(usize),
    /// Demand node `d`'s first month with a shortfall, if any.
    FirstShort(usize),
    /// Demand node `d`'s extra landed cost from tariffs, USD.
    Tariff(usize),
    /// Whether shock `i` was active.
    Shock(usize),
    /// [`crate::model::Limit`] `c`: its demand node's shortfall, tonnes, in the periods when a
    /// recipe node upstream of it was short of its material.
    Limited(usize),
    /// The value the trial drew for uncertain input `j` (see [`crate::model::inputs`]); NaN
    /// where it drew none.
    Input(usize),
}

impl Source {
    /// The type of the values.
    pub fn kind(self) -> Kind {
        match self {
            Source::Trial => Kind::Trial,
            Source::Shortfall(_) | Source::Worst(_) | Source::Tariff(_) | Source::Limited(_) => {
                Kind::Number
            }
            Source::Input(_) => Kind::Drawn,
            Source::FirstShort(_) => Kind::Month,
            Source::Shock(_) => Kind::Flag,
        }
    }
}

/// One column of the per-trial table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    /// Its name, as in trials.csv's header (`trial`, `<node>.shortfall_t`, `shock.<id>`, ...).
    pub name: String,
    /// Where its values come from.
    pub source: Source,
}

impl Column {
    /// The type of its values.
    pub fn kind(&self) -> Kind {
        self.source.kind()
    }
}

/// The columns of the per-trial table of `m`, in order: `trial`; then for each demand node
/// `<id>.shortfall_t`, `<id>.worst_period_t`, `<id>.first_short` and `<id>.tariff_usd`, and with
/// materials `<id>.limited_by.<material>_t` for each input of the recipe nodes upstream of it;
/// then `shock.<id>` for each shock and `input.<name>` for each uncertain input.
pub fn columns(m: &Model) -> Vec<Column> {
    let mut cols = vec![Column {
        name: "trial".to_string(),
        source: Source::Trial,
    }];
    for d in 0..m.demand.len() {
        let id = m.demand_id(d);
        for (col, source) in [
            ("shortfall_t", Source::Shortfall(d)),
            ("worst_period_t", Source::Worst(d)),
            ("first_short", Source::FirstShort(d)),
            ("tariff_usd", Source::Tariff(d)),
        ] {
            cols.push(Column {
                name: format!("{id}.{col}"),
                source,
            });
        }
        for c in m.limit_off[d] as usize..m.limit_off[d + 1] as usize {
            let material = m.material_id(m.limits[c].material).unwrap_or_default();
            cols.push(Column {
                name: format!("{id}.limited_by.{material}_t"),
                source: Source::Limited(c),
            });
        }
    }
    for (i, sh) in m.shocks.iter().enumerate() {
        cols.push(Column {
            name: format!("shock.{}", sh.id),
            source: Source::Shock(i),
        });
    }
    for (j, input) in m.inputs.list.iter().enumerate() {
        cols.push(Column {
            name: format!("input.{}", input.name),
            source: Source::Input(j),
        });
    }
    cols
}

/// The labels of the months of `m`'s horizon, `YYYY-MM`, by period.
pub fn month_labels(m: &Model) -> Vec<String> {
    (0..m.periods).map(|p| m.month_label(p)).collect()
}

/// One value of the per-trial table.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    /// A trial index.
    Trial(u64),
    /// A quantity.
    Number(f64),
    /// A period of the horizon (see [`month_labels`]), or `None`.
    Month(Option<u16>),
    /// A shock flag.
    Flag(bool),
    /// An input's value, NaN where the trial drew none.
    Drawn(f32),
}

/// A block of consecutive trials as a run hands it over: outcomes `[trial * demand_nodes + d]`
/// and shock flags `[trial * words + i / 64]`.
#[derive(Clone, Copy, Debug)]
pub struct Block<'a> {
    first: u64,
    outs: &'a [DemandOutcome],
    occurred: &'a [u64],
    draws: &'a [f32],
    demand_nodes: usize,
    words: usize,
    shocks: usize,
    stride: usize,
    /// Where a trial's limit figures start in its row of draws.
    limits: usize,
}

impl<'a> Block<'a> {
    /// The block of trials from `first` of a run of `m`.
    pub fn new(m: &Model, b: &TrialBlock<'a>) -> Self {
        Block {
            first: b.first,
            outs: b.outs,
            occurred: b.occurred,
            draws: b.draws,
            demand_nodes: m.demand.len(),
            words: m.shock_words(),
            shocks: m.shocks.len(),
            stride: m.draw_stride(),
            limits: m.limit_base(),
        }
    }

    /// Trials in the block.
    pub fn trials(&self) -> usize {
        self.occurred.len() / self.words
    }

    /// The value of `source` for the block's `k`-th trial.
    #[inline]
    pub fn value(&self, source: Source, k: usize) -> Value {
        let out = |d: usize| &self.outs[k * self.demand_nodes + d];
        match source {
            Source::Trial => Value::Trial(self.first + k as u64),
            Source::Shortfall(d) => Value::Number(out(d).shortfall),
            Source::Worst(d) => Value::Number(out(d).worst),
            Source::FirstShort(d) => {
                let p = out(d).first_short;
                Value::Month((p != NONE).then_some(p))
            }
            Source::Tariff(d) => Value::Number(out(d).tariff),
            Source::Shock(i) => Value::Flag(flag(&self.occurred[k * self.words..], i)),
            Source::Input(j) => Value::Drawn(self.draws[k * self.stride + self.shocks + j]),
            Source::Limited(c) => {
                Value::Number(f64::from(self.draws[k * self.stride + self.limits + c]))
            }
        }
    }
}

/// A column's values.
#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    /// Trial indices.
    Trial(Vec<i64>),
    /// Quantities.
    Number(Vec<f64>),
    /// Periods of the horizon (see [`Table::months`]), `None` where there was none.
    Month(Vec<Option<u16>>),
    /// Shock flags.
    Flag(Vec<bool>),
    /// Inputs' values, NaN where a trial drew none.
    Drawn(Vec<f32>),
}

impl Data {
    fn of(kind: Kind) -> Data {
        match kind {
            Kind::Trial => Data::Trial(Vec::new()),
            Kind::Number => Data::Number(Vec::new()),
            Kind::Month => Data::Month(Vec::new()),
            Kind::Flag => Data::Flag(Vec::new()),
            Kind::Drawn => Data::Drawn(Vec::new()),
        }
    }

    /// Values held.
    pub fn len(&self) -> usize {
        match self {
            Data::Trial(v) => v.len(),
            Data::Number(v) => v.len(),
            Data::Month(v) => v.len(),
            Data::Flag(v) => v.len(),
            Data::Drawn(v) => v.len(),
        }
    }

    /// Whether it holds no value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn clear(&mut self) {
        match self {
            Data::Trial(v) => v.clear(),
            Data::Number(v) => v.clear(),
            Data::Month(v) => v.clear(),
            Data::Flag(v) => v.clear(),
            Data::Drawn(v) => v.clear(),
        }
    }

    fn try_reserve(&mut self, n: usize) -> Result<(), std::collections::TryReserveError> {
        match self {
            Data::Trial(v) => v.try_reserve(n),
            Data::Number(v) => v.try_reserve(n),
            Data::Month(v) => v.try_reserve(n),
            Data::Flag(v) => v.try_reserve(n),
            Data::Drawn(v) => v.try_reserve(n),
        }
    }

    /// Appends `source`'s values for every trial of `b` (a column's data is made for its
    /// source's kind, so every value matches).
    fn extend(&mut self, b: &Block, source: Source) {
        let vals = (0..b.trials()).map(|k| b.value(source, k));
        match self {
            Data::Trial(v) => v.extend(vals.filter_map(|x| match x {
                Value::Trial(t) => Some(t as i64),
                _ => None,
            })),
            Data::Number(v) => v.extend(vals.filter_map(|x| match x {
                Value::Number(f) => Some(f),
                _ => None,
            })),
            Data::Month(v) => v.extend(vals.filter_map(|x| match x {
                Value::Month(p) => Some(p),
                _ => None,
            })),
            Data::Flag(v) => v.extend(vals.filter_map(|x| match x {
                Value::Flag(f) => Some(f),
                _ => None,
            })),
            Data::Drawn(v) => v.extend(vals.filter_map(|x| match x {
                Value::Drawn(f) => Some(f),
                _ => None,
            })),
        }
    }
}

/// The per-trial table in columns: what trials.csv holds, typed.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// The columns, in order (see [`columns`]).
    pub columns: Vec<Column>,
    /// Each column's values, in trial order.
    pub data: Vec<Data>,
    /// The labels of the horizon's months, by period: what a [`Data::Month`] value names.
    pub months: Vec<String>,
}

impl Table {
    /// An empty table of `m`'s columns.
    pub fn new(m: &Model) -> Table {
        let columns = columns(m);
        let data = columns.iter().map(|c| Data::of(c.kind())).collect();
        Table {
            columns,
            data,
            months: month_labels(m),
        }
    }

    /// Trials held.
    pub fn trials(&self) -> usize {
        self.data.first().map_or(0, Data::len)
    }

    /// Room for `n` more trials, or an error where memory runs out.
    pub fn try_reserve(&mut self, n: usize) -> Result<(), std::collections::TryReserveError> {
        for d in &mut self.data {
            d.try_reserve(n)?;
        }
        Ok(())
    }

    /// Appends the trials of a block.
    pub fn push(&mut self, b: &Block) {
        for (c, d) in self.columns.iter().zip(&mut self.data) {
            d.extend(b, c.source);
        }
    }

    /// Drops every trial, keeping the columns.
    pub fn clear(&mut self) {
        for d in &mut self.data {
            d.clear();
        }
    }
}

/// The file format of the per-trial table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// trials.csv: text, one row per trial.
    Csv,
    /// trials.parquet: Apache Parquet, typed columns, Snappy-compressed.
    Parquet,
}

impl Format {
    /// Both formats.
    pub const ALL: [Format; 2] = [Format::Csv, Format::Parquet];

    /// The file's name in an output folder.
    pub fn file(self) -> &'static str {
        match self {
            Format::Csv => "trials.csv",
            Format::Parquet => super::parquet::FILE,
        }
    }

    /// How the command line names it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Parquet => "parquet",
        }
    }
}
