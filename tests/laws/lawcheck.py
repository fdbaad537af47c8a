"""Checks shared by the law tests: points over a law's bounds box, and finite values and derivatives there."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import jaxlaws as jl


def box(law: jl.Law, n: int = 64, max_corners: int = 256, seed: int = 0) -> np.ndarray:
    """Internal-coordinate points over the bounds box: n uniform draws over the start
    ranges plus the box's corners (all of them, or max_corners random ones)."""
    P = law.n_params
    rng = np.random.default_rng(seed)
    if 2**P <= max_corners:
        bits = (np.arange(2**P)[:, None] >> np.arange(P)) & 1
    else:
        bits = rng.integers(0, 2, (max_corners, P))
    return np.concatenate([jl.starts.uniform(law, n, seed=seed), np.where(bits == 1, law.upper, law.lower)])


def assert_finite_with_gradients(law: jl.Law, inputs: dict, log: bool) -> None:
    """Value, forward-mode Jacobian (what LM uses) and reverse-mode gradient (what
    L-BFGS/Adam use) are finite at every point of box(law); with ``log``, of log y too."""
    with jax.enable_x64(True):
        X = {k: jnp.asarray(v, jnp.float64) for k, v in inputs.items()}
        fns = [lambda t: law.predict_internal(t, X)] + ([lambda t: law.log_predict_internal(t, X)] if log else [])

        @jax.jit
        @jax.vmap
        def check(t):
            return [(f(t), jax.jacfwd(f)(t), jax.grad(lambda u: jnp.sum(f(u)))(t)) for f in fns]

        out = check(jnp.asarray(box(law)))
    for space, (val, jac, grad) in zip(("y", "log y"), out):
        assert np.all(np.isfinite(val)), f"non-finite {space}"
        assert np.all(np.isfinite(jac)), f"non-finite forward-mode Jacobian of {space}"
        assert np.all(np.isfinite(grad)), f"non-finite gradient of {space}"
