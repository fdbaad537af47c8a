"""Broken neural scaling laws (BNSL).

Caballero et al. (2022), "Broken Neural Scaling Laws" (arXiv:2210.14891), eq. 1:

    y = a + b x^-c0 prod_{i=1..n} (1 + (x / d_i)^(1 / f_i))^(-c_i f_i)

a smoothly broken power law with n breaks: before the first break y - a falls
with slope c0 on a log-log plot; past break i (located at x ~ d_i, sharpness
f_i: smaller is sharper) the slope changes by c_i. The product is evaluated in
log space, log(1 + (x/d)^(1/f)) = softplus((log x - log d) / f), so nothing
overflows before the final exp; with one or two breaks, y and its gradients are
finite on the whole bounds box for x in 1..1e12 (each break can add up to ~170
to log y at the box's corners, so many breaks at extreme corners can overflow).

``make(n_breaks)`` builds the law with n breaks (parameters a, b, c0, then
c<i>, d<i>, f<i> for i = 1..n); ``bnsl`` (one break) is registered, the others
are named ``bnsl_<n>`` and left for the caller to use or register.
"""

from __future__ import annotations

import operator

import jax
import jax.numpy as jnp

from jaxlaws.errors import JaxlawsError
from jaxlaws.law import Law, Param
from jaxlaws.laws import register


def _params(n_breaks: int) -> dict[str, Param]:
    params = {
        # The limit as x -> infinity: non-negative, so y > 0 and log-space losses are safe.
        # (Kept well below 709: Law.to_natural's reverse-mode gradient overflows for a
        # linear-scale parameter whose internal value passes log(float64 max).)
        "a": Param(0.0, 100.0, start=(0.0, 5.0)),
        "b": Param(1e-8, 1e12, scale="log", start=(1e-2, 1e6)),
        # Slope before the first break; negative allows a rising first segment.
        "c0": Param(-1.0, 3.0, start=(0.0, 1.0)),
    }
    for i in range(1, n_breaks + 1):
        params[f"c{i}"] = Param(-3.0, 3.0, start=(-1.0, 1.0))
        # Break locations in x's own units: a wide box, starts over 1..1e12
        # (parameters, tokens, steps, images); pass explicit starts for other x.
        params[f"d{i}"] = Param(1e-12, 1e30, scale="log", start=(1.0, 1e12))
        params[f"f{i}"] = Param(1e-2, 20.0, scale="log", start=(0.05, 5.0))
    return params


def _fn(n_breaks: int):
    def bnsl(p, x):
        lx = jnp.log(x["x"])
        s = jnp.log(p["b"]) - p["c0"] * lx
        for i in range(1, n_breaks + 1):
            c, d, f = p[f"c{i}"], p[f"d{i}"], p[f"f{i}"]
            s = s - c * f * jax.nn.softplus((lx - jnp.log(d)) / f)
        return p["a"] + jnp.exp(s)

    return bnsl


_MADE: dict[int, Law] = {}


def make(n_breaks: int = 1) -> Law:
    """The BNSL with ``n_breaks`` breaks; the same Law object for the same n, so
    compiled engine programs are reused."""
    try:
        n = operator.index(n_breaks)
    except TypeError:
        n = -1
    if isinstance(n_breaks, bool) or n < 0:
        raise JaxlawsError(f"n_breaks must be a non-negative integer, got {n_breaks!r}")
    if n not in _MADE:
        _MADE[n] = _build(n)
    return _MADE[n]


def _build(n_breaks: int) -> Law:
    return Law(
        name="bnsl" if n_breaks == 1 else f"bnsl_{n_breaks}",
        fn=_fn(n_breaks),
        inputs=("x",),
        params=_params(n_breaks),
        description=f"y = a + b x^-c0 prod_(i=1..{n_breaks}) (1 + (x/d_i)^(1/f_i))^(-c_i f_i)",
        reference="Caballero et al. 2022 (arXiv:2210.14891), eq. 1",
    )


bnsl = register(make(1))
