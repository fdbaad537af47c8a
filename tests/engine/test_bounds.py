"""Per-lane bounds: a Batch's bound rows reach the solver lane by lane."""

import numpy as np
import pytest

import jaxlaws as jl
from jaxlaws.problem import Batch, make_problem


@jl.law(inputs=("x",), params={"a": jl.Param(-10.0, 10.0), "b": jl.Param(-10.0, 10.0)})
def line(p, x):
    return p["a"] + p["b"] * x["x"]


def _data(n=25, seed=0):
    rng = np.random.default_rng(seed)
    x = np.linspace(-1.0, 2.0, n)
    return jl.datasets.from_arrays(x={"x": x}, y=0.5 + 1.5 * x + 0.1 * rng.standard_normal(n))


@pytest.mark.parametrize("precision", ["float64", "mixed"])
def test_a_row_with_equal_bounds_holds_the_parameter(precision):
    ds = _data()
    prob = make_problem(line, ds, "mse")
    x, y = ds.inputs["x"], ds.y
    values = np.array([0.5, 1.0, 1.5, 2.5])
    lo = np.tile(line.lower, (len(values) + 1, 1))
    hi = np.tile(line.upper, (len(values) + 1, 1))
    lo[1:, 1] = hi[1:, 1] = values  # rows 1..: b held at each value; row 0: the law's box
    theta0 = np.tile([0.0, 0.0], (len(values) + 1, 1))
    theta0[1:, 1] = values
    idx = np.arange(len(values) + 1)
    z = np.zeros_like(idx)
    batch = Batch(prob, theta0, prob.obs[None], prob.weights[None], z, z, idx, lo, hi, idx)
    lanes = jl.engine.solve(batch, jl.solvers.get("lm"), jl.engine.Options.make(precision))
    assert lanes.converged.all()
    # Held lanes end exactly on their value (float64 clipping to [v, v]).
    np.testing.assert_array_equal(lanes.theta[1:, 1], values)
    # With b held, the least-squares a is mean(y - b x); unconstrained, OLS. Both are linear
    # least squares, solved by LM to its ftol (relative decrement 1e-14: parameters good to
    # ~1e-7 of their standard error, ~1e-9 here); 1e-8 absolute bounds it.
    np.testing.assert_allclose(lanes.theta[1:, 0], [np.mean(y - v * x) for v in values], atol=1e-8)
    np.testing.assert_allclose(lanes.theta[0], np.polyfit(x, y, 1)[::-1], atol=1e-8)


def test_one_sided_bound_row_is_active():
    ds = _data()
    prob = make_problem(line, ds, "mse")
    lo, hi = line.lower.copy(), line.upper.copy()
    hi[1] = 1.0  # b's optimum (~1.5) lies above: the lane must stop on b = 1
    z = np.zeros(1, np.int32)
    batch = Batch(prob, np.zeros((1, 2)), prob.obs[None], prob.weights[None], z, z, z, lo[None], hi[None], z)
    lanes = jl.engine.solve(batch, jl.solvers.get("lm"))
    assert lanes.theta[0, 1] == 1.0
    x, y = ds.inputs["x"], ds.y
    np.testing.assert_allclose(lanes.theta[0, 0], np.mean(y - x), atol=1e-8)


def test_default_bounds_are_the_laws():
    prob = make_problem(line, _data(), "mse")
    b = Batch.single(prob, np.zeros((3, 2)))
    np.testing.assert_array_equal(b.lower, line.lower[None])
    np.testing.assert_array_equal(b.upper, line.upper[None])
    np.testing.assert_array_equal(b.bound_index, np.zeros(3))
    order = np.array([2, 0, 1])
    assert b.take(order).bound_index.shape == (3,)


@pytest.mark.parametrize("lo, hi, what", [
    ([[-11.0, 0.0]], [[0.0, 1.0]], "law.lower <= lower"),  # outside the law's box
    ([[0.0, 2.0]], [[1.0, 1.0]], "law.lower <= lower"),  # lower > upper
    ([[0.0, 0.0, 0.0]], [[1.0, 1.0, 1.0]], "expected [rows, 2]"),
])
def test_bad_bound_rows_refused(lo, hi, what):
    prob = make_problem(line, _data(), "mse")
    z = np.zeros(1, np.int32)
    with pytest.raises(jl.JaxlawsError, match=what.replace("[", r"\[")):
        Batch(prob, np.zeros((1, 2)), prob.obs[None], prob.weights[None], z, z, z, np.array(lo), np.array(hi), z)


def test_bound_index_out_of_range_refused():
    prob = make_problem(line, _data(), "mse")
    z = np.zeros(1, np.int32)
    with pytest.raises(jl.JaxlawsError, match="bound_index"):
        Batch(prob, np.zeros((1, 2)), prob.obs[None], prob.weights[None], z, z, z, None, None, np.array([1]))
