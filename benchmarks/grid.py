"""Chinchilla 4,500-start grid: jaxlaws vs the scipy baselines (baselines.py), same starts, one run.

Usage: python benchmarks/grid.py [--scipy-starts N]   (default: all 4,500 for the exact-gradient loops)
Writes benchmarks/results/grid_<device>.json.
"""

import argparse
import tempfile

from jaxlaws.devices import use_compilation_cache, use_cpu_cores


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scipy-starts", type=int, default=None, help="time the exact-gradient loops on this many starts")
    args = ap.parse_args()
    use_cpu_cores()  # before jax starts: one device per core
    use_compilation_cache(tempfile.mkdtemp(prefix="jaxlaws-xla-"))  # fresh: the first run compiles
    import suites

    suites.write_result("grid", suites.grid(subset=args.scipy_starts))


if __name__ == "__main__":
    main()
