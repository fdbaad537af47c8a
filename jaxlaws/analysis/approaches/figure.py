"""``plot_frontiers``: the frontiers of several approaches, with their bands, on one log-log axis.

matplotlib is imported when a figure is drawn, never at import (like :mod:`jaxlaws.plot`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from jaxlaws.analysis.approaches.comparison import Comparison
from jaxlaws.analysis.approaches.frontier import Frontier
from jaxlaws.errors import JaxlawsError

# Okabe-Ito, colour-blind safe: one colour per approach.
COLOURS = {"envelope": "#E69F00", "isoflop": "#0072B2", "parametric": "#009E73"}
MARKERS = {"envelope": "s", "isoflop": "o", "parametric": "^"}


def _frontiers(result: Any) -> tuple[list[Frontier], float | None, float]:
    if isinstance(result, Comparison):
        return list(result.frontiers), result.target, result.level
    if isinstance(result, Frontier):
        return [result], None, 0.9
    if isinstance(result, Sequence) and result and all(isinstance(f, Frontier) for f in result):
        return list(result), None, 0.9
    raise JaxlawsError(f"plot_frontiers draws a Comparison, a Frontier or a list of Frontiers, got {type(result).__name__}")


def plot_frontiers(result: Any, path: str | None = None, *, what: str = "N", level: float | None = None,
                   ax: Any = None) -> Any:
    """Draw each approach's frontier N*(C) (``what="N"``) or D*(C) (``what="D"``): its per-budget
    estimates (filled where they enter the exponent fit, hollow where flagged and left out), its
    fitted power law and the pointwise band of the run resamples' power laws, on one log-log axis.

    Args:
      result: a :class:`Comparison`, a :class:`Frontier` or a list of Frontiers.
      path: save the figure there (PNG, PDF, ... by extension).
      level: the band's level (default the comparison's, else 0.9).
      ax: draw into this matplotlib Axes (default: a new figure).

    Returns the matplotlib Figure.
    """
    if what not in ("N", "D"):
        raise JaxlawsError(f"what is 'N' (model size) or 'D' (tokens), got {what!r}")
    frontiers, target, lvl = _frontiers(result)
    level = lvl if level is None else level
    plt = _pyplot()
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 4.6))
    else:
        fig = ax.figure
    lo = min(float(f.budgets.min()) for f in frontiers)
    hi = max(float(f.budgets.max()) for f in frontiers)
    if target is not None:
        lo, hi = min(lo, target), max(hi, target)
    grid = np.logspace(np.log10(lo), np.log10(hi), 200)
    for f in frontiers:
        col, mk = COLOURS.get(f.approach, "k"), MARKERS.get(f.approach, "o")
        est = f.N_opt if what == "N" else f.D_opt
        ci = f.ci(level)
        e = "a" if what == "N" else "b"
        label = f"{f.title}: {e} = {getattr(f, e):.3f} [{ci[e][0]:.3f}, {ci[e][1]:.3f}]"
        line = f.predict(grid)["N_opt" if what == "N" else "D_opt"]
        ax.plot(grid, line, color=col, lw=1.8, label=label)
        if f.n_used:
            band = f.band(grid, level)
            ax.fill_between(grid, band[f"{what}_lo"], band[f"{what}_hi"], color=col, alpha=0.18, lw=0)
        ok = f.used & np.isfinite(est)
        ax.scatter(f.budgets[ok], est[ok], color=col, marker=mk, s=18, zorder=3)
        off = ~f.used & np.isfinite(est)
        if off.any():
            ax.scatter(f.budgets[off], est[off], facecolors="none", edgecolors=col, marker=mk, s=22, zorder=3)
    if target is not None:
        ax.axvline(target, color="0.4", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("compute budget C (FLOPs)")
    ax.set_ylabel("compute-optimal model size N* (parameters)" if what == "N" else "compute-optimal tokens D* (tokens)")
    ax.set_title(f"Compute-optimal frontiers, {level:.0%} bands over run resamples", fontsize=10)
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(True, which="major", alpha=0.3)
    fig.tight_layout()
    if path is not None:
        path = os.fspath(path)
        if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            raise JaxlawsError(f"cannot write {path!r}: no such directory")
        fig.savefig(path, dpi=120)
    return fig


def _pyplot() -> Any:
    """pyplot, imported now; Agg selected first if nothing has chosen a backend (so scripts run on
    machines without a display; a notebook's backend is left alone)."""
    import matplotlib

    chosen = ("matplotlib.pyplot" in sys.modules or bool(os.environ.get("MPLBACKEND"))
              or matplotlib.rcParams._get_backend_or_none() is not None)
    if not chosen:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
