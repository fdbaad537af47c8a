"""Mixture-of-experts laws in the dense parameter count N and the expert count E.

``moe_clark``: Clark et al. (2022), "Unified Scaling Laws for Routed Language
Models" (arXiv:2202.01169), eq. 1 with their saturating transform of E (as
in the authors' released fitting code, github.com/google-deepmind/scaling_laws_for_routing):

    log L = a log N + b log Ehat + c log N log Ehat + d,
    1/Ehat = 1 / (E - 1 + (1/E_start - 1/E_max)^-1) + 1/E_max.

Ehat runs from E_start at E = 1 (a dense model) to E_max as E -> infinity, and is
about E + E_start - 1 in between. The bounds keep E_start <= 16 < 32 <= E_max,
so 1/E_start - 1/E_max > 0 and the law is finite and smooth on the whole box.
The paper writes log10; here logs are natural, which leaves a and b unchanged
and scales c by 1/ln 10 and d by ln 10.

``moe_6p``: L = p0 (N/1e8)^p1 E^p2 + p3 E^p4 + p5, a six-parameter form found
by an evolutionary search over fits to Clark et al.'s data; bounds and the
centre of the start box are those of its scipy L-BFGS-B fit (the upper bound
of p5 there is max(y); here it is a fixed 10, data-independent).
"""

from __future__ import annotations

import jax.numpy as jnp

from jaxlaws.law import Law, Param
from jaxlaws.laws import register


def _log_e_hat(E, E_start, E_max):
    inv_max = 1.0 / E_max
    shift = 1.0 / (1.0 / E_start - inv_max)  # > 0 on the bounds box (E_start < E_max)
    return -jnp.log(1.0 / (E - 1.0 + shift) + inv_max)


def _log_moe_clark(p, x):
    ln_n = jnp.log(x["N"])
    ln_e = _log_e_hat(x["E"], p["E_start"], p["E_max"])
    return p["a"] * ln_n + p["b"] * ln_e + p["c"] * ln_n * ln_e + p["d"]


moe_clark = register(
    Law(
        name="moe_clark",
        fn=_log_moe_clark,
        inputs=("N", "E"),
        params={
            "a": Param(-1.0, 1.0, start=(-0.2, 0.0)),
            "b": Param(-2.0, 2.0, start=(-0.5, 0.5)),
            "c": Param(-0.2, 0.2, start=(-0.02, 0.02)),
            "d": Param(-20.0, 20.0, start=(0.0, 5.0)),
            "E_start": Param(1.0, 16.0, scale="log", start=(1.0, 4.0)),
            "E_max": Param(32.0, 1e6, scale="log", start=(32.0, 4096.0)),
        },
        predicts_log=True,
        description=("log L = a log N + b log Ehat + c log N log Ehat + d, "
                     "1/Ehat = 1/(E - 1 + (1/E_start - 1/E_max)^-1) + 1/E_max"),
        reference="Clark et al. 2022 (arXiv:2202.01169), eq. 1; saturating transform as in the authors' released code",
    )
)


def _moe_6p(p, x):
    ln_n = jnp.log(x["N"] / 1e8)
    ln_e = jnp.log(x["E"])
    return (p["p0"] * jnp.exp(p["p1"] * ln_n + p["p2"] * ln_e)
            + p["p3"] * jnp.exp(p["p4"] * ln_e) + p["p5"])


moe_6p = register(
    Law(
        name="moe_6p",
        fn=_moe_6p,
        inputs=("N", "E"),
        params={
            "p0": Param(1e-3, 20.0, scale="log", start=(0.2, 20.0)),
            "p1": Param(-1.0, -0.01, start=(-0.29, -0.01)),
            "p2": Param(-1.0, 1.0, start=(-0.55, 0.45)),
            "p3": Param(0.0, 10.0, start=(0.0, 1.0)),
            "p4": Param(-1.0, 1.0, start=(-0.55, 0.45)),
            "p5": Param(0.0, 10.0, start=(0.0, 3.6)),
        },
        description="L = p0 (N/1e8)^p1 E^p2 + p3 E^p4 + p5",
        reference="SLDBench MoE task (Lin et al. 2025, arXiv:2507.21184) on Clark et al. 2022's data",
    )
)
