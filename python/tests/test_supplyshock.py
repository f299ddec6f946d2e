"""The Python package against the command line: the same summary, the same trial columns, and
scenario errors as exceptions naming the line and column."""

import json
import math
import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import supplyshock

ROOT = Path(__file__).resolve().parents[2]
TRIALS, SEED = 1500, 42


def cli_binary() -> Path:
    """The command-line binary: SUPPLYSHOCK_BIN, or the release build of the repository."""
    path = Path(os.environ.get("SUPPLYSHOCK_BIN", ROOT / "target" / "release" / "supplyshock"))
    if not path.exists():
        pytest.skip(f"{path} not built: run `cargo build --release` (or set SUPPLYSHOCK_BIN)")
    return path


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """The default scenario run by the command line: its output folder."""
    out = tmp_path_factory.mktemp("cli")
    subprocess.run(
        [str(cli_binary()), "run", "--trials", str(TRIALS), "--seed", str(SEED),
         "--quiet", "--no-report", "--out", str(out)],
        check=True,
    )
    return out


@pytest.fixture(scope="module")
def py_run():
    return supplyshock.run(trials=TRIALS, seed=SEED, threads=2)


def test_the_summary_is_summary_json(cli_run, py_run):
    expected = json.loads((cli_run / "summary.json").read_text())
    assert py_run.summary.keys() == expected.keys()
    # Every number identical: the same scenario, seed and trials give the same bytes.
    assert py_run.summary == expected
    assert py_run.summary["trials"] == TRIALS and py_run.summary["seed"] == SEED


def test_the_trials_are_trials_csv(cli_run, py_run):
    expected = pd.read_csv(cli_run / "trials.csv")
    trials = py_run.trials
    assert trials.shape == expected.shape == (TRIALS, len(expected.columns))
    assert list(trials.columns) == list(expected.columns)
    for name in expected.columns:
        got, want = trials[name], expected[name]
        if name.endswith(".first_short"):
            assert (got.isna() == want.isna()).all(), name
            assert (got[got.notna()].astype(str) == want[want.notna()].astype(str)).all(), name
        elif name.startswith("shock."):
            assert got.dtype == bool, name
            assert (got.astype(int) == want).all(), name
        elif name.startswith("input."):
            # A drawn value is a 32-bit float, written in its shortest text; NaN where the trial
            # drew none (an empty field).
            assert got.dtype == np.float32, name
            assert (got.isna() == want.isna()).all(), name
            assert (got[got.notna()] == want[want.notna()].astype(np.float32)).all(), name
        else:
            # trials.csv holds the shortest text that reads back to the same double.
            assert (got.to_numpy() == want.to_numpy()).all(), name


def test_it_unpacks_and_defaults_to_the_scenario_s_settings():
    summary, trials = supplyshock.run(trials=50)
    assert summary["trials"] == 50 and len(trials) == 50
    assert list(trials["trial"]) == list(range(50))


def test_a_bad_scenario_raises_with_line_and_column(tmp_path):
    text = (ROOT / "scenarios" / "teach-embargo.toml").read_text()
    bad = tmp_path / "bad.toml"
    # A negative seed is refused where it is written.
    lines = text.splitlines()
    at = next(i for i, l in enumerate(lines) if l.strip().startswith("seed"))
    lines[at] = "seed = -3"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(supplyshock.Error) as err:
        supplyshock.run(bad, trials=10)
    message = str(err.value)
    assert str(bad) in message
    assert f"line {at + 1}, column" in message, message
    assert isinstance(err.value, ValueError)


def test_a_missing_file_and_a_bad_setting_raise():
    with pytest.raises(supplyshock.Error, match="no-such.toml"):
        supplyshock.run("no-such.toml")
    with pytest.raises(supplyshock.Error, match="threads"):
        supplyshock.run(trials=10, threads=100_000)
    with pytest.raises(OverflowError):
        supplyshock.run(trials=-1)
