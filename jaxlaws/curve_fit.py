"""``curve_fit``: :func:`scipy.optimize.curve_fit`'s call, fitted by jaxlaws' engine.

``popt, pcov = jl.curve_fit(f, xdata, ydata, p0=..., bounds=(lo, hi), sigma=..., absolute_sigma=...)``
takes what scipy's takes and returns what it returns, with two differences in what is
accepted: ``f`` must be written with ``jax.numpy`` (it is traced and differentiated, not
called on numbers), and ``p0`` may be many rows ``[S, P]``, which run as one batched
multi-start fit whose best lane is ``popt``.

What it does:

* a :class:`~jaxlaws.Law` is built from ``f``: one parameter for each argument after the
  first, named as in ``f``'s signature (``p0``'s length names them ``p0, p1, ...`` when ``f``
  takes ``*args``); every parameter is on a linear scale, bounded by ``bounds`` (infinite
  bounds allowed), with its start range the span of ``p0``'s rows (widened by half the
  value, or 0.5, around a single row);
* the inputs: ``xdata`` of shape ``[n]`` is the input ``x``; a tuple or list of ``k`` arrays, or
  an array ``[k, n]`` (or ``[n, k]``), is ``x0 .. x{k-1}``, handed to ``f`` in the shape it
  was given;
* the loss is ``mse`` (summed squares) with point weights ``1 / sigma**2``;
* ``pcov`` is the Gauss-Newton covariance of :mod:`jaxlaws.diagnostics`,
  ``s^2 (J^T W J)^-1`` with ``s^2 = sum w r^2 / (n - p)`` -- scipy's ``pcov`` with
  ``absolute_sigma=False`` -- or ``(J^T W J)^-1`` with ``absolute_sigma=True``.

Where scipy and jaxlaws differ on ``pcov``: a parameter on a bound is held fixed (its row and
column are NaN; scipy differentiates through the bound); directions the data do not determine
get infinite variance (scipy's pseudo-inverse drops them and reports finite numbers); with no
residual degrees of freedom the standard errors are undefined (inf on the diagonal, like
scipy's). Each of these issues a :class:`~jaxlaws.JaxlawsWarning` saying why, as scipy issues
an ``OptimizeWarning``.
"""

from __future__ import annotations

import collections
import inspect
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlaws.datasets import Dataset
from jaxlaws.errors import JaxlawsError, JaxlawsWarning
from jaxlaws.fit import FitResult, fit
from jaxlaws.law import Law, Param

# The errors jax raises when traced values reach numpy or Python control flow.
_TRACE_ERRORS = (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError,
                 jax.errors.TracerIntegerConversionError)

# Laws built for recent (f, input layout, bounds, start ranges): the engine compiles one program
# per law object, so a loop of curve_fit calls on datasets of one shape compiles once.
_LAWS: collections.OrderedDict[Any, Law] = collections.OrderedDict()
_LAWS_MAX = 32


def _param_names(f: Callable[..., Any], n_p0: int | None) -> list[str]:
    """Parameter names from ``f(x, a, b, ...)``'s signature (``p0``'s width for ``*args``)."""
    try:
        sig = inspect.signature(f)
    except (TypeError, ValueError):
        sig = None
    fixed: list[str] = []
    star = None
    if sig is not None:
        for prm in sig.parameters.values():
            if prm.kind in (prm.POSITIONAL_ONLY, prm.POSITIONAL_OR_KEYWORD):
                fixed.append(prm.name)
            elif prm.kind == prm.VAR_POSITIONAL:
                star = prm.name
        fixed = fixed[1:]  # the first is x
    if star is None and sig is not None:
        if n_p0 is not None and n_p0 != len(fixed):
            raise JaxlawsError(f"p0 has {n_p0} values per row but f takes {len(fixed)} parameters {fixed}")
        if not fixed:
            raise JaxlawsError("f must take x and at least one parameter: f(x, a, b, ...)")
        return fixed
    if n_p0 is None:
        raise JaxlawsError("cannot tell how many parameters f takes from its signature; pass p0")
    if n_p0 < len(fixed):
        raise JaxlawsError(f"p0 has {n_p0} values per row but f takes at least {len(fixed)} parameters {fixed}")
    base = star or "p"
    extra = [f"{base}{i}" for i in range(n_p0 - len(fixed))]
    return fixed + [e if e not in fixed else f"{e}_" for e in extra]


def _bounds(bounds: Any, P: int) -> tuple[np.ndarray, np.ndarray]:
    """``(lo, hi)`` of scalars or ``[P]`` arrays, or an object with ``lb``/``ub`` (scipy's Bounds)."""
    if hasattr(bounds, "lb") and hasattr(bounds, "ub"):
        bounds = (bounds.lb, bounds.ub)
    try:
        lo, hi = bounds
    except (TypeError, ValueError):
        raise JaxlawsError("bounds must be a pair (lower, upper) of scalars or arrays of one value per parameter") from None
    out = []
    for name, b in (("lower", lo), ("upper", hi)):
        a = np.asarray(b, np.float64)
        if a.ndim == 0:
            a = np.full(P, float(a))
        if a.shape != (P,):
            raise JaxlawsError(f"{name} bounds have shape {a.shape}, expected a scalar or ({P},)")
        if np.any(np.isnan(a)):
            raise JaxlawsError(f"{name} bounds must not be NaN")
        out.append(a)
    lo, hi = out
    if np.any(lo >= hi):
        j = int(np.argmax(lo >= hi))
        raise JaxlawsError(f"each lower bound must be below its upper bound; parameter {j} has [{lo[j]:g}, {hi[j]:g}]")
    return lo, hi


def _feasible_start(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """scipy's default ``p0``: 1, the middle of a finite box, 1 inside a one-sided bound."""
    p = np.ones(len(lo))
    both = np.isfinite(lo) & np.isfinite(hi)
    p[both] = 0.5 * (lo[both] + hi[both])
    only_lo = np.isfinite(lo) & ~np.isfinite(hi)
    p[only_lo] = lo[only_lo] + 1.0
    only_hi = ~np.isfinite(lo) & np.isfinite(hi)
    p[only_hi] = hi[only_hi] - 1.0
    return p


def _start_range(col: np.ndarray, lo: float, hi: float) -> tuple[float, float]:
    a, b = float(col.min()), float(col.max())
    if a == b:
        d = 0.5 * max(abs(a), 1.0)
        a, b = max(lo, a - d), min(hi, b + d)
    return a, b


def _layout(xdata: Any, n: int) -> tuple[str, dict[str, np.ndarray]]:
    """How ``f`` receives x (``array``, ``tuple``, ``rows`` [k, n], ``cols`` [n, k]) and the inputs."""
    try:
        a = np.asarray(xdata, np.float64)
    except (TypeError, ValueError):
        raise JaxlawsError("xdata must be an array of numbers or a tuple of arrays of one length") from None
    if a.ndim == 1:
        if a.shape[0] != n:
            raise JaxlawsError(f"xdata has {a.shape[0]} points but ydata has {n}")
        return "array", {"x": a}
    if a.ndim == 2:
        if isinstance(xdata, (tuple, list)):
            kind = "tuple"
        else:
            kind = "rows" if a.shape[1] == n else "cols"
        rows = a if kind != "cols" else a.T
        if rows.shape[1] != n:
            raise JaxlawsError(f"xdata has shape {a.shape}; expected [k, {n}] (or [{n}, k]) for {n} points")
        return kind, {f"x{i}": rows[i] for i in range(rows.shape[0])}
    raise JaxlawsError(f"xdata must be [n] or k arrays of [n] points, got shape {a.shape}")


def _make_law(f: Callable[..., Any], kind: str, inputs: tuple[str, ...], names: Sequence[str],
              params: dict[str, Param]) -> Law:
    def fn(p: Any, x: Any) -> Any:
        cols = [x[k] for k in inputs]
        if kind == "array":
            xa: Any = cols[0]
        elif kind == "tuple":
            xa = tuple(cols)
        else:
            xa = jnp.stack(cols, axis=0 if kind == "rows" else 1)
        out = jnp.asarray(f(xa, *[p[k] for k in names]))
        shape = cols[0].shape
        return jnp.reshape(out, shape) if out.size == cols[0].size else jnp.broadcast_to(out, shape)

    return Law(name=getattr(f, "__name__", type(f).__name__), fn=fn, inputs=inputs, params=params,
               description=f"curve_fit model {getattr(f, '__qualname__', '')}".strip())


def _law_for(f: Callable[..., Any], kind: str, inputs: tuple[str, ...], names: list[str],
             params: dict[str, Param]) -> Law:
    key = (f, kind, inputs, tuple(names), tuple(params.items()))
    try:
        law = _LAWS.pop(key)
    except TypeError:  # an unhashable callable: no reuse
        return _make_law(f, kind, inputs, names, params)
    except KeyError:
        law = _make_law(f, kind, inputs, names, params)
    _LAWS[key] = law
    while len(_LAWS) > _LAWS_MAX:
        _LAWS.popitem(last=False)
    return law


def _check_traceable(law: Law, data: Dataset, theta: np.ndarray) -> None:
    """Trace ``f`` once (no compute): one clear line if it is not jax code or has the wrong shape."""
    n = data.n_points
    X = {k: jax.ShapeDtypeStruct((n,), jnp.float64) for k in law.inputs}
    name = law.name
    with jax.enable_x64(True):
        try:
            jax.eval_shape(law.predict_internal, jax.ShapeDtypeStruct(theta.shape, jnp.float64), X)
        except _TRACE_ERRORS as e:
            raise JaxlawsError(
                f"f must use jax.numpy, not numpy (and no Python if/float() on its parameters): "
                f"{name!r} is traced and differentiated ({type(e).__name__})") from None
        except ValueError as e:
            if "broadcast" in str(e) or "reshape" in str(e) or "shape" in str(e):
                raise JaxlawsError(f"f({name!r}) must return one value per point ({n}): "
                                   f"{' '.join(str(e).split())}") from None
            raise


def _unscaled_cov(res: FitResult) -> np.ndarray:
    """``(J^T W J)^-1`` at the best lane, inverted as scipy does, for when the diagnostics'
    ``s^2 (J^T W J)^-1`` cannot be divided by ``s^2`` (an exact fit, or no degrees of freedom).
    Parameters on a bound are held fixed (NaN rows and columns), as in the diagnostics."""
    prob = res.problem
    with jax.enable_x64(True):
        X = {k: jnp.asarray(v, jnp.float64) for k, v in prob.inputs.items()}
        J = np.asarray(jax.jacfwd(lambda th: jnp.reshape(res.law.predict_internal(th, X), (-1,)))(
            jnp.asarray(res.theta, jnp.float64)))
    free = np.array([k not in res.diagnostics.at_bound for k in res.law.params])
    M = np.sqrt(prob.weights)[:, None] * J[:, free]
    _, S, Vt = np.linalg.svd(M, full_matrices=False)
    ok = S > np.finfo(np.float64).eps * max(M.shape) * (S[0] if S.size else 0.0)
    out = np.full((len(free), len(free)), np.nan)
    out[np.ix_(free, free)] = (Vt[ok].T / S[ok] ** 2) @ Vt[ok]
    return out


def curve_fit(
    f: Callable[..., Any],
    xdata: Any,
    ydata: Any,
    p0: Any = None,
    sigma: Any = None,
    absolute_sigma: bool = False,
    check_finite: bool | None = None,
    bounds: Any = (-np.inf, np.inf),
    method: str | None = None,
    jac: Any = None,
    *,
    full_output: bool = False,
    nan_policy: str | None = None,
    solver: Any = "lm",
    seed: int = 0,
    precision: str = "float64",
    **kwargs: Any,
) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, FitResult]:
    """Fit ``ydata ~ f(xdata, *params)`` by least squares, as :func:`scipy.optimize.curve_fit` does.

    Args:
      f: ``f(x, a, b, ...)`` written with ``jax.numpy``; one value per point.
      xdata: ``[n]``, or ``k`` arrays of ``[n]`` (a tuple/list, or an array ``[k, n]``).
      ydata: ``[n]`` observations.
      p0: one start ``[P]`` or many ``[S, P]`` (a batched multi-start; the best lane wins).
        Default: scipy's (ones, or the middle of finite bounds).
      sigma: ``[n]`` (or scalar) standard deviations of ``ydata``: weights ``1/sigma**2``.
      absolute_sigma: ``sigma`` is in absolute units: ``pcov = (J^T W J)^-1``, not rescaled
        by the residual variance.
      check_finite, method, jac: accepted for scipy's call; data are always checked, the
        solver is jaxlaws' (``solver``) and the Jacobian comes from autodiff.
      bounds: ``(lower, upper)``, scalars or ``[P]`` each (or a ``scipy.optimize.Bounds``);
        infinite bounds allowed.
      full_output: also return the :class:`~jaxlaws.FitResult` (every lane, status,
        diagnostics): ``popt, pcov, result``.
      nan_policy: ``None``/``"raise"`` (non-finite data are an error) or ``"omit"``.
      solver, seed, precision: as in :func:`jaxlaws.fit` (``precision`` defaults to ``float64``).
      **kwargs: passed on to :func:`jaxlaws.fit` (``max_steps``, ``ftol``, ``throw``, ...).

    Returns:
      ``popt [P]``, ``pcov [P, P]`` (and the FitResult with ``full_output=True``).
    """
    del check_finite, method, jac  # see the docstring: accepted, not needed
    if not callable(f):
        raise JaxlawsError(f"f must be a callable f(x, *params), got {type(f).__name__}")
    if "loss" in kwargs:
        raise JaxlawsError("curve_fit minimises squares; for a robust loss call jl.fit(law, data, loss='huber:DELTA')")
    if nan_policy not in (None, "raise", "omit"):
        raise JaxlawsError(f"nan_policy must be None, 'raise' or 'omit', got {nan_policy!r}")
    y = np.asarray(ydata, np.float64)
    if y.ndim != 1 or y.size == 0:
        raise JaxlawsError(f"ydata must be a non-empty [n] array, got shape {y.shape}")
    n = y.shape[0]
    kind, inputs = _layout(xdata, n)

    if sigma is None:
        w = np.ones(n)
    else:
        s = np.asarray(sigma, np.float64)
        if s.ndim == 2:
            raise JaxlawsError("sigma as a covariance matrix is not supported; pass the [n] standard deviations")
        s = np.broadcast_to(s, (n,)) if s.ndim == 0 else s
        if s.shape != (n,):
            raise JaxlawsError(f"sigma has shape {s.shape}, expected ({n},) or a scalar")
        if not np.all(np.isfinite(s) & (s > 0)):
            raise JaxlawsError("sigma must be positive and finite")
        w = 1.0 / s**2

    if nan_policy == "omit":
        keep = np.isfinite(y)
        for v in inputs.values():
            keep &= np.isfinite(v)
        y, w, inputs = y[keep], w[keep], {k: v[keep] for k, v in inputs.items()}
        n = y.shape[0]
        if n == 0:
            raise JaxlawsError("nan_policy='omit' left no points")

    rows = None if p0 is None else np.atleast_2d(np.asarray(p0, np.float64))
    if rows is not None and (rows.ndim != 2 or rows.size == 0):
        raise JaxlawsError(f"p0 must be [P] or [S, P], got shape {np.shape(p0)}")
    names = _param_names(f, None if rows is None else rows.shape[1])
    P = len(names)
    lo, hi = _bounds(bounds, P)
    if rows is None:
        rows = _feasible_start(lo, hi)[None]
    if not np.all(np.isfinite(rows)):
        raise JaxlawsError("p0 must be finite")
    outside = (rows < lo) | (rows > hi)
    if outside.any():
        i, j = map(int, np.argwhere(outside)[0])
        raise JaxlawsError(f"p0 row {i}: {names[j]} = {rows[i, j]:g} is outside its bounds [{lo[j]:g}, {hi[j]:g}]")
    params = {k: Param(lo[j], hi[j], start=_start_range(rows[:, j], lo[j], hi[j])) for j, k in enumerate(names)}

    law = _law_for(f, kind, tuple(inputs), names, params)
    data = Dataset(name=f"curve_fit({law.name})", inputs=inputs, y=y, target="ydata")
    _check_traceable(law, data, rows[0])
    res = fit(law, data, loss="mse", starts=rows, solver=solver, seed=seed, weights=w,
              precision=precision, **kwargs)

    popt = np.array([res.params[k] for k in names])
    pcov = np.array(res.cov, np.float64)  # natural = internal: every parameter is linear
    d = res.diagnostics
    if absolute_sigma:
        r = res.problem.fitted(res.theta) - res.problem.obs
        s2 = float(np.sum(res.problem.weights * r * r)) / d.dof if d.dof > 0 else np.nan
        pcov = pcov / s2 if s2 > 0 and np.isfinite(s2) else _unscaled_cov(res)
    if not np.all(np.isfinite(pcov)):
        why = next((m for m in d.warnings if "bound" in m or "determine" in m or "degrees" in m or "exactly" in m),
                   d.warnings[0] if d.warnings else "see result.diagnostics")
        warnings.warn(f"curve_fit: the covariance of the parameters is not fully defined: {why}",
                      JaxlawsWarning, stacklevel=2)
    if full_output:
        return popt, pcov, res
    return popt, pcov


__all__ = ["curve_fit"]
