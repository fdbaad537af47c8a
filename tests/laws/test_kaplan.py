"""jaxlaws.laws.kaplan: kaplan_d (eq. 1.2) and kaplan_nd (eq. 1.5) of Kaplan et al. 2020."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import jaxlaws as jl
from lawcheck import assert_finite_with_gradients

# Kaplan et al.'s own fits (their eqs. 1.2 and 1.5 / table 2).
KAPLAN_D = {"D_c": 5.4e13, "alpha_D": 0.095}
KAPLAN_ND = {"N_c": 6.4e13, "D_c": 1.8e13, "alpha_N": 0.076, "alpha_D": 0.103}

# A realistic design: 1e6..1e10 non-embedding parameters x 1e7..1e11 tokens (a 9 x 9 grid),
# spanning both the data-limited and the model-limited regime of eq. 1.5.
_N, _D = (a.ravel() for a in np.meshgrid(np.logspace(6.0, 10.0, 9), np.logspace(7.0, 11.0, 9)))
DESIGN = {"N": _N, "D": _D}


def _kaplan_d(p, x):
    return (p["D_c"] / x["D"]) ** p["alpha_D"]


def _kaplan_nd(p, x):
    return ((p["N_c"] / x["N"]) ** (p["alpha_N"] / p["alpha_D"]) + p["D_c"] / x["D"]) ** p["alpha_D"]


def test_definitions():
    d, nd = jl.laws.get("kaplan_d"), jl.laws.get("kaplan_nd")
    assert d.inputs == ("D",) and d.param_names == ("D_c", "alpha_D")
    assert nd.inputs == ("N", "D") and nd.param_names == ("N_c", "D_c", "alpha_N", "alpha_D")
    assert d.predicts_log and nd.predicts_log
    # alpha_D divides alpha_N in eq. 1.5: its box must stay away from 0.
    assert nd.params["alpha_D"].lower > 0


@pytest.mark.parametrize("name, params, ref", [("kaplan_d", KAPLAN_D, _kaplan_d), ("kaplan_nd", KAPLAN_ND, _kaplan_nd)])
def test_formula_and_shape_match_numpy(name, params, ref):
    law = jl.laws.get(name)
    with jax.enable_x64(True):
        y = np.asarray(law.predict(params, DESIGN))
    assert y.shape == (81,)
    # log-space evaluation vs the direct form: exponents of size <= 20 times alpha, so the
    # relative error is a few eps * 20 ~ 1e-14.
    np.testing.assert_allclose(y, ref(params, DESIGN), rtol=1e-13)


def test_kaplan_nd_reduces_to_kaplan_n_with_unlimited_data():
    # D -> infinity: L(N, D) -> (N_c/N)^alpha_N, eq. 1.1's form. At D = 1e300 the data term
    # D_c/D = 1.8e-287 is below any (N_c/N)^(alpha_N/alpha_D) here by > 250 orders: exact.
    nd, n = jl.laws.get("kaplan_nd"), jl.laws.get("kaplan_n")
    N = np.logspace(6.0, 12.0, 7)
    with jax.enable_x64(True):
        full = nd.predict(KAPLAN_ND, N=N, D=np.full_like(N, 1e300))
        limit = n.predict({"N_c": KAPLAN_ND["N_c"], "alpha_N": KAPLAN_ND["alpha_N"]}, N=N)
    np.testing.assert_allclose(full, limit, rtol=1e-14)


@pytest.mark.parametrize("name", ["kaplan_n", "kaplan_d", "kaplan_nd"])
def test_finite_with_gradients_over_the_box(name):
    assert_finite_with_gradients(jl.laws.get(name), DESIGN, log=True)


def test_kaplan_d_recovers_a_known_law():
    D = np.logspace(7.0, 11.0, 20)
    y = _kaplan_d(KAPLAN_D, {"D": D})
    res = jl.fit("kaplan_d", jl.datasets.from_arrays(x={"D": D}, y=y), loss="mse-log", starts=16)
    # log y = alpha_D (log D_c - log D) is linear in (alpha_D, alpha_D log D_c): a zero-residual
    # problem LM solves to ~1e-15 here. Tolerances as for kaplan_nd below (condition ~5e2).
    np.testing.assert_allclose(res.predict(D=D), y, rtol=1e-9)
    for k, v in KAPLAN_D.items():
        np.testing.assert_allclose(res.params[k], v, rtol=1e-6, err_msg=k)


def test_kaplan_nd_recovers_a_known_law():
    y = _kaplan_nd(KAPLAN_ND, DESIGN)
    res = jl.fit("kaplan_nd", jl.datasets.from_arrays(x=DESIGN, y=y), loss="mse-log", starts=64)
    # Noise-free data: the truth is a zero-residual optimum, where LM converges quadratically
    # (runs land within ~1e-15). Predictions must match to 1e-9 relative. The design covers
    # both regimes, so all four parameters are identifiable; the Jacobian's condition number
    # (~1.5e3 in internal coordinates) amplifies prediction error into parameter error, and
    # log N_c, log D_c errors are relative errors of N_c, D_c: rtol 1e-6 leaves ample room.
    np.testing.assert_allclose(res.predict(DESIGN), y, rtol=1e-9)
    for k, v in KAPLAN_ND.items():
        np.testing.assert_allclose(res.params[k], v, rtol=1e-6, err_msg=k)
