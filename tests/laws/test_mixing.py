"""jaxlaws.laws.mixing: Ye et al. 2024's data mixing law, a 5-output law."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import jaxlaws as jl
from lawcheck import assert_finite_with_gradients

M = 5
_rng = np.random.default_rng(0)
C = np.array([2.1, 2.9, 2.5, 1.2, 2.8])  # per-domain floors, like Pile-domain losses
K = np.array([0.8, 0.5, 0.7, 0.6, 0.9])
T = -0.3 + 0.6 * _rng.random((M, M))  # weak cross-domain transfer ...
np.fill_diagonal(T, [-2.0, -1.5, -2.5, -3.0, -1.0])  # ... and strong in-domain benefit
TRUTH = {f"c_{i + 1}": C[i] for i in range(M)}
TRUTH |= {f"k_{i + 1}": K[i] for i in range(M)}
TRUTH |= {f"t_{i + 1}_{j + 1}": T[i, j] for i in range(M) for j in range(M)}

# 40 mixtures drawn uniformly from the simplex (Ye et al. train on a few dozen mixtures).
_R = _rng.dirichlet(np.ones(M), 40)
DESIGN = {f"r{j + 1}": _R[:, j] for j in range(M)}


def _mixing(c, k, t, x):
    r = np.stack([x[f"r{j + 1}"] for j in range(M)], axis=1)
    return np.stack([c[i] + k[i] * np.exp(sum(t[i, j] * r[:, j] for j in range(M))) for i in range(M)], axis=1)


def test_definition():
    law = jl.laws.get("mixing")
    assert law.n_outputs == 5 and not law.predicts_log
    assert law.inputs == ("r1", "r2", "r3", "r4", "r5")
    assert law.n_params == 35
    assert law.param_names[:10] == ("c_1", "c_2", "c_3", "c_4", "c_5", "k_1", "k_2", "k_3", "k_4", "k_5")
    assert law.param_names[10:] == tuple(f"t_{i}_{j}" for i in range(1, 6) for j in range(1, 6))


def test_formula_and_shape_match_numpy():
    with jax.enable_x64(True):
        y = np.asarray(jl.laws.get("mixing").predict(TRUTH, DESIGN))
    assert y.shape == (40, 5)  # [n, 5]: row = mixture, column = validation domain i
    # One exp of a sum of five products (|.| <= 3): a few eps.
    np.testing.assert_allclose(y, _mixing(C, K, T, DESIGN), rtol=1e-14)


def test_finite_with_gradients_over_the_box():
    # The design, the five pure-domain mixtures and the uniform one (all sum to 1).
    # c >= 0 and k > 0 keep every output positive, so log y is checked too.
    r = np.concatenate([_R, np.eye(M), np.full((1, M), 1.0 / M)])
    assert_finite_with_gradients(jl.laws.get("mixing"), {f"r{j + 1}": r[:, j] for j in range(M)}, log=True)


def test_fit_rejects_targets_of_the_wrong_shape():
    law = jl.laws.get("mixing")
    y = _mixing(C, K, T, DESIGN)
    for bad in (y[:, 0], y[:, :4]):
        with pytest.raises(jl.JaxlawsError, match=r"law 'mixing' has 5 output\(s\) but the target has shape"):
            jl.fit(law, jl.datasets.from_arrays(x=DESIGN, y=bad), loss="mse", starts=2)


def _check_recovered(res):
    q = res.params
    # Noise-free data: the truth is a zero-residual optimum; runs land within ~1e-14 of it.
    # Predictions ([n, 5], y in 1.3..3.8) must match to 1e-9 relative.
    np.testing.assert_allclose(res.predict(DESIGN), _mixing(C, K, T, DESIGN), rtol=1e-9)
    # Since every mixture sums to 1, only c_i and log k_i + t_ij are identified (k_i e^s with
    # t_ij - s fits equally well), so those are what is compared. The identified directions'
    # Jacobian is well conditioned (condition number ~2e2 once the five exactly null
    # directions are set aside), so these land within ~1e-14: atol 1e-7.
    np.testing.assert_allclose([q[f"c_{i + 1}"] for i in range(M)], C, rtol=0, atol=1e-7)
    lk_t = np.array([[np.log(q[f"k_{i + 1}"]) + q[f"t_{i + 1}_{j + 1}"] for j in range(M)] for i in range(M)])
    np.testing.assert_allclose(lk_t, np.log(K)[:, None] + T, rtol=0, atol=1e-7)


def test_fit_handles_a_five_output_target_and_recovers_the_law():
    y = _mixing(C, K, T, DESIGN)
    res = jl.fit("mixing", jl.datasets.from_arrays(x=DESIGN, y=y), loss="mse", starts=64)
    assert res.predict(DESIGN).shape == (40, 5)
    assert res.n_points == 40
    _check_recovered(res)

    # Point weights are repeated over the five outputs of each row: zero-weighting rows whose
    # targets are corrupted must give back the same law (same shapes: no recompilation).
    y_bad, w = y.copy(), np.ones(40)
    y_bad[:5] *= 1.5
    w[:5] = 0.0
    res_w = jl.fit("mixing", jl.datasets.from_arrays(x=DESIGN, y=y_bad), loss="mse", starts=64, weights=w)
    _check_recovered(res_w)
