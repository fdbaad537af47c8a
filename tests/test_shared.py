"""fit_groups(shared=...): some parameters common to every group, the rest per group, in one
joint fit; compared against separate fits."""

import json

import jax.numpy as jnp
import numpy as np
import pytest

import jaxlaws as jl


def _groups(seed=0, E=1.0, sigma=0.01, n=20):
    rng = np.random.default_rng(seed)
    x = np.tile(np.logspace(1, 5, n), 3)
    g = np.repeat(["a", "b", "c"], n)
    A = np.select([g == "a", g == "b"], [3.0, 5.0], 8.0)
    y = (A * x**-0.3 + E) * np.exp(sigma * rng.standard_normal(3 * n))
    return jl.datasets.from_arrays(x={"x": x}, y=y, groups=g)


def _by_hand():
    """power_law_offset over groups a, b, c with E shared, written out as one law."""
    P = jl.laws.get("power_law_offset").params
    params = {"E": P["E"], **{f"A_{g}": P["A"] for g in "abc"}, **{f"alpha_{g}": P["alpha"] for g in "abc"}}

    @jl.law(inputs=("x", "g"), params=params, name="offset_shared_by_hand")
    def by_hand(p, x):
        g = x["g"]
        A = jnp.where(g == 0, p["A_a"], jnp.where(g == 1, p["A_b"], p["A_c"]))
        alpha = jnp.where(g == 0, p["alpha_a"], jnp.where(g == 1, p["alpha_b"], p["alpha_c"]))
        return A * x["x"] ** -alpha + p["E"]

    return by_hand


def test_shared_fit_equals_the_joint_law_written_by_hand():
    data = _groups()
    sf = jl.fit_groups("power_law_offset", data, loss="mse-log", starts=16, shared=["E"])
    assert isinstance(sf, jl.SharedFit) and sf.status.converged
    gi = np.select([data.groups == "a", data.groups == "b"], [0.0, 1.0], 2.0)
    hand_data = jl.datasets.from_arrays(x={"x": data.inputs["x"], "g": gi}, y=data.y)
    hand = jl.fit(_by_hand(), hand_data, loss="mse-log", starts=64)
    # Both converge to the same optimum (ftol 1e-14 on f): objectives to 1e-12 relative,
    # parameters to ~1e-7 of their SEs, so 1e-6 relative.
    assert sf.objective == pytest.approx(hand.objective, rel=1e-12)
    for g in "abc":
        p = sf.params_of(g)
        assert p["E"] == pytest.approx(hand.params["E"], rel=1e-6)
        assert p["A"] == pytest.approx(hand.params[f"A_{g}"], rel=1e-6)
        assert p["alpha"] == pytest.approx(hand.params[f"alpha_{g}"], rel=1e-6)
    assert len({sf.params_of(g)["E"] for g in "abc"}) == 1  # one E for all
    # The same function: the objective of both laws at the same point agrees to rounding.
    theta_hand = hand.law.to_internal(hand.params)
    joint_theta = sf.fit.law.to_internal({"E": hand.params["E"],
                                          **{f"A[{g}]": hand.params[f"A_{g}"] for g in "abc"},
                                          **{f"alpha[{g}]": hand.params[f"alpha_{g}"] for g in "abc"}})
    r_joint = sf.fit.problem.fitted(joint_theta)
    r_hand = hand.problem.fitted(theta_hand)
    np.testing.assert_allclose(r_joint, r_hand, rtol=1e-15, atol=0)
    # predictions at new points go to each point's group
    x_new = {"x": np.array([1e6, 1e6])}
    np.testing.assert_allclose(sf.predict(x_new, ["a", "c"]),
                               [sf.law.predict(sf.params_of(g), {"x": [1e6]})[0] for g in "ac"], rtol=1e-15)
    json.dumps(sf.to_dict(), allow_nan=False)
    assert "shared E across 3 groups" in sf.report()
    # k counts: 1 shared + 3 x 2 per group = 7, against 9 separate
    assert (sf.comparison.k_shared, sf.comparison.k_separate, sf.comparison.df) == (7, 9, 2)


def test_the_f_test_rejects_a_true_null_at_its_nominal_rate():
    # Under the null (alpha truly shared) power_law with mse-log is a linear Gaussian model in
    # log space, where the F test is exact: P(p < 0.1) = 0.1. 200 datasets: binomial sd
    # sqrt(0.1 * 0.9 / 200) = 0.021; [0.045, 0.155] is the rate +- 2.6 sd (a correct test fails
    # it with probability ~1%; one that miscounted the degrees of freedom would not pass).
    rng = np.random.default_rng(7)
    x = np.tile(np.logspace(1, 4, 8), 3)
    g = np.repeat(["a", "b", "c"], 8)
    A = np.select([g == "a", g == "b"], [3.0, 5.0], 8.0)
    p_values, lr_p = [], []
    for _ in range(200):
        y = A * x**-0.4 * np.exp(0.05 * rng.standard_normal(24))
        sf = jl.fit_groups("power_law", jl.datasets.from_arrays(x={"x": x}, y=y, groups=g), loss="mse-log",
                           starts=4, shared=["alpha"])
        p_values.append(sf.comparison.f_p)
        lr_p.append(sf.comparison.lr_p)
    rate = np.mean(np.array(p_values) < 0.1)
    assert 0.045 <= rate <= 0.155, rate
    # the chi2 likelihood ratio is anti-conservative at n = 24 (it rejects at least as often)
    assert np.mean(np.array(lr_p) < 0.1) >= rate


def test_a_shared_parameter_that_differs_is_rejected():
    # E differs by 0.5 between groups with 1% noise: the shared-E fit is far worse.
    data = _groups(sigma=0.01)
    y = data.y * np.where(data.groups == "c", 1.3, 1.0)
    data = jl.datasets.from_arrays(x=data.inputs, y=y, groups=data.groups)
    sf = jl.fit_groups("power_law", data, loss="mse-log", starts=8, shared=["alpha"])
    assert sf.comparison.f_p < 1e-6 and sf.comparison.aic_shared > sf.comparison.aic_separate


def test_bad_shared_requests():
    data = _groups()
    with pytest.raises(jl.JaxlawsError, match=r"shared= names \['Q'\], not free parameters"):
        jl.fit_groups("power_law_offset", data, shared=["Q"])
    with pytest.raises(jl.JaxlawsError, match="are fixed"):
        jl.fit_groups(jl.laws.get("power_law_offset").fix(E=1.0), data, shared=["E"])
    with pytest.raises(jl.JaxlawsError, match="has no groups"):
        jl.fit_groups("power_law_offset", jl.datasets.from_arrays(x=data.inputs, y=data.y), shared=["E"])
    with pytest.raises(jl.JaxlawsError, match="shared= is empty"):
        jl.fit_groups("power_law_offset", data, shared=[])


def test_huber_reports_no_likelihood_test():
    sf = jl.fit_groups("power_law_offset", _groups(), loss="huber-log:1e-2", starts=8, shared=["E"])
    c = sf.comparison
    assert c.f_p is None and c.lr_p is None and "AIC/BIC" in c.note and np.isfinite(c.aic_shared)


def test_a_group_ending_on_a_log_scale_bound_and_a_single_group():
    # Group "c" wants A = 1e-9, below power_law's lower bound 1e-8: its separate fit ends on
    # the bound, where exp(log(1e-8)) = 9.999999999999982e-09 reads as outside it; the shared fit
    # starts there all the same.
    data = _groups()
    y = np.where(data.groups == "c", 1e-9 * data.inputs["x"] ** -0.3, data.y)
    data = jl.datasets.from_arrays(x=data.inputs, y=y, groups=data.groups)
    sf = jl.fit_groups("power_law", data, loss="mse-log", starts=8, shared=["alpha"])
    assert sf.separate.diagnostics[2].at_bound == {"A": "lower"}
    assert np.isfinite(sf.objective) and sf.params_of("c")["A"] == pytest.approx(1e-8, rel=1e-14)  # exp(log(.)) rounding
    one = jl.datasets.from_arrays(x=data.inputs, y=data.y, groups=np.repeat("a", data.n_points))
    with pytest.raises(jl.JaxlawsError, match="needs at least 2 groups"):
        jl.fit_groups("power_law_offset", one, shared=["E"])
