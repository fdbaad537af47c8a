"""A small dense SPD solve, two ways: written out in plain jax operations, or the platform's library.

The damped Gauss-Newton systems are tiny (P x P) and positive definite, and are
solved once per lane per step under vmap.

* :attr:`Cholesky.INLINE` (``cholesky_solve``): up to ``UNROLL`` unknowns the
  factorisation and both triangular solves are written out entry by entry:
  straight-line code that XLA fuses into a few kernels (measured on the Chinchilla
  grid, P = 5: ~5% faster solves and a smaller program than loops). Larger systems
  use ``fori_loop`` over columns, whose program size does not grow with P. It runs
  fastest, but it is most of what XLA compiles in an LM step.
* :attr:`Cholesky.LIBRARY` (``library_solve``): ``jax.lax.linalg.cholesky`` (LAPACK's
  potrf on a CPU) and two triangular solves. Measured on the 2-core CPU (a new
  5-parameter law, 256 starts): the queue program compiles in ~0.7 s instead of
  ~1.1-1.4 s, and runs 10-35% slower (batched library calls on 5 x 5 matrices cost
  more than the fused written-out code). LM uses it for small batches (see
  :meth:`jaxlaws.solvers.lm.LM.for_batch`), where compiling is most of a cold fit.
  A LAPACK call inside the step loop of a multi-device CPU program once hung the
  engine, in an earlier engine without ``shard_map``; the multi-device and
  multi-process tests run this path, and fits and bootstraps of 8 to 1,024 lanes on
  8 CPU devices ran without a hang and gave the bits of one device.

Both return NaN for a matrix that is not positive definite.
"""

from __future__ import annotations

import enum
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from jaxlaws.errors import JaxlawsError

UNROLL = 12  # written-out code grows as P**3 / 6 operations: ~300 at 12


class Cholesky(enum.Enum):
    """How a solver factors its small SPD systems (module docstring)."""

    INLINE = "inline"  # written out in plain XLA operations
    LIBRARY = "library"  # the platform's linear-algebra library (LAPACK on a CPU)

    @classmethod
    def parse(cls, spec: Any) -> Cholesky:
        if isinstance(spec, Cholesky):
            return spec
        try:
            return cls(spec)
        except ValueError:
            raise JaxlawsError(f"cholesky must be one of {', '.join(c.value for c in cls)}, got {spec!r}") from None

    def solve(self, A: Any, b: Any) -> Any:
        """``x`` with ``A x = b`` (``A [P, P]`` SPD); NaN if ``A`` is not positive definite."""
        return library_solve(A, b) if self is Cholesky.LIBRARY else cholesky_solve(A, b)


def library_solve(A: Any, b: Any) -> Any:
    """``x`` with ``A x = b`` by ``jax.lax.linalg``: Cholesky (NaN where ``A`` is not positive
    definite), then ``L y = b`` and ``L^T x = y``."""
    L = lax.linalg.cholesky(A, symmetrize_input=False)
    y = lax.linalg.triangular_solve(L, b[:, None], left_side=True, lower=True)
    return lax.linalg.triangular_solve(L, y, left_side=True, lower=True, transpose_a=True)[:, 0]


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
