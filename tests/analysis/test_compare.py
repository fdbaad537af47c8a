"""compare(): held-out scores, AIC/BIC, per-group fits in one call equal to single fits."""

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
