"""Regenerate the figures in docs/gallery/ (every function of jaxlaws.plot on bundled data).

Usage: python benchmarks/gallery.py [--out docs/gallery]

Runs in under a minute on a 2-core CPU: Epoch AI's 4,500-start grid fit of the Chinchilla
law to chinchilla_epoch, a 200-resample pairs bootstrap of it, per-group fits of the rectified
fine-tuning law to the sft data's train split, and the benchmark chart from benchmarks/results.
"""

import argparse
import os
import time

import numpy as np
from PIL import Image

import jaxlaws as jl
from jaxlaws import plot

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "gallery"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    t0 = time.perf_counter()

    def out(name: str) -> str:
        p = os.path.join(args.out, name)
        print(f"{time.perf_counter() - t0:6.1f} s  {os.path.relpath(p, ROOT)}")
        return p

    data = jl.datasets.load("chinchilla_epoch")
    res = jl.fit("chinchilla", data, loss="huber-log:1e-3", starts="grid", seed=0)
    boot = jl.bootstrap("chinchilla", data, n=200, loss="huber-log:1e-3", seed=0, fit=res, progress=False)

    plot.data_and_fit(res, path=out("chinchilla_data_and_fit.png"))
    plot.data_and_fit(res, against="D", path=out("chinchilla_data_and_fit_vs_D.png"))
    plot.residuals(res, path=out("chinchilla_residuals.png"))
    plot.bootstrap_pairs(boot, path=out("chinchilla_bootstrap_pairs.png"))
    plot.frontier(boot, np.geomspace(1e18, 1e26, 81), level=0.9, path=out("chinchilla_frontier.png"))
    plot.extrapolation(boot, along="N", given={"D": 1.4e12}, extend=100.0, level=0.9,
                       path=out("chinchilla_extrapolation_N.png"))

    sft = jl.datasets.load("sft")
    gf = jl.fit_groups("sft_rectified", sft.split("train"), loss="mse", starts=64, seed=0)
    plot.groups(gf, sft, max_panels=12, path=out("sft_groups.png"))

    plot.benchmark(os.path.join(HERE, "results"), path=out("benchmark.png"))

    # 256-colour palette PNGs: a third of the size, no visible change for these flat-colour figures.
    for name in sorted(os.listdir(args.out)):
        if name.endswith(".png"):
            p = os.path.join(args.out, name)
            with Image.open(p) as im:
                q = im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
            q.save(p, optimize=True)
            print(f"{os.path.getsize(p) / 1024:7.0f} KB  {name}")
    print(f"done in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
