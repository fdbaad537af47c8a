"""The one loop every solver runs under: start evaluation, step limit, non-finite values, freezing.

A :class:`Lane` wraps a solver's state with the loop's own bookkeeping: a
:class:`~jaxlaws.solvers.status.Status` code and the steps taken. One call of :func:`step`
is one evaluation of the objective (one residual + Jacobian pass for LM):

* a lane not yet evaluated (``value == +inf``) evaluates its start; a non-finite objective
  there ends it as ``NONFINITE_START``; the start counts no step;
* otherwise the solver proposes a candidate, the loop evaluates it, and the solver accepts or
  rejects it; a non-finite candidate ends the lane as ``NONFINITE`` unless the solver treats
  it as a rejected step (``rejects_nonfinite``);
* the solver's ``terminate`` says whether a tolerance was met or it stalled; a lane still
  running at ``max_steps`` steps ends as ``MAX_STEPS``;
* a lane that has ended never changes again (its state is frozen under vmap).

The step count ``steps`` may start above zero (``init(..., steps0)``): a float64 polish
continues the count of the float32 phase against one budget.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxlaws.solvers.base import Objective, Solver, select
from jaxlaws.solvers.status import Status

Array = Any
RUNNING = int(Status.RUNNING)


class Lane(NamedTuple):
    """One lane in the loop: the solver's state, its status code and steps taken."""

    state: Any
    status: Array  # int32 Status code; RUNNING while going on
    steps: Array  # int32


def init(solver: Solver, theta0: Array, lower: Array, upper: Array, steps0: Array = 0) -> Lane:
    """A lane at ``theta0`` (nothing evaluated), ``steps0`` steps already spent."""
    return Lane(solver.init(theta0, lower, upper), jnp.asarray(RUNNING, jnp.int32), jnp.asarray(steps0, jnp.int32))


def finished(lane: Lane) -> Array:
    return lane.status != RUNNING


def _all_finite(tree: Any) -> Array:
    leaves = jax.tree.leaves(tree)
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves]))


def step(solver: Solver, obj: Objective, lane: Lane, lower: Array, upper: Array) -> Lane:
    """One evaluation's worth of progress for ``lane`` (a finished lane is returned unchanged)."""
    s = lane.state
    fresh = s.value == jnp.inf  # the start itself, not yet evaluated
    proposed, carry = solver.propose(obj, s, lower, upper)
    theta = jnp.where(fresh, s.theta, proposed)
    ev = solver.evaluate(obj, theta)  # one pass, shared by the start and the step
    finite = _all_finite(ev)
    moved = solver.update(s, theta, carry, ev, lower, upper)
    bad_step = ~fresh & ~finite & (not solver.rejects_nonfinite)
    new = select(fresh, solver.start(s, ev), select(bad_step, s, moved))
    steps = lane.steps + jnp.where(fresh, 0, 1).astype(jnp.int32)
    code = jnp.where(fresh & ~finite, int(Status.NONFINITE_START),
                     jnp.where(bad_step, int(Status.NONFINITE), solver.terminate(new, lower, upper)))
    code = jnp.where((code == RUNNING) & (steps >= solver.max_steps), int(Status.MAX_STEPS), code).astype(jnp.int32)
    return select(finished(lane), lane, Lane(new, code, steps))
