"""The three approaches side by side: exponents with intervals, and N*, D* at one target budget."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from jaxlaws.analysis.approaches.approach1 import budget_range, envelope
from jaxlaws.analysis.approaches.approach2 import isoflop
from jaxlaws.analysis.approaches.approach3 import parametric
from jaxlaws.analysis.approaches.frontier import APPROACHES, Frontier, NoFrontier
from jaxlaws.datasets import coerce
from jaxlaws.errors import JaxlawsError
from jaxlaws.intervals import check_level

# Hoffmann et al. (2022, arXiv:2203.15556), Table 2: a, b and, in parentheses there, their 10th
# and 90th percentiles from 100 refits on 80% subsamples (an 80% interval, not a 90% one).
HOFFMANN_TABLE2 = {
    "envelope": {"a": 0.50, "a_ci": (0.488, 0.502), "b": 0.50, "b_ci": (0.501, 0.512)},
    "isoflop": {"a": 0.49, "a_ci": (0.462, 0.534), "b": 0.51, "b_ci": (0.483, 0.529)},
    "parametric": {"a": 0.46, "a_ci": (0.454, 0.455), "b": 0.54, "b_ci": (0.542, 0.543)},
}


def _fmt(v: float) -> str:
    return "nan" if not np.isfinite(v) else f"{v:.3g}"


@dataclasses.dataclass(frozen=True, eq=False)
class Comparison:
    """Frontiers estimated several ways from the same data.

    Attributes:
      frontiers: one :class:`Frontier` per approach that located one, in the order run.
      target: the compute budget N* and D* are reported at (FLOPs).
      level: the interval level of the summaries.
      data: the dataset's name.
      missing: approach -> why it has no frontier (fewer than two budgets located on these data).
    """

    frontiers: tuple[Frontier, ...]
    target: float
    level: float = 0.9
    data: str = ""
    missing: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        check_level(self.level)
        if not self.frontiers:
            raise JaxlawsError(f"no approach located a frontier: {'; '.join(self.missing.values())}")

    def __getitem__(self, approach: str) -> Frontier:
        for f in self.frontiers:
            if f.approach == approach:
                return f
        raise JaxlawsError(f"no {approach!r} frontier here; there are {[f.approach for f in self.frontiers]}")

    @property
    def warnings(self) -> list[str]:
        return [f"{APPROACHES[k]}: no frontier: {v}" for k, v in self.missing.items()] + [
            w for f in self.frontiers for w in f.warnings]

    def rows(self) -> list[dict[str, Any]]:
        """One summary per approach: exponents with intervals, N*, D* at the target with intervals."""
        out = []
        for f in self.frontiers:
            ci, at = f.ci(self.level), f.at(self.target, self.level)
            out.append({
                "approach": f.approach, "title": f.title, "a": f.a, "a_ci": ci["a"], "b": f.b, "b_ci": ci["b"],
                "N_opt": at["N_opt"], "D_opt": at["D_opt"], "budgets_used": int(f.used.sum()),
                "budgets": len(f.budgets), "budget_range": (float(f.budgets.min()), float(f.budgets.max())),
                "extrapolated": bool(self.target > f.budgets.max() * (1 + 1e-9) or self.target < f.budgets.min() * (1 - 1e-9)),
                "n_boot": f.n_boot, "n_used": f.n_used, "warnings": list(f.warnings),
            })
        return out

    def table(self) -> str:
        """A markdown table of :meth:`rows`."""
        pct = f"{self.level:.0%}"
        head = (f"| approach | a ({pct} CI) | b ({pct} CI) | N* at C = {self.target:.3g} | D* at C = {self.target:.3g} "
                "| budgets used | run resamples used | warnings |")
        lines = [head, "|---|---|---|---|---|---|---|---|"]
        for r in self.rows():
            ext = " (extrapolated)" if r["extrapolated"] else ""
            n, d = r["N_opt"], r["D_opt"]
            lines.append(
                f"| {r['title']} | {r['a']:.3f} [{r['a_ci'][0]:.3f}, {r['a_ci'][1]:.3f}] "
                f"| {r['b']:.3f} [{r['b_ci'][0]:.3f}, {r['b_ci'][1]:.3f}] "
                f"| {_fmt(n[0])} [{_fmt(n[1])}, {_fmt(n[2])}]{ext} | {_fmt(d[0])} [{_fmt(d[1])}, {_fmt(d[2])}]{ext} "
                f"| {r['budgets_used']} of {r['budgets']} | {r['n_used']} of {r['n_boot']} | {len(r['warnings'])} |")
        for k, why in self.missing.items():
            lines.append(f"| {APPROACHES[k]} | none | none | | | {why} | | |")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"data": self.data, "target": self.target, "level": self.level,
                "frontiers": [f.to_dict(self.level) for f in self.frontiers], "rows": self.rows(),
                "missing": dict(self.missing), "hoffmann_table2": HOFFMANN_TABLE2}

    def __str__(self) -> str:
        return self.table()


def compare(data: Any, budgets: Any = None, target: float | None = None, *, level: float = 0.9, n_boot: int = 200,
            seed: int = 0, isoflop_budgets: Any = None, isoflop_law: Any = None, window: float | None = None,
            law: Any = "chinchilla", loss: Any = "huber-log:1e-3", starts: Any = "grid", fit: Any = None,
            by: str = "C", isoflop_options: Mapping[str, Any] | None = None, **fit_options: Any) -> Comparison:
    """Approaches 1, 2 and 3 on the same training curves, with the same run resamples.

    Args:
      data: curves (a Dataset or bundled name with ``runs``, columns ``by``, ``N`` and ``D``).
      budgets: the envelope's budgets (default: its grid over the data); the parametric frontier
        is drawn over the same range.
      target: the budget N* and D* are reported at (default: the largest budget of the envelope).
      level: interval level; n_boot, seed: run resamples (one draw shared by the three approaches).
      isoflop_budgets, isoflop_law, window, isoflop_options: :func:`isoflop`'s budgets, profile law,
        window and other options.
      law, loss, starts, **fit_options: approach 3's fit; fit: a FitResult or BootstrapResult to use instead.
    """
    data = coerce(data)
    check_level(level)
    if target is not None and not (np.isfinite(float(target)) and float(target) > 0):
        raise JaxlawsError(f"target must be a positive compute budget, got {target!r}")
    got, missing = [], {}
    lo, hi = budget_range(data, by)
    runs = (
        ("envelope", lambda: envelope(data, budgets, n_boot=n_boot, seed=seed, by=by)),
        ("isoflop", lambda: isoflop(data, isoflop_budgets, isoflop_law, n_boot=n_boot, seed=seed, window=window,
                                    by=by, **dict(isoflop_options or {}))),
        # over the envelope's span when there is one (the same budgets on the plot), else the data's
        ("parametric", lambda: parametric(data if fit is None else fit, np.logspace(
            *np.log10([got[0].budgets.min(), got[0].budgets.max()] if got else [lo, hi]), 20), law=law, loss=loss,
            starts=starts, n_boot=n_boot, seed=seed, **fit_options)),
    )
    for name, run in runs:
        try:
            got.append(run())
        except NoFrontier as e:  # the data locate no optimum this way: say so in the table, run the others
            missing[name] = str(e)
    target = float(max(f.budgets.max() for f in got)) if target is None and got else target
    return Comparison(frontiers=tuple(got), target=float(target if target is not None else hi), level=level,
                      data=data.name, missing=missing)
