"""design(): where one more run narrows the interval at the target most."""

import numpy as np
import pytest

import jaxlaws as jl
from jaxlaws.analysis.design import design


def _power_fit(n=12, seed=0):
    rng = np.random.default_rng(seed)
    x = np.logspace(1, 3, n)
    ds = jl.datasets.from_arrays(x={"x": x}, y=2.0 * x**-0.3 * np.exp(0.05 * rng.standard_normal(n)))
    return jl.fit("power_law", ds, loss="mse-log", starts=4)


def test_the_run_toward_the_target_ranks_first(monkeypatch):
    """Data over x in [10, 1e3], target x = 1e5: a run at 1e4 extends the sampled range toward the
    target, runs at 30, 300 and 900 repeat it. Under the model the prediction's variance at the
    target falls by a few percent for a run inside the range and by much more for the run at 1e4
    (its leverage at the target is ~(log 1e4 - mean)^2 / S_xx, five times an inner run's)."""
    res = _power_fit()
    calls = []
    solve = jl.engine.solve

    def counting(*a, **k):
        calls.append(a[0].n_lanes)
        return solve(*a, **k)

    monkeypatch.setattr(jl.engine, "solve", counting)
    d = design(res, {"x": [30.0, 300.0, 900.0, 1e4]}, {"x": 1e5}, n=1000)
    assert len(calls) == 1 and d.n_engine_calls == 1 and calls[0] == d.n_lanes
    assert d.best.index == 3 and d.best.inputs == {"x": 1e4}
    assert d.best.narrowing > 1.1 and d.best.narrowing > d.ranked[1].narrowing + 0.05
    assert d.ranked[0].cost is None  # no N and D: no compute model
    assert d.lo < d.estimate < d.hi
    np.testing.assert_allclose(d.estimate, res.predict({"x": [1e5]})[0], rtol=1e-12)
    assert "narrowing" in d.table() and d.to_dict()["ranked"][0]["index"] == 3


def test_target_compute_and_cost():
    """A Chinchilla-law fit to runs of 1e7 to 3e8 parameters; target 1e22 FLOPs, whose
    compute-optimal model lies far beyond. A 1e9-parameter run on 2e10 tokens extends the range
    toward it; runs inside the range barely move the interval."""
    rng = np.random.default_rng(1)
    law = jl.laws.get("chinchilla")
    N = np.repeat(np.logspace(7, 8.5, 6), 5)
    D = N * np.tile(np.logspace(0.8, 1.8, 5), 6)
    p = {"E": 1.8, "A": 480.0, "B": 2100.0, "alpha": 0.35, "beta": 0.37}
    y = np.asarray(law.predict(p, {"N": N, "D": D})) * np.exp(0.01 * rng.standard_normal(len(N)))
    res = jl.fit(law, jl.datasets.from_arrays(x={"N": N, "D": D}, y=y), starts=32, precision="float64")
    cand = {"N": [5e7, 1e8, 1e9], "D": [1e9, 2e9, 2e10]}
    d = design(res, cand, 1e22, n=200)
    opt = jl.analysis.optimal(law, res.params, [1e22])
    assert d.target == pytest.approx({"N": opt["N_opt"][0], "D": opt["D_opt"][0]}, rel=1e-12)
    assert d.best.inputs == {"N": 1e9, "D": 2e10}
    for c in d.ranked:
        assert c.cost == pytest.approx(6.0 * c.inputs["N"] * c.inputs["D"], rel=1e-15)
    assert d.best.narrowing > 1.1


def test_refusals():
    res = _power_fit()
    with pytest.raises(jl.JaxlawsError, match="lack the law's inputs"):
        design(res, {"N": [1.0]}, {"x": 1e5})
    with pytest.raises(jl.JaxlawsError, match="a target compute needs a law of N and D"):
        design(res, {"x": [1.0]}, 1e21)
    with pytest.raises(jl.JaxlawsError, match="n >= 2"):
        design(res, {"x": [1.0]}, {"x": 1e5}, n=1)
    with pytest.raises(jl.JaxlawsError, match="FitResult"):
        design("power_law", {"x": [1.0]}, {"x": 1e5})
