"""The Chinchilla grid fit, warm, in a plain Python process against the ``jaxlaws fit`` command.

Usage: python benchmarks/cli_vs_python.py [--rounds 5]

A plain ``python -c`` process that imports jaxlaws should run as fast as the command: both get
one device per core and the persistent compilation cache from ``import jaxlaws``
(:mod:`jaxlaws.devices`). Each round runs, alternately and each in a fresh process:

* ``python``: ``jl.fit("chinchilla", "chinchilla_epoch", loss="huber-log:1e-3", starts="grid")``
  twice; the second fit is the warm one (its wall time and its ``timing["run_s"]``);
* ``cli``: ``jaxlaws fit --data chinchilla_epoch --law chinchilla --loss huber-log:1e-3 --starts
  grid --json OUT``; the fit's own timing from the JSON: ``run_s``, and ``fit_s - compile_s``
  (the wall time of the fit less its compile, here the load from the disk cache);
* ``python_no_defaults``: the python process with ``JAXLAWS_DEFAULTS=0`` (one device, no disk
  cache: what a plain process got before the defaults).

The command's fit is the first of its process, so "warm" there still carries first-run costs a
second fit does not (the diagnostics' small programs, the runtime's first dispatches); the
like-for-like figure is ``first_fit_s``, the first fit of each process less its compile
(loaded from the disk cache, which an unrecorded first process fills).

Every process starts with none of the user's JAX_*/XLA_*/JAXLAWS_* variables and a temporary
``XDG_CACHE_HOME``, so the defaults apply and nothing lands in the user's cache. The summary is
the least over rounds (the figure least disturbed by whatever else the machine runs) and the
median, and the ratios python / cli; the target is python within 15% of the command.
Writes benchmarks/results/cli_vs_python_<device>.json.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TARGET = 1.15  # python warm / cli warm

PYTHON = r"""
import json, time, warnings
import jaxlaws as jl
warnings.simplefilter("ignore")
def fit():
    t = time.perf_counter()
    res = jl.fit("chinchilla", "chinchilla_epoch", loss="huber-log:1e-3", starts="grid")
    return res, time.perf_counter() - t
first, first_s = fit()
warm, warm_s = fit()
print(json.dumps({"warm_s": warm_s, "warm_run_s": warm.timing["run_s"], "warm_compile_s": warm.timing["compile_s"],
                  "first_s": first_s, "first_compile_s": first.timing["compile_s"], "objective": warm.objective,
                  "n_converged": warm.n_converged, "n_starts": warm.n_starts, "device": warm.device,
                  "settings": {k: v.to_dict() for k, v in jl.devices.settings().items()}}))
"""
CLI = ["-m", "jaxlaws", "fit", "--data", "chinchilla_epoch", "--law", "chinchilla", "--loss", "huber-log:1e-3",
       "--starts", "grid"]


def _env(cache_home, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_", "XLA_", "JAXLAWS_"))}
    env.update(PYTHONPATH=ROOT, XDG_CACHE_HOME=cache_home, **extra)
    return env


def run_python(cache_home, **extra):
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", PYTHON], env=_env(cache_home, **extra), capture_output=True,
                         text=True, check=True, cwd=ROOT)
    row = json.loads(out.stdout.strip().splitlines()[-1])
    row["process_s"] = time.perf_counter() - t
    row["first_fit_s"] = row["first_s"] - row["first_compile_s"]
    return row


def run_cli(cache_home, scratch):
    path = os.path.join(scratch, "fit.json")
    t = time.perf_counter()
    subprocess.run([sys.executable, *CLI, "--json", path], env=_env(cache_home), capture_output=True, text=True,
                   check=True, cwd=ROOT)
    process_s = time.perf_counter() - t
    with open(path) as f:
        rep = json.load(f)
    tm = rep["timing"]
    fit_s = tm["fit_s"] - tm["compile_s"]  # the fit less its compile (a load from the disk cache)
    return {"warm_s": fit_s, "warm_run_s": tm["run_s"], "first_fit_s": fit_s, "fit_s": tm["fit_s"],
            "compile_s": tm["compile_s"], "wall_s": tm["wall_s"], "process_s": process_s,
            "objective": rep["objective"], "n_converged": rep["n_converged"], "n_starts": rep["n_starts"],
            "device": rep["device"], "settings": rep["devices"]["settings"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    sys.path.insert(0, HERE)
    import suites  # noqa: E402  (after the arguments: --help starts no jax)
    from jaxlaws import bench

    arms = ("python", "cli", "python_no_defaults")
    rows = {k: [] for k in arms}
    with tempfile.TemporaryDirectory(prefix="jaxlaws-bench-") as scratch:
        cache_home = os.path.join(scratch, "cache")
        run_python(cache_home)  # fills the disk cache; not recorded
        for r in range(args.rounds):
            for arm, run in (("python", lambda: run_python(cache_home)), ("cli", lambda: run_cli(cache_home, scratch)),
                             ("python_no_defaults", lambda: run_python(cache_home, JAXLAWS_DEFAULTS="0"))):
                load = os.getloadavg()[0]  # what else the machine was running, as the process started
                rows[arm].append({**run(), "load_1min": load})
            print(f"round {r}: " + "  ".join(f"{k} warm {rows[k][-1]['warm_s']:.3f} s "
                                             f"(run {rows[k][-1]['warm_run_s']:.3f})" for k in arms), flush=True)

    def stat(arm, key, fn):
        return float(fn(sorted(x[key] for x in rows[arm])))

    def low(v):
        return v[0]

    def med(v):
        return v[len(v) // 2]

    keys = ("warm_s", "warm_run_s", "first_fit_s")
    summary = {arm: {f"{key}_{name}": stat(arm, key, fn) for key in keys
                     for name, fn in (("min", low), ("median", med))} for arm in arms}
    ratios = {f"{key}_{name}": summary["python"][f"{key}_{name}"] / summary["cli"][f"{key}_{name}"]
              for key in keys for name in ("min", "median")}
    before = {f"{key}_min": summary["python_no_defaults"][f"{key}_min"] / summary["python"][f"{key}_min"]
              for key in keys}
    out = {"rounds": rows, "summary": summary, "python_over_cli": ratios, "no_defaults_over_python": before,
           "target": TARGET, "within_target": ratios["warm_s_min"] <= TARGET,
           "command": "jaxlaws " + " ".join(CLI[2:]), "machine": bench.machine()}
    print(json.dumps({"summary": summary, "python_over_cli": ratios, "no_defaults_over_python": before}, indent=2))
    suites.write_result("cli_vs_python", out)


if __name__ == "__main__":
    main()
