"""jaxlaws.laws.chinchilla: chinchilla_linear, the linear-space twin of chinchilla."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import jaxlaws as jl
from lawcheck import assert_finite_with_gradients

# Hoffmann et al.'s approach-3 fit.
HOFFMANN = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}

# Chinchilla's own range: 70M..16B parameters x 5e9..5e11 tokens, an 8 x 8 grid.
_N, _D = (a.ravel() for a in np.meshgrid(np.geomspace(7e7, 1.6e10, 8), np.geomspace(5e9, 5e11, 8)))
DESIGN = {"N": _N, "D": _D}


def _chinchilla(p, x):
    return p["E"] + p["A"] / x["N"] ** p["alpha"] + p["B"] / x["D"] ** p["beta"]


def test_chinchilla_linear_shares_chinchilla_parameters():
    lin, log = jl.laws.get("chinchilla_linear"), jl.laws.get("chinchilla")
    assert lin.inputs == log.inputs == ("N", "D")
    assert lin.param_names == log.param_names == ("E", "A", "B", "alpha", "beta")
    assert not lin.predicts_log and lin.n_outputs == 1
    assert lin.params == log.params  # same bounds, scales, start ranges and grids (Param is a frozen dataclass)
    assert jl.starts.make(lin, "grid").shape == (4500, 5)  # Epoch AI's grid: 6 x 6 x 5 x 5 x 5


def test_formula_and_shape_match_numpy_and_chinchilla():
    lin, log = jl.laws.get("chinchilla_linear"), jl.laws.get("chinchilla")
    with jax.enable_x64(True):
        y_lin = np.asarray(lin.predict(HOFFMANN, DESIGN))
        y_log = np.asarray(log.predict(HOFFMANN, DESIGN))
        theta = jnp.asarray(lin.to_internal(HOFFMANN))
        X = {k: jnp.asarray(v) for k, v in DESIGN.items()}
        y_int = np.asarray(lin.predict_internal(theta, X))
    assert y_lin.shape == (64,)
    # Same float64 expression as the reference: agreement to a few ulps. The log-sum-exp form
    # goes through exp/log of numbers of size <= 7, so it agrees to ~10 eps ~ 2e-15.
    np.testing.assert_allclose(y_lin, _chinchilla(HOFFMANN, DESIGN), rtol=1e-14)
    np.testing.assert_allclose(y_int, y_lin, rtol=1e-14)
    np.testing.assert_allclose(y_lin, y_log, rtol=1e-13)


def test_finite_with_gradients_over_the_box():
    # E > 0, A, B > 0: y > 0 everywhere, so log y is checked too.
    assert_finite_with_gradients(jl.laws.get("chinchilla_linear"), DESIGN, log=True)


def test_recovers_a_known_law_with_a_linear_loss():
    y = _chinchilla(HOFFMANN, DESIGN)
    res = jl.fit("chinchilla_linear", jl.datasets.from_arrays(x=DESIGN, y=y), loss="mse", starts=64)
    # Noise-free data: the truth is a zero-residual optimum, where LM converges quadratically
    # (runs land within ~1e-15). Predictions must match to 1e-9 relative. All five parameters
    # are identifiable on this design, but the Jacobian is ill-conditioned (~2.5e3: E trades
    # against A and alpha), so parameters get rtol 1e-5.
    np.testing.assert_allclose(res.predict(DESIGN), y, rtol=1e-9)
    for k, v in HOFFMANN.items():
        np.testing.assert_allclose(res.params[k], v, rtol=1e-5, err_msg=k)


def test_log_form_jacobian_is_the_closed_form_softmax():
    # d log L / d(e, a, b, alpha, beta) = (s_E, s_A, s_B, -s_A log N, -s_B log D), s the softmax of
    # the three log terms. The log-sum-exp shift is held constant for differentiation, so this must
    # hold exactly, also where two terms tie (the shift's own derivative is ambiguous there).
    law = jl.laws.get("chinchilla")
    tie = {"E": 1.0, "A": 1e3, "B": 1e3, "alpha": 0.5, "beta": 0.5}  # A/N^alpha = B/D^beta at N = D
    X = {"N": np.array([1e6, 1e8, 1e8]), "D": np.array([1e9, 1e8, 1e10])}
    for p in (HOFFMANN, tie):
        with jax.enable_x64(True):
            theta = jnp.asarray(law.to_internal(p))
            Xj = {k: jnp.asarray(v) for k, v in X.items()}
            J = np.asarray(jax.jacfwd(lambda t: law.log_predict_internal(t, Xj))(theta))
        terms = np.stack([np.full(3, p["E"]), p["A"] * X["N"] ** -p["alpha"], p["B"] * X["D"] ** -p["beta"]])
        s = terms / terms.sum(0)
        ref = np.stack([s[0], s[1], s[2], -s[1] * np.log(X["N"]), -s[2] * np.log(X["D"])], axis=1)
        np.testing.assert_allclose(J, ref, rtol=1e-13, atol=1e-15)  # float64, a handful of roundings
