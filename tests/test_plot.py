"""jaxlaws.plot: every figure on small real fits, checked for what it shows (axes, units, scales,
legends, curves equal to the law) and for its refusals."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import jax.numpy as jnp
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import PathCollection, PolyCollection, QuadMesh

import jaxlaws as jl
from jaxlaws import plot
from jaxlaws.analysis import allocation


PNG = b"\x89PNG\r\n\x1a\n"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RTOL = 1e-12  # curves are the law evaluated in float64 at the drawn x: only rounding differs


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def fit16(chinchilla_law, epoch_data):
    return jl.fit(chinchilla_law, epoch_data, loss="huber-log:1e-3", starts=16, seed=0)


@pytest.fixture(scope="module")
def boot50(chinchilla_law, epoch_data, fit16):
    return jl.bootstrap(chinchilla_law, epoch_data, n=50, loss="huber-log:1e-3", seed=0, fit=fit16, progress=False)


@jl.law(inputs=("x",), n_outputs=2, params={"A": jl.Param(1e-3, 1e6, scale="log"), "a": jl.Param(0.0, 2.0),
                                            "B": jl.Param(1e-3, 1e6, scale="log"), "b": jl.Param(0.0, 2.0)})
def two_powers(p, x):
    """y_1 = A x^-a, y_2 = B x^-b"""
    return jnp.stack([p["A"] * x["x"] ** -p["a"], p["B"] * x["x"] ** -p["b"]], axis=-1)


@pytest.fixture(scope="module")
def two_output_fit():
    x = np.logspace(1.0, 5.0, 25)
    y = np.stack([50.0 * x**-0.5, 8.0 * x**-0.3], axis=1)
    data = jl.datasets.from_arrays(x={"x": x}, y=y, name="two_powers_data", units={"x": "steps"})
    return jl.fit(two_powers, data, loss="mse", starts=16, seed=0, precision="float64")


def fit_curves(ax):
    """(gid, line) of the fitted curves the plot module tagged."""
    return [(ln.get_gid(), ln) for ln in ax.get_lines() if (ln.get_gid() or "").startswith("fit")]


def held(gid):
    """``fit[j]:D=1.5e10`` -> {"D": 1.5e10}."""
    return {k: float(v) for k, v in (part.split("=") for part in gid.split(":")[1:])}


def points(ax):
    return np.concatenate([c.get_offsets() for c in ax.collections if isinstance(c, PathCollection)
                           and len(c.get_offsets())])


def titled(fig, start):
    """The figure's title (wrapped to its width) names the law and the dataset."""
    return " ".join(fig.get_suptitle().split()).startswith(start)


def is_png(path):
    with open(path, "rb") as f:
        return f.read(8) == PNG


# ---- data_and_fit ---------------------------------------------------------------------------------------

def test_data_and_fit_iso_curves_are_the_law(fit16, epoch_data, tmp_path):
    out = tmp_path / "fit.png"
    fig = plot.data_and_fit(fit16, path=out)
    assert isinstance(fig, matplotlib.figure.Figure) and is_png(out)
    assert plt.fignum_exists(fig.number)  # returned open, not closed behind the caller's back
    (ax,) = fig.axes
    assert ax.get_xlabel() == "N (parameters)" and ax.get_ylabel() == "loss (nats/token)"
    assert ax.get_xscale() == "log" and ax.get_yscale() == "linear"  # loss 2.1-3.4: under a decade
    assert ax.get_legend() is not None and "D (tokens)" in ax.get_legend().get_title().get_text()
    assert titled(fig, "chinchilla on chinchilla_epoch")
    curves = fit_curves(ax)
    assert len(curves) == 6  # D is continuous: six log-spaced bins, one iso-D curve each
    D_values = []
    for gid, line in curves:
        (name, D), = held(gid).items()
        assert name == "D"
        x, y = line.get_data()
        np.testing.assert_allclose(y, fit16.law.predict(fit16.params, {"N": x, "D": np.full_like(x, D)}), rtol=RTOL)
        D_values.append(D)
    d = epoch_data.inputs["D"]
    assert d.min() <= min(D_values) and max(D_values) <= d.max()
    # every data point is drawn once, at its (N, loss)
    xy = points(ax)
    assert len(xy) == epoch_data.n_points
    np.testing.assert_array_equal(np.sort(xy[:, 0]), np.sort(epoch_data.inputs["N"]))

    fig = plot.data_and_fit(fit16, epoch_data, against="D")
    (ax,) = fig.axes
    assert ax.get_xlabel() == "D (tokens)" and ax.get_xscale() == "log"
    for gid, line in fit_curves(ax):
        x, y = line.get_data()
        np.testing.assert_allclose(y, fit16.law.predict(fit16.params, {"D": x, "N": np.full_like(x, held(gid)["N"])}),
                                   rtol=RTOL)
    old = tmp_path / "old.png"
    assert plot.fit_figure(fit16, epoch_data, str(old)).axes and is_png(old)  # the old name and call still work


def test_data_and_fit_one_panel_per_output(two_output_fit):
    fig = plot.data_and_fit(two_output_fit)
    assert len(fig.axes) == 2 and titled(fig, "two_powers on two_powers_data")
    x_data = two_output_fit.problem.data.inputs["x"]
    for j, ax in enumerate(fig.axes):
        assert ax.get_xlabel() == "x (steps)" and f"output {j + 1}" in ax.get_ylabel()
        assert ax.get_xscale() == "log" and ax.get_yscale() == "log"  # targets span more than a decade
        ((gid, line),) = fit_curves(ax)
        assert gid == f"fit[{j}]"
        x, y = line.get_data()
        assert x.min() < x_data.min() and x.max() > x_data.max()
        np.testing.assert_allclose(y, two_output_fit.predict({"x": x})[:, j], rtol=RTOL)
    assert len(fig.legends) == 1  # one legend for all panels


def test_data_and_fit_refuses_bad_input(fit16):
    with pytest.raises(jl.JaxlawsError, match="against='V' is not an input"):
        plot.data_and_fit(fit16, against="V")
    with pytest.raises(jl.JaxlawsError, match="lacks inputs"):
        plot.data_and_fit(fit16, "sft")
    with pytest.raises(jl.JaxlawsError, match="needs a FitResult"):
        plot.data_and_fit(fit16.params)


# ---- residuals ----------------------------------------------------------------------------------------------

def test_residuals_in_log_space_per_input(fit16, epoch_data, tmp_path):
    out = tmp_path / "res.png"
    fig = plot.residuals(fit16, path=out)
    assert is_png(out) and len(fig.axes) == 2 and titled(fig, "chinchilla on chinchilla_epoch: residuals")
    expected = np.log(fit16.predict(epoch_data.inputs)) - np.log(epoch_data.y)
    for ax, name, unit in zip(fig.axes, ("N", "D"), ("parameters", "tokens")):
        assert ax.get_xlabel() == f"{name} ({unit})" and ax.get_xscale() == "log"
        xy = points(ax)
        np.testing.assert_array_equal(xy[:, 0], epoch_data.inputs[name])
        np.testing.assert_allclose(xy[:, 1], expected, rtol=1e-12, atol=1e-15)
        levels = sorted(float(ln.get_ydata()[0]) for ln in ax.get_lines())
        assert levels == [-1e-3, 0.0, 1e-3]  # the zero line and the Huber threshold +-delta
    assert "log residual" in fig.axes[0].get_ylabel()
    assert fig.axes[0].get_legend() is not None


def test_residuals_linear_loss_and_several_outputs(two_output_fit):
    data = two_output_fit.problem.data
    renamed = dataclasses.replace(data, target="loss")  # no unit stated: a "loss" is in nats/token
    fig = plot.residuals(two_output_fit, renamed)
    (ax,) = fig.axes
    assert ax.get_ylabel() == "residual, fit − observed (nats/token)"
    assert ax.get_xlabel() == "x (steps)" and ax.get_xscale() == "log"
    assert [float(ln.get_ydata()[0]) for ln in ax.get_lines()] == [0.0]  # no Huber lines for mse
    r = two_output_fit.predict(data.inputs) - data.y
    by_output = [c.get_offsets()[:, 1] for c in ax.collections if isinstance(c, PathCollection)]
    assert len(by_output) == 2
    for j in range(2):
        np.testing.assert_allclose(by_output[j], r[:, j], rtol=1e-12, atol=1e-15)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["output 1 (25 points)", "output 2 (25 points)", "zero"]


# ---- bootstrap_pairs ----------------------------------------------------------------------------------------

def test_bootstrap_pairs_corner(boot50, fit16, tmp_path):
    out = tmp_path / "pairs.png"
    fig = plot.bootstrap_pairs(boot50, path=out)
    assert is_png(out) and titled(fig, "chinchilla on chinchilla_epoch: 50 bootstrap refits")
    names = list(boot50.law.params)
    P = len(names)
    assert len(fig.axes) == P * (P + 1) // 2  # the upper triangle is removed
    grid = {(ax.get_subplotspec().rowspan.start, ax.get_subplotspec().colspan.start): ax for ax in fig.axes}
    for j, name in enumerate(names):
        log = boot50.law.params[name].scale == "log"
        bottom = grid[(P - 1, j)]
        assert name in bottom.get_xlabel() and bottom.get_xscale() == ("log" if log else "linear")
        diag = grid[(j, j)]
        assert sum(p.get_height() for p in diag.patches) == boot50.n_used  # every replicate in the histogram
        assert float(diag.get_lines()[0].get_xdata()[0]) == fit16.params[name]  # the fit, marked
    star = grid[(1, 0)].get_lines()[0]  # (E, A): the fit's point
    assert (star.get_xdata()[0], star.get_ydata()[0]) == (fit16.params["E"], fit16.params["A"])
    np.testing.assert_array_equal(points(grid[(1, 0)]), np.column_stack([boot50.samples("E"), boot50.samples("A")]))
    assert fig.legends and "50 pairs bootstrap replicates" in [t.get_text() for t in fig.legends[0].get_texts()]

    # fit= marks another fit's parameters; params= picks the panels
    other = dataclasses.replace(fit16, params=dict(fit16.params, alpha=0.3))
    fig = plot.bootstrap_pairs(boot50, params=["alpha", "beta"], fit=other)
    assert len(fig.axes) == 3
    assert float(fig.axes[0].get_lines()[0].get_xdata()[0]) == 0.3
    assert "given fit" in [t.get_text() for t in fig.legends[0].get_texts()]
    with pytest.raises(jl.JaxlawsError, match="fit= must be a FitResult"):
        plot.bootstrap_pairs(boot50, fit=fit16.params)
    # many replicates: 2-D histograms below the diagonal instead of a scatter
    many = dataclasses.replace(boot50, **{k: np.repeat(getattr(boot50, k), 41, axis=0)
                                          for k in ("theta", "params", "objective", "converged", "failed")})
    fig = plot.bootstrap_pairs(many, params=["alpha", "beta"])
    lower = [ax for ax in fig.axes if ax.get_subplotspec().rowspan.start == 1 and ax.get_subplotspec().colspan.start == 0]
    assert many.n_used > 2000 and isinstance(lower[0].collections[0], QuadMesh)
    with pytest.raises(jl.JaxlawsError, match="no parameters \\['gamma'\\]"):
        plot.bootstrap_pairs(boot50, params=["alpha", "gamma"])
    with pytest.raises(jl.JaxlawsError, match="needs a BootstrapResult"):
        plot.bootstrap_pairs(fit16)


# ---- frontier -------------------------------------------------------------------------------------------------

def test_frontier_bands_and_published(boot50, tmp_path):
    C = np.geomspace(1e19, 1e25, 13)
    out = tmp_path / "frontier.png"
    fig = plot.frontier(boot50, C, level=0.9, path=out)
    assert is_png(out) and len(fig.axes) == 3 and titled(fig, "chinchilla on chinchilla_epoch: compute-optimal")
    est = allocation.optimal(boot50.law, boot50.fit.params, C)
    bands = allocation.from_bootstrap(boot50, C)
    for ax, key, unit in zip(fig.axes, ("N_opt", "D_opt", "tokens_per_param"), ("parameters", "tokens", "per parameter")):
        assert ax.get_xscale() == ax.get_yscale() == "log"
        assert ax.get_xlabel() == "compute C = 6ND (FLOPs)" and unit in ax.get_ylabel()
        ((_, line),) = fit_curves(ax)
        np.testing.assert_array_equal(line.get_xdata(), C)
        np.testing.assert_allclose(line.get_ydata(), est[key], rtol=RTOL)
        (band,) = [c for c in ax.collections if isinstance(c, PolyCollection)]
        lo, hi = bands[key].ci(0.9)
        verts = band.get_paths()[0].vertices
        np.testing.assert_allclose([verts[:, 1].min(), verts[:, 1].max()], [lo.min(), hi.max()], rtol=1e-12)
        published = [ln for ln in ax.get_lines() if ln.get_gid() == "published"]
        assert len(published) == 2
        star = [ln for ln in ax.get_lines() if ln.get_marker() == "*"][0]
        assert star.get_xdata()[0] == 5.76e23
    assert fig.axes[0].get_lines()[-1].get_ydata()[0] == 70e9  # Chinchilla's own N
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("Hoffmann" in t and "0.46" in t for t in texts) and any("Besiroglu" in t for t in texts)
    assert any("90% bootstrap band" in t for t in texts)
    # Hoffmann et al.'s approach-3 parameters through the closed form: a = beta/(alpha+beta)
    hoff = [ln for ln in fig.axes[0].get_lines() if ln.get_gid() == "published"][0]
    slope = np.polyfit(np.log(C), np.log(hoff.get_ydata()), 1)[0]
    assert slope == pytest.approx(0.28 / (0.34 + 0.28), rel=1e-9)


def test_frontier_from_a_fit_has_no_band_and_refuses_laws_without_allocation(fit16, two_output_fit):
    fig = plot.frontier(fit16, [1e20, 1e22, 1e24], published=False)
    for ax in fig.axes:
        assert not [c for c in ax.collections if isinstance(c, PolyCollection)]
        assert [ln.get_gid() for ln in ax.get_lines()] == ["fit"]
    with pytest.raises(jl.JaxlawsError, match="single-output law of N and D; 'two_powers' has 2 outputs"):
        plot.frontier(two_output_fit, [1e20, 1e22])
    of_x = dataclasses.replace(fit16, law=jl.laws.get("power_law"))  # a fit of a law of x alone
    with pytest.raises(jl.JaxlawsError, match="takes \\['x'\\], so it has no compute-optimal allocation"):
        plot.frontier(of_x, [1e20, 1e22])
    with pytest.raises(jl.JaxlawsError, match="at least two"):
        plot.frontier(fit16, [1e20])
    with pytest.raises(jl.JaxlawsError, match="positive"):
        plot.frontier(fit16, [1e20, -1.0])


# ---- extrapolation --------------------------------------------------------------------------------------------

def test_extrapolation_band_beyond_the_data(boot50, epoch_data, tmp_path):
    out = tmp_path / "extrap.png"
    fig = plot.extrapolation(boot50, along="N", given={"D": 1e12}, extend=100.0, level=0.9, path=out)
    assert is_png(out) and titled(fig, "chinchilla on chinchilla_epoch: prediction along N")
    (ax,) = fig.axes
    assert ax.get_xlabel() == "N (parameters)" and ax.get_ylabel() == "loss (nats/token)"
    assert ax.get_xscale() == "log"
    ((gid, line),) = fit_curves(ax)
    assert held(gid) == {"D": 1e12}
    x, y = line.get_data()
    N = epoch_data.inputs["N"]
    assert x[0] == N.min() and x[-1] == pytest.approx(100.0 * N.max(), rel=1e-12)
    np.testing.assert_allclose(y, boot50.fit.predict({"N": x, "D": np.full_like(x, 1e12)}), rtol=RTOL)
    pr = jl.analysis.predict.predict(boot50, {"N": x, "D": np.full_like(x, 1e12)}, level=0.9)
    (fill,) = [c for c in ax.collections if isinstance(c, PolyCollection)]
    v = fill.get_paths()[0].vertices
    np.testing.assert_allclose([v[:, 1].min(), v[:, 1].max()], [pr.lo.min(), pr.hi.max()], rtol=1e-12)
    assert np.all(pr.lo <= y + 1e-12) and np.all(y <= pr.hi + 1e-12)
    (span,) = ax.patches  # the data's range, shaded
    assert (span.get_x(), span.get_x() + span.get_width()) == pytest.approx((N.min(), N.max()), rel=1e-12)
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "range of the data" in texts and any("90% bootstrap band" in t for t in texts)


def test_extrapolation_from_inputs_and_its_refusals(boot50, fit16):
    grid = {"N": np.geomspace(1e8, 1e12, 30), "D": 20.0 * np.geomspace(1e8, 1e12, 30)}
    (ax,) = plot.extrapolation(fit16, grid).axes  # a FitResult: the estimate, no band
    ((_, line),) = fit_curves(ax)
    np.testing.assert_allclose(line.get_ydata(), fit16.predict(grid), rtol=RTOL)
    assert ax.get_xlabel() == "N (parameters)"  # N and D vary alike: the first input with most spread
    with pytest.raises(jl.JaxlawsError, match="needs along=NAME or inputs="):
        plot.extrapolation(boot50)
    with pytest.raises(jl.JaxlawsError, match="along='C' is not an input"):
        plot.extrapolation(boot50, along="C")
    with pytest.raises(jl.JaxlawsError, match="lacks \\['D'\\]"):
        plot.extrapolation(boot50, {"N": [1e9, 1e10]})


# ---- groups -----------------------------------------------------------------------------------------------------

def test_groups_small_multiples(tmp_path):
    sft = jl.datasets.load("sft")
    keep = np.isin(sft.groups, np.unique(sft.groups)[:5])
    data = sft.subset(keep)
    gf = jl.fit_groups("sft_rectified", data.split("train"), loss="mse", starts=16, seed=0)
    out = tmp_path / "groups.png"
    fig = plot.groups(gf, data, path=out, max_panels=4)
    assert is_png(out) and len(fig.axes) == 4 and titled(fig, "sft_rectified on sft: per-group fits, 4 of 5 groups")
    titles = [ax.get_title().split(" (")[0] for ax in fig.axes]
    assert titles[0] == gf.labels[0] and titles[-1] == gf.labels[-1]  # evenly spaced, ends included
    for ax, g in zip(fig.axes, titles):
        ((_, line),) = fit_curves(ax)
        x, y = line.get_data()
        np.testing.assert_allclose(y, gf.law.predict(gf.params_of(g), {"D": x}), rtol=RTOL)
        assert ax.get_xscale() == "log"
        n_points = int((data.groups == g).sum())
        assert len(points(ax)) == n_points  # the fitted points and the held-out one
    bottom_left = fig.axes[2]
    assert bottom_left.get_xlabel() == "D (examples)" and bottom_left.get_ylabel() == "loss (nats/token)"
    assert "held out (test split)" in [t.get_text() for t in fig.legends[0].get_texts()]
    with pytest.raises(jl.JaxlawsError, match="needs a GroupFit"):
        plot.groups(data, data)
    with pytest.raises(jl.JaxlawsError, match="has no groups"):
        plot.groups(gf, jl.datasets.from_arrays(x={"D": [1.0, 2.0]}, y=[1.0, 2.0]))
    with pytest.raises(jl.JaxlawsError, match="max_panels"):
        plot.groups(gf, data, max_panels=0)


# ---- benchmark ------------------------------------------------------------------------------------------------

def test_benchmark_chart_from_results(tmp_path):
    folder = os.path.join(ROOT, "benchmarks", "results")
    out = tmp_path / "bench.png"
    fig = plot.benchmark(folder, path=out)
    assert is_png(out) and len(fig.axes) == 2  # bootstrap_cpu.json and grid_cpu.json have jaxlaws-vs-scipy times
    import json

    with open(os.path.join(folder, "grid_cpu.json")) as f:
        grid = json.load(f)
    ax = [a for a in fig.axes if "grid" in a.get_title()][0]
    assert ax.get_yscale() == "log" and "seconds" in ax.get_ylabel()
    heights = [p.get_height() for p in ax.patches]
    warm = grid["jaxlaws"]["warm_s"]
    assert heights[:2] == [warm, grid["jaxlaws"]["cold_s"]]
    assert heights[2:] == [v["seconds_full"] for v in grid["scipy"].values()]
    ratios = [t.get_text() for t in ax.texts]
    assert ratios[2] == f"{grid['scipy']['lbfgsb_exact']['seconds_full'] / warm:.0f}×"  # 27x
    assert fig.legends
    one = plot.benchmark(grid)  # one result's dict
    assert len(one.axes) == 1
    with pytest.raises(jl.JaxlawsError, match="no jaxlaws-vs-scipy timings"):
        plot.benchmark({"memory": {"rows": []}})
    with pytest.raises(jl.JaxlawsError, match="no such benchmark results"):
        plot.benchmark(str(tmp_path / "missing"))


# ---- matplotlib itself ----------------------------------------------------------------------------------------

def test_missing_matplotlib_is_one_clear_error(monkeypatch, fit16):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    with pytest.raises(jl.JaxlawsError, match="plots need matplotlib"):
        plot.data_and_fit(fit16)


def test_agg_is_selected_only_when_no_backend_is_chosen(monkeypatch):
    # Nothing chosen (no pyplot yet, no MPLBACKEND, none in rcParams): Agg is selected.
    class Stop(Exception):
        pass

    chosen = []

    def use(name):
        chosen.append(name)
        raise Stop  # before pyplot is imported (again) in this process

    monkeypatch.setattr(matplotlib, "use", use)
    monkeypatch.delitem(sys.modules, "matplotlib.pyplot")
    monkeypatch.delenv("MPLBACKEND", raising=False)
    monkeypatch.setattr(type(matplotlib.rcParams), "_get_backend_or_none", lambda self: None)
    with pytest.raises(Stop):
        plot._pyplot()
    assert chosen == ["Agg"]
    # A backend chosen before (a notebook's, a user's): kept, in a fresh process.
    code = ("import sys\nimport jaxlaws as jl\nassert 'matplotlib' not in sys.modules  # imported only to draw\n"
            "import matplotlib\nmatplotlib.use('svg')\njl.plot._pyplot()\nprint(matplotlib.get_backend())")
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "svg"
