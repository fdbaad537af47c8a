"""Fault injection: laws that go non-finite in part of their domain.

* a band of alpha where the prediction is NaN: starts inside it fail at once
  (``nonfinite_start``), and first-order lanes that must cross it on their way to the
  optimum fail mid-run (``nonfinite``); LM treats a NaN candidate as a rejected step and
  goes around it. The failed lanes are flagged, counted (``status_counts``, ``to_dict()``,
  the bootstrap summary), and change nothing else: the fit and a bootstrap equal those run
  from the healthy starts alone, bit for bit;
* a prediction that is NaN at some data rows for every parameter value: the fit refuses in
  one line that names the rows.
"""

from __future__ import annotations

import json
import warnings

import jax.numpy as jnp
import numpy as np
import pytest

import jaxlaws as jl
from jaxlaws.solvers import Status

BAND = (0.8, 0.9)


@jl.law(inputs=("x",), params={"A": jl.Param(1e-3, 1e6, scale="log"), "alpha": jl.Param(0.0, 2.0)})
def banded(p, x):
    """``A x^-alpha``, NaN for alpha inside BAND (at every point)."""
    normal = p["A"] * x["x"] ** -p["alpha"]
    return jnp.where((p["alpha"] > BAND[0]) & (p["alpha"] < BAND[1]), jnp.nan, normal)


X = np.logspace(0.0, 3.0, 20)
DATA = jl.datasets.from_arrays(x={"x": X}, y=30.0 * X**-0.5 * np.exp(0.01 * np.random.default_rng(0).standard_normal(20)),
                               name="banded")
# The data want alpha = 0.5, below the band: a start above it has to cross it.
STARTS = np.array([[10.0, 0.2], [100.0, 0.85], [5.0, 1.5], [50.0, 0.3],
                   [20.0, 1.9], [1.0, 0.86], [300.0, 1.2], [3.0, 0.6]])
IN_BAND = (STARTS[:, 1] > BAND[0]) & (STARTS[:, 1] < BAND[1])  # lanes 1, 5
ABOVE = STARTS[:, 1] >= BAND[1]  # lanes 2, 4, 6
HEALTHY = ~IN_BAND & ~ABOVE  # lanes 0, 3, 7
# Adam moves each coordinate by about its learning rate (1e-2) per step: it cannot jump a band
# 0.1 wide, so every lane above it lands in it.
ADAM = "adam"
CHUNK = 8  # the same 8 slots per device for every fit here, so healthy lanes run identical arithmetic


def quiet_fit(*args, **kw) -> jl.FitResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jl.JaxlawsWarning)
        return jl.fit(*args, **kw)


@pytest.fixture(scope="module")
def faulty() -> jl.FitResult:
    return quiet_fit(banded, DATA, loss="mse-log", starts=STARTS, solver=ADAM, chunk=CHUNK)


@pytest.fixture(scope="module")
def healthy() -> jl.FitResult:
    return quiet_fit(banded, DATA, loss="mse-log", starts=STARTS[HEALTHY], solver=ADAM, chunk=CHUNK)


def test_failed_lanes_are_flagged_with_their_status(faulty):
    status = faulty.status
    assert np.all(status[IN_BAND] == Status.NONFINITE_START)
    assert np.all(faulty.steps[IN_BAND] == 0) and not np.isfinite(faulty.all_objective[IN_BAND]).any()
    assert np.all(status[ABOVE] == Status.NONFINITE)
    # A lane that went non-finite ends at its last finite point, inside the finite region above
    # the band (it never got below it), with steps spent.
    assert np.isfinite(faulty.all_objective[ABOVE]).all() and np.all(faulty.all_params[ABOVE, 1] >= BAND[1])
    assert np.all(faulty.steps[ABOVE] > 0)
    assert np.all(faulty.converged[HEALTHY])
    np.testing.assert_array_equal(faulty.failed, ~HEALTHY)
    assert faulty.n_failed == 5 and faulty.n_converged == 3


def test_failed_lanes_are_counted_in_the_result_and_its_json(faulty):
    counts = faulty.status_counts
    assert counts["nonfinite_start"] == 2 and counts["nonfinite"] == 3
    assert sum(counts.values()) == len(STARTS)
    d = json.loads(json.dumps(faulty.to_dict()))  # JSON-ready: no numpy types, no NaN keys
    assert d["status_counts"] == counts
    assert d["n_failed"] == 5 and d["n_starts"] == 8 and d["n_converged"] == 3
    assert d["best_converged"] is True
    assert all(np.isfinite(v) for v in d["params"].values()) and np.isfinite(d["objective"])
    assert "nonfinite_start 2" in faulty.report() and "nonfinite 3" in faulty.report()


def test_failed_lanes_change_nothing_else(faulty, healthy):
    # Same problem, same 8-slot program, lanes never interact: every healthy lane performs the same
    # operations with or without the failing ones beside it, so the fits agree exactly.
    np.testing.assert_array_equal(faulty.all_params[HEALTHY], healthy.all_params)
    np.testing.assert_array_equal(faulty.all_objective[HEALTHY], healthy.all_objective)
    np.testing.assert_array_equal(faulty.steps[HEALTHY], healthy.steps)
    np.testing.assert_array_equal(faulty.status[HEALTHY], healthy.status)
    assert faulty.params == healthy.params and faulty.objective == healthy.objective
    assert np.flatnonzero(HEALTHY)[healthy.best_index] == faulty.best_index
    assert faulty.se == healthy.se


def test_lm_steps_around_the_band_instead_of_failing():
    # LM counts a NaN candidate as a rejected step (rejects_nonfinite): the damping grows and the
    # trust radius shrinks until a step lands outside the band. Only the starts inside it fail.
    res = quiet_fit(banded, DATA, loss="mse-log", starts=STARTS, solver="lm", chunk=CHUNK)
    np.testing.assert_array_equal(res.failed, IN_BAND)
    assert np.all(res.status[IN_BAND] == Status.NONFINITE_START)
    assert res.status_counts.get("nonfinite", 0) == 0 and np.all(res.converged[~IN_BAND])
    assert abs(res.params["alpha"] - 0.5) < 0.01


def test_bootstrap_with_failing_lanes_equals_the_bootstrap_of_the_healthy_starts(faulty):
    # Every resample runs the full-data best plus the given starts: the band's starts fail in every
    # resample, the lanes above it fail mid-run. Each resample keeps its best lane that did not
    # fail; with the same 8 slots the healthy lanes compute exactly what they compute alone.
    kw = dict(n=32, loss="mse-log", solver=ADAM, fit=faulty, chunk=CHUNK, seed=0)
    boot = jl.bootstrap(banded, DATA, starts=STARTS, **kw)
    clean = jl.bootstrap(banded, DATA, starts=STARTS[HEALTHY], **kw)
    S = 1 + len(STARTS)  # lane 0 of each resample starts from the full-data best
    lanes = boot.lane_status.reshape(32, S)[:, 1:]
    assert np.all(lanes[:, IN_BAND] == Status.NONFINITE_START)
    assert np.all(lanes[:, ABOVE] == Status.NONFINITE)
    counts = boot.status_counts
    assert counts["nonfinite_start"] == 32 * 2 and counts["nonfinite"] == 32 * 3
    summary = json.loads(json.dumps(boot.summary()))
    assert summary["status_counts"] == counts and summary["n_failed"] == 0  # no resample lost every lane
    assert "nonfinite" not in clean.status_counts and "nonfinite_start" not in clean.status_counts
    np.testing.assert_array_equal(boot.params, clean.params)
    np.testing.assert_array_equal(boot.converged, clean.converged)
    assert boot.ci(0.9) == clean.ci(0.9) and boot.se == clean.se


# ---- a prediction that is NaN at some rows whatever the parameters ------------------------------------


def test_rows_outside_the_domain_at_every_start_are_named():
    # x^-alpha of a negative x is NaN for every non-integer alpha: row 5 is outside the domain.
    x = X.copy()
    x[5] = -1.0
    ds = jl.datasets.from_arrays(x={"x": x}, y=DATA.y)
    msg = (r"^all 3 starts failed: the objective is not finite at any start; the prediction is not finite at "
           r"1 of 20 rows at every start \(first: row 5, x=-1\) \(are the data in law 'banded''s domain\?\)$")
    with pytest.raises(jl.JaxlawsError, match=msg):
        jl.fit(banded, ds, loss="mse-log", starts=STARTS[HEALTHY], chunk=CHUNK)


@jl.law(inputs=("x",), params={"A": jl.Param(1e-3, 1e6, scale="log"), "alpha": jl.Param(0.0, 2.0)})
def spotty(p, x):
    """NaN at the points above x = 100 for alpha > 1, at those below x = 10 for alpha < 1."""
    bad = ((x["x"] > 100.0) & (p["alpha"] > 1.0)) | ((x["x"] < 10.0) & (p["alpha"] < 1.0))
    return jnp.where(bad, jnp.nan, p["A"] * x["x"] ** -p["alpha"])


def test_rows_outside_the_domain_at_the_first_start_are_named():
    # No row fails at every start, so the message names those of the first start (alpha 1.5:
    # the 7 points above x = 100, the first of them row 13).
    assert np.flatnonzero(X > 100.0)[0] == 13 and np.sum(X > 100.0) == 7
    msg = (r"all 2 starts failed: the objective is not finite at any start; the prediction is not finite at "
           r"7 of 20 rows at the first start \(first: row 13, x=")
    with pytest.raises(jl.JaxlawsError, match=msg):
        jl.fit(spotty, DATA, loss="mse-log", starts=np.array([[10.0, 1.5], [10.0, 0.5]]), chunk=CHUNK,
               precision="float64")
