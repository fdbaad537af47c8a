"""The scipy baselines on the Chinchilla objective (what practitioners run today, weakest to strongest).

* ``lbfgsb_fd``              L-BFGS-B, gradient by finite differences (common practice);
* ``lbfgsb_exact``           L-BFGS-B with the exact, hand-derived numpy gradient
                             (:func:`jaxlaws.bench.lbfgsb_exact`, the strong baseline);
* ``lbfgsb_exact_unbounded`` the same without bounds, as in Epoch AI's own fit;
* ``trf_huber``              ``least_squares(method="trf", loss="huber")`` with the exact Jacobian
                             (the same summed Huber objective, ``f_scale = delta``);
* ``lbfgsb_exact_pool2``     the exact-gradient loop split over a 2-process pool (both cores).

Each is ``starts [k, 5] (internal coordinates) -> objectives [k]`` (:func:`make`), the form
:func:`jaxlaws.bench.grid` times.
"""

from __future__ import annotations

import multiprocessing
import os
from typing import Any

import numpy as np

from jaxlaws import bench

NAMES = ("lbfgsb_exact", "lbfgsb_exact_unbounded", "lbfgsb_fd", "trf_huber", "lbfgsb_exact_pool2")


def jacobian(c: bench.Chinchilla, t: np.ndarray) -> np.ndarray:
    """``[n, 5]`` derivatives of ``c.residual`` at ``t``: the softmax weights of the LSE terms."""
    sm = c.parts(t)[1]
    return np.stack([sm[2], sm[0], sm[1], -sm[0] * c.lN, -sm[1] * c.lD], axis=1)


def lbfgsb_fd(c: bench.Chinchilla, starts: np.ndarray, bounds: Any) -> np.ndarray:
    minimize = bench._scipy().optimize.minimize
    return np.array([minimize(c.value, s, method="L-BFGS-B", bounds=bounds).fun for s in starts])


def trf_huber(c: bench.Chinchilla, starts: np.ndarray, bounds: Any) -> np.ndarray:
    least_squares = bench._scipy().optimize.least_squares
    lo, hi = (np.array(b) for b in zip(*bounds))
    return np.array([c.value(least_squares(c.residual, np.clip(s, lo, hi), jac=lambda t: jacobian(c, t), method="trf",
                                           loss="huber", f_scale=c.delta, bounds=(lo, hi)).x) for s in starts])


# ---- the 2-process pool: each worker builds its own objective once ----
_WORKER: dict[str, Any] = {}
_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _pool_init(data: Any, bounds: Any) -> None:
    _WORKER["c"], _WORKER["bounds"] = bench.Chinchilla(data), bounds


def _pool_one(s: np.ndarray) -> float:
    return float(bench.lbfgsb_exact(_WORKER["c"], s[None], _WORKER["bounds"])[0])


def lbfgsb_exact_pool2(data: Any, starts: np.ndarray, bounds: Any) -> np.ndarray:
    """:func:`jaxlaws.bench.lbfgsb_exact` over a 2-process pool (the pool's start-up included)."""
    # spawn, not fork (a fork of a process whose jax runtime holds threads misbehaves), and one
    # BLAS thread per worker: scipy's L-BFGS-B calls BLAS, and two workers each spinning two
    # BLAS threads on two cores measured 15x slower than the serial loop.
    ctx = multiprocessing.get_context("spawn")
    saved = {k: os.environ.get(k) for k in _THREAD_VARS}
    os.environ.update({k: "1" for k in _THREAD_VARS})
    try:
        with ctx.Pool(2, initializer=_pool_init, initargs=(data, bounds)) as pool:
            return np.array(pool.map(_pool_one, list(starts), chunksize=max(1, len(starts) // 64)))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def make(name: str, data: Any, bounds: Any) -> bench.Baseline:
    """The baseline ``name`` (one of :data:`NAMES`) on the Chinchilla objective of ``data``."""
    c = bench.Chinchilla(data)
    return {
        "lbfgsb_exact": lambda s: bench.lbfgsb_exact(c, s, bounds),
        "lbfgsb_exact_unbounded": lambda s: bench.lbfgsb_exact(c, s, None),
        "lbfgsb_fd": lambda s: lbfgsb_fd(c, s, bounds),
        "trf_huber": lambda s: trf_huber(c, s, bounds),
        "lbfgsb_exact_pool2": lambda s: lbfgsb_exact_pool2(data, s, bounds),
    }[name]
