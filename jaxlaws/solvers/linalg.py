"""A small dense SPD solve in plain jax operations (no LAPACK custom call).

The damped Gauss-Newton systems are tiny (P x P) and positive definite, and are
solved once per lane per step under vmap: a Cholesky factorisation written with
``fori_loop`` over columns keeps the whole step in ordinary XLA operations,
which multi-device CPU programs run without trouble.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp


def cholesky_solve(A: Any, b: Any) -> Any:
    """``x`` with ``A x = b`` for symmetric positive definite ``A [P, P]``; NaN if ``A`` is not PD."""
    n = A.shape[0]
    idx = jnp.arange(n)

    def column(j: Any, L: Any) -> Any:
        s = A[:, j] - L @ L[j, :]
        d = jnp.sqrt(s[j])
        return L.at[:, j].set(jnp.where(idx >= j, s / d, 0.0))

    L = jax.lax.fori_loop(0, n, column, jnp.zeros_like(A))

    def forward(i: Any, y: Any) -> Any:
        return y.at[i].set((b[i] - L[i, :] @ y) / L[i, i])

    y = jax.lax.fori_loop(0, n, forward, jnp.zeros_like(b))

    def backward(k: Any, x: Any) -> Any:
        i = n - 1 - k
        return x.at[i].set((y[i] - L[:, i] @ x) / L[i, i])

    return jax.lax.fori_loop(0, n, backward, jnp.zeros_like(b))
