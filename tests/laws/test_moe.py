"""jaxlaws.laws.moe: moe_clark (Clark et al. 2022) and moe_6p."""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest

import jaxlaws as jl
from lawcheck import assert_finite_with_gradients

# Near what moe_clark fits to Clark et al.'s S-BASE runs (natural logs: c, d are log10's c/ln 10, d ln 10).
CLARK = {"a": -0.083, "b": -0.118, "c": 0.0043, "d": 2.564, "E_start": 2.07, "E_max": 239.0}
SIX = {"p0": 1.3, "p1": -0.17, "p2": -0.07, "p3": 0.5, "p4": -0.2, "p5": 1.2}

# Clark et al.'s design: their seven dense sizes (15M..1.3B) x 1..512 experts.
_N, _E = (a.ravel() for a in np.meshgrid([1.5e7, 2.5e7, 5.5e7, 1.3e8, 3.7e8, 8.7e8, 1.3e9], 2.0 ** np.arange(10)))
DESIGN = {"N": _N, "E": _E}


def _clark_as_released(p, x):
    """The authors' released code (scaling_laws_for_routing/example.ipynb), in log10 with
    e_start, e_max passed as log2 values; our natural-log c, d converted to their units."""
    e_start, e_max = math.log2(p["E_start"]), math.log2(p["E_max"])
    c10, d10 = p["c"] * math.log(10), p["d"] / math.log(10)
    es, em = 2.0**e_start, 2.0**e_max
    e_hat = 1 / (1 / (x["E"] - 1 + 1 / (1 / es - 1 / em)) + 1 / em)
    ln, le = np.log10(x["N"]), np.log10(e_hat)
    return 10 ** (p["a"] * ln + p["b"] * le + c10 * ln * le + d10)


def _six(p, x):
    return p["p0"] * (x["N"] / 1e8) ** p["p1"] * x["E"] ** p["p2"] + p["p3"] * x["E"] ** p["p4"] + p["p5"]


def test_definitions():
    clark, six = jl.laws.get("moe_clark"), jl.laws.get("moe_6p")
    assert clark.inputs == six.inputs == ("N", "E")
    assert clark.param_names == ("a", "b", "c", "d", "E_start", "E_max")
    assert six.param_names == ("p0", "p1", "p2", "p3", "p4", "p5")
    assert clark.predicts_log and not six.predicts_log
    # E_start's box lies strictly below E_max's, so 1/E_start - 1/E_max > 0 everywhere.
    assert clark.params["E_start"].upper < clark.params["E_max"].lower


def test_moe_6p_keeps_the_scipy_bounds_and_centres_starts_on_its_initial_guess():
    # /work/shared/seeds/moe_law_scipy_fit.txt: bounds p0 (0.001, 20), p1 (-1, -0.01),
    # p2 (-1, 1), p3 (0, 10), p4 (-1, 1), p5 (0, max y); initial guess
    # [2.0, -0.15, -0.05, 0.5, -0.05, 0.9 min y]. max y and min y are data: here p5 <= 10 and
    # the p5 centre 1.8 = 0.9 x 2.0, the lowest loss of the SLDBench MoE training data.
    law = jl.laws.get("moe_6p")
    bounds = {k: (p.lower, p.upper) for k, p in law.params.items()}
    assert bounds == {"p0": (1e-3, 20.0), "p1": (-1.0, -0.01), "p2": (-1.0, 1.0), "p3": (0.0, 10.0),
                      "p4": (-1.0, 1.0), "p5": (0.0, 10.0)}
    centre = {"p0": 2.0, "p1": -0.15, "p2": -0.05, "p3": 0.5, "p4": -0.05, "p5": 1.8}
    for k, p in law.params.items():
        lo, hi = p.to_internal(np.array(p.start))
        np.testing.assert_allclose((lo + hi) / 2, p.to_internal(centre[k]), rtol=1e-12, atol=1e-15, err_msg=k)


def test_moe_clark_matches_the_authors_code():
    law = jl.laws.get("moe_clark")
    with jax.enable_x64(True):
        y = np.asarray(law.predict(CLARK, DESIGN))
    assert y.shape == (70,)
    # Two float64 evaluations of the same law through different logs (log10 vs ln, and 2**log2
    # round trips): agreement to ~1e-15 relative; 1e-13 is generous.
    np.testing.assert_allclose(y, _clark_as_released(CLARK, DESIGN), rtol=1e-13)


def test_moe_clark_saturating_transform():
    # With a = c = d = 0 and b = 1 the law returns Ehat itself.
    law = jl.laws.get("moe_clark")
    p = {"a": 0.0, "b": 1.0, "c": 0.0, "d": 0.0, "E_start": 3.0, "E_max": 100.0}
    E = np.array([1.0, 2.0, 10.0, 1e12])
    with jax.enable_x64(True):
        e_hat = np.asarray(law.predict(p, N=np.full(4, 1e8), E=E))
    # Ehat(1) = E_start exactly (up to rounding); Ehat(E) -> E_max; monotone in between.
    np.testing.assert_allclose(e_hat[0], 3.0, rtol=1e-14)
    np.testing.assert_allclose(e_hat[-1], 100.0, rtol=1e-9)  # 1/Ehat - 1/E_max ~ 1e-12
    assert np.all(np.diff(e_hat) > 0)


def test_moe_6p_formula_and_shape_match_numpy():
    with jax.enable_x64(True):
        y = np.asarray(jl.laws.get("moe_6p").predict(SIX, DESIGN))
    assert y.shape == (70,)
    # exp/log forms of the powers vs numpy's pow: a few eps.
    np.testing.assert_allclose(y, _six(SIX, DESIGN), rtol=1e-14)


@pytest.mark.parametrize("name", ["moe_clark", "moe_6p"])
def test_finite_with_gradients_over_the_box(name):
    # E = 1 (dense models) is part of the design. moe_6p: p0 > 0, p3, p5 >= 0 keep y > 0.
    assert_finite_with_gradients(jl.laws.get(name), DESIGN, log=True)


@pytest.mark.parametrize("name, truth, ref, loss", [
    ("moe_clark", CLARK, _clark_as_released, "mse-log"),
    ("moe_6p", SIX, _six, "mse"),
])
def test_recovers_a_known_law(name, truth, ref, loss):
    y = ref(truth, DESIGN)
    res = jl.fit(name, jl.datasets.from_arrays(x=DESIGN, y=y), loss=loss, starts=64)
    # Noise-free data: the truth is a zero-residual optimum, where LM converges quadratically
    # (runs land within ~1e-15). Predictions must match to 1e-9 relative. Both laws are
    # identifiable on this design (E reaches 512 > E_max, so the saturation is seen; p4 != 0
    # and p2 != p4 separate the two E terms), but ill-conditioned: the Jacobian's condition
    # number is ~3e4 for moe_clark (c against a, b, d) and ~2e2 for moe_6p, hence rtol 1e-5.
    np.testing.assert_allclose(res.predict(DESIGN), y, rtol=1e-9)
    for k, v in truth.items():
        np.testing.assert_allclose(res.params[k], v, rtol=1e-5, err_msg=k)
