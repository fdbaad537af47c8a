"""One device's lane queue: ``K`` slots stepped together by the shared iterate loop, refilled as
lanes finish.

Each iteration first gives every finished slot the next queued lane (its outcome written to
the records), then advances every slot by one :func:`jaxlaws.solvers.iterate.step` (finished
slots frozen). Slots thus stay busy until the queue runs dry, instead of idling until the
slowest lane of a fixed chunk ends. A solver's ``init`` evaluates nothing (the loop's first
step evaluates the start), so a swap only moves state.

The program returns when the queue is empty (``final`` false: the slots carry over to the
next call), or on the last call when every lane is done. The data are arguments, never closed
over, so one compilation serves every dataset of the same shape.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxlaws.law import Law
from jaxlaws.losses import Loss
from jaxlaws.problem import residual_fn
from jaxlaws.solvers import iterate
from jaxlaws.solvers.base import Objective, Solver
from jaxlaws.solvers.status import Status

Array = Any


class Data(NamedTuple):
    """What every lane on a device reads (replicated): inputs, observation, weight and bound rows."""

    X: dict[str, Array]
    obs: Array  # [By, m]
    weights: Array  # [Bw, m]
    lower: Array  # [Bb, P]
    upper: Array  # [Bb, P]


class Slots(NamedTuple):
    """``K`` slots: the lanes being stepped, their ids (-1: empty) and data rows."""

    lane: iterate.Lane
    id: Array  # [K] int32
    obs_i: Array  # [K] int32
    w_i: Array  # [K] int32
    b_i: Array  # [K] int32


class Queue(NamedTuple):
    """Lanes waiting on a device: starts, ids (-1: no lane), data rows, steps already spent."""

    theta0: Array  # [Q, P]
    id: Array  # [Q]
    obs_i: Array  # [Q]
    w_i: Array  # [Q]
    b_i: Array  # [Q]
    steps0: Array  # [Q]


class Records(NamedTuple):
    """Outcomes of the lanes that finished during one call (``id`` -1: unused row)."""

    theta: Array
    value: Array
    steps: Array
    status: Array
    id: Array


# An empty slot must read as finished; any code but RUNNING does, and its row is never recorded.
EMPTY = int(Status.MAX_STEPS)


def objective(law: Law, loss: Loss, data: Data, i: Array, j: Array) -> Objective:
    """The objective of a lane on observation row ``i`` and weight row ``j``."""
    return Objective(residual_fn(law, loss, data.X, data.obs[i]), data.weights[j], loss, data.obs[i])


def build(law: Law, loss: Loss, solver: Solver, K: int) -> Callable[[Slots, Queue, Array, Data], tuple[Slots, Records]]:
    """The queue program for one device (to be jitted, and shard_mapped over devices)."""

    def run(slots: Slots, queue: Queue, final: Array, data: Data) -> tuple[Slots, Records]:
        Q = queue.id.shape[0]
        n_q = jnp.sum(queue.id >= 0, dtype=jnp.int32)
        R = Q + K  # at most every queued lane and every slot's first occupant finish in one call
        theta = slots.lane.state.theta
        rec = Records(jnp.zeros((R,) + theta.shape[1:], theta.dtype), jnp.zeros(R, theta.dtype),
                      jnp.zeros(R, jnp.int32), jnp.zeros(R, jnp.int32), jnp.full(R, -1, jnp.int32))

        def step_all(s: Slots) -> Slots:
            def one(lane: iterate.Lane, i: Array, j: Array, b: Array) -> iterate.Lane:
                return iterate.step(solver, objective(law, loss, data, i, j), lane, data.lower[b], data.upper[b])

            return s._replace(lane=jax.vmap(one)(s.lane, s.obs_i, s.w_i, s.b_i))

        def swap(c: Any) -> Any:
            # The r-th finished slot takes queued lane ptr + r, while the queue lasts. Written as
            # gathers and selects rather than scatters into the slots: XLA fuses them per state
            # leaf, which keeps the program (and its compile time) small.
            s, ptr, rec, n_rec = c
            fin = iterate.finished(s.lane)
            rank = jnp.cumsum(fin, dtype=jnp.int32) - 1
            take = fin & (ptr + rank < n_q)
            qi = jnp.clip(ptr + rank, 0, Q - 1)
            keep = take & (s.id >= 0)  # an empty slot has no outcome to record
            pos = jnp.where(keep, n_rec + jnp.cumsum(keep, dtype=jnp.int32) - 1, R)  # R: dropped
            out = Records(s.lane.state.theta, s.lane.state.value, s.lane.steps, s.lane.status, s.id)
            rec = Records(*(r.at[pos].set(v, mode="drop") for r, v in zip(rec, out)))

            def init(t: Array, s0: Array, b: Array) -> iterate.Lane:
                return iterate.init(solver, t, data.lower[b], data.upper[b], s0)

            def pick(new: Any, old: Any) -> Any:
                return jnp.where(jnp.reshape(take, take.shape + (1,) * (old.ndim - 1)), new, old)

            new = Slots(jax.vmap(init)(queue.theta0[qi], queue.steps0[qi], queue.b_i[qi]), queue.id[qi],
                        queue.obs_i[qi], queue.w_i[qi], queue.b_i[qi])
            s = jax.tree.map(pick, new, s)
            return s, ptr + jnp.sum(take, dtype=jnp.int32), rec, n_rec + jnp.sum(keep, dtype=jnp.int32)

        def ready(c: Any) -> Array:
            """Slots that could be swapped now: finished ones, as far as the queue reaches."""
            return jnp.minimum(jnp.sum(iterate.finished(c[0].lane), dtype=jnp.int32), n_q - c[1])

        def cond(c: Any) -> Array:
            return (c[1] < n_q) | (final & jnp.any(~iterate.finished(c[0].lane)))

        def body(c: Any) -> Any:
            # Swap, then step: a lane swapped in is evaluated in the same iteration, and the
            # program holds a single copy of the swap.
            c = jax.lax.cond(ready(c) > 0, swap, lambda c: c, c)
            return (step_all(c[0]),) + c[1:]

        # The slowest lanes of the last call keep all K slots stepping until they end. Gathering
        # them into a narrower batch saved ~3% of a 4,500-start grid fit but took a second copy
        # of the solver step into the program, nearly doubling its compile time; not kept.
        c = (slots, jnp.zeros((), jnp.int32), rec, jnp.zeros((), jnp.int32))
        slots, _, rec, _ = jax.lax.while_loop(cond, body, c)
        return slots, rec

    return run
