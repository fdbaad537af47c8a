"""Side-by-side timing against scipy on the same objective, from the same starts, in one run.

Baselines (what practitioners run today, from weakest to strongest):

* ``lbfgsb_fd``       scipy L-BFGS-B, gradient by finite differences (common practice);
* ``lbfgsb_exact``    scipy L-BFGS-B with an exact, hand-derived numpy gradient (the strong
                      baseline; also ``_unbounded``, as in Epoch AI's own fit);
* ``trf_huber``       ``scipy.optimize.least_squares(method="trf", loss="huber")`` with the
                      exact Jacobian (the same summed Huber objective, f_scale = delta);
* ``lbfgsb_exact_pool2`` the exact-gradient loop split over a 2-process pool (both cores).

jaxlaws runs cold (compiling, or loading from the persistent cache if one is on)
and warm. Ratios are scipy seconds / jaxlaws warm seconds. A baseline timed on a
subset of the starts is scaled to the full set and marked ``extrapolated``.
Needs scipy (the ``bench`` or ``test`` extra).
"""

from __future__ import annotations

import datetime
import multiprocessing
import os
import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import jaxlaws as jl


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    import jax
    import optax
    import scipy

    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "optax": optax.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "jaxlaws": jl.__version__,
        "device": jl.engine.device_name(),
    }


# ---- Chinchilla in numpy (Epoch AI's objective), internal coordinates e, a, b, alpha, beta ----
class Chinchilla:
    """Summed Huber(delta) on log residuals of the LSE form, point weights ``w``; exact derivatives."""

    def __init__(self, data: Any, delta: float = 1e-3, w: Any = None) -> None:
        self.lN, self.lD, self.lL = np.log(data.inputs["N"]), np.log(data.inputs["D"]), np.log(data.y)
        self.delta = delta
        self.w = np.ones_like(self.lL) if w is None else np.asarray(w, np.float64)

    def _parts(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        e, a, b, al, be = t
        z = np.stack([a - al * self.lN, b - be * self.lD, np.full_like(self.lN, e)])
        m = z.max(0)
        s = np.exp(z - m)
        tot = s.sum(0)
        return m + np.log(tot) - self.lL, s / tot

    def residual(self, t: np.ndarray) -> np.ndarray:
        return self._parts(t)[0]

    def jacobian(self, t: np.ndarray) -> np.ndarray:
        sm = self._parts(t)[1]
        return np.stack([sm[2], sm[0], sm[1], -sm[0] * self.lN, -sm[1] * self.lD], axis=1)

    def value(self, t: np.ndarray) -> float:
        r = np.abs(self.residual(t))
        d = self.delta
        return float((self.w * np.where(r <= d, 0.5 * r * r, d * (r - 0.5 * d))).sum())

    def grad(self, t: np.ndarray) -> np.ndarray:
        r, sm = self._parts(t)
        psi = self.w * np.clip(r, -self.delta, self.delta)
        return np.array([(psi * sm[2]).sum(), (psi * sm[0]).sum(), (psi * sm[1]).sum(),
                         -(psi * sm[0] * self.lN).sum(), -(psi * sm[1] * self.lD).sum()])


def chinchilla_numpy(data: Any, delta: float = 1e-3, w: Any = None) -> tuple[Any, Any]:
    """``(objective, gradient)`` of :class:`Chinchilla`."""
    c = Chinchilla(data, delta, w)
    return c.value, c.grad


def _one_lbfgsb(c: Chinchilla, s: np.ndarray, bounds: Any, exact: bool) -> tuple[float, np.ndarray]:
    from scipy.optimize import minimize

    r = minimize(c.value, s, jac=c.grad if exact else None, method="L-BFGS-B", bounds=bounds)
    return float(r.fun), r.x


def _one_trf(c: Chinchilla, s: np.ndarray, bounds: Any) -> tuple[float, np.ndarray]:
    from scipy.optimize import least_squares

    lo, hi = (np.array(b) for b in zip(*bounds))
    r = least_squares(c.residual, np.clip(s, lo, hi), jac=c.jacobian, method="trf", loss="huber",
                      f_scale=c.delta, bounds=(lo, hi))
    return c.value(r.x), r.x


_POOL_STATE: dict[str, Any] = {}
_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _pool_init(data: Any, bounds: Any) -> None:
    _POOL_STATE["c"] = Chinchilla(data)
    _POOL_STATE["bounds"] = bounds


def _pool_one(s: np.ndarray) -> float:
    return _one_lbfgsb(_POOL_STATE["c"], s, _POOL_STATE["bounds"], True)[0]


def run_baseline(name: str, c: Chinchilla, starts: np.ndarray, bounds: Any) -> dict[str, Any]:
    """Run one scipy baseline over ``starts``; per-start objectives and seconds."""
    t = time.perf_counter()
    if name == "lbfgsb_exact_pool2":
        # spawn, not fork (a fork of a process whose jax runtime holds threads misbehaves), and one
        # BLAS thread per worker: scipy's L-BFGS-B calls BLAS, and two workers each spinning two
        # BLAS threads on two cores measured 15x slower than the serial loop.
        ctx = multiprocessing.get_context("spawn")
        saved = {k: os.environ.get(k) for k in _THREAD_VARS}
        os.environ.update({k: "1" for k in _THREAD_VARS})
        try:
            with ctx.Pool(2, initializer=_pool_init, initargs=(_POOL_STATE.get("data"), bounds)) as pool:
                vals = np.array(pool.map(_pool_one, list(starts), chunksize=max(1, len(starts) // 64)))
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    else:
        one: Callable[[np.ndarray], tuple[float, np.ndarray]] = {
            "lbfgsb_exact": lambda s: _one_lbfgsb(c, s, bounds, True),
            "lbfgsb_exact_unbounded": lambda s: _one_lbfgsb(c, s, None, True),
            "lbfgsb_fd": lambda s: _one_lbfgsb(c, s, bounds, False),
            "trf_huber": lambda s: _one_trf(c, s, bounds),
        }[name]
        vals = np.array([one(s)[0] for s in starts])
    return {"objective": vals, "seconds": time.perf_counter() - t}


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def _rj_pass_seconds(prob: Any, n_lanes: int, x64: bool, repeats: int = 5, passes: int = 50) -> float:
    """Seconds per lane of one batched residual + Jacobian pass over ``n_lanes`` lanes, split over
    every device as the engine splits them (median of ``repeats`` warm runs)."""
    import jax
    import jax.numpy as jnp
    from jax.sharding import PartitionSpec

    from jaxlaws import engine
    from jaxlaws.solvers.base import Objective

    law, loss = prob.law, prob.loss
    lanes_sh, repl_sh, n_dev = engine._lane_sharding()
    with jax.enable_x64(x64):
        dt = jnp.float64 if x64 else jnp.float32
        X = {k: jnp.asarray(v, dt) for k, v in prob.data.inputs.items() if k in law.inputs}
        obs, w = jnp.asarray(prob.obs, dt), jnp.asarray(prob.weights, dt)

        def rj(theta: Any, X: Any, obs: Any, w: Any) -> Any:
            # `passes` passes in one call, as the engine runs its steps, so the call's dispatch is
            # not counted; each pass depends on the previous one (acc * 0 is not folded for floats)
            # and only per-lane sums leave it: writing J [lanes, m, P] out to memory would make the
            # reference slower than the same work fused inside a step, and the ratio flattering.
            obj = Objective(engine.make_residual(law, loss, X, obs), w, loss)

            def one(i: Any, acc: Any) -> Any:
                r, J = jax.vmap(obj.residual_and_jacobian)(theta + 0.0 * acc[:, None])
                return acc + jnp.sum(r, axis=1) + jnp.sum(J, axis=(1, 2))

            return jax.lax.fori_loop(0, passes, one, jnp.zeros(theta.shape[0], theta.dtype))

        fn = rj
        if n_dev > 1:
            fn = jax.shard_map(rj, mesh=lanes_sh.mesh, in_specs=(PartitionSpec("lanes"),) + (PartitionSpec(),) * 3,
                               out_specs=PartitionSpec("lanes"), check_vma=False)
        theta = jax.device_put(jnp.asarray(jl.starts.uniform(law, n_lanes, seed=0), dt), lanes_sh)
        args = (theta, *jax.device_put((X, obs, w), repl_sh))
        f = jax.jit(fn)
        jax.block_until_ready(f(*args))
        ts = []
        for _ in range(repeats):
            t = time.perf_counter()
            jax.block_until_ready(f(*args))
            ts.append(time.perf_counter() - t)
    return float(np.median(ts)) / (n_lanes * passes)


def engine_overhead(law: Any, data: Any, loss: str, theta0: np.ndarray, repeats: int = 3) -> dict[str, Any]:
    """The issue's overhead measure for a mixed-precision multi-start solve: whole-solve seconds over
    (lane-steps taken x seconds of one batched residual + Jacobian pass per lane), each precision's
    steps priced at its own pass. 1.0 would mean the solver costs nothing beyond that one pass
    (an LM step also forms J^T W J and solves a P x P system, and the engine swaps lanes)."""
    from jaxlaws import engine
    from jaxlaws.fit import make_problem

    prob = make_problem(law, data, loss)
    slv = jl.solvers.LM()

    def run() -> Any:
        return engine.solve(prob.law, prob.loss, slv, prob.data.inputs, prob.obs[None], prob.weights[None], theta0,
                            precision="mixed")

    run()
    times, lanes = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        lanes = run()
        times.append(time.perf_counter() - t)
    wall = float(np.median(times))
    n_dev = engine._lane_sharding()[2]
    batch = engine.slots_per_device(-(-len(theta0) // n_dev), prob.obs.size, prob.law.n_params) * n_dev
    pass32, pass64 = _rj_pass_seconds(prob, batch, False), _rj_pass_seconds(prob, batch, True)
    s32 = int(lanes.coarse_steps.sum())
    s64 = int(lanes.steps.sum()) - s32
    ideal = s32 * pass32 + s64 * pass64
    return {"wall_s": wall, "lane_steps_float32": s32, "lane_steps_float64": s64,
            "rj_pass_us_per_lane_float32": pass32 * 1e6, "rj_pass_us_per_lane_float64": pass64 * 1e6,
            "batch_lanes": batch, "steps_x_pass_s": ideal, "overhead": wall / ideal}


def grid(subset: int | None = None, baselines: dict[str, int | None] | None = None, seed: int = 0,
         warm_repeats: int = 5, verbose: bool = True) -> dict[str, Any]:
    """Chinchilla 4,500-start grid on ``chinchilla_epoch`` (huber-log:1e-3): jaxlaws vs scipy.

    ``baselines``: name -> number of starts to time it on (None: all 4,500); by default the
    exact-gradient loops (bounded, unbounded, pooled) run on all starts (or ``subset``) and the
    slower ones on 300.
    """
    law = jl.laws.get("chinchilla")
    data = jl.datasets.load("chinchilla_epoch")
    theta0 = jl.starts.grid(law)
    S = len(theta0)
    if baselines is None:
        baselines = {"lbfgsb_exact": subset, "lbfgsb_exact_unbounded": subset, "lbfgsb_fd": 300, "trf_huber": 300,
                     "lbfgsb_exact_pool2": subset}
    c = Chinchilla(data)
    _POOL_STATE["data"] = data
    bounds = list(zip(law.lower, law.upper))
    rng = np.random.default_rng(seed)
    results = {}
    _scipy_warm_up()
    for name, n in baselines.items():
        idx = np.arange(S) if n is None or n >= S else np.sort(rng.choice(S, n, replace=False))
        r = run_baseline(name, c, theta0[idx], bounds)
        results[name] = {"starts_run": len(idx), "seconds_run": r["seconds"], "seconds_full": r["seconds"] * S / len(idx),
                         "extrapolated": len(idx) < S, "ms_per_start": 1e3 * r["seconds"] / len(idx),
                         "best_objective": float(r["objective"].min()), "objectives": r["objective"]}
    # jaxlaws after the scipy baselines: a process pool started after jax's runtime is up was
    # measured 5x slower, which would flatter jaxlaws.
    jl.engine.clear_compiled()
    cold, cold_s = _timed(lambda: jl.fit(law, data, loss="huber-log:1e-3", starts="grid"))
    # Cold again with nothing compiled in memory: with the persistent compilation cache on
    # (jaxlaws.devices.use_compilation_cache), what a second process pays.
    jl.engine.clear_compiled()
    cached, cached_s = _timed(lambda: jl.fit(law, data, loss="huber-log:1e-3", starts="grid"))
    warm_runs = []
    for _ in range(warm_repeats):
        warm, t = _timed(lambda: jl.fit(law, data, loss="huber-log:1e-3", starts="grid"))
        warm_runs.append(t)
    warm_s = float(np.median(warm_runs))  # the median of repeated warm runs: one run varies by ~10% here
    overhead = engine_overhead(law, data, "huber-log:1e-3", theta0)
    best = min([warm.objective] + [v["best_objective"] for v in results.values()])

    def basin(f: np.ndarray) -> float:
        return float(np.mean(f <= best * (1 + 1e-6)))

    out = {
        "problem": "chinchilla grid (4,500 starts), chinchilla_epoch (240 points), huber-log:1e-3",
        "n_starts": S,
        "jaxlaws": {"cold_s": cold_s, "cold_cached_s": cached_s, "warm_s": warm_s, "warm_runs_s": warm_runs,
                    "engine_overhead": overhead, "compile_s": cold.timing["compile_s"],
                    "compile_cached_s": cached.timing["compile_s"],
                    "objective": warm.objective, "params": warm.params, "frac_best_basin": basin(warm.all_objective),
                    "n_converged": warm.n_converged, "n_failed": warm.n_failed, "lane_steps": int(warm.steps.sum()),
                    "rel_gap_to_best": (warm.objective - best) / best},
        "scipy": {k: {**{kk: vv for kk, vv in v.items() if kk != "objectives"},
                      "frac_best_basin": basin(v["objectives"]), "ratio_warm": v["seconds_full"] / warm_s,
                      "ratio_cold": v["seconds_full"] / cold_s} for k, v in results.items()},
        "machine": machine(),
    }
    if verbose:
        print(f"chinchilla grid ({S} starts, 240 points, huber-log:1e-3) on {out['machine']['device']}")
        j = out["jaxlaws"]
        print(f"  {'jaxlaws lm':<24s} warm {warm_s:7.2f} s  cold {cold_s:6.2f} s (from disk cache {cached_s:.2f} s)"
              f"  best {j['objective']:.10e}"
              f"  best-basin {j['frac_best_basin']:.0%}")
        o = j["engine_overhead"]
        print(f"  {'':<24s} engine overhead {o['overhead']:.2f}x (whole solve / lane-steps x one batched"
              f" residual+Jacobian pass: {o['lane_steps_float32']} float32 + {o['lane_steps_float64']} float64 steps)")
        for k, v in out["scipy"].items():
            note = f" (timed on {v['starts_run']}, scaled)" if v["extrapolated"] else ""
            print(f"  {k:<24s} {v['seconds_full']:8.2f} s  {v['ms_per_start']:6.2f} ms/start  best {v['best_objective']:.10e}"
                  f"  best-basin {v['frac_best_basin']:.0%}  -> jaxlaws {v['ratio_warm']:.1f}x warm, "
                  f"{v['ratio_cold']:.1f}x cold{note}")
    return out


def bootstrap(n: int = 4000, n_scipy: int | None = None, seed: int = 0, warm_repeats: int = 5,
              verbose: bool = True) -> dict[str, Any]:
    """Epoch AI's bootstrap protocol on ``chinchilla_epoch``: ``n`` pairs resamples, each refitted
    by scipy BFGS (exact gradient) from the full-data best fit, against ``jl.bootstrap`` warm
    from the same start (the default ``basins`` start set: the best fit plus any competitive basin).
    ``n_scipy``: time scipy on that many resamples and scale (None: all)."""
    from scipy.optimize import minimize

    data = jl.datasets.load("chinchilla_epoch")
    res = jl.fit("chinchilla", data, loss="huber-log:1e-3", starts="grid")

    def run() -> Any:
        return jl.bootstrap("chinchilla", data, n=n, loss="huber-log:1e-3", seed=seed, fit=res, progress=False)

    _, cold_s = _timed(run)
    warm_runs = []
    for _ in range(warm_repeats):
        warm, t = _timed(run)
        warm_runs.append(t)
    warm_s = float(np.median(warm_runs))
    rng = np.random.default_rng(seed)
    W = rng.multinomial(data.n_points, np.full(data.n_points, 1.0 / data.n_points), size=n)
    m = n if n_scipy is None else min(n, n_scipy)
    t = time.perf_counter()
    sp = np.empty((m, 5))
    for i in range(m):
        c = Chinchilla(data, w=W[i])
        sp[i] = minimize(c.value, res.theta, jac=c.grad, method="BFGS").x
    scipy_s = (time.perf_counter() - t) * n / m
    nat = np.asarray(res.law.to_natural(sp))
    names = list(res.law.params)
    out = {
        "problem": f"chinchilla_epoch pairs bootstrap, {n} resamples, huber-log:1e-3",
        "jaxlaws": {"cold_s": cold_s, "warm_s": warm_s, "warm_runs_s": warm_runs, "starts_per_resample": int(warm.starts.shape[0]),
                    "n_failed": warm.n_failed, "n_unconverged": warm.n_unconverged,
                    "se": warm.se, "ci95": warm.ci(0.95)},
        "scipy_bfgs_exact_grad": {"resamples_run": m, "seconds_all": scipy_s, "extrapolated": m < n,
                                  "se": {k: float(np.std(nat[:, i], ddof=1)) for i, k in enumerate(names)},
                                  "ci95": {k: [float(v) for v in np.quantile(nat[:, i], [0.025, 0.975])]
                                           for i, k in enumerate(names)}},
        "ratio_warm": scipy_s / warm_s,
        "ratio_cold": scipy_s / cold_s,
        "machine": machine(),
    }
    if verbose:
        note = f" (timed on {m} resamples, scaled)" if m < n else ""
        print(f"bootstrap ({n} pairs resamples, chinchilla_epoch) on {out['machine']['device']}")
        print(f"  jaxlaws warm {warm_s:.2f} s  cold {cold_s:.2f} s  SE(alpha) {warm.se['alpha']:.4f}")
        print(f"  scipy BFGS loop {scipy_s:.2f} s{note}  SE(alpha) {out['scipy_bfgs_exact_grad']['se']['alpha']:.4f}")
        print(f"  speed-up warm {out['ratio_warm']:.1f}x, cold {out['ratio_cold']:.1f}x")
    return out


def _scipy_warm_up() -> None:
    """Import scipy.optimize and run one small L-BFGS-B fit, so that the first timed scipy run
    does not pay the import (~0.25 s here, once per process)."""
    from scipy.optimize import minimize

    minimize(lambda x: float(np.sum((x - 1.0) ** 2)), np.zeros(2), jac=lambda x: 2.0 * (x - 1.0), method="L-BFGS-B")


def warmup_lanes(n_lanes: int, n_residuals: int, n_params: int) -> int:
    """The fewest lanes whose fit runs the same compiled programs as a fit of ``n_lanes``: the
    slots per device (:func:`jaxlaws.engine.slots_per_device`) grow with the lanes up to a cap."""
    import jax

    from jaxlaws import engine

    n_dev = jax.device_count()
    k = engine.slots_per_device(-(-n_lanes // n_dev), n_residuals, n_params)
    lo, hi = 1, n_lanes  # slots never fall as lanes grow: the least count with k slots
    while lo < hi:
        mid = (lo + hi) // 2
        if engine.slots_per_device(-(-mid // n_dev), n_residuals, n_params) >= k:
            hi = mid
        else:
            lo = mid + 1
    return lo


def sweep(lanes: tuple[int, ...] = (1, 10, 100, 1000, 10000, 100000),
          points: tuple[int, ...] = (100, 1000, 10000, 100000), max_work: float = 1e8,
          verbose: bool = True) -> dict[str, Any]:
    """Synthetic Chinchilla data (known parameters, 1% noise): seconds per fit as lanes and points grow.

    Lanes are sampled starts on one dataset; the exact-gradient scipy loop is timed on up to 20
    of the same starts for each size and scaled. Cells with lanes x points above ``max_work``
    are skipped (listed in the output): at ~10 ns per point-step they would take minutes each.
    Reports warm seconds, lane-steps per second and the ratio (memory: :func:`memory`).
    """
    law = jl.laws.get("chinchilla")
    true = {"E": 1.8, "A": 480.0, "B": 2100.0, "alpha": 0.35, "beta": 0.37}
    rows, skipped = [], []
    _scipy_warm_up()
    for n in points:
        rng = np.random.default_rng(n)
        N = np.exp(rng.uniform(np.log(7e7), np.log(1.6e10), n))
        D = np.exp(rng.uniform(np.log(5e9), np.log(5e11), n))
        y = np.asarray(law.predict(true, N=N, D=D)) * np.exp(0.01 * rng.standard_normal(n))
        data = jl.datasets.from_arrays(x={"N": N, "D": D}, y=y)
        c = Chinchilla(data)
        bounds = list(zip(law.lower, law.upper))
        for L in lanes:
            if L * n > max_work:
                skipped.append({"points": n, "lanes": L})
                continue
            st = jl.starts.lhs(law, L, seed=L)
            nat = law.to_natural(st)
            jl.fit(law, data, starts=nat[:warmup_lanes(L, n, law.n_params)])  # compile first
            res, warm_s = _timed(lambda data=data, nat=nat: jl.fit(law, data, starts=nat))
            k = min(L, 20)
            sp = run_baseline("lbfgsb_exact", c, st[:k], bounds)
            scipy_s = sp["seconds"] * L / k
            # The best objective each reaches from the starts scipy ran (the first k of both).
            rows.append({"points": n, "lanes": L, "warm_s": warm_s, "lane_steps_per_s": float(res.steps.sum() / warm_s),
                         "scipy_s": scipy_s, "scipy_extrapolated": k < L,
                         "ratio": scipy_s / warm_s, "starts_compared": k,
                         "objective": float(np.min(res.all_objective[:k])),
                         "scipy_objective": float(np.min(sp["objective"]))})
            if verbose:
                print(f"  points {n:>6d} lanes {L:>6d}: jaxlaws {warm_s:8.3f} s  scipy {scipy_s:8.2f} s  "
                      f"ratio {scipy_s / warm_s:6.1f}x  {rows[-1]['lane_steps_per_s']:.3g} lane-steps/s", flush=True)
    return {"rows": rows, "skipped": skipped, "max_work": max_work, "machine": machine()}


_MEMORY_CHILD = """
import resource, sys, time
from jaxlaws.devices import use_cpu_cores
use_cpu_cores()
import numpy as np
import jaxlaws as jl
law, data = jl.laws.get("chinchilla"), jl.datasets.load("chinchilla_epoch")
L = int(sys.argv[1])
nat = law.to_natural(jl.starts.lhs(law, max(L, 1), seed=0)) if L else None
from jaxlaws.bench import warmup_lanes
warm = warmup_lanes(L, 240, 5) if L else 512  # runtime up, the fit's own programs compiled
jl.fit(law, data, starts=law.to_natural(jl.starts.lhs(law, warm, seed=1)))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
if L:
    jl.fit(law, data, starts=nat)
print(before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter() - t)
"""


def memory(lanes: tuple[int, ...] = (0, 1000, 10000, 100000), verbose: bool = True) -> dict[str, Any]:
    """Peak resident memory of a fresh process that fits ``chinchilla_epoch`` from L Latin-hypercube
    starts (after a fit of other starts that brings up the runtime and compiles the same
    programs, :func:`warmup_lanes`).

    Each L runs in its own process, so one peak cannot hide another. ``host_lane_arrays_mb`` is
    what any multi-start fit must hold on the host (every lane's start, parameters, objective,
    flags and steps, in float64); the rest of the growth beyond it is the engine's.
    """
    import subprocess
    import sys

    rows = []
    for L in lanes:
        out = subprocess.run([sys.executable, "-c", _MEMORY_CHILD, str(L)], capture_output=True, text=True, check=True)
        before_kb, peak_kb, secs = out.stdout.split()
        per_lane = 8 * (3 * 5 + 4)  # starts, theta, params [5] and value, converged, failed, steps
        rows.append({"lanes": L, "peak_rss_mb": int(peak_kb) / 1024, "rss_before_fit_mb": int(before_kb) / 1024,
                     "host_lane_arrays_mb": L * per_lane / 2**20, "fit_s": float(secs)})
        if verbose:
            r = rows[-1]
            print(f"  lanes {L:>7d}: peak RSS {r['peak_rss_mb']:7.1f} MB (before the fit {r['rss_before_fit_mb']:.1f} MB;"
                  f" per-lane results {r['host_lane_arrays_mb']:.1f} MB)  {r['fit_s']:.2f} s", flush=True)
    return {"rows": rows, "machine": machine()}


def quick() -> dict[str, Any]:
    """Under two minutes: the full jaxlaws grid and bootstrap, scipy baselines on subsets (scaled)."""
    # No process pool here: its start-up (seconds) would be scaled up with the subset and
    # overstate the baseline; benchmarks/grid.py runs it on the full grid.
    g = grid(baselines={"lbfgsb_exact": 300, "lbfgsb_fd": 50, "trf_huber": 50})
    b = bootstrap(n=4000, n_scipy=300)
    return {"grid": _jsonable(g), "bootstrap": _jsonable(b)}


def write_result(name: str, out: dict[str, Any], folder: str) -> str:
    """Write a benchmark's result as ``folder/<name>_<device kind>.json`` (from ``out["machine"]``);
    the path written."""
    import json

    out = _jsonable(out)
    path = os.path.join(folder, f"{name}_{out['machine']['device'].split(':')[0]}.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=2, default=float)
    print("written", path)
    return path


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    return x
