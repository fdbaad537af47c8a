"""jaxlaws.laws.poly: polynomials in log compute (Wu & Lo's degree-5 fit) and their builder."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import jaxlaws as jl
from jaxlaws.laws import poly as poly_mod
from lawcheck import assert_finite_with_gradients

# Near the degree-5 least-squares fit to MMLU's easiest questions (negated TC Brier score).
TRUTH = {"c0": -0.48, "c1": -0.064, "c2": 0.071, "c3": -0.056, "c4": -0.097, "c5": 0.082}
X = np.linspace(-0.9, 2.9, 40)  # log10(FLOPs / 1e21) over easy_question's whole range


def _numpy(p, x, degree):
    return np.polynomial.polynomial.polyval(x, [p[f"c{k}"] for k in range(degree + 1)])


def test_definition_and_registry():
    law = jl.laws.get("poly5")
    assert law is poly_mod.make(5) is poly_mod.make() is poly_mod.poly5
    assert law.inputs == ("log_flops",)
    assert law.param_names == ("c0", "c1", "c2", "c3", "c4", "c5")
    assert not law.predicts_log and not law.log_mask.any()
    for p in law.params.values():  # signed, linear, with finite start ranges
        assert p.lower < 0 < p.upper and p.scale == "linear" and p.start == (-1.0, 1.0)
    assert "Wu & Lo" in law.reference


def test_make_builds_other_degrees_without_registering():
    two = poly_mod.make(2)
    assert two.name == "poly2" and two is poly_mod.make(np.int64(2)) and two.param_names == ("c0", "c1", "c2")
    assert "poly2" not in jl.laws.names()
    centred = poly_mod.make(5, center=21.0, scale=2.0)
    assert centred.name == "poly5_c21_s2" and centred is poly_mod.make(5, center=21, scale=2.0)
    assert "(log_flops - 21)/2" in centred.description
    for bad in (-1, 1.5, True, "5"):
        with pytest.raises(jl.JaxlawsError, match="degree must be a non-negative integer"):
            poly_mod.make(bad)
    for kw in ({"scale": 0.0}, {"scale": -1.0}, {"center": float("nan")}, {"scale": float("inf")}):
        with pytest.raises(jl.JaxlawsError, match="center must be finite"):
            poly_mod.make(3, **kw)


@pytest.mark.parametrize("degree", [0, 1, 2, 5])
def test_formula_and_shape_match_numpy(degree):
    p = {f"c{k}": TRUTH[f"c{k}"] for k in range(degree + 1)}
    with jax.enable_x64(True):
        y = np.asarray(poly_mod.make(degree).predict(p, log_flops=X))
    assert y.shape == (40,)
    # Horner vs numpy's polyval (also Horner): terms |c_k x^k| <= 20, a few eps of that.
    np.testing.assert_allclose(y, _numpy(p, X, degree), rtol=0, atol=1e-14)


def test_center_and_scale_are_a_fixed_change_of_coordinate():
    # u = (x - 21)/2 on log10 FLOPs x = X + 21: u = X/2, so c_k' = c_k 2^k gives poly5's curve in X.
    p = {f"c{k}": v * 2.0**k for k, v in enumerate(TRUTH.values())}
    with jax.enable_x64(True):
        y = np.asarray(poly_mod.make(5, center=21.0, scale=2.0).predict(p, log_flops=X + 21.0))
    np.testing.assert_allclose(y, _numpy(TRUTH, X, 5), rtol=0, atol=1e-13)


@pytest.mark.parametrize("degree", [2, 5])
def test_finite_with_gradients_over_the_box(degree):
    # Coefficients at +-1e3 and x over -1..3: |y| <= ~4e5. y is signed: log y is not a property.
    assert_finite_with_gradients(poly_mod.make(degree), {"log_flops": np.linspace(-1.0, 3.0, 17)}, log=False)


def test_recovers_a_known_law():
    y = _numpy(TRUTH, X, 5)
    res = jl.fit("poly5", jl.datasets.from_arrays(x={"log_flops": X}, y=y), loss="mse", starts=64)
    # Linear least squares with a zero-residual optimum: LM lands on it from every start. The
    # design on -0.9..2.9 has condition number ~6e2 (columns up to 2.9^5 ~ 2e2), so predictions
    # match to 1e-10 and the coefficients (some ~0.05) absolutely to 1e-8.
    assert res.n_converged == 64
    np.testing.assert_allclose(res.predict(log_flops=X), y, rtol=0, atol=1e-10)
    for k, v in TRUTH.items():
        np.testing.assert_allclose(res.params[k], v, rtol=0, atol=1e-8, err_msg=k)


def test_per_group_fits_on_easy_question_are_ordinary_least_squares():
    # Wu & Lo fit each benchmark's train rows by OLS; jl.fit_groups must land on the same
    # coefficients in every group (the design in log_flops is well conditioned, <= 3.2e2).
    data = jl.datasets.load("easy_question")
    train, test = data.split("train"), data.split("test")
    gf = jl.fit_groups("poly5", train, loss="mse", starts=16)
    assert not gf.failed.any()
    pred_test = np.asarray(gf.predict(test.inputs, test.groups))
    for i, g in enumerate(gf.labels):
        m, mt = train.groups == g, test.groups == g
        c, *_ = np.linalg.lstsq(np.vander(train.inputs["log_flops"][m], 6, increasing=True), train.y[m], rcond=None)
        ols = {f"c{k}": v for k, v in enumerate(c)}
        np.testing.assert_allclose(gf.objective[i], np.sum((_numpy(ols, train.inputs["log_flops"][m], 5) - train.y[m]) ** 2),
                                   rtol=1e-10, err_msg=g)
        # held-out points lie up to 0.6 decades past the train range, where |u|^5 amplifies
        # coefficient differences and the predictions reach ~30. LM stops at ftol 1e-14 on f,
        # leaving coefficients ~sqrt(1e-14) = 1e-7 of their SEs from OLS's exact solution
        # (measured: 1e-7 relative on the extrapolated predictions): 1e-6 relative, 1e-6 absolute.
        np.testing.assert_allclose(pred_test[mt], _numpy(ols, test.inputs["log_flops"][mt], 5), rtol=1e-6, atol=1e-6,
                                   err_msg=g)
