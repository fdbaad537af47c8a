"""Kaplan et al. (2020), "Scaling Laws for Neural Language Models".

``kaplan_n``: L(N) = (N_c / N)^alpha_N, the loss of a model of N non-embedding
parameters trained to convergence (their eq. 1.1; N_c ~ 8.8e13, alpha_N ~ 0.076).
"""

from __future__ import annotations

import jax.numpy as jnp

from jaxlaws.law import Law, Param
from jaxlaws.laws import register

kaplan_n = register(
    Law(
        name="kaplan_n",
        fn=lambda p, x: p["alpha_N"] * (jnp.log(p["N_c"]) - jnp.log(x["N"])),
        inputs=("N",),
        params={
            "N_c": Param(1.0, 1e25, scale="log", start=(1e8, 1e18)),
            "alpha_N": Param(0.0, 2.0, start=(0.01, 0.5)),
        },
        predicts_log=True,
        description="L = (N_c/N)^alpha_N",
        reference="Kaplan et al. 2020 (arXiv:2001.08361), eq. 1.1",
    )
)
