"""jaxlaws.laws: the catalog and each law's formula against a closed form in numpy."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import jaxlaws as jl
from conftest import EPS

CATALOG = ["chinchilla", "kaplan_n", "power_law", "power_law_offset"]


def test_names_and_get():
    assert set(CATALOG) <= set(jl.laws.names())
    assert jl.laws.names() == sorted(jl.laws.names())
    for name in CATALOG:
        law = jl.laws.get(name)
        assert isinstance(law, jl.Law) and law.name == name
        assert jl.laws.get(law) is law


def test_unknown_law():
    with pytest.raises(jl.JaxlawsError, match=r"unknown law 'chinchila'; known laws: .*chinchilla") as e:
        jl.laws.get("chinchila")
    assert "\n" not in str(e.value)
    with pytest.raises(jl.JaxlawsError, match="unknown law 'nope'"):
        jl.fit("nope", "chinchilla_epoch")


def test_register_refuses_a_second_law_with_the_same_name():
    law = jl.laws.get("power_law")
    assert jl.laws.register(law) is law  # the same object again is fine
    clone = jl.Law(name="power_law", fn=law.fn, inputs=law.inputs, params=law.params, predicts_log=True)
    with pytest.raises(jl.JaxlawsError, match="a law named 'power_law' is already registered"):
        jl.laws.register(clone)
    assert jl.laws.get("power_law") is law


def test_chinchilla_definition():
    law = jl.laws.get("chinchilla")
    assert law.param_names == ("E", "A", "B", "alpha", "beta")
    assert law.inputs == ("N", "D")
    assert law.predicts_log
    np.testing.assert_array_equal(law.log_mask, [True, True, True, False, False])
    # internal bounds: log E in [-7, 3], log A, log B in [-10, 40], alpha, beta in [0, 3];
    # stored as exp(v) and read back with log: |error| <= eps (1 + |v|) with |v| <= 40.
    np.testing.assert_allclose(law.lower, [-7, -10, -10, 0, 0], rtol=0, atol=2 * EPS * 41)
    np.testing.assert_allclose(law.upper, [3, 40, 40, 3, 3], rtol=0, atol=2 * EPS * 41)


# natural params and inputs for each law, and the closed form in numpy
CASES = {
    "chinchilla": (
        {"E": 1.8, "A": 400.0, "B": 2000.0, "alpha": 0.34, "beta": 0.37},
        {"N": np.array([1e7, 3e8, 7e10]), "D": np.array([2e9, 5e10, 1.4e12])},
        lambda p, x: p["E"] + p["A"] / x["N"] ** p["alpha"] + p["B"] / x["D"] ** p["beta"],
    ),
    "kaplan_n": (
        {"N_c": 8.8e13, "alpha_N": 0.076},
        {"N": np.array([1e6, 1e8, 1e10])},
        lambda p, x: (p["N_c"] / x["N"]) ** p["alpha_N"],
    ),
    "power_law": (
        {"A": 50.0, "alpha": 0.5},
        {"x": np.array([1.0, 10.0, 1e6])},
        lambda p, x: p["A"] * x["x"] ** -p["alpha"],
    ),
    "power_law_offset": (
        {"A": 20.0, "alpha": 0.7, "E": 1.5},
        {"x": np.array([1.0, 10.0, 1e6])},
        lambda p, x: p["A"] * x["x"] ** -p["alpha"] + p["E"],
    ),
}


@pytest.mark.parametrize("name", CATALOG)
def test_formula_matches_closed_form(name):
    law = jl.laws.get(name)
    params, inputs, ref = CASES[name]
    with jax.enable_x64(True):
        y = np.asarray(law.predict(params, inputs))
        theta = jax.numpy.asarray(law.to_internal(params))
        y_int = np.asarray(law.predict_internal(theta, {k: jax.numpy.asarray(v) for k, v in inputs.items()}))
    expected = ref(params, inputs)
    # The catalog evaluates in log space (log-sum-exp, alpha*(log N_c - log N)) and the
    # reference directly: both a few float64 ops on exponents |alpha log x| <= 25, so
    # exp() amplifies an absolute eps*25 into a relative ~6e-15; rtol 1e-13 covers it.
    np.testing.assert_allclose(y, expected, rtol=1e-13)
    np.testing.assert_allclose(y_int, expected, rtol=1e-13)


@pytest.mark.parametrize("name", CATALOG)
def test_every_catalog_law_can_be_sampled_and_described(name):
    law = jl.laws.get(name)
    pts = jl.starts.make(law, 16)
    assert pts.shape == (16, law.n_params)
    assert np.all(np.isfinite(pts))
    assert name in law.describe()
    assert law.reference
