"""Data-constrained scaling: Muennighoff et al. (2023), "Scaling Data-Constrained
Language Models" (arXiv:2305.16264).

Repeated tokens and excess parameters are worth less than fresh ones; the law
replaces N and D in Chinchilla's L = E + A/N'^alpha + B/D'^beta by

    D' = U_D + U_D R*_D (1 - exp(-R_D / R*_D)),   R_D = D/U_D - 1,
    N' = U_N + U_N R*_N (1 - exp(-R_N / R*_N)),   R_N = max(N/U_N - 1, 0),
    U_N = min(N, 0.051 U_D),

with D the total training tokens, U_D = U the unique tokens, and 0.051 U_D the
compute-optimal parameter count for U_D tokens (Chinchilla's ~20 tokens per
parameter). R*_D, R*_N are decay constants: the R-th repetition of the data
(or of the excess parameters) is worth exp(-R/R*) of a fresh one (published
fit: 15.4 and 5.3, with Chinchilla's A = 406.4, B = 410.7, E = 1.69,
alpha = 0.34, beta = 0.28). U_D = min(U, D) here, which changes nothing when D >= U (the
paper's domain, as U counts unique tokens actually seen) and keeps D' = D for
D < U. min/max act on the inputs only, so the law is smooth in the parameters.

Evaluated like ``chinchilla``: log L = LSE(log A - alpha log N',
log B - beta log D', log E), ``predicts_log=True``.
"""

from __future__ import annotations

import jax.numpy as jnp

from jaxlaws.law import Law, Param
from jaxlaws.laws import register
from jaxlaws.laws.chinchilla import _PARAMS as _CHINCHILLA, _lse3


def _effective(U, R, R_star):
    # U + U R* (1 - exp(-R/R*)); -expm1 keeps 1 - exp(-t) accurate for small t.
    return U * (1.0 + R_star * -jnp.expm1(-R / R_star))


def _log_data_constrained(p, x):
    N, D = x["N"], x["D"]
    U_D = jnp.minimum(x["U"], D)
    D_eff = _effective(U_D, D / U_D - 1.0, p["R_D_star"])
    U_N = jnp.minimum(N, 0.051 * U_D)
    N_eff = _effective(U_N, jnp.maximum(N / U_N - 1.0, 0.0), p["R_N_star"])
    return _lse3(
        jnp.log(p["A"]) - p["alpha"] * jnp.log(N_eff),
        jnp.log(p["B"]) - p["beta"] * jnp.log(D_eff),
        jnp.log(p["E"]) + jnp.zeros_like(N),
    )


_strip = lambda p: Param(p.lower, p.upper, scale=p.scale, start=p.start)  # noqa: E731  (no grid: R* have none)

data_constrained = register(
    Law(
        name="data_constrained",
        fn=_log_data_constrained,
        inputs=("N", "D", "U"),
        params={
            "A": _strip(_CHINCHILLA["A"]),
            "B": _strip(_CHINCHILLA["B"]),
            "E": _strip(_CHINCHILLA["E"]),
            "alpha": _strip(_CHINCHILLA["alpha"]),
            "beta": _strip(_CHINCHILLA["beta"]),
            "R_D_star": Param(1e-2, 1e4, scale="log", start=(1.0, 100.0)),
            "R_N_star": Param(1e-2, 1e4, scale="log", start=(1.0, 100.0)),
        },
        predicts_log=True,
        description="L = E + A/N'^alpha + B/D'^beta, D' = U_D (1 + R*_D (1 - exp(-R_D/R*_D))), N' likewise",
        reference="Muennighoff et al. 2023 (arXiv:2305.16264)",
    )
)
