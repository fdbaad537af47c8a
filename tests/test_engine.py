"""jaxlaws.engine: one compiled program for any number of lanes with the same slots, vmap ==
loop, batching of observations and weights, chunking, progress, float32, mixed precision."""

from __future__ import annotations

import gc
import weakref

import numpy as np

import jaxlaws as jl
from conftest import lm_linear_param_tol, power_law_data, power_law_reference
from jaxlaws.fit import make_problem


def _counted_law():
    """A fresh user law whose fn counts how often it is traced (called with tracers)."""
    calls = []

    @jl.law(inputs=("x",), params={"A": jl.Param(1e-3, 1e6, scale="log"), "alpha": jl.Param(0.0, 3.0)})
    def counted(p, x):
        calls.append(1)  # runs once per trace: compiled programs never call back into Python
        return p["A"] * x["x"] ** -p["alpha"]

    return counted, calls


# ---- 7. compile once ------------------------------------------------------------------------


def test_one_compilation_serves_any_number_of_starts():
    law, calls = _counted_law()
    ds = power_law_data(n=30, sigma=0.02, seed=3)
    n0 = jl.engine.compile_count()
    r64 = jl.fit(law, ds, loss="mse-log", starts=64, chunk=64)
    traces_64 = len(calls)
    compiled_64 = jl.engine.compile_count()
    assert traces_64 > 0  # the counter does see traces (not vacuous)
    assert compiled_64 > n0
    # 200 starts with the same chunk: 4 chunks of 64 lanes through the same programs
    r200 = jl.fit(law, ds, loss="mse-log", starts=200, chunk=64)
    assert len(calls) == traces_64
    assert jl.engine.compile_count() == compiled_64
    assert r200.n_starts == 200 and r64.n_starts == 64
    # and an identical call adds nothing either
    again = jl.fit(law, ds, loss="mse-log", starts=200, chunk=64)
    assert len(calls) == traces_64
    assert jl.engine.compile_count() == compiled_64
    assert again.timing["compile_s"] == 0.0
    # the data are arguments, not constants: new values of the same shape reuse the program
    ds2 = power_law_data(n=30, sigma=0.02, seed=4)
    other = jl.fit(law, ds2, loss="mse-log", starts=64, chunk=64)
    assert len(calls) == traces_64 and jl.engine.compile_count() == compiled_64
    # ... and really use the new data (mse-log power law = linear least squares; tolerance
    # from LM's stopping rule, see conftest.lm_linear_param_tol)
    best, f_star, lam_min = power_law_reference(ds2)
    np.testing.assert_allclose(other.theta, best, rtol=0, atol=lm_linear_param_tol(f_star, lam_min))


def test_mixed_precision_compiles_both_programs_ahead_once_each():
    # The float32 and float64 programs are lowered up front and compiled on background threads;
    # the solve must then use exactly those two (none compiled twice, none left pending).
    law, _ = _counted_law()
    ds = power_law_data(n=30, sigma=0.02, seed=3)
    n0 = jl.engine.compile_count()
    first = jl.fit(law, ds, loss="mse-log", starts=32)
    assert jl.engine.compile_count() == n0 + 2
    assert not any(key[0] is law for key in jl.engine._PENDING)
    assert first.timing["compile_s"] > 0
    again = jl.fit(law, ds, loss="mse-log", starts=32)
    assert jl.engine.compile_count() == n0 + 2 and again.timing["compile_s"] == 0.0
    assert again.objective == first.objective


class _PlainSolver:
    """A user's solver with no value equality: coarse() and refine() return new objects."""

    def __init__(self, inner):
        self.inner, self.max_steps = inner, inner.max_steps

    def init(self, *a):
        return self.inner.init(*a)

    def step(self, *a):
        return self.inner.step(*a)

    def coarse(self):
        return _PlainSolver(self.inner.coarse())

    def refine(self):
        return _PlainSolver(self.inner.refine())


def test_a_solver_without_value_equality_still_compiles_each_program_once():
    law, _ = _counted_law()
    ds = power_law_data(n=30, sigma=0.02, seed=3)
    n0 = jl.engine.compile_count()
    res = jl.fit(law, ds, loss="mse-log", starts=16, solver=_PlainSolver(jl.solvers.LM()))
    assert np.isfinite(res.objective)
    assert jl.engine.compile_count() == n0 + 2  # the programs compiled ahead are the ones run
    assert not any(key[0] is law for key in jl.engine._PENDING)


def test_clear_compiled_survives_a_failed_background_compile():
    import concurrent.futures

    failed = concurrent.futures.Future()
    failed.set_exception(RuntimeError("compile failed"))
    jl.engine._PENDING[("not a program",)] = failed
    jl.engine.clear_compiled()
    assert not jl.engine._PENDING and jl.engine.compile_count() == 0


def test_new_shape_or_settings_compile_again():
    law, calls = _counted_law()
    ds = power_law_data(n=30, sigma=0.02, seed=3)
    jl.fit(law, ds, loss="mse-log", starts=8)
    t = len(calls)
    c = jl.engine.compile_count()
    jl.fit(law, ds, loss="mse-log", starts=16, chunk=16)  # 16 slots instead of 8
    assert len(calls) > t and jl.engine.compile_count() > c
    t, c = len(calls), jl.engine.compile_count()
    jl.fit(law, ds, loss="mse-log", starts=16, chunk=16, max_steps=50)  # another solver configuration
    assert len(calls) > t and jl.engine.compile_count() > c


def test_compiled_cache_cannot_confuse_a_dead_law_with_a_new_one():
    law, _ = _counted_law()
    ds = power_law_data(n=30, sigma=0.02, seed=3)
    jl.fit(law, ds, loss="mse-log", starts=8)
    ref, law_id = weakref.ref(law), id(law)
    del law
    gc.collect()
    # Safe if the cache keeps the law alive (its id cannot be reused) or drops its programs.
    keyed_on_dead_id = any(k[0] == law_id for k in jl.engine._COMPILED)
    assert ref() is not None or not keyed_on_dead_id


# ---- 6. vmap == a loop of single fits ---------------------------------------------------------


def test_batched_lanes_equal_single_fits(chinchilla_law, epoch_data):
    starts = chinchilla_law.to_natural(jl.starts.lhs(chinchilla_law, 8, seed=1))
    batched = jl.fit(chinchilla_law, epoch_data, starts=starts)
    singles = [jl.fit(chinchilla_law, epoch_data, starts=starts[i : i + 1]) for i in range(8)]
    # A single start is padded to the same 8-lane chunk, so all nine fits run the same compiled
    # program; vmapped lanes never interact (no reductions across lanes) and the engine's lane
    # bookkeeping (padding, compaction) only moves whole lanes. Each lane therefore performs the
    # identical sequence of float64 operations wherever it sits: equality is exact, and any
    # difference would mean lanes leak into each other.
    for i, s in enumerate(singles):
        assert s.n_starts == 1
        assert s.all_objective[0] == batched.all_objective[i]
        np.testing.assert_array_equal(s.all_params[0], batched.all_params[i])
        assert s.steps[0] == batched.steps[i] and s.converged[0] == batched.converged[i]
    assert min(s.objective for s in singles) == batched.objective


def test_lanes_through_many_queue_batches_equal_single_fits(monkeypatch):
    # 40 starts on 8 slots with batches of 4 * 8 lanes: more lanes than one queue batch holds
    # (QUEUE_BATCHES * K = 32 per device; the suite runs on one), with lanes swapped into slots as
    # others finish and the slots carried from one batch into the next.
    monkeypatch.setattr(jl.engine, "QUEUE_BATCHES", 4)
    # A single start runs in the same 8-slot program, so each lane must come out bit for bit as
    # it does alone: any difference would mean the swaps mix up lanes or their step counts.
    law = jl.laws.get("power_law_offset")
    rng = np.random.default_rng(0)
    x = np.logspace(1.0, 5.0, 25)
    ds = jl.datasets.from_arrays(x={"x": x}, y=(2.0 + 30.0 * x**-0.4) * np.exp(0.02 * rng.standard_normal(25)))
    starts = law.to_natural(jl.starts.lhs(law, 40, seed=2))
    assert 40 > jl.engine.QUEUE_BATCHES * 8
    batched = jl.fit(law, ds, loss="mse-log", starts=starts, chunk=8)
    assert len(set(batched.steps.tolist())) > 3  # lanes really finish at different times
    for i in range(40):
        one = jl.fit(law, ds, loss="mse-log", starts=starts[i : i + 1], chunk=8)
        assert one.all_objective[0] == batched.all_objective[i], i
        np.testing.assert_array_equal(one.all_params[0], batched.all_params[i])
        assert one.steps[0] == batched.steps[i] and one.converged[0] == batched.converged[i]


def test_mixed_precision_counts_the_steps_of_both_phases(chinchilla_law, epoch_data):
    prob = make_problem(chinchilla_law, epoch_data, "huber-log:1e-3")
    theta0 = jl.starts.lhs(chinchilla_law, 16, seed=3)
    args = (prob.law, prob.loss, jl.solvers.LM(), prob.data.inputs, prob.obs[None], prob.weights[None], theta0)
    mixed = jl.engine.solve(*args, precision="mixed", chunk=8)
    f32 = jl.engine.solve(*args[:2], jl.solvers.LM().coarse(), *args[3:], precision="float32", chunk=8)
    # the float32 phase is exactly the coarse solver run alone in float32
    np.testing.assert_array_equal(mixed.coarse_steps, f32.steps)
    polish = mixed.steps - mixed.coarse_steps
    assert np.all(polish >= 1)  # every lane that did not fail is polished in float64
    assert np.all(mixed.steps <= jl.solvers.LM().max_steps + jl.engine.POLISH_STEPS)
    assert jl.engine.solve(*args, precision="float64", chunk=8).coarse_steps is None


def test_polish_queue_order_does_not_change_any_lane(chinchilla_law, epoch_data):
    # The polish runs lanes in _polish_order's order; each lane's outcome must be exactly what a
    # float64 refine solve from that lane's float32 result gives in the natural order (lanes are
    # independent, and the batch equality test above shows a lane's result does not depend on
    # its slot), so a mix-up in the permutation shows as a mismatch.
    prob = make_problem(chinchilla_law, epoch_data, "huber-log:1e-3")
    theta0 = jl.starts.lhs(chinchilla_law, 24, seed=5)
    data = (prob.data.inputs, prob.obs[None], prob.weights[None], theta0)
    mixed = jl.engine.solve(prob.law, prob.loss, jl.solvers.LM(), *data, precision="mixed", chunk=8)
    f32 = jl.engine.solve(prob.law, prob.loss, jl.solvers.LM().coarse(), *data, precision="float32", chunk=8)
    assert not f32.failed.any()
    order = jl.engine._polish_order(f32.value, f32.failed, np.zeros(24, np.int32), np.zeros(24, np.int32))
    assert not np.array_equal(order, np.arange(24))  # the polish really runs in another order
    start = np.clip(f32.theta, chinchilla_law.lower, chinchilla_law.upper)
    used = np.minimum(f32.steps, jl.solvers.LM().max_steps - jl.engine.POLISH_STEPS)
    f64 = jl.engine._solve(prob.law, prob.loss, *data[:3], np.zeros(24, np.int32), np.zeros(24, np.int32), 8,
                           jl.solvers.LM().refine(), start, True, None, steps0=used)
    np.testing.assert_array_equal(mixed.value, f64.value)
    np.testing.assert_array_equal(mixed.theta, f64.theta)
    np.testing.assert_array_equal(mixed.steps - mixed.coarse_steps, f64.steps - used)
    np.testing.assert_array_equal(mixed.converged, f64.converged)


def test_polish_order_puts_failed_then_farthest_from_their_datasets_best_first():
    value = np.array([1.0, 5.0, 2.0, np.nan, 10.0, 11.0, 3.0])
    failed = np.array([False, False, False, False, False, False, True])
    y = np.array([0, 0, 0, 0, 1, 1, 0])
    w = np.zeros(7, np.int32)
    # dataset 0: best 1.0, gaps 0, 4, 1 (lane 3 not finite, lane 6 failed: first);
    # dataset 1: best 10.0, gaps 0, 1. Ties keep the lanes' own order.
    order = jl.engine._polish_order(value, failed, y, w)
    np.testing.assert_array_equal(order, [3, 6, 1, 2, 5, 0, 4])


def test_default_slots_follow_the_data_size():
    # K * m * (P + 1) numbers within CACHE_ELEMENTS, a power of two from 8 to 128
    assert jl.engine.auto_chunk(240, 5) == 64
    assert jl.engine.auto_chunk(1000, 5) == 16
    assert jl.engine.auto_chunk(10, 2) == 128
    assert jl.engine.auto_chunk(10**6, 5) == 8
    for m, p in ((240, 5), (1000, 5), (500, 35)):
        k = jl.engine.auto_chunk(m, p)
        assert k == 8 or k * m * (p + 1) <= jl.engine.CACHE_ELEMENTS < 2 * k * m * (p + 1) or k == 128


def test_default_slots_grow_with_the_square_root_of_the_lanes():
    # ~1.5 sqrt(lanes per device) as a power of two, within min_slots and auto_chunk
    spd = jl.engine.slots_per_device
    assert [spd(n, 240, 5) for n in (1, 50, 128, 500, 2250, 10**5)] == [8, 8, 16, 32, 64, 64]
    assert spd(10**5, 100, 5) == 128 == jl.engine.auto_chunk(100, 5)  # capped by the data size
    assert spd(500, 10**5, 5) == 8 == jl.engine.auto_chunk(10**5, 5)
    assert spd(1, 10**5, 5) == 1 and spd(2, 10**5, 5) == 2  # a lone lane on large data: no empty slots
    for n in (1, 7, 60, 300, 3000, 40000):
        k = spd(n, 240, 5)
        assert k & (k - 1) == 0 and 8 <= k <= 64
        assert abs(np.log2(k) - np.log2(1.5 * np.sqrt(n))) <= 0.5 or k in (8, 64)
    # an explicit chunk is kept (rounded up to a power of two, no more than the lanes need)
    assert spd(2250, 240, 5, chunk=100) == 128 and spd(20, 240, 5, chunk=100) == 32


def test_chunk_size_does_not_change_results(chinchilla_law, epoch_data):
    # Same 64 starts through 8 chunks of 8 lanes and through one chunk of 64: different compiled
    # programs, so rounding may differ in the last bits. A lane that stays in one basin then stops
    # within LM's stopping tolerance of the same minimum, |f1 - f2| <= ~1e-8 relative; a far start
    # crossing a watershed can be tipped into another basin by last-bit differences, which must stay
    # rare (<= 10% of lanes here), and the best fit must not change.
    theta0 = jl.starts.lhs(chinchilla_law, 64, seed=1)
    nat = chinchilla_law.to_natural(theta0)
    small = jl.fit(chinchilla_law, epoch_data, starts=nat, chunk=8)
    big = jl.fit(chinchilla_law, epoch_data, starts=nat, chunk=64)
    both = small.converged & big.converged
    assert both.sum() >= 48
    same = np.isclose(small.all_objective, big.all_objective, rtol=1e-8, atol=0)
    assert (both & ~same).sum() <= 0.1 * both.sum()
    assert abs(small.objective - big.objective) <= 1e-8 * big.objective


# ---- engine.solve directly: resamples and weights as lane indices ---------------------------------


def test_solve_with_observation_and_weight_rows():
    law = jl.laws.get("power_law")
    loss = jl.losses.parse("mse-log")
    slv = jl.solvers.LM()
    ds_a = power_law_data(n=30, sigma=0.05, seed=1)
    ds_b = power_law_data(n=30, A=7.0, alpha=1.2, sigma=0.05, seed=2)
    obs = np.stack([np.log(ds_a.y), np.log(ds_b.y)])  # [By=2, m]
    w = np.stack([np.ones(30), np.r_[np.zeros(10), np.ones(20)]])  # [Bw=2, m]
    theta0 = np.tile(law.to_internal([[1.0, 1.0]]), (4, 1))
    yi = np.array([0, 1, 0, 1])
    wi = np.array([0, 0, 1, 1])
    lanes = jl.engine.solve(law, loss, slv, ds_a.inputs, obs, w, theta0, yi, wi, chunk=8)
    assert lanes.theta.shape == (4, 2) and lanes.converged.all() and not lanes.failed.any()
    for lane in range(4):
        keep = w[wi[lane]] > 0
        sub = jl.datasets.from_arrays(x={"x": ds_a.inputs["x"][keep]}, y=np.exp(obs[yi[lane]][keep]))
        best, f_star, lam_min = power_law_reference(sub)
        # weight 0 removes a point exactly, so each lane is the lstsq problem on its kept points;
        # tolerance from LM's stopping rule (conftest.lm_linear_param_tol)
        np.testing.assert_allclose(lanes.theta[lane], best, rtol=0, atol=lm_linear_param_tol(f_star, lam_min))
    # each (obs, weight) pair gives a different answer: the indices are really used
    assert len({tuple(np.round(t, 6)) for t in lanes.theta}) == 4


def test_progress_callback_and_chunk_size():
    law = jl.laws.get("power_law")
    ds = power_law_data(n=30, sigma=0.05, seed=1)
    seen = []
    lanes = jl.engine.solve(law, jl.losses.parse("mse-log"), jl.solvers.LM(), ds.inputs, np.log(ds.y)[None],
                            np.ones((1, 30)), jl.starts.lhs(law, 8), chunk=8, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (8, 8) and all(t == 8 for _, t in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert lanes.converged.all()
    assert jl.engine._chunk_size(1, 256) == 8
    assert jl.engine._chunk_size(64, 256) == 64
    assert jl.engine._chunk_size(200, 256) == 256
    assert jl.engine._chunk_size(4500, 256) == 256
    assert jl.engine._chunk_size(200, 64) == 64
    assert jl.engine._chunk_size(1, 8, floor=1) == 1  # few lanes on a large dataset: no empty slots
    assert jl.engine._chunk_size(5, 8, floor=1) == 8


def test_min_slots_is_one_only_where_eight_slots_overflow_the_cache_budget():
    assert jl.engine.min_slots(240, 5) == 8  # 8 * 240 * 6 = 11,520 numbers <= 2**17
    assert jl.engine.min_slots(2730, 5) == 8  # 131,040: just within
    assert jl.engine.min_slots(2731, 5) == 1
    assert jl.engine.min_slots(100_000, 5) == 1
    assert ":" in jl.engine.device_name()


def test_float32_runs_and_lands_near_the_float64_answer():
    ds = power_law_data(n=30, sigma=0.05, seed=1)
    res = jl.fit("power_law", ds, loss="mse-log", starts=8, dtype=np.float32)
    best, f_star, lam_min = power_law_reference(ds)
    assert res.all_objective.dtype == np.float64  # results come back as float64
    # In float32 the objective (a sum of m = 30 terms) is only resolved to ~m * eps32 * f*, so LM
    # stops once no step lowers it by more than that: f - f* <= m eps32 f*, and on this quadratic
    # |theta - theta*| <= sqrt(2 m eps32 f* / lambda_min(H)) (~2e-4 here).
    eps32 = float(np.finfo(np.float32).eps)
    gap = 30 * eps32
    assert res.best_converged
    np.testing.assert_allclose(res.theta, best, rtol=0, atol=lm_linear_param_tol(f_star, lam_min, gap=gap))
    assert abs(res.objective - f_star) <= gap * f_star
