"""Vocabulary scaling: Tao et al. (2024), "Scaling Laws with Vocabulary: Larger
Models Deserve Larger Vocabularies" (arXiv:2407.13623), in additive power-law
form:

    L = A / N^alpha + B / V^beta + C / D^gamma + E

with N the non-vocabulary parameters, V the vocabulary size and D the training
characters. Tao et al. fit the unigram-normalised loss L_u, which is negative,
so E is a signed, linear parameter and the law predicts y itself
(``predicts_log=False``): use a linear-space loss (``mse``, ``huber``) unless
every prediction stays positive. (Tao et al.'s
vocabulary term is in N_v = V d, the vocabulary parameters; this form takes V
itself, which is the same law when the embedding width d is fixed, with
d^-beta folded into B.)
"""

from __future__ import annotations

import jax.numpy as jnp

from jaxlaws.law import Law, Param
from jaxlaws.laws import register


def _vocab(p, x):
    return (jnp.exp(jnp.log(p["A"]) - p["alpha"] * jnp.log(x["N"]))
            + jnp.exp(jnp.log(p["B"]) - p["beta"] * jnp.log(x["V"]))
            + jnp.exp(jnp.log(p["C"]) - p["gamma"] * jnp.log(x["D"]))
            + p["E"])


vocab = register(
    Law(
        name="vocab",
        fn=_vocab,
        inputs=("N", "V", "D"),
        params={
            "A": Param(1e-6, 1e12, scale="log", start=(1e-1, 1e6)),
            "B": Param(1e-6, 1e12, scale="log", start=(1e-1, 1e6)),
            "C": Param(1e-6, 1e12, scale="log", start=(1e-1, 1e6)),
            "E": Param(-20.0, 20.0, start=(-6.0, 4.0)),
            "alpha": Param(0.0, 2.0, start=(0.05, 1.0)),
            "beta": Param(0.0, 2.0, start=(0.05, 1.0)),
            "gamma": Param(0.0, 2.0, start=(0.05, 1.0)),
        },
        description="L = A/N^alpha + B/V^beta + C/D^gamma + E",
        reference="Tao et al. 2024 (arXiv:2407.13623)",
    )
)
