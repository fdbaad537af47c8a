"""fit_groups: one fit per group in one batched call, each with its status and diagnostics."""

import numpy as np

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
