"""Peak memory as lanes grow: each lane count fitted in its own fresh process (Chinchilla, 240 points).

Usage: python benchmarks/memory.py [--lanes 0 1000 10000 100000]
Writes benchmarks/results/memory_<device>.json.
"""

import argparse

from jaxlaws.devices import use_cpu_cores


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lanes", type=int, nargs="+", default=[0, 1000, 10000, 100000])
    args = ap.parse_args()
    use_cpu_cores()
    import suites

    suites.write_result("memory", suites.memory(tuple(args.lanes)))


if __name__ == "__main__":
    main()
