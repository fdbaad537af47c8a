"""What ``jaxlaws fit`` writes: strict JSON, derived quantities, and a report folder.

``jaxlaws fit --report DIR`` writes ``DIR/fit.json`` (the ``--json`` file), PNG figures
(:mod:`jaxlaws.plot`) and ``DIR/summary.md``: the law and data, the parameters with standard
errors and intervals, lanes by status, warnings, and links to the figures.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from jaxlaws.analysis import allocation

# Compute budgets (FLOPs) for the compute-optimal allocation when none are given (--compute).
DEFAULT_BUDGETS = (1e21, 1e22, 1e23, 1e24, 1e25)


# ---- strict JSON -----------------------------------------------------------------------------
def finite(x: Any) -> float | None:
    """A float for JSON, ``None`` (null) where it is not finite: JSON has no inf or NaN."""
    x = float(x)
    return x if np.isfinite(x) else None


def plain(x: Any) -> Any:
    """``x`` with numpy values as Python ones and every non-finite float as ``None`` (JSON has no
    inf or NaN: an undetermined standard error is written as null)."""
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    if isinstance(x, np.ndarray):
        x = x.tolist()  # a 0-d array gives a number
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float):
        return finite(x)
    return x


def write_json(path: str, report: dict[str, Any]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(plain(report), fh, indent=2, allow_nan=False)


# ---- derived quantities ----------------------------------------------------------------------
def compute_optimal(res: Any, boot: Any = None, budgets: Sequence[float] | None = None,
                    level: float = 0.95) -> dict[str, Any] | None:
    """The compute-optimal allocation at ``budgets`` (FLOPs, default :data:`DEFAULT_BUDGETS`)
    for a law that declares one (``Law.allocation``), else None: each quantity's estimate at the
    fit and, with ``boot``, its bootstrap standard error and ``level`` percentile interval."""
    law = res.law
    if law.allocation is None:
        return None
    C = allocation.check_budgets(DEFAULT_BUDGETS if budgets is None else budgets)
    out: dict[str, Any] = {"C": C.tolist(), "compute_model": "C = 6 N D", "method": "closed form",
                           "level": level if boot is not None else None}
    if boot is None:
        for k, v in allocation.optimal(law, res.params, C).items():
            out[k] = {"estimate": v}
        return out
    at_fit = allocation.optimal(law, res.params, C)
    for k, s in allocation.from_bootstrap(boot, C).items():
        lo, hi = s.ci(level)
        scalar = np.ndim(at_fit[k]) == 0  # the exponents a, b (one per replicate, not per budget)
        est, se = (s.estimate[0], s.se[0]) if scalar else (s.estimate, s.se)
        ci = [lo[0], hi[0]] if scalar else np.stack([lo, hi], axis=-1)
        out[k] = {"estimate": est, "se": se, "ci": ci}
    return out


# ---- figures ---------------------------------------------------------------------------------
def figure(name: str, path: str, *args: Any, **kw: Any) -> str | None:
    """Draw :func:`jaxlaws.plot.<name>` to ``path`` and close it; the path."""
    from jaxlaws import plot

    fig = getattr(plot, name)(*args, path=path, **kw)
    if fig is not None:
        import matplotlib.pyplot as plt

        plt.close(fig)
    return path


# ---- the report folder -----------------------------------------------------------------------
def frontier_budgets(data: Any, budgets: Sequence[float] | None) -> np.ndarray:
    """Budgets to draw the compute-optimal frontier over: from the data's least compute
    (6 N D) to the largest budget asked for, 60 points evenly in log C."""
    c = 6.0 * np.asarray(data.inputs["N"]) * np.asarray(data.inputs["D"])
    hi = max(float(np.max(c)), *(DEFAULT_BUDGETS if budgets is None else budgets))
    return np.geomspace(float(np.min(c)), hi, 60)


def write_fit(folder: str, report: dict[str, Any], res: Any, data: Any, boot: Any = None,
              budgets: Sequence[float] | None = None, level: float = 0.95) -> list[str]:
    """``folder/fit.json``, the figures of one fit and ``folder/summary.md``; the paths written."""
    os.makedirs(folder, exist_ok=True)
    write_json(os.path.join(folder, "fit.json"), report)
    figs = [("data_and_fit", "data and fit", (res, data), {}),
            ("residuals", "residuals", (res, data), {})]
    if boot is not None:
        figs.append(("bootstrap_pairs", "bootstrap replicates, pairs of parameters", (boot,), {"fit": res}))
    if res.law.allocation is not None and {"N", "D"} <= set(data.inputs):
        figs.append(("frontier", "compute-optimal frontier", (boot if boot is not None else res,
                                                              frontier_budgets(data, budgets)), {"level": level}))
    drawn = _draw(folder, figs)
    md = os.path.join(folder, "summary.md")
    with open(md, "w", encoding="utf-8") as fh:
        fh.write(summary_markdown(plain(report), drawn))
    return [os.path.join(folder, "fit.json"), *(os.path.join(folder, f) for f, _ in drawn), md]


def write_groups(folder: str, report: dict[str, Any], gf: Any, data: Any) -> list[str]:
    """``folder/fit.json``, the per-group figure and ``folder/summary.md``; the paths written."""
    os.makedirs(folder, exist_ok=True)
    write_json(os.path.join(folder, "fit.json"), report)
    drawn = _draw(folder, [("groups", "every group's fit", (gf, data), {})])
    md = os.path.join(folder, "summary.md")
    with open(md, "w", encoding="utf-8") as fh:
        fh.write(groups_markdown(plain(report), drawn))
    return [os.path.join(folder, "fit.json"), *(os.path.join(folder, f) for f, _ in drawn), md]


def _draw(folder: str, figs: list[tuple[str, str, tuple, dict]]) -> list[tuple[str, str]]:
    """(file name, caption) of each figure drawn."""
    drawn = []
    for name, caption, args, kw in figs:
        fn = f"{name}.png"
        if figure(name, os.path.join(folder, fn), *args, **kw) is not None:
            drawn.append((fn, caption))
    return drawn


def budget(c: float) -> str:
    """A compute budget as written: ``1e21``, ``5.8e23``."""
    return f"{c:.2g}".replace("e+", "e")


def _g(x: Any, fmt: str = ".6g") -> str:
    return "—" if x is None else format(x, fmt)


def _header(rep: dict[str, Any]) -> list[str]:
    d, v = rep.get("data", {}), rep.get("versions", {})
    src = f"bundled dataset `{d.get('name')}`" if d.get("source") == "bundled" else f"file `{d.get('path')}`"
    cols = d.get("columns", {})
    mapping = ", ".join(f"{k} ← `{c}`" for k, c in cols.get("inputs", {}).items())
    target = f"; target `{cols['y']}`" if cols.get("y") else ""
    group = f"; groups `{cols['group']}`" if cols.get("group") else ""
    procs = rep.get("processes", 1)
    where = f"{rep.get('devices')} {rep.get('device_kind')} device(s)" + (f" in {procs} processes" if procs != 1 else "")
    return [
        f"- data: {src}, {rep.get('n_points')} points; inputs {mapping}{target}{group}",
        f"- loss `{rep.get('loss', '')}`, solver {rep.get('solver', '')}, starts {rep.get('starts')} "
        f"({rep.get('n_starts', '—')} lanes), seed {rep.get('seed')}",
        f"- jaxlaws {v.get('jaxlaws')}, jax {v.get('jax')}; {where}; "
        f"{_g(rep.get('timing', {}).get('wall_s'), '.2f')} s",
    ]


def summary_markdown(rep: dict[str, Any], figures: list[tuple[str, str]]) -> str:
    """A short markdown summary of one fit's JSON report (``plain`` values) and its figures."""
    lines = [f"# {rep['law']} on {rep.get('data', {}).get('name', '')}", "", *_header(rep),
             f"- objective {_g(rep.get('objective'), '.10g')}; AIC {_g(rep.get('aic'))}, BIC {_g(rep.get('bic'))}",
             ""]
    boot = rep.get("bootstrap")
    at_bound = rep.get("diagnostics", {}).get("at_bound", {})
    lines += ["## Parameters", ""]
    head = "| parameter | value | SE |"
    rule = "|---|---|---|"
    if boot:
        level = f"{boot['level']:.0%}"
        head += f" bootstrap SE | {level} {boot['method']} interval |"
        rule += "---|---|"
    lines += [head + " note |", rule + "---|"]
    for k, val in rep["params"].items():
        row = f"| {k} | {_g(val, '.7g')} | {_g(rep.get('se', {}).get(k), '.4g')} |"
        if boot:
            lo, hi = boot["ci"].get(k, [None, None])
            row += f" {_g(boot['se'].get(k), '.4g')} | [{_g(lo)}, {_g(hi)}] |"
        note = f"at {at_bound[k]} bound" if k in at_bound else ""
        lines.append(row + f" {note} |")
    lines += ["", f"Standard errors: {rep.get('diagnostics', {}).get('covariance', '')}.", ""]
    lines += ["## Lanes", "", "| status | fit lanes |" + (" bootstrap lanes |" if boot else ""),
              "|---|---|" + ("---|" if boot else "")]
    names = list(rep.get("status_counts", {}))
    for k in (boot or {}).get("status_counts", {}):
        if k not in names:
            names.append(k)
    for k in names:
        row = f"| {k} | {rep.get('status_counts', {}).get(k, 0)} |"
        if boot:
            row += f" {boot['status_counts'].get(k, 0)} |"
        lines.append(row)
    lines.append("")
    lines.append(f"Best lane: {rep.get('best_status')}; {rep.get('n_best')} of {rep.get('n_starts')} starts reached "
                 f"the best objective; {rep.get('n_basins')} distinct basins.")
    if boot:
        lines.append(f"Bootstrap ({boot['scheme']}): {boot['n']} resamples, {boot['n_failed']} failed, "
                     f"{boot['n_unconverged']} unconverged, {boot['n_used']} used.")
    lines += ["", "## Warnings", ""]
    lines += [f"- {w}" for w in rep.get("warnings", [])] or ["None."]
    opt = rep.get("derived", {}).get("compute_optimal")
    if opt:
        lines += ["", "## Compute-optimal allocation", "",
                  f"Under {opt['compute_model']} ({opt['method']})"
                  + (f"; {opt['level']:.0%} percentile intervals from the bootstrap." if opt.get("level") else "."), "",
                  "| C (FLOPs) | N_opt | D_opt | tokens per parameter |", "|---|---|---|---|"]
        for i, c in enumerate(opt["C"]):
            cells = []
            for k in ("N_opt", "D_opt", "tokens_per_param"):
                q = opt[k]
                cell = _g(q["estimate"][i], ".4g")
                if "ci" in q:
                    cell += f" [{_g(q['ci'][i][0], '.3g')}, {_g(q['ci'][i][1], '.3g')}]"
                cells.append(cell)
            lines.append(f"| {budget(c)} | " + " | ".join(cells) + " |")
        if "a" in opt:
            ab = ", ".join(f"{k} = {_g(opt[k]['estimate'], '.4f')}" + (
                f" [{_g(opt[k]['ci'][0], '.4f')}, {_g(opt[k]['ci'][1], '.4f')}]" if "ci" in opt[k] else "")
                for k in ("a", "b"))
            lines += ["", f"Exponents N_opt ∝ C^a, D_opt ∝ C^b: {ab}."]
    lines += _figures(figures)
    return "\n".join(lines) + "\n"


def groups_markdown(rep: dict[str, Any], figures: list[tuple[str, str]]) -> str:
    """A short markdown summary of a per-group fit's JSON report and its figures."""
    names = list(rep["groups"][0]["params"]) if rep["groups"] else []
    lines = [f"# {rep['law']} on {rep.get('data', {}).get('name', '')}, {rep['n_groups']} groups fitted separately",
             "", *_header(rep), f"- objective summed over groups {_g(rep.get('objective'), '.10g')}", "",
             "## Groups", "", "| group | " + " | ".join(names) + " | objective | status |",
             "|---|" + "---|" * (len(names) + 2)]
    for g in rep["groups"]:
        se = g.get("se") or {}
        cells = [f"{_g(g['params'][k])} ± {_g(se.get(k), '.3g')}" if se else _g(g["params"][k]) for k in names]
        lines.append(f"| {g['group']} | " + " | ".join(cells) + f" | {_g(g['objective'])} | {g['status']} |")
    lines += ["", "Values ± standard errors at each group's best fit.", "", "## Status", ""]
    lines += [f"- {k}: {v} groups" for k, v in rep.get("status_counts", {}).items()]
    lines += ["", "## Warnings", ""]
    lines += [f"- {w}" for w in rep.get("warnings", [])] or ["None."]
    lines += _figures(figures)
    return "\n".join(lines) + "\n"


def _figures(figures: list[tuple[str, str]]) -> list[str]:
    if not figures:
        return []
    out = ["", "## Figures", ""]
    for fn, caption in figures:
        out += [f"[![{caption}]({fn})]({fn})", "", f"*{caption}* ([{fn}]({fn}))", ""]
    return out
