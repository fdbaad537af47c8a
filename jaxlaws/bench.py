"""``jaxlaws bench``: a quick run against scipy on the same objective, from the same starts, in one process.

The Chinchilla 4,500-start grid (``jl.fit`` cold, cold from the persistent cache, warm) against
scipy L-BFGS-B with an exact numpy gradient, and Epoch AI's pairs bootstrap (``jl.bootstrap``)
against a scipy BFGS loop. Ratios are scipy seconds / jaxlaws seconds; a baseline timed on a
subset is scaled to the full set and marked ``extrapolated``. The full suites live in the
repository's ``benchmarks/`` folder and build on this module. Needs scipy (the ``bench`` extra).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

import jaxlaws as jl
from jaxlaws.errors import JaxlawsError

LOSS = "huber-log:1e-3"
Baseline = Callable[[np.ndarray], np.ndarray]  # starts [k, 5] (internal coordinates) -> objectives [k]


def _scipy() -> Any:
    """The ``scipy`` package with ``scipy.optimize`` imported, or a one-line error naming the extra."""
    try:
        import scipy.optimize
    except ImportError:
        raise JaxlawsError("benchmarks need scipy: pip install 'jaxlaws[bench]'") from None
    return scipy


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    import jax
    import optax

    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(), "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(), "python": platform.python_version(), "jax": jax.__version__,
        "optax": optax.__version__, "numpy": np.__version__, "scipy": _scipy().__version__,
        "jaxlaws": jl.__version__, "device": jl.engine.device_name(),
    }


# ---- Chinchilla in numpy (Epoch AI's objective), internal coordinates e, a, b, alpha, beta ----
class Chinchilla:
    """Summed Huber(delta) on log residuals of the LSE form, point weights ``w``; exact derivatives."""

    def __init__(self, data: Any, delta: float = 1e-3, w: Any = None) -> None:
        self.lN, self.lD, self.lL = np.log(data.inputs["N"]), np.log(data.inputs["D"]), np.log(data.y)
        self.delta = delta
        self.w = np.ones_like(self.lL) if w is None else np.asarray(w, np.float64)

    def parts(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Residuals ``[n]`` and the softmax weights ``[3, n]`` of the three LSE terms (their derivatives)."""
        e, a, b, al, be = t
        z = np.stack([a - al * self.lN, b - be * self.lD, np.full_like(self.lN, e)])
        m = z.max(0)
        s = np.exp(z - m)
        tot = s.sum(0)
        return m + np.log(tot) - self.lL, s / tot

    def residual(self, t: np.ndarray) -> np.ndarray:
        return self.parts(t)[0]

    def value(self, t: np.ndarray) -> float:
        r = np.abs(self.residual(t))
        d = self.delta
        return float((self.w * np.where(r <= d, 0.5 * r * r, d * (r - 0.5 * d))).sum())

    def grad(self, t: np.ndarray) -> np.ndarray:
        r, sm = self.parts(t)
        psi = self.w * np.clip(r, -self.delta, self.delta)
        return np.array([(psi * sm[2]).sum(), (psi * sm[0]).sum(), (psi * sm[1]).sum(),
                         -(psi * sm[0] * self.lN).sum(), -(psi * sm[1] * self.lD).sum()])


def lbfgsb_exact(c: Chinchilla, starts: np.ndarray, bounds: Any) -> np.ndarray:
    """scipy L-BFGS-B with the exact gradient from each of ``starts [k, 5]`` (``bounds=None``:
    unbounded, as in Epoch AI's own fit); the objectives reached ``[k]``."""
    minimize = _scipy().optimize.minimize
    return np.array([minimize(c.value, s, jac=c.grad, method="L-BFGS-B", bounds=bounds).fun for s in starts])


def warm_up_scipy() -> None:
    """One small L-BFGS-B fit, so that the first timed scipy run does not pay the import (~0.25 s)."""
    _scipy().optimize.minimize(lambda x: float(np.sum((x - 1.0) ** 2)), np.zeros(2), jac=lambda x: 2.0 * (x - 1.0),
                               method="L-BFGS-B")


def timed(fn: Callable[[], Any], repeats: int = 1) -> tuple[Any, float, list[float]]:
    """``fn()`` run ``repeats`` times: the last result, the median seconds and every run's seconds."""
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t)
    return out, float(np.median(ts)), ts


def grid(baselines: Mapping[str, tuple[int | None, Baseline]] | None = None, seed: int = 0,
         warm_repeats: int = 5) -> dict[str, Any]:
    """The Chinchilla 4,500-start grid on ``chinchilla_epoch``: jaxlaws against scipy baselines.

    ``baselines``: name -> (how many of the grid's starts, drawn at random, to time it on and
    scale to all, None for all; the baseline). Default: exact-gradient L-BFGS-B on 300.
    """
    law, data = jl.laws.get("chinchilla"), jl.datasets.load("chinchilla_epoch")
    theta0 = jl.starts.grid(law)
    S, rng = len(theta0), np.random.default_rng(seed)
    if baselines is None:
        c, bounds = Chinchilla(data), list(zip(law.lower, law.upper))
        baselines = {"lbfgsb_exact": (300, lambda s: lbfgsb_exact(c, s, bounds))}
    warm_up_scipy()
    runs = {}
    for name, (n, run) in baselines.items():
        idx = np.arange(S) if n is None or n >= S else np.sort(rng.choice(S, n, replace=False))
        obj, secs, _ = timed(lambda run=run, idx=idx: np.asarray(run(theta0[idx])))
        runs[name] = (len(idx), secs * S / len(idx), obj)
    # jaxlaws after the scipy baselines: a process pool started after jax's runtime is up was
    # measured 5x slower, which would flatter jaxlaws.
    def fit() -> Any:
        return jl.fit(law, data, loss=LOSS, starts="grid")

    jl.engine.clear_compiled()
    jl.diagnostics.clear_compiled()
    cold, cold_s, _ = timed(fit)
    jl.engine.clear_compiled()  # with the persistent compilation cache on: what a second process pays
    jl.diagnostics.clear_compiled()
    cached, cached_s, _ = timed(fit)
    warm, warm_s, warm_runs = timed(fit, warm_repeats)  # the median: one warm run varies by ~10%
    best = min([warm.objective] + [float(o.min()) for _, _, o in runs.values()])

    def basin(f: np.ndarray) -> float:  # the fraction of starts ending within 1e-6 of the best of all
        return float(np.mean(f <= best * (1 + 1e-6)))

    j = {"cold_s": cold_s, "cold_cached_s": cached_s, "warm_s": warm_s, "warm_runs_s": warm_runs,
         "compile_s": cold.timing["compile_s"], "compile_cached_s": cached.timing["compile_s"],
         "objective": warm.objective, "params": warm.params, "frac_best_basin": basin(warm.all_objective),
         "n_best": warm.n_best, "status_counts": warm.status_counts, "n_converged": warm.n_converged,
         "n_failed": warm.n_failed, "lane_steps": int(warm.steps.sum()),
         "rel_gap_to_best": (warm.objective - best) / best}
    sp = {k: {"starts_run": n, "seconds_full": full, "extrapolated": n < S, "ms_per_start": 1e3 * full / S,
              "best_objective": float(obj.min()), "frac_best_basin": basin(obj), "ratio_warm": full / warm_s,
              "ratio_cold": full / cold_s} for k, (n, full, obj) in runs.items()}
    out = {"problem": f"chinchilla grid ({S} starts), chinchilla_epoch ({data.n_points} points), {LOSS}",
           "n_starts": S, "jaxlaws": j, "scipy": sp, "machine": machine()}
    print(f"{out['problem']} on {out['machine']['device']}")
    print(f"  {'jaxlaws lm':<24s} warm {warm_s:7.2f} s  cold {cold_s:6.2f} s (from disk cache {cached_s:.2f} s)"
          f"  best {j['objective']:.10e}  best-basin {j['frac_best_basin']:.0%}  n_best {j['n_best']}")
    for k, v in sp.items():
        note = f" (timed on {v['starts_run']}, scaled)" if v["extrapolated"] else ""
        print(f"  {k:<24s} {v['seconds_full']:8.2f} s  {v['ms_per_start']:6.2f} ms/start"
              f"  best {v['best_objective']:.10e}  best-basin {v['frac_best_basin']:.0%}  -> jaxlaws {v['ratio_warm']:.1f}x warm, "
              f"{v['ratio_cold']:.1f}x cold{note}")
    return out


def bootstrap(n: int = 4000, n_scipy: int | None = None, seed: int = 0, warm_repeats: int = 5) -> dict[str, Any]:
    """Epoch AI's bootstrap on ``chinchilla_epoch``: ``n`` pairs resamples, each refitted by scipy
    BFGS (exact gradient) from the full-data best fit, against ``jl.bootstrap`` warm (its default
    ``basins`` starts: the best fit plus any competitive basin). ``n_scipy``: time scipy on that
    many resamples and scale (None: all)."""
    minimize = _scipy().optimize.minimize
    data = jl.datasets.load("chinchilla_epoch")
    res = jl.fit("chinchilla", data, loss=LOSS, starts="grid")

    def run() -> Any:
        return jl.bootstrap("chinchilla", data, n=n, loss=LOSS, seed=seed, fit=res, progress=False)

    _, cold_s, _ = timed(run)
    warm, warm_s, warm_runs = timed(run, warm_repeats)
    W = np.random.default_rng(seed).multinomial(data.n_points, np.full(data.n_points, 1.0 / data.n_points), size=n)
    m = n if n_scipy is None else min(n, n_scipy)
    fits = [Chinchilla(data, w=W[i]) for i in range(m)]
    x, scipy_s, _ = timed(lambda: np.array([minimize(c.value, res.theta, jac=c.grad, method="BFGS").x for c in fits]))
    scipy_s *= n / m
    nat, names = np.asarray(res.law.to_natural(x)), list(res.law.params)
    out = {
        "problem": f"chinchilla_epoch pairs bootstrap, {n} resamples, {LOSS}",
        "jaxlaws": {"cold_s": cold_s, "warm_s": warm_s, "warm_runs_s": warm_runs,
                    "starts_per_resample": int(warm.starts.shape[0]), "n_failed": warm.n_failed,
                    "n_unconverged": warm.n_unconverged, "se": warm.se, "ci95": warm.ci(0.95)},
        "scipy_bfgs_exact_grad": {"resamples_run": m, "seconds_all": scipy_s, "extrapolated": m < n,
                                  "se": {k: float(np.std(nat[:, i], ddof=1)) for i, k in enumerate(names)},
                                  "ci95": {k: [float(v) for v in np.quantile(nat[:, i], [0.025, 0.975])]
                                           for i, k in enumerate(names)}},
        "ratio_warm": scipy_s / warm_s, "ratio_cold": scipy_s / cold_s, "machine": machine(),
    }
    note = f" (timed on {m} resamples, scaled)" if m < n else ""
    print(f"bootstrap ({n} pairs resamples, chinchilla_epoch) on {out['machine']['device']}")
    print(f"  jaxlaws warm {warm_s:.2f} s  cold {cold_s:.2f} s  SE(alpha) {warm.se['alpha']:.4f}")
    print(f"  scipy BFGS loop {scipy_s:.2f} s{note}  SE(alpha) {out['scipy_bfgs_exact_grad']['se']['alpha']:.4f}")
    print(f"  speed-up warm {out['ratio_warm']:.1f}x, cold {out['ratio_cold']:.1f}x")
    return out


def quick() -> dict[str, Any]:
    """Under two minutes: the full jaxlaws grid and bootstrap; scipy on 300 starts / resamples, scaled."""
    return {"grid": _jsonable(grid()), "bootstrap": _jsonable(bootstrap(n=4000, n_scipy=300))}


def _jsonable(x: Any) -> Any:
    """``x`` in plain JSON types: numpy arrays and tuples as lists, numpy scalars as numbers."""
    return json.loads(json.dumps(x, default=lambda v: v.tolist()))  # numpy arrays and scalars have tolist
