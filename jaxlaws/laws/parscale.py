"""Parallel scaling: Chen et al. (2025), "Parallel Scaling Law for Language
Models" (arXiv:2505.10475):

    L(N, P) = (A / (N (k ln P + 1)))^alpha + E

the loss of a model with N parameters run as P parallel streams (learnable
input prefixes, outputs aggregated). P streams act like multiplying the
parameters by k ln P + 1 (k > 0: the gain grows logarithmically in P); at
P = 1 it is the usual (A / N)^alpha + E. The power term is evaluated as
exp(alpha (log A - log N - log1p(k ln P))), which stays finite over the whole
bounds box for N in 1e6..1e13 and P in 1..1e3.
"""

from __future__ import annotations

import jax.numpy as jnp

from jaxlaws.law import Law, Param
from jaxlaws.laws import register


def _parscale(p, x):
    gain = jnp.log1p(p["k"] * jnp.log(x["P"]))  # log(k ln P + 1), 0 at P = 1
    return jnp.exp(p["alpha"] * (jnp.log(p["A"]) - jnp.log(x["N"]) - gain)) + p["E"]


parscale = register(
    Law(
        name="parscale",
        fn=_parscale,
        inputs=("N", "P"),
        params={
            # A is the parameter count at which the power term equals 1 (nat): the fits to the bundled
            # Stack and Pile losses give ~1.1e7 and ~1.5e8; the box leaves decades on both sides.
            "A": Param(1.0, 1e16, scale="log", start=(1e4, 1e12)),
            "k": Param(0.0, 10.0, start=(0.0, 2.0)),
            "alpha": Param(0.0, 3.0, start=(0.02, 1.0)),
            "E": Param(0.0, 20.0, start=(0.0, 3.0)),
        },
        description="L = (A / (N (k ln P + 1)))^alpha + E",
        reference="Chen et al. 2025 (arXiv:2505.10475)",
    )
)
