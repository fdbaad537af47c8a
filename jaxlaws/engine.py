"""The batched core: many lanes (start x resample) solved as one jitted, vmapped computation.

A *lane* is one start on one resample. Lanes live in a host-side pool; each
round the engine packs the lanes still running into chunks of a fixed size
``K`` (split over every jax device), advances every chunk by ``round_steps``
solver steps in one jitted ``vmap`` (finished lanes frozen), and writes them
back. Lanes that are done (converged or failed) drop out of later rounds, so the
work follows the lanes that still need it, and one compiled program of shape
``[K]`` (plus one of ``[K/8]`` for the last few lanes) serves any number of lanes:
memory stays flat beyond ``K``.

The data are passed as arrays, never closed over, so one compilation serves
every dataset of the same shape.
"""

from __future__ import annotations

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
from jaxlaws.solvers.base import Objective, Solver

_COMPILED: dict[tuple[Any, ...], Any] = {}


def compile_count() -> int:
    """How many engine programs this process has compiled (for tests and benchmarks)."""
    return len(_COMPILED)


def clear_compiled() -> None:
    """Forget this process's compiled programs (benchmarks use it to time cold starts)."""
    _COMPILED.clear()
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


def _build(law: Law, loss: Loss, solver: Solver, round_steps: int) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """Per-chunk ``init`` and ``advance`` (to be jitted) for one (law, loss, solver)."""

    def init(theta0, yi, wi, X, OBS, W, lower, upper):
        def one(t, i, j):
            return solver.init(_lane_objective(law, loss, X, OBS[i], W[j]), t, lower, upper)

        return jax.vmap(one)(theta0, yi, wi)

    def advance(states, yi, wi, n_steps, X, OBS, W, lower, upper):
        # A fixed count of steps per round (fori, not while): a vmapped while_loop pays for a
        # batched predicate and a select of every state leaf each iteration, which measured
        # ~15% slower than stepping a round to its end with finished lanes frozen.
        def one(s, i, j):
            obj = _lane_objective(law, loss, X, OBS[i], W[j])
            limit = jnp.minimum(s.steps + n_steps, solver.max_steps)

            def body(_: int, c: Any) -> Any:
                stop = c.done | (c.steps >= limit)
                return jax.tree.map(lambda o, n: jnp.where(stop, o, n), c, solver.step(obj, c, lower, upper))

            return jax.lax.fori_loop(0, round_steps, body, s)

        return jax.vmap(one)(states, yi, wi)

    return init, advance


def _compiled(kind: str, law: Law, loss: Loss, solver: Solver, args: tuple[Any, ...],
              round_steps: int = 0) -> tuple[Any, float]:
    """The compiled ``init``/``advance`` for these argument shapes, and the seconds spent compiling."""
    shapes = tuple((a.shape, str(a.dtype)) for a in jax.tree.leaves(args))
    # The law object itself (hashed by identity) is part of the key: holding it keeps its id from
    # being reused by a new law while the compiled program lives.
    key = (kind, law, loss, solver, round_steps, shapes)
    if key in _COMPILED:
        return _COMPILED[key], 0.0
    fn = _build(law, loss, solver, round_steps)[0 if kind == "init" else 1]
    if jax.device_count() > 1:
        # Lanes are independent: shard_map runs each device's block of lanes on its own,
        # with no cross-device communication.
        # The first three arguments carry the lane axis (starts or states, y index, w index);
        # the rest (step count, data, bounds) are replicated.
        lanes = PartitionSpec("lanes")
        specs = tuple(lanes if i < 3 else PartitionSpec() for i in range(len(args)))
        fn = jax.shard_map(fn, mesh=_lane_sharding()[0].mesh, in_specs=specs, out_specs=lanes,
                           check_vma=False)
    t = time.perf_counter()
    exe = jax.jit(fn).lower(*args).compile()
    _COMPILED[key] = exe
    return exe, time.perf_counter() - t


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


def _chunk_size(n_lanes: int, chunk: int) -> int:
    k = 8
    while k < n_lanes and k < chunk:
        k *= 2
    return k


def _lane_sharding() -> tuple[Any, Any, int]:
    """Shardings that split the lane axis over every device, and replicate the data."""
    devs = jax.devices()
    mesh = Mesh(np.array(devs), ("lanes",))
    return NamedSharding(mesh, PartitionSpec("lanes")), NamedSharding(mesh, PartitionSpec()), len(devs)


PRECISIONS = ("float64", "float32", "mixed")
POLISH_STEPS = 30


def _loosened(solver: Solver) -> Solver:
    """The solver with tolerances a float32 first phase can meet (used by ``precision="mixed"``)."""
    changes = {k: max(getattr(solver, k), v) for k, v in (("ftol", 1e-6), ("xtol", 1e-6)) if hasattr(solver, k)}
    return dataclasses.replace(solver, **changes) if changes else solver


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
    chunk: int = 256,
    round_steps: int = 16,
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
      chunk: lanes per device per compiled program (rounded to a power of two).
      round_steps: solver steps per round between compactions.
      precision: ``"float64"`` (default), ``"float32"``, or ``"mixed"``: a float32 phase
        to loosened tolerances (1e-6), then a float64 polish from where it stopped to the
        solver's own tolerances (lanes that fail in float32 restart in float64 from their
        start). ``steps`` counts both phases.
      dtype: shorthand for precision (``np.float32`` / ``np.float64``).
      progress: called as ``progress(done_lanes, total_lanes)`` after each round.

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
    args = (law, loss, X, obs, weights, y_index, w_index, chunk, round_steps)
    if precision != "mixed":
        return _solve(*args, solver, theta0, precision == "float64", progress)
    first = _solve(*args, _loosened(solver), theta0, False, None)
    start = np.where(first.failed[:, None], theta0, np.clip(first.theta, law.lower, law.upper))
    # One step budget for both phases, with at least POLISH_STEPS float64 steps for every lane
    # (a lane that failed in float32 starts over in float64 with the whole budget).
    used = np.where(first.failed, 0, np.minimum(first.steps, max(solver.max_steps - POLISH_STEPS, 0)))
    second = _solve(*args, solver, start, True, progress, steps0=used)
    return dataclasses.replace(
        second, compile_s=first.compile_s + second.compile_s, run_s=first.run_s + second.run_s,
    )


def _solve(law, loss, X, obs, weights, y_index, w_index, chunk, round_steps, solver, theta0, x64, progress,
           steps0=None) -> Lanes:
    """One precision's pass of :func:`solve`; ``steps0`` ``[L]``: steps already spent per lane."""
    L = theta0.shape[0]
    lanes_sh, repl_sh, n_dev = _lane_sharding()
    K = _chunk_size(-(-L // n_dev), chunk) * n_dev
    with jax.enable_x64(x64):
        dt = jnp.float64 if x64 else jnp.float32
        data = jax.device_put((
            {k: jnp.asarray(v, dt) for k, v in X.items() if k in law.inputs},
            jnp.asarray(obs, dt),
            jnp.asarray(weights, dt),
            jnp.asarray(law.lower, dt),
            jnp.asarray(law.upper, dt),
        ), repl_sh)
        compile_s = 0.0
        t_start = time.perf_counter()

        def pad(idx: np.ndarray, k: int = K) -> np.ndarray:
            return np.concatenate([idx, np.full(k - len(idx), idx[0])]) if len(idx) < k else idx

        def lanes(*arrays: Any) -> Any:
            return jax.device_put(arrays, lanes_sh)

        # Initialise every lane, chunk by chunk, into a host-side pool.
        pool = None
        for lo in range(0, L, K):
            idx = pad(np.arange(lo, min(lo + K, L)))
            args = (*lanes(theta0[idx].astype(dt), y_index[idx], w_index[idx]), *data)
            exe, c = _compiled("init", law, loss, solver, args)
            compile_s += c
            out = jax.device_get(exe(*args))
            m = min(K, L - lo)
            if pool is None:
                pool = jax.tree.map(lambda a: np.empty((L,) + a.shape[1:], a.dtype), out)
            jax.tree.map(lambda p, a: p.__setitem__(slice(lo, lo + m), a[:m]), pool, out)
        if steps0 is not None:
            pool.steps[:] = steps0

        n_steps = jax.device_put(jnp.asarray(round_steps, jnp.int32), repl_sh)
        while True:
            active = np.flatnonzero(~pool.done & (pool.steps < solver.max_steps))
            if progress is not None:
                progress(L - len(active), L)
            if len(active) == 0:
                break
            k = K // 8 if len(active) <= K // 8 and K // 8 >= 8 * n_dev else K
            for lo in range(0, len(active), k):
                real = active[lo : lo + k]
                idx = pad(real, k)
                sub, yi, wi = lanes(jax.tree.map(lambda a: a[idx], pool), y_index[idx], w_index[idx])
                args = (sub, yi, wi, n_steps, *data)
                exe, c = _compiled("advance", law, loss, solver, args, round_steps)
                compile_s += c
                out = jax.device_get(exe(*args))
                jax.tree.map(lambda p, a: p.__setitem__(real, a[: len(real)]), pool, out)

    run_s = time.perf_counter() - t_start - compile_s
    converged = pool.done & ~pool.failed
    return Lanes(
        theta=pool.theta.astype(np.float64), value=pool.value.astype(np.float64), steps=pool.steps,
        converged=converged, failed=pool.failed.copy(), compile_s=compile_s, run_s=run_s,
    )
