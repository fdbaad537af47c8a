"""jl.datasets.coerce: DataFrames and mappings of columns wherever a dataset is accepted."""

from __future__ import annotations

import numpy as np
import pytest

import jaxlaws as jl


class FakeSeries:
    def __init__(self, values):
        self._v = list(values)

    def to_numpy(self):
        return np.array(self._v)


class FakeFrame:
    """The little of a DataFrame that coerce relies on: ``.columns``, ``[name]`` -> a column with
    ``.to_numpy()``, and ``.to_numpy()`` itself (which coerce must not need to call)."""

    def __init__(self, data):
        self._d = {k: FakeSeries(v) for k, v in data.items()}

    @property
    def columns(self):
        return list(self._d)

    def __getitem__(self, k):
        return self._d[k]

    def to_numpy(self):  # pragma: no cover - mixed types: coerce reads columns one by one
        raise AssertionError("coerce should read columns, not the whole frame")


def power_columns(n=12, seed=0):
    x = np.logspace(1, 4, n)
    y = 3.0 * x**-0.4 * np.exp(0.01 * np.random.default_rng(seed).standard_normal(n))
    return x, y


def test_mapping_default_columns_as_from_csv(tmp_path):
    x, y = power_columns()
    ds = jl.datasets.coerce({"x": list(x), "loss": list(y)})
    assert ds.name == "mapping" and list(ds.inputs) == ["x"] and ds.target == "loss"
    np.testing.assert_array_equal(ds.y, y)
    # the same table through from_csv gives the same inputs and target
    p = tmp_path / "t.csv"
    p.write_text("x,loss\n" + "".join(f"{float(a)!r},{float(b)!r}\n" for a, b in zip(x, y)))
    ref = jl.datasets.from_csv(p)
    assert list(ref.inputs) == list(ds.inputs)
    np.testing.assert_array_equal(ref.inputs["x"], ds.inputs["x"])


def test_fake_frame_with_mapping_groups_and_split():
    x, y = power_columns()
    frame = FakeFrame({"size": x, "val": y, "fam": ["a"] * 6 + ["b"] * 6,
                       "part": ["train"] * 10 + ["test"] * 2, "note": ["s"] * 12})
    ds = jl.datasets.coerce(frame, x={"x": "size"}, y="val", group="fam", split="part", name="runs")
    assert ds.name == "runs" and list(ds.inputs) == ["x"]
    assert list(ds.groups) == ["a"] * 6 + ["b"] * 6
    assert ds.split("test").n_points == 2
    with pytest.raises(jl.JaxlawsError, match="input column 'note' is not numeric"):
        jl.datasets.coerce(frame, y="val", group="fam", split="part")


def test_fit_and_bootstrap_accept_tables():
    x, y = power_columns()
    ref = jl.fit("power_law", jl.datasets.from_arrays({"x": x}, y), loss="mse-log", starts=8)
    for table in ({"x": x, "loss": y}, FakeFrame({"x": x, "loss": y})):
        res = jl.fit("power_law", table, loss="mse-log", starts=8)
        assert res.params == ref.params
    boot = jl.bootstrap("power_law", {"x": x, "loss": y}, n=8, loss="mse-log", fit=res, seed=0)
    assert boot.params.shape == (8, 2)


def test_several_targets_stack():
    ds = jl.datasets.coerce({"r": [0.1, 0.2, 0.3], "l1": [1, 2, 3], "l2": [4, 5, 6]}, y=["l1", "l2"])
    assert ds.y.shape == (3, 2) and list(ds.inputs) == ["r"]


def test_errors():
    with pytest.raises(jl.JaxlawsError, match=r"mapping has no target column 'loss' \(columns: \['x'\]\)"):
        jl.datasets.coerce({"x": [1.0, 2.0]})
    with pytest.raises(jl.JaxlawsError, match="has no input column 'N'"):
        jl.datasets.coerce({"x": [1.0], "loss": [1.0]}, x={"N": "N"})
    with pytest.raises(jl.JaxlawsError, match="got int"):
        jl.datasets.coerce(3)
    with pytest.raises(jl.JaxlawsError, match="a Dataset has its columns already"):
        jl.datasets.coerce("chinchilla", y="loss")
    with pytest.raises(jl.JaxlawsError, match="input 'x' has shape"):
        jl.datasets.coerce({"x": [1.0, 2.0], "loss": [1.0, 2.0, 3.0]})
    assert jl.datasets.coerce("moe").name == "moe"


def test_real_pandas():
    pd = pytest.importorskip("pandas")
    x, y = power_columns()
    df = pd.DataFrame({"x": x, "loss": y}, index=np.arange(100, 112))
    ds = jl.datasets.coerce(df)
    np.testing.assert_array_equal(ds.inputs["x"], x)
    np.testing.assert_array_equal(ds.y, y)
    res = jl.fit("power_law", df, loss="mse-log", starts=8)
    assert res.n_points == 12
