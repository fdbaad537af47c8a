"""compare(): held-out scores, AIC/BIC, per-group fits in one call equal to single fits."""

import jax.numpy as jnp
import numpy as np
import pytest

import jaxlaws as jl
from jaxlaws.analysis import compare


def _grouped(seed=0):
    rng = np.random.default_rng(seed)
    x = np.tile(np.logspace(1, 5, 20), 3)
    g = np.repeat(["a", "b", "c"], 20)
    A = {"a": 3.0, "b": 5.0, "c": 8.0}
    y = np.array([A[k] for k in g]) * x**-0.3 + 1.0
    return jl.datasets.from_arrays(x={"x": x}, y=y * np.exp(0.002 * rng.standard_normal(60)), groups=g,
                                   splits=np.where(x > 3e4, "test", "train"))


def test_group_fits_equal_single_fits():
    data = _grouped().split("train")
    gf = jl.fit_groups("power_law_offset", data, loss="mse", starts=64)
    for g in "abc":
        single = jl.fit("power_law_offset", data.subset(data.groups == g), loss="mse", starts=64)
        # Same starts, same objective restricted by zero weights: equal to the solver tolerance
        # (ftol 1e-10 relative), so 1e-6 relative on parameters.
        np.testing.assert_allclose(list(gf.params_of(g).values()), list(single.params.values()), rtol=1e-6)


def test_scores_and_ranking():
    data = _grouped()
    scores = compare.compare(["power_law", "power_law_offset"], data, loss="mse", starts=64)
    best = scores[0]
    assert best.law == "power_law_offset"  # the true form extrapolates better
    assert best.test_r2 > 0.99 > scores[1].test_r2
    assert best.aic < scores[1].aic
    assert best.n_params == 9  # 3 parameters x 3 groups
    # R^2 by its definition on the pooled test targets.
    test = data.split("test")
    gf = jl.fit_groups("power_law_offset", data.split("train"), loss="mse", starts=64)
    pred = gf.predict(test.inputs, test.groups)
    r2 = 1 - np.mean((pred - test.y) ** 2) / np.var(test.y)
    assert best.test_r2 == pytest.approx(r2, rel=1e-9)
    assert "power_law_offset" in compare.table(scores)


def test_errors():
    with pytest.raises(jl.JaxlawsError, match="no train/test split"):
        compare.score("power_law", jl.datasets.from_arrays(x={"x": np.arange(1.0, 9)}, y=np.arange(1.0, 9)))
    with pytest.raises(jl.JaxlawsError, match="lacks inputs"):
        compare.score("chinchilla", _grouped())


def test_metrics_by_hand():
    # Two outputs, three points. Output 0: y = 1, 2, 3 (mean 2, population var 2/3, mean
    # |y - mean| 2/3); predictions off by 0, 1, -1: mse 2/3, mae 2/3 -> NMSE 1, NMAE 1.
    # Output 1: y = 0, 0, 6 (mean 2, var 8, mean |dev| 8/3); predictions off by 1, 1, 1:
    # mse 1, mae 1 -> NMSE 1/8, NMAE 3/8. R^2 = 1 - (1 + 1/8) / 2 = 0.4375.
    y = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 6.0]])
    p = y + np.array([[0.0, 1.0], [1.0, 1.0], [-1.0, 1.0]])
    m = compare.metrics(y, p)
    assert m.nmse_per_output == pytest.approx((1.0, 0.125), rel=1e-15)
    assert m.nmae_per_output == pytest.approx((1.0, 0.375), rel=1e-15)
    assert m.r2 == pytest.approx(0.4375, rel=1e-15) and m.nmse == pytest.approx(0.5625, rel=1e-15)
    assert m.nmae == pytest.approx(0.6875, rel=1e-15) and not m.failed
    # one non-finite prediction anywhere: the benchmark's failure score
    p[1, 1] = np.nan
    bad = compare.metrics(y, p)
    assert bad.failed and bad.r2 == -1.0 and np.isnan(bad.nmse) and np.isnan(bad.nmae)
    with pytest.raises(jl.JaxlawsError, match="predictions have shape"):
        compare.metrics(y, p[:, :1])


def _two_output_grouped():
    @jl.law(inputs=("x",), n_outputs=2, name="two_power", params={
        "a": jl.Param(1e-3, 1e3, scale="log"), "b": jl.Param(1e-3, 1e3, scale="log"), "alpha": jl.Param(0.0, 2.0)})
    def two_power(p, x):
        return jnp.stack([p["a"] * x["x"] ** -p["alpha"], p["b"] * x["x"] ** -p["alpha"]], axis=-1)

    rng = np.random.default_rng(3)
    x = np.tile(np.logspace(0, 3, 12), 2)
    g = np.repeat(["g1", "g2"], 12)
    scale = np.where(g == "g1", 1.0, 2.0)[:, None]
    y = scale * np.stack([5.0 * x**-0.4, 9.0 * x**-0.4], axis=-1) * np.exp(0.05 * rng.standard_normal((24, 2)))
    data = jl.datasets.from_arrays(x={"x": x}, y=y, groups=g, splits=np.where(x > 200, "test", "train"))
    return two_power, data


def test_two_outputs_two_groups_match_the_protocol_by_hand():
    law, data = _two_output_grouped()
    s = compare.score(law, data, loss="mse", starts=16)
    train, test = data.split("train"), data.split("test")
    gf = jl.fit_groups(law, train, loss="mse", starts=16)
    pred = np.asarray(gf.predict(test.inputs, test.groups))  # pooled over both groups
    nmse = [np.mean((test.y[:, j] - pred[:, j]) ** 2) / np.var(test.y[:, j]) for j in range(2)]
    nmae = [np.mean(np.abs(test.y[:, j] - pred[:, j])) / np.mean(np.abs(test.y[:, j] - test.y[:, j].mean()))
            for j in range(2)]
    # the same fits (same starts, seed, engine): equal to rounding of the sums, 1e-12
    assert s.nmse_per_output == pytest.approx(nmse, rel=1e-12)
    assert s.nmae_per_output == pytest.approx(nmae, rel=1e-12)
    assert s.test_r2 == pytest.approx(1 - np.mean(nmse), rel=1e-12)
    # not the pooled-variance R^2 over both outputs together, which this example tells apart
    pooled = 1 - np.mean((test.y - pred) ** 2) / np.var(test.y)
    assert abs(pooled - s.test_r2) > 1e-3
    assert s.n_params == 6 and s.status.startswith("converged")
