"""jaxlaws.lanes: the one best-lane reduction."""

import numpy as np
from hypothesis import given, settings, strategies as st

import jaxlaws as jl
from jaxlaws.lanes import Lanes

S = jl.Status


def _lanes(value, status):
    L = len(value)
    return Lanes(theta=np.zeros((L, 2)), value=np.asarray(value, float), steps=np.zeros(L, np.int32),
                 status=np.asarray(status, np.int32), compile_s=0.0, run_s=0.0)


def test_best_per_fit_skips_failed_and_non_finite_lanes_and_breaks_ties_by_lane():
    value = [3.0, 1.0, 1.0, 0.5, np.nan, 2.0, 7.0, 7.0]
    status = [S.CONVERGED_OBJECTIVE, S.STALLED, S.CONVERGED_OBJECTIVE, S.NONFINITE, S.CONVERGED_STEP,
              S.MAX_STEPS, S.NONFINITE_START, S.NONFINITE]
    fit = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    # fit 0: lane 3 failed (its 0.5 does not count); lanes 1, 2 tie at 1.0 -> the first, 1.
    # fit 1: lane 4 is NaN -> lane 5 (not converged, still the best finite lane).
    # fit 2: every lane failed -> -1.
    np.testing.assert_array_equal(_lanes(value, status).best(fit, 3), [1, 5, -1])


def test_pick_gives_a_failed_fit_its_first_lane_and_says_so():
    value = [3.0, 1.0, np.nan, np.inf, 2.0]
    status = [S.CONVERGED_OBJECTIVE, S.STALLED, S.NONFINITE_START, S.NONFINITE, S.CONVERGED_STEP]
    fit = np.array([0, 0, 1, 1, 2])
    index, failed = _lanes(value, status).pick(fit, 3)
    np.testing.assert_array_equal(index, [1, 2, 4])
    np.testing.assert_array_equal(failed, [False, True, False])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.floats(-1e3, 1e3), st.just(np.nan), st.just(np.inf)),
                          st.sampled_from(list(S)[1:]), st.integers(0, 3)), min_size=1, max_size=40))
def test_best_equals_a_plain_loop(rows):
    value, status, fit = (np.array(c) for c in zip(*rows))
    lanes = _lanes(value, status)
    got = lanes.best(fit.astype(np.int32), 4)
    for f in range(4):
        ok = [i for i in range(len(value)) if fit[i] == f and not S(int(status[i])).failed
              and not S(int(status[i])).culled and np.isfinite(value[i])]
        want = min(ok, key=lambda i: (value[i], i)) if ok else -1
        assert got[f] == want, (f, got, want)


def test_status_counts_and_masks():
    codes = np.array([S.CONVERGED_OBJECTIVE, S.STALLED, S.STALLED, S.NONFINITE_START], np.int32)
    assert S.counts(codes) == {"converged_objective": 1, "stalled": 2, "nonfinite_start": 1}
    np.testing.assert_array_equal(S.converged_mask(codes), [True, False, False, False])
    np.testing.assert_array_equal(S.failed_mask(codes), [False, False, False, True])
    assert all(s.message for s in S) and not S.STALLED.converged and S.CONVERGED_STEP.converged
