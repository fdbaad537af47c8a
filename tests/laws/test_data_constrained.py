"""jaxlaws.laws.data_constrained: Muennighoff et al. 2023's law for repeated data."""

from __future__ import annotations

import jax
import numpy as np

import jaxlaws as jl
from lawcheck import assert_finite_with_gradients

# Muennighoff et al.'s fit: Chinchilla's A, B, E, alpha, beta and their R*_D, R*_N.
MUENNIGHOFF = {"A": 406.4, "B": 410.7, "E": 1.69, "alpha": 0.34, "beta": 0.28, "R_D_star": 15.4, "R_N_star": 5.3}

# 3 unique-token budgets x 1..64 epochs x 4 model sizes (84 runs): every budget has
# repeated data, and every budget has models larger than 0.051 U (excess parameters).
_U, _EP, _N = (a.ravel() for a in np.meshgrid([1e8, 1e9, 1e10], 2.0 ** np.arange(7), [1e7, 1e8, 1e9, 3e9]))
DESIGN = {"N": _N, "D": _U * _EP, "U": _U}


def _reference(p, x):
    """The paper's formulas, point by point in plain Python floats."""
    out = []
    for N, D, U in zip(x["N"], x["D"], x["U"]):
        R_D = D / U - 1.0
        D_eff = U + U * p["R_D_star"] * (1.0 - np.exp(-R_D / p["R_D_star"]))
        U_N = min(N, 0.051 * U)
        R_N = max(N / U_N - 1.0, 0.0)
        N_eff = U_N + U_N * p["R_N_star"] * (1.0 - np.exp(-R_N / p["R_N_star"]))
        out.append(p["A"] / N_eff ** p["alpha"] + p["B"] / D_eff ** p["beta"] + p["E"])
    return np.array(out)


def test_definition():
    law = jl.laws.get("data_constrained")
    assert law.inputs == ("N", "D", "U")
    assert law.param_names == ("A", "B", "E", "alpha", "beta", "R_D_star", "R_N_star")
    assert law.predicts_log
    chin = jl.laws.get("chinchilla").params
    for k in ("A", "B", "E", "alpha", "beta"):  # Chinchilla's boxes and start ranges
        mine, theirs = law.params[k], chin[k]
        assert (mine.lower, mine.upper, mine.scale, mine.start) == \
            (theirs.lower, theirs.upper, theirs.scale, theirs.start)


def test_formula_and_shape_match_the_paper():
    law = jl.laws.get("data_constrained")
    with jax.enable_x64(True):
        y = np.asarray(law.predict(MUENNIGHOFF, DESIGN))
    assert y.shape == (84,)
    # log-sum-exp evaluation with expm1 vs the direct formula: exponents <= ~10, so the
    # relative difference is ~10 eps; 1e-13 is generous.
    np.testing.assert_allclose(y, _reference(MUENNIGHOFF, DESIGN), rtol=1e-13)


def test_fresh_data_and_small_models_reduce_to_chinchilla():
    # One epoch (D = U) and N <= 0.051 U: D' = D and N' = N, so the law is Chinchilla's.
    # So is D < U (fewer tokens than the unique pool): U_D = min(U, D) = D, and there
    # 0.051 U_D = 2.55e8 > N.
    N = np.array([1e7, 5e7, 1e8, 2e8])
    D = np.array([1e10, 1e10, 1e10, 5e9])
    U = np.array([1e10, 1e10, 1e10, 1e10])
    chin = {k: MUENNIGHOFF[k] for k in ("A", "B", "E", "alpha", "beta")}
    with jax.enable_x64(True):
        y = np.asarray(jl.laws.get("data_constrained").predict(MUENNIGHOFF, N=N, D=D, U=U))
        ref = np.asarray(jl.laws.get("chinchilla").predict(chin, N=N, D=D))
    np.testing.assert_allclose(y, ref, rtol=1e-14)


def test_repetition_is_worth_less_and_saturates():
    # D' grows with epochs but stays below D and below U (1 + R*_D); repeated data never
    # lowers the loss below what the same number of fresh tokens would give.
    law = jl.laws.get("data_constrained")
    U = np.full(8, 1e9)
    D = U * 2.0 ** np.arange(8)
    N = np.full(8, 1e7)
    with jax.enable_x64(True):
        y = np.asarray(law.predict(MUENNIGHOFF, N=N, D=D, U=U))
        fresh = np.asarray(law.predict(MUENNIGHOFF, N=N, D=D, U=D))
    assert np.all(np.diff(y) < 0)
    np.testing.assert_allclose(y[0], fresh[0], rtol=1e-14)
    assert np.all(y[1:] > fresh[1:])
    p = MUENNIGHOFF
    floor = p["E"] + p["A"] / 1e7 ** p["alpha"] + p["B"] / (1e9 * (1 + p["R_D_star"])) ** p["beta"]
    assert np.all(y > floor)


def test_finite_with_gradients_over_the_box():
    # The design plus D < U and N exactly 0.051 U (the min/max kinks).
    x = {k: np.concatenate([v, extra]) for (k, v), extra in zip(
        DESIGN.items(), ([1e7, 5.1e7, 1e12], [1e8, 1e9, 1e8], [1e9, 1e9, 1e13]))}
    assert_finite_with_gradients(jl.laws.get("data_constrained"), x, log=True)


def test_recovers_a_known_law():
    y = _reference(MUENNIGHOFF, DESIGN)
    res = jl.fit("data_constrained", jl.datasets.from_arrays(x=DESIGN, y=y), loss="mse-log", starts=64)
    # Noise-free data: the truth is a zero-residual optimum, where LM converges quadratically
    # (runs land within ~1e-15). Predictions must match to 1e-9 relative. The design sees
    # fresh and repeated data and small and excess models, so all seven parameters are
    # identifiable; the Jacobian's condition number (~1.2e3 in internal coordinates) turns
    # that into parameter errors well below rtol 1e-5.
    np.testing.assert_allclose(res.predict(DESIGN), y, rtol=1e-9)
    for k, v in MUENNIGHOFF.items():
        np.testing.assert_allclose(res.params[k], v, rtol=1e-5, err_msg=k)
