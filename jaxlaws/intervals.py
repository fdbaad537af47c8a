"""Bootstrap summaries of a sample ``[B, ...]``: standard errors and intervals.

Percentile: the (1-level)/2 and (1+level)/2 sample quantiles.
Basic: 2*estimate - those quantiles, swapped.
BCa (Efron 1987): percentile levels corrected for bias (z0, from the share of
samples below the estimate) and acceleration (a, from jackknife estimates).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from jax.scipy.special import ndtr, ndtri

from jaxlaws.errors import JaxlawsError

METHODS = ("percentile", "basic", "bca")


def check_level(level: float) -> float:
    level = float(level)
    if not 0.0 < level < 1.0:
        raise JaxlawsError(f"confidence level must be in (0, 1), got {level}")
    return level


def _norm_cdf(x: Any) -> np.ndarray:
    with jax.enable_x64(True):
        return np.asarray(ndtr(np.asarray(x, np.float64)))


def _norm_ppf(p: Any) -> np.ndarray:
    with jax.enable_x64(True):
        return np.asarray(ndtri(np.asarray(p, np.float64)))


@dataclasses.dataclass(frozen=True)
class Samples:
    """Bootstrap replicates of one quantity.

    Attributes:
      estimate: the value on the full data, shape ``S``.
      samples: ``[B, *S]`` replicates from the usable resamples.
      jackknife: ``[n, *S]`` leave-one-out values (for BCa), or None.
    """

    estimate: np.ndarray
    samples: np.ndarray
    jackknife: np.ndarray | None = None

    @property
    def se(self) -> np.ndarray:
        return np.std(self.samples, axis=0, ddof=1)

    def quantiles(self, q: float | Sequence[float]) -> np.ndarray:
        return np.quantile(self.samples, q, axis=0)

    def ci(self, level: float = 0.95, method: str = "percentile") -> tuple[np.ndarray, np.ndarray]:
        """``(lo, hi)``, each of the quantity's shape."""
        level = check_level(level)
        if method not in METHODS:
            raise JaxlawsError(f"unknown interval method {method!r}; choose from {', '.join(METHODS)}")
        a = (1.0 - level) / 2.0
        if method == "percentile":
            lo, hi = self.quantiles([a, 1.0 - a])
            return lo, hi
        if method == "basic":
            qlo, qhi = self.quantiles([a, 1.0 - a])
            return 2.0 * self.estimate - qhi, 2.0 * self.estimate - qlo
        if self.jackknife is None:
            raise JaxlawsError("bca intervals need jackknife values: bootstrap(..., jackknife=True)")
        B = self.samples.shape[0]
        below = (np.sum(self.samples < self.estimate, axis=0) + 0.5 * np.sum(self.samples == self.estimate, axis=0)) / B
        z0 = _norm_ppf(np.clip(below, 1.0 / (B + 1), B / (B + 1)))
        d = self.jackknife.mean(axis=0) - self.jackknife
        den = 6.0 * np.sum(d * d, axis=0) ** 1.5
        acc = np.where(den > 0, np.sum(d ** 3, axis=0) / np.where(den > 0, den, 1.0), 0.0)
        out = []
        for z in _norm_ppf([a, 1.0 - a]):
            p = _norm_cdf(z0 + (z0 + z) / (1.0 - acc * (z0 + z)))
            flat = self.samples.reshape(B, -1)
            pf = np.broadcast_to(p, self.estimate.shape).reshape(-1)
            out.append(np.array([np.quantile(flat[:, i], pf[i]) for i in range(flat.shape[1])]).reshape(self.estimate.shape))
        return out[0], out[1]
