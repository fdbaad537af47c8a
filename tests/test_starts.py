"""jaxlaws.starts: the chinchilla grid, samplers, explicit starts."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import jaxlaws as jl
from jaxlaws import starts
from conftest import EPS

CATALOG = ["chinchilla", "power_law", "power_law_offset", "kaplan_n"]
SAMPLERS = {
    "uniform": starts.uniform,
    "lhs": starts.lhs,
    "halton": starts.halton,
}


def _internal_start_ranges(law):
    lo = law.to_internal(np.array([p.start_range()[0] for p in law.params.values()]))
    hi = law.to_internal(np.array([p.start_range()[1] for p in law.params.values()]))
    return lo, hi


def test_chinchilla_grid_is_epochs_grid(chinchilla_law):
    g = starts.grid(chinchilla_law)
    assert g.shape == (4500, 5)
    # Epoch AI / Hoffmann et al.: e in {-1, -0.5, ..., 1}, a, b in {0, 5, ..., 25},
    # alpha, beta in {0, 0.5, ..., 2}; internal coordinates (log E, log A, log B, alpha, beta).
    e = np.arange(-1.0, 1.01, 0.5)
    ab = np.arange(0.0, 25.1, 5.0)
    al = np.arange(0.0, 2.01, 0.5)
    expected = np.array(list(itertools.product(e, ab, ab, al, al)))
    # The log-scale columns are stored as exp(v) and read back as log(exp(v)): exp is
    # correct to ~1 ulp relative, log then adds an absolute eps plus half an ulp of |v| <= 25,
    # so |error| <= eps * (1 + 25); allow 2x.
    np.testing.assert_allclose(g, expected, rtol=0, atol=2 * EPS * 26)
    # every combination exactly once
    assert len(np.unique(np.round(g, 9), axis=0)) == 4500
    assert starts.make(chinchilla_law, "grid").shape == (4500, 5)


def test_grid_needs_grid_values():
    with pytest.raises(jl.JaxlawsError, match=r"has no start grid for \['A', 'alpha'\]"):
        starts.grid(jl.laws.get("power_law"))


@pytest.mark.parametrize("n", [1, 7, 64, 200])
@pytest.mark.parametrize("name", CATALOG)
def test_lhs_is_stratified(name, n):
    law = jl.laws.get(name)
    pts = starts.lhs(law, n, seed=3)
    lo, hi = _internal_start_ranges(law)
    u = (pts - lo) / (hi - lo)
    strata = np.floor(u * n).astype(int)
    # each parameter's range is cut into n equal strata with exactly one point in each
    for j in range(law.n_params):
        np.testing.assert_array_equal(np.sort(strata[:, j]), np.arange(n))


@pytest.mark.parametrize("kind", sorted(SAMPLERS))
@pytest.mark.parametrize("name", CATALOG)
def test_samplers_inside_bounds_and_start_range(name, kind):
    law = jl.laws.get(name)
    pts = SAMPLERS[kind](law, 257, seed=1)
    assert pts.shape == (257, law.n_params)
    lo, hi = _internal_start_ranges(law)
    assert np.all(pts >= lo) and np.all(pts <= hi)
    assert np.all(pts >= law.lower) and np.all(pts <= law.upper)
    # and they actually spread over the range (not all in a corner): each parameter
    # covers more than half of its range with 257 points
    assert np.all(pts.max(0) - pts.min(0) > 0.5 * (hi - lo))


@pytest.mark.parametrize("kind", sorted(SAMPLERS))
def test_samplers_are_seeded(kind, chinchilla_law):
    f = SAMPLERS[kind]
    a = f(chinchilla_law, 50, seed=7)
    np.testing.assert_array_equal(a, f(chinchilla_law, 50, seed=7))
    assert not np.array_equal(a, f(chinchilla_law, 50, seed=8))


def test_make_int_is_lhs_and_seeded(chinchilla_law):
    np.testing.assert_array_equal(starts.make(chinchilla_law, 32, seed=5), starts.lhs(chinchilla_law, 32, seed=5))
    np.testing.assert_array_equal(starts.make(chinchilla_law, "32", seed=5), starts.lhs(chinchilla_law, 32, seed=5))
    np.testing.assert_array_equal(
        starts.make(chinchilla_law, ("halton", 16), seed=2), starts.halton(chinchilla_law, 16, seed=2)
    )


def test_around(chinchilla_law):
    center = {"E": 1.8, "A": 400.0, "B": 2000.0, "alpha": 0.34, "beta": 0.37}
    pts = starts.make(chinchilla_law, ("around", center, 100, 0.1), seed=0)
    c = chinchilla_law.to_internal(center)
    assert pts.shape == (100, 5)
    np.testing.assert_array_equal(pts[0], c)
    assert np.all(pts >= chinchilla_law.lower) and np.all(pts <= chinchilla_law.upper)
    # jitter of relative size 0.1: 100 draws of a normal stay within 6 sigma (P(fail) ~ 1e-7 per draw)
    scale = np.where(chinchilla_law.log_mask, 0.1, 0.1 * np.abs(c))
    assert np.all(np.abs(pts - c) <= 6 * scale)
    assert np.all(np.std(pts[1:], axis=0) > 0)
    # clipping: a centre on the bound stays in bounds
    on_edge = dict(center, alpha=0.0)
    pts = starts.around(chinchilla_law, on_edge, 50, 0.5, seed=1)
    assert np.all(pts[:, 3] >= 0.0) and np.any(pts[:, 3] == 0.0)


def test_explicit_starts_natural_units(chinchilla_law):
    rows = [
        {"E": 1.8, "A": 400.0, "B": 2000.0, "alpha": 0.34, "beta": 0.37},
        {"E": 2.0, "A": 10.0, "B": 20.0, "alpha": 1.0, "beta": 0.0},
    ]
    arr = np.array([[r[k] for k in chinchilla_law.params] for r in rows])
    from_dicts = starts.make(chinchilla_law, rows)
    from_arr = starts.make(chinchilla_law, arr)
    np.testing.assert_array_equal(from_dicts, from_arr)
    np.testing.assert_array_equal(from_arr, chinchilla_law.to_internal(arr))
    np.testing.assert_array_equal(starts.make(chinchilla_law, rows[0]), from_arr[:1])
    np.testing.assert_array_equal(starts.make(chinchilla_law, arr[1]), from_arr[1:])
    # the bounds themselves are allowed
    lo = np.array([p.lower for p in chinchilla_law.params.values()])
    hi = np.array([p.upper for p in chinchilla_law.params.values()])
    assert starts.make(chinchilla_law, np.stack([lo, hi])).shape == (2, 5)


def test_starts_outside_bounds(chinchilla_law):
    bad = np.array([[1.8, 400.0, 2000.0, 0.34, 0.37], [1.8, 400.0, 2000.0, 3.5, 0.37]])
    with pytest.raises(jl.JaxlawsError, match=r"start 1 is outside the bounds: alpha = 3\.5 not in \[0, 3\]") as e:
        starts.make(chinchilla_law, bad)
    assert "\n" not in str(e.value)
    with pytest.raises(jl.JaxlawsError, match="start 0 is outside the bounds: E = "):
        starts.make(chinchilla_law, [[100.0, 400.0, 2000.0, 0.34, 0.37]])
    with pytest.raises(jl.JaxlawsError, match="outside the bounds"):
        starts.make(chinchilla_law, [[np.nan, 400.0, 2000.0, 0.34, 0.37]])


@pytest.mark.parametrize(
    "spec, match",
    [
        (np.ones((3, 4)), r"starts must have shape \[S, 5\], got \(3, 4\)"),
        (np.ones((0, 5)), r"starts must have shape \[S, 5\]"),
        (0, "number of starts must be >= 1"),
        ("sobol", "unknown starts 'sobol'"),
        (("sobol", 4), "unknown starts"),
        (("lhs",), "unknown starts"),
    ],
)
def test_bad_start_specs(chinchilla_law, spec, match):
    with pytest.raises(jl.JaxlawsError, match=match):
        starts.make(chinchilla_law, spec)


def test_halton_parameter_limit():
    params = {f"p{i}": jl.Param(0.0, 1.0) for i in range(26)}
    big = jl.Law(name="big", fn=lambda p, x: x["x"], inputs=("x",), params=params)
    with pytest.raises(jl.JaxlawsError, match="up to 25 parameters"):
        starts.halton(big, 4)
