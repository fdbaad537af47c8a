"""jaxlaws.laws.parscale: Chen et al. 2025's parallel scaling law."""

from __future__ import annotations

import jax
import numpy as np

import jaxlaws as jl
from jaxlaws.analysis.compare import score
from lawcheck import assert_finite_with_gradients

# Close to what the law fits to the Stack-V2-Python losses of Chen et al.'s P = 1, 2, 4 runs.
TRUTH = {"A": 1.115e7, "k": 0.4087, "alpha": 0.2196, "E": 0.7464}

# Chen et al.'s design: six model sizes x P = 1, 2, 4, 8 (N grows slightly with P), as bundled.
_N = np.array([[535813376, 693753856, 1088376320, 1571472384, 2774773760, 4353203200],
               [538195842, 696738818, 1092762882, 1577522690, 2784937986, 4368529922],
               [540577412, 699722756, 1097148164, 1583571460, 2795100164, 4383854084],
               [545340552, 705690632, 1105918728, 1595669000, 2815424520, 4414502408]], dtype=float)
DESIGN = {"N": _N.ravel(), "P": np.repeat([1.0, 2.0, 4.0, 8.0], 6)}


def _parscale(p, x):
    return (p["A"] / (x["N"] * (p["k"] * np.log(x["P"]) + 1.0))) ** p["alpha"] + p["E"]


def test_definition():
    law = jl.laws.get("parscale")
    assert law.inputs == ("N", "P") and law.param_names == ("A", "k", "alpha", "E")
    assert not law.predicts_log
    np.testing.assert_array_equal(law.log_mask, [True, False, False, False])
    assert law.params["k"].lower == 0.0 and law.params["E"].lower == 0.0  # y > 0: log-space losses are safe
    assert "Chen et al. 2025" in law.reference and "parscale" in jl.laws.names()


def test_formula_and_shape_match_numpy():
    with jax.enable_x64(True):
        y = np.asarray(jl.laws.get("parscale").predict(TRUTH, DESIGN))
    assert y.shape == (24,)
    # exp(alpha (log A - log N - log1p(k ln P))) vs the power directly: exponents |.| <= 1, a few eps.
    np.testing.assert_allclose(y, _parscale(TRUTH, DESIGN), rtol=1e-14)
    # P = 1 is the ordinary (A/N)^alpha + E; more streams lower the loss at (nearly) fixed N.
    np.testing.assert_allclose(y[:6], (TRUTH["A"] / _N[0]) ** TRUTH["alpha"] + TRUTH["E"], rtol=1e-14)
    assert np.all(np.diff(y.reshape(4, 6), axis=0) < 0)


def test_finite_with_gradients_over_the_box():
    # N over 1e6..1e13 and P over 1..1000 (P >= 1 keeps k ln P + 1 >= 1). A > 0 and E >= 0 keep
    # y > 0, so log y is checked too.
    N, P = (a.ravel() for a in np.meshgrid(np.logspace(6.0, 13.0, 8), [1.0, 2.0, 8.0, 64.0, 1000.0]))
    assert_finite_with_gradients(jl.laws.get("parscale"), {"N": N, "P": P}, log=True)


def test_recovers_a_known_law():
    y = _parscale(TRUTH, DESIGN)
    res = jl.fit("parscale", jl.datasets.from_arrays(x=DESIGN, y=y), loss="mse", starts=64)
    # Noise-free data: the truth is a zero-residual optimum, where LM converges quadratically
    # (runs land within ~1e-15 relative). N spans one decade and P three doublings, enough for
    # all four parameters, but A and alpha trade against each other (the Jacobian's condition
    # number is ~3.5e2): predictions to 1e-9, parameters to rtol 1e-5.
    np.testing.assert_allclose(res.predict(DESIGN), y, rtol=1e-9)
    for k, v in TRUTH.items():
        np.testing.assert_allclose(res.params[k], v, rtol=1e-5, err_msg=k)


def test_fits_the_parscale_losses_and_predicts_eight_streams():
    # Fitted per corpus on P = 1, 2, 4 and scored on P = 8: the held-out R^2 (pooled over the two
    # corpora, natural units) is 0.99989, the value SLDBench reports for this law.
    s = score("parscale", jl.datasets.load("parallel"), loss="mse", starts=256)
    assert s.n_failed == 0 and s.n_params == 8
    assert s.test_r2 > 0.9998
