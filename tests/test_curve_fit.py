"""``jl.curve_fit`` against ``scipy.optimize.curve_fit``.

Tolerances. scipy is run with ftol = xtol = gtol = 1e-15, so its answer is the optimum to
rounding; jaxlaws' LM stops when the Gauss-Newton decrement is below ftol = 1e-14 of f. For
mse, f(theta) - f* = d^T (J^T W J) d = s^2 z^2 with z the distance d in standard errors
(pcov = s^2 (J^T W J)^-1, s^2 = f* / (n - p)), so a relative gap of 1e-14 leaves
z = sqrt(1e-14 (n - p)) <= 1e-6 for n <= 100: popt is compared in units of its standard error
to 1e-5 (10x that). pcov is a smooth function of theta: moving theta by 1e-6 SE changes J, and
pcov, by O(1e-6) of se_i se_j on these well-conditioned problems; each entry is compared to
1e-5 se_i se_j.
"""

from __future__ import annotations

import warnings

import jax.numpy as jnp
import numpy as np
import pytest

import jaxlaws as jl

scipy_optimize = pytest.importorskip("scipy.optimize")

TIGHT = {"ftol": 1e-15, "xtol": 1e-15, "gtol": 1e-15}
Z_TOL = 1e-5  # popt difference in standard errors (module docstring)
PCOV_RTOL = 1e-5


def scipy_fit(f_np, x, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scipy_optimize.curve_fit(f_np, x, y, **TIGHT, **kw)


def assert_matches(popt, pcov, ref_popt, ref_pcov):
    se = np.sqrt(np.diag(ref_pcov))
    np.testing.assert_array_less(np.abs(popt - ref_popt) / se, Z_TOL)
    # each entry relative to its natural scale se_i se_j (an off-diagonal entry may be ~0)
    np.testing.assert_array_less(np.abs(pcov - ref_pcov) / np.outer(se, se), PCOV_RTOL)


def decay(x, a, b, c):
    return a * jnp.exp(-b * x) + c


def decay_np(x, a, b, c):
    return a * np.exp(-b * x) + c


@pytest.fixture(scope="module")
def decay_data():
    rng = np.random.default_rng(0)
    x = np.linspace(0.0, 4.0, 50)
    sigma = 0.1 + 0.2 * rng.random(50)
    y = decay_np(x, 2.5, 1.3, 0.5) + sigma * rng.standard_normal(50)
    return x, y, sigma


def test_unbounded_default_p0_matches_scipy(decay_data):
    x, y, _ = decay_data
    popt, pcov = jl.curve_fit(decay, x, y)
    ref = scipy_fit(decay_np, x, y)
    assert_matches(popt, pcov, *ref)


@pytest.mark.parametrize("absolute_sigma", [False, True])
def test_sigma_matches_scipy(decay_data, absolute_sigma):
    x, y, sigma = decay_data
    popt, pcov = jl.curve_fit(decay, x, y, p0=[1.0, 1.0, 1.0], sigma=sigma, absolute_sigma=absolute_sigma)
    ref = scipy_fit(decay_np, x, y, p0=[1.0, 1.0, 1.0], sigma=sigma, absolute_sigma=absolute_sigma)
    assert_matches(popt, pcov, *ref)


def test_absolute_sigma_is_the_unscaled_covariance(decay_data):
    x, y, sigma = decay_data
    popt, rel, res = jl.curve_fit(decay, x, y, sigma=sigma, full_output=True)
    _, ab = jl.curve_fit(decay, x, y, sigma=sigma, absolute_sigma=True)
    s2 = res.objective / (len(y) - 3)  # summed weighted squares over the degrees of freedom
    np.testing.assert_allclose(ab * s2, rel, rtol=1e-9)


def test_bounds_with_infinite_sides_match_scipy():
    def f(x, A, alpha, E):
        return A * x**-alpha + E

    def f_np(x, A, alpha, E):
        return A * x**-alpha + E

    rng = np.random.default_rng(1)
    x = np.logspace(0, 3, 40)
    y = f_np(x, 5.0, 0.6, 1.2) * np.exp(0.02 * rng.standard_normal(40))
    bounds = ([0.0, 0.0, -np.inf], [np.inf, 5.0, np.inf])
    popt, pcov = jl.curve_fit(f, x, y, p0=[1.0, 0.5, 1.0], bounds=bounds)
    ref = scipy_fit(f_np, x, y, p0=[1.0, 0.5, 1.0], bounds=bounds)
    assert_matches(popt, pcov, *ref)


def test_tuple_of_inputs_matches_scipy():
    def f(x, a, b, c):
        n, d = x
        return a * n**-b + c * jnp.log(d)

    def f_np(x, a, b, c):
        n, d = x
        return a * n**-b + c * np.log(d)

    rng = np.random.default_rng(2)
    n, d = rng.uniform(1, 100, 60), rng.uniform(1, 100, 60)
    y = f_np((n, d), 3.0, 0.7, 0.2) + 0.05 * rng.standard_normal(60)
    popt, pcov = jl.curve_fit(f, (n, d), y, p0=[1.0, 1.0, 0.0])
    ref = scipy_fit(f_np, np.stack([n, d]), y, p0=[1.0, 1.0, 0.0])
    assert_matches(popt, pcov, *ref)
    # an array [k, n] is handed over as an array, [n, k] as [n, k]
    popt2, _ = jl.curve_fit(f, np.stack([n, d]), y, p0=[1.0, 1.0, 0.0])
    popt3, _ = jl.curve_fit(lambda x, a, b, c: f((x[:, 0], x[:, 1]), a, b, c), np.stack([n, d], 1), y,
                            p0=[1.0, 1.0, 0.0])
    np.testing.assert_allclose(popt2, popt, rtol=1e-9)
    np.testing.assert_allclose(popt3, popt, rtol=1e-9)


def sine(x, a, w):
    return a * jnp.sin(w * x)


def sine_np(x, a, w):
    return a * np.sin(w * x)


def test_many_p0_rows_pick_the_best():
    rng = np.random.default_rng(3)
    x = np.linspace(0.0, 10.0, 80)
    y = sine_np(x, 1.5, 2.3) + 0.1 * rng.standard_normal(80)
    rows = np.array([[1.0, w] for w in np.linspace(0.5, 4.0, 8)])
    refs = [scipy_fit(sine_np, x, y, p0=r) for r in rows]
    sse = np.array([np.sum((sine_np(x, *p) - y) ** 2) for p, _ in refs])
    assert sse.max() > 10 * sse.min()  # some rows end in other (local) minima: the test means something
    popt, pcov, res = jl.curve_fit(sine, x, y, p0=rows, full_output=True)
    assert res.n_starts == len(rows)
    np.testing.assert_allclose(res.objective, sse.min(), rtol=1e-9)
    assert_matches(popt, pcov, *refs[int(np.argmin(sse))])
    worst = rows[int(np.argmax(sse))]
    _, _, one = jl.curve_fit(sine, x, y, p0=worst, full_output=True)
    assert one.objective > 10 * res.objective


def test_full_output_and_names(decay_data):
    x, y, _ = decay_data
    popt, pcov, res = jl.curve_fit(decay, x, y, full_output=True)
    assert isinstance(res, jl.FitResult)
    assert res.law.param_names == ("a", "b", "c")
    assert list(res.params.values()) == list(popt)
    assert pcov.shape == (3, 3)
    # a second call with the same f and bounds reuses the compiled program
    _, _, again = jl.curve_fit(decay, x, y, full_output=True)
    assert again.timing["compile_s"] == 0.0


def test_star_args_take_names_from_p0(decay_data):
    x, y, _ = decay_data

    def f(x, *p):
        return p[0] * jnp.exp(-p[1] * x) + p[2]

    popt, _, res = jl.curve_fit(f, x, y, p0=[1.0, 1.0, 1.0], full_output=True)
    assert res.law.param_names == ("p0", "p1", "p2")
    np.testing.assert_allclose(popt, jl.curve_fit(decay, x, y)[0], rtol=1e-7)


def test_nan_policy_omit(decay_data):
    x, y, _ = decay_data
    y2 = y.copy()
    y2[[3, 17]] = np.nan
    keep = np.isfinite(y2)
    popt, _ = jl.curve_fit(decay, x, y2, nan_policy="omit")
    np.testing.assert_allclose(popt, jl.curve_fit(decay, x[keep], y[keep])[0], rtol=1e-9)
    with pytest.raises(jl.JaxlawsError, match="NaN or inf"):
        jl.curve_fit(decay, x, y2)


def test_parameter_on_a_bound_warns_and_has_no_covariance(decay_data):
    x, y, _ = decay_data
    with pytest.warns(jl.JaxlawsWarning, match="c is at its upper bound"):
        popt, pcov = jl.curve_fit(decay, x, y, bounds=([0, 0, 0], [10, 10, 0.1]))
    assert popt[2] == 0.1
    assert np.all(np.isnan(pcov[2])) and np.all(np.isfinite(pcov[:2, :2]))


def test_exact_fit_absolute_sigma_is_finite():
    x = np.linspace(0.0, 4.0, 20)
    y = decay_np(x, 2.0, 1.0, 0.5)
    _, pcov = jl.curve_fit(decay, x, y, absolute_sigma=True)
    _, ref = scipy_fit(decay_np, x, y, absolute_sigma=True)
    np.testing.assert_allclose(pcov, ref, rtol=1e-6)


def test_numpy_inside_f_is_one_clear_error(decay_data):
    x, y, _ = decay_data
    with pytest.raises(jl.JaxlawsError, match="f must use jax.numpy, not numpy"):
        jl.curve_fit(decay_np, x, y)

    def branchy(x, a, b, c):
        if a > 0:
            return a * jnp.exp(-b * x) + c
        return c + 0 * x

    with pytest.raises(jl.JaxlawsError, match="f must use jax.numpy, not numpy"):
        jl.curve_fit(branchy, x, y)


@pytest.mark.parametrize("kw, match", [
    ({"p0": [1.0, 1.0]}, "p0 has 2 values per row but f takes 3"),
    ({"p0": [1.0, 20.0, 1.0], "bounds": (0, 10)}, "p0 row 0: b = 20 is outside its bounds"),
    ({"bounds": ([0, 0], [1, 1])}, r"lower bounds have shape \(2,\)"),
    ({"bounds": (1, 0)}, "each lower bound must be below its upper bound"),
    ({"sigma": np.ones(3)}, r"sigma has shape \(3,\)"),
    ({"sigma": -1.0}, "sigma must be positive"),
    ({"sigma": np.eye(50)}, "covariance matrix is not supported"),
    ({"loss": "huber"}, "curve_fit minimises squares"),
    ({"nan_policy": "propagate"}, "nan_policy must be"),
])
def test_bad_input(decay_data, kw, match):
    x, y, _ = decay_data
    with pytest.raises(jl.JaxlawsError, match=match):
        jl.curve_fit(decay, x, y, **kw)


def test_bad_shapes(decay_data):
    x, y, _ = decay_data
    with pytest.raises(jl.JaxlawsError, match="xdata has 49 points but ydata has 50"):
        jl.curve_fit(decay, x[:-1], y)
    with pytest.raises(jl.JaxlawsError, match="must return one value per point"):
        jl.curve_fit(lambda x, a: a * jnp.ones(3), x, y)
    with pytest.raises(jl.JaxlawsError, match="cannot tell how many parameters"):
        jl.curve_fit(lambda x, *p: p[0] * x, x, y)
