"""The Chinchilla grid fit and Epoch AI's bootstrap, timed warm for two checkouts of jaxlaws in one sitting.

Usage: python benchmarks/revisions.py OTHER_CHECKOUT [--rounds 3]
       (e.g. ``git worktree add /tmp/jl-old <commit>`` first)

Each round runs this checkout and the other, alternately, each in a fresh process with one jax
device per core, and takes that process's median of 5 warm grid fits and 5 warm bootstraps
(4,000 resamples); the summary is the median over rounds for each checkout and their ratio, and the same for the
least over rounds (the figure least disturbed by whatever else the machine runs).
Writes benchmarks/results/revisions_<device>.json.
"""

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CHILD = r"""
import json, time, warnings
import numpy as np
from jaxlaws.devices import use_cpu_cores
use_cpu_cores()
import jaxlaws as jl
warnings.simplefilter("ignore")
data = jl.datasets.load("chinchilla_epoch")
def timed(fn, k=5):
    fn()
    ts = []
    for _ in range(k):
        t = time.perf_counter(); out = fn(); ts.append(time.perf_counter() - t)
    return out, float(np.median(ts))
res, grid_s = timed(lambda: jl.fit("chinchilla", data, loss="huber-log:1e-3", starts="grid"))
boot, boot_s = timed(lambda: jl.bootstrap("chinchilla", data, n=4000, loss="huber-log:1e-3", seed=0, fit=res,
                                          progress=False))
print(json.dumps({"jaxlaws": jl.__file__, "grid_warm_s": grid_s, "bootstrap_warm_s": boot_s,
                  "objective": res.objective, "n_converged": res.n_converged,
                  "se_alpha": boot.se["alpha"], "se_beta": boot.se["beta"], "device": jl.engine.device_name()}))
"""


def run(checkout):
    env = dict(os.environ, PYTHONPATH=os.path.abspath(checkout))
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True, env=env, cwd=checkout)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("other", help="another checkout of jaxlaws (its root folder)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    sys.path.insert(0, HERE)
    import suites  # noqa: E402  (after the arguments: --help starts no jax)
    from jaxlaws import bench

    this = os.path.dirname(HERE)
    rows = {"this": [], "other": []}
    for r in range(args.rounds):
        for name, path in (("this", this), ("other", args.other)):
            rows[name].append(run(path))
            print(f"round {r}: {name:5s} grid {rows[name][-1]['grid_warm_s']:.3f} s  bootstrap "
                  f"{rows[name][-1]['bootstrap_warm_s']:.3f} s", flush=True)

    def med(name, key):
        return float(sorted(x[key] for x in rows[name])[len(rows[name]) // 2])

    def low(name, key):  # the least a process took: what the code costs, with the machine's noise least
        return float(min(x[key] for x in rows[name]))

    summary = {k: {"this": med("this", k), "other": med("other", k), "this_over_other": med("this", k) / med("other", k),
                   "this_min": low("this", k), "other_min": low("other", k),
                   "this_over_other_min": low("this", k) / low("other", k)}
               for k in ("grid_warm_s", "bootstrap_warm_s")}
    print(json.dumps(summary, indent=2))
    suites.write_result("revisions", {"other": os.path.abspath(args.other), "rounds": rows, "summary": summary,
                                      "machine": bench.machine()})


if __name__ == "__main__":
    main()
