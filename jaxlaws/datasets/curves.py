"""Training curves: each run's value of a column at given budgets, read off its checkpoints.

A dataset of curves has a run label per row (:attr:`Dataset.runs`); the rows of one run are
its checkpoints. :func:`read` interpolates each run at budgets of compute, tokens or steps:

    log y(b) = linear interpolation of (log x_i, log y_i) between the two checkpoints around b,

x the budget column (``C``, ``D``, ``step``) and y the column read (the target by default).
Log-log because losses and budgets are read as power laws: between checkpoints 10,000 steps
apart a power law is a straight line there, and the interpolant is exact at every checkpoint.
Outside a run's own range of x the value is NaN (no extrapolation); a budget on a run's first
or last checkpoint (to a relative 1e-9, float64 rounding of a product like step x FLOPs per
step) is inside. Checkpoints may come in any row order; they are sorted by x within each run.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from jaxlaws.datasets.dataset import Dataset
from jaxlaws.errors import JaxlawsError

# A budget within this relative distance of a run's first or last checkpoint counts as inside:
# products such as step x flops_per_step round at ~1e-16 relative, budgets read from text at
# ~1e-12; 1e-9 is far above both and far below the spacing of any two checkpoints (~1e-2).
EDGE_RTOL = 1e-9


def run_labels(data: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """``(labels [R], index [n])``: the runs (sorted, as ``np.unique`` sorts) and each row's run."""
    if data.runs is None:
        raise JaxlawsError(f"dataset {data.name!r} has no runs: training curves need a run label per checkpoint "
                           "(Dataset(runs=...), from_csv(..., run=COLUMN))")
    labels, inv = np.unique(data.runs, return_inverse=True)
    return labels, inv.reshape(-1)


def per_run(data: Dataset, name: str) -> np.ndarray:
    """``[R]`` the value of column ``name`` in each run (runs in :func:`run_labels` order); it must
    be the same at every checkpoint of a run (a model size, a router type)."""
    labels, inv = run_labels(data)
    col = data.column(name)
    first = np.zeros(len(labels), np.int64)
    first[inv[::-1]] = np.arange(len(inv))[::-1]
    out = col[first]
    differs = np.flatnonzero(col != out[inv])
    if len(differs):
        i = int(differs[0])
        raise JaxlawsError(f"dataset {data.name!r}: column {name!r} is not constant within run {str(labels[inv[i]])!r} "
                           f"({out[inv[i]]} and {col[i]})")
    return out


def ranges(data: Dataset, by: str = "C") -> tuple[np.ndarray, np.ndarray]:
    """``(first [R], last [R])``: each run's smallest and largest ``by`` (runs in :func:`run_labels` order)."""
    labels, inv = run_labels(data)
    x = np.asarray(data.column(by), np.float64)
    first = np.full(len(labels), np.inf)
    last = np.full(len(labels), -np.inf)
    np.minimum.at(first, inv, x)
    np.maximum.at(last, inv, x)
    return first, last


@dataclasses.dataclass(frozen=True, eq=False)
class Readout:
    """Each run's value of one column at budgets.

    Attributes:
      runs: ``[R]`` run labels (sorted).
      budgets: ``[K]`` the budgets, in the units of ``by``.
      by: the budget column (``"C"``, ``"D"``, ``"step"``, ...).
      column: the column read.
      values: ``[R, K]`` interpolated values; NaN where a budget is outside the run's checkpoints.
      first, last: ``[R]`` each run's smallest and largest ``by`` (its range).
      n_checkpoints: ``[R]`` checkpoints per run with a finite value of ``column``.
    """

    runs: np.ndarray
    budgets: np.ndarray
    by: str
    column: str
    values: np.ndarray
    first: np.ndarray
    last: np.ndarray
    n_checkpoints: np.ndarray

    @property
    def covered(self) -> np.ndarray:
        """``[R, K]`` bool: the budget lies within the run's checkpoints."""
        return np.isfinite(self.values)


def check_budgets(budgets: Any, what: str = "budgets") -> np.ndarray:
    b = np.atleast_1d(np.asarray(budgets, np.float64))
    if b.ndim != 1 or b.size == 0 or not np.all(np.isfinite(b)) or np.any(b <= 0):
        raise JaxlawsError(f"{what} must be a non-empty list of positive, finite numbers")
    return b


def read(data: Dataset, budgets: Any, by: str = "C", column: str | None = None) -> Readout:
    """Each run's ``column`` (default: the target) at ``budgets`` of ``by``, interpolated linearly in
    log-log between checkpoints (see the module docstring).

    Raises :class:`JaxlawsError` when the dataset has no runs, a run has fewer than two
    checkpoints or two checkpoints at the same budget, a budget or value is not positive, or no
    budget lies within any run's range (a budget that only some runs cover is NaN in the others,
    and one that no run covers is NaN throughout). A checkpoint whose ``column`` is NaN (a missing
    measurement in an extra column) is skipped.
    """
    labels, inv = run_labels(data)
    column = data.target if column is None else column
    x = np.asarray(data.column(by), np.float64)
    y = np.asarray(data.column(column), np.float64)
    if y.ndim != 1:
        raise JaxlawsError(f"column {column!r} has shape {y.shape}: curves are read one column at a time")
    b = check_budgets(budgets)
    if not np.all(np.isfinite(x)) or np.any(x <= 0):
        i = int(np.flatnonzero(~(np.isfinite(x) & (x > 0)))[0])
        raise JaxlawsError(f"dataset {data.name!r}: {by} is {x[i]:g} at a checkpoint of run {str(labels[inv[i]])!r}; "
                           "log interpolation needs positive budgets (drop step-0 rows)")
    ok = np.isfinite(y)
    if np.any(y[ok] <= 0):
        i = int(np.flatnonzero(ok & (y <= 0))[0])
        raise JaxlawsError(f"dataset {data.name!r}: {column} is {y[i]:g} at a checkpoint of run {str(labels[inv[i]])!r}; "
                           "log interpolation needs positive values")
    R, K = len(labels), len(b)
    order = np.lexsort((x, inv))  # by run, then budget
    inv_s, x_s, y_s, ok_s = inv[order], x[order], y[order], ok[order]
    starts = np.searchsorted(inv_s, np.arange(R + 1))
    values = np.full((R, K), np.nan)
    first, last, n_ck = np.empty(R), np.empty(R), np.zeros(R, np.int64)
    lb = np.log(b)
    for r in range(R):
        xs, ys, oks = x_s[starts[r]:starts[r + 1]], y_s[starts[r]:starts[r + 1]], ok_s[starts[r]:starts[r + 1]]
        if len(xs) < 2:
            raise JaxlawsError(f"run {str(labels[r])!r} has {len(xs)} checkpoint: a training curve needs at least 2 "
                               "to interpolate between")
        dup = np.flatnonzero(np.diff(xs) == 0)
        if len(dup):
            raise JaxlawsError(f"run {str(labels[r])!r} has two checkpoints at {by} = {xs[dup[0]]:g}")
        first[r], last[r] = xs[0], xs[-1]
        xs, ys = xs[oks], ys[oks]
        n_ck[r] = len(xs)
        if len(xs) < 2:
            continue  # fewer than two measurements of this column: no value anywhere
        lx = np.log(xs)
        inside = (lb >= lx[0] - EDGE_RTOL) & (lb <= lx[-1] + EDGE_RTOL)
        values[r, inside] = np.exp(np.interp(np.clip(lb[inside], lx[0], lx[-1]), lx, np.log(ys)))
    if not np.any(np.isfinite(values)):
        bad = ", ".join(f"{v:.3g}" for v in b[:5])
        raise JaxlawsError(f"budget(s) {by} = {bad} lie outside every run's range ({by} from {first.min():.3g} "
                           f"to {last.max():.3g})")
    return Readout(runs=labels, budgets=b, by=by, column=column, values=values, first=first, last=last,
                   n_checkpoints=n_ck)


__all__ = ["EDGE_RTOL", "Readout", "check_budgets", "per_run", "ranges", "read", "run_labels"]
