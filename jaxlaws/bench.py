"""Side-by-side timing against scipy on the same objective, from the same starts, in one run.

The baseline is what practitioners run today: ``scipy.optimize.minimize`` with
L-BFGS-B in a Python loop over starts, given an exact (hand-derived numpy)
gradient, which is the strong baseline; finite differences are slower still.
Needs scipy (the ``bench`` or ``test`` extra).
"""

from __future__ import annotations

import datetime
import os
import platform
import time
from typing import Any

import numpy as np

import jaxlaws as jl


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    import jax
    import optax
    import scipy

    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jaxlib": jax.lib.__version__ if hasattr(jax.lib, "__version__") else jax.__version__,
        "optax": optax.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "jaxlaws": jl.__version__,
        "device": jl.engine.device_name(),
    }


def chinchilla_numpy(data: Any, delta: float = 1e-3, w: Any = None) -> tuple[Any, Any]:
    """Epoch AI's objective in numpy and its exact gradient, in internal coordinates
    (log E, log A, log B, alpha, beta) ordered as the ``chinchilla`` law's parameters,
    optionally weighted per point by ``w`` (bootstrap counts)."""
    from scipy.special import huber

    lN, lD, lL = np.log(data.inputs["N"]), np.log(data.inputs["D"]), np.log(data.y)
    w = np.ones_like(lL) if w is None else np.asarray(w, np.float64)

    def parts(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        e, a, b, al, be = t
        z = np.stack([a - al * lN, b - be * lD, np.full_like(lN, e)])
        m = z.max(0)
        s = np.exp(z - m)
        tot = s.sum(0)
        return m + np.log(tot) - lL, s / tot

    def obj(t: np.ndarray) -> float:
        return float((w * huber(delta, parts(t)[0])).sum())

    def grad(t: np.ndarray) -> np.ndarray:
        r, sm = parts(t)
        psi = w * np.clip(r, -delta, delta)
        return np.array([(psi * sm[2]).sum(), (psi * sm[0]).sum(), (psi * sm[1]).sum(),
                         -(psi * sm[0] * lN).sum(), -(psi * sm[1] * lD).sum()])

    return obj, grad


def scipy_multistart(obj: Any, grad: Any, starts: np.ndarray, bounds: Any = None) -> dict[str, Any]:
    """L-BFGS-B from every start; returns per-start objectives and the wall time."""
    from scipy.optimize import minimize

    t = time.perf_counter()
    vals = np.empty(len(starts))
    xs = np.empty_like(starts)
    for i, s in enumerate(starts):
        r = minimize(obj, s, jac=grad, method="L-BFGS-B", bounds=bounds)
        vals[i], xs[i] = r.fun, r.x
    return {"objective": vals, "x": xs, "seconds": time.perf_counter() - t}


def grid(n_scipy: int | None = None, seed: int = 0, verbose: bool = True) -> dict[str, Any]:
    """Chinchilla 4,500-start grid on ``chinchilla_epoch`` (huber-log:1e-3): jaxlaws vs scipy.

    ``n_scipy``: run scipy on a seeded subset of that many grid starts and scale
    its time to the full grid (None: all 4,500).
    """
    law = jl.laws.get("chinchilla")
    data = jl.datasets.load("chinchilla_epoch")
    theta0 = jl.starts.grid(law)
    t = time.perf_counter()
    cold = jl.fit(law, data, loss="huber-log:1e-3", starts="grid")
    cold_s = time.perf_counter() - t
    t = time.perf_counter()
    warm = jl.fit(law, data, loss="huber-log:1e-3", starts="grid")
    warm_s = time.perf_counter() - t
    obj, grad = chinchilla_numpy(data)
    idx = np.arange(len(theta0))
    if n_scipy is not None and n_scipy < len(theta0):
        idx = np.sort(np.random.default_rng(seed).choice(len(theta0), n_scipy, replace=False))
    sp = scipy_multistart(obj, grad, theta0[idx], bounds=list(zip(law.lower, law.upper)))
    scipy_full_s = sp["seconds"] * len(theta0) / len(idx)
    best = min(warm.objective, float(sp["objective"].min()))
    out = {
        "problem": "chinchilla grid, chinchilla_epoch, huber-log:1e-3",
        "n_starts": len(theta0),
        "jaxlaws": {
            "cold_s": cold_s, "warm_s": warm_s, "compile_s": cold.timing["compile_s"],
            "objective": warm.objective, "params": warm.params,
            "frac_best_basin": float(np.mean(warm.all_objective <= best * (1 + 1e-6))),
            "n_converged": warm.n_converged, "n_failed": warm.n_failed,
        },
        "scipy_lbfgsb_exact_grad": {
            "starts_run": len(idx), "seconds_run": sp["seconds"], "seconds_full_grid": scipy_full_s,
            "extrapolated": len(idx) < len(theta0), "objective": float(sp["objective"].min()),
            "ms_per_start": 1e3 * sp["seconds"] / len(idx),
            "frac_best_basin": float(np.mean(sp["objective"] <= best * (1 + 1e-6))),
        },
        "ratio_warm": scipy_full_s / warm_s,
        "ratio_cold": scipy_full_s / cold_s,
        "machine": machine(),
    }
    if verbose:
        j, s = out["jaxlaws"], out["scipy_lbfgsb_exact_grad"]
        print(f"chinchilla grid ({len(theta0)} starts, 240 points, huber-log:1e-3) on {out['machine']['device']}")
        print(f"  jaxlaws lm     warm {j['warm_s']:.2f} s  cold {j['cold_s']:.2f} s  objective {j['objective']:.10e}")
        note = f" (timed on {s['starts_run']} starts, scaled)" if s["extrapolated"] else ""
        print(f"  scipy L-BFGS-B {scipy_full_s:.2f} s{note}  {s['ms_per_start']:.2f} ms/start  objective {s['objective']:.10e}")
        print(f"  speed-up warm {out['ratio_warm']:.1f}x, cold {out['ratio_cold']:.1f}x")
    return out


def bootstrap(n: int = 4000, n_scipy: int | None = None, seed: int = 0, verbose: bool = True) -> dict[str, Any]:
    """Epoch AI's bootstrap protocol on ``chinchilla_epoch``: ``n`` pairs resamples, each refitted
    by scipy BFGS (exact gradient) from the full-data best fit, against ``jl.bootstrap`` warm
    from the same start (the default ``basins`` start set: the best fit plus any competitive basin).
    ``n_scipy``: time scipy on that many resamples and scale (None: all)."""
    from scipy.optimize import minimize

    data = jl.datasets.load("chinchilla_epoch")
    res = jl.fit("chinchilla", data, loss="huber-log:1e-3", starts="grid")
    t = time.perf_counter()
    cold = jl.bootstrap("chinchilla", data, n=n, loss="huber-log:1e-3", seed=seed, fit=res, progress=False)
    cold_s = time.perf_counter() - t
    t = time.perf_counter()
    warm = jl.bootstrap("chinchilla", data, n=n, loss="huber-log:1e-3", seed=seed, fit=res, progress=False)
    warm_s = time.perf_counter() - t
    rng = np.random.default_rng(seed)
    W = rng.multinomial(data.n_points, np.full(data.n_points, 1.0 / data.n_points), size=n)
    m = n if n_scipy is None else min(n, n_scipy)
    t = time.perf_counter()
    sp = np.empty((m, 5))
    for i in range(m):
        obj, grad = chinchilla_numpy(data, w=W[i])
        sp[i] = minimize(obj, res.theta, jac=grad, method="BFGS").x
    scipy_s = (time.perf_counter() - t) * n / m
    nat = np.asarray(res.law.to_natural(sp))
    names = list(res.law.params)
    out = {
        "problem": f"chinchilla_epoch pairs bootstrap, {n} resamples, huber-log:1e-3",
        "jaxlaws": {"cold_s": cold_s, "warm_s": warm_s, "starts_per_resample": int(warm.starts.shape[0]),
                    "n_failed": warm.n_failed, "n_unconverged": warm.n_unconverged,
                    "se": warm.se, "ci95": warm.ci(0.95)},
        "scipy_bfgs_exact_grad": {"resamples_run": m, "seconds_all": scipy_s, "extrapolated": m < n,
                                  "se": {k: float(np.std(nat[:, i], ddof=1)) for i, k in enumerate(names)},
                                  "ci95": {k: [float(v) for v in np.quantile(nat[:, i], [0.025, 0.975])]
                                           for i, k in enumerate(names)}},
        "ratio_warm": scipy_s / warm_s,
        "ratio_cold": scipy_s / cold_s,
        "machine": machine(),
    }
    if verbose:
        note = f" (timed on {m} resamples, scaled)" if m < n else ""
        print(f"bootstrap ({n} pairs resamples, chinchilla_epoch) on {out['machine']['device']}")
        print(f"  jaxlaws warm {warm_s:.2f} s  cold {cold_s:.2f} s  SE(alpha) {warm.se['alpha']:.4f}")
        print(f"  scipy BFGS loop {scipy_s:.2f} s{note}  SE(alpha) {out['scipy_bfgs_exact_grad']['se']['alpha']:.4f}")
        print(f"  speed-up warm {out['ratio_warm']:.1f}x, cold {out['ratio_cold']:.1f}x")
    return out


def quick() -> dict[str, Any]:
    """A run of under two minutes: the full jaxlaws grid and bootstrap against scipy on subsets, scaled."""
    return {"grid": grid(n_scipy=300), "bootstrap": bootstrap(n=4000, n_scipy=400)}
