"""jaxlaws.engine.precision: float32, mixed precision (both phases counted, polish order), the
polish judging every lane."""

from __future__ import annotations

import numpy as np

import jaxlaws as jl
from conftest import lm_linear_param_tol, power_law_data, power_law_reference
from jaxlaws.problem import Batch, make_problem


def test_mixed_precision_counts_the_steps_of_both_phases(chinchilla_law, epoch_data):
    prob = make_problem(chinchilla_law, epoch_data, "huber-log:1e-3")
    batch = Batch.single(prob, jl.starts.lhs(chinchilla_law, 16, seed=3))
    opts = jl.engine.Options.make(chunk=8)
    mixed = jl.engine.solve(batch, jl.solvers.LM(), jl.engine.Options.make("mixed", chunk=8))
    f32 = jl.engine.solve(batch, jl.solvers.LM().coarse(), jl.engine.Options.make("float32", chunk=8))
    # the float32 phase is exactly the coarse solver run alone in float32
    np.testing.assert_array_equal(mixed.coarse_steps, f32.steps)
    polish = mixed.steps - mixed.coarse_steps
    assert np.all(polish >= 1)  # every lane that did not fail is polished in float64
    assert np.all(mixed.steps <= jl.solvers.LM().max_steps + jl.engine.POLISH_STEPS)
    assert jl.engine.solve(batch, jl.solvers.LM(), opts).coarse_steps is None
    np.testing.assert_array_equal(mixed.coarse_status, f32.status)


def test_polish_queue_order_does_not_change_any_lane(chinchilla_law, epoch_data):
    # The polish runs lanes in _polish_order's order; each lane's outcome must be exactly what a
    # float64 refine solve from that lane's float32 result gives in the natural order (lanes are
    # independent, and the batch equality test above shows a lane's result does not depend on
    # its slot), so a mix-up in the permutation shows as a mismatch.
    prob = make_problem(chinchilla_law, epoch_data, "huber-log:1e-3")
    batch = Batch.single(prob, jl.starts.lhs(chinchilla_law, 24, seed=5))
    mixed = jl.engine.solve(batch, jl.solvers.LM(), jl.engine.Options.make("mixed", chunk=8))
    f32 = jl.engine.solve(batch, jl.solvers.LM().coarse(), jl.engine.Options.make("float32", chunk=8))
    assert not f32.failed.any()
    order = jl.engine.polish_order(f32.value, f32.failed, np.zeros(24, np.int32))
    assert not np.array_equal(order, np.arange(24))  # the polish really runs in another order
    start = np.clip(f32.theta, chinchilla_law.lower, chinchilla_law.upper)
    used = np.minimum(f32.steps, jl.solvers.LM().max_steps - jl.engine.POLISH_STEPS)
    # phase.run takes the solver as solve sized it for the whole batch (the same factorisation)
    refine = jl.engine.precision.sized(jl.solvers.LM(), batch.n_lanes).refine()
    f64 = jl.engine.phase.run(Batch.single(prob, start), refine, True, 8, steps0=used)
    np.testing.assert_array_equal(mixed.value, f64.value)
    np.testing.assert_array_equal(mixed.theta, f64.theta)
    np.testing.assert_array_equal(mixed.steps - mixed.coarse_steps, f64.steps - used)
    np.testing.assert_array_equal(mixed.status, f64.status)


def test_polish_order_puts_failed_then_farthest_from_their_fits_best_first():
    value = np.array([1.0, 5.0, 2.0, np.nan, 10.0, 11.0, 3.0])
    failed = np.array([False, False, False, False, False, False, True])
    fits = np.array([0, 0, 0, 0, 1, 1, 0])
    # fit 0: best 1.0, gaps 0, 4, 1 (lane 3 not finite, lane 6 failed: first);
    # fit 1: best 10.0, gaps 0, 1. Ties keep the lanes' own order.
    order = jl.engine.polish_order(value, failed, fits)
    np.testing.assert_array_equal(order, [3, 6, 1, 2, 5, 0, 4])


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


def test_auto_is_float64_up_to_the_threshold_and_mixed_above():
    P, n = jl.engine.Precision, jl.engine.precision.AUTO_FLOAT64_LANES
    assert P.parse("auto") is P.AUTO
    assert P.AUTO.resolve(1) is P.AUTO.resolve(n) is P.FLOAT64 and P.AUTO.resolve(n + 1) is P.MIXED
    assert all(p.resolve(10**6) is p and p.resolve(1) is p for p in (P.FLOAT64, P.FLOAT32, P.MIXED))


def test_fit_defaults_to_auto_one_program_for_a_small_fit(no_program_store):
    @jl.law(inputs=("x",), params={"A": jl.Param(1e-3, 1e6, scale="log"), "alpha": jl.Param(0.0, 3.0)})
    def fresh(p, x):  # a law of its own: nothing compiled for it yet
        return p["A"] * x["x"] ** -p["alpha"]

    ds = power_law_data(n=30, sigma=0.02, seed=3)
    n0 = jl.engine.compile_count()
    res = jl.fit(fresh, ds, loss="mse-log", starts=32)
    assert jl.engine.compile_count() == n0 + 1  # float64 alone (mixed compiles two)
    log = [p for p in jl.engine.compile_log() if p.law == "fresh"]
    assert [p.dtype for p in log] == ["float64"] and log[0].background  # compiled beside the diagnostics
    assert all(t >= 0 for p in log for t in (p.trace_s, p.lower_s, p.compile_s)) and log[0].compile_s > 0
    # the same answer as asking for float64 (the same program, nothing compiled again)
    again = jl.fit(fresh, ds, loss="mse-log", starts=32, precision="float64")
    assert again.objective == res.objective and jl.engine.compile_count() == n0 + 1
    best, f_star, lam_min = power_law_reference(ds)
    np.testing.assert_allclose(res.theta, best, rtol=0, atol=lm_linear_param_tol(f_star, lam_min))
