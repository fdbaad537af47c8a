"""Peak memory as lanes grow: each lane count fitted in its own fresh process (Chinchilla, 240 points).

Usage: python benchmarks/memory.py [--lanes 0 1000 10000 100000]
Writes benchmarks/results/memory_<device>.json.
"""

import argparse
import json
import os

from jaxlaws.devices import use_cpu_cores


def main():
    use_cpu_cores()
    from jaxlaws import bench

    ap = argparse.ArgumentParser()
    ap.add_argument("--lanes", type=int, nargs="+", default=[0, 1000, 10000, 100000])
    args = ap.parse_args()
    out = bench._jsonable(bench.memory(tuple(args.lanes)))
    path = os.path.join(os.path.dirname(__file__), "results", f"memory_{out['machine']['device'].split(':')[0]}.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=2)
    print("written", path)


if __name__ == "__main__":
    main()
