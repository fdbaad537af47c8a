"""Synthetic sweep: jaxlaws vs the exact-gradient scipy loop as lanes and points grow.

Usage: python benchmarks/sweep.py [--lanes 1 10 ... 100000] [--points 100 ... 100000]   (cells over 1e8 lanes x points skipped)
Writes benchmarks/results/sweep_<device>.json.
"""

import argparse
import tempfile

from jaxlaws.devices import use_compilation_cache, use_cpu_cores


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lanes", type=int, nargs="+", default=[1, 10, 100, 1000, 10000, 100000])
    ap.add_argument("--points", type=int, nargs="+", default=[100, 1000, 10000, 100000])
    args = ap.parse_args()
    use_cpu_cores()
    use_compilation_cache(tempfile.mkdtemp(prefix="jaxlaws-xla-"))
    import suites

    suites.write_result("sweep", suites.sweep(tuple(args.lanes), tuple(args.points)))


if __name__ == "__main__":
    main()
