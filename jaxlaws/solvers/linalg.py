"""A small dense SPD solve in plain jax operations (no LAPACK custom call).

The damped Gauss-Newton systems are tiny (P x P) and positive definite, and are
solved once per lane per step under vmap. Up to ``UNROLL`` unknowns the
Cholesky factorisation and both triangular solves are written out entry by
entry: straight-line code that XLA fuses into a few kernels (measured on the
Chinchilla grid, P = 5: ~5% faster solves and a smaller program than loops).
Larger systems use ``fori_loop`` over columns, whose program size does not grow
with P. Either way the whole step stays in ordinary XLA operations, which
multi-device CPU programs run without trouble.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

UNROLL = 12  # written-out code grows as P**3 / 6 operations: ~300 at 12


def cholesky_solve(A: Any, b: Any) -> Any:
    """``x`` with ``A x = b`` for symmetric positive definite ``A [P, P]``; NaN if ``A`` is not PD."""
    n = A.shape[0]
    return _unrolled(A, b) if n <= UNROLL else _looped(A, b)


def _unrolled(A: Any, b: Any) -> Any:
    n = A.shape[0]

    def dot(pairs: Any) -> Any:
        return sum(pairs, jnp.zeros((), A.dtype))

    L: list[list[Any]] = [[None] * n for _ in range(n)]
    for j in range(n):
        d = jnp.sqrt(A[j, j] - dot(L[j][k] * L[j][k] for k in range(j)))
        L[j][j] = d
        for i in range(j + 1, n):
            L[i][j] = (A[i, j] - dot(L[i][k] * L[j][k] for k in range(j))) / d
    y: list[Any] = [None] * n
    for i in range(n):
        y[i] = (b[i] - dot(L[i][k] * y[k] for k in range(i))) / L[i][i]
    x: list[Any] = [None] * n
    for i in reversed(range(n)):
        x[i] = (y[i] - dot(L[k][i] * x[k] for k in range(i + 1, n))) / L[i][i]
    return jnp.stack(x)


def _looped(A: Any, b: Any) -> Any:
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
