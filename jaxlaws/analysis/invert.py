"""Invert a law: the input value that gives a target output, e.g. the effective
parameter count implied by an observed loss, or the compute that reaches a target loss.

Solves ``law(params, {x: v, **given}) = target`` for ``v`` in a bracket
``[lo, hi]`` by bisection on log v (the law must be monotone in ``x`` over the
bracket), then polishes with Newton steps using jax's exact derivative.
Vectorised over targets. A target the law cannot reach inside the bracket, such
as a loss at or below the irreducible loss E, is an error unless ``clamp=True``,
in which case the result is the bracket end the law approaches and the point is
flagged in ``clamped`` — never a silent inf or NaN.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlaws.errors import JaxlawsError
from jaxlaws.law import Law


@dataclasses.dataclass(frozen=True)
class Inversion:
    """Input values solving the law for each target.

    Attributes:
      values: ``[k]`` the solved input (natural units).
      clamped: ``[k]`` bool, True where the target was out of reach and the value
        is the bracket end (only with ``clamp=True``).
      target: ``[k]`` the targets.
    """

    values: np.ndarray
    clamped: np.ndarray
    target: np.ndarray


def invert(
    law: Law,
    params: Mapping[str, Any],
    target: Any,
    x: str,
    given: Mapping[str, Any] | None = None,
    bracket: tuple[float, float] = (1.0, 1e30),
    clamp: bool = False,
    iters: int = 200,
) -> Inversion:
    """Solve ``law(params, {x: v, **given}) == target`` for ``v`` (see the module docstring).

    Args:
      law: the law; ``x`` must be one of its inputs, the others given in ``given``
        (scalars, or arrays matching ``target``; ``numpy.inf`` is allowed, e.g. D = inf
        for the infinite-data limit of Chinchilla).
      params: natural parameter mapping.
      target: scalar or ``[k]`` target outputs.
      bracket: positive search interval for ``v``.
      clamp: return the bracket end for unreachable targets (flagged) instead of raising.
    """
    given = dict(given or {})
    if x not in law.inputs:
        raise JaxlawsError(f"law {law.name!r} has no input {x!r}; its inputs are {list(law.inputs)}")
    missing = [k for k in law.inputs if k != x and k not in given]
    if missing:
        raise JaxlawsError(f"inverting law {law.name!r} for {x!r} needs values for {missing} in given=")
    lo, hi = map(float, bracket)
    if not (0 < lo < hi and np.isfinite(hi)):
        raise JaxlawsError(f"bracket must satisfy 0 < lo < hi < inf, got {bracket}")
    t = np.atleast_1d(np.asarray(target, np.float64))
    if t.ndim != 1 or not np.all(np.isfinite(t)):
        raise JaxlawsError("targets must be finite numbers")

    with jax.enable_x64(True):
        p = {k: jnp.asarray(params[k], jnp.float64) for k in law.params}
        G = {k: jnp.broadcast_to(jnp.asarray(v, jnp.float64), t.shape) for k, v in given.items() if k in law.inputs}

        def f(u: Any, g: Mapping[str, Any]) -> Any:
            inputs = {k: v[None] for k, v in g.items()}
            inputs[x] = jnp.exp(u)[None]
            return jnp.reshape(law.predict(p, inputs), ())

        def one(tt: Any, g: Mapping[str, Any]) -> tuple[Any, Any]:
            a, b = jnp.log(lo), jnp.log(hi)
            fa, fb = f(a, g) - tt, f(b, g) - tt
            inside = fa * fb <= 0
            increasing = fb > fa

            def body(_: int, ab: Any) -> Any:
                a, b = ab
                m = 0.5 * (a + b)
                fm = f(m, g) - tt
                go_right = (fm < 0) == increasing
                return jnp.where(go_right, m, a), jnp.where(go_right, b, m)

            a2, b2 = jax.lax.fori_loop(0, iters, body, (a, b))
            u = 0.5 * (a2 + b2)
            df = jax.grad(lambda v: f(v, g))
            for _ in range(3):
                d = df(u)
                step = (f(u, g) - tt) / d
                u = jnp.where(jnp.isfinite(step) & (d != 0), jnp.clip(u - step, a2 - 1e-3, b2 + 1e-3), u)
            # Unreachable: the end whose value is nearer the target is what the law approaches.
            end = jnp.where(jnp.abs(fa) < jnp.abs(fb), a, b)
            return jnp.exp(jnp.where(inside, u, end)), ~inside

        vals, out = jax.vmap(one)(jnp.asarray(t), G)
        vals, out = np.asarray(vals), np.asarray(out)
    if out.any() and not clamp:
        i = int(np.argmax(out))
        raise JaxlawsError(
            f"target {t[i]:g} is out of reach of law {law.name!r} for {x} in [{lo:g}, {hi:g}] "
            "(at or below its irreducible limit?); pass clamp=True to get the bracket end, flagged"
        )
    return Inversion(values=vals, clamped=out, target=t)
