//! The native part of the `supplyshock` Python package: runs a scenario through the library and
//! hands its summary (summary.json's text) and per-trial columns (raw bytes for numpy) to the
//! Python code in `supplyshock/__init__.py`, which builds the dict and the DataFrame.

use std::path::PathBuf;

use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use supplyshock::app::{self, Settings};
use supplyshock::io::trials::{Data, Kind};
use supplyshock::sim::engine::Kernel;

create_exception!(
    supplyshock,
    Error,
    PyValueError,
    "A scenario or a setting supplyshock cannot run; the message names the file, line and column (or the argument) and says how to fix it."
);

/// A column's values as native-endian bytes, with the numpy type they hold.
fn column_bytes<'py>(
    py: Python<'py>,
    data: &Data,
) -> PyResult<(&'static str, Bound<'py, PyBytes>)> {
    fn fill<'py, const N: usize, T: Copy>(
        py: Python<'py>,
        v: &[T],
        to: impl Fn(T) -> [u8; N],
    ) -> PyResult<Bound<'py, PyBytes>> {
        PyBytes::new_with(py, v.len() * N, |buf| {
            for (chunk, &x) in buf.chunks_exact_mut(N).zip(v) {
                chunk.copy_from_slice(&to(x));
            }
            Ok(())
        })
    }
    Ok(match data {
        Data::Trial(v) => ("int64", fill(py, v, i64::to_ne_bytes)?),
        Data::Number(v) => ("float64", fill(py, v, f64::to_ne_bytes)?),
        Data::Flag(v) => ("bool", fill(py, v, |b| [u8::from(b)])?),
        // NaN where the trial drew none.
        Data::Drawn(v) => ("float32", fill(py, v, f32::to_ne_bytes)?),
        // A month as its period, -1 where there is none.
        Data::Month(v) => (
            "int16",
            fill(py, v, |p| p.map_or(-1, |p| p as i16).to_ne_bytes())?,
        ),
    })
}

/// Runs a scenario file (or the built-in scenario where `path` is None) and returns
/// (summary.json's text, [(column, kind, numpy dtype, bytes)], month labels by period).
#[pyfunction]
#[pyo3(signature = (path=None, trials=None, seed=None, threads=None))]
#[allow(clippy::type_complexity)]
fn run<'py>(
    py: Python<'py>,
    path: Option<PathBuf>,
    trials: Option<u64>,
    seed: Option<u64>,
    threads: Option<usize>,
) -> PyResult<(
    String,
    Vec<(String, &'static str, &'static str, Bound<'py, PyBytes>)>,
    Vec<String>,
)> {
    if let Some(t) = threads
        && t as u64 > supplyshock::cli::MAX_THREADS
    {
        return Err(Error::new_err(format!(
            "threads={t}: at most {} worker threads; pass None for one per core",
            supplyshock::cli::MAX_THREADS
        )));
    }
    let settings = Settings {
        trials,
        seed,
        threads: threads.unwrap_or(0),
        kernel: Kernel::best(),
        progress: false,
    };
    let done = py.detach(|| {
        let loaded = app::load(path.as_deref())?;
        app::run_table(&loaded, &settings)
    });
    let done = done.map_err(|e| Error::new_err(format!("{e:#}")))?;
    let summary = String::from_utf8(done.summary_json)
        .map_err(|e| Error::new_err(format!("summary.json is not UTF-8: {e}")))?;
    let mut columns = Vec::with_capacity(done.table.columns.len());
    for (c, d) in done.table.columns.iter().zip(&done.table.data) {
        let kind = match c.kind() {
            Kind::Trial => "trial",
            Kind::Number => "number",
            Kind::Month => "month",
            Kind::Flag => "flag",
            Kind::Drawn => "drawn",
        };
        let (dtype, bytes) = column_bytes(py, d)?;
        columns.push((c.name.clone(), kind, dtype, bytes));
    }
    Ok((summary, columns, done.table.months))
}

/// The native module.
#[pymodule]
fn _supplyshock(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add("Error", m.py().get_type::<Error>())?;
    Ok(())
}
