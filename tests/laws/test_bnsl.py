"""jaxlaws.laws.bnsl: the broken neural scaling law and its n-break builder."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import jaxlaws as jl
from lawcheck import assert_finite_with_gradients
from jaxlaws.laws import bnsl as bnsl_mod

X_DESIGN = np.logspace(0.0, 12.0, 25)  # x over 12 decades: parameters, tokens, steps, images


def _bnsl_numpy(p, x, n):
    y = p["b"] * x ** -p["c0"]
    for i in range(1, n + 1):
        y = y * (1.0 + (x / p[f"d{i}"]) ** (1.0 / p[f"f{i}"])) ** (-p[f"c{i}"] * p[f"f{i}"])
    return p["a"] + y


TRUE = {"a": 0.5, "b": 20.0, "c0": 0.1, "c1": 0.4, "d1": 1e4, "f1": 0.5}


def test_definition_and_registry():
    law = jl.laws.get("bnsl")
    assert law is bnsl_mod.make(1) is bnsl_mod.bnsl
    assert law.inputs == ("x",)
    assert law.param_names == ("a", "b", "c0", "c1", "d1", "f1")
    assert not law.predicts_log and law.n_outputs == 1
    np.testing.assert_array_equal(law.log_mask, [False, True, False, False, True, True])


def test_make_builds_n_breaks_without_registering():
    three = bnsl_mod.make(3)
    assert three.name == "bnsl_3" and three is bnsl_mod.make(3) and three is bnsl_mod.make(np.int64(3))
    assert three.param_names == ("a", "b", "c0", "c1", "d1", "f1", "c2", "d2", "f2", "c3", "d3", "f3")
    assert "bnsl_3" not in jl.laws.names()
    assert bnsl_mod.make(0).param_names == ("a", "b", "c0")
    for bad in (-1, 1.5, True, "2"):
        with pytest.raises(jl.JaxlawsError, match="n_breaks must be a non-negative integer"):
            bnsl_mod.make(bad)


@pytest.mark.parametrize("n", [0, 1, 2])
def test_formula_and_shape_match_numpy(n):
    law = bnsl_mod.make(n)
    p = {"a": 0.3, "b": 7.0, "c0": 0.2}
    for i in range(1, n + 1):
        p.update({f"c{i}": 0.5 - 0.7 * (i - 1), f"d{i}": 10.0 ** (3 * i), f"f{i}": 0.3 * i})
    x = np.logspace(0.0, 10.0, 7)
    with jax.enable_x64(True):
        y = np.asarray(law.predict(p, x=x))
    assert y.shape == (7,)
    # jaxlaws goes through exp(log b - c0 log x - sum c f softplus(.)): a few float64 ops on
    # exponents of size <= ~30, so relative error ~ 30 eps ~ 7e-15 on the power-law part.
    np.testing.assert_allclose(y, _bnsl_numpy(p, x, n), rtol=1e-13)


def test_two_breaks_with_a_null_second_break_is_one_break():
    p1 = {"a": 0.3, "b": 7.0, "c0": 0.2, "c1": 0.5, "d1": 1e3, "f1": 0.3}
    p2 = dict(p1, c2=0.0, d2=1e6, f2=2.0)
    x = np.logspace(0.0, 10.0, 9)
    with jax.enable_x64(True):
        np.testing.assert_allclose(bnsl_mod.make(2).predict(p2, x=x), bnsl_mod.make(1).predict(p1, x=x), rtol=1e-14)


@pytest.mark.parametrize("n", [1, 2])
def test_finite_with_gradients_over_the_box(n):
    # a >= 0 and b > 0 keep y > 0, so log y is checked too (log-space losses are safe).
    assert_finite_with_gradients(bnsl_mod.make(n), {"x": X_DESIGN}, log=True)


def test_recovers_a_known_law():
    law = jl.laws.get("bnsl")
    x = np.logspace(0.0, 8.0, 40)  # the break at d1 = 1e4 sits mid-design, four decades each side
    y = _bnsl_numpy(TRUE, x, 1)
    res = jl.fit(law, jl.datasets.from_arrays(x={"x": x}, y=y), loss="mse-log", starts=64)
    # Noise-free data: the truth is a zero-residual optimum, where LM converges quadratically;
    # runs here land within ~1e-15 of it. Predictions must match to 1e-9 (relative), which
    # still leaves six orders of magnitude for a solver that stops early on ftol/xtol. All six
    # parameters are identifiable from this design (both slopes, the floor and the bend are in
    # view); their errors are the prediction errors amplified by the Jacobian's condition
    # number (~3e2 here), hence rtol 1e-5.
    np.testing.assert_allclose(res.predict(x=x), y, rtol=1e-9)
    assert res.objective < 1e-18  # summed squared log residuals, ~(1e-9)^2 * 40 at worst
    for k, v in TRUE.items():
        np.testing.assert_allclose(res.params[k], v, rtol=1e-5, err_msg=k)
