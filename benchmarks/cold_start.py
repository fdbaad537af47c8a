"""Cold start: the first fit of a law this process has never seen, against scipy, in a fresh process.

A user's own 5-parameter law (``@jl.law``, the Chinchilla form written anew, so nothing of the
catalog's is compiled) on ``chinchilla_epoch`` (240 points, ``huber-log:1e-3``) from 256 sampled
starts. Each measurement is a fresh Python process (``subprocess``): the import is excluded,
everything after it (problem set-up, tracing, lowering, XLA compiles, the run, diagnostics) is
included. In the same child, scipy L-BFGS-B with the exact numpy gradient
(:func:`jaxlaws.bench.lbfgsb_exact`) runs from the same 256 starts: the ratio is measured side by
side, and reported both as the ratio of the medians over processes and as the median of each
process's own ratio (``paired_ratio_median``, which cancels the machine's drift between
processes). Three settings:

* ``cold``: an empty cache directory (every program compiled);
* ``cached``: the same directory again in a new process (what the second session pays: jaxlaws'
  program store, ``jaxlaws/program_store.py``, loads the engine's and the diagnostics' programs
  without tracing them);
* ``edit``: an empty cache directory, and the process has first fitted an earlier form of the law
  (the same parameters and data, other maths): what each edit of a law's form costs in a notebook
  session, where the process and jax are warm but nothing compiled serves the new form;
* per precision: ``auto`` (the default), ``mixed`` and ``float64`` (``default``: fit's own default,
  for timing an older checkout: ``PYTHONPATH=<checkout> python benchmarks/cold_start.py --precisions default``).

The jaxlaws time is broken down from :func:`jaxlaws.engine.compile_log` (tracing, lowering, XLA
per program) and jax's own ``/jax/compilation_cache/*`` monitoring events (persistent-cache hits).

Usage: python benchmarks/cold_start.py [--quick] [--starts 256] [--repeats 3] [--settings cold,cached,edit]
Writes benchmarks/results/cold_start_<device>.json (not with --quick).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

# The child: argv = precision, starts, cache dir, mode ("fresh" or "edit"). Prints one JSON line.
CHILD = r"""
import json, sys, time
precision, n_starts, cache, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
import os
os.environ["JAXLAWS_CACHE_DIR"] = cache  # jaxlaws' own default cache, in a directory of ours
import jax
events = {}
def on_event(name, *a, **k):
    events[name] = events.get(name, 0) + 1
def on_duration(name, secs, *a, **k):
    events[name + ":s"] = events.get(name + ":s", 0.0) + secs
jax.monitoring.register_event_listener(on_event)
jax.monitoring.register_event_duration_secs_listener(on_duration)
import numpy as np
import jax.numpy as jnp
import jaxlaws as jl
from jaxlaws import bench
bench.warm_up_scipy()
data = jl.datasets.load("chinchilla_epoch")
kw = {} if precision == "default" else {"precision": precision}


def params():  # the five parameters both laws below declare
    return {"E": jl.Param(np.exp(-7.0), np.exp(3.0), scale="log", start=(np.exp(-1.0), np.exp(1.0))),
            "A": jl.Param(np.exp(-10.0), np.exp(40.0), scale="log", start=(1.0, np.exp(25.0))),
            "B": jl.Param(np.exp(-10.0), np.exp(40.0), scale="log", start=(1.0, np.exp(25.0))),
            "alpha": jl.Param(0.0, 3.0, start=(0.0, 2.0)),
            "beta": jl.Param(0.0, 3.0, start=(0.0, 2.0))}


if mode == "edit":
    # An earlier form of the law, fitted first in the same process (as in a notebook, before the
    # edit): the same five parameters and data, other maths, so nothing compiled for it serves
    # the law timed below (a different jaxpr, so a different program for every cache).
    @jl.law(inputs=("N", "D"), predicts_log=True, name="earlier_form", params=params())
    def earlier_form(p, x):
        return jnp.log(p["E"] + p["A"] * x["N"] ** -p["alpha"] + p["B"] * x["D"] ** -p["beta"])
    jl.fit(earlier_form, data, loss="huber-log:1e-3", starts=n_starts, **kw)
    events.clear()  # the events of the law timed below only
n_before = jl.engine.compile_count()

t0 = time.perf_counter()
# A law of the user's own: the catalog's Chinchilla maths, written as a new function and Law.
@jl.law(inputs=("N", "D"), predicts_log=True, params=params())
def my_law(p, x):
    return jax.nn.logsumexp(jnp.stack([jnp.log(p["A"]) - p["alpha"] * jnp.log(x["N"]),
                                       jnp.log(p["B"]) - p["beta"] * jnp.log(x["D"]),
                                       jnp.log(p["E"]) + jnp.zeros_like(x["N"])]), axis=0)

res = jl.fit(my_law, data, loss="huber-log:1e-3", starts=n_starts, **kw)
wall = time.perf_counter() - t0
theta0 = my_law.to_internal(res.starts)
c, bounds = bench.Chinchilla(data), list(zip(my_law.lower, my_law.upper))
t1 = time.perf_counter()
sp = bench.lbfgsb_exact(c, theta0, bounds)
scipy_s = time.perf_counter() - t1
log = [p._asdict() for p in jl.engine.compile_log()] if hasattr(jl.engine, "compile_log") else []  # older jaxlaws
if mode == "edit":
    log = [p for p in log if p["law"] == "my_law"]
print(json.dumps({"precision": precision, "jaxlaws_file": jl.__file__, "jaxlaws_s": wall, "scipy_s": scipy_s, "objective": res.objective,
                  "scipy_objective": float(sp.min()), "n_best": res.n_best, "status_counts": res.status_counts,
                  "timing": res.timing, "programs": log, "n_programs": jl.engine.compile_count() - n_before,
                  "cache_events": {k: v for k, v in events.items() if "compilation_cache" in k or "backend_compile" in k
                                   or "trace" in k or "lower" in k}}))
"""


def child(precision: str, starts: int, cache: str, mode: str = "fresh") -> dict:
    env = dict(os.environ)
    for k in ("JAXLAWS_DEFAULTS", "JAX_COMPILATION_CACHE_DIR", "JAX_ENABLE_COMPILATION_CACHE"):
        env.pop(k, None)  # jaxlaws' defaults, as a user who set nothing gets them
    # cwd: a fresh directory, so that the jaxlaws imported is the one on PYTHONPATH (``-c`` puts
    # the working directory first on sys.path).
    out = subprocess.run([sys.executable, "-c", CHILD, precision, str(starts), cache, mode], capture_output=True, text=True,
                         env=env, cwd=cache)
    if out.returncode != 0:
        raise SystemExit(f"child failed: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def breakdown(r: dict) -> str:
    progs = r["programs"]
    tr = sum(p["trace_s"] for p in progs)
    lo = sum(p["lower_s"] for p in progs)
    xla = ", ".join(f"{p['dtype']} K={p['K']} {p['compile_s']:.2f}{' bg' if p['background'] else ''}"
                    f"{' from the program store' if p.get('stored') else ''}" for p in progs)
    host = r["jaxlaws_s"] - r["timing"]["compile_s"] - r["timing"]["run_s"]
    return (f"trace {tr:.2f} s, lower {lo:.2f} s, XLA [{xla}] s, engine compile wait {r['timing']['compile_s']:.2f} s,"
            f" run {r['timing']['run_s']:.2f} s, rest (set-up, diagnostics with their compile) {host:.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one repeat, nothing written")
    ap.add_argument("--starts", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=None,
                    help="fresh processes per setting, the median reported (default 3, 1 with --quick)")
    ap.add_argument("--precisions", default="auto,mixed,float64")
    ap.add_argument("--settings", default="cold,cached,edit", help="of cold, cached, edit (see the module docstring)")
    args = ap.parse_args()
    settings = args.settings.split(",")
    if not set(settings) <= {"cold", "cached", "edit"}:
        ap.error(f"--settings: each of cold, cached, edit, got {args.settings!r}")
    precisions = args.precisions.split(",")
    repeats = args.repeats or (1 if args.quick else 3)
    rows = []
    for prec in precisions:
        for kind in settings:
            runs = []
            for _ in range(repeats):
                cache = tempfile.mkdtemp(prefix="jaxlaws-cold-")
                if kind == "cached":
                    child(prec, args.starts, cache)  # fill the cache in one process, time the next
                runs.append(child(prec, args.starts, cache, "edit" if kind == "edit" else "fresh"))
            med = sorted(runs, key=lambda r: r["jaxlaws_s"])[len(runs) // 2]
            row = {"precision": prec, "cache": kind, "jaxlaws_s": statistics.median(r["jaxlaws_s"] for r in runs),
                   "scipy_s": statistics.median(r["scipy_s"] for r in runs),
                   "jaxlaws_runs_s": [r["jaxlaws_s"] for r in runs], "scipy_runs_s": [r["scipy_s"] for r in runs],
                   "median_run": med}
            row["ratio_scipy_over_jaxlaws"] = row["scipy_s"] / row["jaxlaws_s"]
            # Each process times both, seconds apart: the median of its ratios cancels the machine's
            # drift between processes (scipy's own seconds varied by 1.5x across them here), which
            # the ratio of the two medians does not.
            row["paired_ratios"] = [r["scipy_s"] / r["jaxlaws_s"] for r in runs]
            row["paired_ratio_median"] = statistics.median(row["paired_ratios"])
            rows.append(row)
            hits = {k: v for k, v in med["cache_events"].items() if k.startswith("/jax/compilation_cache/")}
            print(f"{prec:>8s} {kind:>6s}: jaxlaws {row['jaxlaws_s']:.2f} s, scipy {row['scipy_s']:.2f} s "
                  f"(scipy/jaxlaws {row['ratio_scipy_over_jaxlaws']:.2f} of the medians, "
                  f"{row['paired_ratio_median']:.2f} the median per process); {med['n_programs']} programs; "
                  f"objective {med['objective']:.10e} vs scipy {med['scipy_objective']:.10e}", flush=True)
            print(f"{'':>16s} {breakdown(med)}")
            print(f"{'':>16s} persistent cache events: {hits}", flush=True)
    if not args.quick:
        sys.path.insert(0, HERE)
        import suites

        from jaxlaws.bench import machine

        suites.write_result("cold_start", {"problem": f"user 5-parameter law, chinchilla_epoch, {args.starts} starts",
                                           "rows": rows, "machine": machine()})


if __name__ == "__main__":
    main()
