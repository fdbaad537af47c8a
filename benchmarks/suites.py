"""The full benchmark suites the scripts in this folder run; each script writes its result with
:func:`write_result`.

* :func:`grid`      the Chinchilla 4,500-start grid against every scipy baseline
                    (:mod:`baselines`), plus the engine's overhead (:mod:`overhead`);
* :func:`bootstrap` :func:`jaxlaws.bench.bootstrap` (by default scipy on every resample);
* :func:`sweep`     synthetic Chinchilla data, seconds per fit as lanes and points grow;
* :func:`memory`    peak resident memory of a fresh process as lanes grow.

This folder is not installed: the scripts import these modules from their own folder (a test
puts the folder on ``sys.path``). Needs scipy (the ``bench`` or ``test`` extra).
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import numpy as np

import jaxlaws as jl
from jaxlaws import bench
from jaxlaws.bench import bootstrap, machine

import baselines as scipy_baselines  # this folder
from overhead import engine_overhead

HERE = os.path.dirname(os.path.abspath(__file__))

__all__ = ["bootstrap", "engine_overhead", "grid", "machine", "memory", "sweep", "sweep_data", "warmup_lanes",
           "write_result"]


def grid(subset: int | None = None, baselines: dict[str, int | None] | None = None, seed: int = 0,
         warm_repeats: int = 5, overhead: bool = True) -> dict[str, Any]:
    """Chinchilla 4,500-start grid on ``chinchilla_epoch`` (huber-log:1e-3): jaxlaws vs every scipy
    baseline (:func:`jaxlaws.bench.grid`), and the engine's overhead on the same starts.

    ``baselines``: name (one of :data:`baselines.NAMES`) -> number of starts to time it on (None:
    all 4,500); by default the exact-gradient loops (bounded, unbounded, pooled) run on all starts
    (or ``subset``) and the slower ones on 300. ``overhead``: also measure the engine's overhead.
    """
    law, data = jl.laws.get("chinchilla"), jl.datasets.load("chinchilla_epoch")
    if baselines is None:
        baselines = {"lbfgsb_exact": subset, "lbfgsb_exact_unbounded": subset, "lbfgsb_fd": 300,
                     "trf_huber": 300, "lbfgsb_exact_pool2": subset}
    bounds = list(zip(law.lower, law.upper))
    out = bench.grid({k: (n, scipy_baselines.make(k, data, bounds)) for k, n in baselines.items()}, seed, warm_repeats)
    if overhead:
        o = out["jaxlaws"]["engine_overhead"] = engine_overhead(law, data, bench.LOSS, jl.starts.grid(law))
        print(f"  {'':<24s} engine overhead {o['overhead']:.2f}x (whole solve / lane-steps x one batched"
              f" residual+Jacobian pass: {o['lane_steps_float32']} float32 + {o['lane_steps_float64']} float64 steps)")
    return out


def warmup_lanes(n_lanes: int, n_residuals: int, n_params: int) -> int:
    """The fewest lanes whose fit runs the same compiled programs as a fit of ``n_lanes``: the
    slots per device (:func:`jaxlaws.engine.slots_per_device`) grow with the lanes up to a cap."""
    from jaxlaws.engine import mesh

    n_dev = mesh.n_devices()
    k = jl.engine.slots_per_device(-(-n_lanes // n_dev), n_residuals, n_params)
    lo, hi = 1, n_lanes  # slots never fall as lanes grow: the least count with k slots
    while lo < hi:
        mid = (lo + hi) // 2
        if jl.engine.slots_per_device(-(-mid // n_dev), n_residuals, n_params) >= k:
            hi = mid
        else:
            lo = mid + 1
    return lo


def sweep_data(n: int) -> Any:
    """The sweep's synthetic Chinchilla dataset of ``n`` points (known parameters, 1% noise, seeded by ``n``)."""
    law = jl.laws.get("chinchilla")
    true = {"E": 1.8, "A": 480.0, "B": 2100.0, "alpha": 0.35, "beta": 0.37}
    rng = np.random.default_rng(n)
    N = np.exp(rng.uniform(np.log(7e7), np.log(1.6e10), n))
    D = np.exp(rng.uniform(np.log(5e9), np.log(5e11), n))
    y = np.asarray(law.predict(true, N=N, D=D)) * np.exp(0.01 * rng.standard_normal(n))
    return jl.datasets.from_arrays(x={"N": N, "D": D}, y=y)


def sweep(lanes: tuple[int, ...] = (1, 10, 100, 1000, 10000, 100000),
          points: tuple[int, ...] = (100, 1000, 10000, 100000), max_work: float = 1e8) -> dict[str, Any]:
    """Synthetic Chinchilla data (known parameters, 1% noise): seconds per fit as lanes and points grow.

    Lanes are sampled starts on one dataset; the exact-gradient scipy loop is timed on up to 20
    of the same starts for each size and scaled. Cells with lanes x points above ``max_work``
    are skipped (listed in the output): at ~10 ns per point-step they would take minutes each.
    Reports warm seconds, lane-steps per second and the ratio (memory: :func:`memory`).
    """
    law = jl.laws.get("chinchilla")
    bounds = list(zip(law.lower, law.upper))
    rows, skipped = [], []
    bench.warm_up_scipy()
    for n in points:
        data = sweep_data(n)
        c = bench.Chinchilla(data)
        for L in lanes:
            if L * n > max_work:
                skipped.append({"points": n, "lanes": L})
                continue
            st = jl.starts.lhs(law, L, seed=L)
            nat = law.to_natural(st)
            jl.fit(law, data, starts=nat[:warmup_lanes(L, n, law.n_params)])  # compile first
            res, warm_s, _ = bench.timed(lambda data=data, nat=nat: jl.fit(law, data, starts=nat))
            k = min(L, 20)
            sp, sp_s, _ = bench.timed(lambda c=c, st=st, k=k: bench.lbfgsb_exact(c, st[:k], bounds))
            scipy_s = sp_s * L / k
            # The best objective each reaches from the starts scipy ran (the first k of both).
            rows.append({"points": n, "lanes": L, "warm_s": warm_s, "lane_steps_per_s": float(res.steps.sum() / warm_s),
                         "scipy_s": scipy_s, "scipy_extrapolated": k < L,
                         "ratio": scipy_s / warm_s, "starts_compared": k,
                         "objective": float(np.min(res.all_objective[:k])), "scipy_objective": float(np.min(sp)),
                         "n_best": res.n_best, "status_counts": res.status_counts})
            print(f"  points {n:>6d} lanes {L:>6d}: jaxlaws {warm_s:8.3f} s  scipy {scipy_s:8.2f} s  "
                  f"ratio {scipy_s / warm_s:6.1f}x  {rows[-1]['lane_steps_per_s']:.3g} lane-steps/s", flush=True)
    return {"rows": rows, "skipped": skipped, "max_work": max_work, "machine": machine()}


# A fresh process: argv[1] lanes, argv[2] this folder (for warmup_lanes).
_MEMORY_CHILD = """
import resource, sys, time
sys.path.insert(0, sys.argv[2])
from jaxlaws.devices import use_cpu_cores
use_cpu_cores()
import numpy as np
import jaxlaws as jl
from suites import warmup_lanes
law, data = jl.laws.get("chinchilla"), jl.datasets.load("chinchilla_epoch")
L = int(sys.argv[1])
nat = law.to_natural(jl.starts.lhs(law, max(L, 1), seed=0)) if L else None
warm = warmup_lanes(L, 240, 5) if L else 512  # runtime up, the fit's own programs compiled
jl.fit(law, data, starts=law.to_natural(jl.starts.lhs(law, warm, seed=1)))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
if L:
    jl.fit(law, data, starts=nat)
print(before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter() - t)
"""


def memory(lanes: tuple[int, ...] = (0, 1000, 10000, 100000)) -> dict[str, Any]:
    """Peak resident memory of a fresh process that fits ``chinchilla_epoch`` from L Latin-hypercube
    starts (after a fit of other starts that brings up the runtime and compiles the same
    programs, :func:`warmup_lanes`).

    Each L runs in its own process, so one peak cannot hide another. ``host_lane_arrays_mb`` is
    what any multi-start fit must hold on the host (every lane's start, parameters, objective,
    status and steps, in float64); the rest of the growth beyond it is the engine's.
    """
    rows = []
    for L in lanes:
        out = subprocess.run([sys.executable, "-c", _MEMORY_CHILD, str(L), HERE], capture_output=True, text=True,
                             check=True)
        before_kb, peak_kb, secs = out.stdout.split()
        per_lane = 8 * (3 * 5 + 3)  # starts, theta, params [5] and value, status, steps
        rows.append({"lanes": L, "peak_rss_mb": int(peak_kb) / 1024, "rss_before_fit_mb": int(before_kb) / 1024,
                     "host_lane_arrays_mb": L * per_lane / 2**20, "fit_s": float(secs)})
        r = rows[-1]
        print(f"  lanes {L:>7d}: peak RSS {r['peak_rss_mb']:7.1f} MB (before the fit {r['rss_before_fit_mb']:.1f} MB;"
              f" per-lane results {r['host_lane_arrays_mb']:.1f} MB)  {r['fit_s']:.2f} s", flush=True)
    return {"rows": rows, "machine": machine()}


def write_result(name: str, out: dict[str, Any], folder: str = os.path.join(HERE, "results")) -> str:
    """Write a benchmark's result as ``folder/<name>_<device kind>.json`` (from ``out["machine"]``);
    the path written."""
    import json

    out = bench._jsonable(out)
    path = os.path.join(folder, f"{name}_{out['machine']['device'].split(':')[0]}.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=2, default=float)
    print("written", path)
    return path
