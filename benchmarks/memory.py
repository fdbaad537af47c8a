"""Peak memory as lanes grow: each lane count fitted in its own fresh process (Chinchilla, 240 points).

Usage: python benchmarks/memory.py [--lanes 0 1000 10000 100000]
Writes benchmarks/results/memory_<device>.json.
"""

import argparse
import os

from jaxlaws.devices import use_cpu_cores


def main():
    use_cpu_cores()
    from jaxlaws import bench

    ap = argparse.ArgumentParser()
    ap.add_argument("--lanes", type=int, nargs="+", default=[0, 1000, 10000, 100000])
    args = ap.parse_args()
    bench.write_result("memory", bench.memory(tuple(args.lanes)), os.path.join(os.path.dirname(__file__), "results"))


if __name__ == "__main__":
    main()
