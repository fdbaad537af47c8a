"""Shared fixtures and helpers for the jaxlaws test suite.

Compiled engine programs are cached per process by (law, loss, solver, slot
count and shapes), so tests reuse a few settings on purpose:

* chinchilla on ``chinchilla_epoch`` with ``huber-log:1e-3`` and the default LM,
  at 8 and 64 slots;
* small synthetic power-law problems with ``mse-log``.

The suite runs as a user's program does: ``import jaxlaws`` gives jax one CPU device per core
and the persistent compilation cache (see :mod:`jaxlaws.devices`), so tests that depend on how
lanes split over devices must hold for any device count. jaxlaws' program store
(:mod:`jaxlaws.program_store`) is the user's too, so a second run of the suite loads what the
first compiled; a test about tracing and compiling itself turns the store off (the
``no_program_store`` fixture), so that it does not depend on what an earlier run stored.
"""

from __future__ import annotations

import numpy as np
import pytest

import jaxlaws as jl

EPS = np.finfo(np.float64).eps  # 2.22e-16: float64 machine epsilon

# Where Epoch AI's copy of the Chinchilla data lives (read-only reference).
SHARED_CHINCHILLA_CSV = "/work/shared/data/chinchilla/svg_extracted_data.csv"


@pytest.fixture
def no_program_store(monkeypatch):
    """The program store off: programs are traced and compiled (or come from jax's own cache) as
    without it, whatever an earlier run of the suite stored."""
    from jaxlaws import program_store

    monkeypatch.setattr(program_store, "directory", lambda: None)


@pytest.fixture(scope="session")
def chinchilla_law() -> jl.Law:
    return jl.laws.get("chinchilla")


@pytest.fixture(scope="session")
def epoch_data() -> jl.datasets.Dataset:
    return jl.datasets.load("chinchilla_epoch")


def power_law_data(n: int = 30, A: float = 50.0, alpha: float = 0.5, sigma: float = 0.0, seed: int = 0):
    """``y = A x^-alpha`` on a log grid, times exp(sigma z) noise."""
    x = np.logspace(1.0, 6.0, n)
    y = A * x**-alpha * np.exp(sigma * np.random.default_rng(seed).standard_normal(n))
    return jl.datasets.from_arrays(x={"x": x}, y=y, name="synthetic_power")


def lstsq_power_law(ds) -> np.ndarray:
    """The exact ``mse-log`` optimum of ``power_law`` in internal coordinates
    (log A, alpha): log y = log A - alpha log x is linear least squares."""
    return power_law_reference(ds)[0]


def power_law_reference(ds):
    """(theta*, f*, lambda_min) for ``power_law`` with ``mse-log`` on ``ds``: the lstsq optimum,
    the objective there, and the smallest eigenvalue of the Hessian H = 2 J^T J."""
    lx = np.log(ds.inputs["x"])
    J = np.stack([np.ones_like(lx), -lx], axis=1)
    sol, *_ = np.linalg.lstsq(J, np.log(ds.y), rcond=None)
    f_star = float(np.sum((J @ sol - np.log(ds.y)) ** 2))
    return sol, f_star, float(np.linalg.eigvalsh(2 * J.T @ J)[0])


# LM stops once a trusted step lowers f by <= ftol f (1e-14), or its scaled step or gradient
# is below 1e-10. On a linear least-squares problem every LM step contracts the error
# geometrically, so the gap left, f - f*, is of the order of that last decrease (ftol test) or
# of P * gtol^2 * cond(J^T J) f (gradient test: f - f* = g^T H^-1 g / 4, ~1e-16 f for the
# conditioning of these problems); 1e-9 bounds both with a wide margin.
LM_LINEAR_GAP = 1e-9


def lm_linear_param_tol(f_star: float, lam_min: float, gap: float = LM_LINEAR_GAP) -> float:
    """|theta - theta*| bound from an objective gap on a quadratic: f - f* >= lam_min/2 |d|^2,
    so |d| <= sqrt(2 gap f* / lam_min); plus a float64 rounding floor for theta of size ~1..10."""
    return float(np.sqrt(2 * gap * f_star / lam_min)) + 1e-12


def capped_power_law(alpha_hi: float = 0.3) -> jl.Law:
    """``y = A x^-alpha`` with a tight box on alpha (0 <= alpha <= alpha_hi)."""

    @jl.law(inputs=("x",), params={"A": jl.Param(1e-3, 1e6, scale="log"), "alpha": jl.Param(0.0, alpha_hi)})
    def capped(p, x):
        return p["A"] * x["x"] ** -p["alpha"]

    return capped


def run_iterates(solver, law: jl.Law, x: np.ndarray, y: np.ndarray, start_natural, loss: str = "mse-log",
                 max_steps: int | None = None):
    """Drive ``solver`` through the shared iterate loop by hand (float64), one lane, recording
    every iterate.

    Returns (thetas [T, P] internal, values [T], final iterate.Lane, objective); the first row
    is the evaluated start."""
    import dataclasses

    import jax
    import jax.numpy as jnp

    from jaxlaws.problem import residual_fn
    from jaxlaws.solvers import iterate

    loss = jl.losses.parse(loss)
    if max_steps is not None:
        solver = dataclasses.replace(solver, max_steps=max_steps)
    with jax.enable_x64(True):
        obs = jnp.asarray(np.log(y) if loss.log_space else y)
        residual = residual_fn(law, loss, {"x": jnp.asarray(x)}, obs)
        obj = jl.solvers.Objective(residual, jnp.ones(len(y)), loss, obs)
        lo, hi = jnp.asarray(law.lower), jnp.asarray(law.upper)
        lane = iterate.init(solver, jnp.asarray(law.to_internal(np.asarray(start_natural, float))), lo, hi)
        step = jax.jit(lambda ln: iterate.step(solver, obj, ln, lo, hi))
        lane = step(lane)  # init evaluates nothing: the first step evaluates the start (and counts no step)
        thetas, values = [np.asarray(lane.state.theta)], [float(lane.state.value)]
        while not bool(iterate.finished(lane)):
            lane = step(lane)
            thetas.append(np.asarray(lane.state.theta))
            values.append(float(lane.state.value))
        lane = jax.device_get(lane)
    return np.array(thetas), np.array(values), lane, obj


def status_of(lane) -> jl.Status:
    """The :class:`jl.Status` of a lane returned by :func:`run_iterates`."""
    return jl.Status(int(lane.status))
