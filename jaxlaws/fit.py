"""``fit()``: a multi-start fit of a law to a dataset, and its :class:`FitResult`."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from jaxlaws import engine, starts as starts_mod
from jaxlaws.datasets import Dataset, load as load_dataset
from jaxlaws.errors import JaxlawsError
from jaxlaws.law import Law
from jaxlaws.laws import get as get_law
from jaxlaws.losses import Loss, parse as parse_loss
from jaxlaws.solvers import get as get_solver


@dataclasses.dataclass(frozen=True)
class Problem:
    """A law, a dataset and a loss, checked and put in the engine's terms."""

    law: Law
    data: Dataset
    loss: Loss
    obs: np.ndarray  # [m] observations in the loss's space, flattened
    weights: np.ndarray  # [m] per-residual weights

    @property
    def n_points(self) -> int:
        return self.data.n_points

    def residual_weights(self, point_weights: np.ndarray) -> np.ndarray:
        """``[..., n]`` point weights -> ``[..., m]`` residual weights (repeated over outputs)."""
        k = self.law.n_outputs
        return np.repeat(point_weights, k, axis=-1) if k > 1 else point_weights

    def fitted(self, theta: np.ndarray) -> np.ndarray:
        """``[m]`` predictions at internal ``theta``, in the loss's space (log y for ``-log`` losses), float64."""
        import jax
        import jax.numpy as jnp

        with jax.enable_x64(True):
            X = {k: jnp.asarray(v, jnp.float64) for k, v in self.data.inputs.items() if k in self.law.inputs}
            zero = jnp.zeros(self.obs.shape, jnp.float64)
            return np.asarray(engine.make_residual(self.law, self.loss, X, zero)(jnp.asarray(theta, jnp.float64)))

    def to_obs(self, y: np.ndarray) -> np.ndarray:
        """Targets ``[..., n(, k)]`` -> observations ``[..., m]`` in the loss's space."""
        y = np.asarray(y, np.float64)
        if self.data.y.ndim == 2:
            y = y.reshape(y.shape[:-2] + (-1,))
        return np.log(y) if self.loss.log_space else y


def make_problem(law: Any, data: Any, loss: Any = "huber-log:1e-3", weights: Any = None) -> Problem:
    """Check ``law``, ``data`` and ``loss`` together; raise :class:`JaxlawsError` naming the problem."""
    law = get_law(law)
    if isinstance(data, str):
        data = load_dataset(data)
    if not isinstance(data, Dataset):
        raise JaxlawsError(f"data must be a jl.datasets.Dataset or a bundled dataset name, got {type(data).__name__}")
    loss = parse_loss(loss)
    data.require(law.inputs)
    y = data.y
    if (y.ndim == 2) != (law.n_outputs > 1) or (y.ndim == 2 and y.shape[1] != law.n_outputs):
        raise JaxlawsError(f"law {law.name!r} has {law.n_outputs} output(s) but the target has shape {y.shape}")
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
        w = np.asarray(weights, np.float64)
        if w.shape != (data.n_points,):
            raise JaxlawsError(f"weights have shape {w.shape}, data has {data.n_points} points")
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise JaxlawsError("weights must be finite and non-negative")
    p = Problem(law, data, loss, np.empty(0), np.empty(0))
    return dataclasses.replace(p, obs=p.to_obs(y), weights=p.residual_weights(w))


@dataclasses.dataclass(frozen=True)
class FitResult:
    """A multi-start fit.

    Attributes:
      law: the fitted law.
      params: name -> value (natural units) at the best lane.
      objective: summed loss at ``params``.
      theta: ``[P]`` best point in internal coordinates.
      starts: ``[S, P]`` every start (natural units).
      all_params: ``[S, P]`` every lane's end point (natural units).
      all_objective: ``[S]``; ``converged``, ``failed``: ``[S]`` bool; ``steps``: ``[S]``.
      best_index: which lane is best (lowest finite objective).
      loss, solver: what was minimised, and how.
      n_points: points fitted.
      timing: ``{"compile_s", "run_s"}`` seconds.
      device: where it ran.
    """

    law: Law
    params: dict[str, float]
    objective: float
    theta: np.ndarray
    starts: np.ndarray
    all_params: np.ndarray
    all_objective: np.ndarray
    converged: np.ndarray
    failed: np.ndarray
    steps: np.ndarray
    best_index: int
    loss: str
    solver: str
    n_points: int
    timing: dict[str, float]
    device: str

    @property
    def n_starts(self) -> int:
        return int(self.all_objective.shape[0])

    @property
    def n_converged(self) -> int:
        return int(self.converged.sum())

    @property
    def n_failed(self) -> int:
        return int(self.failed.sum())

    @property
    def best_converged(self) -> bool:
        return bool(self.converged[self.best_index])

    def predict(self, inputs: Any = None, **kw: Any) -> np.ndarray:
        """The fitted law at ``inputs`` (name -> array)."""
        return np.asarray(self.law.predict(self.params, inputs, **kw))

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready summary the CLI writes."""
        return {
            "law": self.law.name,
            "params": dict(self.params),
            "objective": self.objective,
            "loss": self.loss,
            "solver": self.solver,
            "n_points": self.n_points,
            "n_starts": self.n_starts,
            "n_converged": self.n_converged,
            "n_failed": self.n_failed,
            "best_converged": self.best_converged,
            "timing": dict(self.timing),
            "device": self.device,
        }

    def __str__(self) -> str:
        ps = ", ".join(f"{k}={v:.6g}" for k, v in self.params.items())
        return (f"{self.law.name}: {ps}; objective {self.objective:.10g} "
                f"({self.n_converged}/{self.n_starts} starts converged, {self.n_failed} failed)")


def _solver_name(solver: Any) -> str:
    return type(solver).__name__.lower()


def fit(
    law: Any,
    data: Any,
    loss: Any = "huber-log:1e-3",
    starts: Any = "grid",
    solver: Any = "lm",
    seed: int = 0,
    weights: Any = None,
    *,
    chunk: int | None = None,
    precision: str = "mixed",
    dtype: Any = None,
    **solver_options: Any,
) -> FitResult:
    """Fit ``law`` to ``data`` from many starts at once; the best lane wins.

    Args:
      law: a :class:`~jaxlaws.Law` or a catalog name.
      data: a :class:`~jaxlaws.datasets.Dataset` or a bundled dataset name.
      loss: a loss spec (``mse``, ``mse-log``, ``huber:D``, ``huber-log:D``) or Loss.
      starts: ``"grid"``, a count of sampled starts, or explicit starts (see :mod:`jaxlaws.starts`).
      solver: ``"lm"`` (default), ``"lbfgs"``, ``"adam"``, or a solver object.
      seed: seeds the start sampler.
      weights: optional ``[n]`` non-negative point weights.
      precision: ``"mixed"`` (default: a float32 phase, then a float64 polish to the
        solver's tolerances; pays when starts are far from their optima), ``"float64"``
        or ``"float32"``.
      chunk, dtype: engine settings (see :func:`jaxlaws.engine.solve`).
      **solver_options: passed to the solver (``max_steps``, tolerances, ...).
    """
    prob = make_problem(law, data, loss, weights)
    law = prob.law
    if isinstance(starts, str) and starts == "grid" and any(p.grid is None for p in law.params.values()):
        starts = 256
    theta0 = starts_mod.make(law, starts, seed=seed)
    slv = get_solver(solver, **solver_options)
    lanes = engine.solve(law, prob.loss, slv, prob.data.inputs, prob.obs[None], prob.weights[None], theta0,
                         chunk=chunk, precision=precision, dtype=dtype)
    ok = ~lanes.failed & np.isfinite(lanes.value)
    if not ok.any():
        raise JaxlawsError(
            f"all {len(ok)} starts failed: the objective is not finite at any start (are the data in law {law.name!r}'s domain?)"
        )
    best = int(np.flatnonzero(ok)[np.argmin(lanes.value[ok])])
    nat = np.asarray(law.to_natural(lanes.theta))
    return FitResult(
        law=law,
        params={k: float(nat[best, i]) for i, k in enumerate(law.params)},
        objective=float(lanes.value[best]),
        theta=lanes.theta[best],
        starts=np.asarray(law.to_natural(theta0)),
        all_params=nat,
        all_objective=lanes.value,
        converged=lanes.converged,
        failed=lanes.failed,
        steps=lanes.steps,
        best_index=best,
        loss=prob.loss.spec,
        solver=_solver_name(slv),
        n_points=prob.n_points,
        timing={"compile_s": lanes.compile_s, "run_s": lanes.run_s},
        device=engine.device_name(),
    )
