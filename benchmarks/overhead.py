"""The engine's overhead: a whole multi-start solve against the cost of the residual + Jacobian
passes it needs.

:func:`engine_overhead` is the whole-solve seconds over (lane-steps taken x seconds of one
batched residual + Jacobian pass per lane), each precision's steps priced at its own pass. 1.0
would mean the solver costs nothing beyond that one pass (an LM step also forms J^T W J and
solves a P x P system, and the engine swaps lanes in and out of its slots).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

import jaxlaws as jl


def rj_pass_seconds(prob: Any, n_lanes: int, x64: bool, repeats: int = 5, passes: int = 50) -> float:
    """Seconds per lane of one batched residual + Jacobian pass over ``n_lanes`` lanes, split over
    every device as the engine splits them (median of ``repeats`` warm runs)."""
    import jax
    import jax.numpy as jnp

    from jaxlaws.engine import mesh
    from jaxlaws.problem import residual_fn
    from jaxlaws.solvers.base import Objective

    law, loss = prob.law, prob.loss
    with jax.enable_x64(x64):
        dt = jnp.float64 if x64 else jnp.float32
        X = {k: jnp.asarray(v, dt) for k, v in prob.inputs.items()}
        obs, w = jnp.asarray(prob.obs, dt), jnp.asarray(prob.weights, dt)

        def rj(theta: Any, X: Any, obs: Any, w: Any) -> Any:
            # `passes` passes in one call, as the engine runs its steps, so the call's dispatch is
            # not counted; each pass depends on the previous one (acc * 0 is not folded for floats)
            # and only per-lane sums leave it: writing J [lanes, m, P] out to memory would make the
            # reference slower than the same work fused inside a step, and the ratio flattering.
            obj = Objective(residual_fn(law, loss, X, obs), w, loss, obs)

            def one(i: Any, acc: Any) -> Any:
                r, J = jax.vmap(obj.residual_and_jacobian)(theta + 0.0 * acc[:, None])
                return acc + jnp.sum(r, axis=1) + jnp.sum(J, axis=(1, 2))

            return jax.lax.fori_loop(0, passes, one, jnp.zeros(theta.shape[0], theta.dtype))

        fn = rj
        if mesh.n_devices() > 1:
            fn = jax.shard_map(rj, mesh=mesh.mesh(), in_specs=(mesh.LANES,) + (mesh.REPLICATED,) * 3,
                               out_specs=mesh.LANES, check_vma=False)
        theta = jax.device_put(jnp.asarray(jl.starts.uniform(law, n_lanes, seed=0), dt), mesh.lane_sharding())
        args = (theta, *jax.device_put((X, obs, w), mesh.replicated()))
        f = jax.jit(fn)
        jax.block_until_ready(f(*args))
        ts = []
        for _ in range(repeats):
            t = time.perf_counter()
            jax.block_until_ready(f(*args))
            ts.append(time.perf_counter() - t)
    return float(np.median(ts)) / (n_lanes * passes)


def engine_overhead(law: Any, data: Any, loss: str, theta0: np.ndarray, repeats: int = 3) -> dict[str, Any]:
    """The overhead of a mixed-precision LM solve from ``theta0 [S, P]`` (internal coordinates)
    of ``law`` on ``data`` (see the module docstring); the median of ``repeats`` warm solves."""
    from jaxlaws.engine import mesh
    from jaxlaws.problem import Batch, make_problem

    prob = make_problem(law, data, loss)
    batch, slv, opts = Batch.single(prob, theta0), jl.solvers.LM(), jl.engine.Options.make(precision="mixed")
    jl.engine.solve(batch, slv, opts)  # compile
    times, lanes = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        lanes = jl.engine.solve(batch, slv, opts)
        times.append(time.perf_counter() - t)
    wall = float(np.median(times))
    n_dev = mesh.n_devices()
    n_batch = jl.engine.slots_per_device(-(-len(theta0) // n_dev), prob.obs.size, prob.law.n_params) * n_dev
    pass32, pass64 = rj_pass_seconds(prob, n_batch, False), rj_pass_seconds(prob, n_batch, True)
    s32 = int(lanes.coarse_steps.sum())
    s64 = int(lanes.steps.sum()) - s32  # the float64 polish's steps (both phases share one count)
    ideal = s32 * pass32 + s64 * pass64
    return {"wall_s": wall, "lane_steps_float32": s32, "lane_steps_float64": s64,
            "rj_pass_us_per_lane_float32": pass32 * 1e6, "rj_pass_us_per_lane_float64": pass64 * 1e6,
            "batch_lanes": n_batch, "steps_x_pass_s": ideal, "overhead": wall / ideal}
