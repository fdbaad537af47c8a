"""jaxlaws.laws.sft: the rectified fine-tuning law of Lin et al. 2024."""

from __future__ import annotations

import jax
import numpy as np

import jaxlaws as jl
from lawcheck import assert_finite_with_gradients

# Close to what the law fits to LaMini-GPT-124M fine-tuned on FLAN (Lin et al.'s data).
TRUTH = {"A": 569.9, "B": 170.1, "C": 1.111, "alpha": 0.4595}

# Lin et al.'s fine-tuning sizes: 200, 400, ..., 409600 examples.
DESIGN = {"D": 200.0 * 2.0 ** np.arange(12)}


def _rectified(p, x):
    return p["A"] / (x["D"] ** p["alpha"] + p["B"]) + p["C"]


def test_definition():
    law = jl.laws.get("sft_rectified")
    assert law.inputs == ("D",) and law.param_names == ("A", "B", "C", "alpha")
    assert not law.predicts_log


def test_formula_and_shape_match_numpy():
    x = {"D": np.concatenate([[0.0], DESIGN["D"]])}
    with jax.enable_x64(True):
        y = np.asarray(jl.laws.get("sft_rectified").predict(TRUTH, x))
    assert y.shape == (13,)
    # exp(alpha log D) vs D**alpha: a few eps. D = 0 gives the zero-shot loss A/B + C.
    np.testing.assert_allclose(y, _rectified(TRUTH, x), rtol=1e-14)
    np.testing.assert_allclose(y[0], TRUTH["A"] / TRUTH["B"] + TRUTH["C"], rtol=1e-15)


def test_finite_with_gradients_over_the_box_including_zero_data():
    # D = 0 (the zero-shot point): the alpha-derivative D^alpha log D must come out as 0, not NaN.
    # A, B > 0 and C >= 0 keep y > 0, so log y is checked too.
    x = {"D": np.concatenate([[0.0, 1.0], DESIGN["D"], [1e8]])}
    assert_finite_with_gradients(jl.laws.get("sft_rectified"), x, log=True)


def test_recovers_a_known_law():
    y = _rectified(TRUTH, DESIGN)
    res = jl.fit("sft_rectified", jl.datasets.from_arrays(x=DESIGN, y=y), loss="mse-log", starts=64)
    # Noise-free data: the truth is a zero-residual optimum, where LM converges quadratically
    # (runs land within ~1e-15). Predictions must match to 1e-9 relative. The sizes span the
    # bend from the pre-power phase (D^alpha ~ B) into the power law, so all four parameters
    # are identifiable; the Jacobian's condition number (~7e2) gives rtol 1e-5 ample room.
    np.testing.assert_allclose(res.predict(DESIGN), y, rtol=1e-9)
    for k, v in TRUTH.items():
        np.testing.assert_allclose(res.params[k], v, rtol=1e-5, err_msg=k)
