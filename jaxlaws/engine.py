"""The batched core: many lanes (start x resample) solved as one jitted, vmapped computation.

A *lane* is one start on one resample. Each jax device runs ``K`` *slots* in one
jitted ``vmap``, stepping them together inside a device-side loop; when a slot's
lane finishes (converged or failed) its outcome is written out and the slot is
refilled from a queue of lanes waiting on that device, so the slots stay busy
instead of idling until the slowest lane of a fixed chunk ends. Lanes arrive in
batches of ``QUEUE_BATCHES * K`` per device, so one compiled program serves any
number of lanes with the same ``K`` (by default ``K`` grows with the lanes up to a
cap set by the data size, :func:`slots_per_device`) and memory stays flat beyond
the queue batch.

The data are passed as arrays, never closed over, so one compilation serves
every dataset of the same shape.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import time
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxlaws.errors import JaxlawsError
from jaxlaws.law import Law
from jaxlaws.losses import Loss
from jaxlaws.solvers.base import Objective, Solver, freeze

_COMPILED: dict[tuple[Any, ...], Any] = {}
_PENDING: dict[tuple[Any, ...], concurrent.futures.Future] = {}  # compiling in the background
_EXECUTOR: concurrent.futures.ThreadPoolExecutor | None = None
_SHAPES: dict[tuple[Any, ...], Any] = {}


def compile_count() -> int:
    """How many engine programs this process has compiled (for tests and benchmarks)."""
    return len(_COMPILED)


def clear_compiled() -> None:
    """Forget this process's compiled programs (benchmarks use it to time cold starts)."""
    # Let background compiles finish (failed or not), so that none lands after the clear.
    concurrent.futures.wait(list(_PENDING.values()))
    _PENDING.clear()
    _COMPILED.clear()
    _SHAPES.clear()
    jax.clear_caches()


def device_name() -> str:
    d = jax.devices()[0]
    return f"{d.platform}:{getattr(d, 'device_kind', d.platform)} x{jax.device_count()}"


def make_residual(law: Law, loss: Loss, X: Mapping[str, Any], obs: Any) -> Callable[[Any], Any]:
    """``theta -> r [m]``: log or linear residuals of ``law`` against ``obs``.

    ``obs`` is log(y) for a log-space loss, y otherwise, flattened to ``[m]``.
    """

    def residual(theta: Any) -> Any:
        if loss.log_space:
            pred = law.log_predict_internal(theta, X)
        else:
            pred = law.predict_internal(theta, X)
        return jnp.reshape(pred, (-1,)) - obs

    return residual


def _lane_objective(law: Law, loss: Loss, X: Any, obs: Any, w: Any) -> Objective:
    return Objective(make_residual(law, loss, X, obs), w, loss)


def _build_queue(law: Law, loss: Loss, solver: Solver, K: int) -> Callable[..., Any]:
    """One device's lane queue (to be jitted): ``K`` slots stepped together, refilled as they finish.

    Each iteration first gives every finished slot the next queued lane (its outcome written to
    ``rec``), then advances every slot by one solver step (finished slots frozen). Slots thus
    stay busy until the queue runs dry, instead of idling until the slowest lane of a fixed chunk
    ends. A solver's ``init`` evaluates nothing (its first step evaluates the start), so a swap
    only moves state.

    The loop returns when the queue is empty (``final`` false: the slots carry over to the next
    call), or on the last call when every lane is done.

    Slots hold ``lane = -1`` when empty; such slots are marked done and never recorded.
    """
    def objective(i, j, X, OBS, W):
        return _lane_objective(law, loss, X, OBS[i], W[j])

    def run(slots, lane, syi, swi, q_theta, q_lane, q_yi, q_wi, q_steps0, final, X, OBS, W, lower, upper):
        Q = q_lane.shape[0]
        n_q = jnp.sum(q_lane >= 0, dtype=jnp.int32)
        R = Q + K  # at most every queued lane and every slot's first occupant finish in one call
        rec = (jnp.zeros((R,) + slots.theta.shape[1:], slots.theta.dtype), jnp.zeros(R, slots.value.dtype),
               jnp.zeros(R, jnp.int32), jnp.zeros(R, bool), jnp.zeros(R, bool), jnp.full(R, -1, jnp.int32))

        def finished(st):
            return st.done | (st.steps >= solver.max_steps)

        def step_all(st, yi, wi):
            def one(s, i, j):
                new = solver.step(objective(i, j, X, OBS, W), s, lower, upper)
                return freeze(finished(s), s, new)

            return jax.vmap(one)(st, yi, wi)

        def swap(c: Any) -> Any:
            # The r-th finished slot takes queued lane ptr + r, while the queue lasts. Written as
            # gathers and selects rather than scatters into the slots: XLA fuses them per state
            # leaf, which keeps the program (and its compile time) small.
            slots, lane, syi, swi, ptr, rec, n_rec = c
            fin = finished(slots)
            rank = jnp.cumsum(fin, dtype=jnp.int32) - 1
            take = fin & (ptr + rank < n_q)
            qi = jnp.clip(ptr + rank, 0, Q - 1)
            keep = take & (lane >= 0)  # an empty slot has no outcome to record
            pos = jnp.where(keep, n_rec + jnp.cumsum(keep, dtype=jnp.int32) - 1, R)  # R: dropped
            rec = tuple(r.at[pos].set(v, mode="drop") for r, v in zip(
                rec, (slots.theta, slots.value, slots.steps, slots.done, slots.failed, lane)))

            def init(t, i, j, s0):
                return solver.init(objective(i, j, X, OBS, W), t, lower, upper)._replace(steps=s0)

            def pick(new: Any, old: Any) -> Any:
                return jnp.where(jnp.reshape(take, take.shape + (1,) * (old.ndim - 1)), new, old)

            new = jax.vmap(init)(q_theta[qi], q_yi[qi], q_wi[qi], q_steps0[qi])
            slots = jax.tree.map(pick, new, slots)
            lane, syi, swi = pick(q_lane[qi], lane), pick(q_yi[qi], syi), pick(q_wi[qi], swi)
            return (slots, lane, syi, swi, ptr + jnp.sum(take, dtype=jnp.int32), rec,
                    n_rec + jnp.sum(keep, dtype=jnp.int32))

        def ready(c: Any) -> Any:
            """Slots that could be swapped now: finished ones, as far as the queue reaches."""
            return jnp.minimum(jnp.sum(finished(c[0]), dtype=jnp.int32), n_q - c[4])

        def cond(c):
            return (c[4] < n_q) | (final & jnp.any(~finished(c[0])))

        def body(c):
            # Swap, then step: a lane swapped in is evaluated in the same iteration, and the
            # program holds a single copy of the swap.
            c = jax.lax.cond(ready(c) > 0, swap, lambda c: c, c)
            return (step_all(c[0], c[2], c[3]),) + c[1:]

        # The slowest lanes of the last call keep all K slots stepping until they end. Gathering
        # them into a narrower batch saved ~3% of a 4,500-start grid fit but took a second copy
        # of the solver step into the program, nearly doubling its compile time; not kept.
        c = (slots, lane, syi, swi, jnp.zeros((), jnp.int32), rec, jnp.zeros((), jnp.int32))
        slots, lane, syi, swi, _, rec, _ = jax.lax.while_loop(cond, body, c)
        return slots, lane, syi, swi, rec

    return run


def _slot_shape(law: Law, loss: Loss, solver: Solver, K: int, data: tuple[Any, ...]) -> Any:
    """The state shapes of ``K`` initialised lanes (traced once per setting, like the programs)."""
    key = (law, loss, solver, K, tuple((a.shape, str(a.dtype)) for a in jax.tree.leaves(data)))
    if key not in _SHAPES:
        X, OBS, W, lower, upper = data
        _SHAPES[key] = jax.eval_shape(jax.vmap(lambda t: solver.init(
            _lane_objective(law, loss, X, OBS[0], W[0]), t, lower, upper)),
            jax.ShapeDtypeStruct((K, law.n_params), lower.dtype))
    return _SHAPES[key]


# XLA's CPU options for the queue programs. Measured on the 2-core CPU (Chinchilla grid): the
# classic loop emitters instead of the newer fusion emitters compile ~35% faster and run the
# solve ~8% faster; LLVM at -O1 instead of -O2 compiles ~20% faster again and runs as fast.
CPU_COMPILE_OPTIONS = {"xla_cpu_use_fusion_emitters": False, "xla_backend_optimization_level": 1}


def _program_key(law: Law, loss: Loss, solver: Solver, args: tuple[Any, ...], K: int) -> tuple[Any, ...]:
    # The law object itself (hashed by identity) is part of the key: holding it keeps its id from
    # being reused by a new law while the compiled program lives.
    return (law, loss, solver, K, tuple((a.shape, str(a.dtype)) for a in jax.tree.leaves(args)))


def _lower(law: Law, loss: Loss, solver: Solver, args: tuple[Any, ...], K: int) -> Any:
    """The queue program traced and lowered for these argument shapes (in the caller's precision)."""
    fn = _build_queue(law, loss, solver, K)
    if jax.device_count() > 1:
        # Lanes are independent: shard_map runs each device's slots and queue on its own, with
        # no cross-device communication. The first nine arguments (slots and queue) carry the
        # lane axis; the rest (the final-call flag, data, bounds) are replicated.
        lanes = PartitionSpec("lanes")
        specs = tuple(lanes if i < 9 else PartitionSpec() for i in range(len(args)))
        fn = jax.shard_map(fn, mesh=_lane_sharding()[0].mesh, in_specs=specs, out_specs=lanes,
                           check_vma=False)
    return jax.jit(fn).lower(*args)


def _compile(lowered: Any) -> Any:
    if jax.default_backend() == "cpu":
        try:
            return lowered.compile(compiler_options=CPU_COMPILE_OPTIONS)
        except jax.errors.JaxRuntimeError as e:  # an XLA that lacks these options: its defaults serve
            if "option" not in str(e):
                raise
    return lowered.compile()


def _compiled(law: Law, loss: Loss, solver: Solver, args: tuple[Any, ...], K: int) -> tuple[Any, float]:
    """The compiled queue program for these argument shapes and ``K`` slots per device, and the
    seconds this call waited for it (tracing, compiling, or the rest of a background compile)."""
    key = _program_key(law, loss, solver, args, K)
    if key in _COMPILED:
        return _COMPILED[key], 0.0
    t = time.perf_counter()
    pending = _PENDING.pop(key, None)
    exe = pending.result() if pending is not None else _compile(_lower(law, loss, solver, args, K))
    _COMPILED[key] = exe
    return exe, time.perf_counter() - t


def _compile_ahead(law: Law, loss: Loss, solver: Solver, args: tuple[Any, ...], K: int, x64: bool) -> float:
    """Trace and lower the program for ``args`` now (inside ``enable_x64(x64)``) and compile it on
    a background thread (XLA releases the GIL while it compiles), so that a later
    :func:`_compiled` finds it ready or part done. The seconds spent here (0 if there was
    nothing to compile)."""
    key = _program_key(law, loss, solver, args, K)
    if key in _COMPILED or key in _PENDING:
        return 0.0
    t = time.perf_counter()
    lowered = _lower(law, loss, solver, args, K)

    def compile_() -> Any:
        with jax.enable_x64(x64):  # the precision context is per thread
            return _compile(lowered)

    global _EXECUTOR
    if _EXECUTOR is None:
        _EXECUTOR = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="jaxlaws-compile")
    _PENDING[key] = _EXECUTOR.submit(compile_)
    return time.perf_counter() - t


@dataclasses.dataclass(frozen=True)
class Lanes:
    """Every lane's outcome (numpy, one row per lane)."""

    theta: np.ndarray  # [L, P] internal coordinates
    value: np.ndarray  # [L]
    steps: np.ndarray  # [L]
    converged: np.ndarray  # [L] bool
    failed: np.ndarray  # [L] bool
    compile_s: float
    run_s: float
    coarse_steps: np.ndarray | None = None  # [L] of ``steps`` taken in float32 (precision="mixed")


CACHE_ELEMENTS = 2 ** 17  # residuals plus Jacobian of all slots on one device, measured best near this


def _fits(k: int, n_residuals: int, n_params: int) -> bool:
    """Whether ``k`` slots' residuals and Jacobian, ``k * m * (P + 1)`` numbers, fit ``CACHE_ELEMENTS``."""
    return k * n_residuals * (n_params + 1) <= CACHE_ELEMENTS


def _chunk_size(n_lanes: int, chunk: int, floor: int = 8) -> int:
    """Slots per device: ``chunk`` rounded up to a power of two (>= ``floor``), no more than the
    lanes need."""
    k = floor
    while k < n_lanes and k < chunk:
        k *= 2
    return k


def min_slots(n_residuals: int, n_params: int) -> int:
    """The fewest slots per device a program gets: 8 where eight slots' residuals and Jacobian fit
    within ``CACHE_ELEMENTS`` (an empty slot then costs next to nothing, and one program serves
    every fit of up to 8 lanes per device), else 1, so that a few lanes on a large dataset do not
    pay for stepping empty slots (measured: 1 lane on 10^5 points ran 8 slots, ~8x the work).
    """
    return 8 if _fits(8, n_residuals, n_params) else 1


def auto_chunk(n_residuals: int, n_params: int) -> int:
    """The most slots per device by default (:func:`slots_per_device`): as many as keep every
    slot's residuals and Jacobian, ``K * m * (P + 1)`` numbers, within ``CACHE_ELEMENTS`` (a
    power of two, 8 to 128).

    Measured on the 2-core CPU with thousands of lanes: 64 slots best for 240 points, 16 for 1,000.
    """
    k = 8
    while k < 128 and _fits(2 * k, n_residuals, n_params):
        k *= 2
    return k


def slots_per_device(lanes_per_device: int, n_residuals: int, n_params: int, chunk: int | None = None) -> int:
    """Slots ``K`` per device for a solve of ``lanes_per_device`` lanes on each device.

    With ``chunk`` given: ``chunk`` rounded up to a power of two, no more than the lanes need.
    By default, about ``1.5 * sqrt(lanes_per_device)`` (the nearest power of two), within
    :func:`min_slots` and :func:`auto_chunk`. A queue's cost is lane-steps plus a tail in which
    the last lanes keep all ``K`` slots stepping (~``K`` times the longest lane, against the
    ``lanes * mean steps`` of the whole solve), while each loop iteration has a fixed cost
    that ``K`` lanes share; the sum is least near ``K ~ sqrt(lanes)``. Measured on the 2-core
    CPU (Chinchilla, 100 and 240 points), the best slots per device were 16 for 50 to 150
    lanes (8, which the rule gives below ~57, within 20% at 50), 32 for 500 and 64 to 128 for
    2,000 to 5,000; at 500 lanes per device, 32 slots instead of 128 made the warm fit ~1.5x
    faster.
    """
    floor = min_slots(n_residuals, n_params)
    if chunk is not None:
        return _chunk_size(lanes_per_device, chunk, floor)
    k = 2 ** int(np.round(np.log2(max(1.5 * np.sqrt(lanes_per_device), 1.0))))
    k = min(k, _chunk_size(lanes_per_device, k, 1))  # no more than the lanes need
    return int(min(max(k, floor), auto_chunk(n_residuals, n_params)))


def _lane_sharding() -> tuple[Any, Any, int]:
    """Shardings that split the lane axis over every device, and replicate the data."""
    devs = jax.devices()
    mesh = Mesh(np.array(devs), ("lanes",))
    return NamedSharding(mesh, PartitionSpec("lanes")), NamedSharding(mesh, PartitionSpec()), len(devs)


PRECISIONS = ("float64", "float32", "mixed")
POLISH_STEPS = 30
# Queued lanes per device per call, in units of its K slots. Each call costs a few ms of
# dispatch and read-back; on the Chinchilla grid (2,250 lanes per device, K = 64) 32 (two calls
# per phase) ran the warm fit ~10% faster than 4, and one call per phase no faster.
QUEUE_BATCHES = 32


def solve(
    law: Law,
    loss: Loss,
    solver: Solver,
    X: Mapping[str, np.ndarray],
    obs: np.ndarray,
    weights: np.ndarray,
    theta0: np.ndarray,
    y_index: np.ndarray | None = None,
    w_index: np.ndarray | None = None,
    *,
    chunk: int | None = None,
    precision: str = "float64",
    dtype: Any = None,
    progress: Callable[[int, int], None] | None = None,
) -> Lanes:
    """Run ``solver`` on every lane and return every lane's outcome.

    Args:
      X: input name -> ``[n]``.
      obs: ``[By, m]`` observations in the loss's space (log y for ``-log`` losses),
        flattened over outputs.
      weights: ``[Bw, m]`` per-residual weights.
      theta0: ``[L, P]`` internal-coordinate starts, one per lane.
      y_index, w_index: ``[L]`` which row of ``obs`` / ``weights`` each lane uses
        (default 0).
      chunk: slots per device (rounded to a power of two, at most enough for the lanes);
        default :func:`slots_per_device` of the lane count and the data size.
      precision: ``"float64"`` (default), ``"float32"``, or ``"mixed"``: a float32 phase
        (``solver.coarse()``: tolerances loosened to 1e-6), then a float64 polish
        (``solver.refine()``) from where it stopped to the solver's own tolerances (lanes that
        fail in float32 restart in float64 from their start). ``steps`` counts the steps of
        both phases (at most ``max_steps + POLISH_STEPS``), ``coarse_steps`` those in float32.
      dtype: shorthand for precision (``np.float32`` / ``np.float64``).
      progress: called as ``progress(done_lanes, total_lanes)`` after each queue batch.

    Lanes are spread over every jax device (``jax.devices()``): on a CPU, run with
    ``XLA_FLAGS=--xla_force_host_platform_device_count=<cores>`` to use every core.
    """
    if dtype is not None:
        precision = "float32" if np.dtype(dtype) == np.float32 else "float64"
    if precision not in PRECISIONS:
        raise JaxlawsError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    L = theta0.shape[0]
    y_index = np.zeros(L, np.int32) if y_index is None else np.asarray(y_index, np.int32)
    w_index = np.zeros(L, np.int32) if w_index is None else np.asarray(w_index, np.int32)
    args = (law, loss, X, obs, weights, y_index, w_index, chunk)
    if precision != "mixed":
        return _solve(*args, solver, theta0, precision == "float64", progress)
    # Both programs compile at once on two background threads, the float64 one overlapping the
    # float32 run (grid cold: 2.4 -> 2.2 s). coarse() and refine() are called once, so the same
    # solver objects key the programs compiled ahead and the programs run.
    coarse, refine = solver.coarse(), solver.refine()
    ahead_s = (_compile_solve_ahead(law, loss, X, obs, weights, L, chunk, coarse, False)
               + _compile_solve_ahead(law, loss, X, obs, weights, L, chunk, refine, True))
    first = _solve(*args, coarse, theta0, False, None)
    start = np.where(first.failed[:, None], theta0, np.clip(first.theta, law.lower, law.upper))
    # One step budget for both phases, with at least POLISH_STEPS float64 steps for every lane
    # (a lane that failed in float32 starts over in float64 with the whole budget).
    used = np.where(first.failed, 0, np.minimum(first.steps, max(solver.max_steps - POLISH_STEPS, 0)))
    # The polish queue runs the lanes likely to need many float64 steps first, so that they
    # overlap the many short polishes instead of trailing alone at the end (see _polish_order).
    order = _polish_order(first.value, first.failed, y_index, w_index)
    back = np.argsort(order)
    second = _solve(law, loss, X, obs, weights, y_index[order], w_index[order], chunk, refine,
                    start[order], True, progress, steps0=used[order])
    return Lanes(
        theta=second.theta[back], value=second.value[back], steps=first.steps + (second.steps[back] - used),
        converged=second.converged[back], failed=second.failed[back],
        compile_s=ahead_s + first.compile_s + second.compile_s,
        run_s=first.run_s + second.run_s, coarse_steps=first.steps,
    )


def _polish_order(value: np.ndarray, failed: np.ndarray, y_index: np.ndarray, w_index: np.ndarray) -> np.ndarray:
    """The order ``[L]`` in which lanes enter the float64 polish: longest expected first.

    A lane whose float32 phase ended near the best value of its dataset (the same resample of
    observations and weights) is nearly converged and polishes in a few steps; one that ended far
    above it (stalled on a plateau at float32 resolution) often needs tens; one that failed starts
    over. Queued in that order, the long polishes overlap the short ones instead of keeping all
    slots stepping for a few stragglers at the end (measured on the Chinchilla grid: the warm fit
    ~10% faster, every lane's outcome unchanged).
    """
    _, group = np.unique(np.stack([y_index, w_index], 1), axis=0, return_inverse=True)
    group = group.reshape(-1)
    ok = ~failed & np.isfinite(value)
    best = np.full(group.max() + 1, np.inf)
    np.minimum.at(best, group[ok], value[ok])
    gap = np.full(value.shape, np.inf)
    gap[ok] = value[ok] - best[group[ok]]
    return np.argsort(-gap, kind="stable")


def _data(law: Law, X: Mapping[str, Any], obs: Any, weights: Any, dt: Any, sharding: Any) -> tuple[Any, ...]:
    """Inputs, observations, weights and bounds as ``dt`` arrays, replicated on every device."""
    return jax.device_put((
        {k: jnp.asarray(v, dt) for k, v in X.items() if k in law.inputs},
        jnp.asarray(obs, dt),
        jnp.asarray(weights, dt),
        jnp.asarray(law.lower, dt),
        jnp.asarray(law.upper, dt),
    ), sharding)


def _empty_slots(shape: Any, K: int, sharding: Any) -> tuple[Any, ...]:
    """``K`` empty slots (state zeros, done, lane -1) and their y and w indices."""
    slots = jax.tree.map(lambda a: np.zeros(a.shape, a.dtype), shape)._replace(done=np.ones(K, bool))
    return jax.device_put((slots, np.full(K, -1, np.int32), np.zeros(K, np.int32), np.zeros(K, np.int32)), sharding)


def _queue_args(slots: tuple[Any, ...], theta0: np.ndarray, q: np.ndarray, y_index: np.ndarray, w_index: np.ndarray,
                steps0: np.ndarray, final: bool, data: tuple[Any, ...], dt: Any) -> tuple[Any, ...]:
    """The queue program's arguments: slots, the queued lanes ``q`` (-1: none), the flag, the data."""
    lanes_sh, repl_sh, _ = _lane_sharding()
    qi = np.maximum(q, 0)
    queued = jax.device_put((theta0[qi].astype(dt), q, y_index[qi], w_index[qi], steps0[qi]), lanes_sh)
    return (*slots, *queued, jax.device_put(jnp.asarray(final), repl_sh), *data)


def _setup(law: Law, loss: Loss, X: Mapping[str, Any], obs: Any, weights: Any, L: int, chunk: int | None,
           solver: Solver, x64: bool) -> tuple[int, Any, tuple[Any, ...], Any, tuple[Any, ...]]:
    """For a solve of ``L`` lanes in one precision (called inside its ``enable_x64``): slots per
    device, the dtype, the data on the devices, the slot state's shapes, and empty slots."""
    lanes_sh, repl_sh, n_dev = _lane_sharding()
    Kd = slots_per_device(-(-L // n_dev), obs.shape[-1], law.n_params, chunk)
    dt = jnp.float64 if x64 else jnp.float32
    data = _data(law, X, obs, weights, dt, repl_sh)
    shape = _slot_shape(law, loss, solver, Kd * n_dev, data)
    return Kd, dt, data, shape, _empty_slots(shape, Kd * n_dev, lanes_sh)


def _compile_solve_ahead(law: Law, loss: Loss, X: Mapping[str, Any], obs: Any, weights: Any, L: int,
                         chunk: int | None, solver: Solver, x64: bool) -> float:
    """Start compiling the program a :func:`_solve` of ``L`` lanes will run (see
    :func:`_compile_ahead`); the seconds spent tracing and lowering it."""
    with jax.enable_x64(x64):
        Kd, dt, data, _, slots = _setup(law, loss, X, obs, weights, L, chunk, solver, x64)
        z = np.zeros(1, np.int32)
        q = np.full(_lane_sharding()[2] * QUEUE_BATCHES * Kd, -1, np.int32)
        args = _queue_args(slots, np.zeros((1, law.n_params)), q, z, z, z, False, data, dt)
        return _compile_ahead(law, loss, solver, args, Kd, x64)


def _solve(law, loss, X, obs, weights, y_index, w_index, chunk, solver, theta0, x64, progress,
           steps0=None) -> Lanes:
    """One precision's pass of :func:`solve`; ``steps0`` ``[L]``: steps already spent per lane.

    Lanes go through each device's queue (:func:`_build_queue`) in batches of ``QUEUE_BATCHES * K``
    per device; the slots carry over from one batch to the next, and the last batch runs every
    lane to its end.
    """
    L = theta0.shape[0]
    n_dev = _lane_sharding()[2]
    steps0 = np.zeros(L, np.int32) if steps0 is None else np.asarray(steps0, np.int32)
    with jax.enable_x64(x64):
        t_start = time.perf_counter()
        Kd, dt, data, shape, slots = _setup(law, loss, X, obs, weights, L, chunk, solver, x64)
        Qd = QUEUE_BATCHES * Kd
        compile_s = 0.0
        fields = ("theta", "value", "steps", "done", "failed")
        pool = {k: np.zeros((L,) + getattr(shape, k).shape[1:], getattr(shape, k).dtype) for k in fields}

        # Device d queues lanes d, d + n_dev, ... (interleaved, so easy and hard starts mix).
        per_dev = [np.arange(d, L, n_dev, dtype=np.int32) for d in range(n_dev)]
        n_batches = max(1, -(-max(len(p) for p in per_dev) // Qd))
        done_lanes = 0

        def collect(rec: Any) -> None:
            nonlocal done_lanes
            theta, value, steps, done, failed, rec_lane = jax.device_get(rec)
            got = rec_lane >= 0
            ids = rec_lane[got]
            for k, v in zip(fields, (theta, value, steps, done, failed)):
                pool[k][ids] = v[got]
            done_lanes += len(ids)
            if progress is not None:
                progress(done_lanes, L)

        # Each call is dispatched before the previous call's records are read back: the next
        # call's arguments are prepared on the host while the devices still run (its slots are
        # the previous call's outputs, passed on without a round trip).
        pending = None
        for b in range(n_batches):
            q = np.full((n_dev, Qd), -1, np.int32)
            for d, p in enumerate(per_dev):
                part = p[b * Qd:(b + 1) * Qd]
                q[d, :len(part)] = part
            args = _queue_args(slots, theta0, q.reshape(-1), y_index, w_index, steps0, b == n_batches - 1, data, dt)
            exe, c = _compiled(law, loss, solver, args, Kd)
            compile_s += c
            *slots, rec = exe(*args)
            if pending is not None:
                collect(pending)
            pending = rec
        collect(pending)

        # The slots hold the lanes that finished last, never swapped out.
        state, lane = jax.device_get((slots[0], slots[1]))
        held = lane >= 0
        for k in fields:
            pool[k][lane[held]] = getattr(state, k)[held]
        if progress is not None:
            progress(L, L)

    run_s = time.perf_counter() - t_start - compile_s
    return Lanes(
        theta=pool["theta"].astype(np.float64), value=pool["value"].astype(np.float64), steps=pool["steps"],
        converged=pool["done"] & ~pool["failed"], failed=pool["failed"], compile_s=compile_s, run_s=run_s,
    )
