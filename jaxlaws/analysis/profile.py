"""Profile-likelihood intervals: hold one parameter at each value of a grid, refit the others,
and keep the values whose fit is not significantly worse.

Every grid value is a constrained refit, and every refit of every profiled parameter is a lane
of **one** engine call: a lane's bound row (:class:`jaxlaws.problem.Batch`) has ``lower ==
upper`` in the profiled coordinate. Each value is started from the fit's optimum moved along the
covariance's regression line (the other coordinates shifted by ``Sigma_kj / Sigma_jj`` times the
change, the exact profile path of a linear model) and from the fit's distinct basins with the
coordinate set; its best lane is its refit.

The statistic, compared with the chi-square(1) quantile ``q = z^2`` at ``level``:

* squared losses (``mse``, ``mse-log``): the likelihood ratio of the Gaussian likelihood with
  the noise variance profiled out (:func:`jaxlaws.diagnostics.information`'s), ``2 dl(v) = m
  ln(Q(v) / Q_hat)`` with ``Q`` the summed (weighted) squared residuals and ``m`` the residuals
  with positive weight. For a straight line ``y = a + b x`` with Gaussian noise this is exact:
  ``Q(b) = Q_hat + (b - b_hat)^2 S_xx``, so the interval is ``b_hat +- sqrt(m (e^{q/m} - 1))
  se_ML`` with ``se_ML = sqrt(Q_hat / (m S_xx))``, which tends to Wald's ``b_hat +- z se_ML``;
* Huber losses: ``2 (Q(v) - Q_hat)`` of an M-estimator is not a chi-square: near the optimum
  it is ``c (u - u_hat)^2`` with ``c`` the objective's curvature along the profile, while
  ``u_hat`` varies with the sandwich variance ``V`` (:mod:`jaxlaws.diagnostics`). The statistic
  is ``2 (Q(v) - Q_hat) / (c V)`` (a curvature-adjusted profile, as Chandler & Bate (2007)
  adjust composite likelihoods): to second order the interval is the sandwich's Wald interval,
  and beyond it the profile's own shape (asymmetry, a bound) shows. ``c`` is measured on the
  profile itself, by least squares of ``2 (Q - Q_hat)`` on ``(u - u_hat)^2`` over the grid values
  within one sandwich standard error (a Huber objective with a small delta is piecewise
  quadratic, and its curvature at a point is not the bread's average). So calibrated, the
  interval is no better than the sandwich's variance: on Chinchilla it is off the
  bootstrap's by the sandwich's own ratios (see :mod:`jaxlaws.diagnostics`).

``u`` is the profiled parameter's internal coordinate (log for ``scale="log"``), where the grid
is spaced and the end points are interpolated (cubic in the signed root ``sign(u - u_hat)
sqrt(stat)``, which is nearly linear in ``u``). An end point the statistic does not reach
before the parameter's bound is the bound, flagged ``"bound"``; before the grid's end, the
grid's end, flagged ``"grid"`` (widen ``span``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from jaxlaws import engine
from jaxlaws.bootstrap import distinct_basins
from jaxlaws.errors import JaxlawsError
from jaxlaws.fit import FitResult, fit as fit_fn
from jaxlaws.intervals import _norm_ppf, check_level
from jaxlaws.losses import Squared
from jaxlaws.problem import Batch
from jaxlaws.solvers import Status, get as get_solver

# A grid value whose refit lies below the fit's objective by more than this (relative) says the
# fit was not the optimum (LM's ftol is 1e-14: its own end points agree far closer).
IMPROVED_RTOL = 1e-9


@dataclasses.dataclass(frozen=True)
class Profile:
    """The profile of one parameter.

    Attributes:
      param: its name.
      values: ``[G]`` the grid (natural units, increasing), the estimate among them.
      objective: ``[G]`` the summed loss of each constrained refit.
      statistic: ``[G]`` the calibrated ``2 delta loglik`` (see the module docstring; NaN where
        the refit failed).
      status: ``[G]`` :class:`~jaxlaws.Status` codes of each refit's best lane.
      estimate, objective_hat: the fit's value of the parameter and its objective (the lowest
        objective seen, should a refit go below the fit's).
      level, threshold: the level and the chi-square(1) quantile the statistic is held to.
      lo, hi: the interval (natural units).
      lo_limit, hi_limit: ``None`` where the statistic crossed the threshold, ``"bound"`` where
        the interval runs into the parameter's bound, ``"grid"`` where into the grid's end.
      calibration: how the statistic is formed (words); curvature_scale: the divisor ``c V`` of
        the Huber statistic (NaN for a squared loss).
      warnings: one line each.
    """

    param: str
    values: np.ndarray
    objective: np.ndarray
    statistic: np.ndarray
    status: np.ndarray
    estimate: float
    objective_hat: float
    level: float
    threshold: float
    lo: float
    hi: float
    lo_limit: str | None
    hi_limit: str | None
    calibration: str
    curvature_scale: float
    warnings: tuple[str, ...]

    @property
    def ci(self) -> tuple[float, float]:
        return self.lo, self.hi

    def to_dict(self) -> dict[str, Any]:
        return {"param": self.param, "estimate": self.estimate, "level": self.level, "threshold": self.threshold,
                "ci": [self.lo, self.hi], "lo_limit": self.lo_limit, "hi_limit": self.hi_limit,
                "calibration": self.calibration, "values": self.values.tolist(),
                "statistic": self.statistic.tolist(), "objective": self.objective.tolist(),
                "status": [Status(int(s)).label for s in self.status], "warnings": list(self.warnings)}


def threshold(level: float) -> float:
    """The chi-square(1) quantile at ``level``: ``z^2``, ``z`` the normal ``(1 + level) / 2`` quantile."""
    z = float(_norm_ppf((1.0 + check_level(level)) / 2.0))
    return z * z


def _grid(lo: float, hi: float, centre: float, half: float, n_side: int) -> np.ndarray:
    left = np.linspace(max(lo, centre - half), centre, n_side + 1)
    right = np.linspace(centre, min(hi, centre + half), n_side + 1)
    return np.unique(np.concatenate([left, right]))


def _crossing(u: np.ndarray, z: np.ndarray, target: float, i: int, inner: int) -> float:
    """``u`` where the signed root ``z`` reaches ``target`` between points ``inner`` and ``i``
    (neighbours): cubic through the four nearest points where they are monotone, else linear."""
    lo, hi = sorted((inner, i))
    idx = [k for k in (lo - 1, lo, hi, hi + 1) if 0 <= k < len(u)]
    zz, uu = z[idx], u[idx]
    if len(idx) == 4 and np.all(np.diff(zz) > 0):
        out = 0.0
        for a in range(4):
            term = uu[a]
            for b in range(4):
                if b != a:
                    term *= (target - zz[b]) / (zz[a] - zz[b])
            out += term
        if min(u[lo], u[hi]) <= out <= max(u[lo], u[hi]):
            return float(out)
    t = (target - z[inner]) / (z[i] - z[inner])
    return float(u[inner] + t * (u[i] - u[inner]))


def profiles(
    fit: Any,
    names: Sequence[str] | None = None,
    data: Any = None,
    *,
    level: float = 0.95,
    n_side: int = 20,
    span: float = 2.5,
    values: dict[str, Sequence[float]] | None = None,
    basins: int = 2,
    solver: Any = "lm",
    precision: str = "float64",
    **fit_options: Any,
) -> dict[str, Profile]:
    """Profiles of the parameters ``names`` (default: every free one), all in one engine call.

    Args:
      fit: a :class:`~jaxlaws.FitResult`, or a law (then ``data`` and ``fit_options`` such as
        ``loss=`` are passed to :func:`jaxlaws.fit` first).
      level: the interval's level.
      n_side: grid values on each side of the estimate (``2 n_side + 1`` in all).
      span: each side reaches ``span`` Wald half-widths (``span * z * se`` in the internal
        coordinate), clipped to the bounds; a parameter with no finite standard error gets
        its whole box.
      values: name -> natural values to refit at instead of the grid (the estimate is added).
      basins: extra starts per value from the fit's distinct basins.
      solver, precision: for the refits (float64 by default: the statistic is a difference of
        nearly equal objectives).
    """
    if not isinstance(fit, FitResult):
        if data is None:
            raise JaxlawsError("profiles() takes a FitResult, or a law with data=")
        fit = fit_fn(fit, data, **fit_options)
    elif data is not None or fit_options:
        raise JaxlawsError("pass data= and fit options only with a law, not with a FitResult")
    law, prob, d = fit.law, fit.problem, fit.diagnostics
    names = list(law.params) if names is None else list(names)
    for k in names:
        if k in law.held:
            raise JaxlawsError(f"parameter {k!r} is held fixed; profile a free one ({list(law.params)})")
        if k not in law.params:
            raise JaxlawsError(f"law {law.name!r} has no parameter {k!r}; free ones are {list(law.params)}")
    if not names:
        raise JaxlawsError("no parameter to profile")
    if isinstance(n_side, bool) or not isinstance(n_side, (int, np.integer)) or n_side < 2:
        raise JaxlawsError(f"n_side must be an integer >= 2, got {n_side!r}")
    if not (np.isfinite(span) and span > 0):
        raise JaxlawsError(f"span must be positive, got {span!r}")
    q = threshold(level)
    robust = not isinstance(prob.loss, Squared)
    theta_hat = fit.theta
    cov = d.cov_internal
    lo_all, hi_all = law.lower, law.upper
    grids = {}
    for k in names:
        j = law.param_names.index(k)
        se = float(np.sqrt(cov[j, j])) if np.isfinite(cov[j, j]) else np.inf
        if robust and not (np.isfinite(se) and se > 0):
            raise JaxlawsError(f"the sandwich standard error of {k!r} is not finite: a Huber profile is calibrated "
                               f"by it; fix a parameter or use a squared loss")
        if values is not None and k in values:
            v = np.asarray(values[k], np.float64)
            p = law.params[k]
            if v.ndim != 1 or not np.all((v >= p.lower) & (v <= p.upper)):
                raise JaxlawsError(f"profile values of {k!r} must be a list inside its bounds [{p.lower:g}, {p.upper:g}]")
            grids[k] = np.unique(np.concatenate([np.asarray(p.to_internal(v), np.float64), [theta_hat[j]]]))
            continue
        if np.isfinite(se) and se > 0:
            half = span * np.sqrt(q) * se
        else:
            rng_lo, rng_hi = law.params[k].start_range()
            half = float(np.max(np.abs(np.asarray(law.params[k].to_internal(np.array([rng_lo, rng_hi]))) - theta_hat[j])))
        grids[k] = _grid(lo_all[j], hi_all[j], theta_hat[j], half, n_side)

    # ---- one batch: every value of every parameter, a bound row each ----------------------
    basin_starts = distinct_basins(fit, basins)
    starts, rows_lo, rows_hi, owner = [], [], [], []
    for k in names:
        j = law.param_names.index(k)
        slope = cov[:, j] / cov[j, j] if np.all(np.isfinite(cov[:, j])) and cov[j, j] > 0 else None
        for u in grids[k]:
            lo, hi = lo_all.copy(), hi_all.copy()
            lo[j] = hi[j] = u
            cand = [] if slope is None else [theta_hat + slope * (u - theta_hat[j])]
            cand += [b.copy() for b in basin_starts]
            for c in cand:
                c[j] = u
                starts.append(np.clip(c, lo, hi))
                owner.append(len(rows_lo))
            rows_lo.append(lo)
            rows_hi.append(hi)
    owner = np.asarray(owner, np.int32)
    z = np.zeros(len(owner), np.int32)
    batch = Batch(prob, np.array(starts), prob.obs[None], prob.weights[None], z, z, owner,
                  np.array(rows_lo), np.array(rows_hi), owner)
    lanes = engine.solve(batch, get_solver(solver), engine.Options.make(precision))
    best, failed = lanes.pick(owner, len(rows_lo))
    value = np.where(failed, np.nan, lanes.value[best])
    status = lanes.status[best]

    out, at = {}, 0
    m = int(np.sum(prob.weights > 0))
    for k in names:
        j = law.param_names.index(k)
        u = grids[k]
        Q = value[at:at + len(u)]
        st = status[at:at + len(u)]
        at += len(u)
        out[k] = _one(law, k, j, u, Q, st, fit, q, level, robust, m, cov)
    return out


def profile(fit: Any, name: str, data: Any = None, **kw: Any) -> Profile:
    """The profile of one parameter (see :func:`profiles`, whose arguments it takes)."""
    return profiles(fit, [name], data, **kw)[name]


def _one(law: Any, k: str, j: int, u: np.ndarray, Q: np.ndarray, st: np.ndarray, fit: FitResult, q: float,
         level: float, robust: bool, m: int, cov: np.ndarray) -> Profile:
    warns = []
    u_hat = fit.theta[j]
    q_min = np.nanmin(Q) if np.any(np.isfinite(Q)) else np.inf
    Q_hat = fit.objective
    if q_min < Q_hat * (1.0 - IMPROVED_RTOL):
        i = int(np.nanargmin(Q))
        warns.append(f"the refit at {k} = {_natural(law, j, u[i]):.6g} reaches objective {q_min:.10g}, below the fit's "
                     f"{Q_hat:.10g}: the fit is not the optimum; refit (more starts) before trusting this interval")
        Q_hat = q_min
    if robust:
        near = np.abs(u - u_hat) <= np.sqrt(cov[j, j]) * (1.0 + 1e-9)
        near &= np.isfinite(Q) & (u != u_hat)
        d2 = (u[near] - u_hat) ** 2
        c = float(np.sum(2.0 * (Q[near] - Q_hat) * d2) / np.sum(d2 * d2)) if near.sum() >= 2 else np.nan
        scale = c * cov[j, j]
        if not (np.isfinite(scale) and scale > 0):
            raise JaxlawsError(f"the profile of {k!r} has no measurable curvature within one standard error of the "
                               f"estimate (refine the grid with a larger n_side)")
        stat = 2.0 * (Q - Q_hat) / scale
        calibration = (f"huber: 2 (Q - Q_hat) / (c V), c = {c:.6g} the profile's curvature within one sandwich SE, "
                       f"V = {cov[j, j]:.6g} the sandwich variance (internal coordinate); chi2(1) threshold")
    else:
        scale = np.nan
        with np.errstate(divide="ignore", invalid="ignore"):
            stat = m * np.log(Q / Q_hat)
        calibration = (f"gaussian likelihood ratio, noise variance profiled: m ln(Q / Q_hat), m = {m}; "
                       f"chi2(1) threshold")
    stat = np.where(np.isfinite(stat), np.maximum(stat, 0.0), np.nan)
    zroot = np.sign(u - u_hat) * np.sqrt(stat)
    c0 = int(np.argmin(np.abs(u - u_hat)))
    ends, limits = [], []
    for side, step in (("lower", -1), ("upper", 1)):
        i, inner, end = c0 + step, c0, None
        while 0 <= i < len(u):
            if not np.isfinite(stat[i]):
                i += step
                continue
            if stat[i] > q:
                end = _crossing(u, zroot, step * np.sqrt(q), i, inner)
                beyond = stat[i::step] if step > 0 else stat[i::-1]
                if np.any(beyond[np.isfinite(beyond)] < q):
                    warns.append(f"the profile of {k} falls below the threshold again beyond the {side} end: "
                                 f"the data allow a second region (another basin?)")
                break
            inner = i
            i += step
        if end is None:
            last = u[inner]
            bound = law.lower[j] if step < 0 else law.upper[j]
            at_bound = bool(np.isclose(last, bound, rtol=1e-12, atol=1e-12))
            limits.append("bound" if at_bound else "grid")
            end = last
            what = (f"runs into the {side} bound {_natural(law, j, bound):g}" if at_bound
                    else f"reaches the grid's {side} end: widen span")
            warns.append(f"the {level:.0%} profile interval of {k} {what} (the statistic stays below {q:.4g})")
        else:
            limits.append(None)
        ends.append(end)
    bad = int(np.sum(~Status.converged_mask(st) & np.isfinite(Q)))
    if bad:
        warns.append(f"{bad} of {len(u)} constrained refits of {k} did not converge")
    nat = np.array([_natural(law, j, v) for v in u])
    return Profile(
        param=k, values=nat, objective=Q, statistic=stat, status=st, estimate=float(fit.params[k]),
        objective_hat=float(Q_hat), level=level, threshold=q, lo=_natural(law, j, ends[0]),
        hi=_natural(law, j, ends[1]), lo_limit=limits[0], hi_limit=limits[1], calibration=calibration,
        curvature_scale=float(scale), warnings=tuple(warns))


def _natural(law: Any, j: int, u: float) -> float:
    """Natural value of internal coordinate ``u`` of free parameter ``j``."""
    v = np.zeros(law.n_params)
    v[j] = u
    return float(np.asarray(law.to_natural(v))[j])
