"""What every approach returns: a compute-optimal frontier N*(C), D*(C) at budgets, the power laws
N* = k_N C^a and D* = k_D C^b through it, and run-bootstrap replicates of all of them.

The exponents are least-squares slopes in log-log over the budgets an approach located (the
same definition for the three approaches; for a law with an exact power-law frontier, such as
Chinchilla's closed form, the slope is that exponent to rounding). Intervals are percentile
intervals of the replicates (:class:`jaxlaws.intervals.Samples`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from jaxlaws.errors import JaxlawsError
from jaxlaws.intervals import Samples, check_level

APPROACHES = {
    "envelope": "Approach 1: envelope of training curves",
    "isoflop": "Approach 2: IsoFLOP profiles",
    "parametric": "Approach 3: parametric fit",
}
# Per-budget verdicts: "ok"; "edge" (the optimum sits at the edge of the sampled model sizes);
# "outside" (beyond them); "flat" (the profile cannot locate a minimum); "few runs" (too few runs
# reach the budget). Only "ok" and "edge" budgets enter the exponent fit.
USED_FLAGS = ("ok", "edge")
# Below this share of usable run resamples the intervals are conditional on the lucky ones (a
# resample that drew too few runs to locate two budgets has no exponent): say so.
FEW_USABLE = 0.9


class NoFrontier(JaxlawsError):
    """The data located a compute-optimal size at fewer than two budgets: no exponent can be fitted
    (an outcome of the data, not bad input; :func:`~jaxlaws.analysis.approaches.compare` records it)."""


def run_resamples(n_runs: int, n_boot: int, seed: int) -> np.ndarray:
    """``[n_boot, n_runs]`` multinomial counts: runs drawn with replacement, runs in sorted-label
    order. The draw is the one ``jl.bootstrap(..., scheme="groups", groups=runs, seed=seed)`` makes
    (``numpy.random.default_rng(seed).multinomial``), so the approaches can share resamples."""
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 0:
        raise JaxlawsError(f"n_boot must be a non-negative integer, got {n_boot!r}")
    if n_boot and n_runs < 2:
        raise JaxlawsError(f"a bootstrap over runs needs at least 2 runs, got {n_runs}")
    if not n_boot:
        return np.zeros((0, n_runs))
    rng = np.random.default_rng(seed)
    return rng.multinomial(n_runs, np.full(n_runs, 1.0 / n_runs), size=n_boot).astype(np.float64)


def loglog_fit(budgets: np.ndarray, Y: np.ndarray, use: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise least squares ``log Y = log k + e log C`` over the budgets ``use`` marks.

    ``budgets [K]``, ``Y [B, K]``, ``use [B, K]`` -> ``(e [B], log k [B])``; NaN for a row with
    fewer than two distinct budgets in use. Centred on each row's mean log C, so the intercept
    does not cancel digits (log C ~ 40-60).
    """
    x = np.log(budgets)[None, :]
    w = (use & np.isfinite(Y) & (Y > 0)).astype(np.float64)
    y = np.log(np.where(w > 0, Y, 1.0))
    n = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        xm = (w * x).sum(axis=1) / n
        ym = (w * y).sum(axis=1) / n
        dx = x - xm[:, None]
        sxx = (w * dx * dx).sum(axis=1)
        e = (w * dx * (y - ym[:, None])).sum(axis=1) / sxx
        logk = ym - e * xm
    bad = (n < 2) | ~(sxx > 0)
    return np.where(bad, np.nan, e), np.where(bad, np.nan, logk)


@dataclasses.dataclass(frozen=True, eq=False)
class Frontier:
    """A compute-optimal frontier estimated one way.

    Attributes:
      approach: ``"envelope"``, ``"isoflop"`` or ``"parametric"`` (:data:`APPROACHES` has titles).
      budgets: ``[K]`` compute budgets (FLOPs, in the data's compute column).
      N_opt, D_opt: ``[K]`` the full-data frontier (NaN where a budget has no estimate).
      flags: ``[K]`` per-budget verdicts (see :data:`USED_FLAGS`).
      used: ``[K]`` bool: the budgets the full-data exponents are fitted on.
      a, b: the exponents, N* ~ C^a and D* ~ C^b (log-log least squares over ``used``).
      log_kN, log_kD: the intercepts: log N* = log_kN + a log C (natural logs).
      N_boot, D_boot: ``[B, K]`` each run resample's frontier; ``used_boot``: ``[B, K]``.
      a_boot, b_boot, log_kN_boot, log_kD_boot: ``[B]`` each resample's power laws (NaN where
        a resample located fewer than two budgets: it is counted as failed).
      n_boot: resamples drawn (``B`` may be smaller for approaches that keep usable ones only).
      warnings: one-line warnings, most serious first.
      details: approach-specific (the envelope's winning runs, the profile fits, the fit and bootstrap).
    """

    approach: str
    budgets: np.ndarray
    N_opt: np.ndarray
    D_opt: np.ndarray
    flags: tuple[str, ...]
    used: np.ndarray
    a: float
    b: float
    log_kN: float
    log_kD: float
    N_boot: np.ndarray
    D_boot: np.ndarray
    used_boot: np.ndarray
    a_boot: np.ndarray
    b_boot: np.ndarray
    log_kN_boot: np.ndarray
    log_kD_boot: np.ndarray
    n_boot: int
    warnings: tuple[str, ...] = ()
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def build(cls, approach: str, budgets: np.ndarray, N: np.ndarray, D: np.ndarray, use: np.ndarray,
              flags: tuple[str, ...], n_boot: int, warnings: tuple[str, ...] = (),
              details: Mapping[str, Any] | None = None) -> Frontier:
        """From ``N, D, use [1 + B, K]``: row 0 the full data, then one row per resample."""
        if approach not in APPROACHES:
            raise JaxlawsError(f"unknown approach {approach!r}; approaches are {list(APPROACHES)}")
        a, ln = loglog_fit(budgets, N, use)
        b, ld = loglog_fit(budgets, D, use)
        if not np.isfinite(a[0]):
            raise NoFrontier(f"{APPROACHES[approach]}: fewer than two budgets located a compute-optimal size "
                               "on the full data, so no exponent can be fitted; choose budgets that more runs reach")
        n_used = int(np.sum(np.isfinite(a[1:]) & np.isfinite(b[1:])))
        warnings = tuple(warnings)
        if n_boot and n_used < FEW_USABLE * n_boot:
            warnings += (f"{APPROACHES[approach]}: only {n_used} of {n_boot} run resamples located two or more budgets; "
                         "the intervals are conditional on those and too narrow",)
        return cls(approach=approach, budgets=budgets, N_opt=N[0], D_opt=D[0], flags=tuple(flags), used=use[0],
                   a=float(a[0]), b=float(b[0]), log_kN=float(ln[0]), log_kD=float(ld[0]),
                   N_boot=N[1:], D_boot=D[1:], used_boot=use[1:], a_boot=a[1:], b_boot=b[1:],
                   log_kN_boot=ln[1:], log_kD_boot=ld[1:], n_boot=int(n_boot), warnings=warnings,
                   details=dict(details or {}))

    # ---- bookkeeping ---------------------------------------------------------------------
    @property
    def title(self) -> str:
        return APPROACHES[self.approach]

    @property
    def usable(self) -> np.ndarray:
        """``[B]`` bool: resamples with an exponent (two or more budgets located)."""
        return np.isfinite(self.a_boot) & np.isfinite(self.b_boot)

    @property
    def n_used(self) -> int:
        return int(self.usable.sum())

    @property
    def n_failed(self) -> int:
        """Resamples drawn that gave no exponent."""
        return int(self.n_boot - self.n_used)

    @property
    def ok(self) -> bool:
        """Nothing argues against the result (no warning)."""
        return not self.warnings

    # ---- exponents -----------------------------------------------------------------------
    def samples(self, name: str) -> np.ndarray:
        """The usable replicates of ``"a"`` or ``"b"``."""
        if name not in ("a", "b"):
            raise JaxlawsError(f"a frontier's exponents are 'a' and 'b', not {name!r}")
        return (self.a_boot if name == "a" else self.b_boot)[self.usable]

    def ci(self, level: float = 0.9, method: str = "percentile") -> dict[str, tuple[float, float]]:
        """``{"a": (lo, hi), "b": (lo, hi)}`` from the run resamples (NaN without any)."""
        level = check_level(level)
        if not self.n_used:
            return {"a": (np.nan, np.nan), "b": (np.nan, np.nan)}
        est = np.array([self.a, self.b])
        lo, hi = Samples(est, np.stack([self.samples("a"), self.samples("b")], axis=1)).ci(level, method)
        return {"a": (float(lo[0]), float(hi[0])), "b": (float(lo[1]), float(hi[1]))}

    @property
    def se(self) -> dict[str, float]:
        """Bootstrap standard errors of ``a`` and ``b`` (NaN with fewer than two usable resamples)."""
        if self.n_used < 2:
            return {"a": np.nan, "b": np.nan}
        return {k: float(np.std(self.samples(k), ddof=1)) for k in ("a", "b")}

    # ---- the frontier at any budget ---------------------------------------------------------
    def predict(self, C: Any) -> dict[str, np.ndarray]:
        """The fitted power laws at budgets ``C``: ``{"N_opt", "D_opt"}``."""
        lc = np.log(np.asarray(C, np.float64))
        return {"N_opt": np.exp(self.log_kN + self.a * lc), "D_opt": np.exp(self.log_kD + self.b * lc)}

    def band(self, C: Any, level: float = 0.9) -> dict[str, np.ndarray]:
        """Pointwise percentile bands of the resamples' power laws at budgets ``C``:
        ``{"N_lo", "N_hi", "D_lo", "D_hi"}`` (NaN without resamples)."""
        level = check_level(level)
        lc = np.atleast_1d(np.log(np.asarray(C, np.float64)))
        u = self.usable
        q = [(1 - level) / 2, (1 + level) / 2]
        if not u.any():
            nan = np.full(lc.shape, np.nan)
            return {"N_lo": nan, "N_hi": nan, "D_lo": nan, "D_hi": nan}
        N = np.exp(self.log_kN_boot[u, None] + self.a_boot[u, None] * lc[None])
        D = np.exp(self.log_kD_boot[u, None] + self.b_boot[u, None] * lc[None])
        (nl, nh), (dl, dh) = np.quantile(N, q, axis=0), np.quantile(D, q, axis=0)
        return {"N_lo": nl, "N_hi": nh, "D_lo": dl, "D_hi": dh}

    def at(self, C: float, level: float = 0.9) -> dict[str, tuple[float, float, float]]:
        """N* and D* at one budget ``C``: ``{"N_opt": (estimate, lo, hi), "D_opt": (...)}``, from the
        fitted power laws (an extrapolation beyond the budgets fitted: see :attr:`budgets`)."""
        p, bd = self.predict(C), self.band([C], level)
        return {"N_opt": (float(p["N_opt"]), float(bd["N_lo"][0]), float(bd["N_hi"][0])),
                "D_opt": (float(p["D_opt"]), float(bd["D_lo"][0]), float(bd["D_hi"][0]))}

    # ---- reports ---------------------------------------------------------------------------
    def to_dict(self, level: float = 0.9) -> dict[str, Any]:
        ci = self.ci(level)
        return {
            "approach": self.approach, "title": self.title, "a": self.a, "b": self.b,
            "ci": {k: list(v) for k, v in ci.items()}, "level": level, "se": self.se,
            "log_kN": self.log_kN, "log_kD": self.log_kD,
            "budgets": self.budgets.tolist(), "N_opt": self.N_opt.tolist(), "D_opt": self.D_opt.tolist(),
            "flags": list(self.flags), "n_budgets_used": int(self.used.sum()),
            "n_boot": self.n_boot, "n_used": self.n_used, "n_failed": self.n_failed,
            "warnings": list(self.warnings),
        }

    def __str__(self) -> str:
        ci = self.ci(0.9)
        return (f"{self.title}: a = {self.a:.3f} [{ci['a'][0]:.3f}, {ci['a'][1]:.3f}], "
                f"b = {self.b:.3f} [{ci['b'][0]:.3f}, {ci['b'][1]:.3f}] (90%; {int(self.used.sum())} of "
                f"{len(self.budgets)} budgets, {self.n_used} of {self.n_boot} run resamples)")


def flag_summary(flags: tuple[str, ...], budgets: np.ndarray, kinds: Mapping[str, str]) -> list[str]:
    """One clause per flag kind present: ``"2 of 8 budgets <what> (C = 1e19, 3e19)"``."""
    out = []
    for kind, what in kinds.items():
        idx = [i for i, f in enumerate(flags) if f == kind]
        if idx:
            cs = ", ".join(f"{budgets[i]:.2g}" for i in idx[:4]) + (" ..." if len(idx) > 4 else "")
            out.append(f"{len(idx)} of {len(flags)} budgets {what} (C = {cs})")
    return out
