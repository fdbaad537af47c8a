"""jaxlaws.engine.programs: one compiled program for any number of lanes with the same slots;
background compiles; the cache object."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

import jaxlaws as jl
from conftest import lm_linear_param_tol, power_law_data, power_law_reference


@pytest.fixture(autouse=True)
def _traced_and_compiled_here(no_program_store):
    """These tests count traces and compiles of this process: none may come from the store."""


def _counted_law():
    """A fresh user law whose fn counts how often it is traced (called with tracers)."""
    calls = []

    @jl.law(inputs=("x",), params={"A": jl.Param(1e-3, 1e6, scale="log"), "alpha": jl.Param(0.0, 3.0)})
    def counted(p, x):
        calls.append(1)  # runs once per trace: compiled programs never call back into Python
        return p["A"] * x["x"] ** -p["alpha"]

    return counted, calls


def test_one_compilation_serves_any_number_of_starts():
    # Lanes are split over the devices and a program's slots are per device (no more than its
    # lanes need): the counts below are per device, so the same programs serve them on any mesh.
    law, calls = _counted_law()
    ds = power_law_data(n=30, sigma=0.02, seed=3)
    n_dev = jl.engine.mesh.n_devices()
    n0 = jl.engine.compile_count()
    r64 = jl.fit(law, ds, loss="mse-log", starts=64 * n_dev, chunk=64)
    traces_64 = len(calls)
    compiled_64 = jl.engine.compile_count()
    assert traces_64 > 0  # the counter does see traces (not vacuous)
    assert compiled_64 > n0
    # 200 starts a device with the same chunk: 4 chunks of 64 lanes through the same programs
    r200 = jl.fit(law, ds, loss="mse-log", starts=200 * n_dev, chunk=64)
    assert len(calls) == traces_64
    assert jl.engine.compile_count() == compiled_64
    assert r200.n_starts == 200 * n_dev and r64.n_starts == 64 * n_dev
    # and an identical call adds nothing either
    again = jl.fit(law, ds, loss="mse-log", starts=200 * n_dev, chunk=64)
    assert len(calls) == traces_64
    assert jl.engine.compile_count() == compiled_64
    assert again.timing["compile_s"] == 0.0
    # the data are arguments, not constants: new values of the same shape reuse the program
    ds2 = power_law_data(n=30, sigma=0.02, seed=4)
    other = jl.fit(law, ds2, loss="mse-log", starts=64 * n_dev, chunk=64)
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
    first = jl.fit(law, ds, loss="mse-log", starts=32, precision="mixed")
    assert jl.engine.compile_count() == n0 + 2
    assert not any(key[0] is law for key in jl.engine.CACHE.pending)
    assert first.timing["compile_s"] > 0
    again = jl.fit(law, ds, loss="mse-log", starts=32, precision="mixed")
    assert jl.engine.compile_count() == n0 + 2 and again.timing["compile_s"] == 0.0
    assert again.objective == first.objective


class _PlainSolver:
    """A user's solver with no value equality: coarse() and refine() return new objects."""

    def __init__(self, inner):
        self.inner, self.max_steps, self.rejects_nonfinite = inner, inner.max_steps, inner.rejects_nonfinite

    def __getattr__(self, name):  # init, propose, evaluate, start, update, terminate
        return getattr(self.inner, name)

    def coarse(self):
        return _PlainSolver(self.inner.coarse())

    def refine(self):
        return _PlainSolver(self.inner.refine())


def test_a_solver_without_value_equality_still_compiles_each_program_once():
    law, _ = _counted_law()
    ds = power_law_data(n=30, sigma=0.02, seed=3)
    n0 = jl.engine.compile_count()
    res = jl.fit(law, ds, loss="mse-log", starts=16, solver=_PlainSolver(jl.solvers.LM()), precision="mixed")
    assert np.isfinite(res.objective)
    assert jl.engine.compile_count() == n0 + 2  # the programs compiled ahead are the ones run
    assert not any(key[0] is law for key in jl.engine.CACHE.pending)


def test_clear_compiled_survives_a_failed_background_compile():
    import concurrent.futures

    failed = concurrent.futures.Future()
    failed.set_exception(RuntimeError("compile failed"))
    jl.engine.CACHE.pending[("not a program",)] = failed
    jl.engine.clear_compiled()
    assert not jl.engine.CACHE.pending and jl.engine.compile_count() == 0


def test_new_shape_or_settings_compile_again():
    law, calls = _counted_law()
    ds = power_law_data(n=30, sigma=0.02, seed=3)
    n_dev = jl.engine.mesh.n_devices()  # slots are per device: so are the start counts
    jl.fit(law, ds, loss="mse-log", starts=8 * n_dev)
    t = len(calls)
    c = jl.engine.compile_count()
    jl.fit(law, ds, loss="mse-log", starts=16 * n_dev, chunk=16)  # 16 slots instead of 8
    assert len(calls) > t and jl.engine.compile_count() > c
    t, c = len(calls), jl.engine.compile_count()
    jl.fit(law, ds, loss="mse-log", starts=16 * n_dev, chunk=16, max_steps=50)  # another solver configuration
    assert len(calls) > t and jl.engine.compile_count() > c


def test_compiled_cache_cannot_confuse_a_dead_law_with_a_new_one():
    law, _ = _counted_law()
    ds = power_law_data(n=30, sigma=0.02, seed=3)
    jl.fit(law, ds, loss="mse-log", starts=8)
    ref, law_id = weakref.ref(law), id(law)
    del law
    gc.collect()
    # Safe if the cache keeps the law alive (its id cannot be reused) or drops its programs.
    keyed_on_dead_id = any(id(k[0]) == law_id for k in jl.engine.CACHE.compiled)
    assert ref() is not None or not keyed_on_dead_id


