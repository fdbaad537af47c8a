"""Backtests: fit on the points below a cutoff, predict the points above it, and check the
intervals against what the held-out points did.

For cutoffs ``c`` along an input ``x`` (compute ``C`` by default; ``6 N D`` where a dataset has
N and D but no C; any named input otherwise), a *fit* is one group's points (every point when
the data are not grouped) with ``x < c``; its held-out points are the group's points with
``x > c``. Everything runs as lanes of **one** engine call:

* fit lanes: every start of ``starts`` on each fit's weight row (the data's weights below the
  cutoff, zero above): the best lane is the fit;
* resample lanes: ``n`` pairs resamples of each fit's points (multinomial counts over the points
  below its cutoff, zero above), each refitted from ``resample_starts`` sampled starts (the
  fit's own optimum is not known before the call; Latin-hypercube starts cover the start box
  the way the law's grid does, and the best of them is the resample's refit).

From each fit and its resamples, at every held-out point: the fit's prediction, the confidence
band of the mean (percentile of the replicates) and the prediction interval of a new observation
(replicates plus the fit's residuals, resampled in the loss's space: see
:mod:`jaxlaws.analysis.predict`), both at ``level``. A resample enters only if its best lane
converged (as in :func:`jaxlaws.bootstrap`).

Metrics per held-out point, summarised by group, cutoff and *extrapolation distance*
``d = log10(x / c)`` (decades beyond the cutoff), binned by ``bins``:

* signed relative error ``(prediction - y) / |y|`` (mean) and absolute relative error (mean);
* NMSE: ``(y - prediction)^2 / Var_f``, averaged, with ``Var_f`` the population variance of the
  held-out targets of the point's own fit: over one fit's held-out points it is exactly
  SLDBench's NMSE (:func:`jaxlaws.analysis.compare.metrics`); NaN for a fit with one held-out point;
* coverage: the share of held-out points inside the prediction interval (the nominal claim);
  ``band_coverage``, the share inside the band of the mean, shows how much of the interval is
  parameter uncertainty and how much noise.

Held-out points of one fit share its errors, so their hits are not independent trials: read a
coverage over ``n`` points against ``sqrt(level (1 - level) / n)`` as a floor on its error, not
its size.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import time
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlaws import engine, starts as starts_mod
from jaxlaws.analysis.predict import add_noise, draws_per_replicate, noise_pool
from jaxlaws.datasets import Dataset
from jaxlaws.errors import JaxlawsError
from jaxlaws.intervals import Samples, check_level
from jaxlaws.law import Law
from jaxlaws.problem import Batch, Problem, make_problem
from jaxlaws.solvers import Status, get as get_solver

DEFAULT_FRACTIONS = (0.5, 0.6, 0.7, 0.8)
DEFAULT_BINS = (0.0, 0.25, 0.5, 1.0, 2.0)
DERIVED_C = "C=6ND"


@dataclasses.dataclass(frozen=True)
class CutoffFit:
    """One fit of a backtest: a group's points below a cutoff.

    Attributes:
      group: the group's label (None for ungrouped data).
      cutoff: the cutoff along the backtest's input (train: below, held out: above).
      n_train, n_test: points fitted and held out.
      train_max: the largest input value fitted.
      params: name -> value (natural units, every parameter) of the fit.
      objective: its summed loss; status: its best lane's :class:`~jaxlaws.Status` label.
      n_resamples, n_used: resamples run, and those that converged and enter the intervals.
    """

    group: Any
    cutoff: float
    n_train: int
    n_test: int
    train_max: float
    params: dict[str, float]
    objective: float
    status: str
    n_resamples: int
    n_used: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"group": _label(self.group)}


@dataclasses.dataclass(frozen=True)
class Backtest:
    """Every held-out point of every fit (arrays ``[T]``, concatenated over fits) and the fits.

    Attributes:
      law, data, loss: what was fitted (``data`` is the dataset's name).
      along: the input the cutoffs are on (``"C=6ND"`` when derived).
      level: the level of both intervals.
      bins: extrapolation-distance bin edges in decades (the last bin is open).
      fits: one :class:`CutoffFit` per fit.
      skipped: ``(group, cutoff, reason)`` of cutoffs that could not be fitted.
      fit, index: each held-out point's fit (index into ``fits``) and row in the data.
      distance: decades beyond its fit's cutoff, ``log10(x / cutoff)``.
      y, estimate: its target and the fit's prediction (natural units).
      lo, hi: the confidence band of the mean; obs_lo, obs_hi: the prediction interval.
      n_lanes, n_engine_calls: lanes solved, engine calls made (one).
      timing: ``{"compile_s", "run_s", "total_s"}``; device: where it ran.
    """

    law: Law
    data: str
    loss: str
    along: str
    level: float
    bins: tuple[float, ...]
    fits: tuple[CutoffFit, ...]
    skipped: tuple[tuple[Any, float, str], ...]
    fit: np.ndarray
    index: np.ndarray
    distance: np.ndarray
    y: np.ndarray
    estimate: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    obs_lo: np.ndarray
    obs_hi: np.ndarray
    n_lanes: int
    n_engine_calls: int
    timing: dict[str, float]
    device: str

    # ---- per point -------------------------------------------------------------------------
    @property
    def signed_rel_error(self) -> np.ndarray:
        return (self.estimate - self.y) / np.abs(self.y)

    @property
    def abs_rel_error(self) -> np.ndarray:
        return np.abs(self.signed_rel_error)

    @property
    def covered(self) -> np.ndarray:
        """Held-out points inside the prediction interval."""
        return (self.obs_lo <= self.y) & (self.y <= self.obs_hi)

    @property
    def in_band(self) -> np.ndarray:
        """Held-out points inside the confidence band of the mean."""
        return (self.lo <= self.y) & (self.y <= self.hi)

    @property
    def normalised_sq_error(self) -> np.ndarray:
        """``(y - prediction)^2 / Var_f`` (see the module docstring)."""
        var = np.full(len(self.fits), np.nan)
        for f in range(len(self.fits)):
            yf = self.y[self.fit == f]
            v = np.var(yf) if len(yf) > 1 else 0.0
            var[f] = v if v > 0 else np.nan
        return (self.y - self.estimate) ** 2 / var[self.fit]

    @property
    def bin_index(self) -> np.ndarray:
        return np.searchsorted(np.asarray(self.bins), self.distance, side="right") - 1

    def bin_labels(self) -> list[str]:
        e = list(self.bins)
        return [f"{e[i]:g}-{e[i + 1]:g}" for i in range(len(e) - 1)] + [f"{e[-1]:g}+"]

    # ---- summaries -------------------------------------------------------------------------
    def rows(self, by: Sequence[str] = ("bin",)) -> list[dict[str, Any]]:
        """Summaries of the held-out points grouped by any of ``"group"``, ``"cutoff"`` (the fit's
        cutoff index, per group) and ``"bin"`` (extrapolation distance), in that order; the
        other keys pooled. Each row: the keys, ``n``, ``signed_rel_error``, ``abs_rel_error``,
        ``nmse``, ``coverage``, ``band_coverage`` and ``max_distance``."""
        by = tuple(by)
        bad = [k for k in by if k not in ("group", "cutoff", "bin")]
        if bad:
            raise JaxlawsError(f"rows(by=...) takes 'group', 'cutoff' and 'bin', got {bad}")
        groups = np.array([_label(f.group) for f in self.fits], dtype=object)
        rank = _cutoff_rank(self.fits)
        keys = {"group": groups[self.fit], "cutoff": rank[self.fit], "bin": self.bin_index}
        labels = self.bin_labels()
        cols = [keys[k] for k in ("group", "cutoff", "bin") if k in by]
        combos = sorted({tuple(c[i] for c in cols) for i in range(len(self.y))}, key=_sort_key)
        names = [k for k in ("group", "cutoff", "bin") if k in by]
        sq = self.normalised_sq_error
        out = []
        for combo in combos:
            m = np.ones(len(self.y), bool)
            for c, v in zip(cols, combo):
                m &= c == v
            row: dict[str, Any] = {}
            for k, v in zip(names, combo):
                if k == "bin":
                    row["bin"] = labels[int(v)]
                elif k == "cutoff":
                    row["cutoff"] = int(v)
                    cuts = sorted({self.fits[f].cutoff for f in np.unique(self.fit[m])})
                    row["cutoff_value"] = cuts[0] if len(cuts) == 1 else None
                else:
                    row["group"] = v
            row.update(_summary(self, m, sq))
            out.append(row)
        return out

    def table(self, by: Sequence[str] = ("bin",)) -> str:
        """:meth:`rows` as a markdown table."""
        rows = self.rows(by)
        keys = [k for k in ("group", "cutoff", "cutoff_value", "bin") if rows and k in rows[0]]
        head = keys + ["n", "max decades", "signed rel err", "abs rel err", "NMSE",
                       f"coverage ({self.level:.0%} PI)", f"in {self.level:.0%} band"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in rows:
            vals = [(_num(r[k]) if k == "cutoff_value" else str(r[k])) for k in keys]
            vals += [str(r["n"]), f"{r['max_distance']:.2f}", f"{r['signed_rel_error']:+.4f}",
                     f"{r['abs_rel_error']:.4f}", _num(r["nmse"]), f"{r['coverage']:.3f}", f"{r['band_coverage']:.3f}"]
            lines.append("| " + " | ".join(vals) + " |")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the settings, every fit, and rows by bin, by cutoff and bin, by group and
        bin (grouped data)."""
        grouped = any(f.group is not None for f in self.fits)
        out = {
            "law": self.law.name, "data": self.data, "loss": self.loss, "along": self.along, "level": self.level,
            "bins": list(self.bins), "fits": [f.to_dict() for f in self.fits],
            "skipped": [{"group": _label(g), "cutoff": c, "reason": r} for g, c, r in self.skipped],
            "n_held_out": int(len(self.y)), "n_lanes": self.n_lanes, "n_engine_calls": self.n_engine_calls,
            "by_bin": self.rows(("bin",)), "by_cutoff": self.rows(("cutoff",)),
            "by_cutoff_and_bin": self.rows(("cutoff", "bin")),
            "timing": dict(self.timing), "device": self.device,
        }
        if grouped:
            out["by_group"] = self.rows(("group",))
            out["by_group_and_bin"] = self.rows(("group", "bin"))
        return out

    def format(self) -> str:
        head = (f"backtest of {self.law.name} on {self.data} ({self.loss}) along {self.along}: {len(self.fits)} fits, "
                f"{len(self.y)} held-out points, {self.n_lanes} lanes in {self.n_engine_calls} engine call "
                f"({self.timing['total_s']:.2f} s)")
        parts = [head, "", self.table(("bin",)), "", self.table(("cutoff",))]
        if self.skipped:
            parts += [""] + [f"skipped: group {_label(g)}, cutoff {c:.4g}: {r}" for g, c, r in self.skipped]
        return "\n".join(parts)


def _label(g: Any) -> Any:
    if g is None:
        return None
    return g.item() if hasattr(g, "item") else g


def _sort_key(t: tuple[Any, ...]) -> tuple[Any, ...]:
    """Numbers in order, then labels by their text (group labels may be numbers, text or None)."""
    return tuple((0, float(v), "") if isinstance(v, (int, float, np.integer, np.floating)) else (1, 0.0, str(v))
                 for v in t)


def _num(v: Any) -> str:
    return "" if v is None or not np.isfinite(v) else f"{v:.4g}"


def _cutoff_rank(fits: Sequence[CutoffFit]) -> np.ndarray:
    """Each fit's cutoff index within its group (0 = the earliest)."""
    rank = np.zeros(len(fits), np.int64)
    seen: dict[Any, int] = {}
    for i, f in enumerate(fits):  # fits are in order of cutoff within each group
        key = _label(f.group)
        rank[i] = seen.get(key, 0)
        seen[key] = rank[i] + 1
    return rank


def _summary(bt: Backtest, m: np.ndarray, sq: np.ndarray) -> dict[str, Any]:
    n = int(m.sum())
    with np.errstate(invalid="ignore"):
        nmse = float(np.mean(sq[m])) if n and np.all(np.isfinite(sq[m])) else float("nan")
    return {"n": n, "max_distance": float(bt.distance[m].max()), "signed_rel_error": float(bt.signed_rel_error[m].mean()),
            "abs_rel_error": float(bt.abs_rel_error[m].mean()), "nmse": nmse,
            "coverage": float(bt.covered[m].mean()), "band_coverage": float(bt.in_band[m].mean())}


# ---- the computation -------------------------------------------------------------------------

def along_values(data: Dataset, along: str | None) -> tuple[str, np.ndarray]:
    """``(name, values [n])`` of the input the cutoffs are on (see the module docstring)."""
    inputs = data.inputs
    if along is None:
        if "C" in inputs:
            along = "C"
        elif "N" in inputs and "D" in inputs:
            along = DERIVED_C
        else:
            raise JaxlawsError(f"dataset {data.name!r} has no compute C (nor N and D): pass along= one of its inputs "
                               f"{sorted(inputs)}")
    if along in (DERIVED_C, "C") and "C" not in inputs:
        if not ("N" in inputs and "D" in inputs):
            raise JaxlawsError(f"dataset {data.name!r} has no C and no N and D to compute it from; inputs are {sorted(inputs)}")
        name, v = DERIVED_C, 6.0 * inputs["N"] * inputs["D"]
    elif along in inputs:
        name, v = along, inputs[along]
    else:
        raise JaxlawsError(f"dataset {data.name!r} has no input {along!r}; inputs are {sorted(inputs)}")
    if not np.all(v > 0):
        raise JaxlawsError(f"input {name!r} must be positive for a backtest (distances are in decades)")
    return name, np.asarray(v, np.float64)


def fraction_cutoff(values: np.ndarray, q: float) -> float | None:
    """The cutoff below which a share ``q`` of ``values`` lies (rounded up to whole distinct
    values), placed at the geometric midpoint to the next distinct value; None if no value
    would be held out."""
    u, counts = np.unique(values, return_counts=True)
    j = int(np.searchsorted(np.cumsum(counts), q * len(values) - 1e-9))
    return None if j >= len(u) - 1 else float(np.sqrt(u[j] * u[j + 1]))


def _plan(prob: Problem, x: np.ndarray, labels: np.ndarray | None, cutoffs: Any, fractions: Any
          ) -> tuple[list[tuple[Any, float, np.ndarray, np.ndarray]], list[tuple[Any, float, str]]]:
    """Fits ``(group, cutoff, train [n] bool, test [n] bool)`` in group then cutoff order, and the
    cutoffs skipped with the reason."""
    usable = prob.weights.reshape(prob.n_points, -1)[:, 0] > 0
    P = prob.law.n_params
    if labels is None:
        groups: list[tuple[Any, np.ndarray]] = [(None, usable)]
    else:
        groups = [(g, usable & (labels == g)) for g in np.unique(labels)]
    fits, skipped = [], []
    for g, member in groups:
        if cutoffs is not None:
            cuts = sorted(set(cutoffs))
        else:
            found = (fraction_cutoff(x[member], q) for q in fractions) if member.any() else ()
            cuts = sorted({c for c in found if c is not None})
        for c in cuts:
            train, test = member & (x < c), member & (x > c)
            if train.sum() <= P:
                skipped.append((g, c, f"{int(train.sum())} points below the cutoff for {P} free parameters"))
            elif not test.any():
                skipped.append((g, c, "no point above the cutoff"))
            else:
                fits.append((g, c, train, test))
    return fits, skipped


@functools.lru_cache(maxsize=32)
def _predictor(law: Law) -> Any:
    """``(thetas [R, P], X) -> [R, n]`` jitted once per law (the inputs are an argument)."""
    return jax.jit(jax.vmap(lambda t, X: jnp.reshape(law.predict_internal(t, X), (-1,)), in_axes=(0, None)))


def _predictions(law: Law, X: dict[str, np.ndarray], thetas: np.ndarray) -> np.ndarray:
    """``[R, n]`` natural predictions at every point for internal ``thetas [R, P]`` (float64)."""
    with jax.enable_x64(True):
        Xj = {k: jnp.asarray(v, jnp.float64) for k, v in X.items()}
        return np.asarray(_predictor(law)(jnp.asarray(thetas, jnp.float64), Xj))


def backtest(
    law: Any,
    data: Any,
    loss: Any = "huber-log:1e-3",
    along: str | None = None,
    cutoffs: Sequence[float] | None = None,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    n: int = 200,
    level: float = 0.9,
    starts: Any = "grid",
    resample_starts: Any = 8,
    bins: Sequence[float] = DEFAULT_BINS,
    groups: Any = None,
    seed: int = 0,
    solver: Any = "lm",
    weights: Any = None,
    *,
    chunk: int | None = None,
    precision: str = "mixed",
    dtype: Any = None,
    **solver_options: Any,
) -> Backtest:
    """Backtest ``law`` on ``data``: fit below each cutoff, predict above it (one engine call).

    Args:
      law, data, loss, solver, weights, precision, chunk, dtype: as for :func:`jaxlaws.fit`.
      along: the input the cutoffs are on (default: ``C``, else ``6 N D``; ``"C=6ND"`` asks
        for the latter explicitly).
      cutoffs: cutoff values along that input (the same for every group), or None for
        ``fractions``: cutoffs below which those shares of each group's points lie.
      n: pairs resamples per fit (>= 2).
      level: the level of the band and of the prediction interval.
      starts: the fits' starts (``"grid"``, a count, or explicit; a law without a grid gets
        256 sampled starts, as :func:`jaxlaws.fit`).
      resample_starts: each resample's starts (a count of Latin-hypercube starts, or any spec).
      bins: extrapolation-distance bin edges in decades, increasing from 0.
      groups: ``[n_points]`` labels of groups fitted separately (default: the dataset's);
        ``False`` fits every point together.
      seed: seeds the resamples, the sampled starts and the noise draws.
    """
    t_start = time.perf_counter()
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise JaxlawsError(f"a backtest needs n >= 2 resamples per cutoff, got {n!r}")
    level = check_level(level)
    prob = make_problem(law, data, loss, weights)
    law, data = prob.law, prob.data
    if law.n_outputs != 1:
        raise JaxlawsError(f"backtests take single-output laws; {law.name!r} has {law.n_outputs} outputs")
    if law.n_params == 0:
        raise JaxlawsError(f"law {law.name!r} has no free parameter: there is nothing to fit below a cutoff")
    name, x = along_values(data, along)
    edges = np.asarray(bins, np.float64)
    if edges.ndim != 1 or len(edges) < 1 or edges[0] != 0 or np.any(np.diff(edges) <= 0):
        raise JaxlawsError(f"bins must be increasing edges in decades starting at 0, got {list(bins)}")
    if cutoffs is not None:
        cutoffs = [float(c) for c in np.atleast_1d(np.asarray(cutoffs, np.float64))]
        if not cutoffs or not all(np.isfinite(c) and c > 0 for c in cutoffs):
            raise JaxlawsError("cutoffs must be positive, finite values of the backtest's input")
    elif not fractions or not all(0.0 < float(q) < 1.0 for q in fractions):
        raise JaxlawsError(f"fractions must be shares in (0, 1), got {list(fractions)}")
    labels = None
    if groups is not False:
        labels = data.groups if groups is None else np.asarray(groups)
        if labels is not None and np.shape(labels) != (prob.n_points,):
            raise JaxlawsError(f"groups have shape {np.shape(labels)}, data has {prob.n_points} points")
    plan, skipped = _plan(prob, x, labels, cutoffs, fractions)
    if not plan:
        reasons = "; ".join(f"cutoff {c:.4g}: {r}" for _, c, r in skipped[:3]) or "no cutoff"
        raise JaxlawsError(f"no cutoff leaves enough points to fit and some to hold out ({reasons})")
    if starts_mod.is_grid(starts) and any(p.grid is None for p in law.params.values()):
        starts = 256
    theta_fit = starts_mod.make(law, starts, seed=seed)
    theta_res = starts_mod.make(law, resample_starts, seed=seed + 1)
    slv = get_solver(solver, **solver_options)
    options = engine.Options.make(precision, dtype, chunk)

    # ---- one batch: F fit rows, then F * n resample rows -----------------------------------
    F, B, S, R = len(plan), int(n), len(theta_fit), len(theta_res)
    rng = np.random.default_rng(seed)
    point_w = np.zeros((F + F * B, prob.n_points))
    for f, (_, _, train, _) in enumerate(plan):
        point_w[f] = train
        idx = np.flatnonzero(train)
        point_w[F + f * B:F + (f + 1) * B][:, idx] = rng.multinomial(len(idx), np.full(len(idx), 1.0 / len(idx)), size=B)
    rows = prob.residual_weights(point_w) * prob.weights[None]
    fit_rows = np.repeat(np.arange(F), S)
    res_rows = F + np.repeat(np.arange(F * B), R)
    lane_rows = np.concatenate([fit_rows, res_rows]).astype(np.int32)
    theta0 = np.concatenate([np.tile(theta_fit, (F, 1)), np.tile(theta_res, (F * B, 1))])
    batch = Batch(prob, theta0, prob.obs[None], rows, np.zeros(len(lane_rows), np.int32), lane_rows, lane_rows)
    lanes = engine.solve(batch, slv, options)
    best, failed = lanes.pick(batch.fit_index, F + F * B)
    usable = lanes.converged[best] & ~failed

    # ---- predictions, bands and intervals at the held-out points ---------------------------
    pred = _predictions(law, prob.inputs, lanes.theta[best])
    fits, keep_skipped = [], list(skipped)
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("fit", "index", "distance", "estimate", "lo", "hi",
                                                          "obs_lo", "obs_hi")}
    for f, (g, c, train, test) in enumerate(plan):
        if failed[f]:
            keep_skipped.append((g, c, "every start failed (the objective is not finite at any start)"))
            continue
        reps = F + f * B + np.flatnonzero(usable[F + f * B:F + (f + 1) * B])
        if len(reps) < 2:
            keep_skipped.append((g, c, f"{len(reps)} of {B} resamples converged: no interval"))
            continue
        ti = np.flatnonzero(test)
        est = pred[f, ti]
        rep = pred[reps][:, ti]
        lo, hi = Samples(est, rep).ci(level, "percentile")
        pool = noise_pool(prob, lanes.theta[best[f]], rows[f])
        obs = add_noise(rep, pool, prob.loss.log_space, rng, draws_per_replicate(len(reps)))
        olo, ohi = Samples(est, obs).ci(level, "percentile")
        k = len(fits)
        for key, v in (("fit", np.full(len(ti), k)), ("index", ti), ("distance", np.log10(x[ti] / c)),
                       ("estimate", est), ("lo", lo), ("hi", hi), ("obs_lo", olo), ("obs_hi", ohi)):
            cols[key].append(np.asarray(v))
        fits.append(CutoffFit(
            group=g, cutoff=c, n_train=int(train.sum()), n_test=len(ti), train_max=float(x[train].max()),
            params=law.values(law.to_natural(lanes.theta[best[f]])), objective=float(lanes.value[best[f]]),
            status=Status(int(lanes.status[best[f]])).label, n_resamples=B, n_used=len(reps)))
    if not fits:
        raise JaxlawsError("no cutoff could be fitted: " + "; ".join(r for _, _, r in keep_skipped[:3]))
    out = {k: np.concatenate(v) for k, v in cols.items()}
    return Backtest(
        law=law, data=data.name, loss=prob.loss.spec, along=name, level=level, bins=tuple(float(e) for e in edges),
        fits=tuple(fits), skipped=tuple(keep_skipped), fit=out["fit"].astype(np.int64),
        index=out["index"].astype(np.int64), distance=out["distance"], y=data.y[out["index"]],
        estimate=out["estimate"], lo=out["lo"], hi=out["hi"], obs_lo=out["obs_lo"], obs_hi=out["obs_hi"],
        n_lanes=batch.n_lanes, n_engine_calls=1,
        timing={"compile_s": lanes.compile_s, "run_s": lanes.run_s, "total_s": time.perf_counter() - t_start},
        device=engine.device_name(),
    )


# ---- the figure ------------------------------------------------------------------------------

def plot(bt: Backtest, *, path: Any = None) -> Any:
    """Error and coverage against extrapolation distance: signed relative error of every held-out
    point (one colour per cutoff) with each bin's mean absolute error, and each bin's coverage of
    the prediction interval (and of the band) against the nominal level, with the binomial
    +-2 sd of ``n`` independent points. Returns the figure; saves it to ``path`` if given."""
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    palette = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#000000", "#F0E442")
    rank = _cutoff_rank(bt.fits)
    for r in range(int(rank.max()) + 1):
        m = rank[bt.fit] == r
        cuts = sorted({bt.fits[f].cutoff for f in np.unique(bt.fit[m])})
        name = f"cutoff {r + 1}" + (f" ({bt.along} < {cuts[0]:.3g})" if len(cuts) == 1 else "")
        ax1.scatter(bt.distance[m], bt.signed_rel_error[m], s=12, alpha=0.6, color=palette[r % len(palette)], label=name)
    rows = bt.rows(("bin",))
    labels = bt.bin_labels()
    centre = {lab: np.median(bt.distance[bt.bin_index == i]) for i, lab in enumerate(labels) if np.any(bt.bin_index == i)}
    xs = [centre[r["bin"]] for r in rows]
    ax1.plot(xs, [r["abs_rel_error"] for r in rows], "k-o", label="mean |relative error| per bin")
    ax1.axhline(0.0, color="0.5", lw=0.8)
    ax1.set_xlabel(f"extrapolation distance (decades of {bt.along} beyond the cutoff)")
    ax1.set_ylabel("relative error (prediction - y) / |y|")
    ax1.legend(fontsize=8)
    ns = np.array([r["n"] for r in rows], float)
    sd = np.sqrt(bt.level * (1 - bt.level) / ns)
    ax2.fill_between(xs, bt.level - 2 * sd, np.minimum(bt.level + 2 * sd, 1.0), color="0.85",
                     label="nominal +- 2 binomial sd")
    ax2.axhline(bt.level, color="0.3", lw=1.0, ls="--", label=f"nominal {bt.level:.0%}")
    ax2.plot(xs, [r["coverage"] for r in rows], "-o", color=palette[0], label="prediction interval (new observation)")
    ax2.plot(xs, [r["band_coverage"] for r in rows], "-s", color=palette[1], label="band of the mean")
    ax2.set_ylim(-0.02, 1.02)
    ax2.set_xlabel(f"extrapolation distance (decades of {bt.along} beyond the cutoff)")
    ax2.set_ylabel("share of held-out points covered")
    ax2.legend(fontsize=8, loc="lower left")
    fig.suptitle(f"backtest: {bt.law.name} on {bt.data} ({bt.loss}), {len(bt.fits)} fits, {len(bt.y)} held-out points")
    if path is not None:
        import os

        folder = os.path.dirname(os.path.abspath(os.fspath(path)))
        if not os.path.isdir(folder):
            raise JaxlawsError(f"cannot write {os.fspath(path)!r}: no such directory")
        fig.savefig(path, dpi=130)
    return fig


def _pyplot() -> Any:
    """pyplot, imported now; Agg selected first if nothing has chosen a backend (as jaxlaws.plot)."""
    import os
    import sys

    import matplotlib

    chosen = ("matplotlib.pyplot" in sys.modules or bool(os.environ.get("MPLBACKEND"))
              or matplotlib.rcParams._get_backend_or_none() is not None)
    if not chosen:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# ---- command line ------------------------------------------------------------------------------

def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``jaxlaws backtest`` arguments."""
    from jaxlaws.analysis import cliargs

    cliargs.add_data_arguments(p)
    p.add_argument("--along", default=None, help="input the cutoffs are on (default: C, else 6ND)")
    p.add_argument("--cutoffs", default=None, metavar="C1,C2,...", help="cutoff values along that input")
    p.add_argument("--fractions", default=",".join(f"{q:g}" for q in DEFAULT_FRACTIONS), metavar="Q1,Q2,...",
                   help="shares of each group's points below each cutoff (when --cutoffs is not given)")
    p.add_argument("--bootstrap", type=int, default=200, metavar="B", help="resamples per cutoff")
    p.add_argument("--level", type=float, default=0.9, help="level of the band and the prediction interval")
    p.add_argument("--resample-starts", type=int, default=8, metavar="R", help="sampled starts per resample")
    p.add_argument("--plot", default=None, metavar="OUT.png")


def run_cli(args: argparse.Namespace) -> int:
    """Run ``jaxlaws backtest``: print the tables, write ``--json`` / ``--plot``."""
    from jaxlaws.analysis import cliargs

    cliargs.check_writable(args.json, args.plot)
    data = cliargs.load_data(args)
    bt = backtest(args.law, data, loss=args.loss, along=args.along,
                  cutoffs=None if args.cutoffs is None else cliargs.floats(args.cutoffs, "--cutoffs"),
                  fractions=cliargs.floats(args.fractions, "--fractions"), n=args.bootstrap, level=args.level,
                  starts=cliargs.starts(args.starts), resample_starts=args.resample_starts, seed=args.seed,
                  solver=args.solver)
    print(bt.format())
    if args.plot:
        plot(bt, path=args.plot)
        print(f"plot written to {args.plot}")
    if args.json:
        cliargs.write_json(args.json, bt.to_dict())
        print(f"results written to {args.json}")
    return 0
