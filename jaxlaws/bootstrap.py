"""``bootstrap()``: refit a law on many resamples at once, and :class:`BootstrapResult`.

Every resample is a lane group in the same engine call as a multi-start fit:

* ``pairs``      — points drawn with replacement: a multinomial count vector
  per resample used as point weights, so all resamples share one shape;
* ``groups``     — whole groups drawn with replacement (block bootstrap);
* ``residual``   — fitted values plus residuals drawn with replacement
  (in the loss's space: log residuals for ``-log`` losses);
* ``parametric`` — fitted values plus Gaussian noise of the residuals' scale.

Each resample is started from the full-data best fit and from the next-best
*distinct* basins of the full-data multi-start, and keeps its best lane. A
resample whose best lane did not converge, or whose every lane failed, is
counted and left out of the summaries (``include_unconverged=True`` keeps
unconverged ones); the counts are in the result and its summary.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlaws import engine, starts as starts_mod
from jaxlaws.errors import JaxlawsError
from jaxlaws.fit import FitResult, fit as fit_fn, make_problem
from jaxlaws.intervals import Samples, check_level
from jaxlaws.law import Law
from jaxlaws.solvers import get as get_solver

SCHEMES = ("pairs", "residual", "parametric", "groups")


def distinct_basins(res: FitResult, k: int, margin: float = 1.0, tol: float = 1e-2, ftol: float = 1e-6) -> np.ndarray:
    """Internal-coordinate end points of the best lane and up to ``k`` more distinct basins.

    Converged lanes are taken in order of objective. A lane opens a new basin
    if its objective differs from every basin's by more than ``ftol`` relative
    *and* its point by more than ``tol`` (relative sup norm, internal
    coordinates): lanes spread along one flat valley share an objective and
    count once. Only basins whose objective is at most ``(1 + margin)`` times the
    best are kept; a basin far worse on the full data is not a plausible
    optimum of a resample and would only cost steps.
    """
    law = res.law
    theta = law.to_internal(res.all_params)
    f = res.all_objective
    ok = res.converged & ~res.failed & np.isfinite(f) & (f <= (1.0 + margin) * res.objective)
    order = [res.best_index] + [int(i) for i in np.argsort(f) if ok[i] and i != res.best_index]
    picked: list[int] = []
    for i in order:
        if all(abs(f[i] - f[j]) > ftol * abs(f[j]) and
               np.max(np.abs(theta[i] - theta[j])) > tol * (1.0 + np.max(np.abs(theta[j]))) for j in picked):
            picked.append(i)
            if len(picked) == k + 1:
                break
    return theta[picked]


@dataclasses.dataclass(frozen=True)
class BootstrapResult:
    """Refits on ``n`` resamples.

    Attributes:
      law: the law.
      fit: the full-data :class:`FitResult`.
      scheme: resampling scheme.
      theta: ``[n, P]`` each resample's best point (internal coordinates).
      params: ``[n, P]`` the same in natural units.
      objective, converged, failed: ``[n]`` for each resample's best lane.
      lane_objective, lane_converged, lane_failed: ``[n, S]`` every lane.
      starts: ``[S, P]`` the natural-unit starts every resample used.
      jackknife: ``[n_points, P]`` natural leave-one-out fits (for BCa), or None.
      include_unconverged: whether unconverged resamples enter the summaries.
      timing: ``{"compile_s", "run_s"}`` of the resample refits.
    """

    law: Law
    fit: FitResult
    scheme: str
    theta: np.ndarray
    params: np.ndarray
    objective: np.ndarray
    converged: np.ndarray
    failed: np.ndarray
    lane_objective: np.ndarray
    lane_converged: np.ndarray
    lane_failed: np.ndarray
    starts: np.ndarray
    jackknife: np.ndarray | None
    include_unconverged: bool
    timing: dict[str, float]

    # ---- bookkeeping ---------------------------------------------------
    @property
    def n(self) -> int:
        return int(self.objective.shape[0])

    @property
    def usable(self) -> np.ndarray:
        """``[n]`` bool: resamples that enter the summaries."""
        ok = ~self.failed
        return ok if self.include_unconverged else ok & self.converged

    @property
    def n_failed(self) -> int:
        """Resamples whose every lane failed."""
        return int(self.failed.sum())

    @property
    def n_unconverged(self) -> int:
        """Resamples whose best lane stopped at the step limit."""
        return int((~self.failed & ~self.converged).sum())

    @property
    def n_used(self) -> int:
        return int(self.usable.sum())

    # ---- parameters ------------------------------------------------------
    def _param_samples(self) -> Samples:
        jk = self.jackknife
        return Samples(np.array([self.fit.params[k] for k in self.law.params]), self.params[self.usable], jk)

    def samples(self, name: str) -> np.ndarray:
        """The usable replicates of parameter ``name`` (natural units)."""
        return self.params[self.usable, self._index(name)]

    def _index(self, name: str) -> int:
        if name not in self.law.params:
            raise JaxlawsError(f"law {self.law.name!r} has no parameter {name!r}; it has {list(self.law.params)}")
        return list(self.law.params).index(name)

    def _named(self, arr: np.ndarray) -> dict[str, float]:
        return {k: float(arr[i]) for i, k in enumerate(self.law.params)}

    @property
    def se(self) -> dict[str, float]:
        """Bootstrap standard error of each parameter (natural units)."""
        return self._named(self._param_samples().se)

    def cov(self, internal: bool = False) -> np.ndarray:
        """``[P, P]`` bootstrap covariance, natural (default) or internal coordinates."""
        x = self.theta[self.usable] if internal else self.params[self.usable]
        return np.cov(x, rowvar=False)

    def ci(self, level: float = 0.95, method: str = "percentile") -> dict[str, tuple[float, float]]:
        """name -> ``(lo, hi)`` at ``level`` by ``percentile``, ``basic`` or ``bca``."""
        lo, hi = self._param_samples().ci(level, method)
        return {k: (float(lo[i]), float(hi[i])) for i, k in enumerate(self.law.params)}

    def quantiles(self, q: Any) -> dict[str, np.ndarray]:
        """name -> quantiles ``q`` of its replicates."""
        qs = self._param_samples().quantiles(q)
        return {k: np.asarray(qs[..., i]) for i, k in enumerate(self.law.params)}

    # ---- derived quantities ----------------------------------------------
    def derive(self, g: Callable[[Mapping[str, Any]], Any]) -> Samples:
        """Replicates of ``g(params)`` for any jax function ``g`` of the natural
        parameter mapping, returning a scalar or a 1-D array."""
        gv = jax.vmap(lambda t: g(self.law.as_dict(t)))

        def apply(rows: np.ndarray) -> np.ndarray:
            with jax.enable_x64(True):
                try:
                    out = np.asarray(gv(jnp.asarray(rows, jnp.float64)), np.float64)
                except (TypeError, ValueError) as e:
                    raise JaxlawsError(f"derived function failed on the parameters: {str(e).splitlines()[0]}") from None
            if out.ndim not in (1, 2) or out.shape[0] != rows.shape[0]:
                raise JaxlawsError(
                    f"a derived function must return a scalar or a 1-D array per parameter set, got shape {out.shape[1:]}"
                )
            return out

        est = apply(np.array([[self.fit.params[k] for k in self.law.params]]))[0]
        jk = None if self.jackknife is None else apply(self.jackknife)
        return Samples(est, apply(self.params[self.usable]), jk)

    def allocation(self, C: Any, tokens: Any = None, method: str = "auto") -> dict[str, Samples]:
        """Bootstrap replicates of the compute-optimal allocation at budgets ``C`` (FLOPs).

        Returns name -> :class:`Samples` for ``N_opt``, ``D_opt``, ``tokens_per_param``
        (each over the budgets) and, in closed form, the exponents ``a`` and ``b``;
        ``.ci(level)`` of each gives the band, computed from the replicates.
        """
        from jaxlaws.analysis import allocation as alloc

        C = alloc.check_budgets(C)
        probe = alloc.optimal(self.law, self.fit.params, C, tokens=tokens, method=method)
        closed = "a" in probe

        def g(key: str) -> Callable[[Mapping[str, Any]], Any]:
            def fn(p: Mapping[str, Any]) -> Any:
                if closed:
                    out = alloc.closed_form(p, jnp.asarray(C))
                else:
                    out = alloc.by_autodiff(self.law, p, jnp.asarray(C), tokens or alloc.six_nd)
                return jnp.atleast_1d(out[key])

            return fn

        return {k: self.derive(g(k)) for k in probe}

    # ---- reports -----------------------------------------------------------
    def summary(self, level: float = 0.95, method: str = "percentile") -> dict[str, Any]:
        """The JSON block: ``n``, ``n_failed``, ``n_unconverged``, ``level``, ``se``, ``ci``."""
        return {
            "n": self.n,
            "n_failed": self.n_failed,
            "n_unconverged": self.n_unconverged,
            "n_used": self.n_used,
            "scheme": self.scheme,
            "level": check_level(level),
            "method": method,
            "se": self.se,
            "ci": {k: list(v) for k, v in self.ci(level, method).items()},
            "timing": dict(self.timing),
        }

    def format(self, level: float = 0.95, method: str = "percentile") -> str:
        ci = self.ci(level, method)
        se = self.se
        lines = [f"bootstrap ({self.scheme}): {self.n} resamples, {self.n_failed} failed, "
                 f"{self.n_unconverged} unconverged, {self.n_used} used; {level:.0%} {method} intervals"]
        for k in self.law.params:
            lines.append(f"  {k:<10s} {self.fit.params[k]:<12.6g} se {se[k]:<10.4g} [{ci[k][0]:.6g}, {ci[k][1]:.6g}]")
        return "\n".join(lines)


def _weights_pairs(rng: np.random.Generator, n: int, B: int) -> np.ndarray:
    return rng.multinomial(n, np.full(n, 1.0 / n), size=B).astype(np.float64)


def _weights_groups(rng: np.random.Generator, groups: np.ndarray, B: int) -> np.ndarray:
    labels, inv = np.unique(groups, return_inverse=True)
    G = len(labels)
    if G < 2:
        raise JaxlawsError(f"the groups scheme needs at least 2 groups, got {G}")
    counts = rng.multinomial(G, np.full(G, 1.0 / G), size=B).astype(np.float64)
    return counts[:, inv]


def _progress_bar(total: int, enabled: bool | None) -> Callable[[int, int], None] | None:
    if enabled is False or (enabled is None and not sys.stderr.isatty()):
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    bar = tqdm(total=total, desc="bootstrap lanes", unit="lane", leave=False)

    def update(done: int, _total: int) -> None:
        bar.update(done - bar.n)
        if done >= _total:
            bar.close()

    return update


def bootstrap(
    law: Any,
    data: Any,
    n: int = 1000,
    loss: Any = "huber-log:1e-3",
    seed: int = 0,
    scheme: str = "pairs",
    starts: Any = "basins",
    basins: int = 2,
    basin_margin: float = 1.0,
    solver: Any = "lm",
    fit: FitResult | None = None,
    groups: Any = None,
    weights: Any = None,
    jackknife: bool = False,
    include_unconverged: bool = False,
    progress: bool | None = None,
    *,
    chunk: int | None = None,
    precision: str = "float64",
    dtype: Any = None,
    **solver_options: Any,
) -> BootstrapResult:
    """Refit ``law`` on ``n`` resamples of ``data`` in one batched computation.

    Args:
      law, data, loss, solver, weights: as for :func:`jaxlaws.fit`.
      n: number of resamples (>= 2).
      seed: seeds the resampling (numpy's RNG) and any sampled starts.
      scheme: ``pairs`` | ``residual`` | ``parametric`` | ``groups``.
      starts: ``"basins"`` (the full-data best fit and ``basins`` more distinct
        basins) or any starts spec of :func:`jaxlaws.fit`, used for every resample.
      basins: how many extra distinct basins to start each resample from.
      basin_margin: only basins with full-data objective <= (1 + margin) x best count.
      fit: a full-data :class:`FitResult` to reuse (else one is run with the
        law's default starts).
      groups: ``[n_points]`` group labels for ``scheme="groups"`` (default: the dataset's).
      jackknife: also run the leave-one-out fits that BCa intervals need.
      include_unconverged: keep resamples whose best lane hit the step limit.
      progress: show a progress bar (default: when stderr is a terminal).
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise JaxlawsError(f"bootstrap needs n >= 2 resamples, got {n!r}")
    if scheme not in SCHEMES:
        raise JaxlawsError(f"unknown bootstrap scheme {scheme!r}; choose from {', '.join(SCHEMES)}")
    prob = make_problem(law, data, loss, weights)
    law, data = prob.law, prob.data
    if scheme == "groups":
        groups = data.groups if groups is None else np.asarray(groups)
        if groups is None:
            raise JaxlawsError("the groups scheme needs group labels: pass groups=... or use a dataset with groups")
        if groups.shape != (data.n_points,):
            raise JaxlawsError(f"groups have shape {groups.shape}, data has {data.n_points} points")
    slv = get_solver(solver, **solver_options)
    if fit is None:
        fit = fit_fn(law, data, loss=prob.loss, solver=slv, seed=seed, weights=weights,
                     chunk=chunk, precision=precision, dtype=dtype)
    elif fit.law is not law:
        raise JaxlawsError(f"fit= is a fit of law {fit.law.name!r}, not {law.name!r}")

    if isinstance(starts, str) and starts == "basins":
        if basins < 0:
            raise JaxlawsError(f"basins must be >= 0, got {basins}")
        theta0 = distinct_basins(fit, basins, margin=basin_margin)
        # Every start is a full-data optimum, close to each resample's: start the solver as
        # it would continue from a nearly converged point.
        lane_slv = slv.refine()
    else:
        lane_slv = slv
        theta0 = np.concatenate([fit.theta[None], starts_mod.make(law, starts, seed=seed)])
    S = theta0.shape[0]

    rng = np.random.default_rng(seed)
    npts = data.n_points
    base_w = prob.weights[None]
    obs = prob.obs[None]
    if scheme == "pairs":
        W = prob.residual_weights(_weights_pairs(rng, npts, n)) * base_w
    elif scheme == "groups":
        W = prob.residual_weights(_weights_groups(rng, groups, n)) * base_w
    else:
        W = base_w
        fitted = prob.fitted(fit.theta)
        resid = prob.obs - fitted
        if scheme == "residual":
            obs = fitted[None] + resid[rng.integers(0, resid.size, size=(n, resid.size))]
        else:
            dof = max(resid.size - law.n_params, 1)
            sigma = np.sqrt(np.sum(resid ** 2) / dof)
            obs = fitted[None] + sigma * rng.standard_normal((n, resid.size))
    lanes_theta = np.tile(theta0, (n, 1))
    res_idx = np.repeat(np.arange(n), S)
    y_idx = res_idx if obs.shape[0] > 1 else np.zeros_like(res_idx)
    w_idx = res_idx if W.shape[0] > 1 else np.zeros_like(res_idx)
    lanes = engine.solve(law, prob.loss, lane_slv, data.inputs, obs, W, lanes_theta, y_idx, w_idx,
                         chunk=chunk, precision=precision, dtype=dtype,
                         progress=_progress_bar(n * S, progress))

    val = np.where(lanes.failed, np.inf, lanes.value).reshape(n, S)
    val = np.where(np.isfinite(val), val, np.inf)
    best = np.argmin(val, axis=1)
    pick = np.arange(n) * S + best
    theta = lanes.theta[pick]
    jk = _jackknife(law, prob, slv, fit, chunk, precision, dtype, scheme, groups) if jackknife else None
    return BootstrapResult(
        law=law, fit=fit, scheme=scheme, theta=theta, params=np.asarray(law.to_natural(theta)),
        objective=lanes.value[pick], converged=lanes.converged[pick], failed=~np.isfinite(val[np.arange(n), best]),
        lane_objective=lanes.value.reshape(n, S), lane_converged=lanes.converged.reshape(n, S),
        lane_failed=lanes.failed.reshape(n, S), starts=np.asarray(law.to_natural(theta0)), jackknife=jk,
        include_unconverged=include_unconverged, timing={"compile_s": lanes.compile_s, "run_s": lanes.run_s},
    )


def _jackknife(law: Law, prob: Any, slv: Any, fit: FitResult, chunk: int, precision: str, dtype: Any,
               scheme: str, groups: Any) -> np.ndarray:
    """Leave-one-out (or leave-one-group-out) refits from the full-data best, natural units."""
    npts = prob.n_points
    if scheme == "groups":
        _, inv = np.unique(groups, return_inverse=True)
        W = (inv[None, :] != np.arange(inv.max() + 1)[:, None]).astype(np.float64)
    else:
        W = 1.0 - np.eye(npts)
    W = prob.residual_weights(W) * prob.weights[None]
    m = W.shape[0]
    lanes = engine.solve(law, prob.loss, slv.refine(), prob.data.inputs, prob.obs[None], W, np.tile(fit.theta, (m, 1)),
                         np.zeros(m, np.int32), np.arange(m), chunk=chunk,
                         precision=precision, dtype=dtype)
    return np.asarray(law.to_natural(lanes.theta))
