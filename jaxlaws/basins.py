"""Distinct basins among a multi-start fit's lanes, and how many lanes reached the best one."""

from __future__ import annotations

import numpy as np

# Two lanes share a basin when their objectives agree to BASIN_FTOL relative *or* their points
# agree to BASIN_XTOL (relative sup norm, internal coordinates): lanes spread along one flat
# valley share an objective and count once; the converged lanes' own tolerances (ftol 1e-14 in
# float64) are far tighter, so one optimum's lanes agree to well within these.
BASIN_FTOL = 1e-6
BASIN_XTOL = 1e-2
MAX_BASINS = 1000  # counted up to this many (a report says "1000" for "1000 or more")


def distinct(theta: np.ndarray, value: np.ndarray, usable: np.ndarray, best: int, k: int | None = None,
             margin: float | None = None) -> np.ndarray:
    """Lane indices of the best lane and of up to ``k`` more distinct basins (all if ``k`` is None),
    best first.

    Lanes in ``usable`` (``[L]`` bool, e.g. converged) are taken in order of objective. A lane
    opens a new basin if its objective differs from every basin's by more than ``BASIN_FTOL``
    relative *and* its point by more than ``BASIN_XTOL``. With ``margin``, only basins whose
    objective is at most ``(1 + margin)`` times the best's are kept.
    """
    f = np.asarray(value, np.float64)
    theta = np.asarray(theta, np.float64)
    ok = np.asarray(usable, bool) & np.isfinite(f)
    if margin is not None:
        ok &= f <= (1.0 + margin) * f[best]
    ok[best] = False
    rest = np.flatnonzero(ok)
    rest = rest[np.argsort(f[rest], kind="stable")]
    picked = [best]
    # Greedy in order of objective, written as: take the lowest remaining lane, drop every lane
    # that shares its basin. The next lowest survivor is the lane the one-by-one greedy would
    # pick next, so the basins are the same, in as many numpy passes as there are basins.
    while True:
        j = picked[-1]
        same_f = np.abs(f[rest] - f[j]) <= BASIN_FTOL * abs(f[j])
        # initial=0: with no free parameter every lane is the same point, one basin.
        same_x = (np.max(np.abs(theta[rest] - theta[j]), axis=1, initial=0.0)
                  <= BASIN_XTOL * (1.0 + np.max(np.abs(theta[j]), initial=0.0)))
        rest = rest[~(same_f | same_x)]
        if not len(rest) or (k is not None and len(picked) == k + 1) or len(picked) >= MAX_BASINS:
            break
        picked.append(int(rest[0]))
    return np.asarray(picked, np.int64)


def reaching_best(value: np.ndarray, usable: np.ndarray, best: int) -> np.ndarray:
    """``[L]`` bool: usable lanes whose objective is within ``BASIN_FTOL`` (relative) of the best's."""
    f = np.asarray(value, np.float64)
    return np.asarray(usable, bool) & (np.abs(f - f[best]) <= BASIN_FTOL * abs(f[best]))
