"""Approach 2 (Hoffmann et al. 2022, section 3.2): IsoFLOP profiles.

At each compute budget C, every run that reaches C gives one point (N, L(C)) read off its curve
(:func:`jaxlaws.datasets.curves.read`). A profile law of N is fitted through each budget's
points: by default Hoffmann et al.'s parabola in log N,

    L = c0 + c1 u + c2 u^2,   u = log10(N / 1e9)

(1e9 is a fixed reference inside most language-model data, a constant of the law and never a
statistic of the data), or any jaxlaws :class:`~jaxlaws.Law` that reads ``N`` (and may read
``C``, the budget). The minimum of each fitted profile is N*(C); D*(C) = C / (6 N*) by default
(``tokens=``); N* = k_N C^a and D* = k_D C^b are fitted by log-log least squares.

Every budget x run resample is one fit in **one** engine call: the profile points of all
budgets are stacked into one dataset, and fit (b, k) weights budget k's points by resample b's
run counts (zero elsewhere) -- a :class:`~jaxlaws.Batch` of per-fit weight rows, as
``fit_groups`` builds for groups.

Each budget's minimum is checked, and flagged (one :class:`~jaxlaws.JaxlawsWarning` for all):

* ``edge``: within ``edge`` (a fraction of the sampled log N range) of the smallest or largest
  size sampled at that budget. It is kept, but it is where the parabola's error is largest;
* ``outside``: beyond the sizes sampled (left out of the exponent fit);
* ``flat``: the profile opens downward or is flat (no minimum), or, on the full data, its
  curvature at the minimum has a relative standard error above ``max_rel_se`` (left out).

Why the edge matters. Near its minimum a profile is L* + L'' d^2 / 2 + L''' d^3 / 6 + ..., d the
distance in log N. A parabola fitted over d in [s - w, s + w] (a window of half-width w
centred s away from the minimum) puts its vertex at about (L''' / L'') (s^2 / 2 - w^2 / 10).
The w^2 part is the same at every budget when the window is, so it moves the intercept and not
the exponent. The s^2 part changes with the budget whenever the sampled sizes are not centred
on the minimum, and biases the exponent. For Chinchilla's profile L''' / L'' = beta - alpha per
unit of ln N (Open-Athena's scaling-law-analysis, https://github.com/Open-Athena/scaling-law-analysis,
studies this off-centre bias). ``window`` keeps only the runs within that many decades of each
budget's lowest observed loss, so that the window follows the minimum.
"""

from __future__ import annotations

import functools
import warnings as warnings_mod
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlaws import engine, starts as starts_mod
from jaxlaws.analysis.allocation import six_nd
from jaxlaws.analysis.approaches.frontier import USED_FLAGS, Frontier, flag_summary, run_resamples
from jaxlaws.datasets import Dataset, coerce, curves
from jaxlaws.diagnostics import diagnose_or_explain
from jaxlaws.errors import JaxlawsError, JaxlawsWarning
from jaxlaws.law import Law, Param
from jaxlaws.laws import get as get_law
from jaxlaws.problem import Batch, make_problem
from jaxlaws.solvers import Status, get as get_solver

N_REF = 1e9  # the parabola's fixed reference size: u = log10(N / N_REF)


def _parabola(p: Any, x: Any) -> Any:
    u = jnp.log10(x["N"] / N_REF)
    return p["c0"] + u * (p["c1"] + u * p["c2"])


# Linear in its coefficients: least squares has one optimum, which LM reaches from any start in a
# few steps. The box is wide (|c_k u^k| up to 1e4 at |u| = 1) so it never clips a loss profile.
PARABOLA = Law(
    name="isoflop_parabola",
    fn=_parabola,
    inputs=("N",),
    params={"c0": Param(-1e4, 1e4, start=(0.0, 10.0)), "c1": Param(-1e4, 1e4, start=(-1.0, 1.0)),
            "c2": Param(-1e4, 1e4, start=(-1.0, 1.0))},
    description="L = c0 + c1 u + c2 u^2, u = log10(N / 1e9)",
    reference="Hoffmann et al. 2022 (arXiv:2203.15556), approach 2",
)

_KINDS = {
    "edge": "have their minimum at the edge of the sampled model sizes (kept; off-centre sampling biases it)",
    "outside": "have their minimum outside the sampled model sizes (left out)",
    "flat": "have a profile too flat or open downward to locate a minimum (left out)",
    "failed": "have a profile fit whose every start failed (left out)",
}


def default_budgets(data: Any, n: int = 8, need: int = 3, by: str = "C", size: str = "N") -> np.ndarray:
    """``n`` log-spaced budgets inside the span of budgets that runs of at least ``need``
    distinct sizes reach (the budgets an IsoFLOP profile with ``need`` parameters can be fitted at)."""
    data = coerce(data)
    first, last = curves.ranges(data, by)
    sizes = curves.per_run(data, size)

    def n_sizes(c: np.ndarray) -> np.ndarray:
        reach = (c[None] >= first[:, None] * (1 - curves.EDGE_RTOL)) & (c[None] <= last[:, None] * (1 + curves.EDGE_RTOL))
        return np.array([len(np.unique(sizes[reach[:, j]])) for j in range(len(c))])

    grid = np.logspace(np.log10(first.min()), np.log10(last.max()), 400)
    ok = grid[n_sizes(grid) >= need]
    if len(ok) < 2:
        raise JaxlawsError(f"no two budgets are reached by runs of {need} distinct sizes: an IsoFLOP profile "
                           "cannot be fitted anywhere")
    cand = np.logspace(np.log10(ok.min()), np.log10(ok.max()), int(n))
    cand = cand[n_sizes(cand) >= need]
    if len(cand) < 2:
        raise JaxlawsError(f"fewer than two of {n} budgets are reached by runs of {need} distinct sizes")
    return cand


def _profile_minimum(law: Law, nat: np.ndarray, C: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                     n_grid: int = 257, newton: int = 6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each fitted profile's minimum over u = ln N: ``(u* [F], curvature h''(u*) [F], at_boundary [F])``.

    A grid search over [lo - w, hi + w] (w = hi - lo, the sampled range) brackets the minimum;
    Newton steps on h'(u) = 0 with jax's exact derivatives, kept between the grid neighbours,
    refine it (exact in one step for a parabola). A grid minimum on the search region's boundary
    means no minimum was found there.
    """
    with jax.enable_x64(True):
        out = _minimiser(law, n_grid, newton)(*(jnp.asarray(v, jnp.float64) for v in (nat, C, lo, hi)))
        return tuple(np.asarray(v) for v in out)


def _profile(law: Law) -> Any:
    """``h(p_nat, C, u)``: the profile law at N = e^u (a scalar), parameters natural and free."""

    def h(p_nat: Any, c: Any, u: Any) -> Any:
        x = {"N": jnp.exp(u)[None], "C": c[None]}
        return jnp.reshape(law.fn(law.as_dict(p_nat), {k: x[k] for k in law.inputs}), ())

    return h


@functools.lru_cache(maxsize=32)
def _minimiser(law: Law, n_grid: int, newton: int) -> Any:
    """The jitted, vmapped search of :func:`_profile_minimum` (one compile per law and shape)."""
    h = _profile(law)
    dh = jax.grad(h, argnums=2)
    d2h = jax.grad(dh, argnums=2)
    t = np.linspace(-1.0, 2.0, n_grid)

    def one(p: Any, c: Any, lo_: Any, hi_: Any) -> Any:
        w = jnp.maximum(hi_ - lo_, 1e-6)
        us = lo_ + w * jnp.asarray(t)
        vals = jax.vmap(lambda uu: h(p, c, uu))(us)
        vals = jnp.where(jnp.isfinite(vals), vals, jnp.inf)
        g = jnp.argmin(vals)
        a_, b_ = us[jnp.maximum(g - 1, 0)], us[jnp.minimum(g + 1, n_grid - 1)]
        u = us[g]
        for _ in range(newton):
            curv = d2h(p, c, u)
            step = dh(p, c, u) / curv
            u = jnp.where(jnp.isfinite(step) & (curv > 0), jnp.clip(u - step, a_, b_), u)
        return u, d2h(p, c, u), (g == 0) | (g == n_grid - 1)

    return jax.jit(jax.vmap(one))


@functools.lru_cache(maxsize=32)
def _curvature_gradient_fn(law: Law) -> Any:
    """Jitted d kappa / d p (natural, free parameters) for kappa = h''(u*(p)) with the minimum
    moving with the parameters: d kappa = d_p h'' + h''' du*/dp, du*/dp = -d_p h' / h''
    (the implicit function theorem)."""
    h = _profile(law)
    h1 = jax.grad(h, argnums=2)
    h2 = jax.grad(h1, argnums=2)
    h3 = jax.grad(h2, argnums=2)

    def g(p: Any, c: Any, u: Any) -> Any:
        return jax.grad(h2, argnums=0)(p, c, u) - h3(p, c, u) * jax.grad(h1, argnums=0)(p, c, u) / h2(p, c, u)

    return jax.jit(g)


def _curvature_gradient(law: Law, p_nat: np.ndarray, c: float, u: float) -> np.ndarray:
    with jax.enable_x64(True):
        return np.asarray(_curvature_gradient_fn(law)(*(jnp.asarray(v, jnp.float64) for v in (p_nat, c, u))))


def isoflop(data: Any, budgets: Any = None, law: Any = None, *, n_boot: int = 200, seed: int = 0,
            loss: Any = "mse", starts: Any = None, solver: Any = "lm", by: str = "C", size: str = "N",
            tokens: Any = None, window: float | None = None, edge: float = 0.1, max_rel_se: float = 0.5,
            n_budgets: int = 8, precision: str = "float64", chunk: int | None = None) -> Frontier:
    """Approach 2: IsoFLOP profiles of the training curves in ``data`` at ``budgets``.

    Args:
      data: curves: a Dataset (or bundled name) with ``runs``, the budget column ``by`` and a
        per-run model size ``size``.
      budgets: compute budgets (default: :func:`default_budgets`, ``n_budgets`` of them). Each must
        be reached by runs of at least as many distinct sizes as the profile law has parameters.
      law: the profile law (default :data:`PARABOLA`); any Law reading ``N`` (and maybe ``C``).
      n_boot: run resamples (0: none); seed: seeds them (the draw ``jl.bootstrap(scheme="groups")`` makes).
      loss, starts, solver, precision, chunk: the profile fits' (default ``mse``; 4 starts for the
        parabola, the law's grid or 64 sampled starts otherwise).
      tokens: ``tokens(N, C) -> D`` (default D = C / (6 N)).
      window: keep only runs within this many decades of N of each budget's lowest observed loss
        (in every resample, of the runs it drew); default: every run that reaches the budget.
      edge: a minimum within this fraction of the sampled log N range of either end is ``edge``.
      max_rel_se: a full-data profile whose curvature has a larger relative standard error is ``flat``.
    """
    data = coerce(data)
    law = PARABOLA if law is None else get_law(law)
    if "N" not in law.inputs or not set(law.inputs) <= {"N", "C"} or law.n_outputs != 1:
        raise JaxlawsError(f"a profile law reads N (and may read C) and has one output; {law.name!r} reads "
                           f"{list(law.inputs)} with {law.n_outputs} outputs")
    if not 0.0 <= float(edge) < 0.5:
        raise JaxlawsError(f"edge is a fraction of the sampled range in [0, 0.5), got {edge!r}")
    if not float(max_rel_se) > 0:
        raise JaxlawsError(f"max_rel_se must be positive, got {max_rel_se!r}")
    if window is not None and not float(window) > 0:
        raise JaxlawsError(f"window is a half-width in decades of N and must be positive, got {window!r}")
    tokens = six_nd if tokens is None else tokens
    P = law.n_params
    sizes = curves.per_run(data, size).astype(np.float64)
    budgets = default_budgets(data, n_budgets, max(P, 2), by, size) if budgets is None else curves.check_budgets(budgets)
    read = curves.read(data, budgets, by=by)
    cov, vals = read.covered, read.values
    R, K = vals.shape
    for k in range(K):
        got = np.unique(sizes[cov[:, k]])
        if len(got) == 0:
            raise JaxlawsError(f"budget {by} = {budgets[k]:.3g} lies outside every run's range ({by} from "
                               f"{read.first.min():.3g} to {read.last.max():.3g})")
        if len(got) < P:
            raise JaxlawsError(f"budget {by} = {budgets[k]:.3g} is reached by runs of {len(got)} model size(s), fewer "
                               f"than the {P} parameters of profile law {law.name!r}; choose budgets more runs reach")

    # ---- every (resample, budget) fit's points -------------------------------------------------
    counts = np.concatenate([np.ones((1, R)), run_resamples(R, n_boot, seed)])  # [1 + B, R]
    keep = (counts[:, :, None] > 0) & cov[None]  # [1 + B, R, K]
    lsz = np.log10(sizes)
    if window is not None:
        best = np.argmin(np.where(keep, vals[None], np.inf), axis=1)  # [1 + B, K]
        keep &= np.abs(lsz[None, :, None] - lsz[best][:, None, :]) <= float(window) * (1 + 1e-12)
    su, sidx = np.unique(sizes, return_inverse=True)
    onehot = np.eye(len(su))[sidx]  # [R, S]
    n_sizes = (np.einsum("brk,rs->bks", keep.astype(np.float64), onehot) > 0).sum(axis=2)  # [1 + B, K]
    fitable = n_sizes >= P
    if not fitable[0].all():
        k = int(np.argmin(fitable[0]))
        raise JaxlawsError(f"window={window} leaves runs of {n_sizes[0, k]} size(s) at budget {by} = {budgets[k]:.3g}, "
                           f"fewer than the {P} parameters of {law.name!r}; widen it")
    r_p, k_p = np.nonzero(cov)  # the stacked points: run r_p at budget k_p
    stacked = Dataset(name=f"{data.name} IsoFLOP profiles", inputs={"N": sizes[r_p], "C": budgets[k_p]},
                      y=vals[r_p, k_p], target=data.target)
    prob = make_problem(law, stacked, loss)
    # Fit f is resample fb[f] (0: the full data) at budget fk[f], every pair of them: a fixed number
    # of fits (and of weight rows) keeps the compiled programs' shapes the same from one dataset to
    # the next of the same design. A fit whose points hold fewer sizes than the law has parameters
    # gets all-zero weights (nothing to solve: it stops at its start) and is not used.
    fb, fk = np.divmod(np.arange((1 + n_boot) * K), K)
    F = len(fb)
    W = counts[fb][:, r_p] * keep[fb[:, None], r_p[None, :], k_p[None, :]] * (k_p[None, :] == fk[:, None])
    W *= fitable[fb, fk][:, None]
    if starts is None:
        starts = 4 if law is PARABOLA else "grid" if all(p.grid is not None for p in law.params.values()) else 64
    theta0 = starts_mod.make(law, starts, seed=seed)
    batch = Batch.tiled(prob, theta0, prob.obs[None], prob.residual_weights(W) * prob.weights[None], F)
    lanes = engine.solve(batch, get_solver(solver), engine.Options.make(precision, None, chunk))
    pick, failed = lanes.pick(batch.fit_index, F)
    theta = lanes.theta[pick]
    nat = np.asarray(law.to_natural(theta))

    # ---- each profile's minimum and its verdict --------------------------------------------------
    lnN = np.log(sizes[r_p])
    on = W > 0
    lo = np.where(on.any(axis=1), np.where(on, lnN[None], np.inf).min(axis=1), 0.0)
    hi = np.where(on.any(axis=1), np.where(on, lnN[None], -np.inf).max(axis=1), 1.0)
    u, kappa, boundary = _profile_minimum(law, nat, budgets[fk], lo, hi)
    span = hi - lo
    flat = ~np.isfinite(kappa) | (kappa <= 0)
    outside = boundary | (u < lo) | (u > hi)
    near = (u < lo + edge * span) | (u > hi - edge * span)
    code = np.where(failed, "failed", np.where(flat, "flat", np.where(outside, "outside", np.where(near, "edge", "ok"))))
    code = np.where(fitable[fb, fk], code, "few sizes").astype(object)

    # Full data: the curvature's relative standard error (delta method through the moving minimum).
    full = np.flatnonzero(fb == 0)  # the first K fits, in budget order
    rel_se = np.full(K, np.nan)
    objective = lanes.value[pick][full]
    for j, f in enumerate(full):
        if code[f] in ("failed", "flat"):
            continue
        d = diagnose_or_explain(law, prob.loss, prob.inputs, prob.obs, batch.weights[f], theta[f])
        if d.dof <= 0:
            continue  # as many points as parameters: the profile interpolates, its curvature's SE is unknown
        S = np.where(np.isnan(d.cov), 0.0, d.cov)  # NaN rows/columns: parameters held on a bound
        g = _curvature_gradient(law, nat[f], budgets[fk[f]], u[f])
        with np.errstate(invalid="ignore"):
            rel_se[j] = float(np.sqrt(max(g @ S @ g, 0.0)) / abs(kappa[f])) if np.all(np.isfinite(S)) else np.inf
        if not rel_se[j] <= max_rel_se:
            code[f] = "flat"

    use = np.zeros((1 + n_boot, K), bool)
    use[fb, fk] = np.isin(code, USED_FLAGS)
    N_all = np.full((1 + n_boot, K), np.nan)
    N_all[fb, fk] = np.where(np.isin(code, ("failed", "flat", "few sizes")), np.nan, np.exp(u))
    D_all = np.asarray(tokens(N_all, budgets[None, :]), np.float64)
    flags = tuple(str(c) for c in code[full])
    notes = flag_summary(flags, budgets, _KINDS)
    warns: tuple[str, ...] = ()
    if notes:
        warns = (f"isoflop: {'; '.join(notes)}",)
        warnings_mod.warn(warns[0], JaxlawsWarning, stacklevel=2)
    details = {
        "law": law, "params": nat[full], "param_names": law.param_names, "objective": objective,
        "status": tuple(Status(int(s)).label for s in lanes.status[pick][full]),
        "curvature": kappa[full], "curvature_rel_se": rel_se,
        "N_range": np.exp(np.stack([lo[full], hi[full]], axis=1)), "n_sizes": n_sizes[0],
        "n_points": on[full].sum(axis=1), "N_vertex": np.exp(u[full]),
        "n_fits": F, "n_fits_failed": int(failed.sum()), "window": window,
        "timing": {"compile_s": lanes.compile_s, "run_s": lanes.run_s},
    }
    return Frontier.build("isoflop", budgets, N_all, D_all, use, flags, n_boot, warns, details)
