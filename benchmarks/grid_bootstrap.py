"""The full grid inside every resample: Epoch's 4,000 pairs resamples of chinchilla_epoch, each refitted
from the 4,500-start grid (and the full-data best), 18 M fits, against Epoch's protocol of one start
per resample (the full-data best). Resumable: rerun the same command after an interrupt.

Both protocols run chunked with the same chunk size, so they refit the very same resamples
(chunk k's rows come from default_rng([seed, k])): each resample's two answers can be compared.

Usage: python benchmarks/grid_bootstrap.py --run-dir DIR [--n 4000] [--chunk-resamples C] [--strategy race]
       python benchmarks/grid_bootstrap.py --quick       (20 resamples, a temporary run dir)
Writes benchmarks/results/grid_bootstrap_<device>.json and .md (the time counts the chunks
computed in DIR, over every run that added to it, so a resumed run reports the whole job).
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 0
LOSS = "huber-log:1e-3"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", default=None, help="where the chunks are kept (required unless --quick)")
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--chunk-resamples", type=int, default=None, help="default: jaxlaws.runs.default_chunk")
    ap.add_argument("--precision", default="mixed",
                    help="of the grid protocol's refits (mixed: float32, then a float64 polish that judges every lane)")
    ap.add_argument("--strategy", default="all", choices=["all", "race"],
                    help="of the grid protocol's starts: every lane to its end, or racing (jaxlaws.engine.race)")
    ap.add_argument("--quick", action="store_true", help="20 resamples in a temporary run dir")
    ap.add_argument("--note", default="", help="recorded with the result (e.g. how busy the machine was)")
    args = ap.parse_args()
    if args.quick:
        args.n = 20
        args.chunk_resamples = args.chunk_resamples or 10
        args.run_dir = args.run_dir or tempfile.mkdtemp(prefix="jaxlaws-grid-boot-")
    if args.run_dir is None:
        ap.error("--run-dir DIR is required (the job is resumable from it)")
    from jaxlaws.devices import use_cpu_cores

    use_cpu_cores()
    import jaxlaws as jl

    sys.path.insert(0, HERE)
    import suites

    law, data = jl.laws.get("chinchilla"), jl.datasets.load("chinchilla_epoch")
    t = time.perf_counter()
    fit = jl.fit(law, data, loss=LOSS, starts="grid", run_dir=args.run_dir)
    fit_s = time.perf_counter() - t
    t = time.perf_counter()
    jl.fit(law, data, loss=LOSS, starts="grid")  # warm: the rate of one grid fit, to scale the estimate by
    fit_warm_s = time.perf_counter() - t
    S = 1 + fit.n_starts  # the full-data best, then the grid
    c = args.chunk_resamples or jl.runs.default_chunk(args.n, S, data.n_points)
    # Keep the calls plain: a strategy or other keyword can be added here alike for both.
    kw = dict(n=args.n, loss=LOSS, seed=SEED, fit=fit, resamples_per_chunk=c)

    t = time.perf_counter()
    one = jl.bootstrap(law, data, basins=0, **kw)  # Epoch's protocol: one start, the full-data best
    one_s = time.perf_counter() - t
    t = time.perf_counter()
    grid = jl.bootstrap(law, data, starts="grid", run_dir=args.run_dir, precision=args.precision,
                        strategy=args.strategy, **kw)
    grid_wall_s = time.perf_counter() - t

    events = jl.runs.events(args.run_dir)
    chunks = [e for e in events if e["event"] == "chunk"]
    chunk_s = sum(e["seconds"] for e in chunks)
    compile_s = sum(e.get("compile_s", 0.0) for e in chunks)
    lanes = args.n * S
    lanes_computed = c * S * len(chunks)  # padded lanes count: they ran
    per_s = lanes_computed / (chunk_s - compile_s) if chunk_s > compile_s else float("nan")  # warm rate
    full = 4000 * S / per_s

    better = grid.objective < one.objective * (1 - 1e-12)
    moved = np.abs(grid.params - one.params) / np.abs(one.params)
    out = {
        "problem": f"chinchilla_epoch pairs bootstrap, {args.n} resamples, {LOSS}; grid: {S} starts per resample "
                   f"(the full-data best and the {S - 1}-start grid), one start: the full-data best",
        "n": args.n, "starts_per_resample": S, "resamples_per_chunk": c, "lanes": lanes,
        "grid": {"chunk_seconds": chunk_s, "compile_s": compile_s, "wall_s_this_run": grid_wall_s,
                 "lanes_per_s_warm": per_s, "precision": args.precision, "strategy": args.strategy,
                 "status_counts": grid.status_counts,
                 "estimated_s_for_4000": full, "chunks": grid.timing["chunks"],
                 "chunks_resumed_this_run": grid.timing["chunks_resumed"], "se": grid.se, "ci95": grid.ci(0.95),
                 "n_used": grid.n_used, "n_failed": grid.n_failed, "n_unconverged": grid.n_unconverged},
        "one_start": {"wall_s": one_s, "se": one.se, "ci95": one.ci(0.95), "n_used": one.n_used,
                      "n_unconverged": one.n_unconverged},
        "per_resample": {"grid_found_lower_objective": int(better.sum()),
                         "max_relative_objective_gain": float(np.max((one.objective - grid.objective)
                                                                     / one.objective)),
                         "max_relative_param_change": {k: float(moved[:, i].max()) for i, k in enumerate(law.params)}},
        "fit_s": fit_s, "grid_fit_warm_s": fit_warm_s, "grid_fit_warm_lanes_per_s": fit.n_starts / fit_warm_s,
        "run_dir": os.path.abspath(args.run_dir), "quick": args.quick,
        "note": args.note, "machine": suites.machine(),
    }
    print(f"  grid in every resample: {lanes} lanes, {chunk_s:.1f} s of chunks ({compile_s:.1f} s compiling), "
          f"{per_s:.0f} lanes/s warm "
          f"-> 4,000 resamples in ~{full / 60:.1f} min; one start per resample {one_s:.2f} s")
    print(f"  grid lanes by status: {grid.status_counts}")
    print(f"  resamples where the grid found a lower objective: {int(better.sum())} of {args.n}")
    for k in law.order:
        print(f"  {k:<6s} CI grid [{grid.ci(0.95)[k][0]:.4g}, {grid.ci(0.95)[k][1]:.4g}]  "
              f"one start [{one.ci(0.95)[k][0]:.4g}, {one.ci(0.95)[k][1]:.4g}]")
    path = suites.write_result("grid_bootstrap", out)
    m = out["machine"]
    lines = ["# The full grid inside every resample vs one start per resample", "", out["problem"] + ".", "",
             f"machine {m['device']} ({m['processor']}, {m['cpu_count']} CPUs), {m['date']}. {out['note']}", "",
             f"grid ({args.precision}, strategy {args.strategy}): {lanes:,} lanes in {chunk_s:.1f} s of chunk compute, {compile_s:.1f} s of it "
             f"compiling ({per_s:,.0f} lanes/s warm; 4,000 resamples "
             f"would take ~{full / 60:.1f} min at that rate); one start per resample: {one_s:.2f} s. "
             f"A warm grid fit ran at {fit.n_starts / fit_warm_s:,.0f} lanes/s in the same process.", "",
             f"grid lanes by status: {grid.status_counts}.", "",
             f"resamples where the grid found a lower objective than the one start: {int(better.sum())} of {args.n} "
             f"(largest relative gain {out['per_resample']['max_relative_objective_gain']:.3g}).", "",
             "| param | SE grid | SE one start | 95% CI grid | 95% CI one start |", "|---|---:|---:|---|---|"]
    for k in law.order:
        g, o = grid.ci(0.95)[k], one.ci(0.95)[k]
        lines.append(f"| {k} | {grid.se[k]:.4g} | {one.se[k]:.4g} | [{g[0]:.4g}, {g[1]:.4g}] | [{o[0]:.4g}, {o[1]:.4g}] |")
    with open(path[:-len(".json")] + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
