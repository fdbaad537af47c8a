"""Interval methods against their textbook definitions."""

import numpy as np
import pytest
from scipy import stats

from jaxlaws.errors import JaxlawsError
from jaxlaws.intervals import Samples


def test_percentile_and_basic():
    rng = np.random.default_rng(0)
    s = Samples(np.array([1.0]), 1.0 + rng.lognormal(0, 0.5, (5000, 1)))
    lo, hi = s.ci(0.9)
    np.testing.assert_allclose([lo[0], hi[0]], np.quantile(s.samples[:, 0], [0.05, 0.95]))
    blo, bhi = s.ci(0.9, "basic")
    np.testing.assert_allclose([blo[0], bhi[0]], [2 - hi[0], 2 - lo[0]])


def test_bca_matches_efron_formula():
    """BCa endpoints recomputed with scipy.stats.norm from z0 and the jackknife acceleration."""
    rng = np.random.default_rng(1)
    est = np.array([0.3])
    samples = rng.gamma(4.0, 0.1, (4000, 1))
    jk = 0.3 + rng.gamma(2.0, 0.01, (60, 1))
    s = Samples(est, samples, jk)
    lo, hi = s.ci(0.9, "bca")
    z0 = stats.norm.ppf(np.mean(samples[:, 0] < 0.3))
    d = jk[:, 0].mean() - jk[:, 0]
    a = np.sum(d**3) / (6 * np.sum(d**2) ** 1.5)
    want = []
    for q in (0.05, 0.95):
        z = stats.norm.ppf(q)
        want.append(np.quantile(samples[:, 0], stats.norm.cdf(z0 + (z0 + z) / (1 - a * (z0 + z)))))
    np.testing.assert_allclose([lo[0], hi[0]], want, rtol=1e-10)


def test_unknown_method():
    s = Samples(np.zeros(1), np.zeros((10, 1)))
    with pytest.raises(JaxlawsError, match="unknown interval method"):
        s.ci(0.9, "studentized")
