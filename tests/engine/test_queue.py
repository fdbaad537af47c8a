"""jaxlaws.engine.queue: vmap == a loop of single fits, lanes through many queue calls, chunk size."""

from __future__ import annotations

import numpy as np

import jaxlaws as jl


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
    monkeypatch.setattr(jl.engine.phase, "QUEUE_BATCHES", 4)
    # A single start runs in the same 8-slot program, so each lane must come out bit for bit as
    # it does alone: any difference would mean the swaps mix up lanes or their step counts.
    law = jl.laws.get("power_law_offset")
    rng = np.random.default_rng(0)
    x = np.logspace(1.0, 5.0, 25)
    ds = jl.datasets.from_arrays(x={"x": x}, y=(2.0 + 30.0 * x**-0.4) * np.exp(0.02 * rng.standard_normal(25)))
    starts = law.to_natural(jl.starts.lhs(law, 40, seed=2))
    assert 40 > jl.engine.phase.QUEUE_BATCHES * 8
    batched = jl.fit(law, ds, loss="mse-log", starts=starts, chunk=8)
    assert len(set(batched.steps.tolist())) > 3  # lanes really finish at different times
    for i in range(40):
        one = jl.fit(law, ds, loss="mse-log", starts=starts[i : i + 1], chunk=8)
        assert one.all_objective[0] == batched.all_objective[i], i
        np.testing.assert_array_equal(one.all_params[0], batched.all_params[i])
        assert one.steps[0] == batched.steps[i] and one.converged[0] == batched.converged[i]


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


