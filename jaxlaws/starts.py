"""Start generators: ``[S, P]`` arrays of internal-coordinate starting points.

Every generator is seeded and returns points inside the law's bounds.
Specs accepted by :func:`make`:

* ``"grid"`` — the Cartesian product of each parameter's ``grid`` values
  (Hoffmann et al.'s / Epoch AI's 4,500-point grid for ``chinchilla``);
* an ``int`` S — S Latin-hypercube starts (the default sampler);
* ``("uniform" | "lhs" | "halton", S)`` — S starts from that sampler, drawn
  uniformly in internal coordinates over each parameter's start range;
* ``("around", params, S, spread)`` — S starts jittered around a previous fit;
* an array ``[S, P]`` or a list of name -> value mappings, in natural units.

``P`` counts the law's free parameters (fixed ones are not searched; a mapping may name them
with their fixed value). A law with no free parameter has one, empty, start whatever the spec.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np

from jaxlaws.errors import JaxlawsError
from jaxlaws.law import Law


def _ranges(law: Law) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = zip(*(p.start_range() for p in law.params.values()))
    return law.to_internal(np.array(lo)), law.to_internal(np.array(hi))


def is_grid(spec: Any) -> bool:
    """Whether a starts spec of :func:`make` asks for the law's start grid (``"grid"``)."""
    return isinstance(spec, str) and spec == "grid"


def grid(law: Law) -> np.ndarray:
    """The Cartesian product of every parameter's ``grid`` values."""
    missing = [k for k, p in law.params.items() if p.grid is None]
    if missing:
        raise JaxlawsError(f"law {law.name!r} has no start grid for {missing}; use a number of sampled starts")
    pts = np.array(list(itertools.product(*(p.grid for p in law.params.values()))), dtype=np.float64)
    return law.to_internal(pts)


def uniform(law: Law, n: int, seed: int = 0) -> np.ndarray:
    """``n`` independent uniform draws over the start ranges (internal coordinates)."""
    lo, hi = _ranges(law)
    u = np.random.default_rng(seed).random((n, law.n_params))
    return lo + u * (hi - lo)


def lhs(law: Law, n: int, seed: int = 0) -> np.ndarray:
    """``n`` Latin-hypercube draws: each parameter's range cut into ``n`` strata, one point each."""
    rng = np.random.default_rng(seed)
    lo, hi = _ranges(law)
    u = (rng.permuted(np.tile(np.arange(n), (law.n_params, 1)), axis=1).T + rng.random((n, law.n_params))) / n
    return lo + u * (hi - lo)


_PRIMES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97)


def halton(law: Law, n: int, seed: int = 0) -> np.ndarray:
    """``n`` points of a Halton sequence with a seeded random shift (Cranley-Patterson)."""
    P = law.n_params
    if P > len(_PRIMES):
        raise JaxlawsError(f"halton starts support up to {len(_PRIMES)} parameters, law has {P}")
    u = np.empty((n, P))
    idx = np.arange(1, n + 1)
    for j, base in enumerate(_PRIMES[:P]):
        f, k, v = 1.0, idx.copy(), np.zeros(n)
        while np.any(k > 0):
            f /= base
            v += f * (k % base)
            k //= base
        u[:, j] = v
    u = (u + np.random.default_rng(seed).random(P)) % 1.0
    lo, hi = _ranges(law)
    return lo + u * (hi - lo)


def around(law: Law, params: Any, n: int, spread: float = 0.1, seed: int = 0) -> np.ndarray:
    """``n`` starts: ``params`` itself, then Gaussian jitter of relative size ``spread``
    (in internal coordinates, i.e. multiplicative for log-scale parameters), clipped to bounds."""
    c = law.to_internal(params)
    rng = np.random.default_rng(seed)
    # log and asinh coordinates are already relative (an asinh one beyond its width); linear ones
    # are jittered relative to their magnitude.
    scale = np.where(law.log_mask | law.asinh_mask, spread, spread * np.maximum(np.abs(c), 1e-3))
    pts = c + rng.standard_normal((n, law.n_params)) * scale
    pts[0] = c
    return np.clip(pts, law.lower, law.upper)


_SAMPLERS = {"uniform": uniform, "lhs": lhs, "halton": halton}


def check_seed(seed: Any) -> None:
    """That ``seed`` is what numpy's generators take: a non-negative int (not a bool)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise JaxlawsError(f"seed must be an int >= 0, got {seed!r}")


def make(law: Law, spec: Any = "grid", seed: int = 0) -> np.ndarray:
    """Internal-coordinate starts ``[S, P]`` from a spec (see the module docstring)."""
    if law.n_params == 0:
        return np.zeros((1, 0))
    if isinstance(spec, str):
        if spec == "grid":
            return grid(law)
        if spec.isdigit():
            spec = int(spec)
        else:
            raise JaxlawsError(f"unknown starts {spec!r}: use 'grid', a count, or an array of starts")
    if isinstance(spec, (bool, float, np.floating)):
        raise JaxlawsError(f"starts takes 'grid', an int count or an array of starts, got {spec!r}")
    if isinstance(spec, (int, np.integer)):
        if spec < 1:
            raise JaxlawsError(f"number of starts must be >= 1, got {spec}")
        return lhs(law, int(spec), seed)
    if isinstance(spec, tuple) and spec and isinstance(spec[0], str):
        kind, *rest = spec
        if kind == "around":
            return around(law, *rest, seed=seed)
        if kind not in _SAMPLERS or len(rest) != 1:
            raise JaxlawsError(f"unknown starts {spec!r}: samplers are {sorted(_SAMPLERS)} as (name, count)")
        return _SAMPLERS[kind](law, int(rest[0]), seed)
    if isinstance(spec, Mapping):
        spec = [spec]
    if isinstance(spec, list) and spec and isinstance(spec[0], Mapping):
        spec = np.array([[float(v) for v in law.free_values(s).values()] for s in spec]).reshape(len(spec), law.n_params)
    pts = np.asarray(spec, dtype=np.float64)
    if pts.ndim == 1:
        pts = pts[None]
    if pts.ndim != 2 or pts.shape[1] != law.n_params or pts.shape[0] == 0:
        raise JaxlawsError(f"starts must have shape [S, {law.n_params}], got {pts.shape}")
    nat_lo = np.array([p.lower for p in law.params.values()])
    nat_hi = np.array([p.upper for p in law.params.values()])
    bad = ~((pts >= nat_lo) & (pts <= nat_hi))
    if bad.any():
        i, j = map(int, np.argwhere(bad)[0])
        raise JaxlawsError(
            f"start {i} is outside the bounds: {law.param_names[j]} = {pts[i, j]:g} not in [{nat_lo[j]:g}, {nat_hi[j]:g}]"
        )
    return law.to_internal(pts)
