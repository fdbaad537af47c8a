"""jaxlaws.solvers.LBFGS and Adam (optax, projected): bounds, convergence, failed lanes."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import jaxlaws as jl
from conftest import capped_power_law, lm_linear_param_tol, power_law_data, power_law_reference, run_iterates, status_of

X = np.logspace(0.0, 4.0, 20)
SOLVERS = {"lbfgs": jl.solvers.LBFGS, "adam": jl.solvers.Adam}


@pytest.mark.parametrize("name", sorted(SOLVERS))
@pytest.mark.parametrize(
    "true_alpha, start_A, start_alpha, bound",
    [
        (0.8, 1e5, 0.0, "upper"),  # data want alpha = 0.8 > 0.3: pushed against the upper bound
        (-0.5, 10.0, 0.3, "lower"),  # data want alpha = -0.5 < 0: pushed against the lower bound
    ],
)
def test_every_iterate_inside_bounds(name, true_alpha, start_A, start_alpha, bound):
    law = capped_power_law(0.3)
    y = 10.0 * X**-true_alpha
    # Adam moves ~learning_rate = 1e-2 per step, so 0.3 needs ~30 steps; 150 steps is plenty.
    thetas, values, s, _ = run_iterates(SOLVERS[name](), law, X, y, [start_A, start_alpha], max_steps=150)
    lo, hi = law.lower, law.upper
    # optax.projections.projection_box is a clip, exact in floating point: no tolerance.
    assert np.all(thetas >= lo) and np.all(thetas <= hi), thetas[(thetas < lo).any(1) | (thetas > hi).any(1)]
    # Not vacuous: the start sits on one bound and the optimum lies beyond the other bound.
    target = hi[1] if bound == "upper" else lo[1]
    assert thetas[0, 1] != target
    assert np.any(thetas[1:, 1] == target)
    assert len(thetas) > 2  # several iterates were inspected (L-BFGS needs ~3 here, Adam ~30+)
    assert not status_of(s).failed
    assert values[-1] < values[0]


def test_lbfgs_solves_linear_least_squares():
    # power_law with mse-log is linear least squares in (log A, alpha).
    ds = power_law_data(n=30, sigma=0.05, seed=1)
    res = jl.fit("power_law", ds, loss="mse-log", starts=8, solver="lbfgs")
    best, f_star, lam_min = power_law_reference(ds)
    # LBFGS stops when the projected gradient is <= gtol = 1e-12 (sup norm), or after 5 steps
    # with a relative change <= ftol = 1e-12. In the first case |theta - theta*| <= sqrt(2) |g|_inf
    # / lambda_min(H); in the second the gap f - f* is at most ~ a few ftol * f* (allow 10x),
    # so |theta - theta*| <= sqrt(2 * 10 * 1e-12 * f* / lambda_min). Take the larger.
    tol = max(np.sqrt(2) * 1e-12 / lam_min, lm_linear_param_tol(f_star, lam_min, gap=10 * 1e-12))
    assert res.best_converged
    np.testing.assert_allclose(res.theta, best, rtol=0, atol=tol)
    assert res.objective <= f_star * (1 + 1e-10)


def test_lbfgs_converges_with_an_active_bound():
    law = capped_power_law(0.3)
    y = 10.0 * X**-0.8
    lx, ly = np.log(X), np.log(y)
    log_a = np.mean(ly + 0.3 * lx)  # with alpha pinned at 0.3 the optimum over log A is closed form
    f_star = np.sum((log_a - 0.3 * lx - ly) ** 2)
    thetas, values, s, _ = run_iterates(jl.solvers.LBFGS(), law, X, y, [1e5, 0.0])
    # LBFGS's ftol is 1e-12 relative; allow 1e-8 relative.
    assert values[-1] <= f_star * (1 + 1e-8), (values[-1], f_star, thetas[-1])
    assert status_of(s).converged, status_of(s)


@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_failed_start(name):
    @jl.law(inputs=("x",), params={"A": jl.Param(1e-3, 1e3, scale="log"), "k": jl.Param(-50.0, 50.0)})
    def expo(p, x):
        return p["A"] * jnp.exp(p["k"] * x["x"])

    x = np.linspace(0.0, 20.0, 25)
    y = 2.0 * np.exp(-0.3 * x)
    # exp(50 * 20) overflows float64: the objective is inf at the start
    thetas, values, s, _ = run_iterates(SOLVERS[name](), expo, x, y, [2.0, 50.0], loss="huber-log:1e-3")
    assert status_of(s) is jl.Status.NONFINITE_START and len(thetas) == 1
    assert not np.isfinite(values[0])


def test_get_first_order():
    assert isinstance(jl.solvers.get("lbfgs"), jl.solvers.LBFGS)
    a = jl.solvers.get("adam", learning_rate=0.5, max_steps=9)
    assert isinstance(a, jl.solvers.Adam) and a.learning_rate == 0.5 and a.max_steps == 9


def test_a_non_finite_step_ends_the_lane_at_its_last_finite_point():
    # Adam with a huge learning rate jumps from a finite start into exp overflow: first-order
    # solvers do not recover from a non-finite point (rejects_nonfinite is False), so the loop
    # ends the lane as NONFINITE and keeps the last finite iterate.
    @jl.law(inputs=("x",), params={"A": jl.Param(1e-3, 1e3, scale="log"), "k": jl.Param(-50.0, 50.0)})
    def expo(p, x):
        return p["A"] * jnp.exp(p["k"] * x["x"])

    x = np.linspace(0.0, 20.0, 25)
    y = 2.0 * np.exp(0.3 * x)  # growing data pull k up: one step of 100 lands on k = 50, exp(1000) = inf
    thetas, values, s, _ = run_iterates(jl.solvers.Adam(learning_rate=100.0), expo, x, y, [2.0, 0.0], loss="mse")
    assert status_of(s) is jl.Status.NONFINITE
    assert np.isfinite(values[0]) and np.all(np.isfinite(s.state.theta)) and np.isfinite(s.state.value)
    assert status_of(s).failed and not status_of(s).converged
