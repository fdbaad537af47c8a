"""jaxlaws.engine.solve on a Batch: observation and weight rows as lane indices, progress."""

from __future__ import annotations

import jax
import numpy as np

import jaxlaws as jl
from conftest import lm_linear_param_tol, power_law_data, power_law_reference
from jaxlaws.problem import Batch, make_problem


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
    batch = Batch(make_problem(law, ds_a, loss), theta0, obs, w, yi, wi, np.arange(4))
    lanes = jl.engine.solve(batch, slv, jl.engine.Options.make(chunk=8))
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


def test_progress_callback():
    law = jl.laws.get("power_law")
    ds = power_law_data(n=30, sigma=0.05, seed=1)
    seen = []
    batch = Batch.single(make_problem(law, ds, "mse-log"), jl.starts.lhs(law, 8))
    lanes = jl.engine.solve(batch, jl.solvers.LM(), jl.engine.Options.make(chunk=8, progress=lambda d, t: seen.append((d, t))))
    assert seen[-1] == (8, 8) and all(t == 8 for _, t in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert lanes.converged.all()


def test_the_solver_is_sized_once_on_the_whole_batch(monkeypatch, chinchilla_law, epoch_data):
    # LM factors with the library up to LIBRARY_LANES lanes, inline above. The choice is made on
    # the batch given to solve (or solve_racing), never on the sub-batches racing runs, so every
    # program of one call uses the same factorisation.
    from jaxlaws.engine.programs import CACHE
    from jaxlaws.solvers import lm
    from jaxlaws.solvers.linalg import Cholesky

    monkeypatch.setattr(lm, "LIBRARY_LANES", 8)
    prob = make_problem(chinchilla_law, epoch_data, "huber-log:1e-3")

    def used(n: int, race: bool) -> set:
        CACHE.clear()
        batch = Batch.single(prob, jl.starts.lhs(chinchilla_law, n, seed=1))
        opts = jl.engine.Options.make("float64", chunk=8)
        if race:  # 16 lanes: its rounds and survivors run fewer than 8 lanes at a time
            jl.engine.solve_racing(batch, jl.solvers.LM(), opts, jl.engine.Race(rounds=(5,)))
        else:
            jl.engine.solve(batch, jl.solvers.LM(), opts)
        return {key[2].cholesky for key in CACHE.compiled}

    small = Cholesky.LIBRARY if jax.default_backend() == "cpu" else Cholesky.INLINE  # measured on CPUs only
    assert used(8, race=False) == {small}
    assert used(16, race=False) == {Cholesky.INLINE}
    assert used(16, race=True) == {Cholesky.INLINE}
    CACHE.clear()
