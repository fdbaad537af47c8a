"""What is fitted, and what the engine is handed.

* :class:`Problem`: a law, a dataset, a loss and point weights, checked together once and put
  in the engine's terms (observations in the loss's space, one weight per residual).
* :class:`Batch`: the lanes of one engine call: every lane is one start on one row of
  observations and one row of weights, and belongs to one *fit* (the full data, a resample, a
  group, a left-out point). The best lane of each fit is picked by :mod:`jaxlaws.lanes`.

Data flow one way: law, loss, data -> Problem -> Batch -> engine -> lanes -> results.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlaws.datasets import Dataset, coerce as coerce_dataset
from jaxlaws.errors import JaxlawsError
from jaxlaws.law import Law
from jaxlaws.laws import get as get_law
from jaxlaws.losses import Loss, parse as parse_loss


def residual_fn(law: Law, loss: Loss, X: Mapping[str, Any], obs: Any) -> Callable[[Any], Any]:
    """``theta -> r [m]``: log or linear residuals of ``law`` against ``obs`` (jax, traceable).

    ``obs`` is log(y) for a log-space loss, y otherwise, flattened to ``[m]``.
    """

    def residual(theta: Any) -> Any:
        if loss.log_space:
            pred = law.log_predict_internal(theta, X)
        else:
            pred = law.predict_internal(theta, X)
        return jnp.reshape(pred, (-1,)) - obs

    return residual


@dataclasses.dataclass(frozen=True, eq=False)
class Problem:
    """A law, a dataset and a loss, checked and put in the engine's terms.

    Attributes:
      law, data, loss: what is fitted.
      obs: ``[m]`` observations in the loss's space (log y for ``-log`` losses), flattened over
        outputs (``m = n_points * law.n_outputs``).
      weights: ``[m]`` per-residual weights (the user's point weights, repeated over outputs).
    """

    law: Law
    data: Dataset
    loss: Loss
    obs: np.ndarray
    weights: np.ndarray

    @property
    def n_points(self) -> int:
        return self.data.n_points

    @property
    def inputs(self) -> dict[str, np.ndarray]:
        """The inputs the law reads (name -> ``[n]``)."""
        return {k: v for k, v in self.data.inputs.items() if k in self.law.inputs}

    def residual_weights(self, point_weights: np.ndarray) -> np.ndarray:
        """``[..., n]`` point weights -> ``[..., m]`` residual weights (repeated over outputs)."""
        k = self.law.n_outputs
        return np.repeat(point_weights, k, axis=-1) if k > 1 else point_weights

    def fitted(self, theta: np.ndarray) -> np.ndarray:
        """``[m]`` predictions at internal ``theta``, in the loss's space (log y for ``-log`` losses), float64."""
        with jax.enable_x64(True):
            X = {k: jnp.asarray(v, jnp.float64) for k, v in self.inputs.items()}
            zero = jnp.zeros(self.obs.shape, jnp.float64)
            return np.asarray(residual_fn(self.law, self.loss, X, zero)(jnp.asarray(theta, jnp.float64)))

    def to_obs(self, y: np.ndarray) -> np.ndarray:
        """Targets ``[..., n(, k)]`` -> observations ``[..., m]`` in the loss's space."""
        y = np.asarray(y, np.float64)
        if self.data.y.ndim == 2:
            y = y.reshape(y.shape[:-2] + (-1,))
        return np.log(y) if self.loss.log_space else y

    def same_as(self, other: Problem) -> str | None:
        """``None`` if this problem fits the same law to the same data with the same loss and
        weights as ``other``, else what this one is instead (one phrase: "loss 'mse', not ...")."""
        if self.law is not other.law:
            return f"law {self.law.name!r}, not {other.law.name!r}"
        if self.loss != other.loss:
            return f"loss {self.loss.spec!r}, not {other.loss.spec!r}"
        a, b = self.inputs, other.inputs  # only the columns the law reads
        if self.n_points != other.n_points:
            return f"dataset {self.data.name!r} ({self.n_points} points), not the {other.n_points} points given"
        differ = [k for k in a if not np.array_equal(a[k], b[k])]
        if differ:
            return f"dataset {self.data.name!r}, whose input(s) {', '.join(differ)} differ from the data given"
        if not np.array_equal(self.data.y, other.data.y):
            return f"dataset {self.data.name!r}, whose target {self.data.target!r} differs from the data given"
        if not np.array_equal(self.weights, other.weights):
            return "other point weights"
        return None


def make_problem(law: Any, data: Any, loss: Any = "huber-log:1e-3", weights: Any = None) -> Problem:
    """Check ``law``, ``data`` and ``loss`` together; raise :class:`JaxlawsError` naming the problem."""
    law = get_law(law)
    data = coerce_dataset(data)  # a Dataset, a bundled name, a DataFrame or a mapping of columns
    loss = parse_loss(loss)
    data.require(law.inputs)
    y = data.y
    if (y.ndim == 2) != (law.n_outputs > 1) or (y.ndim == 2 and y.shape[1] != law.n_outputs):
        raise JaxlawsError(f"law {law.name!r} has {law.n_outputs} output(s) but the target has shape {y.shape}")
    law.check_output(data.inputs)  # the law traced once on the data's shapes, before any compile
    if data.n_points * law.n_outputs < law.n_params:
        raise JaxlawsError(
            f"{data.n_points} points are fewer than the {law.n_params} parameters of law {law.name!r}"
        )
    if loss.log_space and np.any(y <= 0):
        bad = int(np.argwhere(y <= 0)[0][0])
        raise JaxlawsError(f"loss {loss.spec!r} needs positive targets; {data.target!r} is {y.flat[bad]:g} at row {bad}")
    if weights is None:
        w = np.ones(data.n_points)
    else:
        try:
            w = np.asarray(weights, np.float64)
        except (TypeError, ValueError):
            raise JaxlawsError(f"weights must be numbers, one per point; got {type(weights).__name__}") from None
        if w.shape != (data.n_points,):
            raise JaxlawsError(f"weights have shape {w.shape}, data has {data.n_points} points")
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            bad = int(np.argmax(~np.isfinite(w) | (w < 0)))
            raise JaxlawsError(f"weights must be finite and non-negative; weight {bad} is {w[bad]:g}")
        if not np.any(w > 0):
            raise JaxlawsError("all weights are zero: nothing to fit")
        # A zero weight drops a point: what is left must still determine the parameters.
        used = int(np.count_nonzero(w))
        if used * law.n_outputs < law.n_params:
            raise JaxlawsError(f"only {used} points have a positive weight, fewer than the {law.n_params} "
                               f"parameters of law {law.name!r}")
    p = Problem(law, data, loss, np.empty(0), np.empty(0))
    return dataclasses.replace(p, obs=p.to_obs(y), weights=p.residual_weights(w))


@dataclasses.dataclass(frozen=True, eq=False)
class Batch:
    """The lanes of one engine call.

    Attributes:
      problem: the law, loss and inputs every lane shares.
      theta0: ``[L, P]`` internal-coordinate starts, one per lane.
      obs: ``[By, m]`` rows of observations (a residual or parametric bootstrap has one per
        resample; otherwise one row, the data).
      weights: ``[Bw, m]`` rows of residual weights (pairs, groups, jackknife, per-group fits).
      obs_index, weight_index: ``[L]`` which row of ``obs`` / ``weights`` each lane uses.
      fit_index: ``[L]`` which fit each lane belongs to (``0 .. n_fits-1``): the best lane of
        every fit is its answer.
      lower, upper: ``[Bb, P]`` rows of internal-coordinate bounds, each inside the law's box
        (default: one row, the law's own bounds). A row with ``lower == upper`` in a coordinate
        holds that parameter at the value for the lanes that use it (a profile likelihood's
        constrained refits run so, every value in one call).
      bound_index: ``[L]`` which row of bounds each lane uses (default: 0).
    """

    problem: Problem
    theta0: np.ndarray
    obs: np.ndarray
    weights: np.ndarray
    obs_index: np.ndarray
    weight_index: np.ndarray
    fit_index: np.ndarray
    lower: np.ndarray | None = None
    upper: np.ndarray | None = None
    bound_index: np.ndarray | None = None

    def __post_init__(self) -> None:
        law = self.problem.law
        L, P = np.shape(self.theta0)[0], law.n_params
        m = self.problem.obs.shape[0]
        theta0 = np.asarray(self.theta0, np.float64)
        if theta0.shape != (L, P):
            raise JaxlawsError(f"starts have shape {theta0.shape}, expected [lanes, {P}]")
        for name, rows in (("obs", self.obs), ("weights", self.weights)):
            if np.ndim(rows) != 2 or np.shape(rows)[1] != m:
                raise JaxlawsError(f"{name} rows have shape {np.shape(rows)}, expected [rows, {m}]")
        lo = law.lower[None] if self.lower is None else np.asarray(self.lower, np.float64)
        hi = law.upper[None] if self.upper is None else np.asarray(self.upper, np.float64)
        if lo.ndim != 2 or lo.shape[1:] != (P,) or hi.shape != lo.shape:
            raise JaxlawsError(f"bound rows have shapes {lo.shape} and {hi.shape}, expected [rows, {P}] both")
        if not np.all((law.lower <= lo) & (lo <= hi) & (hi <= law.upper)):
            raise JaxlawsError("bound rows must satisfy law.lower <= lower <= upper <= law.upper (internal coordinates)")
        object.__setattr__(self, "lower", lo)
        object.__setattr__(self, "upper", hi)
        bound_index = np.zeros(L, np.int32) if self.bound_index is None else self.bound_index
        for name, idx, hi_ in (("obs_index", self.obs_index, len(self.obs)),
                               ("weight_index", self.weight_index, len(self.weights)),
                               ("bound_index", bound_index, len(lo)),
                               ("fit_index", self.fit_index, None)):
            idx = np.asarray(idx, np.int32)
            if idx.shape != (L,) or (L and (idx.min() < 0 or (hi_ is not None and idx.max() >= hi_))):
                raise JaxlawsError(f"{name} must be [{L}] indices into its rows")
            object.__setattr__(self, name, idx)
        object.__setattr__(self, "theta0", theta0)

    @property
    def n_lanes(self) -> int:
        return int(self.theta0.shape[0])

    @property
    def n_fits(self) -> int:
        return int(self.fit_index.max()) + 1 if self.n_lanes else 0

    @classmethod
    def single(cls, problem: Problem, theta0: np.ndarray) -> Batch:
        """One fit of ``problem`` from every start of ``theta0 [S, P]``."""
        S = len(theta0)
        z = np.zeros(S, np.int32)
        return cls(problem, theta0, problem.obs[None], problem.weights[None], z, z, z)

    @classmethod
    def tiled(cls, problem: Problem, theta0: np.ndarray, obs: np.ndarray, weights: np.ndarray, n_fits: int) -> Batch:
        """``n_fits`` fits, each from every start of ``theta0 [S, P]``: lane ``f * S + s`` is start
        ``s`` of fit ``f``, on observation row ``f`` (or 0 if there is one row) and weight row ``f``
        (or 0)."""
        S = len(theta0)
        fit = np.repeat(np.arange(n_fits, dtype=np.int32), S)
        for name, rows in (("obs", obs), ("weights", weights)):
            if len(rows) not in (1, n_fits):
                raise JaxlawsError(f"{name} has {len(rows)} rows for {n_fits} fits")
        return cls(problem, np.tile(theta0, (n_fits, 1)), obs, weights,
                   fit if len(obs) > 1 else np.zeros_like(fit), fit if len(weights) > 1 else np.zeros_like(fit), fit)

    def take(self, order: np.ndarray) -> Batch:
        """The same lanes in the order ``order [L]`` (for queue ordering)."""
        return dataclasses.replace(self, theta0=self.theta0[order], obs_index=self.obs_index[order],
                                   weight_index=self.weight_index[order], fit_index=self.fit_index[order],
                                   bound_index=self.bound_index[order])

    def lane_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """``(lower [L, P], upper [L, P])``: each lane's bounds (internal coordinates)."""
        return self.lower[self.bound_index], self.upper[self.bound_index]
