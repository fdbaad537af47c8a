"""Racing starts against running every lane, law by law: is racing safe beyond the Chinchilla grid?

For each catalog law on a bundled dataset it fits (pooled data, no groups; the loss the catalog
benchmark scores it with, Epoch's ``huber-log:1e-3`` for the Chinchilla laws on
``chinchilla_epoch``), from many starts (the law's grid where it has one, else ``--starts``
sampled ones), side by side in one process on the same lanes:

* the full-data fit, ``strategy="all"`` against ``strategy="race"`` (the default
  :class:`jaxlaws.engine.Race`): warm seconds (median of ``--repeats``), the best objective;
* ``jl.bootstrap`` with the same starts on every pairs resample (plus the full-data best, as
  bootstrap adds it), ``precision="mixed"`` as a job of this size runs: per resample, whether
  racing reaches the same best objective (``<= 1e-9`` relative above every lane's, or below),
  and the time ratio. Resamples run in blocks of ``--block`` (one engine call each).

A resample on which racing's best is worse is a resample on which racing would have returned
a different answer: the fraction reaching the same best is what decides where racing can be
the default.

Usage: python benchmarks/racing_catalog.py [--quick] [--resamples 100] [--block 50] [--starts 1024]
       [--only law:dataset,...] [--tag _4096]
``--quick``: two problems, 4 resamples, nothing written.
Writes benchmarks/results/racing_catalog<tag>_<device>.json and .md (not with --quick).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SAME = 1e-9  # as benchmarks/racing.py: racing's best may exceed every lane's by this much, relative

# (law, dataset, loss): every pooled pair the catalog benchmark scores, plus Epoch's Chinchilla fit.
PROBLEMS = [
    ("chinchilla", "chinchilla_epoch", "huber-log:1e-3"),
    ("chinchilla_linear", "chinchilla_epoch", "huber-log:1e-3"),
    ("chinchilla", "data_constrained", "mse"),
    ("kaplan_nd", "data_constrained", "mse"),
    ("data_constrained", "data_constrained", "mse"),
    ("sft_rectified", "data_constrained", "mse"),
    ("moe_clark", "moe", "mse"),
    ("moe_6p", "moe", "mse"),
    ("vocab", "vocab", "mse"),
    ("chinchilla", "vocab", "mse"),
    ("lr_bsz", "lr_bsz", "mse"),
]


def starts_for(law, n_sampled: int):
    return "grid" if all(p.grid is not None for p in law.params.values()) else n_sampled


def one(law_name: str, data_name: str, loss: str, n_sampled: int, n: int, block: int, repeats: int) -> dict:
    import jaxlaws as jl

    law, data = jl.laws.get(law_name), jl.datasets.load(data_name)
    starts = starts_for(law, n_sampled)
    race = jl.engine.Race()
    fits, times = {}, {}
    for name, strat in (("all", "all"), ("race", race)):
        jl.fit(law, data, loss=loss, starts=starts, strategy=strat, throw=False)  # compile
    for name, strat in (("all", "all"), ("race", race)):
        ts = []
        for _ in range(repeats):
            t = time.perf_counter()
            fits[name] = jl.fit(law, data, loss=loss, starts=starts, strategy=strat, throw=False)
            ts.append(time.perf_counter() - t)
        times[name] = float(np.median(ts))
    f_all, f_race = fits["all"].objective, fits["race"].objective
    fit = fits["all"]
    boot_s = {"all": 0.0, "race": 0.0}
    obj: dict[str, list[float]] = {"all": [], "race": []}
    conv: dict[str, list[bool]] = {"all": [], "race": []}  # whether each resample's best lane converged
    warm = min(block, n)
    for strat in ("all", race):  # compile both strategies' programs on a block of the same size
        jl.bootstrap(law, data, loss=loss, n=max(warm, 2), starts=starts, fit=fit, seed=10**6, precision="mixed",
                     strategy=strat, progress=False, include_unconverged=True)
    for b0 in range(0, n, block):
        m = min(block, n - b0)
        for name, strat in (("all", "all"), ("race", race)):
            t = time.perf_counter()
            bs = jl.bootstrap(law, data, loss=loss, n=max(m, 2), starts=starts, fit=fit, seed=b0, precision="mixed",
                              strategy=strat, progress=False, include_unconverged=True)
            boot_s[name] += time.perf_counter() - t
            obj[name].extend(bs.objective[:m].tolist())
            conv[name].extend(bs.converged[:m].tolist())
    fa, fr = np.array(obj["all"]), np.array(obj["race"])
    # relative to |every lane's best|; the tiny floor only keeps an exact zero objective comparable
    same = fr <= fa + SAME * np.abs(fa) + 1e-300
    ca, cr = np.array(conv["all"], bool), np.array(conv["race"], bool)
    return {"law": law_name, "dataset": data_name, "loss": loss, "starts": starts, "n_starts": fits["all"].n_starts,
            "fit": {"all_s": times["all"], "race_s": times["race"], "time_ratio": times["all"] / times["race"],
                    "objective_all": f_all, "objective_race": f_race,
                    "same_best": bool(f_race <= f_all + SAME * abs(f_all)),
                    "status_counts_race": fits["race"].status_counts},
            "bootstrap": {"n_resamples": n, "block": block, "frac_same_best": float(same.mean()),
                          "n_different": int((~same).sum()),
                          "worst_rel_excess": float(np.max((fr - fa) / np.maximum(np.abs(fa), 1e-300))),
                          "seconds": boot_s, "time_ratio": boot_s["all"] / boot_s["race"],
                          # a resample whose best did not converge is left out of the intervals by
                          # default (include_unconverged=False): the answers that count are the others
                          "n_best_converged": {"all": int(ca.sum()), "race": int(cr.sum())},
                          "frac_same_best_where_converged": float(same[ca].mean()) if ca.any() else float("nan"),
                          "different": [{"resample": int(i), "all": float(fa[i]), "race": float(fr[i]),
                                         "all_converged": bool(ca[i]), "race_converged": bool(cr[i])}
                                        for i in np.flatnonzero(~same)]}}


def table(rows: list[dict]) -> str:
    out = ["| law | dataset | loss | starts | fit: same best | fit all / race | resamples same best | "
           "resamples whose best converged (all / race) | bootstrap all / race |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        f, b = r["fit"], r["bootstrap"]
        nc = b.get("n_best_converged")
        conv = f"{nc['all']} / {nc['race']}" if nc else "not recorded"
        out.append(f"| {r['law']} | {r['dataset']} | {r['loss']} | {r['starts']} | {'yes' if f['same_best'] else 'NO'} | "
                   f"{f['time_ratio']:.2f}x | {b['frac_same_best']:.1%} of {b['n_resamples']} | {conv} | "
                   f"{b['time_ratio']:.2f}x |")
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--resamples", type=int, default=100)
    ap.add_argument("--block", type=int, default=50)
    ap.add_argument("--starts", type=int, default=1024, help="sampled starts for a law without a grid")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", default=None, help="comma-separated law:dataset pairs to run")
    ap.add_argument("--tag", default="", help="appended to the result files' name (racing_catalog<tag>_<device>)")
    args = ap.parse_args()
    from jaxlaws.devices import use_compilation_cache, use_cpu_cores

    use_cpu_cores()
    use_compilation_cache(tempfile.mkdtemp(prefix="jaxlaws-xla-"))
    import jaxlaws as jl

    problems = PROBLEMS
    if args.only:
        want = set(args.only.split(","))
        problems = [p for p in PROBLEMS if f"{p[0]}:{p[1]}" in want]
    n, block, repeats = (4, 4, 1) if args.quick else (args.resamples, args.block, args.repeats)
    if args.quick:
        problems = [p for p in problems if p[0] in ("kaplan_nd", "moe_clark")][:2]
    print(f"racing {jl.engine.Race()} on {jl.engine.device_name()}", flush=True)
    rows = []
    for law, data, loss in problems:
        r = one(law, data, loss, args.starts, n, block, repeats)
        rows.append(r)
        if not args.quick:
            write(rows, args)  # after each problem: a run cut short keeps what it measured
        f, b = r["fit"], r["bootstrap"]
        print(f"{law} on {data} ({loss}, starts {r['starts']}): fit same best {f['same_best']} "
              f"({f['objective_all']:.10e} vs {f['objective_race']:.10e}), {f['time_ratio']:.2f}x; bootstrap same best "
              f"{b['frac_same_best']:.1%} of {n} (worst excess {b['worst_rel_excess']:.2g}), {b['time_ratio']:.2f}x",
              flush=True)
    print(table(rows))


def write(rows: list[dict], args: argparse.Namespace) -> None:
    import dataclasses

    sys.path.insert(0, HERE)
    import suites

    import jaxlaws as jl
    from jaxlaws.bench import machine

    path = suites.write_result("racing_catalog" + args.tag, {"race": dataclasses.asdict(jl.engine.Race()), "rows": rows,
                                                            "same_rel_tol": SAME, "sampled_starts": args.starts,
                                                            "n_resamples": args.resamples, "machine": machine()})
    with open(path[:-len(".json")] + ".md", "w") as fh:
        fh.write(f"Racing (`{jl.engine.Race()}`) against every lane, same process and lanes "
                 f"(`benchmarks/racing_catalog.py`; bootstrap: pairs resamples, `precision=\"mixed\"`).\n\n"
                 + table(rows))


if __name__ == "__main__":
    main()
