"""Approach 1 (Hoffmann et al. 2022, section 3.1): the lower envelope of training curves.

On a grid of compute budgets, every run's loss at that budget is read off its curve
(:func:`jaxlaws.datasets.curves.read`); the envelope keeps the run with the lowest loss, whose
model size N and tokens D at that budget are the frontier's point there. N* = k_N C^a and
D* = k_D C^b are then fitted by least squares in log-log (:mod:`.frontier`).

Intervals come from resampling *runs* with replacement (a run drawn twice is still one curve,
so the envelope of a resample is the envelope of the runs it drew). Every resample's envelope
is one masked minimum over ``[B, runs, budgets]``: no fitting.

The envelope can only return sizes that were trained: N*(C) is a step function of C, and at a
budget where the best run is the smallest or largest model reaching it, the optimum may lie
beyond the sizes trained (flagged ``edge``). Curves that are checkpoints of single long runs
bias it further (see the ``routing_curves`` provenance).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jaxlaws.analysis.approaches.frontier import Frontier, flag_summary, run_resamples
from jaxlaws.datasets import Dataset, coerce, curves
from jaxlaws.errors import JaxlawsError


def budget_range(data: Dataset, by: str = "C") -> tuple[float, float]:
    """The smallest and largest budget any run reaches."""
    first, last = curves.ranges(data, by)
    return float(first.min()), float(last.max())


def envelope(data: Any, budgets: Any = None, *, n_budgets: int = 100, n_boot: int = 200, seed: int = 0,
             by: str = "C", size: str = "N", tokens: str = "D", min_runs: int = 2) -> Frontier:
    """Approach 1: the envelope of the training curves in ``data`` (a Dataset with ``runs``).

    Args:
      data: curves: a Dataset (or bundled name) with ``runs``, the budget column ``by``, a
        per-run model size ``size`` and the tokens column ``tokens``.
      budgets: compute budgets (default: ``n_budgets`` log-spaced from the smallest to the
        largest budget any run reaches, keeping those that ``min_runs`` runs reach).
      n_boot: run resamples for the intervals (0: none).
      seed: seeds the resampling (the same draw as ``jl.bootstrap(scheme="groups", seed=seed)``).
      by, size, tokens: the compute, model-size and token columns.
      min_runs: a budget that fewer runs reach is left out of the fit (flagged ``few runs``):
        with one run the envelope is that run, whatever its size.
    """
    data = coerce(data)
    if isinstance(min_runs, bool) or not isinstance(min_runs, (int, np.integer)) or min_runs < 1:
        raise JaxlawsError(f"min_runs must be a positive integer, got {min_runs!r}")
    sizes = curves.per_run(data, size).astype(np.float64)
    if budgets is None:
        lo, hi = budget_range(data, by)
        grid = np.logspace(np.log10(lo), np.log10(hi), int(n_budgets))
        reach = curves.read(data, grid, by=by).covered.sum(axis=0)
        budgets = grid[reach >= min_runs]
        if len(budgets) < 2:
            raise JaxlawsError(f"fewer than two budgets are reached by {min_runs} runs: the curves do not overlap")
    else:
        budgets = curves.check_budgets(budgets)
    loss = curves.read(data, budgets, by=by)
    D = curves.read(data, budgets, by=by, column=tokens).values
    outside = ~loss.covered.any(axis=0)
    if outside.any():
        cs = ", ".join(f"{c:.3g}" for c in loss.budgets[outside][:4])
        raise JaxlawsError(f"budget(s) {by} = {cs} lie outside every run's range ({by} from {loss.first.min():.3g} "
                           f"to {loss.last.max():.3g})")
    R, K = loss.values.shape
    counts = run_resamples(R, n_boot, seed)
    present = np.concatenate([np.ones((1, R), bool), counts > 0])  # [1 + B, R]
    reach = present[:, :, None] & loss.covered[None]  # [1 + B, R, K]
    vals = np.where(reach, loss.values[None], np.inf)
    win = np.argmin(vals, axis=1)  # [1 + B, K]
    n_reach = reach.sum(axis=1)
    use = n_reach >= min_runs
    N_all = np.where(use, sizes[win], np.nan)
    D_all = np.where(use, np.take_along_axis(np.broadcast_to(D[None], vals.shape), win[:, None, :], 1)[:, 0], np.nan)

    # Full data: is the winner the smallest or largest size that reaches the budget?
    lo_size = np.where(loss.covered, sizes[:, None], np.inf).min(axis=0)
    hi_size = np.where(loss.covered, sizes[:, None], -np.inf).max(axis=0)
    w0 = sizes[win[0]]
    flags = tuple("few runs" if not use[0, k] else "edge" if w0[k] in (lo_size[k], hi_size[k]) else "ok"
                  for k in range(K))
    notes = flag_summary(flags, budgets, {
        "few runs": f"are reached by fewer than {min_runs} runs and are left out",
        "edge": "have the smallest or largest size that reaches them as the best run (the optimum may lie beyond)",
    })
    warnings = (f"envelope: {'; '.join(notes)}",) if notes else ()
    details = {"runs": loss.runs, "winner": loss.runs[win[0]], "loss": np.min(vals[0], axis=0),
               "n_runs": n_reach[0], "sizes": sizes}
    return Frontier.build("envelope", budgets, N_all, D_all, use, flags, n_boot, warnings, details)
