"""Markdown table and PNG plot from benchmarks/results/*.json.

Usage: python benchmarks/report.py   (writes results/summary.md and results/summary.png)
"""

import argparse
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
RES = os.path.join(HERE, "results")


def load(name):
    path = os.path.join(RES, name)
    return json.load(open(path)) if os.path.exists(path) else None


def main():
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    lines = []
    g = load("grid_cpu.json")
    if g:
        m = g["machine"]
        j = g["jaxlaws"]
        lines += [f"## Chinchilla grid ({g['n_starts']} starts, 240 points, huber-log:1e-3)", "",
                  f"Machine: {m['processor']}, {m['cpu_count']} cores, {m['platform']}; jax {m['jax']}, "
                  f"optax {m['optax']}, numpy {m['numpy']}, scipy {m['scipy']}; jaxlaws on `{m['device']}`; {m['date']}.", "",
                  "| method | seconds (full grid) | ms/start | best objective | starts reaching best basin | jaxlaws speed-up (warm) |",
                  "|---|---|---|---|---|---|",
                  f"| jaxlaws lm, warm | {j['warm_s']:.2f} | {1e3 * j['warm_s'] / g['n_starts']:.3f} | {j['objective']:.10e} | "
                  f"{j['frac_best_basin']:.0%} | 1 |",
                  f"| jaxlaws lm, cold (compiling) | {j['cold_s']:.2f} | | | | |",
                  f"| jaxlaws lm, cold (disk cache) | {j.get('cold_cached_s', float('nan')):.2f} | | | | |"]
        for k, v in g["scipy"].items():
            ex = " (scaled from %d starts)" % v["starts_run"] if v["extrapolated"] else ""
            lines.append(f"| scipy {k}{ex} | {v['seconds_full']:.2f} | {v['ms_per_start']:.2f} | {v['best_objective']:.10e} | "
                         f"{v['frac_best_basin']:.0%} | {v['ratio_warm']:.1f}x |")
        lines.append("")
        if "warm_runs_s" in j:
            lines += [f"jaxlaws warm is the median of {len(j['warm_runs_s'])} runs: "
                      + ", ".join(f"{t:.3f}" for t in j["warm_runs_s"]) + " s.", ""]
        if "n_best" in j:
            counts = ", ".join(f"{v} {k}" for k, v in j["status_counts"].items())
            lines += [f"jaxlaws lanes: {j['n_best']} converged lanes reach the best objective; by status: {counts}.", ""]
        o = j.get("engine_overhead")
        if o:
            lines += [f"Engine overhead: the whole solve ({o['wall_s']:.3f} s) over lane-steps × one batched "
                      f"residual+Jacobian pass ({o['lane_steps_float32']} float32 steps × {o['rj_pass_us_per_lane_float32']:.2f} µs"
                      f" + {o['lane_steps_float64']} float64 steps × {o['rj_pass_us_per_lane_float64']:.2f} µs per lane, "
                      f"batches of {o['batch_lanes']} lanes) = **{o['overhead']:.2f}×**.", ""]
    b = load("bootstrap_cpu.json")
    if b:
        s = b["scipy_bfgs_exact_grad"]
        lines += ["## Bootstrap (Epoch AI's protocol: 4,000 pairs resamples, one BFGS start each)", "",
                  "| method | seconds | SE(alpha) | 95% CI alpha | speed-up |", "|---|---|---|---|---|",
                  f"| jaxlaws warm | {b['jaxlaws']['warm_s']:.2f} | {b['jaxlaws']['se']['alpha']:.4f} | "
                  f"{b['jaxlaws']['ci95']['alpha'][0]:.4f}–{b['jaxlaws']['ci95']['alpha'][1]:.4f} | {b['ratio_warm']:.1f}x |",
                  f"| jaxlaws cold | {b['jaxlaws']['cold_s']:.2f} | | | {b['ratio_cold']:.1f}x |",
                  f"| scipy BFGS loop{' (scaled from %d)' % s['resamples_run'] if s['extrapolated'] else ''} | "
                  f"{s['seconds_all']:.2f} | {s['se']['alpha']:.4f} | {s['ci95']['alpha'][0]:.4f}–{s['ci95']['alpha'][1]:.4f} | 1 |", ""]
    sw = load("sweep_cpu.json")
    if sw:
        lines += ["## Synthetic sweep (Chinchilla law, warm)", "",
                  ("scipy runs (at most) the first 20 starts and its time is scaled to all; the best objective of "
                   "each is over those same starts."), "",
                  ("| points | lanes | jaxlaws s | scipy s | ratio | lane-steps/s | best objective, jaxlaws | "
                   "best objective, scipy |"),
                  "|---|---|---|---|---|---|---|---|"]
        for r in sw["rows"]:
            ex = " (scaled)" if r.get("scipy_extrapolated") else ""
            obj = (f"{r['objective']:.6e} | {r['scipy_objective']:.6e}" if "objective" in r else " | ")
            lines.append(f"| {r['points']} | {r['lanes']} | {r['warm_s']:.3f} | {r['scipy_s']:.3g}{ex} | {r['ratio']:.1f}x | "
                         f"{r['lane_steps_per_s']:.3g} | {obj} |")
        if sw.get("skipped"):
            cells = ", ".join(f"{c['lanes']} lanes × {c['points']} points" for c in sw["skipped"])
            lines.append(f"\nNot run (lanes × points above {sw['max_work']:.0e}): {cells}.")
        lines.append("")
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            fig, ax = plt.subplots(figsize=(6, 4))
            for n in sorted({r["points"] for r in sw["rows"]}):
                rows = [r for r in sw["rows"] if r["points"] == n]
                ax.loglog([r["lanes"] for r in rows], [r["warm_s"] for r in rows], "o-", label=f"jaxlaws, {n} points")
                ax.loglog([r["lanes"] for r in rows], [r["scipy_s"] for r in rows], "x--", label=f"scipy, {n} points")
            ax.set_xlabel("lanes (starts x resamples)")
            ax.set_ylabel("seconds (warm)")
            ax.legend(fontsize=7)
            fig.tight_layout()
            fig.savefig(os.path.join(RES, "summary.png"), dpi=120)
        except ImportError:
            pass
    mem = load("memory_cpu.json")
    if mem:
        lines += ["## Memory (each lane count in a fresh process, Chinchilla, 240 points)", "",
                  "| lanes | peak RSS, MB | RSS before the fit, MB | per-lane result arrays, MB | fit s |",
                  "|---|---|---|---|---|"]
        for r in mem["rows"]:
            lines.append(f"| {r['lanes']} | {r['peak_rss_mb']:.1f} | {r['rss_before_fit_mb']:.1f} | "
                         f"{r['host_lane_arrays_mb']:.1f} | {r['fit_s']:.2f} |")
        lines.append("")
    with open(os.path.join(RES, "summary.md"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
