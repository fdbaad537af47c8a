"""jaxlaws.laws.lr_bsz: loss against learning rate and batch size at given D and N."""

from __future__ import annotations

import jax
import numpy as np

import jaxlaws as jl
from lawcheck import assert_finite_with_gradients

# Li et al. 2025's optimum scalings (eta_0 = 1.79 N^-0.713 D^0.307, b_0 = 0.58 D^0.571 tokens,
# i.e. G = 0.58 / 2048 with b in 2048-token sequences) and a floor, K, G_b of the size a fit
# to the SLDBench learning-rate data gives.
TRUTH = {"A": 610.0, "alpha": 0.31, "B": 22.0, "beta": 0.16, "C": 0.83, "K": 1160.0,
         "F": 1.79, "gamma": -0.713, "zeta": 0.307, "G_b": 0.045, "G": 2.8e-4, "theta": 0.571}

# Learning rates 1e-4..1e-2 (7, log-spaced) x batches of 32..2048 sequences x D = 1e9..1e11
# tokens x N = 1e7..1e9 non-embedding parameters: 252 runs. eta_0 spans 4e-4..4e-2 and
# b_0 39..535 sequences over the (N, D) cells, so most cells see both minima.
_ETA, _B, _D, _N = (a.ravel() for a in np.meshgrid(
    np.logspace(-4.0, -2.0, 7), [32.0, 128.0, 512.0, 2048.0], [1e9, 1e10, 1e11], [1e7, 1e8, 1e9]))
DESIGN = {"eta": _ETA, "b": _B, "D": _D, "N": _N}


def _lr_bsz(p, x):
    eta_0 = p["F"] * x["N"] ** p["gamma"] * x["D"] ** p["zeta"]
    b_0 = p["G"] * x["D"] ** p["theta"]
    return (p["A"] * x["D"] ** -p["alpha"] + p["B"] * x["N"] ** -p["beta"] + p["C"]
            + p["K"] * (x["eta"] - eta_0) ** 2 + p["G_b"] * (np.log(x["b"]) + b_0 / x["b"]))


def test_definition():
    law = jl.laws.get("lr_bsz")
    assert law.inputs == ("eta", "b", "D", "N")
    assert law.param_names == ("A", "alpha", "B", "beta", "C", "K", "F", "gamma", "zeta", "G_b", "G", "theta")
    assert not law.predicts_log
    # The penalties must be U-shaped, never inverted: K > 0 and G_b >= 0 on the whole box.
    assert law.params["K"].lower > 0 and law.params["G_b"].lower >= 0


def test_formula_and_shape_match_numpy():
    with jax.enable_x64(True):
        y = np.asarray(jl.laws.get("lr_bsz").predict(TRUTH, DESIGN))
    assert y.shape == (252,)
    assert np.all((y > 2.0) & (y < 6.0))  # losses of the size real runs have
    # exp/log forms of the powers vs numpy's pow, summed: a few eps on terms <= ~5.
    np.testing.assert_allclose(y, _lr_bsz(TRUTH, DESIGN), rtol=1e-14)


def test_minima_sit_at_eta_0_and_b_0():
    # Along eta the law is minimised at eta_0 = F N^gamma D^zeta, along b at b_0 = G D^theta.
    law = jl.laws.get("lr_bsz")
    N, D = 1e8, 1e10
    eta_0 = TRUTH["F"] * N ** TRUTH["gamma"] * D ** TRUTH["zeta"]
    b_0 = TRUTH["G"] * D ** TRUTH["theta"]
    eta = eta_0 * np.array([0.5, 0.9, 1.0, 1.1, 1.5])
    b = b_0 * np.array([0.5, 0.9, 1.0, 1.1, 1.5])
    ones = np.ones(5)
    with jax.enable_x64(True):
        along_eta = np.asarray(law.predict(TRUTH, eta=eta, b=b_0 * ones, D=D * ones, N=N * ones))
        along_b = np.asarray(law.predict(TRUTH, eta=eta_0 * ones, b=b, D=D * ones, N=N * ones))
    assert np.argmin(along_eta) == 2 and np.argmin(along_b) == 2
    # At the joint optimum only the floor and G_b (ln b_0 + 1) remain.
    floor = TRUTH["A"] * D ** -TRUTH["alpha"] + TRUTH["B"] * N ** -TRUTH["beta"] + TRUTH["C"]
    np.testing.assert_allclose(along_eta[2], floor + TRUTH["G_b"] * (np.log(b_0) + 1.0), rtol=1e-14)


def test_finite_with_gradients_over_the_box():
    # C may be negative, so y may be too: only y is checked (log=False).
    assert_finite_with_gradients(jl.laws.get("lr_bsz"), DESIGN, log=False)


def test_recovers_a_known_law():
    y = _lr_bsz(TRUTH, DESIGN)
    # F, gamma and zeta only fix eta_0 jointly, and the landscape has local minima (eta_0
    # parked away from the sampled learning rates); with the law's start ranges about half of
    # the starts reach the truth (29..34 of 64 for seeds 0..2), so 64 cannot all miss.
    res = jl.fit("lr_bsz", jl.datasets.from_arrays(x=DESIGN, y=y), loss="mse", starts=64)
    # Noise-free data: the truth is a zero-residual optimum, where LM converges quadratically
    # (runs land within ~1e-15). Predictions must match to 1e-9 relative. Every term has its
    # own signature on this factorial design (parabola per (N, D) cell in eta, convex curve
    # in ln b, power laws across cells), so all twelve parameters are identifiable; the
    # Jacobian's condition number is ~1.4e4, hence rtol 1e-5.
    np.testing.assert_allclose(res.predict(DESIGN), y, rtol=1e-9)
    for k, v in TRUTH.items():
        np.testing.assert_allclose(res.params[k], v, rtol=1e-5, err_msg=k)
