"""The suite's GPU figures in one run of under 8 minutes: 10^6 Chinchilla fits, the lane count where
the GPU overtakes this project's CPU, the grid and the bootstrap cold and warm.

On the device machine (its ``python3`` has jax with CUDA, numpy, scipy, optax; jaxlaws is pure
Python and runs from the checkout), from the repository root::

    PYTHONUNBUFFERED=1 PYTHONPATH=. python3 benchmarks/gpu.py --out $OUT

then copy ``$OUT/gpu_*.json`` and ``$OUT/gpu_*.md`` into ``benchmarks/results/``. Here, on a CPU,
``python benchmarks/gpu.py --smoke`` runs every stage tiny (same code paths, ~1 minute) and
writes nothing unless ``--out`` is given.

Stages, in order (each records its seconds; a stage that would start with less than its
reserve of the ``--budget`` left is skipped and listed under ``skipped``; the result files are
rewritten after every stage, so a run cut short still leaves what it measured):

1. ``grid``: the 4,500-start grid on ``chinchilla_epoch`` cold (a fresh compilation cache),
   from the persistent cache, warm (median of 3), and racing (``strategy="race"``) warm;
2. ``bootstrap``: Epoch AI's 4,000 pairs resamples (``jl.bootstrap``, its default starts) cold and warm;
3. ``million``: 10^6 starts in one ``jl.fit`` (compile, then warm), and the same at several slot
   counts (``chunk``) to check the accelerator slot rule (:data:`jaxlaws.engine.slots.ACCELERATOR_SLOTS`);
4. ``crossover``: the sweep's synthetic data (100 and 1,000 points), lanes 1 ... 10^5 warm,
   against the CPU's seconds read from ``benchmarks/results/sweep_cpu.json``: the fewest lanes at
   which the GPU is faster;
5. ``million_bootstrap``: a bootstrap of 10^6 pairs resamples, one start each (10^6 fits of resampled data).

Fails at once, with one line, if jax sees no accelerator (unless ``--smoke``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from typing import Any

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")

# Seconds a stage needs left of the budget to start (a cold compile on a GPU is several seconds;
# the 10^6-lane stages run a few compiles and solves).
RESERVE = {"grid": 40, "bootstrap": 30, "million": 90, "crossover": 60, "million_bootstrap": 90}


class Run:
    """The budget, the results so far, and writing them after every stage."""

    def __init__(self, budget: float, out: str | None, tag: str) -> None:
        self.t0, self.budget, self.out, self.tag = time.perf_counter(), budget, out, tag
        self.result: dict[str, Any] = {"stages": {}, "skipped": [], "budget_s": budget}

    def left(self) -> float:
        return self.budget - (time.perf_counter() - self.t0)

    def stage(self, name: str, fn: Any) -> None:
        if self.left() < RESERVE[name]:
            self.result["skipped"].append({"stage": name, "why": f"{self.left():.0f} s of the budget left, "
                                                                   f"{RESERVE[name]} s needed"})
            print(f"[{name}] skipped: {self.left():.0f} s left", flush=True)
            self.write()
            return
        t = time.perf_counter()
        print(f"[{name}] ...", flush=True)
        try:
            self.result["stages"][name] = fn(self)
        except Exception as e:  # noqa: BLE001 - one stage failing must not lose the others
            self.result["stages"][name] = {"error": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"}
        self.result["stages"][name]["stage_s"] = time.perf_counter() - t
        print(f"[{name}] {self.result['stages'][name]['stage_s']:.1f} s", flush=True)
        self.write()

    def write(self) -> None:
        if self.out is None:
            return
        os.makedirs(self.out, exist_ok=True)
        self.result["elapsed_s"] = time.perf_counter() - self.t0
        base = os.path.join(self.out, f"gpu_{self.tag}")
        with open(base + ".json", "w") as f:
            json.dump(_jsonable(self.result), f, indent=2)
        with open(base + ".md", "w") as f:
            f.write(markdown(self.result))


def _jsonable(x: Any) -> Any:
    return json.loads(json.dumps(x, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v)))


def timed(fn: Any, repeats: int = 1) -> tuple[Any, float, list[float]]:
    ts, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t)
    return out, float(np.median(ts)), ts


def stage_grid(run: Run) -> dict[str, Any]:
    import jaxlaws as jl

    law, data = jl.laws.get("chinchilla"), jl.datasets.load("chinchilla_epoch")
    starts = "grid" if not run.smoke else law.to_natural(jl.starts.grid(law)[::45])

    def fit(**kw: Any) -> Any:
        return jl.fit(law, data, starts=starts, **kw)

    jl.engine.clear_compiled()
    jl.diagnostics.clear_compiled()
    cold, cold_s, _ = timed(fit)
    jl.engine.clear_compiled()
    jl.diagnostics.clear_compiled()
    cached, cached_s, _ = timed(fit)
    warm, warm_s, runs = timed(fit, 3)
    fit(strategy="race")
    race, race_s, race_runs = timed(lambda: fit(strategy="race"), 3)
    return {"n_starts": warm.n_starts, "cold_s": cold_s, "cold_cached_s": cached_s, "warm_s": warm_s, "warm_runs_s": runs,
            "compile_s": cold.timing["compile_s"], "compile_cached_s": cached.timing["compile_s"],
            "objective": warm.objective, "n_best": warm.n_best, "status_counts": warm.status_counts,
            "lane_steps": int(warm.steps.sum()), "race_warm_s": race_s, "race_runs_s": race_runs,
            "race_objective": race.objective, "race_status_counts": race.status_counts,
            "programs": [p._asdict() for p in jl.engine.compile_log()]}


def stage_bootstrap(run: Run) -> dict[str, Any]:
    import jaxlaws as jl

    data = jl.datasets.load("chinchilla_epoch")
    res = jl.fit("chinchilla", data, starts="grid")
    n = 4000 if not run.smoke else 50

    def boot() -> Any:
        return jl.bootstrap("chinchilla", data, n=n, fit=res, seed=0, progress=False)

    _, cold_s, _ = timed(boot)
    warm, warm_s, runs = timed(boot, 3)
    return {"n": n, "cold_s": cold_s, "warm_s": warm_s, "warm_runs_s": runs, "n_unconverged": warm.n_unconverged,
            "n_failed": warm.n_failed, "se": warm.se, "starts_per_resample": int(warm.starts.shape[0])}


def stage_million(run: Run) -> dict[str, Any]:
    import jaxlaws as jl

    law, data = jl.laws.get("chinchilla"), jl.datasets.load("chinchilla_epoch")
    L = 10**6 if not run.smoke else 2000
    nat = law.to_natural(jl.starts.lhs(law, L, seed=0))
    first, first_s, _ = timed(lambda: jl.fit(law, data, starts=nat))
    warm, warm_s, runs = timed(lambda: jl.fit(law, data, starts=nat), 2)
    out = {"lanes": L, "first_s": first_s, "first_compile_s": first.timing["compile_s"], "warm_s": warm_s,
           "warm_runs_s": runs, "fits_per_s": L / warm_s, "objective": warm.objective,
           "status_counts": warm.status_counts, "lane_steps": int(warm.steps.sum()), "by_chunk": []}
    for chunk in ((2**12, 2**14, 2**16, 2**17) if not run.smoke else (8, 32)):
        if run.left() < 45:
            out["by_chunk"].append({"chunk": chunk, "skipped": "budget"})
            continue
        jl.fit(law, data, starts=nat, chunk=chunk)  # compile
        _, s, _ = timed(lambda chunk=chunk: jl.fit(law, data, starts=nat, chunk=chunk))
        out["by_chunk"].append({"chunk": chunk, "warm_s": s})
        print(f"    chunk {chunk}: {s:.2f} s", flush=True)
    return out


def cpu_sweep() -> dict[tuple[int, int], float]:
    path = os.path.join(RESULTS, "sweep_cpu.json")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        rows = json.load(f)["rows"]
    return {(r["points"], r["lanes"]): r["warm_s"] for r in rows}


def stage_crossover(run: Run) -> dict[str, Any]:
    import jaxlaws as jl

    sys.path.insert(0, HERE)
    from suites import sweep_data

    law = jl.laws.get("chinchilla")
    cpu = cpu_sweep()
    lanes = (1, 10, 100, 1000, 10000, 100000) if not run.smoke else (1, 10, 100)
    rows, crossover = [], {}
    for n in (100, 1000):
        data = sweep_data(n)
        for L in lanes:
            if run.left() < 20:
                rows.append({"points": n, "lanes": L, "skipped": "budget"})
                continue
            nat = law.to_natural(jl.starts.lhs(law, L, seed=L))
            jl.fit(law, data, starts=nat)  # compile
            res, s, _ = timed(lambda data=data, nat=nat: jl.fit(law, data, starts=nat), 3)
            c = cpu.get((n, L))
            rows.append({"points": n, "lanes": L, "gpu_warm_s": s, "cpu_warm_s": c,
                         "cpu_over_gpu": None if c is None else c / s, "objective": res.objective})
            print(f"    points {n} lanes {L}: gpu {s:.3f} s, cpu {c}", flush=True)
            if c is not None and s < c and n not in crossover:
                crossover[n] = L
    return {"rows": rows, "gpu_faster_from_lanes": crossover,
            "cpu_source": "benchmarks/results/sweep_cpu.json (warm_s)" if cpu else "no CPU sweep found"}


def stage_million_bootstrap(run: Run) -> dict[str, Any]:
    import jaxlaws as jl

    data = jl.datasets.load("chinchilla_epoch")
    res = jl.fit("chinchilla", data, starts="grid")
    n = 10**6 if not run.smoke else 500

    def boot() -> Any:
        return jl.bootstrap("chinchilla", data, n=n, fit=res, seed=0, basins=0, progress=False)

    first, first_s, _ = timed(boot)
    warm, warm_s, runs = timed(boot, 1)
    return {"n": n, "lanes": n * int(warm.starts.shape[0]), "first_s": first_s, "warm_s": warm_s,
            "fits_per_s": n / warm_s, "n_unconverged": warm.n_unconverged, "n_failed": warm.n_failed, "se": warm.se}


def markdown(r: dict[str, Any]) -> str:
    m, st = r.get("machine", {}), r["stages"]
    lines = [f"# GPU figures ({m.get('device', '?')})", "",
             f"jax {m.get('jax', '?')}, jaxlaws {m.get('jaxlaws', '?')}, {m.get('date', '?')}; "
             f"{r.get('elapsed_s', 0):.0f} s of a {r['budget_s']:.0f} s budget" + (" (SMOKE: tiny, on CPU)" if r.get("smoke") else ""), ""]

    def g(d: dict[str, Any], k: str, fmt: str = "{:.3f}") -> str:
        v = d.get(k)
        return "-" if v is None else fmt.format(v)

    if "grid" in st:
        d = st["grid"]
        lines += [f"- grid ({d.get('n_starts', '?')} starts): cold {g(d, 'cold_s')} s, from cache {g(d, 'cold_cached_s')} s, "
                  f"warm {g(d, 'warm_s')} s, racing warm {g(d, 'race_warm_s')} s; best {g(d, 'objective', '{:.10e}')}"]
    if "bootstrap" in st:
        d = st["bootstrap"]
        lines += [f"- bootstrap ({d.get('n', '?')} resamples): cold {g(d, 'cold_s')} s, warm {g(d, 'warm_s')} s"]
    if "million" in st:
        d = st["million"]
        lines += [f"- {d.get('lanes', '?')} starts in one fit: first call {g(d, 'first_s')} s, warm {g(d, 'warm_s')} s "
                  f"({g(d, 'fits_per_s', '{:.3g}')} fits/s)"]
        for c in d.get("by_chunk", []):
            lines += [f"  - chunk {c['chunk']}: {g(c, 'warm_s')} s"]
    if "crossover" in st:
        d = st["crossover"]
        lines += [f"- GPU faster than the CPU sweep from (points: lanes) {d.get('gpu_faster_from_lanes')}"]
        for row in d.get("rows", []):
            lines += [f"  - {row['points']} points, {row['lanes']} lanes: gpu {g(row, 'gpu_warm_s')} s, "
                      f"cpu {g(row, 'cpu_warm_s')} s"]
    if "million_bootstrap" in st:
        d = st["million_bootstrap"]
        lines += [f"- bootstrap of {d.get('n', '?')} resamples ({d.get('lanes', '?')} lanes): first {g(d, 'first_s')} s, "
                  f"warm {g(d, 'warm_s')} s"]
    for name, d in st.items():
        if "error" in d:
            lines += [f"- {name}: ERROR {d['error']}"]
    for s in r["skipped"]:
        lines += [f"- {s['stage']}: skipped ({s['why']})"]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="every stage tiny, on any backend (a check that it runs)")
    ap.add_argument("--budget", type=float, default=450.0, help="seconds for the whole run (default 450: 7.5 min)")
    ap.add_argument("--out", default=None, help="folder for gpu_*.json / .md (default: benchmarks/results, "
                                                "nothing with --smoke)")
    ap.add_argument("--stages", default=",".join(RESERVE), help="comma-separated subset of " + ",".join(RESERVE))
    args = ap.parse_args()
    from jaxlaws.devices import use_compilation_cache

    use_compilation_cache(tempfile.mkdtemp(prefix="jaxlaws-xla-"))  # fresh: the grid's first fit compiles
    import jax

    backend = jax.default_backend()
    if backend == "cpu" and not args.smoke:
        print("gpu.py: jax sees no accelerator (backend cpu); run with --smoke to check the script on a CPU",
              file=sys.stderr)
        raise SystemExit(2)
    import jaxlaws as jl
    from jaxlaws.bench import machine

    out = args.out if args.out is not None else (None if args.smoke else RESULTS)
    tag = "smoke" if args.smoke else jax.devices()[0].device_kind.lower().replace(" ", "_")
    run = Run(args.budget, out, "".join(ch for ch in tag if ch.isalnum() or ch in "._-"))
    run.smoke = args.smoke
    run.result.update({"machine": machine(), "smoke": args.smoke, "backend": backend,
                       "devices": [str(d) for d in jax.devices()], "engine_settings": jl.devices.describe()})
    print(f"{jl.engine.device_name()}; budget {args.budget:.0f} s", flush=True)
    stages = {"grid": stage_grid, "bootstrap": stage_bootstrap, "million": stage_million,
              "crossover": stage_crossover, "million_bootstrap": stage_million_bootstrap}
    for name in args.stages.split(","):
        run.stage(name, stages[name])
    run.write()
    print(markdown(run.result))


if __name__ == "__main__":
    main()
