"""Polynomials in one input, for curves that are not monotone in scale.

Wu & Lo (2025), "U-shaped and Inverted-U Scaling behind Emergent Abilities of
Large Language Models" (ICLR 2025, arXiv:2410.01692), fit the (negated)
Target-Conditioned Brier score of each question-difficulty group with an
ordinary least-squares polynomial in log compute, degree 5 for the easy
questions (their ``fit_cluster.py``):

    y = c0 + c1 u + c2 u^2 + ... + cn u^n,   u = (x - center) / scale

with x = ``log_flops`` = log10(C / 1e21), C the training FLOPs (SLDBench's and
the bundled ``easy_question`` dataset's input). The coefficients are signed,
linear parameters; y is predicted itself (``predicts_log=False``), so use a
linear-space loss (``mse``, ``huber``). The model is linear in the
coefficients: least squares has one optimum, which LM reaches from any start.

Conditioning. The registered ``poly5`` evaluates at u = x (center 0, scale 1):
the fixed reference of 1e21 FLOPs already sits inside the data (x runs from
-0.9 to 2.9, about 1.3e20 to 7.7e23 FLOPs), and the degree-5 design matrix of
every ``easy_question`` group's train rows has condition number <= 3.2e2.
Written in log10 C itself (x ~ 20..24) the same matrix has condition number
~1e14 (~1e9 after scaling its columns), and the coefficients cancel to many
digits. For other inputs, ``make(n, center=..., scale=...)`` takes a fixed
centre and width (constants of the law, never statistics of the data being
fitted). The polynomial is evaluated by Horner's rule.
"""

from __future__ import annotations

import math
import operator

import jax.numpy as jnp

from jaxlaws.errors import JaxlawsError
from jaxlaws.law import Law, Param
from jaxlaws.laws import register

# Signed coefficients: the bounds are a wide box (|c_k u^k| <= 1e3 at |u| = 1) so that least
# squares is never clipped on data with |u| ~ 1 and targets of order 1; starts are drawn from
# (-1, 1), the size of the easy_question fits (|c_k| <= 0.55 there).
_COEF = Param(-1e3, 1e3, start=(-1.0, 1.0))


def _fn(degree: int, center: float, scale: float):
    plain = (center, scale) == (0.0, 1.0)

    def poly(p, x):
        u = x["log_flops"] if plain else (x["log_flops"] - center) / scale
        if degree == 0:
            return jnp.broadcast_to(p["c0"], u.shape)
        y = p[f"c{degree}"]
        for k in range(degree - 1, -1, -1):
            y = y * u + p[f"c{k}"]
        return y

    return poly


_MADE: dict[tuple[int, float, float], Law] = {}


def make(degree: int = 5, *, center: float = 0.0, scale: float = 1.0) -> Law:
    """The polynomial of ``degree`` in u = (log_flops - center) / scale; parameters
    c0 .. c<degree>. The same Law object for the same arguments, so compiled engine
    programs are reused. Named ``poly<degree>`` (plus the centre and scale when they
    are not 0 and 1); only ``poly5`` is registered."""
    try:
        n = operator.index(degree)
    except TypeError:
        n = -1
    if isinstance(degree, bool) or n < 0:
        raise JaxlawsError(f"degree must be a non-negative integer, got {degree!r}")
    c, s = float(center), float(scale)
    if not (math.isfinite(c) and math.isfinite(s) and s > 0):
        raise JaxlawsError(f"center must be finite and scale finite and positive, got center={center!r}, scale={scale!r}")
    key = (n, c, s)
    if key not in _MADE:
        _MADE[key] = _build(*key)
    return _MADE[key]


def _build(degree: int, center: float, scale: float) -> Law:
    plain = (center, scale) == (0.0, 1.0)
    u = "log_flops" if plain else f"(log_flops - {center:g})/{scale:g}"
    terms = " + ".join(["c0"] + [f"c{k} u" + (f"^{k}" if k > 1 else "") for k in range(1, degree + 1)])
    return Law(
        name=f"poly{degree}" if plain else f"poly{degree}_c{center:g}_s{scale:g}",
        fn=_fn(degree, center, scale),
        inputs=("log_flops",),
        params={f"c{k}": _COEF for k in range(degree + 1)},
        description=f"y = {terms}, u = {u}",
        reference="Wu & Lo 2025 (arXiv:2410.01692), degree-5 fit in log compute",
    )


poly5 = register(make(5))
