"""jaxlaws.resample: every scheme's rows, against what the scheme means."""

import numpy as np
import pytest

import jaxlaws as jl
from jaxlaws import resample
from jaxlaws.problem import Batch, make_problem


@pytest.fixture(scope="module")
def prob():
    x = np.logspace(1, 4, 12)
    g = np.repeat(["a", "b", "c"], 4)
    return make_problem("power_law", jl.datasets.from_arrays(x={"x": x}, y=3.0 * x**-0.4, groups=g), "mse-log",
                        weights=np.linspace(1.0, 2.0, 12))


def test_pairs_are_multinomial_counts_times_the_users_weights(prob):
    rows = resample.Pairs().rows(prob, rng=np.random.default_rng(0), n=50)
    counts = rows.weights / prob.weights
    assert rows.obs.shape == (1, 12) and rows.weights.shape == (50, 12)
    np.testing.assert_allclose(counts.sum(1), 12)
    np.testing.assert_allclose(counts, np.round(counts))


def test_groups_draw_whole_groups(prob):
    rows = resample.Groups(prob.data.groups).rows(prob, rng=np.random.default_rng(1), n=30)
    counts = np.round(rows.weights / prob.weights, 9)  # w * c / w: c up to rounding
    for r in counts:  # one count per group, shared by its four points, summing to 3 groups
        per = r.reshape(3, 4)
        assert np.all(per == per[:, :1]) and per[:, 0].sum() == 3


def test_jackknife_and_per_group_rows(prob):
    loo = resample.LeaveOneOut().rows(prob).weights / prob.weights
    np.testing.assert_allclose(loo, 1 - np.eye(12), rtol=1e-15)
    logo = resample.LeaveOneGroupOut(prob.data.groups).rows(prob).weights / prob.weights
    np.testing.assert_allclose(logo.sum(1), [8, 8, 8], rtol=1e-14)
    pg = resample.PerGroup(prob.data.groups).rows(prob).weights / prob.weights
    np.testing.assert_allclose(pg, np.repeat(np.eye(3), 4, axis=1), rtol=1e-15)
    assert resample.jackknife_of(resample.Groups(prob.data.groups)).name == "leave-one-group-out"


def test_residual_and_parametric_rows_resample_around_the_fit(prob):
    theta = prob.law.to_internal(np.array([3.0, 0.4]))
    fitted = prob.fitted(theta)
    res = resample.Residual().rows(prob, theta=theta, rng=np.random.default_rng(2), n=5)
    assert res.weights.shape == (1, 12) and res.obs.shape == (5, 12)
    np.testing.assert_allclose(res.obs, np.broadcast_to(fitted, (5, 12)), atol=1e-12)  # noise-free: zero residuals
    par = resample.Parametric().rows(prob, theta=theta, rng=np.random.default_rng(2), n=5)
    np.testing.assert_allclose(par.obs, np.broadcast_to(fitted, (5, 12)), atol=1e-12)


def test_bad_schemes_and_labels(prob):
    with pytest.raises(jl.JaxlawsError, match="unknown bootstrap scheme 'jack'"):
        resample.bootstrap_scheme("jack")
    with pytest.raises(jl.JaxlawsError, match="needs group labels"):
        resample.bootstrap_scheme("groups", None)
    with pytest.raises(jl.JaxlawsError, match="at least 2 groups"):
        resample.Groups(np.zeros(12)).rows(prob, rng=np.random.default_rng(0), n=2)
    with pytest.raises(jl.JaxlawsError, match="groups have shape"):
        resample.PerGroup(np.zeros(3)).rows(prob)


def test_batch_tiles_fits_and_checks_its_indices(prob):
    rows = resample.Pairs().rows(prob, rng=np.random.default_rng(0), n=3)
    theta0 = np.zeros((2, 2))
    b = Batch.tiled(prob, theta0, rows.obs, rows.weights, 3)
    np.testing.assert_array_equal(b.fit_index, [0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(b.weight_index, [0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(b.obs_index, np.zeros(6))
    assert b.n_lanes == 6 and b.n_fits == 3
    with pytest.raises(jl.JaxlawsError, match="weights has 3 rows for 2 fits"):
        Batch.tiled(prob, theta0, rows.obs, rows.weights, 2)
    with pytest.raises(jl.JaxlawsError, match="weight_index must be"):
        Batch(prob, theta0, rows.obs, rows.weights, np.zeros(2), np.array([0, 5]), np.zeros(2))
