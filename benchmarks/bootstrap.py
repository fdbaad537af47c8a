"""Epoch AI's bootstrap (4,000 pairs resamples) on chinchilla_epoch: jaxlaws vs the scipy BFGS loop, one run.

Usage: python benchmarks/bootstrap.py [--n 4000] [--scipy-resamples N]   (default: all)
Writes benchmarks/results/bootstrap_<device>.json.
"""

import argparse
import tempfile

from jaxlaws.devices import use_compilation_cache, use_cpu_cores


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--scipy-resamples", type=int, default=None)
    args = ap.parse_args()
    use_cpu_cores()  # before jax starts: one device per core
    use_compilation_cache(tempfile.mkdtemp(prefix="jaxlaws-xla-"))  # fresh: the first run compiles
    import suites

    suites.write_result("bootstrap", suites.bootstrap(n=args.n, n_scipy=args.scipy_resamples))


if __name__ == "__main__":
    main()
