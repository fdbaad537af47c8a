"""Chinchilla: L(N, D) = E + A / N**alpha + B / D**beta.

Hoffmann et al. (2022), "Training Compute-Optimal Large Language Models",
approach 3; fitted here in the log-sum-exp form of Besiroglu et al. (2024),
"Chinchilla Scaling: A replication attempt":
log L = LSE(a - alpha log N, b - beta log D, e), with a = log A, b = log B,
e = log E the internal coordinates. The default start grid is theirs:
a, b in {0, 5, ..., 25}, e in {-1, -0.5, ..., 1}, alpha, beta in {0, 0.5, ..., 2}.

``chinchilla_linear``: the same law, parameters, bounds and grid, evaluated
plainly in linear space (E + A N^-alpha + B D^-beta, ``predicts_log=False``),
for fits whose loss is on y itself (``mse``, ``huber``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxlaws.law import Law, Param
from jaxlaws.laws import register


def _lse3(x1, x2, x3):
    # A hand-rolled three-term log-sum-exp: jnp.logaddexp guards infinities with
    # extra selects we never need here, and this form is ~2x cheaper on CPU.
    # The shift m cancels in the value, so it is held constant for differentiation
    # (as jax.nn.logsumexp does): the derivative is the softmax either way, and the
    # Jacobian pass skips the tie-splitting derivative of maximum (~10% of a
    # float32 solver step, ~20% in float64).
    m = jax.lax.stop_gradient(jnp.maximum(jnp.maximum(x1, x2), x3))
    return m + jnp.log(jnp.exp(x1 - m) + jnp.exp(x2 - m) + jnp.exp(x3 - m))


def _log_chinchilla(p, x):
    return _lse3(
        jnp.log(p["A"]) - p["alpha"] * jnp.log(x["N"]),
        jnp.log(p["B"]) - p["beta"] * jnp.log(x["D"]),
        jnp.log(p["E"]) + jnp.zeros_like(x["N"]),
    )


def _linear_chinchilla(p, x):
    return p["E"] + p["A"] * x["N"] ** -p["alpha"] + p["B"] * x["D"] ** -p["beta"]


def compute_optimal(p, C, flops_per_param_token=6.0):
    """Chinchilla's closed-form N*(C), D*(C) and exponents a, b under C = k N D (jax, any shapes).

    N* = G (C/k)^a, D* = (C/k)^b / G with a = beta/(alpha+beta), b = alpha/(alpha+beta),
    G = (alpha A / (beta B))^(1/(alpha+beta)) (Hoffmann et al. 2022, eq. 4). Exact for this
    law's form only: a law is given it by declaring it, never by its parameter names.
    """
    al, be = p["alpha"], p["beta"]
    a = be / (al + be)
    b = al / (al + be)
    G = (al * p["A"] / (be * p["B"])) ** (1.0 / (al + be))
    cc = jnp.asarray(C) / flops_per_param_token
    N = G * cc**a
    D = cc**b / G
    return {"N_opt": N, "D_opt": D, "tokens_per_param": D / N, "a": a, "b": b}


_exp = lambda vals: tuple(float(np.exp(v)) for v in vals)  # noqa: E731

_PARAMS = {
    "E": Param(np.exp(-7.0), np.exp(3.0), scale="log", start=(np.exp(-1.0), np.exp(1.0)),
               grid=_exp(np.arange(-1.0, 1.01, 0.5))),
    "A": Param(np.exp(-10.0), np.exp(40.0), scale="log", start=(1.0, np.exp(25.0)),
               grid=_exp(np.arange(0.0, 25.1, 5.0))),
    "B": Param(np.exp(-10.0), np.exp(40.0), scale="log", start=(1.0, np.exp(25.0)),
               grid=_exp(np.arange(0.0, 25.1, 5.0))),
    "alpha": Param(0.0, 3.0, start=(0.0, 2.0), grid=tuple(np.arange(0.0, 2.01, 0.5))),
    "beta": Param(0.0, 3.0, start=(0.0, 2.0), grid=tuple(np.arange(0.0, 2.01, 0.5))),
}

chinchilla = register(
    Law(
        name="chinchilla",
        fn=_log_chinchilla,
        inputs=("N", "D"),
        params=_PARAMS,
        predicts_log=True,
        description="L = E + A/N^alpha + B/D^beta (fitted as log L = LSE(a - alpha log N, b - beta log D, e))",
        reference="Hoffmann et al. 2022 (arXiv:2203.15556); Besiroglu et al. 2024 (arXiv:2404.10102)",
        allocation=compute_optimal,
    )
)

chinchilla_linear = register(
    Law(
        name="chinchilla_linear",
        fn=_linear_chinchilla,
        inputs=("N", "D"),
        params=_PARAMS,
        predicts_log=False,
        description="L = E + A/N^alpha + B/D^beta (evaluated in linear space)",
        reference="Hoffmann et al. 2022 (arXiv:2203.15556), approach 3",
        allocation=compute_optimal,
    )
)
