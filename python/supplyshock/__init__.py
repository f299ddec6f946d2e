"""supplyshock: a Monte Carlo simulator of supply disruptions in the rare-earth magnet chain.

``run`` runs a scenario in this process, through the Rust library, and returns its summary (the
content of summary.json, as a dict) and its trials (the columns of trials.csv, as a pandas
DataFrame)::

    import supplyshock
    summary, trials = supplyshock.run(trials=20_000, seed=7)
    summary["demand"][0]["shortfall_t"]["mean"]
    trials.filter(like=".shortfall_t").describe()
"""

from __future__ import annotations

import json
import os
from typing import Any, Iterator, Optional, Union

from ._supplyshock import Error
from ._supplyshock import run as _run

__all__ = ["Error", "Result", "run"]


class Result:
    """What ``run`` returns: ``.summary`` (a dict, the content of summary.json) and ``.trials``
    (a pandas DataFrame, one row per trial, the columns of trials.csv). It also unpacks as
    ``summary, trials = supplyshock.run(...)``."""

    __slots__ = ("summary", "trials")

    def __init__(self, summary: dict, trials: Any) -> None:
        self.summary = summary
        self.trials = trials

    def __iter__(self) -> Iterator[Any]:
        yield self.summary
        yield self.trials

    def __repr__(self) -> str:
        s = self.summary
        return (
            f"<supplyshock.Result {s['scenario']}: {s['trials']} trials, seed {s['seed']}, "
            f"{len(self.trials.columns)} columns>"
        )


def run(
    path: Union[str, "os.PathLike[str]", None] = None,
    trials: Optional[int] = None,
    seed: Optional[int] = None,
    threads: Optional[int] = None,
) -> Result:
    """Runs a scenario and returns its summary and trials.

    path: a scenario or variant file (TOML); None runs the built-in default scenario
        (scenarios/rare-earths-2026.toml).
    trials, seed: override the scenario's own; the same scenario, seed and trial count give
        the same figures as ``supplyshock run`` on the command line.
    threads: worker threads (None: one per core); the results do not depend on it.

    The trials are built in memory (about 200 bytes per trial for the default scenario); for
    tens of millions of trials write trials.parquet with ``supplyshock run --trials-format
    parquet`` and read that instead.

    Raises ``supplyshock.Error`` (a ValueError) for a scenario or setting that cannot run, with
    the file, line and column of the problem and how to fix it.
    """
    import numpy as np
    import pandas as pd

    if path is not None:
        path = os.fspath(path)
    summary_json, columns, months = _run(path, trials, seed, threads)
    labels = np.array(list(months) + [None], dtype=object)
    data = {}
    for name, kind, dtype, raw in columns:
        values = np.frombuffer(raw, dtype=dtype)
        if kind == "month":
            # -1 (no shortfall) picks the None at the end of the labels.
            values = labels[values]
        data[name] = values
    return Result(json.loads(summary_json), pd.DataFrame(data, copy=True))
