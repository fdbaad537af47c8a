"""Kaplan et al. (2020), "Scaling Laws for Neural Language Models".

``kaplan_n``: L(N) = (N_c / N)^alpha_N, the loss of a model of N non-embedding
parameters trained to convergence (their eq. 1.1; N_c ~ 8.8e13, alpha_N ~ 0.076).

``kaplan_d``: L(D) = (D_c / D)^alpha_D, the loss of a large model trained with
early stopping on D tokens (eq. 1.2; D_c ~ 5.4e13, alpha_D ~ 0.095).

``kaplan_nd``: L(N, D) = [(N_c / N)^(alpha_N / alpha_D) + D_c / D]^alpha_D, model
size and data together (eq. 1.5; N_c ~ 6.4e13, D_c ~ 1.8e13, alpha_N ~ 0.076,
alpha_D ~ 0.103), evaluated as
log L = alpha_D * LSE((alpha_N / alpha_D)(log N_c - log N), log D_c - log D).
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

kaplan_d = register(
    Law(
        name="kaplan_d",
        fn=lambda p, x: p["alpha_D"] * (jnp.log(p["D_c"]) - jnp.log(x["D"])),
        inputs=("D",),
        params={
            "D_c": Param(1.0, 1e25, scale="log", start=(1e8, 1e18)),
            "alpha_D": Param(0.0, 2.0, start=(0.01, 0.5)),
        },
        predicts_log=True,
        description="L = (D_c/D)^alpha_D",
        reference="Kaplan et al. 2020 (arXiv:2001.08361), eq. 1.2",
    )
)


def _log_kaplan_nd(p, x):
    # alpha_D >= 1e-3 (its lower bound) keeps the ratio finite; logaddexp is the
    # stable log of a sum of two exponentials.
    n_term = (p["alpha_N"] / p["alpha_D"]) * (jnp.log(p["N_c"]) - jnp.log(x["N"]))
    d_term = jnp.log(p["D_c"]) - jnp.log(x["D"])
    return p["alpha_D"] * jnp.logaddexp(n_term, d_term)


kaplan_nd = register(
    Law(
        name="kaplan_nd",
        fn=_log_kaplan_nd,
        inputs=("N", "D"),
        params={
            "N_c": Param(1.0, 1e25, scale="log", start=(1e8, 1e18)),
            "D_c": Param(1.0, 1e25, scale="log", start=(1e8, 1e18)),
            "alpha_N": Param(0.0, 2.0, start=(0.01, 0.5)),
            "alpha_D": Param(1e-3, 2.0, start=(0.01, 0.5)),
        },
        predicts_log=True,
        description="L = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D",
        reference="Kaplan et al. 2020 (arXiv:2001.08361), eq. 1.5",
    )
)
