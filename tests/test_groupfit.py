"""fit_groups: one fit per group in one batched call, each with its status and diagnostics."""

import numpy as np
import pytest

import jaxlaws as jl
from conftest import capped_power_law


def test_each_group_has_its_status_and_diagnostics_and_the_warnings_name_the_groups():
    # Group "steep" wants alpha = 0.8, beyond the law's cap of 0.3: its alpha ends on the upper
    # bound, and only that group is named. Group "ok" (alpha 0.2) is an ordinary fit.
    x = np.tile(np.logspace(1, 4, 20), 2)
    g = np.repeat(["ok", "steep"], 20)
    y = np.where(g == "ok", 5.0 * x**-0.2, 5.0 * x**-0.8) * np.exp(0.01 * np.random.default_rng(0).standard_normal(40))
    data = jl.datasets.from_arrays(x={"x": x}, y=y, groups=g)
    gf = jl.fit_groups(capped_power_law(0.3), data, loss="mse-log", starts=16)
    assert list(gf.labels) == ["ok", "steep"] and gf.converged.all()
    ok, steep = gf.diagnostics
    assert ok.at_bound == {} and np.isfinite(ok.se["alpha"])
    assert steep.at_bound == {"alpha": "upper"} and np.isnan(steep.se["alpha"])
    assert gf.params_of("steep")["alpha"] == 0.3
    assert gf.warnings == ["alpha at its upper bound in 1 of 2 groups (steep): its standard error there is not defined"]
    # each group's SE is that group's own: equal to the SE of a fit of that group alone (same
    # optimum to solver tolerance; the Gauss-Newton covariance there agrees to ~1e-6 relative)
    alone = jl.fit(capped_power_law(0.3), data.subset(g == "ok"), loss="mse-log", starts=16)
    np.testing.assert_allclose(ok.se["alpha"], alone.se["alpha"], rtol=1e-6)
    assert sum(gf.status_counts.values()) == 2
    assert all(jl.Status[k.upper()].converged for k in gf.status_counts)


def _two_groups():
    x = np.tile(np.logspace(1, 4, 20), 2)
    g = np.repeat(["a", "b"], 20)
    y = np.where(g == "a", 5.0, 8.0) * x**-0.3 * np.exp(0.01 * np.random.default_rng(1).standard_normal(40))
    return jl.datasets.from_arrays(x={"x": x}, y=y, groups=g)


def test_on_a_par_with_fit_precision_timing_report_and_json():
    data = _two_groups()
    gf = jl.fit_groups("power_law", data, loss="mse-log", starts=8)
    assert gf.precision == "mixed" and gf.loss == "mse-log" and gf.solver == "lm" and gf.device
    assert set(gf.timing) == {"compile_s", "run_s"} and gf.timing["run_s"] >= 0
    # mixed precision gives each group the float64 fit's answer: equal to a float64 fit to
    # the solver's tolerance (ftol 1e-14 on f: parameters to ~1e-7 of their SEs; 1e-6 relative)
    f64 = jl.fit_groups("power_law", data, loss="mse-log", starts=8, precision="float64")
    np.testing.assert_allclose(gf.params, f64.params, rtol=1e-6)
    d = gf.to_dict()
    assert d["n_groups"] == 2 and [e["group"] for e in d["groups"]] == ["a", "b"]
    assert set(d["groups"][0]["params"]) == {"A", "alpha"} and d["precision"] == "mixed"
    assert sum(d["lane_status_counts"].values()) == 16
    text = gf.report()
    assert "2 groups" in text and "mixed" in text and text.count("\n  a ") + text.count("\n  b ") == 2


def test_a_group_that_does_not_converge_warns_or_raises():
    data = _two_groups()
    with pytest.warns(jl.JaxlawsWarning, match="did not converge"):
        gf = jl.fit_groups("power_law", data, loss="mse-log", starts=2, max_steps=1, precision="float64")
    assert not gf.converged.any() and gf.status_counts == {"max_steps": 2}
    with pytest.raises(jl.JaxlawsError, match="2 of 2 groups did not converge"):
        jl.fit_groups("power_law", data, loss="mse-log", starts=2, max_steps=1, precision="float64", throw=True)


def test_fixed_parameters_in_every_group():
    data = _two_groups()
    gf = jl.fit_groups(jl.laws.get("power_law").fix(alpha=0.3), data, loss="mse-log", starts=4)
    assert gf.params.shape == (2, 1) and gf.params_of("a")["alpha"] == 0.3
    assert gf.to_dict()["groups"][1]["se"]["alpha"] == 0.0
