"""``bootstrap()``: refit a law on many resamples at once, and :class:`BootstrapResult`.

Every resample is a lane group in the same engine call as a multi-start fit:

* ``pairs``      — points drawn with replacement: a multinomial count vector
  per resample used as point weights, so all resamples share one shape;
* ``groups``     — whole groups drawn with replacement (block bootstrap);
* ``residual``   — fitted values plus residuals drawn with replacement
  (in the loss's space: log residuals for ``-log`` losses);
* ``parametric`` — fitted values plus Gaussian noise of the residuals' scale.

Each resample is started from the full-data best fit and from the next-best
*distinct* basins of the full-data multi-start, and keeps its best lane. A
resample whose best lane did not converge, or whose every lane failed, is
counted and left out of the summaries (``include_unconverged=True`` keeps
unconverged ones); the counts are in the result and its summary.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import warnings
import time
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlaws import basins, engine, estimate, resample, runs, starts as starts_mod
from jaxlaws.errors import JaxlawsError, JaxlawsWarning
from jaxlaws.fit import FitResult, fit as fit_fn, raced_label
from jaxlaws.intervals import Samples, check_level
from jaxlaws.law import Law
from jaxlaws.problem import Batch, Problem, make_problem
from jaxlaws.solvers import Solver, Status, get as get_solver

SCHEMES = resample.BOOTSTRAP_SCHEMES


def too_few(n: int, level: float, n_groups: int | None = None) -> str | None:
    """Why ``n`` resamples (of ``n_groups`` groups, for the groups scheme) cannot give a
    ``level`` percentile interval, or None: warned, not refused.

    A percentile interval's ends are the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles
    of the replicates; with fewer than one replicate beyond each end (``n (1 - level) / 2 < 1``)
    they are the extreme replicates, not those quantiles, and the interval is not at its level.
    ``G`` groups drawn whole with replacement give at most ``C(2G - 1, G)`` distinct resamples
    (3 for 2 groups, 10 for 3), so the same bound applies to that count. It is a warning, not a
    refusal: a few resamples still exercise the machinery (a quick check of a pipeline), and
    their standard errors, though rough, are not wrong.
    """
    need = math.ceil(2.0 / (1.0 - level) - 1e-9)
    if n_groups is not None and math.comb(2 * n_groups - 1, n_groups) < need:
        return (f"{n_groups} groups give only {math.comb(2 * n_groups - 1, n_groups)} distinct resamples; a "
                f"{level:.0%} interval needs at least {need}: use more groups or another scheme")
    if n < need:
        return (f"{n} resamples cannot give a {level:.0%} interval (its ends would be the extreme resamples); "
                f"use at least {need}")
    return None


def distinct_basins(res: FitResult, k: int, margin: float = 1.0) -> np.ndarray:
    """Internal-coordinate end points of the best lane and up to ``k`` more distinct basins of a
    full-data fit (converged lanes within ``(1 + margin)`` times the best objective; see
    :func:`jaxlaws.basins.distinct`): a basin far worse on the full data is not a plausible
    optimum of a resample and would only cost steps."""
    theta = res.law.to_internal(res.all_params)
    picked = basins.distinct(theta, res.all_objective, res.converged, res.best_index, k, margin)
    return theta[picked]


@dataclasses.dataclass(frozen=True)
class BootstrapResult:
    """Refits on ``n`` resamples.

    Attributes:
      law: the law.
      fit: the full-data :class:`FitResult`.
      scheme: resampling scheme.
      theta: ``[n, P]`` each resample's best point (internal coordinates, free parameters).
      params: ``[n, P]`` the same in natural units (``law.expand`` adds the fixed ones).
      objective, converged, failed: ``[n]`` for each resample's best lane.
      lane_objective, lane_status: ``[n, S]`` every lane (:class:`~jaxlaws.Status` codes).
      starts: ``[S, P]`` the natural-unit starts every resample used.
      jackknife: ``[n_points, P]`` natural leave-one-out fits (for BCa), or None.
      include_unconverged: whether unconverged resamples enter the summaries.
      timing: ``{"compile_s", "run_s"}`` of the resample refits.
      n_groups: the number of groups drawn (``scheme="groups"``), else None.
      devices, device_kind, processes: where the refits ran (see :class:`~jaxlaws.FitResult`).
      resamples_per_chunk: resamples per chunk of a chunked run (None: one batch, the
        in-memory default; see :func:`bootstrap`).
      strategy: how each resample's starts ran (``"all"``, ``"race"``, or a Race's ``repr``;
        see :class:`~jaxlaws.FitResult`): ``"auto"`` is recorded as what it resolved to.
    """

    law: Law
    fit: FitResult
    scheme: str
    theta: np.ndarray
    params: np.ndarray
    objective: np.ndarray
    converged: np.ndarray
    failed: np.ndarray
    lane_objective: np.ndarray
    lane_status: np.ndarray
    starts: np.ndarray
    jackknife: np.ndarray | None
    include_unconverged: bool
    timing: dict[str, float]
    n_groups: int | None = None
    devices: int = 1
    device_kind: str = ""
    processes: int = 1
    resamples_per_chunk: int | None = None
    strategy: str = "all"

    # ---- bookkeeping ---------------------------------------------------
    @property
    def lane_converged(self) -> np.ndarray:
        return Status.converged_mask(self.lane_status)

    @property
    def lane_failed(self) -> np.ndarray:
        return Status.failed_mask(self.lane_status)

    @property
    def status_counts(self) -> dict[str, int]:
        """Status name -> lanes (all resamples, all starts) that ended so."""
        return Status.counts(self.lane_status)

    @property
    def n(self) -> int:
        return int(self.objective.shape[0])

    @property
    def usable(self) -> np.ndarray:
        """``[n]`` bool: resamples that enter the summaries."""
        ok = ~self.failed
        return ok if self.include_unconverged else ok & self.converged

    @property
    def n_failed(self) -> int:
        """Resamples whose every lane failed."""
        return int(self.failed.sum())

    @property
    def n_unconverged(self) -> int:
        """Resamples whose best lane did not converge (stalled or at the step limit)."""
        return int((~self.failed & ~self.converged).sum())

    @property
    def n_used(self) -> int:
        return int(self.usable.sum())

    # ---- parameters ------------------------------------------------------
    # Summaries name every parameter in declared order; a fixed one is constant in every
    # resample (se 0, its interval the point).
    def _param_samples(self) -> Samples:
        jk = None if self.jackknife is None else self.law.expand(self.jackknife)
        est = np.array([self.fit.params[k] for k in self.law.order])
        return Samples(est, self.law.expand(self.params[self.usable]), jk)

    def samples(self, name: str) -> np.ndarray:
        """The usable replicates of parameter ``name`` (natural units)."""
        return self.law.expand(self.params[self.usable])[:, self._index(name)]

    def _index(self, name: str) -> int:
        if name not in self.law.order:
            raise JaxlawsError(f"law {self.law.name!r} has no parameter {name!r}; it has {list(self.law.order)}")
        return self.law.order.index(name)

    def _named(self, arr: np.ndarray) -> dict[str, float]:
        return {k: float(arr[i]) for i, k in enumerate(self.law.order)}

    @property
    def se(self) -> dict[str, float]:
        """Bootstrap standard error of each parameter (natural units; 0 for a fixed one, exactly:
        the spread of a constant column would be the rounding of its mean)."""
        return {**self._named(self._param_samples().se), **{k: 0.0 for k in self.law.held}}

    def cov(self, internal: bool = False) -> np.ndarray:
        """``[P, P]`` bootstrap covariance of the free parameters, natural (default) or internal
        coordinates."""
        x = self.theta[self.usable] if internal else self.params[self.usable]
        return np.cov(x, rowvar=False)

    def ci(self, level: float = 0.95, method: str = "percentile") -> dict[str, tuple[float, float]]:
        """name -> ``(lo, hi)`` at ``level`` by ``percentile``, ``basic`` or ``bca`` (a
        :class:`~jaxlaws.JaxlawsWarning` where too few resamples were used: :func:`too_few`)."""
        why = too_few(self.n_used, check_level(level), self.n_groups)
        if why is not None:
            warnings.warn(why, JaxlawsWarning, stacklevel=2)
        lo, hi = self._param_samples().ci(level, method)
        return {k: (float(lo[i]), float(hi[i])) for i, k in enumerate(self.law.order)}

    def quantiles(self, q: Any) -> dict[str, np.ndarray]:
        """name -> quantiles ``q`` of its replicates."""
        qs = self._param_samples().quantiles(q)
        return {k: np.asarray(qs[..., i]) for i, k in enumerate(self.law.order)}

    # ---- derived quantities ----------------------------------------------
    def derive(self, g: Callable[[Mapping[str, Any]], Any]) -> Samples:
        """Replicates of ``g(params)`` for any jax function ``g`` of the natural
        parameter mapping, returning a scalar or a 1-D array."""
        gv = jax.vmap(lambda t: g(self.law.as_dict(t)))

        def apply(rows: np.ndarray) -> np.ndarray:
            with jax.enable_x64(True):
                try:
                    out = np.asarray(gv(jnp.asarray(rows, jnp.float64)), np.float64)
                except (TypeError, ValueError) as e:
                    raise JaxlawsError(f"derived function failed on the parameters: {str(e).splitlines()[0]}") from None
            if out.ndim not in (1, 2) or out.shape[0] != rows.shape[0]:
                raise JaxlawsError(
                    f"a derived function must return a scalar or a 1-D array per parameter set, got shape {out.shape[1:]}"
                )
            return out

        est = apply(np.array([[self.fit.params[k] for k in self.law.params]]))[0]
        jk = None if self.jackknife is None else apply(self.jackknife)
        return Samples(est, apply(self.params[self.usable]), jk)

    # ---- reports -----------------------------------------------------------
    def summary(self, level: float = 0.95, method: str = "percentile") -> dict[str, Any]:
        """The JSON block: ``n``, ``n_failed``, ``n_unconverged``, ``level``, ``se``, ``ci``."""
        return {
            "n": self.n,
            "n_failed": self.n_failed,
            "n_unconverged": self.n_unconverged,
            "n_used": self.n_used,
            "scheme": self.scheme,
            "status_counts": self.status_counts,
            "level": check_level(level),
            "method": method,
            "se": self.se,
            "ci": {k: list(v) for k, v in self.ci(level, method).items()},
            "timing": dict(self.timing),
            "devices": self.devices,
            "device_kind": self.device_kind,
            "processes": self.processes,
            "resamples_per_chunk": self.resamples_per_chunk,
            "strategy": self.strategy,
        }

    def format(self, level: float = 0.95, method: str = "percentile") -> str:
        ci = self.ci(level, method)
        se = self.se
        raced = raced_label(self.strategy)
        lines = [f"bootstrap ({self.scheme}): {self.n} resamples, {self.n_failed} failed, "
                 f"{self.n_unconverged} unconverged, {self.n_used} used; {level:.0%} {method} intervals"
                 + ("" if raced is None else f"; starts {raced}")]
        for k in self.law.order:
            note = "  (fixed)" if k in self.law.held else ""
            lines.append(f"  {k:<10s} {self.fit.params[k]:<12.6g} se {se[k]:<10.4g} [{ci[k][0]:.6g}, {ci[k][1]:.6g}]{note}")
        return "\n".join(lines)


def _progress_bar(total: int, enabled: bool | None | Callable[[int, int], None]) -> Callable[[int, int], None] | None:
    if callable(enabled):
        return enabled
    if enabled is False or (enabled is None and not sys.stderr.isatty()):
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    bar = tqdm(total=total, desc="bootstrap lanes", unit="lane", leave=False)

    def update(done: int, _total: int) -> None:
        bar.update(done - bar.n)
        if done >= _total:
            bar.close()

    return update


def bootstrap(
    law: Any,
    data: Any,
    n: int = 1000,
    loss: Any = "huber-log:1e-3",
    seed: int = 0,
    scheme: str = "pairs",
    starts: Any = "basins",
    basins: int = 2,
    basin_margin: float = 1.0,
    solver: Any = "lm",
    fit: FitResult | None = None,
    groups: Any = None,
    weights: Any = None,
    jackknife: bool = False,
    include_unconverged: bool = False,
    progress: bool | None | Callable[[int, int], None] = None,
    *,
    chunk: int | None = None,
    precision: str = "float64",
    dtype: Any = None,
    devices: int | None = None,
    run_dir: str | None = None,
    resamples_per_chunk: int | None = None,
    strategy: Any = "auto",
    **solver_options: Any,
) -> BootstrapResult:
    """Refit ``law`` on ``n`` resamples of ``data`` in one batched computation.

    Args:
      law, data, loss, solver, weights: as for :func:`jaxlaws.fit`.
      n: number of resamples (>= 2).
      seed: seeds the resampling (numpy's RNG) and any sampled starts.
      scheme: ``pairs`` | ``residual`` | ``parametric`` | ``groups``.
      starts: ``"basins"`` (the full-data best fit and ``basins`` more distinct
        basins) or any starts spec of :func:`jaxlaws.fit`, used for every resample.
      basins: how many extra distinct basins to start each resample from.
      basin_margin: only basins with full-data objective <= (1 + margin) x best count.
      fit: a full-data :class:`FitResult` to reuse (else one is run with the
        law's default starts).
      groups: ``[n_points]`` group labels for ``scheme="groups"`` (default: the dataset's).
      jackknife: also run the leave-one-out fits that BCa intervals need.
      include_unconverged: keep resamples whose best lane hit the step limit.
      progress: show a progress bar (default: when stderr is a terminal), or a function
        called as ``progress(done_lanes, total_lanes)`` as the resample refits finish.
      devices: shard the lanes over the first ``devices`` jax devices (default: all).
      run_dir: a run directory (:mod:`jaxlaws.runs`): the full-data fit is stored there first,
        then each finished chunk of resamples; rerunning with the same arguments resumes,
        skipping the chunks done, and gives the same result bit for bit as an uninterrupted
        run. Implies a chunked run. With ``fit=`` given, the manifest records that fit's optimum;
        to keep the fit itself, run it with ``jl.fit(..., run_dir=)`` too (as the command does).
      resamples_per_chunk: run the resamples in chunks of this many (default with ``run_dir``:
        the size its manifest records, else :func:`jaxlaws.runs.default_chunk`, from the
        starts, the data size and, where memory is short, the memory free), one compiled
        program for all; memory then grows with the chunk, not with ``n``, apart from the
        per-resample results. Chunk ``k`` draws its rows from
        ``numpy.random.default_rng([seed, k])`` (:data:`jaxlaws.runs.RNG_SCHEME`): a chunked
        run equals any chunked run with the same chunk size, with or without ``run_dir``,
        but not the one-batch default (``default_rng(seed)`` for all ``n`` rows at once).
        Lane statuses of a chunked run are kept as int8 (the codes fit) to save memory.
      strategy: how each resample's starts run: ``"auto"`` (default: with ``starts="grid"`` they
        race each other, any other starts run to their end), ``"all"``, or ``"race"`` / a
        :class:`jaxlaws.engine.Race` (see :func:`jaxlaws.fit`). A grid races by default because
        there racing is proven: on the Chinchilla laws' grids (``benchmarks/racing_catalog.py``)
        it reached every lane's best objective on every resample, 2.2-8.4x faster, and only that
        best is used here; from sampled starts it changed no resample's converged best either,
        but ran slower on an easy law. The full-data fit keeps fit's default.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise JaxlawsError(f"bootstrap needs n >= 2 resamples, got {n!r}")
    prob = make_problem(law, data, loss, weights)
    law, data = prob.law, prob.data
    starts_mod.check_seed(seed)
    plan = resample.bootstrap_scheme(scheme, data.groups if groups is None else groups)
    plan.check(prob)  # before any compute
    slv = get_solver(solver, **solver_options)
    options = engine.Options.make(precision, dtype, chunk, devices=devices)
    by_basins = isinstance(starts, str) and starts == "basins"
    if by_basins and (isinstance(basins, bool) or not isinstance(basins, (int, np.integer)) or basins < 0):
        raise JaxlawsError(f"basins must be an integer >= 0, got {basins!r}")
    if resamples_per_chunk is not None:
        resamples_per_chunk = runs.check_chunk(resamples_per_chunk)
    # Before any compute; "auto" races the law's grid (see strategy above).
    race = engine.resolve_strategy(engine.Race.parse(strategy), on_grid=starts_mod.is_grid(starts))
    # Starts per resample: the full-data best and the basins, or the full-data best and the starts.
    per_resample = int(basins) + 1 if by_basins else estimate.count_starts(law, starts)
    per_resample = per_resample if by_basins or per_resample is None else per_resample + 1
    if per_resample is not None and per_resample > 0:  # the resample rows are drawn only after this
        what, fewer = f"{n:,} resamples x {per_resample} starts", "resamples (n=) or starts"
        if run_dir is None and resamples_per_chunk is None:
            estimate.check(estimate.request(law, prob.n_points, per_resample, resamples=n, devices=options.devices),
                           what, fewer)
        else:  # one chunk in flight, the per-resample results kept
            c = resamples_per_chunk or runs.default_chunk(n, per_resample, prob.obs.size)
            estimate.check(estimate.chunked(law, prob.n_points, per_resample, n, c, devices=options.devices),
                           what, fewer)
    if fit is None:
        fit = fit_fn(law, data, loss=prob.loss, solver=slv, seed=seed, weights=weights,
                     chunk=chunk, precision=precision, dtype=dtype, devices=devices, run_dir=run_dir)
    else:
        differs = fit.problem.same_as(prob) if isinstance(fit, FitResult) else "not a FitResult"
        if differs is not None:
            raise JaxlawsError(f"fit= is a fit of {differs}: pass the fit of this law, data, loss and weights")

    if by_basins:
        theta0 = distinct_basins(fit, basins, margin=basin_margin)
        # Every start is a full-data optimum, close to each resample's: start the solver as
        # it would continue from a nearly converged point.
        lane_slv = slv.refine()
    else:
        lane_slv = slv
        theta0 = np.concatenate([fit.theta[None], starts_mod.make(law, starts, seed=seed)])
    S = theta0.shape[0]
    bar = _progress_bar(n * S, progress)

    if run_dir is None and resamples_per_chunk is None:
        rows = plan.rows(prob, theta=fit.theta, rng=np.random.default_rng(seed), n=n)
        out, timing = _refit(prob, theta0, rows, n, lane_slv, dataclasses.replace(options, progress=bar), race)
    else:
        c = resamples_per_chunk or runs.recorded_chunk(run_dir) or runs.default_chunk(n, S, prob.obs.size)
        identity = {**fit_identity_of(fit), "scheme": plan.name, "groups": _groups_print(plan), "seed": seed, "n": n,
                    "resamples_per_chunk": c, "bootstrap_starts": runs.fingerprint(theta0),
                    "n_bootstrap_starts": S, "bootstrap_solver": repr(lane_slv), "rng": runs.RNG_SCHEME,
                    "strategy": repr(race), "precision": options.precision.value}
        run = None if run_dir is None else runs.RunDir(run_dir, "bootstrap", identity)
        out, timing = _chunked(prob, plan, fit, theta0, n, seed, c, lane_slv, options, run, bar, race)
        resamples_per_chunk = c
    jk = _jackknife(prob, slv, fit, options, resample.jackknife_of(plan)) if jackknife else None
    where = engine.device_info(options.devices)
    return BootstrapResult(
        law=law, fit=fit, scheme=plan.name, theta=out["theta"],
        params=out["params"] if "params" in out else np.asarray(law.to_natural(out["theta"])),
        objective=out["objective"], converged=out["converged"], failed=out["failed"],
        lane_objective=out["lane_objective"], lane_status=out["lane_status"],
        starts=np.asarray(law.to_natural(theta0)), jackknife=jk,
        include_unconverged=include_unconverged, timing=timing, devices=where.count, device_kind=where.kind,
        processes=where.processes, resamples_per_chunk=resamples_per_chunk,
        n_groups=len(np.unique(plan.groups)) if isinstance(plan, resample.Groups) else None,
        strategy=engine.strategy_name(race),
    )


def fit_identity_of(fit: FitResult) -> dict[str, Any]:
    """The full-data fit a bootstrap resamples around, for a manifest: its problem and optimum."""
    return {**runs.problem_identity(fit.problem), "fit_theta": runs.fingerprint(fit.theta),
            **runs.version_identity()}


def _groups_print(plan: resample.Scheme) -> str | None:
    groups = getattr(plan, "groups", None)
    return None if groups is None else runs.fingerprint(np.unique(np.asarray(groups), return_inverse=True)[1])


def _refit(prob: Problem, theta0: np.ndarray, rows: resample.Rows, n: int, slv: Solver,
           options: engine.Options, race: engine.Race | None = None) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """``n`` resamples' refits from every start of ``theta0 [S, P]``: each resample's best lane
    (``theta [n, P]``, ``objective``, ``converged``, ``failed [n]``) and every lane
    (``lane_objective``, ``lane_status [n, S]``), and the timing."""
    S = theta0.shape[0]
    batch = Batch.tiled(prob, theta0, rows.obs, rows.weights, n)
    lanes = engine.solve_with(batch, slv, options, race)
    pick, failed = lanes.pick(batch.fit_index, n)
    out = {"theta": lanes.theta[pick], "objective": lanes.value[pick], "converged": lanes.converged[pick] & ~failed,
           "failed": failed, "lane_objective": lanes.value.reshape(n, S), "lane_status": lanes.status.reshape(n, S)}
    return out, {"compile_s": lanes.compile_s, "run_s": lanes.run_s}


def _chunked(prob: Problem, plan: resample.Scheme, fit: FitResult, theta0: np.ndarray, n: int, seed: int, c: int,
             slv: Solver, options: engine.Options, run: runs.RunDir | None,
             bar: Callable[[int, int], None] | None,
             race: engine.Race | None = None) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """The refits in chunks of ``c`` resamples (the last padded to ``c`` and trimmed, so every
    chunk has the same shapes and one program): chunk ``k`` from ``default_rng([seed, k])``.
    With a run directory, chunks found there are read instead of run, and each chunk run is
    written there as soon as it is done. The results are filled into arrays of ``n`` rows (the
    natural parameters too, chunk by chunk: no transient copy of all ``n`` rows at the end)."""
    S, P = theta0.shape
    n_chunks = -(-n // c)
    out = {"theta": np.zeros((n, P)), "params": np.zeros((n, P)), "objective": np.zeros(n), "converged": np.zeros(n, bool),
           "failed": np.zeros(n, bool), "lane_objective": np.zeros((n, S)), "lane_status": np.zeros((n, S), np.int8)}
    done = np.zeros(n_chunks, bool) if run is None else run.done(n_chunks)
    timing = {"compile_s": 0.0, "run_s": 0.0, "chunks": n_chunks, "chunks_resumed": int(done.sum())}
    quiet = dataclasses.replace(options, progress=None)
    done = done.copy()  # chunks on disk, growing as the run goes
    for k in range(n_chunks):
        lo, hi = k * c, min(n, (k + 1) * c)
        if done[k]:
            part = run.load_chunk(k, {"theta": (hi - lo, P), "lane_objective": (hi - lo, S)})
        else:
            t = time.perf_counter()
            rows = plan.rows(prob, theta=fit.theta, rng=np.random.default_rng([seed, k]), n=c)
            part, tk = _refit(prob, theta0, rows, c, slv, quiet, race)
            part = {key: v[:hi - lo] for key, v in part.items()}
            part["lane_status"] = part["lane_status"].astype(np.int8)
            timing["compile_s"] += tk["compile_s"]
            timing["run_s"] += tk["run_s"]
            if run is not None:
                run.save_chunk(k, part, time.perf_counter() - t, tk["compile_s"])
                done[k] = True
                run.mark_done(done)
        for key in part:
            out[key][lo:hi] = part[key]
        out["params"][lo:hi] = np.asarray(prob.law.to_natural(part["theta"]))
        if bar is not None:
            bar(hi * S, n * S)
    return out, timing


def _jackknife(prob: Problem, slv: Solver, fit: FitResult, options: engine.Options,
               scheme: resample.Scheme) -> np.ndarray:
    """Leave-one-out (or leave-one-group-out) refits from the full-data best, natural units."""
    rows = scheme.rows(prob)
    batch = Batch.tiled(prob, fit.theta[None], rows.obs, rows.weights, rows.n_fits)
    lanes = engine.solve(batch, slv.refine(), dataclasses.replace(options, progress=None))
    return np.asarray(prob.law.to_natural(lanes.theta))
