"""Chinchilla 4,500-start grid: jaxlaws vs scipy L-BFGS-B (exact gradient), same starts, one run.

Usage: python benchmarks/grid.py [--scipy-starts N]   (default: all 4,500 for the exact-gradient loops)
Writes benchmarks/results/grid_<device>.json.
"""

import tempfile

from jaxlaws.devices import use_compilation_cache, use_cpu_cores
import argparse
import os
from jaxlaws import bench


def main():
    use_cpu_cores()  # before jax starts: one device per core
    use_compilation_cache(tempfile.mkdtemp(prefix="jaxlaws-xla-"))  # fresh: the first run compiles
    ap = argparse.ArgumentParser()
    ap.add_argument("--scipy-starts", type=int, default=None, help="time the exact-gradient loops on this many starts")
    args = ap.parse_args()
    bench.write_result("grid", bench.grid(subset=args.scipy_starts), os.path.join(os.path.dirname(__file__), "results"))


if __name__ == "__main__":
    main()
