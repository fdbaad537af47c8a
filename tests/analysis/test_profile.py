"""Profile-likelihood intervals: constrained refits at a grid of values, one engine call."""

import numpy as np
import pytest

import jaxlaws as jl
from jaxlaws.analysis.profile import profile, profiles, threshold

from conftest import capped_power_law


@jl.law(inputs=("x",), params={"a": jl.Param(-10.0, 10.0), "b": jl.Param(-10.0, 10.0)})
def line(p, x):
    return p["a"] + p["b"] * x["x"]


def _line_data(n=30, seed=0):
    rng = np.random.default_rng(seed)
    x = np.linspace(0.0, 2.0, n)
    return x, jl.datasets.from_arrays(x={"x": x}, y=1.0 + 0.7 * x + 0.2 * rng.standard_normal(n))


@pytest.mark.parametrize("level", [0.68, 0.95])
def test_linear_gaussian_profile_is_analytic(level):
    """y = a + b x, Gaussian noise, mse: profiling a out, Q(b) = Q_hat + (b - b_hat)^2 S_xx, and
    with the noise variance profiled too 2 dl = n ln(Q(b) / Q_hat). The chi2(1) threshold q is
    reached at b_hat +- sqrt(n (e^{q/n} - 1)) se_ML, se_ML = sqrt(Q_hat / (n S_xx)) (Wald's
    b_hat +- z se_ML as n -> oo: here the factor is 2.024 against z = 1.960 at 95%).

    Tolerance 1e-6 se: the refits' objectives are LM's linear least-squares optima (gap <=
    1e-9 relative, conftest.LM_LINEAR_GAP, moving the statistic by <= n * 1e-9 and the end point
    by < 1e-8 se), and the cubic interpolation in the signed root, whose curve
    u = b_hat + se z (1 + z^2 / 4n + ...) a cubic follows to O(h^4 / n^2) on a grid 0.25 se apart,
    leaves < 1e-7 se (measured: 6e-8 se)."""
    x, ds = _line_data()
    n = len(x)
    res = jl.fit(line, ds, loss="mse", starts=4)
    pr = profile(res, "b", level=level)
    b, a = np.polyfit(x, ds.y, 1)
    rss = np.sum((ds.y - a - b * x) ** 2)
    sxx = np.sum((x - x.mean()) ** 2)
    q = threshold(level)
    se_ml = np.sqrt(rss / (n * sxx))
    half = np.sqrt(n * (np.exp(q / n) - 1.0)) * se_ml
    np.testing.assert_allclose([pr.lo, pr.hi], [b - half, b + half], rtol=0, atol=1e-6 * se_ml)
    assert pr.lo_limit is None and pr.hi_limit is None and not pr.warnings
    # The statistic itself at every grid value is the closed form.
    np.testing.assert_allclose(pr.statistic, n * np.log1p((pr.values - b) ** 2 * sxx / rss), rtol=1e-6, atol=1e-9)
    assert threshold(0.95) == pytest.approx(3.841458820694124, rel=1e-12)


def test_every_parameter_in_one_call(monkeypatch):
    calls = []
    solve = jl.engine.solve

    def counting(*a, **k):
        calls.append(a[0].n_lanes)
        return solve(*a, **k)

    _, ds = _line_data(seed=1)
    res = jl.fit(line, ds, loss="mse", starts=4)
    monkeypatch.setattr(jl.engine, "solve", counting)
    ps = profiles(res, n_side=10)
    assert len(calls) == 1 and set(ps) == {"a", "b"}
    # 21 values each, from the regression-line start and the fit's distinct basins.
    assert calls[0] >= 2 * 21 and all(len(p.values) == 21 for p in ps.values())
    for k, p in ps.items():
        assert p.lo < res.params[k] < p.hi
        assert p.estimate in p.values  # the estimate is a grid value, its statistic 0
        assert p.statistic[np.argmin(np.abs(p.values - p.estimate))] == pytest.approx(0.0, abs=1e-9)


def test_interval_into_a_bound_is_flagged():
    rng = np.random.default_rng(2)
    x = np.logspace(1, 3, 20)
    ds = jl.datasets.from_arrays(x={"x": x}, y=3.0 * x**-0.29 * np.exp(0.05 * rng.standard_normal(20)))
    law = capped_power_law(0.3)
    res = jl.fit(law, ds, loss="mse-log", starts=4)
    pr = profile(res, "alpha", level=0.95)
    assert pr.hi_limit == "bound" and pr.hi == 0.3 and pr.lo_limit is None
    assert any("upper bound 0.3" in w for w in pr.warnings)
    narrow = profile(res, "A", span=0.3)
    assert narrow.lo_limit == "grid" and narrow.hi_limit == "grid"


def test_a_refit_below_the_fit_is_reported():
    _, ds = _line_data(seed=3)
    with pytest.warns(jl.JaxlawsWarning, match="did not converge"):
        poor = jl.fit(line, ds, loss="mse", starts=np.array([[0.0, 0.0]]), max_steps=1, precision="float64")
    pr = profile(poor, "b", n_side=5, span=50.0)
    assert any("not the optimum" in w for w in pr.warnings)


def test_refusals():
    _, ds = _line_data()
    res = jl.fit(line, ds, loss="mse", starts=4)
    with pytest.raises(jl.JaxlawsError, match="no parameter 'c'"):
        profile(res, "c")
    with pytest.raises(jl.JaxlawsError, match="held fixed"):
        profile(jl.fit(line.fix(a=1.0), ds, loss="mse", starts=4), "a")
    with pytest.raises(jl.JaxlawsError, match="n_side"):
        profile(res, "b", n_side=1)
    with pytest.raises(jl.JaxlawsError, match="inside its bounds"):
        profile(res, "b", values={"b": [20.0]})


def test_chinchilla_profile_against_bootstrap(chinchilla_law, epoch_data):
    """huber-log:1e-3 on chinchilla_epoch: the calibrated profile's width is the sandwich's at
    second order, so its ratio to the pairs bootstrap's width follows the sandwich-to-bootstrap
    SE ratio (diagnostics: E ~1.0, alpha ~1.24, beta ~0.74), with the profile's own asymmetry on
    top. Measured (B = 1,000): width ratios E 1.04, alpha 1.26, beta 0.76 against SE ratios
    1.04, 1.24, 0.73. Allowed: 15% (log) between the two ratios -- the bootstrap's 95% end
    points carry ~3-4% Monte Carlo error at B = 1,000 and the profile's asymmetry a few % more --
    and the two intervals must overlap over most of the shorter one."""
    res = jl.fit(chinchilla_law, epoch_data, loss="huber-log:1e-3")
    ps = profiles(res, ["E", "alpha", "beta"])
    boot = jl.bootstrap(chinchilla_law, epoch_data, n=1000, fit=res, progress=False)
    ci = boot.ci(0.95)
    for k in ("E", "alpha", "beta"):
        p = ps[k]
        assert p.lo_limit is None and p.hi_limit is None and "huber" in p.calibration
        w_prof, w_boot = p.hi - p.lo, ci[k][1] - ci[k][0]
        ratio_se = res.se[k] / boot.se[k]
        assert abs(np.log(w_prof / w_boot) - np.log(ratio_se)) < 0.15, (k, w_prof / w_boot, ratio_se)
        overlap = min(p.hi, ci[k][1]) - max(p.lo, ci[k][0])
        assert overlap > 0.6 * min(w_prof, w_boot)
