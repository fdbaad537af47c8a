"""Data mixing laws: Ye et al. (2024), "Data Mixing Laws: Optimizing Data
Mixtures by Predicting Language Modeling Performance" (arXiv:2403.16952), their
law for several training domains, here M = 5:

    L_i(r) = c_i + k_i exp(sum_j t_ij r_j),   i, j = 1..5,

the validation loss on domain i of a model trained on the mixture with domain
proportions r_1..r_5. A multi-output law: inputs r1..r5, prediction [n, 5].
Parameters c_1..c_5, k_1..k_5, then t_1_1, t_1_2, ..., t_5_5 (row i is output i).

When the proportions sum to 1 (the usual case), k_i and the row t_i. are only
identified up to k_i e^s, t_ij - s: fits agree on c_i and on log k_i + t_ij,
not on k_i or t_ij alone.
"""

from __future__ import annotations

import jax.numpy as jnp

from jaxlaws.law import Law, Param
from jaxlaws.laws import register

M = 5
_R = tuple(f"r{j}" for j in range(1, M + 1))
_T = tuple(tuple(f"t_{i}_{j}" for j in range(1, M + 1)) for i in range(1, M + 1))


def _mixing(p, x):
    r = jnp.stack([x[k] for k in _R], axis=-1)  # [n, M]
    t = jnp.stack([jnp.stack([p[k] for k in row]) for row in _T])  # [M, M], t[i, j]
    c = jnp.stack([p[f"c_{i}"] for i in range(1, M + 1)])
    k = jnp.stack([p[f"k_{i}"] for i in range(1, M + 1)])
    return c + k * jnp.exp(r @ t.T)  # [n, M]


def _params() -> dict[str, Param]:
    params = {f"c_{i}": Param(0.0, 20.0, start=(0.0, 3.0)) for i in range(1, M + 1)}
    params.update({f"k_{i}": Param(1e-6, 1e4, scale="log", start=(1e-2, 10.0)) for i in range(1, M + 1)})
    params.update({name: Param(-20.0, 20.0, start=(-3.0, 3.0)) for row in _T for name in row})
    return params


mixing = register(
    Law(
        name="mixing",
        fn=_mixing,
        inputs=_R,
        params=_params(),
        n_outputs=M,
        description="L_i = c_i + k_i exp(sum_j t_ij r_j), i, j = 1..5",
        reference="Ye et al. 2024 (arXiv:2403.16952)",
    )
)
