"""Projected first-order solvers built from optax: ``lbfgs`` and ``adam``.

Each step applies the optax update to the gradient, projects the result onto
the bounds with ``optax.projections.projection_box`` and evaluates the
objective and gradient there (autodiff, never finite differences). A lane has
converged when the projected gradient is below ``gtol`` (sup norm,
``CONVERGED_GRADIENT``) or the objective has changed by less than ``ftol``
relative for ``patience`` steps in a row (``CONVERGED_OBJECTIVE``). A step that
would leave the finite region ends the lane as ``NONFINITE`` (the loop's rule,
``rejects_nonfinite = False``) at its last finite point.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxlaws.solvers.base import Objective, held, project, projected_gradient
from jaxlaws.solvers.status import Status


class FirstOrderState(NamedTuple):
    theta: Any
    value: Any
    grad: Any
    opt_state: Any
    calm: Any  # consecutive steps with a relative change below ftol


class FirstOrderEval(NamedTuple):
    value: Any
    grad: Any


class _Projected:
    """Shared init/propose/update/terminate around an optax GradientTransformation."""

    max_steps: int
    ftol: float
    gtol: float
    patience: int

    rejects_nonfinite = False  # a non-finite point ends the lane: optax's state cannot back out of it

    def optimizer(self) -> optax.GradientTransformation:
        raise NotImplementedError

    def coarse(self) -> _Projected:
        return dataclasses.replace(self, ftol=max(self.ftol, 1e-6))

    def refine(self) -> _Projected:
        return self

    def init(self, theta0: Any, lower: Any, upper: Any) -> FirstOrderState:
        return FirstOrderState(theta0, jnp.asarray(jnp.inf, theta0.dtype), jnp.zeros_like(theta0),
                               self.optimizer().init(theta0), jnp.zeros((), jnp.int32))

    def evaluate(self, obj: Objective, theta: Any) -> FirstOrderEval:
        return FirstOrderEval(*jax.value_and_grad(obj.value)(theta))

    def start(self, s: FirstOrderState, ev: FirstOrderEval) -> FirstOrderState:
        return s._replace(value=ev.value, grad=ev.grad)

    def propose(self, obj: Objective, s: FirstOrderState, lower: Any, upper: Any) -> tuple[Any, Any]:
        # Coordinates held on a bound by an outward gradient get no update (their gradient is
        # masked), so curvature pairs and moments are built from the free coordinates only; the
        # line search sees the objective through the projection, so every trial point is feasible.
        grad = jnp.where(held(s.theta, s.grad, lower, upper), 0.0, s.grad)

        def value_fn(t: Any) -> Any:
            return obj.value(project(t, lower, upper))

        upd, opt_state = self.optimizer().update(grad, s.opt_state, s.theta, value=s.value, grad=grad,
                                                 value_fn=value_fn)
        return project(optax.apply_updates(s.theta, upd), lower, upper), opt_state

    def update(self, s: FirstOrderState, theta: Any, opt_state: Any, ev: FirstOrderEval, lower: Any,
               upper: Any) -> FirstOrderState:
        calm = jnp.where(jnp.abs(s.value - ev.value) <= self.ftol * jnp.abs(ev.value), s.calm + 1, 0)
        return FirstOrderState(theta, ev.value, ev.grad, opt_state, calm)

    def terminate(self, s: FirstOrderState, lower: Any, upper: Any) -> Any:
        pg = jnp.max(jnp.abs(projected_gradient(s.theta, s.grad, lower, upper)))
        return jnp.select([pg <= self.gtol, s.calm >= self.patience],
                          [int(Status.CONVERGED_GRADIENT), int(Status.CONVERGED_OBJECTIVE)], int(Status.RUNNING))


@dataclasses.dataclass(frozen=True)
class LBFGS(_Projected):
    """``optax.lbfgs`` (zoom line search) followed by projection onto the bounds."""

    max_steps: int = 1000
    memory_size: int = 10
    ftol: float = 1e-12
    gtol: float = 1e-12
    patience: int = 5

    def optimizer(self) -> optax.GradientTransformation:
        return optax.lbfgs(memory_size=self.memory_size)


@dataclasses.dataclass(frozen=True)
class Adam(_Projected):
    """``optax.adam`` followed by projection onto the bounds."""

    max_steps: int = 5000
    learning_rate: float = 1e-2
    ftol: float = 1e-10
    gtol: float = 1e-12
    patience: int = 20

    def optimizer(self) -> optax.GradientTransformation:
        return optax.adam(self.learning_rate)
