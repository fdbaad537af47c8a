"""jaxlaws.solvers.LM: projection onto the bounds, convergence on a linear problem, failed lanes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxlaws as jl
from conftest import LM_LINEAR_GAP, capped_power_law, lm_linear_param_tol, power_law_data, power_law_reference, run_iterates, status_of

X = np.logspace(0.0, 4.0, 20)


@pytest.mark.parametrize(
    "true_alpha, start_A, start_alpha, bound",
    [
        (0.8, 1e5, 0.0, "upper"),  # data want alpha = 0.8 > 0.3: pushed up against the upper bound
        (-0.5, 10.0, 0.3, "lower"),  # data want alpha = -0.5 < 0: pushed down against the lower bound
    ],
)
def test_every_iterate_inside_bounds(true_alpha, start_A, start_alpha, bound):
    law = capped_power_law(0.3)
    y = 10.0 * X**-true_alpha
    thetas, values, s, _ = run_iterates(jl.solvers.LM(), law, X, y, [start_A, start_alpha], max_steps=60)
    lo, hi = law.lower, law.upper
    # Projection is a clip, exact in floating point: no tolerance.
    assert np.all(thetas >= lo) and np.all(thetas <= hi), thetas[(thetas < lo).any(1) | (thetas > hi).any(1)]
    # Not vacuous: the start sits on one bound and the data's optimum lies beyond the other,
    # so some iterate must sit exactly on that bound (the projection was exercised).
    target = hi[1] if bound == "upper" else lo[1]
    assert thetas[0, 1] != target
    assert np.any(thetas[1:, 1] == target)
    assert len(thetas) > 5
    # LM only accepts steps that lower the objective: the recorded values never increase.
    assert np.all(np.diff(values) <= 0)
    assert values[-1] < values[0]


def test_lm_solves_linear_least_squares():
    # power_law with mse-log is linear least squares in (log A, alpha): lstsq is the exact optimum.
    ds = power_law_data(n=30, sigma=0.05, seed=1)
    res = jl.fit("power_law", ds, loss="mse-log", starts=8, solver="lm")
    best, f_star, lam_min = power_law_reference(ds)
    tol = lm_linear_param_tol(f_star, lam_min)  # see conftest: from LM's ftol via the Hessian
    assert res.best_converged and res.n_failed == 0
    np.testing.assert_allclose(res.theta, best, rtol=0, atol=tol)
    assert res.objective <= f_star * (1 + LM_LINEAR_GAP)
    # and every lane reaches it (the problem is convex)
    assert np.all(res.converged)
    np.testing.assert_allclose(res.all_objective, f_star, rtol=LM_LINEAR_GAP)
    np.testing.assert_allclose(np.log(res.all_params[:, 0]), best[0], rtol=0, atol=tol)


def test_lm_converges_with_an_active_bound():
    law = capped_power_law(0.3)
    y = 10.0 * X**-0.8
    lx, ly = np.log(X), np.log(y)
    # With alpha pinned at 0.3 the optimum over log A is the mean residual: exact in closed form.
    log_a = np.mean(ly + 0.3 * lx)
    f_star = np.sum((log_a - 0.3 * lx - ly) ** 2)
    thetas, values, s, _ = run_iterates(jl.solvers.LM(), law, X, y, [1e5, 0.0])
    # LM's own stopping rules (ftol = 1e-14 relative decrease, or the scaled gradient or step
    # below 1e-10): allow 1e-8 relative.
    assert values[-1] <= f_star * (1 + 1e-8), (values[-1], f_star, thetas[-1])
    assert status_of(s).converged, status_of(s)


def test_failed_start_is_done_and_frozen():
    from jaxlaws.solvers import iterate

    @jl.law(inputs=("x",), params={"A": jl.Param(1e-3, 1e3, scale="log"), "k": jl.Param(-50.0, 50.0)})
    def expo(p, x):
        return p["A"] * jnp.exp(p["k"] * x["x"])

    x = np.linspace(0.0, 20.0, 25)
    y = 2.0 * np.exp(-0.3 * x)
    # k = 50: exp(50 * 20) = exp(1000) overflows float64 (max ~ exp(709.8)) -> inf objective
    thetas, values, s, obj = run_iterates(jl.solvers.LM(), expo, x, y, [2.0, 50.0], loss="huber-log:1e-3", max_steps=3)
    assert status_of(s) is jl.Status.NONFINITE_START and int(s.steps) == 0
    assert not np.isfinite(values[0])
    assert len(thetas) == 1  # run_iterates never steps a finished lane
    with jax.enable_x64(True):
        lo, hi = jnp.asarray(expo.lower), jnp.asarray(expo.upper)
        s2 = iterate.step(jl.solvers.LM(), obj, jax.tree.map(jnp.asarray, s), lo, hi)
    # a finished lane never changes (the loop freezes it): every field identical
    for a, b in zip(jax.tree.leaves(s), jax.tree.leaves(jax.device_get(s2))):
        np.testing.assert_array_equal(a, b)


def test_get_solver():
    assert isinstance(jl.solvers.get("lm"), jl.solvers.LM)
    assert jl.solvers.get("lm", max_steps=7).max_steps == 7
    slv = jl.solvers.LM(ftol=1e-6)
    assert jl.solvers.get(slv) is slv
    with pytest.raises(jl.JaxlawsError, match="unknown solver 'newton'; choose from lm, lbfgs, adam"):
        jl.solvers.get("newton")
    with pytest.raises(jl.JaxlawsError, match="unknown option.* not_an_option for solver lm; it takes max_steps"):
        jl.solvers.get("lm", not_an_option=1)
    # options given with a solver object are applied to a copy, not dropped
    got = jl.solvers.get(slv, max_steps=3)
    assert got.max_steps == 3 and got.ftol == 1e-6 and slv.max_steps == 200


def test_a_step_that_cannot_be_solved_shrinks_the_radius_and_raises_damping():
    # An indefinite Gauss-Newton matrix with tiny damping makes the Cholesky factorisation take the
    # square root of a negative number: the step is NaN. The lane must reject it, keep its point,
    # raise the damping and halve a finite trust radius (a NaN radius would freeze the lane forever).
    from jaxlaws.solvers import iterate

    law = jl.laws.get("power_law")
    y = 10.0 * X**-0.8
    _, _, s, obj = run_iterates(jl.solvers.LM(), law, X, y, [1.0, 0.1], max_steps=0)
    assert status_of(s) is jl.Status.MAX_STEPS  # evaluated its start, then the step limit
    slv = jl.solvers.LM()
    with jax.enable_x64(True):
        lo, hi = jnp.asarray(law.lower), jnp.asarray(law.upper)
        st = jax.tree.map(jnp.asarray, s.state)._replace(hess=-jnp.eye(2), lam=jnp.asarray(1e-12))
        lane = iterate.Lane(st, jnp.asarray(0, jnp.int32), jnp.asarray(0, jnp.int32))
        s2 = jax.device_get(iterate.step(slv, obj, lane, lo, hi))
    np.testing.assert_array_equal(s2.state.theta, s.state.theta)
    assert s2.state.value == s.state.value and not s2.state.accepted
    assert np.isfinite(s2.state.radius) and 0 < s2.state.radius < s.state.radius
    assert s2.state.lam > 1e-12 and status_of(s2) is jl.Status.RUNNING


def test_coarse_and_refine_variants():
    slv = jl.solvers.LM()
    c = slv.coarse()
    assert c.ftol == 1e-6 and c.xtol == 1e-6 and c.gtol == 1e-5 and c.max_steps == slv.max_steps
    r = slv.refine()
    assert r.lam0 == slv.polish_lam0 < slv.lam0 and r.outlier == slv.polish_outlier == 0.0
    assert r.ftol == slv.ftol and r.xtol == slv.xtol
    # tolerances already looser than float32's stay as they are
    assert jl.solvers.LM(ftol=1e-3).coarse().ftol == 1e-3
    lb = jl.solvers.LBFGS()
    assert lb.refine() is lb and lb.coarse().ftol == 1e-6


def test_gradient_test_uses_the_current_column_norms():
    # A column that has shrunk since earlier iterates (diag H now 1e-11 against a running maximum
    # of 1) must not loosen the gradient test: here the MINPACK cosine is 3e-5 (far above gtol)
    # and the decrement 4.5e-10 f (far above ftol), so the lane is not converged.
    with jax.enable_x64(True):
        lm = jl.solvers.LM()
        lo, hi = jnp.full(2, -10.0), jnp.full(2, 10.0)
        d_now, cos, f = 1e-11, 3e-5, 1.0
        g = cos * np.sqrt(2 * f * d_now)
        s = lm.init(jnp.zeros(2), lo, hi)._replace(
            value=jnp.asarray(f), grad=jnp.array([g, 0.0]), hess=jnp.diag(jnp.array([d_now, 1.0])),
            scale=jnp.array([1.0, 1.0]), accepted=jnp.asarray(True), rho=jnp.asarray(1.0), dx=jnp.asarray(1e-3),
            fnoise=jnp.asarray(1e-16))
        assert jl.Status(int(lm.terminate(s, lo, hi))) is jl.Status.RUNNING
        # and with the gradient at the rounding level of the same column it is converged
        s2 = s._replace(grad=jnp.array([1e-12 * np.sqrt(2 * f * d_now), 0.0]))
        assert jl.Status(int(lm.terminate(s2, lo, hi))) is jl.Status.CONVERGED_GRADIENT


def test_cholesky_option_and_batch_size_choice(monkeypatch):
    from jaxlaws.solvers import lm
    from jaxlaws.solvers.linalg import Cholesky

    slv = jl.solvers.LM()
    assert slv.cholesky is None
    monkeypatch.setattr(lm, "LIBRARY_LANES", 100)
    small = Cholesky.LIBRARY if jax.default_backend() == "cpu" else Cholesky.INLINE  # measured on CPUs only
    assert slv.for_batch(100).cholesky is small
    assert slv.for_batch(101).cholesky is Cholesky.INLINE
    # the variants keep the choice, and an explicit choice is never overridden by the batch size
    assert slv.for_batch(5).refine().cholesky is small
    fixed = jl.solvers.get("lm", cholesky="inline")
    assert fixed.cholesky is Cholesky.INLINE and fixed.for_batch(1) is fixed
    with pytest.raises(jl.JaxlawsError, match="cholesky must be one of inline, library, got 'lu'"):
        jl.solvers.get("lm", cholesky="lu")


def test_library_and_inline_cholesky_reach_the_same_fit(chinchilla_law, epoch_data):
    # The two factorisations differ in rounding only: the best objective agrees to well within
    # the solver's ftol = 1e-14 relative gap (1e-12 allows for rounding of the objective itself,
    # ~1e-16 * m per residual sum), and the best point to ~sqrt(ftol) in the parameters' scales.
    fits = {c: jl.fit(chinchilla_law, epoch_data, starts=32, seed=2, cholesky=c) for c in ("inline", "library")}
    a, b = fits["inline"], fits["library"]
    assert a.best_converged and b.best_converged
    assert abs(a.objective - b.objective) <= 1e-12 * a.objective
    np.testing.assert_allclose(a.theta, b.theta, rtol=1e-5, atol=1e-6)
