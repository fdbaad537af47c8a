"""One precision's pass over a batch: every lane through its device's queue, outcomes collected.

Lanes go through each device's queue (:mod:`jaxlaws.engine.queue`) in calls of
``QUEUE_BATCHES * K`` lanes per device; the slots carry over from one call to the next, and
the last call runs every lane to its end. Device ``d`` queues lanes ``d, d + n_dev, ...``
(interleaved, so easy and hard starts mix).

``devices``: how many of the first jax devices run (None: all). With several processes each
builds the queue only of its own devices (:func:`jaxlaws.engine.mesh.put_rows`), reads back
only their records, and every process gets every lane at the end
(:func:`jaxlaws.engine.mesh.gather_lanes`). What a lane computes depends only on its device's
``K`` slots and its queue, never on which process holds the device.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxlaws.engine import mesh, slots as slots_mod
from jaxlaws.engine.programs import CACHE
from jaxlaws.engine.queue import EMPTY, Data, Queue, Slots
from jaxlaws.lanes import Lanes
from jaxlaws.problem import Batch
from jaxlaws.solvers.base import Solver

# Queued lanes per device per call, in units of its K slots. Each call costs a few ms of
# dispatch and read-back; on the Chinchilla grid (2,250 lanes per device, K = 64) 32 (two calls
# per phase) ran the warm fit ~10% faster than 4, and one call per phase no faster.
QUEUE_BATCHES = 32


class _Setup(NamedTuple):
    K: int  # slots per device
    dtype: Any
    data: Data  # on the devices, replicated
    shape: Any  # the slot lanes' shapes
    slots: Slots  # K * n_dev empty slots, sharded


def _setup(batch: Batch, solver: Solver, x64: bool, chunk: int | None, devices: int | None) -> _Setup:
    """Slots per device, the dtype, the data on the devices, the slot shapes and empty slots
    (called inside the phase's ``enable_x64``)."""
    prob, n_dev = batch.problem, mesh.n_devices(devices)
    K = slots_mod.slots_per_device(-(-batch.n_lanes // n_dev), batch.obs.shape[-1], prob.law.n_params, chunk,
                                   accelerator=jax.default_backend() != "cpu")
    dt = jnp.float64 if x64 else jnp.float32
    # Host arrays of the precision, placed by device_put (jnp.asarray would run a small jitted
    # conversion per shape: programs a new process traces and loads before the fit starts).
    data = mesh.put(Data(
        {k: np.asarray(v, dt) for k, v in prob.inputs.items()}, np.asarray(batch.obs, dt),
        np.asarray(batch.weights, dt), np.asarray(batch.lower, dt), np.asarray(batch.upper, dt),
    ), mesh.replicated(devices))
    shape = CACHE.slot_shape(prob.law, prob.loss, solver, K * n_dev, data)

    def empty_rows(d: int) -> Slots:  # K empty slots of one device
        lanes = jax.tree.map(lambda a: np.zeros((K,) + a.shape[1:], a.dtype), shape)
        z = np.zeros(K, np.int32)
        return Slots(lanes._replace(status=np.full(K, EMPTY, np.int32)), np.full(K, -1, np.int32), z, z, z)

    return _Setup(K, dt, data, shape, mesh.put_rows(empty_rows, devices))


def _args(s: _Setup, slots: Slots, batch: Batch, q: np.ndarray, steps0: np.ndarray, final: bool,
          devices: int | None) -> tuple[Any, ...]:
    """The queue program's arguments: slots, the queued lanes ``q [n_dev, Q]`` (-1: none), the
    flag, the data. Only this process's devices' rows of ``q`` are read."""
    def rows(d: int) -> Queue:
        qd = q[d]
        qi = np.maximum(qd, 0)
        return Queue(batch.theta0[qi].astype(s.dtype), qd, batch.obs_index[qi], batch.weight_index[qi],
                     batch.bound_index[qi], steps0[qi])

    flag = mesh.put(np.asarray(final), mesh.replicated(devices))
    return slots, mesh.put_rows(rows, devices), flag, s.data


def compile_ahead(batch: Batch, solver: Solver, x64: bool, chunk: int | None, devices: int | None = None) -> float:
    """Start compiling the program :func:`run` will use for ``batch`` (see
    :meth:`ProgramCache.compile_ahead`); the seconds spent tracing and lowering it."""
    with jax.enable_x64(x64):
        s = _setup(batch, solver, x64, chunk, devices)
        q = np.full((mesh.n_devices(devices), QUEUE_BATCHES * s.K), -1, np.int32)
        args = _args(s, s.slots, batch, q, np.zeros(batch.n_lanes, np.int32), False, devices)
        return CACHE.compile_ahead(batch.problem.law, batch.problem.loss, solver, args, s.K, x64)


def run(batch: Batch, solver: Solver, x64: bool, chunk: int | None = None,
        progress: Callable[[int, int], None] | None = None, steps0: np.ndarray | None = None,
        devices: int | None = None) -> Lanes:
    """Every lane of ``batch`` run by ``solver`` in one precision on the first ``devices`` jax
    devices (None: all); ``steps0`` ``[L]``: steps already spent per lane (a polish continues
    the float32 count)."""
    L = batch.n_lanes
    n_dev = mesh.n_devices(devices)
    law, loss = batch.problem.law, batch.problem.loss
    steps0 = np.zeros(L, np.int32) if steps0 is None else np.asarray(steps0, np.int32)
    with jax.enable_x64(x64):
        t_start = time.perf_counter()
        s = _setup(batch, solver, x64, chunk, devices)
        Qd = QUEUE_BATCHES * s.K
        compile_s = 0.0
        pool = {"theta": np.zeros((L, law.n_params), s.shape.state.theta.dtype),
                "value": np.zeros(L, s.shape.state.value.dtype), "steps": np.zeros(L, np.int32),
                "status": np.zeros(L, np.int32)}
        per_dev = [np.arange(d, L, n_dev, dtype=np.int32) for d in range(n_dev)]
        n_calls = max(1, -(-max(len(p) for p in per_dev) // Qd))
        done = 0

        def store(ids: np.ndarray, theta: Any, value: Any, steps: Any, status: Any) -> None:
            for k, v in zip(pool, (theta, value, steps, status)):
                pool[k][ids] = v

        def collect(rec: Any) -> None:
            nonlocal done
            rec = mesh.local_rows(rec)
            got = rec.id >= 0
            store(rec.id[got], rec.theta[got], rec.value[got], rec.steps[got], rec.status[got])
            done += int(got.sum())
            if progress is not None:
                progress(done, L)

        # Each call is dispatched before the previous call's records are read back: the next
        # call's arguments are prepared on the host while the devices still run (its slots are
        # the previous call's outputs, passed on without a round trip).
        slots, pending = s.slots, None
        for b in range(n_calls):
            q = np.full((n_dev, Qd), -1, np.int32)
            for d, p in enumerate(per_dev):
                part = p[b * Qd:(b + 1) * Qd]
                q[d, :len(part)] = part
            args = _args(s, slots, batch, q, steps0, b == n_calls - 1, devices)
            exe, c = CACHE.get(law, loss, solver, args, s.K)
            compile_s += c
            slots, rec = exe(*args)
            if pending is not None:
                collect(pending)
            pending = rec
        collect(pending)

        # The slots hold the lanes that finished last, never swapped out.
        last = mesh.local_rows(slots)
        held = last.id >= 0
        store(last.id[held], last.lane.state.theta[held], last.lane.state.value[held], last.lane.steps[held],
              last.lane.status[held])
        pool = mesh.gather_lanes(pool, devices)
        if progress is not None:
            progress(L, L)

    run_s = time.perf_counter() - t_start - compile_s
    return Lanes(theta=pool["theta"].astype(np.float64), value=pool["value"].astype(np.float64),
                 steps=pool["steps"], status=pool["status"], compile_s=compile_s, run_s=run_s)
