"""Every lane's outcome, and the one place the best lane of each fit is picked."""

from __future__ import annotations

import dataclasses

import numpy as np

from jaxlaws.solvers.status import Status


@dataclasses.dataclass(frozen=True)
class Lanes:
    """Every lane's outcome (numpy, one row per lane, in the batch's lane order).

    Attributes:
      theta: ``[L, P]`` end points, internal coordinates (float64).
      value: ``[L]`` the objective there.
      steps: ``[L]`` steps taken (both phases in mixed precision).
      status: ``[L]`` :class:`Status` codes (the float64 polish's verdict in mixed precision).
      compile_s, run_s: seconds spent compiling (or waiting for a compile) and running.
      coarse_steps, coarse_status: ``[L]`` of the float32 phase (``precision="mixed"``), else None.
    """

    theta: np.ndarray
    value: np.ndarray
    steps: np.ndarray
    status: np.ndarray
    compile_s: float
    run_s: float
    coarse_steps: np.ndarray | None = None
    coarse_status: np.ndarray | None = None

    @property
    def converged(self) -> np.ndarray:
        """``[L]`` bool: a tolerance was met (nothing else counts)."""
        return Status.converged_mask(self.status)

    @property
    def failed(self) -> np.ndarray:
        """``[L]`` bool: no usable end point (non-finite objective)."""
        return Status.failed_mask(self.status) | ~np.isfinite(self.value)

    def best(self, fit_index: np.ndarray, n_fits: int) -> np.ndarray:
        """``[n_fits]`` the lane with the lowest finite objective among the lanes of each fit that
        did not fail and were not culled (ties: the first lane); -1 for a fit whose every lane
        failed. A culled lane (racing) is never a fit's answer: it was stopped mid-run, and racing
        resumes any culled lane that could have been."""
        if not len(self.value):
            return np.full(n_fits, -1, np.int64)
        val = np.where(self.failed | Status.culled_mask(self.status), np.inf, self.value)
        order = np.lexsort((np.arange(len(val)), val, fit_index))  # by fit, then value, then lane
        first = np.full(n_fits, -1, np.int64)
        fi = fit_index[order]
        start = np.flatnonzero(np.r_[True, fi[1:] != fi[:-1]])
        first[fi[start]] = order[start]
        ok = first >= 0
        first[ok & ~np.isfinite(val[np.maximum(first, 0)])] = -1
        return first

    def pick(self, fit_index: np.ndarray, n_fits: int) -> tuple[np.ndarray, np.ndarray]:
        """``(index [n_fits], failed [n_fits])``: each fit's best lane (:meth:`best`), and for a fit
        whose every lane failed, its first lane with ``failed`` set (its numbers are not a fit)."""
        best = self.best(fit_index, n_fits)
        first = np.full(n_fits, -1, np.int64)
        first[fit_index[::-1]] = np.arange(len(fit_index))[::-1]  # the first lane of each fit
        failed = best < 0
        return np.where(failed, first, best), failed
