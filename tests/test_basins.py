"""jaxlaws.basins: the vectorised basin count equals the one-by-one greedy it replaces."""

import numpy as np
from hypothesis import given, settings, strategies as st

from jaxlaws import basins


def _greedy(theta, f, usable, best, k=None, margin=None):
    ok = usable & np.isfinite(f)
    if margin is not None:
        ok &= f <= (1 + margin) * f[best]
    picked = [best]
    for i in [int(i) for i in np.argsort(f, kind="stable") if ok[i] and i != best]:
        if k is not None and len(picked) == k + 1:
            break
        if all(abs(f[i] - f[j]) > basins.BASIN_FTOL * abs(f[j])
               and np.max(np.abs(theta[i] - theta[j])) > basins.BASIN_XTOL * (1 + np.max(np.abs(theta[j])))
               for j in picked):
            picked.append(i)
    return picked


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 60), st.integers(0, 10**6), st.sampled_from([None, 0, 2]), st.sampled_from([None, 1.0]))
def test_distinct_equals_the_one_by_one_greedy(L, seed, k, margin):
    rng = np.random.default_rng(seed)
    # few distinct values and points, so that many lanes share a basin by objective or by point
    f = rng.choice([1.0, 1.0 + 1e-8, 1.5, 2.0, 3.5], L) * rng.choice([1.0, 1.0 + 1e-3], L)
    theta = rng.choice([0.0, 0.001, 0.5, 2.0], (L, 3))
    usable = rng.random(L) < 0.8
    best = int(np.argmin(np.where(usable, f, np.inf))) if usable.any() else 0
    np.testing.assert_array_equal(basins.distinct(theta, f, usable, best, k, margin),
                                  _greedy(theta, f, usable, best, k, margin))


def test_reaching_best_is_relative_to_the_best_objective():
    f = np.array([1.0, 1.0 + 5e-7, 1.0 + 2e-6, 1.0])
    got = basins.reaching_best(f, np.array([True, True, True, False]), 0)
    np.testing.assert_array_equal(got, [True, True, False, False])
