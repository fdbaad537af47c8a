"""Epoch AI's bootstrap (4,000 pairs resamples) on chinchilla_epoch: jaxlaws vs the scipy BFGS loop, one run.

Usage: python benchmarks/bootstrap.py [--n 4000] [--scipy-resamples N]   (default: all)
Writes benchmarks/results/bootstrap_<device>.json.
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
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--scipy-resamples", type=int, default=None)
    args = ap.parse_args()
    bench.write_result("bootstrap", bench.bootstrap(n=args.n, n_scipy=args.scipy_resamples),
                       os.path.join(os.path.dirname(__file__), "results"))


if __name__ == "__main__":
    main()
