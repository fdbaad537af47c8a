"""Backtests of bundled datasets: error and coverage by extrapolation distance, and the time of
one batched backtest call against the same backtest as a Python loop of jl.fit + jl.bootstrap.

For each dataset, cutoffs at 50/60/70/80% of the points along compute C (6ND where the data
have no C; the expert-count MoE data have neither: along N), one fit per cutoff on the points
below it and pairs resamples of those points, 90% intervals (band of the mean and prediction
interval of a new observation) at every point above it. The loop does the same work per cutoff:
jl.fit with the same starts, then jl.bootstrap with the same resample starts (plus the fit's own
optimum, which the one-call backtest cannot know in advance) and jl.analysis.predict.

Writes benchmarks/results/backtest.md and backtest_cpu.json (with the machine).
"""

import argparse
import os
import tempfile
import time

from jaxlaws.devices import use_compilation_cache, use_cpu_cores

PLAN = [
    # dataset, law, loss, along (None: C, else 6ND)
    ("chinchilla_epoch", "chinchilla", "huber-log:1e-3", None),
    ("moe", "moe_clark", "mse", "N"),
    ("data_constrained", "data_constrained", "mse", None),
    ("vocab", "vocab", "mse", None),
]


def loop_backtest(jl, np, law, data, loss, along, fits, n, starts, resample_starts, level, seed):
    """The same backtest, cutoff by cutoff, through the public API; (seconds, [per fit dict])."""
    from jaxlaws.analysis.backtest import along_values
    from jaxlaws.analysis.predict import predict

    law = jl.laws.get(law)
    _, x = along_values(data, along)
    res_starts = np.asarray(law.to_natural(jl.starts.make(law, resample_starts, seed=seed + 1)))
    out = []
    t = time.perf_counter()
    for f in fits:
        train, test = data.subset(x < f.cutoff), data.subset(x > f.cutoff)
        res = jl.fit(law, train, loss=loss, starts=starts, seed=seed)
        boot = jl.bootstrap(law, train, n=n, loss=loss, fit=res, starts=res_starts, seed=seed, precision="mixed",
                            progress=False)
        pr = predict(boot, test.inputs, level=level, seed=seed)
        out.append({"lo": pr.lo, "hi": pr.hi, "obs_lo": pr.obs_lo, "obs_hi": pr.obs_hi, "y": test.y,
                    "n_used": boot.n_used})
    return time.perf_counter() - t, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="resamples per cutoff")
    ap.add_argument("--resample-starts", type=int, default=8)
    ap.add_argument("--level", type=float, default=0.9)
    ap.add_argument("--datasets", default=",".join(p[0] for p in PLAN))
    ap.add_argument("--no-loop", action="store_true", help="skip the Python-loop timing")
    args = ap.parse_args()
    use_cpu_cores()  # before jax starts: one device per core
    use_compilation_cache(tempfile.mkdtemp(prefix="jaxlaws-xla-"))  # fresh: the first run compiles
    import numpy as np

    import jaxlaws as jl
    from jaxlaws.analysis.backtest import backtest

    import suites

    wanted = args.datasets.split(",")
    blocks, runs = [], []
    for name, law, loss, along in PLAN:
        if name not in wanted:
            continue
        data = jl.datasets.load(name)
        kw = dict(loss=loss, along=along, n=args.n, level=args.level, resample_starts=args.resample_starts, seed=0)
        t = time.perf_counter()
        bt = backtest(law, data, **kw)
        cold = time.perf_counter() - t
        t = time.perf_counter()
        backtest(law, data, **kw)
        warm = time.perf_counter() - t
        starts = "grid" if all(p.grid is not None for p in jl.laws.get(law).params.values()) else 256
        run = {"dataset": name, "law": law, "loss": loss, "along": bt.along, "n_points": data.n_points,
               "n_fits": len(bt.fits), "n_held_out": int(len(bt.y)), "n_lanes": bt.n_lanes,
               "n_engine_calls": bt.n_engine_calls, "starts": starts, "n": args.n,
               "resample_starts": args.resample_starts, "one_call_cold_s": cold, "one_call_warm_s": warm,
               "fits": [f.to_dict() for f in bt.fits], "by_bin": bt.rows(("bin",)),
               "by_cutoff": bt.rows(("cutoff",)), "by_cutoff_and_bin": bt.rows(("cutoff", "bin"))}
        print(f"{name}: {bt.n_lanes} lanes, one call cold {cold:.1f} s, warm {warm:.1f} s", flush=True)
        if not args.no_loop:
            loop_cold, per_fit = loop_backtest(jl, np, law, data, loss, along, bt.fits, args.n, starts,
                                               args.resample_starts, args.level, 0)
            loop_warm, per_fit = loop_backtest(jl, np, law, data, loss, along, bt.fits, args.n, starts,
                                               args.resample_starts, args.level, 0)
            width = np.concatenate([p["hi"] - p["lo"] for p in per_fit]) / (bt.hi - bt.lo)
            owidth = np.concatenate([p["obs_hi"] - p["obs_lo"] for p in per_fit]) / (bt.obs_hi - bt.obs_lo)
            y = np.concatenate([p["y"] for p in per_fit])
            cov = np.mean((np.concatenate([p["obs_lo"] for p in per_fit]) <= y)
                          & (y <= np.concatenate([p["obs_hi"] for p in per_fit])))
            run.update({"loop_cold_s": loop_cold, "loop_warm_s": loop_warm,
                        "ratio_cold": loop_cold / cold, "ratio_warm": loop_warm / warm,
                        "band_width_loop_over_one_call_median": float(np.median(width)),
                        "band_width_loop_over_one_call_q10_q90": [float(v) for v in np.quantile(width, [0.1, 0.9])],
                        "interval_width_loop_over_one_call_median": float(np.median(owidth)),
                        "loop_coverage": float(cov)})
            print(f"  loop cold {loop_cold:.1f} s ({loop_cold / cold:.2f}x), warm {loop_warm:.1f} s "
                  f"({loop_warm / warm:.2f}x); band width loop/one-call median {np.median(width):.3f}", flush=True)
        runs.append(run)
        head = (f"### {name}: {law}, {loss}, along {bt.along}\n\n{data.n_points} points; {len(bt.fits)} cutoffs at "
                f"50/60/70/80% of the points ({', '.join(f'{f.cutoff:.3g}' for f in bt.fits)}); "
                f"{len(bt.y)} held-out points; starts {starts} per fit, {args.n} resamples x "
                f"{args.resample_starts} starts per cutoff: {bt.n_lanes} lanes in {bt.n_engine_calls} engine call.\n")
        blocks.append(head + "\nBy extrapolation distance (decades beyond the cutoff), all cutoffs pooled:\n\n"
                      + bt.table(("bin",)) + "\n\nBy cutoff:\n\n" + bt.table(("cutoff",)))
        print(blocks[-1], flush=True)

    machine = suites.machine()
    timing = ["| dataset | lanes | one call cold s | one call warm s | loop cold s | loop warm s | loop/one call cold "
              "| loop/one call warm | band width loop/one call (median) | loop coverage |", "|" + "---|" * 10]
    for r in runs:
        if "loop_cold_s" in r:
            timing.append(f"| {r['dataset']} | {r['n_lanes']} | {r['one_call_cold_s']:.1f} | {r['one_call_warm_s']:.1f} | "
                          f"{r['loop_cold_s']:.1f} | {r['loop_warm_s']:.1f} | {r['ratio_cold']:.2f} | "
                          f"{r['ratio_warm']:.2f} | {r['band_width_loop_over_one_call_median']:.3f} | "
                          f"{r['loop_coverage']:.3f} |")
    text = ("# Backtests\n\n"
            f"`python benchmarks/backtest.py` on {machine['device']} ({machine['cpu_count']} CPUs), "
            f"{machine['date']}; jax {machine['jax']}. Nominal level {args.level:.0%}: coverage is the share of "
            "held-out points inside the prediction interval of a new observation; 'in band' the share inside the "
            "band of the mean (not meant to cover observations). Points of one cutoff share its fit's errors: "
            "coverages are not independent trials.\n\n"
            "## Time: one batched call vs a Python loop of jl.fit + jl.bootstrap per cutoff\n\n"
            + "\n".join(timing) + "\n\n"
            "Cold: the first run in a fresh process cache (compiling); the loop compiles per cutoff, each train "
            "split having its own size. Band width ratio: the loop's resamples start from the cutoff's fit, the "
            "one call's from sampled starts only.\n\n## Error and coverage\n\n" + "\n\n".join(blocks) + "\n")
    results = os.path.join(suites.HERE, "results")
    with open(os.path.join(results, "backtest.md"), "w") as fh:
        fh.write(text)
    suites.write_result("backtest", {"runs": runs, "level": args.level, "machine": machine})


if __name__ == "__main__":
    main()
