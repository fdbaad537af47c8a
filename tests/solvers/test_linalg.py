import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlaws.errors import JaxlawsError
from jaxlaws.solvers import linalg

METHODS = [linalg.Cholesky.INLINE, linalg.Cholesky.LIBRARY]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("n", [1, 2, 5, linalg.UNROLL, linalg.UNROLL + 1, 20])
def test_cholesky_solve_matches_numpy(n, method):
    # Every code path (written out up to UNROLL, looped above; the library) on well-conditioned
    # SPD systems (condition number below ~1e3), where float64 solves agree to ~1e3 * 1e-16;
    # 1e-10 leaves margin.
    rng = np.random.default_rng(n)
    M = rng.normal(size=(n, n))
    A = M @ M.T + n * np.eye(n)
    b = rng.normal(size=n)
    with jax.enable_x64(True):
        x = np.asarray(jax.jit(method.solve)(jnp.asarray(A), jnp.asarray(b)))
    np.testing.assert_allclose(x, np.linalg.solve(A, b), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("n", [5, linalg.UNROLL + 1])
def test_cholesky_solve_is_nan_for_a_matrix_that_is_not_positive_definite(n, method):
    # LM relies on it: a non-finite step halves the trust radius instead of being taken.
    A = np.eye(n)
    A[n - 1, n - 1] = -1.0
    with jax.enable_x64(True):
        x = np.asarray(method.solve(jnp.asarray(A), jnp.ones(n)))
    assert np.isnan(x).any()


@pytest.mark.parametrize("method", METHODS)
def test_cholesky_solve_under_vmap(method):
    rng = np.random.default_rng(0)
    M = rng.normal(size=(7, 5, 5))
    A = M @ np.swapaxes(M, 1, 2) + 5 * np.eye(5)
    b = rng.normal(size=(7, 5))
    with jax.enable_x64(True):
        x = np.asarray(jax.vmap(method.solve)(jnp.asarray(A), jnp.asarray(b)))
    np.testing.assert_allclose(x, np.linalg.solve(A, b[..., None])[..., 0], rtol=1e-10, atol=1e-12)


def test_library_program_is_smaller_than_the_inline_one():
    # The reason the library path exists: the step's linear algebra compiles to far fewer XLA
    # instructions (a custom call instead of ~P^3/6 written-out operations per lane).
    rng = np.random.default_rng(1)
    M = rng.normal(size=(16, 5, 5))
    A = jnp.asarray(M @ np.swapaxes(M, 1, 2) + 5 * np.eye(5))
    b = jnp.asarray(rng.normal(size=(16, 5)))
    with jax.enable_x64(True):
        size = {m: jax.jit(jax.vmap(m.solve)).lower(A, b).compile().as_text().count("\n") for m in METHODS}
    assert size[linalg.Cholesky.LIBRARY] < size[linalg.Cholesky.INLINE] / 2, size


def test_cholesky_parse():
    assert linalg.Cholesky.parse("library") is linalg.Cholesky.LIBRARY
    assert linalg.Cholesky.parse(linalg.Cholesky.INLINE) is linalg.Cholesky.INLINE
    with pytest.raises(JaxlawsError, match="cholesky must be one of inline, library, got 'lapack'"):
        linalg.Cholesky.parse("lapack")
