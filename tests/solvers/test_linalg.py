import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlaws.solvers import linalg


@pytest.mark.parametrize("n", [1, 2, 5, linalg.UNROLL, linalg.UNROLL + 1, 20])
def test_cholesky_solve_matches_numpy(n):
    # Both code paths (written out up to UNROLL, looped above) on well-conditioned SPD systems
    # (condition number below ~1e3), where float64 solves agree to ~1e3 * 1e-16; 1e-10 leaves margin.
    rng = np.random.default_rng(n)
    M = rng.normal(size=(n, n))
    A = M @ M.T + n * np.eye(n)
    b = rng.normal(size=n)
    with jax.enable_x64(True):
        x = np.asarray(jax.jit(linalg.cholesky_solve)(jnp.asarray(A), jnp.asarray(b)))
    np.testing.assert_allclose(x, np.linalg.solve(A, b), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("n", [5, linalg.UNROLL + 1])
def test_cholesky_solve_is_nan_for_a_matrix_that_is_not_positive_definite(n):
    A = np.eye(n)
    A[n - 1, n - 1] = -1.0
    with jax.enable_x64(True):
        x = np.asarray(linalg.cholesky_solve(jnp.asarray(A), jnp.ones(n)))
    assert np.isnan(x).any()


def test_cholesky_solve_under_vmap():
    rng = np.random.default_rng(0)
    M = rng.normal(size=(7, 5, 5))
    A = M @ np.swapaxes(M, 1, 2) + 5 * np.eye(5)
    b = rng.normal(size=(7, 5))
    with jax.enable_x64(True):
        x = np.asarray(jax.vmap(linalg.cholesky_solve)(jnp.asarray(A), jnp.asarray(b)))
    np.testing.assert_allclose(x, np.linalg.solve(A, b[..., None])[..., 0], rtol=1e-10, atol=1e-12)
