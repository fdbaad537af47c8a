"""Matplotlib figures of fits, bootstraps, allocations and benchmarks.

=======================================================  =========================================
``data_and_fit(res, data=None, *, against=None)``        data points with the fitted law's curves
``residuals(res, data=None)``                            residuals in the loss's space vs each input
``bootstrap_pairs(boot, *, params=None, fit=None)``      corner plot of the bootstrap replicates
``frontier(boot_or_fit, compute, *, level=0.9)``         compute-optimal N*, D*, D*/N* vs C, with bands
``extrapolation(boot, inputs=None, *, along=None)``      prediction beyond the data, bootstrap band
``groups(gf, data, *, max_panels=12)``                   one panel per group of a per-group fit
``benchmark(results)``                                   jaxlaws vs scipy seconds, ratios annotated
=======================================================  =========================================

Every function returns the :class:`matplotlib.figure.Figure` it drew (made with pyplot, so
``plt.show()`` and notebooks show it) and, given ``path=``, also saves it there (130 dpi for
raster formats); it closes nothing. matplotlib is imported when a figure is drawn; when no backend
has been chosen (pyplot not imported yet, no ``MPLBACKEND``, none in a matplotlibrc) it selects
Agg, so scripts work on machines without a display; a notebook's backend is left alone.

Axes are labelled with units: the dataset's own (:attr:`jaxlaws.datasets.Dataset.units`), else
parameters for N, tokens for D, FLOPs for C and nats/token for a target called ``loss``; a column
with no known unit is labelled by its name. Colours are the Okabe-Ito palette (safe for the
common colour-vision deficiencies); axes are logarithmic where the values span a decade or more.
"""

from __future__ import annotations

import glob
import json
import math
import os
import sys
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from jaxlaws.errors import JaxlawsError

DPI = 130

# Okabe & Ito (2008), "Color universal design": eight colours told apart under the common
# colour-vision deficiencies. SEQUENCE orders seven of them (yellow, faint on white, last) for
# bins and outputs.
BLACK, ORANGE, SKY, GREEN, YELLOW, BLUE, VERMILLION, PURPLE = (
    "#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7")
SEQUENCE = (BLUE, ORANGE, GREEN, VERMILLION, SKY, PURPLE, BLACK, YELLOW)

# Units assumed when the dataset states none: the names jaxlaws' laws give these inputs.
DEFAULT_UNITS = {"N": "parameters", "D": "tokens", "C": "FLOPs"}
DEFAULT_TARGET_UNIT = "nats/token"  # for a target column called "loss"

# Published compute-optimal allocations, drawn by frontier(published=True) through the Chinchilla
# law's closed form N* = G (C/6)^a, D* = (C/6)^b / G (jaxlaws.laws.chinchilla.compute_optimal).
# /work/shared/data holds the Chinchilla points (Epoch AI's extraction, SOURCE.md) but no file of
# published allocations; the values below are the papers' own.
# * Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models" (arXiv:2203.15556),
#   approach 3: the fit of L = E + A/N^alpha + B/D^beta in the paper's text (E = 1.69, A = 406.4,
#   B = 410.7, alpha = 0.34, beta = 0.28); its table of scaling exponents gives a = 0.46,
#   b = 0.54 for this approach. (These rounded parameters give a = beta/(alpha+beta) = 0.452;
#   Besiroglu et al. trace such gaps to the rounding.)
# * Besiroglu, Erdil, Barnett, You 2024, "Chinchilla Scaling: A replication attempt"
#   (arXiv:2404.10102), Epoch AI's refit on the points extracted from Hoffmann et al.'s Figure 4:
#   E = 1.8172, A = 482.01, B = 2085.43, alpha = 0.3478, beta = 0.3658 (a = 0.513, b = 0.487).
# * Chinchilla itself: 70e9 parameters trained on 1.4e12 tokens, 5.76e23 FLOPs (Hoffmann et al.).
PUBLISHED = {
    "Hoffmann et al. 2022, approach 3 (published a = 0.46)":
        {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28},
    "Besiroglu et al. 2024, Epoch AI (a = 0.51)":
        {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658},
}
CHINCHILLA_MODEL = {"N": 70e9, "D": 1.4e12, "C": 5.76e23}


# ---- matplotlib, saving, labels --------------------------------------------------------------

def _pyplot() -> Any:
    """pyplot, imported now; Agg selected first if nothing has chosen a backend."""
    try:
        import matplotlib
    except ImportError:
        raise JaxlawsError("plots need matplotlib: pip install matplotlib") from None
    chosen = ("matplotlib.pyplot" in sys.modules or bool(os.environ.get("MPLBACKEND"))
              or matplotlib.rcParams._get_backend_or_none() is not None)
    if not chosen:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _finish(fig: Any, path: Any) -> Any:
    if path is not None:
        path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(path))
        # matplotlib would write a name without a suffix as PNG under that bare name, and fail on
        # an unknown suffix with a ValueError: both refused here, naming the suffixes it writes.
        ext = os.path.splitext(path)[1].lower().lstrip(".")
        known = fig.canvas.get_supported_filetypes()
        problem = (f"the file name must end in a format suffix: .png, .pdf, .svg (or {', '.join(sorted(known))})"
                   if ext not in known else "no such directory" if not os.path.isdir(folder) else None)
        if problem is not None:
            _pyplot().close(fig)
            raise JaxlawsError(f"cannot write {path!r}: {problem}")
        fig.savefig(path, dpi=DPI)
    return fig


def unit(data: Any, name: str) -> str | None:
    """The unit of column ``name`` of ``data``: the dataset's, else jaxlaws' default, else None."""
    if name in data.units:
        return data.units[name]
    if name == data.target:
        return DEFAULT_TARGET_UNIT if name == "loss" else None
    return DEFAULT_UNITS.get(name)


def label(data: Any, name: str, what: str | None = None) -> str:
    """``"N (parameters)"``: a column's name (or ``what``) and its unit, if one is known."""
    u = unit(data, name)
    text = what or name
    return f"{text} ({u})" if u else text


def _spans_decade(v: Any) -> bool:
    v = np.asarray(v, np.float64)
    v = v[np.isfinite(v)]
    return bool(v.size and np.all(v > 0) and v.max() >= 10.0 * v.min())


def _positive(v: Any) -> bool:
    v = np.asarray(v, np.float64)
    return bool(v.size and np.all(v > 0))


def _log_ticks(axis: Any, lo: float, hi: float) -> None:
    """Readable ticks on a log ``axis`` over ``[lo, hi]``: matplotlib's decades when it spans 20x
    or more, else three or four plain numbers (log minor labels would overlap there)."""
    from matplotlib import ticker

    axis.set_minor_formatter(ticker.NullFormatter())
    if hi < 20.0 * lo:
        axis.set_major_locator(ticker.MaxNLocator(nbins=3))
        axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:.3g}"))
        axis.set_minor_locator(ticker.NullLocator())


def _sci(v: float) -> str:
    """A compact mathtext number: 3.2, 0.05, 1.2×10^10."""
    v = float(v)
    if v == 0 or not math.isfinite(v) or 1e-2 <= abs(v) < 1e4:
        return f"{v:.3g}"
    e = int(math.floor(math.log10(abs(v))))
    m = float(f"{v / 10.0**e:.2g}")
    if abs(m) >= 10.0:  # 9.97 rounds to 10
        m, e = m / 10.0, e + 1
    if m == 1.0:
        return rf"$10^{{{e}}}$"
    return rf"${m:g}\times10^{{{e}}}$"


def _grid(v: Any, pad: float = 1.15, n: int = 160) -> np.ndarray:
    """A dense grid over the values ``v`` (log-spaced if they are positive), a little beyond."""
    v = np.asarray(v, np.float64)
    lo, hi = float(v.min()), float(v.max())
    if _positive(v):
        if hi <= lo * 1.0001:
            lo, hi = lo / 2.0, hi * 2.0
        return np.geomspace(lo / pad, hi * pad, n)
    span = hi - lo or max(abs(lo), 1.0)
    return np.linspace(lo - 0.05 * span, hi + 0.05 * span, n)


def _bins(v: Any, max_bins: int = 6) -> tuple[np.ndarray, np.ndarray, bool]:
    """Bin ``v`` for colouring: (bin index per value, representative value per bin, exact).

    Up to ``max_bins + 2`` distinct values get a bin each (exact: the representative is the
    value); otherwise ``max_bins`` log-spaced bins (linear if not all positive), represented by
    the geometric (arithmetic) mean of their values. Empty bins are dropped.
    """
    v = np.asarray(v, np.float64)
    u = np.unique(v)
    if len(u) <= max_bins + 2:
        return np.searchsorted(u, v), u, True
    pos = _positive(v)
    edges = np.geomspace(u[0], u[-1], max_bins + 1) if pos else np.linspace(u[0], u[-1], max_bins + 1)
    idx = np.clip(np.searchsorted(edges, v, side="right") - 1, 0, max_bins - 1)
    used = np.unique(idx)
    remap = np.full(max_bins, -1)
    remap[used] = np.arange(len(used))
    idx = remap[idx]
    reps = np.array([np.exp(np.mean(np.log(v[idx == b]))) if pos else np.mean(v[idx == b])
                     for b in range(len(used))])
    return idx, reps, False


def _colour(i: int, n: int) -> Any:
    if n <= len(SEQUENCE):
        return SEQUENCE[i]
    import matplotlib

    return matplotlib.colormaps["cividis"](i / max(n - 1, 1))  # an ordered, CVD-safe map


def _curve_gid(output: int | None, held: Mapping[str, float]) -> str:
    """The gid of a fitted curve: ``fit``, ``[j]`` for output j of a multi-output law, then
    ``:name=value`` (exact ``repr``) for each input held fixed along it."""
    return "fit" + ("" if output is None else f"[{output}]") + "".join(f":{k}={float(v)!r}" for k, v in held.items())


def _fit_of(res: Any, who: str) -> Any:
    from jaxlaws.bootstrap import BootstrapResult
    from jaxlaws.fit import FitResult

    if isinstance(res, BootstrapResult):
        return res.fit
    if isinstance(res, FitResult):
        return res
    raise JaxlawsError(f"{who} needs a FitResult or BootstrapResult, got {type(res).__name__}"
                       + ("; use plot.groups for a per-group fit" if type(res).__name__ == "GroupFit" else ""))


def _data_for(res: Any, data: Any) -> Any:
    from jaxlaws.datasets import Dataset, load

    if data is None:
        return res.problem.data
    if isinstance(data, str):
        data = load(data)
    if not isinstance(data, Dataset):
        raise JaxlawsError(f"data must be a jl.datasets.Dataset or a bundled dataset name, got {type(data).__name__}")
    data.require(res.law.inputs)
    k = res.law.n_outputs
    if (data.y.ndim == 2) != (k > 1) or (k > 1 and data.y.shape[1] != k):
        raise JaxlawsError(f"law {res.law.name!r} has {k} output(s); dataset {data.name!r} has a target of shape {data.y.shape}")
    return data


def _outputs(y: np.ndarray) -> np.ndarray:
    """``[n]`` or ``[n, k]`` -> ``[n, k]``."""
    return y[:, None] if y.ndim == 1 else y


def _title(law: Any, data: Any, extra: str = "") -> str:
    return f"{law.name} on {data.name}" + (f": {extra}" if extra else "")


def _suptitle(fig: Any, text: str, fontsize: float = 12.0) -> None:
    """The figure's title, wrapped to its width (about 0.6 em a character)."""
    chars = max(30, int(fig.get_figwidth() * 72.0 / (0.6 * fontsize)))
    fig.suptitle("\n".join(textwrap.wrap(text, chars)), fontsize=fontsize)


# ---- data and fit ------------------------------------------------------------------------------

def data_and_fit(res: Any, data: Any = None, *, path: Any = None, against: str | None = None) -> Any:
    """The data with the fitted law: the target against one input (log x), fitted curves drawn.

    * one input: the law's curve over the data's range;
    * two inputs (N and D, say): one curve per distinct value, or per log-spaced bin (about six)
      when the values are many, of the other input, coloured by bin, each at the bin's
      geometric-mean value; points coloured by their bin;
    * more inputs: points coloured by bins of the second input, the fit at each point drawn as
      an open marker (no curve: the other inputs vary from point to point);
    * a multi-output law: one panel per output.

    Args:
      res: a FitResult (or a BootstrapResult: its full-data fit).
      data: the points to show (default: the fitted data).
      against: the input on the x axis (default: the law's first); ``against="D"`` draws iso-N
        curves of a law of N and D.
      path: save the figure there too.
    """
    plt = _pyplot()
    from matplotlib.lines import Line2D

    fit = _fit_of(res, "data_and_fit")
    law = fit.law
    data = _data_for(fit, data)
    xname = law.inputs[0] if against is None else against
    if xname not in law.inputs:
        raise JaxlawsError(f"against={against!r} is not an input of law {law.name!r}; its inputs are {list(law.inputs)}")
    others = [k for k in law.inputs if k != xname]
    x = data.inputs[xname]
    Y = _outputs(data.y)
    k = Y.shape[1]
    ncols = min(k, 3)
    nrows = math.ceil(k / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols + 1.6, 4.0 * nrows), layout="constrained",
                             squeeze=False)
    for ax in axes.ravel()[k:]:
        ax.remove()
    by = others[0] if others else None
    if by is not None:
        idx, reps, exact = _bins(data.inputs[by])
        nb = len(reps)
    else:
        idx, reps, exact, nb = np.zeros(len(x), int), np.zeros(1), True, 1
    at_points = None
    if len(others) > 1:
        at_points = _outputs(np.asarray(fit.predict(data.inputs)).reshape(data.y.shape))
    for j in range(k):
        ax = axes.ravel()[j]
        y = Y[:, j]
        handles = []
        for b in range(nb):
            m = idx == b
            c = _colour(b, nb)
            ax.scatter(x[m], y[m], s=16, color=c, alpha=0.8, edgecolors="none", zorder=3)
            if by is None:
                lab = f"fit of {law.name}"
            else:
                lab = ("= " if exact else "≈ ") + _sci(reps[b])
            if at_points is not None:
                ax.scatter(x[m], at_points[m, j], s=22, facecolors="none", edgecolors=c, lw=0.9, zorder=4)
                handles.append(Line2D([], [], ls="", marker="o", color=c, label=lab))
                continue
            xs = _grid(x[m])
            held = {by: reps[b]} if by is not None else {}
            grid_inputs = {xname: xs, **{h: np.full_like(xs, v) for h, v in held.items()}}
            pred = _outputs(np.asarray(fit.predict(grid_inputs)).reshape(len(xs), -1))[:, j]
            line, = ax.plot(xs, pred, "-", color=c, lw=1.6, zorder=2, label=lab,
                            gid=_curve_gid(j if k > 1 else None, held))
            handles.append(line)
        if by is None:
            handles.insert(0, Line2D([], [], ls="", marker="o", ms=4, color=SEQUENCE[0],
                                     label=f"{data.name} ({len(x)} points)"))
        elif at_points is not None:
            handles.append(Line2D([], [], ls="", marker="o", mfc="none", color=BLACK, label="fit at each point (open)"))
        if _spans_decade(x):
            ax.set_xscale("log")
        if _spans_decade(y):
            ax.set_yscale("log")
        ax.set_xlabel(label(data, xname))
        ylab = label(data, data.target)
        ax.set_ylabel(ylab if k == 1 else f"{ylab}, output {j + 1}")
        title = None if by is None else (label(data, by) + (", binned" if not exact else ""))
        if k == 1:
            ax.legend(handles=handles, title=title, fontsize=7.5, title_fontsize=8,
                      loc="best" if len(handles) <= 4 else "upper right", framealpha=0.85)
        elif j == 0:  # the same entries in every panel: one legend, beside them
            fig.legend(handles=handles, title=title, fontsize=8, title_fontsize=8.5, loc="outside right upper",
                       frameon=False)
        ax.grid(True, which="major", alpha=0.25)
    how = "" if by is None else (f"one curve per {by}" if at_points is None else f"coloured by {by}")
    _suptitle(fig, _title(law, data, f"{data.n_points} points, {fit.loss} fit" + (f", {how}" if how else "")))
    return _finish(fig, path)


def fit_figure(res: Any, data: Any = None, path: Any = None) -> Any:
    """The old name of :func:`data_and_fit` (``path`` may be passed by position)."""
    return data_and_fit(res, data, path=path)


# ---- residuals -----------------------------------------------------------------------------------

def residuals(res: Any, data: Any = None, *, path: Any = None) -> Any:
    """Residuals of the fit in the loss's space against each input of the law, one panel each.

    For a ``-log`` loss the residual is ln(fit) - ln(observed), otherwise fit - observed in the
    target's units. A zero line, and the Huber threshold +-delta for a Huber loss; held-out
    (``test``) points are open markers; a multi-output law's outputs are coloured.
    """
    plt = _pyplot()
    fit = _fit_of(res, "residuals")
    law = fit.law
    data = _data_for(fit, data)
    loss = fit.problem.loss
    pred = np.asarray(fit.predict(data.inputs), np.float64).reshape(data.y.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.log(pred) - np.log(data.y) if loss.log_space else pred - data.y
    R = _outputs(r)
    k = R.shape[1]
    names = list(law.inputs)
    ncols = min(len(names), 3)
    nrows = math.ceil(len(names) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols + 0.6, 3.6 * nrows), layout="constrained",
                             squeeze=False, sharey=True)
    for ax in axes.ravel()[len(names):]:
        ax.remove()
    test = np.zeros(data.n_points, bool) if data.splits is None else data.splits == "test"
    mixed = test.any() and not test.all()
    if loss.log_space:
        ylab = "log residual, ln(fit) − ln(observed)"
    else:
        u = unit(data, data.target)
        ylab = "residual, fit − observed" + (f" ({u})" if u else "")
    for i, name in enumerate(names):
        ax = axes.ravel()[i]
        x = data.inputs[name]
        for j in range(k):
            c = SEQUENCE[j % len(SEQUENCE)]
            ax.scatter(x[~test], R[~test, j], s=14, color=c, alpha=0.75, edgecolors="none")
            if mixed:
                ax.scatter(x[test], R[test, j], s=22, facecolors="none", edgecolors=c, lw=1.0)
        ax.axhline(0.0, color=BLACK, lw=1.0)
        if loss.delta is not None:
            ax.axhline(loss.delta, color=VERMILLION, lw=0.9, ls=":")
            ax.axhline(-loss.delta, color=VERMILLION, lw=0.9, ls=":")
        if _spans_decade(x):
            ax.set_xscale("log")
        ax.set_xlabel(label(data, name))
        if i % ncols == 0:
            ax.set_ylabel(ylab)
        ax.grid(True, alpha=0.25)
    from matplotlib.lines import Line2D

    n_fit = int((~test).sum())
    dots = [Line2D([], [], ls="", marker="o", ms=4, color=SEQUENCE[j % len(SEQUENCE)],
                   label=(f"residuals ({n_fit} points)" if k == 1 else f"output {j + 1} ({n_fit} points)"))
            for j in range(k)]
    if mixed:
        dots.append(Line2D([], [], ls="", marker="o", mfc="none", color=BLACK if k > 1 else SEQUENCE[0],
                           label=f"held out, test ({int(test.sum())} points)"))
    dots.append(Line2D([], [], color=BLACK, lw=1.0, label="zero"))
    if loss.delta is not None:
        dots.append(Line2D([], [], color=VERMILLION, lw=0.9, ls=":", label=f"Huber δ = ±{loss.delta:g}"))
    if k == 1:
        axes[0, 0].legend(handles=dots, fontsize=7.5, loc="best", framealpha=0.85)
    else:  # one legend for all panels, beside them
        fig.legend(handles=dots, fontsize=8, loc="outside right upper", frameon=False)
    _suptitle(fig, _title(law, data, f"residuals of the {loss.spec} fit"))
    return _finish(fig, path)


# ---- bootstrap pairs -------------------------------------------------------------------------------

def bootstrap_pairs(boot: Any, *, params: Sequence[str] | None = None, path: Any = None, fit: Any = None,
                    level: float = 0.95) -> Any:
    """Corner plot of the bootstrap replicates: histograms on the diagonal, pairs below.

    The point fit is marked (``fit``'s parameters if given, else the bootstrap's full-data fit,
    else the replicates' median), with the ``level`` percentile interval on the diagonal. Log
    axes for the law's log-scale parameters. Pairs are a scatter up to 2,000 replicates and a
    2-D histogram above.
    """
    from jaxlaws.bootstrap import BootstrapResult
    from jaxlaws.fit import FitResult

    plt = _pyplot()
    if not isinstance(boot, BootstrapResult):
        raise JaxlawsError(f"bootstrap_pairs needs a BootstrapResult, got {type(boot).__name__}")
    if fit is not None and not isinstance(fit, FitResult):
        raise JaxlawsError(f"fit= must be a FitResult, got {type(fit).__name__}")
    law = boot.law
    names = list(law.params) if params is None else list(params)
    unknown = [p for p in names if p not in law.params]
    if unknown or not names:
        raise JaxlawsError(f"law {law.name!r} has no parameters {unknown}; it has {list(law.params)}")
    if boot.n_used < 2:
        raise JaxlawsError(f"only {boot.n_used} usable resamples: nothing to plot")
    S = np.column_stack([boot.samples(p) for p in names])
    if fit is not None:
        point = np.array([fit.params[p] for p in names])
        point_label = "given fit"
    elif boot.fit is not None:
        point = np.array([boot.fit.params[p] for p in names])
        point_label = "full-data fit"
    else:
        point = np.median(S, axis=0)
        point_label = "bootstrap median"
    ci = boot.ci(level)
    logs = [law.params[p].scale == "log" and _positive(S[:, i]) and point[i] > 0 for i, p in enumerate(names)]
    P = len(names)
    size = max(1.75 * P, 3.6)
    fig, axes = plt.subplots(P, P, figsize=(size + 0.6, size), layout="constrained", squeeze=False)

    def limits(i: int) -> tuple[float, float]:
        v = np.append(S[:, i], point[i])
        lo, hi = float(v.min()), float(v.max())
        if logs[i]:
            f = (hi / lo) ** 0.05 if hi > lo else 1.5
            return lo / f, hi * f
        pad = 0.05 * (hi - lo) if hi > lo else max(abs(lo) * 0.05, 1e-12)
        return lo - pad, hi + pad

    lims = [limits(i) for i in range(P)]
    for i in range(P):
        for j in range(P):
            ax = axes[i, j]
            if j > i:
                ax.remove()
                continue
            if i == j:
                lo, hi = lims[i]
                bins = np.geomspace(lo, hi, 31) if logs[i] else np.linspace(lo, hi, 31)
                ax.hist(S[:, i], bins=bins, color=SKY, edgecolor="white", lw=0.4)
                ax.axvline(point[i], color=VERMILLION, lw=1.6)
                for v in ci[names[i]]:
                    ax.axvline(v, color=BLACK, lw=1.0, ls="--")
                ax.set_yticks([])
                ax.set_title(f"{names[i]} = {point[i]:.4g} [{ci[names[i]][0]:.4g}, {ci[names[i]][1]:.4g}]",
                             fontsize=7.5)
            else:
                if len(S) <= 2000:
                    ax.scatter(S[:, j], S[:, i], s=5, color=BLUE, alpha=0.35, edgecolors="none")
                else:
                    bx = np.geomspace(*lims[j], 41) if logs[j] else np.linspace(*lims[j], 41)
                    byy = np.geomspace(*lims[i], 41) if logs[i] else np.linspace(*lims[i], 41)
                    ax.hist2d(S[:, j], S[:, i], bins=[bx, byy], cmap="cividis", cmin=1)
                ax.plot(point[j], point[i], "*", color=VERMILLION, ms=9, mec=BLACK, mew=0.5)
                if logs[i]:
                    ax.set_yscale("log")
                    _log_ticks(ax.yaxis, *lims[i])
                ax.set_ylim(lims[i])
            if logs[j]:
                ax.set_xscale("log")
                _log_ticks(ax.xaxis, *lims[j])
            ax.set_xlim(lims[j])
            if i == P - 1:
                ax.set_xlabel(names[j] + (" (log scale)" if logs[j] else ""))
            else:
                ax.tick_params(axis="x", which="both", labelbottom=False)
            if j == 0 and i > 0:
                ax.set_ylabel(names[i] + (" (log scale)" if logs[i] else ""))
            elif i != j:
                ax.tick_params(axis="y", which="both", labelleft=False)
            ax.tick_params(which="both", labelsize=7)
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [Patch(color=SKY, label=f"{boot.n_used} {boot.scheme} bootstrap replicates"),
               Line2D([], [], color=VERMILLION, marker="*", mec=BLACK, mew=0.5, ms=9, lw=1.6, label=point_label),
               Line2D([], [], color=BLACK, ls="--", lw=1.0, label=f"{level:.0%} percentile interval")]
    if P == 1:
        axes[0, 0].legend(handles=handles, fontsize=7.5, loc="upper right")
    else:
        fig.legend(handles=handles, loc="upper right", fontsize=8.5, frameon=False,
                   bbox_to_anchor=(0.98, 0.93))
    if boot.fit is not None:
        _suptitle(fig, _title(law, boot.fit.problem.data, f"{boot.n_used} bootstrap refits, {boot.fit.loss}"))
    else:
        _suptitle(fig, f"{law.name}: {boot.n_used} bootstrap refits")
    return _finish(fig, path)


# ---- compute-optimal frontier ------------------------------------------------------------------------

def frontier(boot_or_fit: Any, compute: Any, *, level: float = 0.9, path: Any = None, published: bool = True) -> Any:
    """Compute-optimal N*(C), D*(C) and tokens per parameter D*/N* against compute C (three log-log
    panels) under C = 6 N D, from :mod:`jaxlaws.analysis.allocation`.

    A BootstrapResult adds the ``level`` percentile band of each curve over its replicates
    (``allocation.from_bootstrap``); a FitResult draws the point estimate only
    (``allocation.optimal``). ``published`` marks Hoffmann et al.'s and Epoch AI's allocations
    and Chinchilla itself (70B parameters, 1.4T tokens, 5.76e23 FLOPs); see :data:`PUBLISHED`.

    Args:
      boot_or_fit: a BootstrapResult or FitResult of a single-output law of N and D.
      compute: budgets C in FLOPs (at least two).
    """
    import jax

    from jaxlaws.analysis import allocation
    from jaxlaws.bootstrap import BootstrapResult
    from jaxlaws.intervals import check_level
    from jaxlaws.laws.chinchilla import compute_optimal

    plt = _pyplot()
    boot = boot_or_fit if isinstance(boot_or_fit, BootstrapResult) else None
    fit = _fit_of(boot_or_fit, "frontier")
    law = fit.law
    if law.n_outputs != 1:
        raise JaxlawsError(f"frontier needs a single-output law of N and D; {law.name!r} has {law.n_outputs} outputs")
    if set(law.inputs) != {"N", "D"}:
        raise JaxlawsError(f"frontier needs a law of N (parameters) and D (tokens); {law.name!r} takes "
                           f"{list(law.inputs)}, so it has no compute-optimal allocation")
    level = check_level(level)
    C = np.sort(allocation.check_budgets(compute))
    if len(C) < 2:
        raise JaxlawsError("frontier needs at least two compute budgets")
    est = allocation.optimal(law, fit.params, C)
    bands = allocation.from_bootstrap(boot, C) if boot is not None else None
    data = fit.problem.data
    keys = ("N_opt", "D_opt", "tokens_per_param")
    ylabels = (label(data, "N", "compute-optimal N*"), label(data, "D", "compute-optimal D*"),
               "tokens per parameter D*/N*")
    fig, axes = plt.subplots(1, 3, figsize=(13.0, 4.4), layout="constrained")
    fit_label = f"{law.name} fit"
    if "a" in est:
        a, b = float(np.ravel(est["a"])[0]), float(np.ravel(est["b"])[0])
        if bands is not None and "a" in bands:
            alo, ahi = bands["a"].ci(level)
            fit_label += f": a = {a:.3f} [{float(np.ravel(alo)[0]):.3f}, {float(np.ravel(ahi)[0]):.3f}], b = {b:.3f}"
        else:
            fit_label += f": a = {a:.3f}, b = {b:.3f}"
    for ax, key, ylab in zip(axes, keys, ylabels):
        ax.plot(C, est[key], "-", color=BLUE, lw=2.0, label=fit_label, gid="fit", zorder=3)
        if bands is not None:
            lo, hi = bands[key].ci(level)
            ax.fill_between(C, lo, hi, color=BLUE, alpha=0.2, lw=0, zorder=2,
                            label=f"{level:.0%} bootstrap band ({boot.n_used} resamples)")
        if published:
            for (name, p), c, ls in zip(PUBLISHED.items(), (VERMILLION, GREEN), ("--", "-.")):
                with jax.enable_x64(True):
                    ref = {k2: np.asarray(v) for k2, v in compute_optimal(p, C).items()}
                ax.plot(C, ref[key], ls, color=c, lw=1.4, label=name, gid="published", zorder=4)
            cc = CHINCHILLA_MODEL
            val = {"N_opt": cc["N"], "D_opt": cc["D"], "tokens_per_param": cc["D"] / cc["N"]}[key]
            ax.plot(cc["C"], val, "*", color=ORANGE, mec=BLACK, mew=0.6, ms=13, zorder=5,
                    label="Chinchilla: 70B parameters, 1.4T tokens, 5.76e23 FLOPs")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(label(data, "C", "compute C = 6ND"))
        ax.set_ylabel(ylab)
        ax.grid(True, which="major", alpha=0.25)
    handles, labels_ = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels_, loc="outside lower center", ncols=2 if len(handles) > 3 else len(handles),
               fontsize=8.5, frameon=False)
    _suptitle(fig, _title(law, data, "compute-optimal allocation under C = 6ND"))
    return _finish(fig, path)


# ---- extrapolation ----------------------------------------------------------------------------------------

def extrapolation(boot: Any, inputs: Mapping[str, Any] | None = None, *, along: str | None = None,
                  given: Mapping[str, float] | None = None, extend: float = 100.0, level: float = 0.9,
                  path: Any = None, data: Any = None) -> Any:
    """The law's prediction along one input, from inside the data to beyond it, with the
    bootstrap's ``level`` band (:func:`jaxlaws.analysis.predict.predict`), the data points and
    the data's range shaded.

    Either ``inputs`` (name -> ``[k]`` values for every input of the law; the x axis is
    ``along``, default the input that varies most), or ``along=NAME``: a grid from the data's
    smallest value of NAME to ``extend`` times its largest, the other inputs held at ``given``
    (default: the data's largest value of each). A FitResult draws the estimate without a band.
    """
    from jaxlaws.analysis.predict import predict
    from jaxlaws.bootstrap import BootstrapResult
    from jaxlaws.intervals import check_level

    plt = _pyplot()
    fit = _fit_of(boot, "extrapolation")
    law = fit.law
    data = _data_for(fit, data)
    level = check_level(level)
    given = dict(given or {})
    if inputs is None:
        if along is None:
            if len(law.inputs) > 1:
                raise JaxlawsError(f"extrapolation of law {law.name!r} (inputs {list(law.inputs)}) needs along=NAME or inputs=")
            along = law.inputs[0]
        if along not in law.inputs:
            raise JaxlawsError(f"along={along!r} is not an input of law {law.name!r}; its inputs are {list(law.inputs)}")
        if not (extend >= 1.0):
            raise JaxlawsError(f"extend must be >= 1, got {extend}")
        xd = data.inputs[along]
        lo, hi = float(xd.min()), float(xd.max()) * extend
        xs = np.geomspace(lo, hi, 200) if _positive(xd) else np.linspace(lo, hi, 200)
        unknown = [k for k in given if k not in law.inputs or k == along]
        if unknown:
            raise JaxlawsError(f"given= names {unknown}, which are not the other inputs of law {law.name!r}")
        held = {k: float(given.get(k, data.inputs[k].max())) for k in law.inputs if k != along}
        grid = {along: xs, **{k: np.full_like(xs, v) for k, v in held.items()}}
    else:
        missing = [k for k in law.inputs if k not in inputs]
        if missing:
            raise JaxlawsError(f"inputs= lacks {missing}, inputs of law {law.name!r}")
        grid = {k: np.atleast_1d(np.asarray(inputs[k], np.float64)) for k in law.inputs}
        n = max(len(v) for v in grid.values())
        grid = {k: np.broadcast_to(v, (n,)).copy() for k, v in grid.items()}
        if along is None:
            def spread(v: np.ndarray) -> float:
                return float(np.ptp(np.log(v))) if _positive(v) else float(np.ptp(v))

            along = max(law.inputs, key=lambda k: spread(grid[k]))
        elif along not in law.inputs:
            raise JaxlawsError(f"along={along!r} is not an input of law {law.name!r}; its inputs are {list(law.inputs)}")
        order = np.argsort(grid[along])
        grid = {k: v[order] for k, v in grid.items()}
        held = {k: float(grid[k][0]) for k in law.inputs if k != along and np.all(grid[k] == grid[k][0])}
        xs = grid[along]
    pr = predict(boot if isinstance(boot, BootstrapResult) else fit, grid, level=level)
    k = law.n_outputs
    est = pr.estimate.reshape(len(xs), k)
    band = None if pr.lo is None else (pr.lo.reshape(len(xs), k), pr.hi.reshape(len(xs), k))
    Y = _outputs(data.y)
    ncols = min(k, 3)
    nrows = math.ceil(k / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(7.0 * ncols, 4.6 * nrows), layout="constrained", squeeze=False)
    for ax in axes.ravel()[k:]:
        ax.remove()
    xd = data.inputs[along]
    held_text = ", ".join(f"{h} = {_sci(v)}" for h, v in held.items())
    for j in range(k):
        ax = axes.ravel()[j]
        ax.axvspan(float(xd.min()), float(xd.max()), color=BLACK, alpha=0.07, lw=0, label="range of the data")
        pts = "data" if len(law.inputs) == 1 else f"data (all {', '.join(h for h in law.inputs if h != along)})"
        ax.scatter(xd, Y[:, j], s=12, color=ORANGE, alpha=0.7, edgecolors="none", label=pts, zorder=3)
        if band is not None:
            ax.fill_between(xs, band[0][:, j], band[1][:, j], color=BLUE, alpha=0.22, lw=0, zorder=2,
                            label=f"{level:.0%} bootstrap band ({boot.n_used} resamples)")
        ax.plot(xs, est[:, j], "-", color=BLUE, lw=1.8, zorder=4, gid=_curve_gid(j if k > 1 else None, held),
                label=f"{law.name} fit" + (f", {held_text}" if held_text else ""))
        edge = xs[-1]
        txt = f"at {along} = {_sci(edge)}: {est[-1, j]:.4g}"
        if band is not None:
            txt += f" [{band[0][-1, j]:.4g}, {band[1][-1, j]:.4g}]"
        ax.text(0.98, 0.97, txt, transform=ax.transAxes, ha="right", va="top", fontsize=8,
                bbox={"facecolor": "white", "alpha": 0.8, "lw": 0})
        if _positive(xs) and _spans_decade(np.append(xs, xd)):
            ax.set_xscale("log")
        if _spans_decade(np.concatenate([Y[:, j], est[:, j]])):
            ax.set_yscale("log")
        ax.set_xlabel(label(data, along))
        ylab = label(data, data.target)
        ax.set_ylabel(ylab if k == 1 else f"{ylab}, output {j + 1}")
        ax.grid(True, which="major", alpha=0.25)
    handles, labels_ = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels_, loc="outside lower center", ncols=min(len(handles), 2 * ncols), fontsize=8.5, frameon=False)
    _suptitle(fig, _title(law, data, f"prediction along {along}, beyond the data"))
    return _finish(fig, path)


# ---- per-group fits -----------------------------------------------------------------------------------------

def groups(gf: Any, data: Any, *, path: Any = None, max_panels: int = 12) -> Any:
    """Small multiples of a per-group fit (:func:`jaxlaws.fit_groups`): each group's points and
    its fitted curve (a one-input law; for more inputs, the fit at each point as open markers).

    ``data`` is the grouped dataset (it may hold more points than were fitted, e.g. the test
    split: those are drawn as open squares). At most ``max_panels`` groups, in label order.
    """
    from jaxlaws.datasets import Dataset, load
    from jaxlaws.groupfit import GroupFit
    from jaxlaws.solvers import Status

    plt = _pyplot()
    if not isinstance(gf, GroupFit):
        raise JaxlawsError(f"groups needs a GroupFit (jl.fit_groups), got {type(gf).__name__}")
    if isinstance(data, str):
        data = load(data)
    if not isinstance(data, Dataset):
        raise JaxlawsError(f"data must be a jl.datasets.Dataset or a bundled dataset name, got {type(data).__name__}")
    if data.groups is None:
        raise JaxlawsError(f"dataset {data.name!r} has no groups")
    law = gf.law
    data.require(law.inputs)
    if isinstance(max_panels, bool) or not isinstance(max_panels, (int, np.integer)) or max_panels < 1:
        raise JaxlawsError(f"max_panels must be a positive integer, got {max_panels!r}")
    present = [g for g in gf.labels if np.any(data.groups == g)]
    if not present:
        raise JaxlawsError(f"none of the fitted groups is in dataset {data.name!r}")
    # More groups than panels: evenly spaced ones in label order, so that every family shows.
    pick = np.unique(np.round(np.linspace(0, len(present) - 1, min(max_panels, len(present)))).astype(int))
    shown = [present[i] for i in pick]
    n = len(shown)
    ncols = min(4, math.ceil(math.sqrt(n)))
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.9 * ncols + 0.4, 2.3 * nrows + 0.8), layout="constrained",
                             squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.remove()
    xname = law.inputs[0]
    k = law.n_outputs
    test = np.zeros(data.n_points, bool) if data.splits is None else data.splits == "test"
    any_test = False
    for i, g in enumerate(shown):
        ax = axes.ravel()[i]
        m = data.groups == g
        x = data.inputs[xname][m]
        Y = _outputs(data.y[m])
        t = test[m]
        any_test |= bool(t.any())
        gi = int(np.flatnonzero(gf.labels == g)[0])
        p = gf.params_of(g)
        ok = bool(np.all(np.isfinite(list(p.values()))))
        for j in range(k):
            c = SEQUENCE[j % len(SEQUENCE)] if k > 1 else BLUE
            ax.scatter(x[~t], Y[~t, j], s=14, color=c if k > 1 else ORANGE, edgecolors="none", alpha=0.85, zorder=3)
            if t.any():
                ax.scatter(x[t], Y[t, j], s=26, marker="s", facecolors="none",
                           edgecolors=c if k > 1 else VERMILLION, lw=1.0, zorder=3)
            if not ok:
                continue
            if len(law.inputs) == 1:
                xs = _grid(x)
                pred = _outputs(np.asarray(law.predict(p, {xname: xs})).reshape(len(xs), -1))[:, j]
                ax.plot(xs, pred, "-", color=c, lw=1.5, zorder=2, gid=_curve_gid(j if k > 1 else None, {}))
            else:
                pts = {h: data.inputs[h][m] for h in law.inputs}
                pred = _outputs(np.asarray(law.predict(p, pts)).reshape(len(x), -1))[:, j]
                ax.scatter(x, pred, s=20, facecolors="none", edgecolors=c, lw=0.8, zorder=4)
        st = Status(int(gf.status[gi]))
        note = "" if st.converged else (" (no fit)" if not ok else f" ({st.label})")
        ax.set_title(f"{g}{note}", fontsize=8.5, color=BLACK if st.converged else VERMILLION)
        if _spans_decade(x):
            ax.set_xscale("log")
        if _spans_decade(Y):
            ax.set_yscale("log")
        ax.tick_params(labelsize=7)
        ax.grid(True, alpha=0.25)
        if i >= n - ncols:
            ax.set_xlabel(label(data, xname), fontsize=8.5)
        if i % ncols == 0:
            ax.set_ylabel(label(data, data.target), fontsize=8.5)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], ls="", marker="o", color=ORANGE if k == 1 else BLACK, label="fitted points")]
    if any_test:
        handles.append(Line2D([], [], ls="", marker="s", mfc="none", color=VERMILLION if k == 1 else BLACK,
                              label="held out (test split)"))
    if len(law.inputs) == 1:
        handles.append(Line2D([], [], color=BLUE if k == 1 else BLACK, lw=1.5, label=f"{law.name}, each group's fit"))
    else:
        handles.append(Line2D([], [], ls="", marker="o", mfc="none", color=BLACK, label="fit at each point"))
    if k > 1:
        handles += [Line2D([], [], ls="", marker="o", color=SEQUENCE[j % len(SEQUENCE)], label=f"output {j + 1}")
                    for j in range(k)]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 4), fontsize=8.5, frameon=False)
    more = f"{n} of {len(gf.labels)} groups, evenly spaced in label order" if n < len(gf.labels) else f"{n} groups"
    _suptitle(fig, _title(law, data, f"per-group fits, {more}"))
    return _finish(fig, path)


# ---- benchmarks ---------------------------------------------------------------------------------------------

_SECONDS = ("seconds_full", "seconds_all", "seconds")


def _timings(d: Mapping[str, Any]) -> list[tuple[str, float, str, bool]] | None:
    """(bar label, seconds, kind, scaled) rows of one benchmark result, or None if it has no
    ``jaxlaws`` block with a warm time and at least one ``scipy*`` time."""
    j = d.get("jaxlaws")
    if not isinstance(j, Mapping) or not isinstance(j.get("warm_s"), (int, float)):
        return None
    rows = [("jaxlaws, warm", float(j["warm_s"]), "jaxlaws", False)]
    if isinstance(j.get("cold_s"), (int, float)):
        rows.append(("jaxlaws, cold (compile + run)", float(j["cold_s"]), "jaxlaws_cold", False))

    def seconds(v: Any) -> float | None:
        if isinstance(v, Mapping):
            for key in _SECONDS:
                if isinstance(v.get(key), (int, float)):
                    return float(v[key])
        return None

    n = len(rows)
    for key, v in d.items():
        if not key.startswith("scipy") or not isinstance(v, Mapping):
            continue
        s = seconds(v)
        if s is not None:
            rows.append((key.replace("_", " "), s, "scipy", bool(v.get("extrapolated"))))
            continue
        for method, w in v.items():
            s = seconds(w)
            if s is not None:
                rows.append((f"scipy {method}".replace("_", " "), s, "scipy", bool(w.get("extrapolated"))))
    return rows if len(rows) > n else None


def _load_results(results: Any) -> dict[str, Mapping[str, Any]]:
    def read(p: str) -> Mapping[str, Any]:
        try:
            with open(p, encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError) as e:
            raise JaxlawsError(f"cannot read benchmark results {p!r}: {' '.join(str(e).split())}") from None

    if isinstance(results, (str, os.PathLike)):
        p = os.fspath(results)
        if os.path.isdir(p):
            files = sorted(glob.glob(os.path.join(p, "*.json")))
            if not files:
                raise JaxlawsError(f"no *.json benchmark results in {p!r}")
            return {os.path.splitext(os.path.basename(f))[0]: read(f) for f in files}
        if os.path.isfile(p):
            return {os.path.splitext(os.path.basename(p))[0]: read(p)}
        raise JaxlawsError(f"no such benchmark results file or folder: {p!r}")
    if isinstance(results, Mapping):
        if "jaxlaws" in results:  # one result file's contents
            return {str(results.get("problem", "benchmark")): results}
        out = {}
        for k, v in results.items():
            out[str(k)] = read(os.fspath(v)) if isinstance(v, (str, os.PathLike)) else v
        return out
    raise JaxlawsError(f"benchmark needs a results folder, a JSON file or a dict of results, got {type(results).__name__}")


def benchmark(results: Any, *, path: Any = None) -> Any:
    """Bar chart of jaxlaws against scipy seconds, one panel per benchmark (log y), each scipy
    bar annotated with its time over jaxlaws' warm time.

    ``results``: the folder of result files (``benchmarks/results``), one JSON file, a dict of
    name -> result (or path), or one result dict. Results with a ``jaxlaws`` block (``warm_s``,
    ``cold_s``) and ``scipy*`` blocks (``seconds_full``/``seconds_all``/``seconds``, nested one
    level or not) are drawn, the others skipped. Hatched bars are scipy times scaled from a
    subset of the starts (``extrapolated``).
    """
    plt = _pyplot()
    loaded = _load_results(results)
    found = [(name, d, rows) for name, d in loaded.items() if isinstance(d, Mapping) and (rows := _timings(d))]
    if not found:
        raise JaxlawsError(f"no jaxlaws-vs-scipy timings in {sorted(loaded)}: expected a 'jaxlaws' block with "
                           "'warm_s' and 'scipy*' blocks with seconds")
    n = len(found)
    widths = [max(len(rows), 2) + 1.0 for _, _, rows in found]
    fig, axes = plt.subplots(1, n, figsize=(0.8 * sum(widths) + 1.0, 5.2), layout="constrained", squeeze=False,
                             gridspec_kw={"width_ratios": widths})
    colours = {"jaxlaws": BLUE, "jaxlaws_cold": SKY, "scipy": ORANGE}
    machine = None
    for ax, (name, d, rows) in zip(axes[0], found):
        warm = rows[0][1]
        xs = np.arange(len(rows))
        secs = [r[1] for r in rows]
        bars = ax.bar(xs, secs, color=[colours[r[2]] for r in rows], edgecolor=BLACK, lw=0.6)
        for bar, r in zip(bars, rows):
            if r[3]:
                bar.set_hatch("//")
            ratio = r[1] / warm
            txt = f"{ratio:.0f}×" if ratio >= 10 else f"{ratio:.1f}×"
            ax.annotate(txt, (bar.get_x() + bar.get_width() / 2, r[1]), xytext=(0, 2), textcoords="offset points",
                        ha="center", va="bottom", fontsize=8, gid="ratio")
        ax.set_yscale("log")
        ax.set_ylim(min(secs) / 3.0, max(secs) * 4.0)
        ax.set_xticks(xs, [r[0] for r in rows], rotation=35, ha="right", fontsize=8)
        ax.set_ylabel("wall-clock time (seconds)")
        ax.set_title("\n".join(textwrap.wrap(str(d.get("problem", name)), 48)), fontsize=9)
        ax.grid(True, axis="y", which="major", alpha=0.25)
        machine = machine or d.get("machine")
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=BLUE, edgecolor=BLACK, label="jaxlaws, warm (compiled)"),
               Patch(facecolor=SKY, edgecolor=BLACK, label="jaxlaws, cold (compile + run)"),
               Patch(facecolor=ORANGE, edgecolor=BLACK, label="scipy"),
               Patch(facecolor=ORANGE, edgecolor=BLACK, hatch="//", label="scipy, scaled from a subset of starts")]
    fig.legend(handles=handles, loc="outside lower center", ncols=4, fontsize=8.5, frameon=False)
    title = "jaxlaws vs scipy (× = time over jaxlaws warm)"
    if isinstance(machine, Mapping):
        title += (f" — {machine.get('cpu_count', '?')} CPU cores, {machine.get('device', '')}, "
                  f"jax {machine.get('jax', '?')}, scipy {machine.get('scipy', '?')}, {str(machine.get('date', ''))[:10]}")
    _suptitle(fig, title, fontsize=10)
    return _finish(fig, path)


__all__ = ["data_and_fit", "residuals", "bootstrap_pairs", "frontier", "extrapolation", "groups", "benchmark",
           "fit_figure", "label", "unit", "PUBLISHED", "CHINCHILLA_MODEL"]
