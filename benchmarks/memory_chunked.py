"""Peak memory of a chunked bootstrap as lanes grow (Chinchilla, 240 points, one start per resample,
resumable run directory): each lane count in its own fresh process.

A chunked run holds one chunk's rows and lanes at a time plus every resample's result
([n, P] parameters twice, [n] objective and flags, [n, S] lane objective and int8 status), so
its peak should grow only by those, about 100 bytes per resample here.

Usage: python benchmarks/memory_chunked.py [--lanes 10000 100000 1000000] [--chunk-resamples C]
       python benchmarks/memory_chunked.py --quick        (10^4 and 10^5 lanes)
Writes benchmarks/results/memory_chunked_<device>.json and .md.
"""

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# A fresh process: argv[1] resamples, argv[2] resamples per chunk (0: the default), argv[3] run dir.
CHILD = """
import resource, sys, time
from jaxlaws.devices import use_cpu_cores
use_cpu_cores()
import jaxlaws as jl
law, data = jl.laws.get("chinchilla"), jl.datasets.load("chinchilla_epoch")
n, c, run_dir = int(sys.argv[1]), int(sys.argv[2]) or None, sys.argv[3]
fit = jl.fit(law, data, starts=64)
c = c or jl.runs.default_chunk(n, 1, 240)
jl.bootstrap(law, data, n=c, fit=fit, basins=0, resamples_per_chunk=c, progress=False)  # compile, one chunk
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
boot = jl.bootstrap(law, data, n=n, fit=fit, basins=0, run_dir=run_dir, resamples_per_chunk=c, progress=False)
secs = time.perf_counter() - t
print(before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, secs, c, boot.n_used, boot.lane_status.size)
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lanes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--chunk-resamples", type=int, default=0, help="0: jaxlaws.runs.default_chunk")
    ap.add_argument("--quick", action="store_true", help="10^4 and 10^5 lanes only")
    ap.add_argument("--note", default="", help="recorded with the result (e.g. how busy the machine was)")
    args = ap.parse_args()
    lanes = [10_000, 100_000] if args.quick else args.lanes
    import tempfile

    from jaxlaws.devices import use_cpu_cores

    use_cpu_cores()
    sys.path.insert(0, HERE)
    import suites

    rows = []
    for L in lanes:
        with tempfile.TemporaryDirectory(prefix="jaxlaws-mem-") as tmp:
            out = subprocess.run([sys.executable, "-c", CHILD, str(L), str(args.chunk_resamples),
                                  os.path.join(tmp, "run")], capture_output=True, text=True, check=True)
        before, peak, secs, c, used, n_lanes = out.stdout.split()[-6:]
        rows.append({"lanes": int(n_lanes), "resamples_per_chunk": int(c), "peak_rss_mb": int(peak) / 1024,
                     "rss_after_one_chunk_mb": int(before) / 1024, "run_s": float(secs),
                     "lanes_per_s": int(n_lanes) / float(secs), "n_used": int(used),
                     "result_arrays_mb": L * (8 * (2 * 5 + 1 + 1) + 2 + 1) / 2 ** 20})
        r = rows[-1]
        print(f"  lanes {L:>8d} (chunks of {r['resamples_per_chunk']}): peak RSS {r['peak_rss_mb']:7.1f} MB "
              f"(after one chunk {r['rss_after_one_chunk_mb']:.1f} MB; results {r['result_arrays_mb']:.1f} MB)  "
              f"{r['run_s']:.1f} s, {r['lanes_per_s']:.0f} lanes/s", flush=True)
    base = rows[0]["peak_rss_mb"]
    for r in rows:
        r["peak_vs_first"] = r["peak_rss_mb"] / base
    result = {"problem": "chinchilla_epoch pairs bootstrap, one start per resample, chunked, run directory",
              "rows": rows, "quick": args.quick, "machine": suites.machine(),
              "note": args.note}
    path = suites.write_result("memory_chunked", result)
    lines = ["# Peak RSS of a chunked bootstrap vs lanes", "", f"machine: {result['machine']['device']}, "
             f"{result['machine']['processor']}, {result['machine']['date']}", "",
             "| lanes | resamples/chunk | peak RSS MB | x first | result arrays MB | s | lanes/s |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['lanes']} | {r['resamples_per_chunk']} | {r['peak_rss_mb']:.1f} | {r['peak_vs_first']:.2f} | "
              f"{r['result_arrays_mb']:.1f} | {r['run_s']:.1f} | {r['lanes_per_s']:.0f} |" for r in rows]
    top = max(rows, key=lambda r: r["lanes"])
    lines += ["", f"The largest run ({top['lanes']:,} lanes) peaks at {top['peak_vs_first']:.2f}x the first "
              f"({rows[0]['lanes']:,} lanes); the issue's bound is 1.5x."]
    with open(path[:-len(".json")] + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print(json.dumps({r["lanes"]: round(r["peak_vs_first"], 3) for r in rows}))


if __name__ == "__main__":
    main()
