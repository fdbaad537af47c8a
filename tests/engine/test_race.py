"""jaxlaws.engine.race: the cull rules, racing fits against running every lane, the check that
resumes culled lanes, and the statuses culled lanes carry."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

import jaxlaws as jl
from jaxlaws.engine.race import Auto, Race, cull, resolve

CULLED = {"culled_trailing", "culled_joined"}


def test_parse_and_validation():
    assert Race.parse("all") is None
    assert Race.parse("race") == Race()
    r = Race(rounds=(5,), margin=0.5)
    assert Race.parse(r) is r
    for bad in ("fast", 3, None):
        with pytest.raises(jl.JaxlawsError, match="strategy must be"):
            Race.parse(bad)
    for kw in ({"rounds": ()}, {"rounds": (0,)}, {"rounds": (True,)}, {"margin": -1.0}, {"floor": np.nan},
               {"join_xtol": -0.1}):
        with pytest.raises(jl.JaxlawsError, match="race"):
            Race(**kw)


def test_auto_races_the_grid_only():
    auto = Race.parse("auto")
    assert auto == Auto() and Race.parse(auto) is auto
    assert resolve(auto, on_grid=True) == Race() and resolve(auto, on_grid=False) is None
    mine = Auto(race=Race(rounds=(5,)))
    assert resolve(mine, on_grid=True) == Race(rounds=(5,))
    r = Race(margin=0.5)
    assert resolve(r, on_grid=False) is r and resolve(None, on_grid=True) is None
    with pytest.raises(jl.JaxlawsError, match="Auto's race must be"):
        Auto(race="race")
    with pytest.raises(jl.JaxlawsError, match="resolve 'auto' first"):
        jl.engine.solve_with(None, None, race=Auto())  # refused before it looks at the batch


def test_strategy_names_what_ran():
    assert jl.engine.strategy_name(None) == "all"
    assert jl.engine.strategy_name(Race()) == "race"
    other = Race(rounds=(5,), margin=0.5)
    assert jl.engine.strategy_name(other) == repr(other) and "margin=0.5" in repr(other)


def test_cull_rules_per_fit():
    # Two fits of four lanes. Fit 0: best lane 1 (f = 1); lane 0 trails (f = 2.5 > 2 * 1);
    # lane 2 is within the margin but far away (kept); lane 3 sits next to the best point (joined).
    # Fit 1: its own best (lane 5, f = 10) judges its lanes, not fit 0's: lane 4 at f = 15 is kept.
    theta = np.array([[0.0, 0.0], [1.0, 1.0], [5.0, 5.0], [1.001, 1.0],
                      [2.0, 2.0], [3.0, 3.0], [9.0, 9.0], [0.0, 0.0]])
    value = np.array([2.5, 1.0, 1.9, 1.5, 15.0, 10.0, np.inf, 30.0])
    fit = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    alive = np.ones(8, bool)
    code = cull(Race(margin=1.0, join_xtol=1e-2), theta, value, alive, fit, 2)
    T, J = int(jl.Status.CULLED_TRAILING), int(jl.Status.CULLED_JOINED)
    np.testing.assert_array_equal(code, [T, 0, 0, J, 0, 0, T, T])
    # An absolute floor keeps lanes within it of the best (here every lane of fit 0 but none
    # beyond), and a lane that is not alive is never touched.
    code = cull(Race(margin=1.0, floor=2.0, join_xtol=0.0), theta, value, alive & (np.arange(8) != 7), fit, 2)
    np.testing.assert_array_equal(code, [0, 0, 0, 0, 0, 0, T, 0])


def test_culled_is_neither_converged_nor_failed():
    codes = [int(jl.Status.CULLED_TRAILING), int(jl.Status.CULLED_JOINED)]
    assert not jl.Status.converged_mask(codes).any() and not jl.Status.failed_mask(codes).any()
    assert jl.Status.culled_mask(codes).all() and jl.Status.CULLED_JOINED.culled
    assert not jl.Status.culled_mask([int(s) for s in jl.Status if not s.culled]).any()
    assert "stopped early" in jl.Status.CULLED_TRAILING.message


@pytest.fixture(scope="module")
def both(chinchilla_law, epoch_data):
    # chunk=8: one slot count for every round and the final solve (one compiled program).
    st = chinchilla_law.to_natural(jl.starts.lhs(chinchilla_law, 64, seed=2))
    kw = dict(starts=st, precision="float64", chunk=8)
    return jl.fit(chinchilla_law, epoch_data, **kw), jl.fit(chinchilla_law, epoch_data, strategy="race", **kw)


def test_racing_reaches_the_best_of_every_lane_and_keeps_every_lane(both):
    full, race = both
    # Both best lanes meet LM's decrement test (f - f* <= ftol f, ftol = 1e-14) in the same
    # basin: their objectives agree far inside 1e-10 relative.
    assert race.objective == pytest.approx(full.objective, rel=1e-10)
    assert race.best_converged and not jl.Status(int(race.status[race.best_index])).culled
    counts = race.status_counts
    assert CULLED & set(counts), counts  # racing did cull lanes here (else the test says nothing)
    assert sum(counts.values()) == race.n_starts == 64
    culled = jl.Status.culled_mask(race.status)
    assert not (race.converged & culled).any() and not (race.failed & culled).any()
    # culled lanes stopped early: fewer steps in all
    assert race.steps.sum() < full.steps.sum()
    assert np.all(np.isfinite(race.all_objective[culled]))
    # every culled lane trails the best by more than the margin (else the check resumed it)
    assert np.all(race.all_objective[culled] > (1 + Race().margin) * race.objective)
    d = json.loads(json.dumps(race.to_dict()))
    assert CULLED & set(d["status_counts"]) and d["n_converged"] == race.n_converged
    assert "culled" in race.report()
    # the result says how its starts ran
    assert (race.strategy, d["strategy"], full.strategy, full.to_dict()["strategy"]) == ("race", "race", "all", "all")
    assert "64 starts (raced) on" in race.report() and "(raced)" not in full.report()


def test_racing_is_the_same_for_any_slot_count(chinchilla_law, epoch_data, both):
    st = chinchilla_law.to_natural(jl.starts.lhs(chinchilla_law, 64, seed=2))
    other = jl.fit(chinchilla_law, epoch_data, starts=st, precision="float64", chunk=16, strategy="race")
    _, race = both
    np.testing.assert_array_equal(other.status, race.status)
    np.testing.assert_array_equal(other.all_objective, race.all_objective)
    np.testing.assert_array_equal(other.steps, race.steps)


def test_a_fit_whose_best_did_not_converge_resumes_every_culled_lane(chinchilla_law, epoch_data):
    # Three steps in all cannot converge a Chinchilla lane from a sampled start: the check
    # finds the fit's best unconverged and runs every culled lane to its end, so none is left
    # culled and every lane used its whole budget or stopped on its own.
    st = chinchilla_law.to_natural(jl.starts.lhs(chinchilla_law, 16, seed=2))
    with pytest.warns(jl.JaxlawsWarning):
        res = jl.fit(chinchilla_law, epoch_data, starts=st, precision="float64", chunk=8, max_steps=3,
                     strategy=Race(rounds=(1,)))
    assert not res.best_converged
    assert not jl.Status.culled_mask(res.status).any(), res.status_counts
    assert np.all(res.steps <= 3)


def test_bootstrap_races_each_resample(chinchilla_law, epoch_data, both):
    full, _ = both
    kw = dict(n=3, starts=16, fit=full, progress=False, chunk=8, precision="float64", seed=1)
    a = jl.bootstrap(chinchilla_law, epoch_data, **kw)
    r = jl.bootstrap(chinchilla_law, epoch_data, strategy="race", **kw)
    assert r.lane_status.shape == a.lane_status.shape == (3, 17)
    assert CULLED & set(r.status_counts)
    # Each resample's best: racing reaches every lane's (same tolerance argument as above).
    np.testing.assert_allclose(r.objective, a.objective, rtol=1e-10)
    assert r.converged.all()
    assert (r.strategy, r.summary()["strategy"], a.strategy) == ("race", "race", "all")
    assert "; starts raced" in r.format().splitlines()[0] and "raced" not in a.format()


@pytest.fixture(scope="module")
def small_grid_law(chinchilla_law):
    # The Chinchilla law with a start grid of 2 x 2 x 2 x 2 x 2 = 32 points (a grid of its own
    # values), so that a test of what a grid gets by default runs in seconds.
    params = {k: dataclasses.replace(p, grid=p.grid[:2]) for k, p in chinchilla_law.params.items()}
    return dataclasses.replace(chinchilla_law, params=params)


def test_bootstrap_races_the_grid_by_default_and_nothing_else(small_grid_law, epoch_data):
    law = small_grid_law
    full = jl.fit(law, epoch_data, starts="grid", precision="float64", chunk=8)
    kw = dict(n=3, fit=full, progress=False, chunk=8, precision="float64", seed=1)
    grid = jl.bootstrap(law, epoch_data, starts="grid", **kw)
    raced = jl.bootstrap(law, epoch_data, starts="grid", strategy="race", **kw)
    assert grid.lane_status.shape == (3, 33) and CULLED & set(grid.status_counts), grid.status_counts
    np.testing.assert_array_equal(grid.lane_status, raced.lane_status)
    np.testing.assert_array_equal(grid.objective, raced.objective)
    assert grid.strategy == raced.strategy == "race"  # "auto" recorded as what it ran
    # the same 32 points given as sampled-style explicit starts: every lane to its end
    given = jl.bootstrap(law, epoch_data, starts=law.to_natural(jl.starts.grid(law)), **kw)
    assert not (CULLED & set(given.status_counts)), given.status_counts
    assert given.strategy == "all"
    every = jl.bootstrap(law, epoch_data, starts="grid", strategy="all", **kw)
    np.testing.assert_array_equal(given.lane_status, every.lane_status)
    # racing the grid reaches each resample's best of every lane (tolerance as above)
    np.testing.assert_allclose(grid.objective, every.objective, rtol=1e-10)


def test_fit_auto_races_the_grid_only(small_grid_law, epoch_data):
    law = small_grid_law
    kw = dict(precision="float64", chunk=8)
    auto = jl.fit(law, epoch_data, starts="grid", strategy="auto", **kw)
    np.testing.assert_array_equal(auto.status, jl.fit(law, epoch_data, starts="grid", strategy="race", **kw).status)
    assert jl.Status.culled_mask(auto.status).any()
    assert not jl.Status.culled_mask(jl.fit(law, epoch_data, starts="grid", **kw).status).any()  # fit's default
    sampled = jl.fit(law, epoch_data, starts=32, strategy="auto", **kw)
    assert not jl.Status.culled_mask(sampled.status).any()
    assert (auto.strategy, sampled.strategy) == ("race", "all")
    other = Race(rounds=(5,), margin=0.5)
    assert jl.fit(law, epoch_data, starts="grid", strategy=other, **kw).strategy == repr(other)


def test_progress_counts_every_lane_of_the_batch(chinchilla_law, epoch_data):
    st = chinchilla_law.to_natural(jl.starts.lhs(chinchilla_law, 64, seed=2))
    seen = []
    jl.fit(chinchilla_law, epoch_data, starts=st, precision="float64", chunk=8, strategy="race",
           progress=lambda d, t: seen.append((d, t)))
    assert seen and all(t == 64 for _, t in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and seen[-1][0] == 64


def test_racing_in_mixed_precision_reaches_the_best_and_stays_in_bounds(chinchilla_law, epoch_data):
    # Mixed precision is what the default "auto" gives a grid-sized fit: the rounds run in
    # float32, the survivors are polished in float64. Culled lanes keep a float32 round's point,
    # clipped to the bounds like every other end point.
    st = chinchilla_law.to_natural(jl.starts.lhs(chinchilla_law, 64, seed=4))
    kw = dict(starts=st, precision="mixed", chunk=8)
    full = jl.fit(chinchilla_law, epoch_data, **kw)
    race = jl.fit(chinchilla_law, epoch_data, strategy="race", **kw)
    # both best lanes pass the float64 polish's decrement test in one basin: within 1e-10
    assert race.objective == pytest.approx(full.objective, rel=1e-10) and race.best_converged
    assert jl.Status.culled_mask(race.status).any()
    theta = np.asarray(chinchilla_law.to_internal(race.all_params))  # bounds are internal coordinates
    assert np.all(theta >= chinchilla_law.lower) and np.all(theta <= chinchilla_law.upper)


def test_a_negative_objective_is_raced_by_its_distance_from_the_best():
    # f_best < 0 (a user's loss can be negative): a lane at f_best + small is not trailing.
    value = np.array([-10.0, -9.5, 5.0])
    theta = np.array([[0.0], [1.0], [2.0]])
    code = cull(Race(margin=0.1), theta, value, np.ones(3, bool), np.zeros(3, np.int64), 1)
    assert code[0] == 0 and code[1] == 0 and code[2] == int(jl.Status.CULLED_TRAILING)
