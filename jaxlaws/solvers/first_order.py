"""Projected first-order solvers built from optax: ``lbfgs`` and ``adam``.

Each step applies the optax update to the gradient, projects the result onto
the bounds with ``optax.projections.projection_box`` and re-evaluates the
objective and gradient there (autodiff, never finite differences). A lane is
done when the projected gradient is below ``gtol`` (sup norm) or the objective
has changed by less than ``ftol`` relative for ``patience`` steps in a row.
A step that would leave the finite region is refused and ends the lane as failed.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxlaws.solvers.base import Objective, freeze, project, projected_gradient


class FirstOrderState(NamedTuple):
    theta: Any
    value: Any
    steps: Any
    done: Any
    failed: Any
    grad: Any
    opt_state: Any
    calm: Any  # consecutive steps with a relative change below ftol


class _Projected:
    """Shared init/step around an optax GradientTransformation."""

    max_steps: int
    ftol: float
    gtol: float
    patience: int

    def optimizer(self) -> optax.GradientTransformation:
        raise NotImplementedError

    def coarse(self) -> _Projected:
        return dataclasses.replace(self, ftol=max(self.ftol, 1e-6))

    def refine(self) -> _Projected:
        return self

    def init(self, obj: Objective, theta0: Any, lower: Any, upper: Any) -> FirstOrderState:
        # Nothing is evaluated here: the first step evaluates the start (value +inf marks a lane
        # not yet evaluated), so the engine can put a new lane into a slot at no cost.
        false = jnp.zeros((), bool)
        return FirstOrderState(theta0, jnp.asarray(jnp.inf, theta0.dtype), jnp.zeros((), jnp.int32), false, false,
                               jnp.zeros_like(theta0), self.optimizer().init(theta0), jnp.zeros((), jnp.int32))

    def step(self, obj: Objective, s: FirstOrderState, lower: Any, upper: Any) -> FirstOrderState:
        opt = self.optimizer()
        # Coordinates held on a bound by an outward gradient get no update (their gradient is
        # masked), so curvature pairs and moments are built from the free coordinates only; the
        # line search sees the objective through the projection, so every trial point is feasible.
        fixed = ((s.theta <= lower) & (s.grad > 0)) | ((s.theta >= upper) & (s.grad < 0))
        grad = jnp.where(fixed, 0.0, s.grad)

        def value_fn(t: Any) -> Any:
            return obj.value(project(t, lower, upper))

        upd, opt_state = opt.update(grad, s.opt_state, s.theta, value=s.value, grad=grad, value_fn=value_fn)
        fresh = s.value == jnp.inf  # the start itself, not yet evaluated
        theta = jnp.where(fresh, s.theta, project(optax.apply_updates(s.theta, upd), lower, upper))
        f, g = jax.value_and_grad(obj.value)(theta)
        bad = ~jnp.isfinite(f) | ~jnp.all(jnp.isfinite(g))
        calm = jnp.where(jnp.abs(s.value - f) <= self.ftol * jnp.abs(f), s.calm + 1, 0)
        pg = jnp.max(jnp.abs(projected_gradient(theta, g, lower, upper)))
        new = FirstOrderState(
            theta=jnp.where(bad, s.theta, theta), value=jnp.where(bad, s.value, f), steps=s.steps + 1,
            done=bad | (pg <= self.gtol) | (calm >= self.patience), failed=bad,
            grad=jnp.where(bad, s.grad, g), opt_state=opt_state, calm=calm,
        )
        first = s._replace(value=f, done=bad, failed=bad, grad=jnp.where(bad, 0.0, g))
        return freeze(s.done, s, jax.tree.map(lambda a, b: jnp.where(fresh, a, b), first, new))


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
