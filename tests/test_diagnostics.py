"""diagnose(): covariance against curve_fit and the bootstrap, bounds, identifiability, AIC/BIC."""

import json
import math

import numpy as np
import pytest
from scipy.optimize import curve_fit

import jaxlaws as jl
from jaxlaws.analysis import compare
from jaxlaws.diagnostics import Diagnostics, diagnose, information
from jaxlaws.fit import make_problem

from conftest import EPS, capped_power_law

MSE, MSE_LOG, HUBER = (jl.losses.parse(s) for s in ("mse", "mse-log", "huber-log:1e-3"))


def _diagnose_problem(prob, theta, **kw):
    return diagnose(prob.law, prob.loss, prob.data.inputs, prob.obs, prob.weights, theta, **kw)


# ---- covariance: equal to curve_fit's pcov for mse ------------------------------------------

def _offset_model(x, A, alpha, E):
    return A * x**-alpha + E


def _offset_jac(x, A, alpha, E):
    return np.stack([x**-alpha, -A * x**-alpha * np.log(x), np.ones_like(x)], axis=1)


@pytest.mark.parametrize("weighted", [False, True])
def test_mse_covariance_is_curve_fit_pcov(weighted):
    rng = np.random.default_rng(3)
    x = np.logspace(1, 5, 30)
    y = 50 * x**-0.5 + 2 + 0.02 * rng.standard_normal(x.size)
    w = rng.uniform(0.2, 5.0, x.size) if weighted else np.ones(x.size)
    # The optimum to float64 accuracy: curve_fit with the analytic Jacobian and tolerances at eps;
    # both sides are then evaluated at this same point, so only rounding separates them.
    popt, pcov = curve_fit(_offset_model, x, y, p0=[40, 0.4, 1], jac=_offset_jac, sigma=1 / np.sqrt(w),
                           xtol=1e-15, ftol=1e-15, gtol=1e-15)
    law = jl.laws.get("power_law_offset")
    d = diagnose(law, MSE, {"x": x}, y, w, law.to_internal(popt))
    assert d.covariance.startswith("gauss-newton")
    # s^2 (J^T W J)^-1 from two exact Jacobians (hand-written, forward-mode AD), inverted by SVD:
    # the relative error of each entry is of order cond(sqrt(W) J) * eps (cond ~ 700 here). 10x that
    # leaves room for the summation order and still catches any wrong factor (n vs n - p is 11%).
    Jw = _offset_jac(x, *popt) * np.sqrt(w)[:, None]
    tol = 10 * np.linalg.cond(Jw) * EPS
    np.testing.assert_allclose(d.cov, pcov, rtol=tol, atol=0)
    np.testing.assert_allclose(list(d.se.values()), np.sqrt(np.diag(pcov)), rtol=tol)
    assert d.warnings == ()  # a well-determined optimum: nothing to warn about
    assert (d.n_obs, d.n_free, d.dof) == (30, 3, 27)


def test_mse_log_covariance_closed_form():
    """A power law in log space is linear regression: cov = s^2 (X^T X)^-1 exactly."""
    rng = np.random.default_rng(4)
    x = np.logspace(1, 6, 25)
    ly = np.log(50.0) - 0.5 * np.log(x) + 0.05 * rng.standard_normal(x.size)
    X = np.stack([np.ones_like(x), -np.log(x)], axis=1)
    beta, rss, *_ = np.linalg.lstsq(X, ly, rcond=None)
    cov = rss[0] / (x.size - 2) * np.linalg.inv(X.T @ X)
    d = diagnose(jl.laws.get("power_law"), MSE_LOG, {"x": x}, ly, np.ones(x.size), beta)
    tol = 10 * np.linalg.cond(X) * EPS
    np.testing.assert_allclose(d.cov_internal, cov, rtol=tol)
    # Natural units by the delta method: A = exp(a), so var(A) = A^2 var(a).
    A = math.exp(beta[0])
    np.testing.assert_allclose(d.se["A"], A * math.sqrt(cov[0, 0]), rtol=tol)
    np.testing.assert_allclose(d.se["alpha"], math.sqrt(cov[1, 1]), rtol=tol)


# ---- Chinchilla: the robust covariance against the bootstrap ---------------------------------

@pytest.fixture(scope="module")
def chinchilla_fit(chinchilla_law, epoch_data):
    res = jl.fit(chinchilla_law, epoch_data, loss="huber-log:1e-3", starts=64)
    # The published optimum (Besiroglu et al. 2024) to its printed digits: the fit below is that fit.
    assert res.objective == pytest.approx(1.01827e-3, rel=1e-5)
    prob = make_problem(chinchilla_law, epoch_data, "huber-log:1e-3")
    return res, prob, _diagnose_problem(prob, res.theta)


# Pairs bootstrap, 4,000 resamples, Epoch AI's protocol (reference figures, natural units).
BOOTSTRAP_SE = {"alpha": 0.0149, "beta": 0.0203, "E": 0.0256}


def test_chinchilla_robust_se_near_bootstrap(chinchilla_fit):
    res, _, d = chinchilla_fit
    assert d.covariance.startswith("sandwich (huber)")
    assert d.at_bound == {} and d.flat_directions == ()
    # Why a factor 1.5 and not 1.1: the sandwich is a first-order (asymptotic) estimate, the
    # bootstrap a finite-sample one of a fit whose curvature is five orders smaller along
    # (A, alpha) and (B, beta) than across them (scaled singular values 3e-3 of the largest), so
    # nonlinearity widens the resampled spread; the
    # log residuals are heavy-tailed (sd 0.0075 vs 1.48 MAD 0.0049), and with delta = 1e-3 far
    # below them the fit is nearly a median regression, whose bread is a density at zero
    # estimated from a few dozen points near it (relative noise ~ 1/sqrt(76) ~ 12% in the
    # bread, twice that in the variance); and the bootstrap SE itself, from 4,000 resamples of
    # 240 points with clustered designs (one N, several D), is not exact. The alternatives this
    # estimator was chosen over are outside 1.5 on this data (Huber's 1981 homoscedastic form:
    # beta 0.42; the unsmoothed sandwich: alpha 1.72), so the test tells them apart.
    for k, ref in BOOTSTRAP_SE.items():
        assert 1 / 1.5 < d.se[k] / ref < 1.5, (k, d.se[k], ref)
    assert all(np.isfinite(list(d.se.values())))
    # A and alpha (and B and beta) are known to trade off: the diagnostics say so.
    pairs = {(a, b) for a, b, _ in d.high_corr}
    assert pairs == {("A", "alpha"), ("B", "beta")}
    assert sum("correlated" in w for w in d.warnings) == 2
    assert not any("optimum" in w for w in d.warnings)


def test_chinchilla_theta_off_the_optimum_is_flagged(chinchilla_fit):
    res, prob, _ = chinchilla_fit
    theta = np.array(res.theta, np.float64)
    theta[4] += 0.05  # beta moved by ~3 standard errors
    d = _diagnose_problem(prob, theta)
    assert d.warnings[0].startswith("theta is not at an optimum")


def test_single_model_size_is_not_identifiable(chinchilla_fit):
    """One N: A N^-alpha is a constant, confounded with E; the data fix beta and B only."""
    rng = np.random.default_rng(1)
    D = np.logspace(9, 12, 240)  # 240 points: the engine reuses the program compiled for the fixture
    N = np.full_like(D, 4e8)
    y = (1.8 + 480 * N**-0.34 + 2100 * D**-0.37) * np.exp(0.005 * rng.standard_normal(D.size))
    ds = jl.datasets.from_arrays(x={"N": N, "D": D}, y=y)
    res = jl.fit("chinchilla", ds, loss="huber-log:1e-3", starts=64)
    d = _diagnose_problem(make_problem("chinchilla", ds, "huber-log:1e-3"), res.theta)
    confounded = {"E", "A", "alpha"}
    text = " ".join(d.warnings)
    # Each of E, A, alpha is either at a bound or has no finite standard error, and is named.
    for k in confounded:
        assert k in d.at_bound or not np.isfinite(d.se[k]), k
        assert k in text
    assert d.flat_directions
    for f in d.flat_directions:
        assert any(lbl in f for lbl in ("log(E)", "log(A)", "alpha")), f
        assert "beta" not in f and "log(B)" not in f
    assert np.isfinite(d.se["beta"]) and np.isfinite(d.se["B"])
    assert d.singular_values[-1] < 1e-6 * d.singular_values[0]


def test_singular_jacobian_gives_inf_not_an_exception():
    """y = A B x^-alpha + C D: only A*B and C*D are determined; J has two pairs of equal columns."""
    scale = dict(lower=1e-3, upper=1e6, scale="log")

    @jl.law(inputs=("x",), params={"A": jl.Param(**scale), "B": jl.Param(**scale), "alpha": jl.Param(0.0, 3.0),
                                   "C": jl.Param(**scale), "D": jl.Param(**scale)})
    def twice(p, x):
        return p["A"] * p["B"] * x["x"] ** -p["alpha"] + p["C"] * p["D"]

    rng = np.random.default_rng(5)
    x = np.logspace(1, 5, 30)
    y = 50 * x**-0.5 + 2 + 0.02 * rng.standard_normal(x.size)
    popt, _ = curve_fit(_offset_model, x, y, p0=[40, 0.4, 1], jac=_offset_jac, xtol=1e-15, ftol=1e-15, gtol=1e-15)
    ab, alpha, cd = popt
    theta = np.array([np.log(ab) / 2, np.log(ab) / 2, alpha, np.log(cd) / 2, np.log(cd) / 2])
    d = diagnose(twice, MSE, {"x": x}, y, np.ones(x.size), theta)
    assert [d.se[k] for k in "ABCD"] == [math.inf] * 4
    assert np.isnan(d.corr[0, 2]) and np.isnan(d.cov[0, 1])
    # alpha is estimable: its SE is the 3-parameter model's (with this law's n - 5 degrees of
    # freedom), whatever generalised inverse is used.
    J = _offset_jac(x, *popt)
    rss = float(np.sum((_offset_model(x, *popt) - y) ** 2))
    assert d.se["alpha"] == pytest.approx(math.sqrt(rss / (x.size - 5) * np.linalg.inv(J.T @ J)[1, 1]), rel=1e-9)
    assert d.warnings[0].startswith("J^T W J is singular: the data do not determine A, B, C, D")
    # One degeneracy per vector, not a rotation mixing the two.
    assert d.flat_directions == ("0.71*log(A) - 0.71*log(B)", "0.71*log(C) - 0.71*log(D)")


@pytest.mark.parametrize("loss", [MSE_LOG, HUBER])
def test_no_degrees_of_freedom_and_exact_fits_warn(loss):
    law = jl.laws.get("power_law")
    x = np.array([10.0, 100.0])
    ly = np.log(50.0) - 0.5 * np.log(x) + np.array([0.01, -0.02])
    theta = np.linalg.solve(np.stack([np.ones(2), -np.log(x)], axis=1), ly)  # 2 points, 2 parameters
    d = diagnose(law, loss, {"x": x}, ly, np.ones(2), theta)
    assert d.dof == 0 and d.se == {"A": math.inf, "alpha": math.inf}
    assert any(w.startswith("2 observations for 2 free parameters") for w in d.warnings)
    # Noise-free data: residuals are rounding; zero standard errors must not pass for certainty.
    x = np.logspace(1, 3, 5)
    d = diagnose(law, loss, {"x": x}, np.log(5.0) - 0.3 * np.log(x), np.ones(5), np.array([np.log(5.0), 0.3]))
    assert d.warnings[0].startswith("the law fits the data exactly") and len(d.warnings) == 1
    assert d.se["alpha"] < 1e-12


# ---- bounds ------------------------------------------------------------------------------------

def _capped_fit(offset=0.0):
    """y = A x^-0.5 fitted with alpha boxed in [0, 0.3]: the optimum sits on alpha = 0.3."""
    law = capped_power_law(0.3)
    rng = np.random.default_rng(6)
    x = np.logspace(1, 6, 20)
    ly = np.log(50.0) - 0.5 * np.log(x) + 0.05 * rng.standard_normal(x.size)
    a = float(np.mean(ly + 0.3 * np.log(x)))  # the best log(A) given alpha = 0.3 (closed form)
    theta = np.array([a, 0.3 - offset])
    return law, x, ly, theta, diagnose(law, MSE_LOG, {"x": x}, ly, np.ones(x.size), theta)


def test_parameter_at_bound_is_named_and_held():
    law, x, ly, theta, d = _capped_fit()
    assert d.at_bound == {"alpha": "upper"}
    assert np.isnan(d.se["alpha"]) and np.isnan(d.se_internal["alpha"])
    assert np.all(np.isnan(d.cov[1])) and np.all(np.isnan(d.cov[:, 1]))
    assert d.warnings[0].startswith("alpha is at its upper bound 0.3: its standard error is not defined")
    # A is conditional on alpha = 0.3: log(A) is a mean, SE s/sqrt(n) with s^2 = RSS/(n - 1).
    r = theta[0] - theta[1] * np.log(x) - ly
    se_a = math.sqrt(np.sum(r**2) / (x.size - 1) / x.size)
    assert d.se_internal["A"] == pytest.approx(se_a, rel=1e-12)
    assert (d.n_free, d.dof) == (1, 19)
    # A float32 run leaves theta at float32(0.3), 1.2e-8 off: still on the bound.
    assert _capped_fit(offset=0.3 - float(np.float32(0.3)))[-1].at_bound == {"alpha": "upper"}


def test_near_but_not_at_bound_is_free_and_flagged_as_not_optimal():
    *_, d = _capped_fit(offset=1e-3)
    assert d.at_bound == {}
    assert np.isfinite(d.se["alpha"])
    # The objective still falls toward the bound: theta is not an optimum of the box problem's free
    # coordinates, and the warning says so before anything else.
    assert d.warnings[0].startswith("theta is not at an optimum")


# ---- correlation -------------------------------------------------------------------------------

@pytest.mark.parametrize("lo, hi, flagged", [(1e5, 2e5, True), (1e1, 1e6, False)])
def test_high_correlation_flagged(lo, hi, flagged):
    rng = np.random.default_rng(7)
    x = np.geomspace(lo, hi, 30)
    ly = np.log(50.0) - 0.5 * np.log(x) + 0.01 * rng.standard_normal(x.size)
    X = np.stack([np.ones_like(x), -np.log(x)], axis=1)
    beta, *_ = np.linalg.lstsq(X, ly, rcond=None)
    C = np.linalg.inv(X.T @ X)
    corr = C[0, 1] / math.sqrt(C[0, 0] * C[1, 1])  # the regression's correlation of (log A, alpha)
    d = diagnose(jl.laws.get("power_law"), MSE_LOG, {"x": x}, ly, np.ones(x.size), beta)
    assert d.corr[0, 1] == pytest.approx(corr, rel=1e-9)
    assert (abs(corr) > 0.99) == flagged
    if flagged:
        assert [(a, b) for a, b, _ in d.high_corr] == [("A", "alpha")]
        assert d.high_corr[0][2] == pytest.approx(corr, rel=1e-9)
        assert any(w.startswith("A and alpha are correlated") for w in d.warnings)
    else:
        assert d.high_corr == () and d.warnings == ()


# ---- likelihood --------------------------------------------------------------------------------

def test_information_formulas():
    rng = np.random.default_rng(8)
    r = 0.1 * rng.standard_normal(50)
    w = rng.uniform(0.5, 2.0, 50)
    w[:5] = 0.0  # zero weight: not an observation
    k = 3
    n, rss, slw = 45, np.sum(w * r * r), np.sum(np.log(w[5:]))
    ll, aic, bic = information(r, w, k)
    assert ll == pytest.approx(-n / 2 * (np.log(2 * np.pi * rss / n) + 1) + slw / 2, rel=1e-12)
    assert aic == pytest.approx(-2 * ll + 2 * k - n * (np.log(2 * np.pi) + 1), rel=1e-12)
    assert bic == pytest.approx(aic - 2 * k + k * np.log(n), rel=1e-12)
    # Scaling every weight by one constant changes nothing.
    np.testing.assert_allclose(information(r, 7.0 * w, k), (ll, aic, bic), rtol=1e-12)
    # Unit weights: lmfit's (and compare's) n ln(RSS/n) + 2k and n ln(RSS/n) + k ln n, to the bit.
    rss1 = float(np.sum(r * r))
    _, aic1, bic1 = information(r, np.ones(50), k)
    assert aic1 == 50 * np.log(rss1 / 50) + 2 * k
    assert bic1 == 50 * np.log(rss1 / 50) + k * np.log(50)


def test_compare_uses_the_same_information(epoch_data):
    prob = make_problem("chinchilla", epoch_data, "huber-log:1e-3")
    pred = prob.obs + 0.01 * np.random.default_rng(9).standard_normal(prob.obs.size)
    r = pred - prob.obs
    n, rss = r.size, float(np.sum(r * r))
    # compare's formula before it called diagnostics.information, unchanged to the last bit.
    assert compare._information(prob, pred, 5) == (n * np.log(rss / n) + 10, n * np.log(rss / n) + 5 * np.log(n))


def test_diagnose_likelihood_counts_free_parameters():
    law, x, ly, theta, d = _capped_fit()
    r = theta[0] - theta[1] * np.log(x) - ly
    assert (d.loglik, d.aic, d.bic) == pytest.approx(information(r, np.ones(x.size), 1), rel=1e-12)
    assert "k = n_free = 1" in d.likelihood


# ---- output and input ----------------------------------------------------------------------------

def test_to_dict_is_json():
    *_, d = _capped_fit()
    out = json.loads(json.dumps(d.to_dict()))
    assert set(out) == {f.name for f in Diagnostics.__dataclass_fields__.values()}
    assert math.isnan(out["se"]["alpha"]) and out["at_bound"] == {"alpha": "upper"}
    assert out["se"]["A"] == d.se["A"]
    assert len(out["cov"]) == 2 and all(len(row) == 2 for row in out["cov"])


def test_bad_input_raises_one_line():
    law, x, ly, theta, _ = _capped_fit()
    w = np.ones(x.size)
    cases = [
        (dict(loss="mse-log"), "loss must be"),
        (dict(obs=ly[:-1]), "must have shape"),
        (dict(weights=-w), "non-negative"),
        (dict(theta=np.array([theta[0], 0.5])), "outside law"),
        (dict(X={}), "missing"),
    ]
    for change, msg in cases:
        args = dict(law=law, loss=MSE_LOG, X={"x": x}, obs=ly, weights=w, theta=theta) | change
        with pytest.raises(jl.JaxlawsError, match=msg) as e:
            diagnose(**args)
        assert "\n" not in str(e.value)


def test_compile_ahead_never_raises_and_leaves_the_diagnosis_unchanged(no_program_store):
    from jaxlaws import diagnostics
    from jaxlaws.diagnostics import compile_ahead, diagnose

    law = jl.laws.get("chinchilla")
    ds = jl.datasets.load("chinchilla_epoch")
    prob = jl.problem.make_problem(law, ds, "huber-log:1e-3")
    theta = law.to_internal(np.array([1.8, 480.0, 2100.0, 0.35, 0.37]))
    before = diagnose(law, prob.loss, prob.inputs, prob.obs, prob.weights, theta)
    compile_ahead(law, prob.loss, prob.inputs, prob.obs[:-1], prob.weights)  # wrong shape: diagnose would raise
    compile_ahead(law, prob.loss, {}, prob.obs, prob.weights)  # no inputs: diagnose would raise
    after = diagnose(law, prob.loss, prob.inputs, prob.obs, prob.weights, theta)
    np.testing.assert_array_equal(after.cov, before.cov)
    # A law's programs begun ahead (compiled on a background thread) give the same diagnosis.
    diagnostics._PROGRAMS.clear()
    compile_ahead(law, prob.loss, prob.inputs, prob.obs, prob.weights)
    assert any(isinstance(p, diagnostics.concurrent.futures.Future) for p in diagnostics._PROGRAMS.values())
    ahead = diagnose(law, prob.loss, prob.inputs, prob.obs, prob.weights, theta)
    np.testing.assert_array_equal(ahead.cov, before.cov)
