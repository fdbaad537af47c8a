"""The protocol every solver follows, and the objective it is handed.

A solver is a small frozen object of pure functions for one lane (one start on one
resample); the shared loop in :mod:`jaxlaws.solvers.iterate` drives them and the engine
vmaps the loop:

* ``init(theta0, lower, upper) -> state``: evaluates nothing (the engine can then put a new
  lane into a slot of a running batch by moving state alone);
* ``propose(obj, state, lower, upper) -> (theta, carry)``: the next candidate, inside the
  bounds, and whatever :meth:`update` needs to judge it;
* ``evaluate(obj, theta) -> ev``: the objective (``ev.value``) and the derivatives the solver
  needs, in one pass;
* ``start(state, ev) -> state``: take the evaluated start;
* ``update(state, theta, carry, ev, lower, upper) -> state``: accept or reject the candidate;
* ``terminate(state, lower, upper) -> code``: a :class:`~jaxlaws.solvers.status.Status`
  code, ``RUNNING`` to go on;
* optionally ``for_batch(n_lanes) -> solver``: this solver as the engine should run it on a
  batch of ``n_lanes`` lanes (LM: which Cholesky; :func:`jaxlaws.engine.precision.sized`).

Every state is a NamedTuple whose first two fields are ``theta`` ``[P]`` (internal
coordinates, always inside the bounds) and ``value`` (the objective there; ``+inf`` until
the start is evaluated). The loop, not the solver, owns evaluating the start, the step
limit, freezing finished lanes and non-finite values (``rejects_nonfinite``: a non-finite
candidate is a rejected step the solver recovers from, or it ends the lane).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import jax
import jax.numpy as jnp
import optax

from jaxlaws.losses import Loss

Array = Any


class Objective(NamedTuple):
    """One lane's objective ``sum_i w_i rho(r_i(theta))``.

    Attributes:
      residual: ``theta [P] -> r [m]`` (flattened over points and outputs).
      weight: ``[m]`` non-negative weights (bootstrap counts times user weights).
      loss: the per-residual loss.
      obs: ``[m]`` the observations the residuals are taken against (their magnitude sets the
        rounding error of each residual, and so the objective's noise floor).
    """

    residual: Callable[[Array], Array]
    weight: Array
    loss: Loss
    obs: Array

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
    rejects_nonfinite: bool

    def init(self, theta0: Array, lower: Array, upper: Array) -> Any: ...

    def propose(self, obj: Objective, state: Any, lower: Array, upper: Array) -> tuple[Array, Any]: ...

    def evaluate(self, obj: Objective, theta: Array) -> Any: ...

    def start(self, state: Any, ev: Any) -> Any: ...

    def update(self, state: Any, theta: Array, carry: Any, ev: Any, lower: Array, upper: Array) -> Any: ...

    def terminate(self, state: Any, lower: Array, upper: Array) -> Array: ...

    def coarse(self) -> Solver:
        """This solver with tolerances a float32 first phase can meet (``precision="mixed"``)."""
        ...

    def refine(self) -> Solver:
        """This solver set up to continue from a nearly converged point (the float64 polish)."""
        ...


def project(theta: Array, lower: Array, upper: Array) -> Array:
    """Euclidean projection onto the box (optax's ``projection_box``)."""
    return optax.projections.projection_box(theta, lower, upper)


def held(theta: Array, grad: Array, lower: Array, upper: Array) -> Array:
    """``[P]`` bool: coordinates on a bound whose gradient pushes outward (held fixed for a step)."""
    return ((theta <= lower) & (grad > 0)) | ((theta >= upper) & (grad < 0))


def projected_gradient(theta: Array, grad: Array, lower: Array, upper: Array) -> Array:
    """The gradient with the components held at a bound zeroed: zero exactly at a first-order
    point of the box problem. Written as a mask, not as ``theta - P(theta - grad)``, which
    rounds any gradient component below ``eps * |theta|`` to zero (a plateau whose predictions
    have underflowed would then pass for an optimum)."""
    return jnp.where(held(theta, grad, lower, upper), 0.0, grad)


def select(pred: Array, a: Any, b: Any) -> Any:
    """``a`` where ``pred`` (a scalar per lane) else ``b``, leaf by leaf."""
    return jax.tree.map(lambda x, y: jnp.where(pred, x, y), a, b)
