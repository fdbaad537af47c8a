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


def test_residual_and_parametric_rows_resample_around_the_fit():
    rng = np.random.default_rng(3)
    x = np.logspace(1, 4, 200)
    data = jl.datasets.from_arrays(x={"x": x}, y=3.0 * x**-0.4 * np.exp(0.05 * rng.standard_normal(200)))
    prob = make_problem("power_law", data, "mse-log")
    theta = prob.law.to_internal(np.array([3.0, 0.4]))
    fitted = prob.fitted(theta)
    resid = prob.obs - fitted
    res = resample.Residual().rows(prob, theta=theta, rng=np.random.default_rng(2), n=50)
    assert res.weights.shape == (1, 200) and res.obs.shape == (50, 200)
    drawn = res.obs - fitted[None]
    # every drawn residual is one of the fit's own residuals (to rounding), drawn with replacement
    gap = np.min(np.abs(drawn.reshape(-1, 1) - resid[None, :]), axis=1)
    assert gap.max() < 1e-12
    assert any(len(np.unique(np.round(r, 12))) < 200 for r in drawn)  # with replacement: repeats
    par = resample.Parametric().rows(prob, theta=theta, rng=np.random.default_rng(2), n=50)
    sigma = np.sqrt(np.sum(resid**2) / (200 - 2))
    noise = (par.obs - fitted[None]).ravel()
    # 10,000 Gaussian draws: the sample sd is within 3% of sigma (its relative SE is 1/sqrt(2 * 1e4) = 0.7%)
    assert abs(noise.std() / sigma - 1) < 0.03 and abs(noise.mean()) < 4 * sigma / 100


def test_bad_schemes_and_labels(prob):
    with pytest.raises(jl.JaxlawsError, match="unknown bootstrap scheme 'jack'"):
        resample.bootstrap_scheme("jack")
    with pytest.raises(jl.JaxlawsError, match="needs group labels"):
        resample.bootstrap_scheme("groups", None)
    with pytest.raises(jl.JaxlawsError, match="at least 2 groups"):
        resample.Groups(np.zeros(12)).rows(prob, rng=np.random.default_rng(0), n=2)
    with pytest.raises(jl.JaxlawsError, match="at least 2 groups"):
        resample.Groups(np.zeros(12)).check(prob)  # refused before any resampling or fitting
    with pytest.raises(jl.JaxlawsError, match="groups have shape"):
        resample.LeaveOneGroupOut(np.zeros(5)).check(prob)
    resample.Pairs().check(prob)  # every problem can be resampled by pairs
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
