"""jaxlaws.law: Param validation, Law coordinates and evaluation, the @law decorator."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxlaws as jl
from conftest import EPS


def _two_param_law(**kw):
    @jl.law(
        inputs=("x",),
        params={"A": jl.Param(1e-3, 1e6, scale="log"), "alpha": jl.Param(-1.0, 2.0)},
        **kw,
    )
    def pl(p, x):
        """y = A x^-alpha."""
        return p["A"] * x["x"] ** -p["alpha"]

    return pl


# ---- Param -------------------------------------------------------------------


@pytest.mark.parametrize("lo, hi", [(1.0, 1.0), (2.0, 1.0), (0.0, -1e-12)])
def test_param_lower_must_be_below_upper(lo, hi):
    with pytest.raises(jl.JaxlawsError, match=r"Param lower .* must be < upper") as e:
        jl.Param(lo, hi)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(lower=math.nan, upper=1.0), "must not be NaN"),
        (dict(lower=0.0, upper=1.0, scale="logit"), "scale must be 'linear', 'log' or 'asinh'"),
        (dict(lower=0.0, upper=1.0, scale="log"), "log-scale Param needs 0 < lower"),
        (dict(lower=1.0, upper=math.inf, scale="log"), "log-scale Param needs 0 < lower and a finite upper"),
        (dict(lower=0.0, upper=1.0, start=(0.5, 2.0)), "start range"),
        (dict(lower=0.0, upper=1.0, start=(0.5, 0.5)), "start range"),
        (dict(lower=0.0, upper=1.0, grid=(0.5, 1.5)), "grid"),
        (dict(lower=0.0, upper=1.0, grid=()), "grid"),
    ],
)
def test_param_rejects_bad_settings(kw, match):
    with pytest.raises(jl.JaxlawsError, match=match):
        jl.Param(**kw)


def test_param_normalises_to_floats_and_internal():
    p = jl.Param(1, 100, scale="log", start=(2, 50), grid=(1, 10))
    assert isinstance(p.lower, float) and isinstance(p.upper, float)
    assert p.start == (2.0, 50.0) and p.grid == (1.0, 10.0)
    assert p.to_internal(100.0) == np.log(100.0)
    assert jl.Param(-1, 1).to_internal(0.25) == 0.25
    assert p.start_range() == (2.0, 50.0)
    assert jl.Param(-3, 3).start_range() == (-3.0, 3.0)


def test_param_infinite_bounds_need_start_range_to_sample():
    p = jl.Param(-math.inf, math.inf)
    with pytest.raises(jl.JaxlawsError, match="needs a finite start"):
        p.start_range()
    assert jl.Param(-math.inf, math.inf, start=(-1, 1)).start_range() == (-1.0, 1.0)


# ---- Law coordinates -----------------------------------------------------------


def test_internal_bounds_and_log_mask():
    law = _two_param_law()
    np.testing.assert_array_equal(law.log_mask, [True, False])
    np.testing.assert_array_equal(law.lower, [np.log(1e-3), -1.0])
    np.testing.assert_array_equal(law.upper, [np.log(1e6), 2.0])
    assert law.param_names == ("A", "alpha") and law.n_params == 2


def test_natural_internal_round_trip_numpy():
    law = jl.laws.get("chinchilla")
    rng = np.random.default_rng(0)
    lo = np.array([p.lower for p in law.params.values()])
    hi = np.array([p.upper for p in law.params.values()])
    theta = law.lower + rng.random((500, law.n_params)) * (law.upper - law.lower)
    nat = law.to_natural(theta)
    assert isinstance(nat, np.ndarray)
    assert np.all((nat >= lo * (1 - 4 * EPS)) & (nat <= hi * (1 + 4 * EPS)))
    back = law.to_internal(nat)
    # log(exp(t)): exp is correct to ~1 ulp (relative eps), so log adds an absolute eps
    # plus its own half-ulp of |t| <= 40: |error| <= eps * (1 + |t|), times 2 for safety.
    np.testing.assert_allclose(back, theta, rtol=0, atol=2 * EPS * (1 + np.abs(theta)).max())
    # linear coordinates pass through untouched
    np.testing.assert_array_equal(back[:, 3:], theta[:, 3:])
    # the other way: exp(log(x)) has relative error <= eps * (1 + |log x|)
    nat2 = law.to_natural(law.to_internal(nat))
    np.testing.assert_allclose(nat2, nat, rtol=2 * EPS * (1 + np.abs(theta)).max())


def test_to_natural_keeps_jax_arrays():
    law = jl.laws.get("chinchilla")
    with jax.enable_x64(True):
        theta = jnp.asarray([0.5, 6.0, 7.5, 0.3, 0.4])
        nat = law.to_natural(theta)
        assert isinstance(nat, jax.Array)
        np.testing.assert_array_equal(np.asarray(nat), law.to_natural(np.asarray(theta)))


def test_to_internal_from_mapping_and_errors():
    law = _two_param_law()
    t = law.to_internal({"A": [1.0, 10.0], "alpha": [0.5, 0.25]})
    np.testing.assert_array_equal(t, [[0.0, 0.5], [np.log(10.0), 0.25]])
    with pytest.raises(jl.JaxlawsError, match=r"missing \['alpha'\], unknown \['B'\]"):
        law.to_internal({"A": 1.0, "B": 2.0})
    with pytest.raises(jl.JaxlawsError, match="has 2 free parameters, got values of shape"):
        law.to_internal(np.ones(3))
    with pytest.raises(jl.JaxlawsError, match="log-scale parameters must be positive"):
        law.to_internal([-1.0, 0.5])
    # a negative value of a *linear* parameter is fine
    np.testing.assert_array_equal(law.to_internal([1.0, -0.5]), [0.0, -0.5])


def test_as_dict():
    law = _two_param_law()
    d = law.as_dict(np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert list(d) == ["A", "alpha"]
    np.testing.assert_array_equal(d["alpha"], [2.0, 4.0])


# ---- Law evaluation --------------------------------------------------------------


def test_predict_paths_agree():
    law = _two_param_law()
    x = np.array([1.0, 10.0, 1e3])
    with jax.enable_x64(True):
        y = np.asarray(law.predict({"A": 4.0, "alpha": 0.5}, {"x": x}))
        y_kw = np.asarray(law(dict(A=4.0, alpha=0.5), x=x))
        theta = jnp.asarray([np.log(4.0), 0.5])
        y_int = np.asarray(law.predict_internal(theta, {"x": jnp.asarray(x)}))
        ly_int = np.asarray(law.log_predict_internal(theta, {"x": jnp.asarray(x)}))
    ref = 4.0 * x**-0.5
    # a handful of float64 ops (pow, mul, and exp(log 4) for the internal path): rtol 8 eps
    np.testing.assert_allclose(y, ref, rtol=8 * EPS)
    np.testing.assert_array_equal(y_kw, y)
    np.testing.assert_allclose(y_int, ref, rtol=8 * EPS)
    # log of a value near 1..4 carries an absolute error of a few eps
    np.testing.assert_allclose(ly_int, np.log(ref), rtol=0, atol=8 * EPS)


def test_predicts_log_law_exponentiates():
    @jl.law(inputs=("x",), params={"a": jl.Param(-5, 5), "b": jl.Param(-5, 5)}, predicts_log=True)
    def loglin(p, x):
        return p["a"] + p["b"] * x["x"]

    x = np.array([0.0, 1.0, 2.0])
    with jax.enable_x64(True):
        y = np.asarray(loglin.predict({"a": 0.5, "b": -1.0}, {"x": x}))
        ly = np.asarray(loglin.log_predict_internal(jnp.asarray([0.5, -1.0]), {"x": jnp.asarray(x)}))
    np.testing.assert_allclose(y, np.exp(0.5 - x), rtol=4 * EPS)
    # log_predict_internal returns fn's output untouched when predicts_log
    np.testing.assert_array_equal(ly, 0.5 - x)


def test_predict_names_missing_input():
    law = _two_param_law()
    with pytest.raises(jl.JaxlawsError, match=r"needs inputs \['x'\]; missing \['x'\]"):
        law.predict({"A": 1.0, "alpha": 0.0}, {"N": np.ones(2)})


# ---- decorator and Law validation ---------------------------------------------------


def test_law_decorator_fills_metadata():
    law = _two_param_law(reference="somewhere")
    assert isinstance(law, jl.Law)
    assert law.name == "pl"
    assert law.description == "y = A x^-alpha."
    assert law.inputs == ("x",)
    assert law.reference == "somewhere"
    assert not law.predicts_log and law.n_outputs == 1
    text = law.describe()
    assert "pl: y = A x^-alpha." in text and "alpha" in text and "log" in text
    named = _two_param_law(name="custom")
    assert named.name == "custom"


def test_law_validation():
    with pytest.raises(jl.JaxlawsError, match="has no parameters"):
        jl.Law(name="x", fn=lambda p, x: x, inputs=("x",), params={})
    with pytest.raises(jl.JaxlawsError, match="has no inputs"):
        jl.Law(name="x", fn=lambda p, x: x, inputs=(), params={"a": jl.Param(0, 1)})
    with pytest.raises(jl.JaxlawsError, match="must be a jl.Param, got tuple"):
        jl.Law(name="x", fn=lambda p, x: x, inputs=("x",), params={"a": (0, 1)})
