"""jaxlaws.laws.vocab: Tao et al. 2024's additive law in N, V and D."""

from __future__ import annotations

import jax
import numpy as np

import jaxlaws as jl
from lawcheck import assert_finite_with_gradients

# Magnitudes like a fit to Tao et al.'s unigram-normalised losses (negative, E < 0).
TRUTH = {"A": 194.0, "B": 10.0, "C": 6410.0, "E": -5.7, "alpha": 0.37, "beta": 0.3, "gamma": 0.38}

# The ranges of Tao et al.'s runs (SLDBench's copy of their data): 33M..1.1B non-vocabulary
# parameters x 4k..96k vocabularies x 2e8..2e11 characters (4 x 6 x 4 = 96 runs).
_N, _V, _D = (a.ravel() for a in np.meshgrid(
    [3.3e7, 1e8, 3e8, 1.1e9], [4096, 8192, 16384, 32768, 65536, 96256], [2e8, 2e9, 2e10, 2e11]))
DESIGN = {"N": _N, "V": _V, "D": _D}


def _vocab(p, x):
    return p["A"] / x["N"] ** p["alpha"] + p["B"] / x["V"] ** p["beta"] + p["C"] / x["D"] ** p["gamma"] + p["E"]


def test_definition():
    law = jl.laws.get("vocab")
    assert law.inputs == ("N", "V", "D")
    assert law.param_names == ("A", "B", "C", "E", "alpha", "beta", "gamma")
    assert not law.predicts_log
    assert law.params["E"].lower < 0 < law.params["E"].upper  # unigram-normalised losses are negative


def test_formula_and_shape_match_numpy():
    with jax.enable_x64(True):
        y = np.asarray(jl.laws.get("vocab").predict(TRUTH, DESIGN))
    assert y.shape == (96,)
    assert np.all(y < 0)  # this truth gives negative (unigram-normalised) losses, as in the paper
    # exp(log A - alpha log N) vs A / N**alpha: a few eps on terms of size <= 5, summed.
    np.testing.assert_allclose(y, _vocab(TRUTH, DESIGN), rtol=0, atol=1e-14)


def test_finite_with_gradients_over_the_box():
    # E may be negative, so y may be too: log y is not a property of this law (log=False).
    assert_finite_with_gradients(jl.laws.get("vocab"), DESIGN, log=False)


def test_recovers_a_known_law():
    y = _vocab(TRUTH, DESIGN)
    res = jl.fit("vocab", jl.datasets.from_arrays(x=DESIGN, y=y), loss="mse", starts=64)
    # Noise-free data: the truth is a zero-residual optimum, where LM converges quadratically
    # (runs land within ~2e-15 absolute). The targets cross -5..-0.06, so predictions are
    # compared absolutely, to 1e-9. Each term varies with its own input over 1.5..3 decades,
    # so all seven parameters are identifiable, but E trades against the three prefactors and
    # the Jacobian's condition number is ~2e4: parameters get rtol 1e-5.
    np.testing.assert_allclose(res.predict(DESIGN), y, rtol=0, atol=1e-9)
    for k, v in TRUTH.items():
        np.testing.assert_allclose(res.params[k], v, rtol=1e-5, err_msg=k)
