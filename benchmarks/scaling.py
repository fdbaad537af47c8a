"""Scaling with devices and processes: the Chinchilla grid fit and a one-start bootstrap on 1, 2 and
4 simulated CPU devices in one process, and on 2 processes x 2 devices (jax.distributed), each
configuration in fresh processes. Also checks that every configuration gives the same bits.

Simulated CPU devices share the machine's cores: beyond one device per core they can only cost.
On GPUs (``--platform gpu``), pass ``--devices`` counts that exist.

Usage: python benchmarks/scaling.py [--devices 1 2 4] [--processes 2x2] [--starts grid] [--n 4000]
       python benchmarks/scaling.py --quick      (512 starts, 400 resamples)
Writes benchmarks/results/scaling_<device>.json and .md.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# One process of a configuration: argv[1] out.json, argv[2] starts, argv[3] resamples,
# then optionally coordinator, processes, process id.
CHILD = """
import hashlib, json, sys, time
import numpy as np
import jaxlaws as jl
if len(sys.argv) > 4:
    jl.distributed.initialize(sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
law, data = jl.laws.get("chinchilla"), jl.datasets.load("chinchilla_epoch")
starts = sys.argv[2] if sys.argv[2] == "grid" else int(sys.argv[2])
n = int(sys.argv[3])
out = {}
for label in ("cold", "warm"):
    t = time.perf_counter()
    res = jl.fit(law, data, starts=starts)
    fit_s = time.perf_counter() - t
    t = time.perf_counter()
    boot = jl.bootstrap(law, data, n=n, fit=res, basins=0, progress=False)
    boot_s = time.perf_counter() - t
    out[label] = {"fit_s": fit_s, "bootstrap_s": boot_s, "fit_compile_s": res.timing["compile_s"],
                  "bootstrap_compile_s": boot.timing["compile_s"]}
digest = hashlib.sha256(np.ascontiguousarray(res.all_params).tobytes() + res.status.tobytes()
                        + np.ascontiguousarray(boot.params).tobytes()).hexdigest()
out.update(devices=res.devices, processes=res.processes, lanes_fit=res.n_starts, lanes_bootstrap=boot.lane_status.size,
           fit_lanes_per_s=res.n_starts / out["warm"]["fit_s"],
           bootstrap_lanes_per_s=boot.lane_status.size / out["warm"]["bootstrap_s"], digest=digest,
           objective=res.objective, ci=boot.ci(0.95))
if jl.distributed.is_writer():
    json.dump(out, open(sys.argv[1], "w"))
"""


def _env(devices: int) -> dict:
    env = dict(os.environ)
    env.pop("JAX_NUM_CPU_DEVICES", None)
    flags = [f for f in env.get("XLA_FLAGS", "").split() if "xla_force_host_platform_device_count" not in f]
    env["XLA_FLAGS"] = " ".join(flags + [f"--xla_force_host_platform_device_count={devices}"])
    env["PYTHONPATH"] = os.pathsep.join([ROOT] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


def _port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def run(processes: int, devices: int, starts: str, n: int, platform: str) -> dict:
    """One configuration: ``processes`` fresh processes of ``devices`` devices each."""
    with tempfile.TemporaryDirectory(prefix="jaxlaws-scaling-") as tmp:
        out = os.path.join(tmp, "out.json")
        env = _env(devices)
        env["JAX_PLATFORMS"] = platform
        env["JAXLAWS_CACHE_DIR"] = os.path.join(tmp, "xla")  # a fresh compilation cache: "cold" compiles
        extra = [] if processes == 1 else [f"localhost:{_port()}", str(processes)]
        procs = [subprocess.Popen([sys.executable, "-c", CHILD, out, starts, str(n), *extra,
                                   *([str(i)] if extra else [])], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True) for i in range(processes)]
        for p in procs:
            log, _ = p.communicate()
            if p.returncode != 0:
                raise SystemExit(log[-3000:])
        with open(out) as f:
            return json.load(f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, nargs="+", default=[1, 2, 4], help="devices of one process")
    ap.add_argument("--processes", nargs="*", default=["2x2"], help="PxD: P processes of D devices")
    ap.add_argument("--starts", default="grid")
    ap.add_argument("--n", type=int, default=4000, help="bootstrap resamples (one start each)")
    ap.add_argument("--platform", default="cpu")
    ap.add_argument("--quick", action="store_true", help="512 starts, 400 resamples")
    ap.add_argument("--note", default="", help="recorded with the result (e.g. how busy the machine was)")
    args = ap.parse_args()
    if args.quick:
        args.starts, args.n = "512", 400
    configs = [(1, d) for d in args.devices] + [tuple(int(x) for x in s.split("x")) for s in args.processes]
    sys.path.insert(0, HERE)
    import suites

    rows = []
    for P, D in configs:
        r = run(P, D, args.starts, args.n, args.platform)
        r.update(config=f"{P}x{D}")
        rows.append(r)
        print(f"  {P} process(es) x {D} device(s): fit warm {r['warm']['fit_s']:.2f} s "
              f"({r['fit_lanes_per_s']:.0f} lanes/s), bootstrap warm {r['warm']['bootstrap_s']:.2f} s "
              f"({r['bootstrap_lanes_per_s']:.0f} lanes/s); cold fit {r['cold']['fit_s']:.2f} s", flush=True)
    same = len({r["digest"] for r in rows}) == 1
    print(f"  every configuration bit-identical: {same}")
    result = {"problem": f"chinchilla_epoch, huber-log:1e-3; fit starts {args.starts}; bootstrap {args.n} resamples, "
                         "one start each", "rows": rows, "bit_identical": same, "quick": args.quick,
              "machine": suites.machine(), "note": args.note}
    path = suites.write_result("scaling", result)
    m = result["machine"]
    lines = ["# Scaling with devices and processes", "", f"{result['problem']}; machine {m['device']} "
             f"({m['processor']}, {m['cpu_count']} CPUs), {m['date']}. {result['note']}", "",
             "| processes x devices | fit warm s | fit lanes/s | bootstrap warm s | bootstrap lanes/s | fit cold s |",
             "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['config']} | {r['warm']['fit_s']:.2f} | {r['fit_lanes_per_s']:.0f} | {r['warm']['bootstrap_s']:.2f}"
              f" | {r['bootstrap_lanes_per_s']:.0f} | {r['cold']['fit_s']:.2f} |" for r in rows]
    lines += ["", f"Every configuration gives the same bits (fit lanes and bootstrap replicates): {same}."]
    with open(path[:-len(".json")] + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
