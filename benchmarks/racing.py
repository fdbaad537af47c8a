"""Racing starts against running every lane: the Chinchilla grid, and the grid on every bootstrap resample.

Two measurements, each strategy run side by side in one process on the same lanes:

* the 4,500-start grid on ``chinchilla_epoch`` (``huber-log:1e-3``): warm seconds (median of
  ``--repeats``), the best objective, lane-steps and lanes by status;
* ``jl.bootstrap(starts="grid")``: every pairs resample refitted from the full-data best and all
  4,500 grid starts (``precision="mixed"``, as a job of this size runs), racing
  (``strategy="race"``) against every lane (``strategy="all"``): per resample, whether racing
  reaches the same best objective (``<= 1e-9`` relative above every lane's, or below it), and
  the time ratio. The resamples run in blocks of ``--block`` (one engine call each), so memory
  stays flat and a block's time is comparable across strategies.

Usage: python benchmarks/racing.py [--quick] [--resamples 1000] [--block 50]
``--quick``: 8 resamples, 2 repeats, nothing written (a check that it runs; under ~2 minutes).
Writes benchmarks/results/racing_<device>.json (not with --quick).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SAME = 1e-9  # racing's best may exceed every lane's by this much, relative, and count as the same


def grid(repeats: int, race) -> dict:
    import jaxlaws as jl

    law, data = jl.laws.get("chinchilla"), jl.datasets.load("chinchilla_epoch")
    out = {}
    for name, strat in (("all", "all"), ("race", race)):
        jl.fit(law, data, starts="grid", strategy=strat)  # compile
    for name, strat in (("all", "all"), ("race", race)):
        ts = []
        for _ in range(repeats):
            t = time.perf_counter()
            res = jl.fit(law, data, starts="grid", strategy=strat)
            ts.append(time.perf_counter() - t)
        out[name] = {"warm_s": float(np.median(ts)), "runs_s": ts, "objective": res.objective,
                     "lane_steps": int(res.steps.sum()), "status_counts": res.status_counts, "n_best": res.n_best}
    out["time_ratio"] = out["all"]["warm_s"] / out["race"]["warm_s"]
    out["same_best"] = bool(out["race"]["objective"] <= out["all"]["objective"] * (1 + SAME))
    return out


def bootstrap(n: int, block: int, race) -> dict:
    import jaxlaws as jl

    data = jl.datasets.load("chinchilla_epoch")
    fit = jl.fit("chinchilla", data, starts="grid")
    times = {"all": 0.0, "race": 0.0}
    objective = {"all": [], "race": []}
    counts: dict[str, dict[str, int]] = {"all": {}, "race": {}}
    warm = min(block, n)
    for strat in ("all", race):  # compile both strategies' programs first (a block of the same size)
        jl.bootstrap("chinchilla", data, n=warm, starts="grid", fit=fit, seed=10**6, precision="mixed",
                     strategy=strat, progress=False)
    for b0 in range(0, n, block):
        m = min(block, n - b0)
        for name, strat in (("all", "all"), ("race", race)):
            t = time.perf_counter()
            bs = jl.bootstrap("chinchilla", data, n=max(m, 2), starts="grid", fit=fit, seed=b0, precision="mixed",
                              strategy=strat, progress=False)
            times[name] += time.perf_counter() - t
            objective[name].extend(bs.objective[:m].tolist())
            for k, v in bs.status_counts.items():
                counts[name][k] = counts[name].get(k, 0) + v
        done = b0 + m
        fa, fr = np.array(objective["all"]), np.array(objective["race"])
        print(f"  {done:>5d} resamples: same best {np.mean(fr <= fa * (1 + SAME)):.2%}, time all {times['all']:.1f} s, "
              f"race {times['race']:.1f} s ({times['all'] / times['race']:.2f}x)", flush=True)
    fa, fr = np.array(objective["all"]), np.array(objective["race"])
    same = fr <= fa * (1 + SAME)
    return {"n_resamples": n, "block": block, "frac_same_best": float(same.mean()),
            "n_different": int((~same).sum()), "worst_rel_excess": float(np.max((fr - fa) / fa)),
            "seconds": times, "time_ratio": times["all"] / times["race"], "status_counts": counts,
            "different": [{"resample": int(i), "all": float(fa[i]), "race": float(fr[i])} for i in np.flatnonzero(~same)]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--block", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    from jaxlaws.devices import use_compilation_cache, use_cpu_cores

    use_cpu_cores()
    use_compilation_cache(tempfile.mkdtemp(prefix="jaxlaws-xla-"))
    import jaxlaws as jl

    race = jl.engine.Race()
    n, block, repeats = (8, 4, 2) if args.quick else (args.resamples, args.block, args.repeats)
    print(f"racing {race} on {jl.engine.device_name()}")
    g = grid(repeats, race)
    print(f"grid: all {g['all']['warm_s']:.3f} s, race {g['race']['warm_s']:.3f} s ({g['time_ratio']:.2f}x); "
          f"best {g['all']['objective']:.12e} vs {g['race']['objective']:.12e}; lane-steps "
          f"{g['all']['lane_steps']} vs {g['race']['lane_steps']}; race lanes {g['race']['status_counts']}", flush=True)
    print(f"bootstrap, the grid on each of {n} resamples:")
    b = bootstrap(n, block, race)
    print(f"same best on {b['frac_same_best']:.2%} of {n} resamples ({b['n_different']} differ, worst excess "
          f"{b['worst_rel_excess']:.3g}); time ratio {b['time_ratio']:.2f}x")
    if not args.quick:
        sys.path.insert(0, HERE)
        import dataclasses

        import suites

        from jaxlaws.bench import machine

        suites.write_result("racing", {"race": dataclasses.asdict(race), "grid": g, "bootstrap": b,
                                       "same_rel_tol": SAME, "machine": machine()})


if __name__ == "__main__":
    main()
