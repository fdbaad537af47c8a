"""Chinchilla 4,500-start grid: jaxlaws vs scipy L-BFGS-B (exact gradient), same starts, one run.

Usage: python benchmarks/grid.py [--scipy-starts N]   (default: all 4,500)
Writes benchmarks/results/grid_<device>.json.
"""

from jaxlaws.devices import use_cpu_cores

use_cpu_cores()  # before jax starts: one device per core

import argparse
import json
import os

from jaxlaws import bench

ap = argparse.ArgumentParser()
ap.add_argument("--scipy-starts", type=int, default=None)
args = ap.parse_args()
out = bench.grid(n_scipy=args.scipy_starts)
dev = out["machine"]["device"].split(":")[0]
path = os.path.join(os.path.dirname(__file__), "results", f"grid_{dev}.json")
with open(path, "w") as f:
    json.dump(out, f, indent=2, default=float)
print("written", path)
