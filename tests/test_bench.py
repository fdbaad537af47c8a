"""The benchmark helpers (the benchmarks themselves are not tests: they time things).

``jaxlaws.bench`` is in the package; the full suites live in ``benchmarks/`` (not installed),
which is put on ``sys.path`` here as it is for the scripts run from it.
"""

from __future__ import annotations

import json
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxlaws as jl
from jaxlaws import bench, engine
from jaxlaws.errors import JaxlawsError
from jaxlaws.problem import make_problem, residual_fn
from jaxlaws.solvers import Objective

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
import suites  # noqa: E402


def test_warmup_lanes_is_the_least_count_with_the_same_slots():
    n_dev = jax.device_count()

    def slots(lanes: int, m: int) -> int:
        return engine.slots_per_device(-(-lanes // n_dev), m, 5)

    for m in (100, 240, 1000, 10**5):
        for lanes in (1, 10, 100, 1000, 10**4, 10**5):
            w = suites.warmup_lanes(lanes, m, 5)
            assert 0 < w <= lanes
            assert slots(w, m) == slots(lanes, m)  # the same compiled programs
            assert w == 1 or slots(w - 1, m) < slots(lanes, m)  # and no fewer lanes would do


def test_write_result_names_the_file_by_device_and_writes_plain_json(tmp_path):
    out = {"machine": {"device": "cpu:cpu x2"}, "seconds": np.float64(1.5), "rows": np.arange(3)}
    path = suites.write_result("demo", out, str(tmp_path))
    assert path == str(tmp_path / "demo_cpu.json")
    with open(path) as f:
        assert json.load(f) == {"machine": {"device": "cpu:cpu x2"}, "seconds": 1.5, "rows": [0, 1, 2]}


def test_numpy_chinchilla_is_jaxlaws_objective_and_gradient():
    """What the scipy baselines minimise (value and hand-derived gradient) is jaxlaws' own
    huber-log:1e-3 objective on chinchilla_epoch, to float64 rounding, with and without weights."""
    data = jl.datasets.load("chinchilla_epoch")
    prob = make_problem("chinchilla", data, bench.LOSS)
    law = prob.law
    # Epoch AI's fit (residuals on both sides of delta), a grid start and sampled starts.
    epoch = np.array([np.log(1.8172), np.log(482.01), np.log(2085.43), 0.3478, 0.3658])
    points = np.concatenate([epoch[None], jl.starts.grid(law)[[1234]], jl.starts.uniform(law, 4, seed=3)])
    r = np.abs(bench.Chinchilla(data).residual(epoch))
    assert np.any(r <= 1e-3) and np.any(r > 1e-3)  # both Huber branches
    w = np.random.default_rng(0).multinomial(data.n_points, np.full(data.n_points, 1 / data.n_points)).astype(float)
    with jax.enable_x64(True):
        X = {k: jnp.asarray(v, jnp.float64) for k, v in prob.inputs.items()}
        obs = jnp.asarray(prob.obs, jnp.float64)
        for weights in (None, w):
            c = bench.Chinchilla(data, w=weights)
            jw = jnp.asarray(np.ones(data.n_points) if weights is None else weights, jnp.float64)
            value_and_grad = jax.jit(jax.value_and_grad(Objective(residual_fn(law, prob.loss, X, obs), jw, prob.loss,
                                                                  obs).value))
            for t in points:
                v, g = value_and_grad(jnp.asarray(t, jnp.float64))
                assert c.value(t) == pytest.approx(float(v), rel=1e-12)
                # Rounding scale of a sum of n terms |w psi dr/dtheta| <= w delta max|log x|: the
                # gradient cancels near the optimum, so its own size is no scale there.
                tol = 1e-12 * c.delta * c.w.sum() * max(np.abs(c.lN).max(), np.abs(c.lD).max())
                np.testing.assert_allclose(c.grad(t), np.asarray(g), rtol=1e-10, atol=tol)


def test_bench_without_scipy_is_one_jaxlaws_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy", None)  # makes `import scipy` raise ImportError
    monkeypatch.setitem(sys.modules, "scipy.optimize", None)
    with pytest.raises(JaxlawsError, match=r"jaxlaws\[bench\]") as e:
        bench.lbfgsb_exact(bench.Chinchilla(jl.datasets.load("chinchilla_epoch")), np.zeros((1, 5)), None)
    assert "\n" not in str(e.value)


def test_gpu_script_skips_a_stage_past_its_budget_and_records_every_stage(tmp_path):
    import gpu

    run = gpu.Run(budget=gpu.RESERVE["grid"] + 1000, out=str(tmp_path), tag="t")
    run.stage("grid", lambda r: {"warm_s": 1.0})
    run.stage("bootstrap", lambda r: 1 / 0)  # a failing stage is recorded, the run goes on
    run.budget = 0.0  # nothing left: the next stage is skipped, and says why
    run.stage("million", lambda r: pytest.fail("a stage past the budget must not run"))
    d = json.loads((tmp_path / "gpu_t.json").read_text())
    assert d["stages"]["grid"]["warm_s"] == 1.0 and "ZeroDivisionError" in d["stages"]["bootstrap"]["error"]
    assert [s["stage"] for s in d["skipped"]] == ["million"] and "million" not in d["stages"]
    md = (tmp_path / "gpu_t.md").read_text()
    assert "warm 1.000 s" in md and "bootstrap: ERROR" in md and "million: skipped" in md


def test_gpu_script_refuses_a_cpu_in_one_line():
    import subprocess

    env = dict(os.environ, JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, os.path.join(suites.HERE, "gpu.py")], capture_output=True, text=True, env=env)
    assert out.returncode == 2 and out.stdout == "" and len(out.stderr.strip().splitlines()) == 1
    assert "no accelerator" in out.stderr
