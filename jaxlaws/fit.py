"""``fit()``: a multi-start fit of a law to a dataset, and its :class:`FitResult`."""

from __future__ import annotations

import dataclasses
import warnings as warnings_mod
from collections.abc import Callable
from typing import Any

import numpy as np

from jaxlaws import basins, engine, estimate, runs, starts as starts_mod
from jaxlaws import diagnostics
from jaxlaws.diagnostics import Diagnostics, diagnose_or_explain
from jaxlaws.errors import JaxlawsError, JaxlawsWarning
from jaxlaws.law import Law
from jaxlaws.lanes import Lanes
from jaxlaws.problem import Batch, Problem, make_problem
from jaxlaws.solvers import Status, get as get_solver


@dataclasses.dataclass(frozen=True, eq=False)
class FitResult:
    """A multi-start fit: the best lane, every lane's outcome, and the verdict on both.

    Attributes:
      law: the fitted law (its ``params`` are the free parameters, its ``fixed`` the held ones).
      params: name -> value (natural units) at the best lane, every parameter in declared
        order, fixed ones at their values.
      objective: summed loss at ``params``.
      theta: ``[P]`` best point in internal coordinates (free parameters).
      starts: ``[S, P]`` every start (natural units, free parameters).
      all_params: ``[S, P]`` every lane's end point (natural units, free parameters).
      all_objective: ``[S]``; ``status``: ``[S]`` :class:`~jaxlaws.Status` codes; ``steps``: ``[S]``.
      best_index: which lane is best (lowest finite objective among lanes that did not fail).
      loss, solver: what was minimised, and how.
      n_points: points fitted.
      timing: ``{"compile_s", "run_s"}`` seconds.
      device: where it ran (``platform:kind xN``).
      problem: the checked law, data, loss and weights (for consistency checks downstream).
      diagnostics: bounds, covariance, identifiability and information criteria at the best lane.
      basins: lane indices of the distinct basins among converged lanes, best first.
      n_best: how many converged lanes reached the best objective (to ``basins.BASIN_FTOL``),
        with racing plus the lanes stopped on joining the best lane's basin (:func:`n_reaching_best`).
      devices: how many devices the lanes were sharded over (every process's together).
      device_kind: their kind as jax names it (``cpu``, ``NVIDIA H200``, ...).
      processes: how many jax processes ran (see :mod:`jaxlaws.distributed`).
      strategy: how the starts ran: ``"all"`` (each to its end), ``"race"`` (raced, the default
        :class:`jaxlaws.engine.Race`) or the ``repr`` of a Race of other settings; ``"auto"``
        is recorded as what it resolved to.
    """

    law: Law
    params: dict[str, float]
    objective: float
    theta: np.ndarray
    starts: np.ndarray
    all_params: np.ndarray
    all_objective: np.ndarray
    status: np.ndarray
    steps: np.ndarray
    best_index: int
    loss: str
    solver: str
    n_points: int
    timing: dict[str, float]
    device: str
    problem: Problem
    diagnostics: Diagnostics
    basins: np.ndarray
    n_best: int
    devices: int = 1
    device_kind: str = ""
    processes: int = 1
    strategy: str = "all"

    # ---- lanes -------------------------------------------------------------------------
    @property
    def n_starts(self) -> int:
        return int(self.all_objective.shape[0])

    @property
    def converged(self) -> np.ndarray:
        """``[S]`` bool: the lane met a tolerance."""
        return Status.converged_mask(self.status)

    @property
    def failed(self) -> np.ndarray:
        """``[S]`` bool: the objective was not finite (at the start or during the run)."""
        return Status.failed_mask(self.status)

    @property
    def n_converged(self) -> int:
        return int(self.converged.sum())

    @property
    def n_failed(self) -> int:
        return int(self.failed.sum())

    @property
    def status_counts(self) -> dict[str, int]:
        """Status name -> number of lanes that ended so."""
        return Status.counts(self.status)

    @property
    def best_status(self) -> Status:
        return Status(int(self.status[self.best_index]))

    @property
    def best_converged(self) -> bool:
        return self.best_status.converged

    @property
    def n_basins(self) -> int:
        return int(len(self.basins))

    # ---- the verdict -------------------------------------------------------------------
    @property
    def warnings(self) -> list[str]:
        """One-line warnings, most serious first; empty when nothing argues against the result."""
        out = []
        if not self.best_converged:
            out.append(f"the best lane did not converge ({self.best_status.message}); "
                       "raise max_steps or check the law's scaling and bounds")
        culled = int(Status.culled_mask(self.status).sum())
        if self.n_best <= 1 and self.n_starts > 1:
            why = (f"; {culled} were stopped early by racing, so this says little: rerun with strategy='all' "
                   "to see how many reach it" if culled else "; try more starts")
            out.append(f"only {self.n_best} of {self.n_starts} starts reached the best objective: "
                       f"the optimum may not be global{why}")
        out.extend(self.diagnostics.warnings)
        return out

    @property
    def fixed(self) -> dict[str, float]:
        """name -> value of the parameters held fixed (not fitted)."""
        return self.law.fixed

    @property
    def se(self) -> dict[str, float]:
        """Standard errors at the optimum (natural units; see ``diagnostics.covariance``), every
        parameter in declared order: 0 for a fixed one (it is not estimated)."""
        se = {**self.diagnostics.se, **{k: 0.0 for k in self.law.fixed}}
        return {k: se[k] for k in self.law.order}

    @property
    def cov(self) -> np.ndarray:
        """``[P, P]`` covariance, natural units (``diagnostics.cov_internal`` for internal)."""
        return self.diagnostics.cov

    @property
    def corr(self) -> np.ndarray:
        return self.diagnostics.corr

    @property
    def loglik(self) -> float:
        return self.diagnostics.loglik

    @property
    def aic(self) -> float:
        return self.diagnostics.aic

    @property
    def bic(self) -> float:
        return self.diagnostics.bic

    def predict(self, inputs: Any = None, **kw: Any) -> np.ndarray:
        """The fitted law at ``inputs`` (name -> array)."""
        return np.asarray(self.law.predict(self.params, inputs, **kw))

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready summary the CLI writes."""
        d = self.diagnostics
        return {
            "law": self.law.name,
            "params": dict(self.params),
            "fixed": self.fixed,
            "objective": self.objective,
            "loss": self.loss,
            "solver": self.solver,
            "n_points": self.n_points,
            "n_starts": self.n_starts,
            "n_converged": self.n_converged,
            "n_failed": self.n_failed,
            "best_converged": self.best_converged,
            "best_status": self.best_status.label,
            "status_counts": self.status_counts,
            "warnings": self.warnings,
            "se": self.se,
            "loglik": self.loglik,
            "aic": self.aic,
            "bic": self.bic,
            "n_basins": self.n_basins,
            "n_best": self.n_best,
            "strategy": self.strategy,
            "diagnostics": d.to_dict(),
            "timing": dict(self.timing),
            "device": self.device,
            "devices": self.devices,
            "device_kind": self.device_kind,
            "processes": self.processes,
        }

    def __str__(self) -> str:
        ps = ", ".join(f"{k}={v:.6g}" for k, v in self.params.items())
        return (f"{self.law.name}: {ps}; objective {self.objective:.10g} "
                f"({self.n_converged}/{self.n_starts} starts converged, {self.n_failed} failed)")

    def report(self) -> str:
        """Everything about this fit on one screen, warnings first."""
        d = self.diagnostics
        lines = [f"WARNING: {w}" for w in self.warnings]
        lines.append(f"{self.law.name} fitted to {self.n_points} points, loss {self.loss}, solver {self.solver}, "
                     f"{self.n_starts} starts{_strategy_note(self.strategy)} on {self.device}")
        lines.append(f"  {'param':<10s} {'value':>14s} {'se':>12s}  note")
        se = self.se
        for k, v in self.params.items():
            note = "fixed" if k in self.fixed else f"at {d.at_bound[k]} bound" if k in d.at_bound else ""
            lines.append(f"  {k:<10s} {v:>14.7g} {se[k]:>12.4g}  {note}".rstrip())
        lines.append(f"  standard errors: {d.covariance}")
        lines.append(f"objective {self.objective:.10g}; loglik {d.loglik:.6g}, AIC {d.aic:.6g}, BIC {d.bic:.6g} "
                     f"({d.likelihood}; {d.n_obs} residuals, {d.n_free} free parameters, {d.dof} dof)")
        counts = ", ".join(f"{k} {v}" for k, v in self.status_counts.items())
        lines.append(f"lanes: {counts}; best lane: {self.best_status.label}")
        culled = int(Status.culled_mask(self.status).sum())
        raced = f" ({culled} stopped early by racing)" if culled else ""
        lines.append(f"basins: {self.n_basins} distinct among converged lanes; {self.n_best} of {self.n_starts} "
                     f"starts reached the best{raced}")
        lines.append(f"time: compile {self.timing['compile_s']:.2f} s, run {self.timing['run_s']:.2f} s")
        return "\n".join(lines)


def raced_label(strategy: str) -> str | None:
    """How a report names a recorded strategy (:attr:`FitResult.strategy`) where the starts
    raced: ``"raced"``, or ``"raced: Race(...)"`` for a Race of other settings; None for ``"all"``."""
    return None if strategy == "all" else "raced" if strategy == "race" else f"raced: {strategy}"


def _strategy_note(strategy: str) -> str:
    label = raced_label(strategy)
    return "" if label is None else f" ({label})"


def solver_name(solver: Any) -> str:
    return type(solver).__name__.lower()


def n_reaching_best(theta: np.ndarray, value: np.ndarray, status: np.ndarray, best: int) -> int:
    """Converged lanes at the best objective (:func:`jaxlaws.basins.reaching_best`), plus lanes
    racing stopped as joined (``culled_joined``) whose point lies within ``BASIN_XTOL`` of the
    best lane's: they had reached its basin."""
    n = int(basins.reaching_best(value, Status.converged_mask(status), best).sum())
    joined = np.flatnonzero(np.asarray(status) == int(Status.CULLED_JOINED))
    if len(joined):
        tb = theta[best]
        d = np.max(np.abs(theta[joined] - tb), axis=1, initial=0.0)
        n += int(np.sum(d <= basins.BASIN_XTOL * (1.0 + np.max(np.abs(tb), initial=0.0))))
    return n


def verdict(res: FitResult, throw: bool) -> FitResult:
    """Raise (``throw``) or warn when the best lane did not converge; the result otherwise."""
    if not res.best_converged:
        msg = f"fit of {res.law.name!r}: the best lane did not converge ({res.best_status.message})"
        if throw:
            raise JaxlawsError(msg)
        warnings_mod.warn(msg, JaxlawsWarning, stacklevel=3)
    return res


def _nonfinite_rows(prob: Problem, theta0: np.ndarray, most: int = 64) -> str:
    """Which data rows make the objective non-finite, for the error when every start failed: the
    rows whose prediction is not finite at every one of the first ``most`` starts, else those at
    the first start, named by index and inputs (one phrase)."""
    n, k = prob.n_points, prob.law.n_outputs
    with np.errstate(all="ignore"):
        bad = np.stack([~np.isfinite(prob.fitted(t)).reshape(n, k).all(axis=1) for t in theta0[:most]])
    every, first = bad.all(axis=0), bad[0]
    rows, where = (every, f"at every start{'' if len(theta0) <= most else f' of the first {most}'}") \
        if every.any() else (first, "at the first start")
    if not rows.any():
        return "the predictions are finite at the first start but their loss is not (overflow?)"
    i = int(np.argmax(rows))
    at = ", ".join(f"{name}={v[i]:g}" for name, v in prob.inputs.items())
    return f"the prediction is not finite at {int(rows.sum())} of {n} rows {where} (first: row {i}, {at})"


def fit_identity(batch: Batch, solver: Any, options: engine.Options) -> dict[str, Any]:
    """What a fit is, for a run directory's manifest: the problem, the starts, solver, precision."""
    return {**runs.problem_identity(batch.problem), "starts": runs.fingerprint(batch.theta0),
            "n_starts": batch.n_lanes, "solver": repr(solver), "precision": options.precision.value,
            **runs.version_identity()}


def _solve_or_load(batch: Batch, solver: Any, options: engine.Options, run_dir: str | None,
                   race: engine.Race | None = None, meanwhile: Callable[[], Any] | None = None) -> Lanes:
    """The lanes of ``batch`` (raced where ``race`` is given): read from ``run_dir`` if a run with
    the same identity stored them, else solved (and stored there first of all, before anything
    else can be lost)."""
    if run_dir is None:
        return engine.solve_with(batch, solver, options, race, meanwhile)
    run = runs.RunDir(run_dir, "fit", {**fit_identity(batch, solver, options), "strategy": repr(race)})
    saved = run.load(runs.FIT)
    if saved is not None:
        return Lanes(theta=saved["theta"], value=saved["value"], steps=saved["steps"], status=saved["status"],
                     compile_s=0.0, run_s=0.0)
    lanes = engine.solve_with(batch, solver, options, race, meanwhile)
    run.save(runs.FIT, {"theta": lanes.theta, "value": lanes.value, "steps": lanes.steps, "status": lanes.status})
    run.log("fit", lanes=batch.n_lanes)
    return lanes


def fit(
    law: Any,
    data: Any,
    loss: Any = "huber-log:1e-3",
    starts: Any = "grid",
    solver: Any = "lm",
    seed: int = 0,
    weights: Any = None,
    *,
    chunk: int | None = None,
    precision: str = "auto",
    dtype: Any = None,
    throw: bool = False,
    progress: Callable[[int, int], None] | None = None,
    devices: int | None = None,
    run_dir: str | None = None,
    strategy: Any = "all",
    **solver_options: Any,
) -> FitResult:
    """Fit ``law`` to ``data`` from many starts at once; the best lane wins.

    Args:
      law: a :class:`~jaxlaws.Law` or a catalog name.
      data: a :class:`~jaxlaws.datasets.Dataset` or a bundled dataset name.
      loss: a loss spec (``mse``, ``mse-log``, ``huber:D``, ``huber-log:D``) or Loss.
      starts: ``"grid"``, a count of sampled starts, or explicit starts (see :mod:`jaxlaws.starts`).
      solver: ``"lm"`` (default), ``"lbfgs"``, ``"adam"``, or a solver object.
      seed: seeds the start sampler.
      weights: optional ``[n]`` non-negative point weights.
      precision: ``"auto"`` (default: ``"float64"`` for up to
        :data:`jaxlaws.engine.precision.AUTO_FLOAT64_LANES` starts, where one program compiles
        faster than two and runs about as fast; ``"mixed"`` above), ``"mixed"`` (a float32
        phase, then a float64 polish that judges every lane), ``"float64"`` or ``"float32"``.
      chunk, dtype: engine settings (see :class:`jaxlaws.engine.Options`).
      throw: raise :class:`~jaxlaws.JaxlawsError` when the best lane did not converge (default:
        a :class:`~jaxlaws.errors.JaxlawsWarning`).
      progress: called as ``progress(done_lanes, total_lanes)`` as lanes finish (with
        ``precision="mixed"``, those of the float64 polish).
      devices: shard the lanes over the first ``devices`` jax devices (default: all). Every
        lane's result is the same bits on any CPU device count (see ``tests/test_reproducible.py``).
      run_dir: a run directory (:mod:`jaxlaws.runs`): the lanes are stored there once run, and
        a rerun with the same arguments reads them instead of fitting again (refused if the
        directory was made by other arguments).
      strategy: ``"all"`` (default: every start to its end), ``"race"`` / a
        :class:`jaxlaws.engine.Race`: starts that trail the best of the fit, or have joined its
        basin, after a few steps are stopped (status ``culled_trailing`` / ``culled_joined``,
        kept with the point where they stopped; see :mod:`jaxlaws.engine.race`), or
        ``"auto"``: race the law's grid (``starts="grid"``), run any other starts to their end.
        A fit runs every start by default because what it reports beside the optimum, the
        distinct basins and how many starts reach the best, is what racing stops short of
        (:func:`jaxlaws.bootstrap`, which uses only each resample's best, races its grid by
        default).
      **solver_options: set on the solver, by name or object (an unknown one is refused).
        LM's stopping rules (see :mod:`jaxlaws.solvers.lm`; the float64 polish applies them):
        ``ftol=1e-14``: the Gauss-Newton decrement (the model's estimate of f - f*), relative
        to f (also converged: a step rejected while the decrement is within 10x the
        objective's rounding error); ``xtol=1e-10``: ``max_j |delta_j| / (1 + |theta_j|)`` of
        a trusted step, internal coordinates (relative for log-scale parameters);
        ``gtol=1e-10``: the projected gradient scaled as MINPACK's (the cosine between the
        residuals and each Jacobian column); ``max_steps=200``; ``lam_max=1e14``: damping,
        relative to ``lam0``, at which a lane is declared stalled.
    """
    prob = make_problem(law, data, loss, weights)
    law = prob.law
    starts_mod.check_seed(seed)
    slv = get_solver(solver, **solver_options)
    options = engine.Options.make(precision, dtype, chunk, progress, devices)
    if starts_mod.is_grid(starts) and any(p.grid is None for p in law.params.values()):
        starts = 256
    n_starts = estimate.count_starts(law, starts)
    if n_starts is not None and n_starts > 0:  # before the starts are made: a huge count is refused, not allocated
        estimate.check(estimate.request(law, prob.n_points, n_starts, devices=options.devices), f"{n_starts:,} starts",
                       "starts")
    theta0 = starts_mod.make(law, starts, seed=seed)
    batch = Batch.single(prob, theta0)
    race = engine.resolve_strategy(engine.Race.parse(strategy), on_grid=starts_mod.is_grid(starts))

    def meanwhile() -> None:
        # While the engine's program compiles on a background thread, the diagnostics' programs
        # are traced here and compiled beside it (a new law's cold fit pays the two side by side).
        diagnostics.compile_ahead(law, prob.loss, prob.inputs, prob.obs, prob.weights)

    lanes = _solve_or_load(batch, slv, options, run_dir, race, meanwhile)
    best = int(lanes.best(batch.fit_index, 1)[0])
    if best < 0:
        raise JaxlawsError(
            f"all {batch.n_lanes} starts failed: the objective is not finite at any start; "
            f"{_nonfinite_rows(prob, theta0)} (are the data in law {law.name!r}'s domain?)"
        )
    nat = np.asarray(law.to_natural(lanes.theta))
    where = engine.device_info(options.devices)
    usable = lanes.converged | (np.arange(batch.n_lanes) == best)
    res = FitResult(
        law=law,
        params=law.values(nat[best]),
        objective=float(lanes.value[best]),
        theta=lanes.theta[best],
        starts=np.asarray(law.to_natural(theta0)),
        all_params=nat,
        all_objective=lanes.value,
        status=lanes.status,
        steps=lanes.steps,
        best_index=best,
        loss=prob.loss.spec,
        solver=solver_name(slv),
        n_points=prob.n_points,
        timing={"compile_s": lanes.compile_s, "run_s": lanes.run_s},
        device=where.name,
        problem=prob,
        diagnostics=diagnose_or_explain(law, prob.loss, prob.inputs, prob.obs, prob.weights, lanes.theta[best]),
        basins=basins.distinct(lanes.theta, lanes.value, usable, best),
        n_best=n_reaching_best(lanes.theta, lanes.value, lanes.status, best),
        devices=where.count,
        device_kind=where.kind,
        processes=where.processes,
        strategy=engine.strategy_name(race),
    )
    return verdict(res, throw)
