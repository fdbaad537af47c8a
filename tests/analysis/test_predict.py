"""predict(): the band comes from the bootstrap replicates."""

import numpy as np

import jaxlaws as jl
from jaxlaws.analysis.predict import predict


def test_band_from_replicates():
    rng = np.random.default_rng(0)
    x = np.logspace(0, 3, 40)
    data = jl.datasets.from_arrays(x={"x": x}, y=2.0 * x**-0.3 * np.exp(0.05 * rng.standard_normal(40)))
    res = jl.fit("power_law", data, loss="mse-log", starts=16)
    boot = jl.bootstrap("power_law", data, n=400, loss="mse-log", fit=res, progress=False)
    xs = np.array([1e3, 1e4, 1e5])
    pr = predict(boot, {"x": xs}, level=0.9)
    np.testing.assert_allclose(pr.estimate, res.predict({"x": xs}), rtol=1e-12)
    A, al = boot.samples("A"), boot.samples("alpha")
    reps = A[:, None] * xs[None] ** -al[:, None]
    np.testing.assert_allclose(pr.lo, np.quantile(reps, 0.05, axis=0), rtol=1e-10)
    np.testing.assert_allclose(pr.hi, np.quantile(reps, 0.95, axis=0), rtol=1e-10)
    # Extrapolating further widens the band (relative width grows with log distance).
    width = (pr.hi - pr.lo) / pr.estimate
    assert np.all(np.diff(width) > 0)
    assert predict(res, {"x": xs}).lo is None
