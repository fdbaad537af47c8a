"""Training curves: the bundled ``routing_curves`` dataset, runs on Dataset, and reading each run's
value at budgets (:mod:`jaxlaws.datasets.curves`)."""

from __future__ import annotations

import csv
import gzip
import hashlib
from collections import Counter
from importlib import resources

import numpy as np
import pytest

import jaxlaws as jl
from jaxlaws.datasets import curves
from jaxlaws.errors import JaxlawsError

DATA = resources.files("jaxlaws.datasets") / "data"
FILE = "routing_curves.csv.gz"


@pytest.fixture(scope="module")
def routing():
    return jl.datasets.load("routing_curves")


@pytest.fixture(scope="module")
def raw():
    with gzip.open(DATA / FILE, "rt", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def one_line(excinfo) -> str:
    msg = str(excinfo.value)
    assert msg and "\n" not in msg
    return msg


# ---------------------------------------------------------------- the bundled file


def test_rows_are_the_files_rows_less_the_documented_drops(routing, raw):
    assert len(raw) == 5799  # the file: 1 header + 5799 rows (SOURCE.md)
    step0 = [r for r in raw if float(r["step"]) == 0]
    no_loss = [r for r in raw if float(r["step"]) > 0 and not r["loss_validation"].strip()]
    assert (len(step0), len(no_loss)) == (223, 8)  # one step-0 row per run; 8 unlogged validation losses
    assert {r["step"] for r in no_loss} == {"248000"}
    kept = [r for r in raw if float(r["step"]) > 0 and r["loss_validation"].strip()]
    assert routing.n_points == len(kept) == len(raw) - 223 - 8 == 5568
    np.testing.assert_array_equal(routing.y, [float(r["loss_validation"]) for r in kept])
    np.testing.assert_array_equal(routing.inputs["N"], [float(r["dense_parameter_count"]) for r in kept])
    np.testing.assert_array_equal(routing.inputs["N_total"], [float(r["total_parameter_count"]) for r in kept])
    np.testing.assert_array_equal(routing.inputs["step"], [float(r["step"]) for r in kept])
    np.testing.assert_array_equal(routing.runs, [f"{r['router_type']}-{r['hyper_id']}" for r in kept])
    np.testing.assert_array_equal(routing.extra["router_type"], [r["router_type"] for r in kept])
    lp = routing.extra["loss_pile"]  # an extra loss with empty cells: NaN there, the number elsewhere
    np.testing.assert_array_equal(np.isnan(lp), [not r["loss_pile"].strip() for r in kept])
    assert Counter(routing.extra["router_type"].tolist()) == {"S-Base": 2171, "Hash": 1724, "RL-R": 1348, "Dense": 325}
    assert len(np.unique(routing.runs)) == 223


def test_tokens_and_compute_columns(routing):
    x = routing.inputs
    np.testing.assert_array_equal(x["D"], x["step"] * 524_288)
    np.testing.assert_array_equal(x["C"], 6.0 * x["N"] * x["D"])
    np.testing.assert_array_equal(x["C_fwd"], x["step"] * x["C_step"])
    for k in ("N", "E", "k", "C_step"):  # a run's architecture does not change along its curve
        curves.per_run(routing, k)


def test_tokens_per_step_is_what_flops_per_step_says(routing):
    # SOURCE.md: flops_per_step = T (2N + 2 V d_model + c L h d_head) for the dense runs with
    # flop_increase 1, all three of T, T V, T c free. The fit is exact to the file's rounding of
    # its own estimate (residuals <= 0.3%), so T lands within 0.15% of 2^19 = 256 x 2048.
    m = (routing.extra["router_type"] == "Dense") & (routing.extra["flop_increase"] == 1)
    sub = routing.subset(m)
    cols = [curves.per_run(sub, k) for k in ("N", "d_model", "num_blocks", "num_heads", "kqv_size", "C_step")]
    N, d, L, h, kq, F = (np.unique(np.stack(cols), axis=1))  # one row per distinct architecture
    assert len(N) == 6
    X = np.stack([2 * N, 2 * d, L * h * kq], axis=1)
    (T, TV, Tc), *_ = np.linalg.lstsq(X, F, rcond=None)
    assert abs(T / 524_288 - 1) < 2e-3
    assert abs(TV / T - 32_000) < 200  # the vocabulary
    assert np.max(np.abs(X @ [T, TV, Tc] / F - 1)) < 4e-3


def test_provenance(routing):
    p = routing.provenance
    digest = hashlib.sha256((DATA / FILE).read_bytes()).hexdigest()
    assert digest == "c03e7531add85e594f368d33bac4a0220280be858a7ed12d147cf73af6a3819f"  # byte-for-byte the original
    for needle in (digest, "https://github.com/google-deepmind/scaling_laws_for_routing",
                   "42da0c392b127df2c01fa7b705f72396050d05e5", "arXiv:2202.01169", "CC-BY 4.0",
                   "one** learning-rate schedule", "Approach 1", "Approach 2", "arXiv:2406.19146", "524,288"):
        assert needle in p, needle
    assert "routing_curves" in jl.datasets.describe() and "\n" not in jl.datasets.describe()["routing_curves"]


# ---------------------------------------------------------------- reading curves


def curve_data(rows, name="curves"):
    """rows: (run, C, loss) triples."""
    run, C, y = zip(*rows)
    return jl.datasets.from_arrays({"C": np.array(C, float), "N": np.ones(len(C))}, np.array(y, float),
                                   name=name, runs=np.array(run))


def test_exact_at_checkpoints(routing):
    sub = routing.subset(routing.extra["router_type"] == "Dense")
    labels, inv = curves.run_labels(sub)
    r = 3
    C = sub.inputs["C"][inv == r]
    out = curves.read(sub, C)
    # the interpolant at a checkpoint is exp(log y): exact to a few ulps of y
    np.testing.assert_allclose(out.values[r], sub.y[inv == r], rtol=4e-16 * 4)
    assert out.runs[r] == labels[r]
    assert np.all(out.covered[r])


def test_log_log_linear_between_checkpoints_and_nan_outside():
    d = curve_data([("a", 1e18, 4.0), ("a", 1e20, 1.0), ("b", 1e19, 3.0), ("b", 1e21, 2.0)])
    out = curves.read(d, [1e17, 1e18, 1e19, 1e20, 1e21])
    a, b = out.values
    # log y linear in log C: halfway in log C between two checkpoints is the geometric mean
    np.testing.assert_allclose(a, [np.nan, 4.0, 2.0, 1.0, np.nan], rtol=1e-15)
    np.testing.assert_allclose(b, [np.nan, np.nan, 3.0, np.sqrt(6.0), 2.0], rtol=1e-15)
    np.testing.assert_array_equal(out.first, [1e18, 1e19])
    np.testing.assert_array_equal(out.last, [1e20, 1e21])


def test_row_order_does_not_matter_and_edges_are_inside():
    rows = [("a", 1e18, 4.0), ("a", 1e19, 3.0), ("a", 1e20, 1.0), ("b", 1e19, 3.0), ("b", 1e21, 2.0)]
    ordered = curves.read(curve_data(rows), [1e18, 3e19, 1e21])
    shuffled = curves.read(curve_data([rows[i] for i in (4, 2, 0, 3, 1)]), [1e18, 3e19, 1e21])
    np.testing.assert_array_equal(ordered.values, shuffled.values)
    # a budget a relative 1e-12 past a run's last checkpoint is on it (product rounding), 1e-6 is not
    edge = curves.read(curve_data(rows), [1e21 * (1 + 1e-12), 1e21 * (1 + 1e-6)])
    assert edge.values[1, 0] == 2.0 and np.isnan(edge.values[1, 1])


def test_a_curve_need_not_be_monotone():
    d = curve_data([("a", 1.0, 2.0), ("a", 2.0, 3.0), ("a", 4.0, 1.5)])  # a loss spike is read as it is
    np.testing.assert_allclose(curves.read(d, [2.0, 4.0]).values[0], [3.0, 1.5], rtol=1e-15)


def test_a_column_with_missing_measurements_skips_them():
    d = curve_data([("a", 1.0, 2.0), ("a", 2.0, 3.0), ("a", 4.0, 1.5)])
    d = jl.datasets.Dataset(name="x", inputs=d.inputs, y=d.y, runs=d.runs, extra={"other": np.array([1.0, np.nan, 4.0])})
    out = curves.read(d, [2.0], column="other")
    np.testing.assert_allclose(out.values, [[2.0]], rtol=1e-15)  # between the two measured ends, log-log
    assert out.n_checkpoints.tolist() == [2]


@pytest.mark.parametrize(
    "rows, budgets, needle",
    [
        ([("a", 1.0, 2.0)], [1.0], "has 1 checkpoint"),
        ([("a", 1.0, 2.0), ("a", 1.0, 2.5), ("a", 2.0, 2.0)], [1.0], "two checkpoints at C = 1"),
        ([("a", 1.0, 2.0), ("a", 2.0, 2.0)], [5.0, 0.5], "outside every run's range"),
        ([("a", 0.0, 2.0), ("a", 2.0, 2.0)], [1.0], "positive budgets"),
        ([("a", 1.0, -2.0), ("a", 2.0, 2.0)], [1.0], "positive values"),
        ([("a", 1.0, 2.0), ("a", 2.0, 2.0)], [-1.0], "positive, finite"),
    ],
)
def test_bad_curves_are_one_line_errors(rows, budgets, needle):
    with pytest.raises(JaxlawsError) as e:
        curves.read(curve_data(rows), budgets)
    assert needle in one_line(e)


def test_no_runs_and_varying_run_constants_are_errors():
    d = jl.datasets.from_arrays({"C": [1.0, 2.0]}, [2.0, 1.0])
    with pytest.raises(JaxlawsError) as e:
        curves.read(d, [1.5])
    assert "has no runs" in one_line(e)
    d = jl.datasets.from_arrays({"C": [1.0, 2.0], "N": [1.0, 2.0]}, [2.0, 1.0], runs=np.array(["a", "a"]))
    with pytest.raises(JaxlawsError) as e:
        curves.per_run(d, "N")
    assert "not constant within run 'a'" in one_line(e)
    with pytest.raises(JaxlawsError) as e:
        curves.read(d, [1.5], by="tokens")
    assert "no column 'tokens'" in one_line(e)


# ---------------------------------------------------------------- Dataset runs and extra columns


def test_subset_keeps_runs_and_extra(routing):
    m = routing.extra["router_type"] == "Dense"
    sub = routing.subset(m)
    np.testing.assert_array_equal(sub.runs, routing.runs[m])
    np.testing.assert_array_equal(sub.extra["seed"], routing.extra["seed"][m])
    assert sub.column("loss_validation") is sub.y and sub.column("N") is sub.inputs["N"]


def test_runs_and_extra_are_checked():
    with pytest.raises(JaxlawsError) as e:
        jl.datasets.from_arrays({"C": [1.0, 2.0]}, [2.0, 1.0], runs=np.array(["a"]))
    assert "runs has shape" in one_line(e)
    with pytest.raises(JaxlawsError) as e:
        jl.datasets.from_arrays({"C": [1.0, 2.0]}, [2.0, 1.0], extra={"z": [1.0]})
    assert "extra column 'z'" in one_line(e)


def test_from_csv_and_coerce_take_a_run_column(tmp_path):
    p = tmp_path / "curves.csv"
    p.write_text("run,C,N,loss\nr1,1e18,1e8,3.0\nr1,1e19,1e8,2.5\nr2,1e19,1e9,2.7\nr2,1e20,1e9,2.2\n")
    d = jl.datasets.from_csv(p, run="run")
    assert set(d.inputs) == {"C", "N"} and d.runs.tolist() == ["r1", "r1", "r2", "r2"]
    np.testing.assert_allclose(curves.read(d, [1e19]).values[:, 0], [2.5, 2.7], rtol=1e-15)
    m = jl.datasets.coerce({"run": ["a", "a"], "C": [1.0, 2.0], "loss": [2.0, 1.0]}, run="run")
    assert m.runs.tolist() == ["a", "a"] and set(m.inputs) == {"C"}
