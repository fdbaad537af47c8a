"""jaxlaws.datasets: bundled Chinchilla data, from_csv, from_arrays, Dataset checks."""

from __future__ import annotations

import csv
import hashlib
from importlib import resources

import numpy as np
import pytest

import jaxlaws as jl
from conftest import SHARED_CHINCHILLA_CSV

# sha256 of Epoch AI's data/svg_extracted_data.csv, as recorded in chinchilla_SOURCE.md
EPOCH_SHA256 = "193478df4e90f040016431996c45682659306840ecdadf83cfb9cd5ca0aa1b30"


def _reference_columns():
    """N, C, loss read independently (csv module) from the shared read-only copy."""
    with open(SHARED_CHINCHILLA_CSV, newline="") as f:
        rows = list(csv.DictReader(f))
    N = np.array([float(r["Model Size"]) for r in rows])
    C = np.array([float(r["Training FLOP"]) for r in rows])
    L = np.array([float(r["loss"]) for r in rows])
    return N, C, L


def test_bundled_file_is_epochs_file():
    data = (resources.files("jaxlaws.datasets") / "data" / "chinchilla_svg_extracted_data.csv").read_bytes()
    assert hashlib.sha256(data).hexdigest() == EPOCH_SHA256
    with open(SHARED_CHINCHILLA_CSV, "rb") as f:
        assert f.read() == data


def test_names_and_describe():
    assert {"chinchilla", "chinchilla_epoch"} <= set(jl.datasets.names())
    d = jl.datasets.describe()
    assert "245" in d["chinchilla"] and "240" in d["chinchilla_epoch"]


def test_chinchilla_full():
    ds = jl.datasets.load("chinchilla")
    N, C, L = _reference_columns()
    assert ds.n_points == len(ds) == 245
    assert ds.name == "chinchilla" and ds.target == "loss"
    assert set(ds.inputs) == {"N", "D", "C"}
    np.testing.assert_array_equal(ds.inputs["N"], N)
    np.testing.assert_array_equal(ds.inputs["C"], C)
    np.testing.assert_array_equal(ds.y, L)
    # D = C / (6 N) (Epoch's token count); one division of correctly rounded values: rtol 2 eps
    np.testing.assert_allclose(ds.inputs["D"], C / (6.0 * N), rtol=2 * np.finfo(float).eps)
    assert "Epoch" in ds.provenance or "epoch" in ds.provenance


def test_chinchilla_epoch_drops_five_highest_losses():
    full = jl.datasets.load("chinchilla")
    ep = jl.datasets.load("chinchilla_epoch")
    assert ep.n_points == 240 and ep.name == "chinchilla_epoch"
    order = np.argsort(full.y)
    keep, drop = np.sort(order[:-5]), order[-5:]
    np.testing.assert_array_equal(ep.y, full.y[keep])
    for k in ("N", "D", "C"):
        np.testing.assert_array_equal(ep.inputs[k], full.inputs[k][keep])
    # SOURCE.md: the dropped rows have loss >= 3.44699..., and are the 5 with the fewest tokens per parameter
    assert np.all(full.y[drop] >= 3.44699) and np.all(ep.y < 3.44699)
    tpp = full.inputs["D"] / full.inputs["N"]
    assert set(np.argsort(tpp)[:5]) == set(drop)
    assert np.all(tpp[drop] < 0.41)
    np.testing.assert_allclose(ep.inputs["D"], ep.inputs["C"] / (6.0 * ep.inputs["N"]), rtol=2 * np.finfo(float).eps)


def test_unknown_dataset():
    with pytest.raises(jl.JaxlawsError, match=r"unknown dataset 'chinchila'; bundled datasets: .*chinchilla, chinchilla_epoch"):
        jl.datasets.load("chinchila")


# ---- from_csv -----------------------------------------------------------------------


def _write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def test_from_csv_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    n = 17
    N = 10 ** rng.uniform(6, 10, n)
    D = 10 ** rng.uniform(8, 12, n)
    L = 1.7 + rng.random(n)
    groups = np.array(["a", "b"] * 8 + ["a"])
    splits = np.array(["train"] * 12 + ["test"] * 5)
    p = tmp_path / "runs.csv"
    # repr() of a Python float round-trips exactly
    _write_csv(p, ["params", "tokens", "final_loss", "fam", "part"],
               [[repr(float(a)), repr(float(b)), repr(float(c)), g, s] for a, b, c, g, s in zip(N, D, L, groups, splits)])
    ds = jl.datasets.from_csv(p, x={"N": "params", "D": "tokens"}, y="final_loss", group="fam", split="part")
    assert ds.name == "runs" and ds.target == "final_loss" and ds.n_points == n
    np.testing.assert_array_equal(ds.inputs["N"], N)
    np.testing.assert_array_equal(ds.inputs["D"], D)
    np.testing.assert_array_equal(ds.y, L)
    np.testing.assert_array_equal(ds.groups, groups)
    train, test = ds.split("train"), ds.split("test")
    assert train.n_points == 12 and test.n_points == 5
    np.testing.assert_array_equal(test.y, L[12:])
    np.testing.assert_array_equal(test.inputs["N"], N[12:])
    # default x: every column except y, group and split, under its own name
    ds2 = jl.datasets.from_csv(p, y="final_loss", group="fam", split="part")
    assert set(ds2.inputs) == {"params", "tokens"}
    np.testing.assert_array_equal(ds2.inputs["tokens"], D)


def test_units_bundled_from_csv_and_kept_by_subsets(tmp_path):
    ep = jl.datasets.load("chinchilla_epoch")
    assert ep.units == {"N": "parameters", "D": "tokens", "C": "FLOPs", "loss": "nats/token"}
    assert ep.subset([0, 1]).units == ep.units
    assert jl.datasets.load("vocab").units["D"] == "characters"  # vocab's D counts characters, not tokens
    for name in jl.datasets.names():  # every stated unit names a column of its dataset
        ds = jl.datasets.load(name)
        assert set(ds.units) <= set(ds.inputs) | {ds.target}, name
    p = tmp_path / "runs.csv"
    _write_csv(p, ["params", "loss"], [["1e6", "3.1"], ["1e7", "2.9"]])
    assert jl.datasets.from_csv(p, x={"N": "params"}).units == {}
    assert jl.datasets.from_csv(p, x={"N": "params"}, units={"N": "parameters"}).units == {"N": "parameters"}


def test_from_csv_reads_the_shared_chinchilla_csv():
    ds = jl.datasets.from_csv(SHARED_CHINCHILLA_CSV, x={"N": "Model Size", "C": "Training FLOP"}, y="loss")
    full = jl.datasets.load("chinchilla")
    np.testing.assert_array_equal(ds.inputs["N"], full.inputs["N"])
    np.testing.assert_array_equal(ds.y, full.y)


def test_from_csv_unknown_column(tmp_path):
    p = tmp_path / "d.csv"
    _write_csv(p, ["N", "loss"], [["1", "2"], ["3", "4"]])
    with pytest.raises(jl.JaxlawsError, match=r"unknown column 'tokens' in d\.csv; columns are \['N', 'loss'\]") as e:
        jl.datasets.from_csv(p, x={"N": "N", "D": "tokens"}, y="loss")
    assert "\n" not in str(e.value)
    with pytest.raises(jl.JaxlawsError, match="unknown column 'L'"):
        jl.datasets.from_csv(p, x={"N": "N"}, y="L")
    with pytest.raises(jl.JaxlawsError, match="unknown column 'grp'"):
        jl.datasets.from_csv(p, x={"N": "N"}, y="loss", group="grp")


def test_from_csv_bad_files(tmp_path):
    with pytest.raises(jl.JaxlawsError, match="no such data file"):
        jl.datasets.from_csv(tmp_path / "missing.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(jl.JaxlawsError, match="is empty"):
        jl.datasets.from_csv(empty)
    header_only = tmp_path / "h.csv"
    header_only.write_text("N,loss\n")
    with pytest.raises(jl.JaxlawsError, match="has a header but no rows"):
        jl.datasets.from_csv(header_only)
    text = tmp_path / "t.csv"
    _write_csv(text, ["N", "loss"], [["1", "2"], ["abc", "4"]])
    with pytest.raises(jl.JaxlawsError, match=r"row 3, column 'N': 'abc' is not a number"):
        jl.datasets.from_csv(text)
    short = tmp_path / "s.csv"
    short.write_text("N,loss\n1,2\n3\n")
    with pytest.raises(jl.JaxlawsError, match="row 3 has 1 fields, the header has 2"):
        jl.datasets.from_csv(short)


def test_from_csv_nan_cell(tmp_path):
    p = tmp_path / "n.csv"
    _write_csv(p, ["N", "loss"], [["1", "2"], ["nan", "4"]])
    with pytest.raises(jl.JaxlawsError, match="input 'N' has NaN or inf at row 1"):
        jl.datasets.from_csv(p)


# ---- from_arrays / Dataset checks ------------------------------------------------------


def test_from_arrays_round_trip():
    x = np.array([1.0, 2.0, 3.0])
    ds = jl.datasets.from_arrays(x={"x": x}, y=[4.0, 5.0, 6.0], name="mine")
    assert ds.name == "mine" and ds.n_points == 3
    assert ds.y.dtype == np.float64
    np.testing.assert_array_equal(ds.inputs["x"], x)
    sub = ds.subset([0, 2])
    np.testing.assert_array_equal(sub.y, [4.0, 6.0])


def test_mismatched_lengths():
    with pytest.raises(jl.JaxlawsError, match=r"input 'x' has shape \(3,\), target has 4 points") as e:
        jl.datasets.from_arrays(x={"x": [1.0, 2.0, 3.0]}, y=[1.0, 2.0, 3.0, 4.0])
    assert "\n" not in str(e.value)
    with pytest.raises(jl.JaxlawsError, match=r"groups has shape \(2,\), target has 3 points"):
        jl.datasets.from_arrays(x={"x": [1.0, 2.0, 3.0]}, y=[1.0, 2.0, 3.0], groups=["a", "b"])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_in_data(bad):
    with pytest.raises(jl.JaxlawsError, match="input 'x' has NaN or inf at row 2"):
        jl.datasets.from_arrays(x={"x": [1.0, 2.0, bad]}, y=[1.0, 2.0, 3.0])
    with pytest.raises(jl.JaxlawsError, match="target 'y' has NaN or inf at row 1"):
        jl.datasets.from_arrays(x={"x": [1.0, 2.0, 3.0]}, y=[1.0, bad, 3.0])


def test_empty_or_badly_shaped_target():
    with pytest.raises(jl.JaxlawsError, match=r"target must be \[n\] or \[n, k\] with n > 0"):
        jl.datasets.from_arrays(x={}, y=[])
    with pytest.raises(jl.JaxlawsError, match=r"target must be"):
        jl.datasets.from_arrays(x={}, y=np.ones((2, 2, 2)))


def test_split_errors_and_require():
    ds = jl.datasets.from_arrays(x={"x": [1.0, 2.0]}, y=[1.0, 2.0])
    with pytest.raises(jl.JaxlawsError, match="has no train/test split"):
        ds.split("train")
    ds2 = jl.datasets.from_arrays(x={"x": [1.0, 2.0]}, y=[1.0, 2.0], splits=["train", "train"])
    with pytest.raises(jl.JaxlawsError, match="has no points in split 'test'"):
        ds2.split("test")
    with pytest.raises(jl.JaxlawsError, match=r"lacks inputs \['N'\]; it has \['x'\]"):
        ds.require(("x", "N"))
