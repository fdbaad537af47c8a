"""The protocol every solver follows, and the objective it is handed.

A solver is a small frozen object with two pure functions,

* ``init(obj, theta0, lower, upper) -> state``
* ``step(obj, state, lower, upper) -> state``

for one lane (one start on one resample); the engine vmaps and loops them.
Every state is a NamedTuple whose first five fields are :class:`Lane`'s:
``theta`` ``[P]`` (internal coordinates, always inside the bounds), ``value``
(the objective at ``theta``), ``steps``, ``done`` (the solver's tolerances are
met, or the lane failed) and ``failed`` (the objective was not finite where
the lane started). A lane that is done never changes again.

``init`` evaluates nothing: it leaves ``value`` at ``+inf``, and the first
``step`` evaluates the start (counting no step) and marks the lane failed if
the objective is not finite there. The engine can then put a new lane into a
slot of a running batch by moving state alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import jax
import jax.numpy as jnp

from jaxlaws.losses import Loss

Array = Any


class Lane(NamedTuple):
    """The fields every solver state starts with."""

    theta: Array
    value: Array
    steps: Array
    done: Array
    failed: Array


class Objective(NamedTuple):
    """One lane's objective ``sum_i w_i rho(r_i(theta))``.

    Attributes:
      residual: ``theta [P] -> r [m]`` (flattened over points and outputs).
      weight: ``[m]`` non-negative weights (bootstrap counts times user weights).
      loss: the per-residual loss.
    """

    residual: Callable[[Array], Array]
    weight: Array
    loss: Loss

    def value(self, theta: Array) -> Array:
        return self.loss.total(self.residual(theta), self.weight)

    def residual_and_jacobian(self, theta: Array) -> tuple[Array, Array]:
        """``r [m]`` and ``J [m, P]`` in one forward-mode pass (P tangents)."""
        P = theta.shape[0]
        basis = jnp.eye(P, dtype=theta.dtype)
        r, J = jax.vmap(lambda t: jax.jvp(self.residual, (theta,), (t,)), out_axes=(None, 1))(basis)
        return r, J


class Solver(Protocol):
    max_steps: int

    def init(self, obj: Objective, theta0: Array, lower: Array, upper: Array) -> Any: ...

    def step(self, obj: Objective, state: Any, lower: Array, upper: Array) -> Any: ...

    def coarse(self) -> Solver:
        """This solver with tolerances a float32 first phase can meet (``precision="mixed"``)."""
        ...

    def refine(self) -> Solver:
        """This solver set up to continue from a nearly converged point (the float64 polish)."""
        ...


def project(theta: Array, lower: Array, upper: Array) -> Array:
    """Euclidean projection onto the box (optax's ``projection_box``)."""
    import optax

    return optax.projections.projection_box(theta, lower, upper)


def projected_gradient(theta: Array, grad: Array, lower: Array, upper: Array) -> Array:
    """``theta - P(theta - grad)``: zero exactly at a first-order point of the box problem."""
    return theta - project(theta - grad, lower, upper)


def freeze(done: Array, old: Any, new: Any) -> Any:
    """``old`` where the lane was already done, else ``new`` (leaf by leaf)."""
    return jax.tree.map(lambda o, n: jnp.where(done, o, n), old, new)
