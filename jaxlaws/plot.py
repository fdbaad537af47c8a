"""Matplotlib figures (needs the ``plot`` extra)."""

from __future__ import annotations

from typing import Any

import numpy as np

from jaxlaws.errors import JaxlawsError


def _plt() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise JaxlawsError("plots need matplotlib: pip install 'jaxlaws[plot]'") from None
    return plt


def fit_figure(res: Any, data: Any, path: str | None = None) -> Any:
    """Observed vs fitted target, and log residuals against the first input (log x axis)."""
    plt = _plt()
    pred = np.asarray(res.predict(data.inputs)).reshape(data.y.shape)
    y = data.y
    x_name = res.law.inputs[0]
    x = data.inputs[x_name]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    a1.scatter(y.ravel(), pred.ravel(), s=8, alpha=0.7)
    lo, hi = float(min(y.min(), pred.min())), float(max(y.max(), pred.max()))
    a1.plot([lo, hi], [lo, hi], "k--", lw=1)
    a1.set_xlabel(f"observed {data.target}")
    a1.set_ylabel("fitted")
    a1.set_title(f"{res.law.name} on {data.name}")
    with np.errstate(divide="ignore", invalid="ignore"):
        resid = np.log(pred) - np.log(y) if np.all(y > 0) else pred - y
    xx = np.repeat(x, resid.size // x.size) if resid.ndim > 1 else x
    a2.scatter(xx, resid.ravel(), s=8, alpha=0.7)
    a2.axhline(0.0, color="k", lw=1)
    a2.set_xscale("log")
    a2.set_xlabel(x_name)
    a2.set_ylabel("log residual" if np.all(y > 0) else "residual")
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=120)
        plt.close(fig)
    return fig
