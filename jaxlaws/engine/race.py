"""Racing starts: run every lane a few steps, stop the ones that cannot matter, finish the rest.

A multi-start fit runs every start to its end although most land in a basin another start has
already found. Racing runs the lanes in *rounds* of a fixed step budget and, between rounds, on
the host, stops (culls) two kinds of lane in each fit (``fit_index``):

* **trailing**: ``f > f_best + margin * |f_best| + floor``, with ``f_best`` the lowest objective any
  lane of the fit has reached so far (:attr:`Status.CULLED_TRAILING`);
* **joined**: ``max_j |theta_j - theta*_j| <= join_xtol * (1 + max_j |theta*_j|)`` with
  ``theta*`` the point of that best lane (:attr:`Status.CULLED_JOINED`): it is in the basin the
  best lane is already following, and would end where that lane ends.

The best lane of a fit is never culled. The survivors then run the ordinary solve
(:func:`jaxlaws.engine.solve`, the batch's precision policy) from where the rounds left them,
their step count continuing. Before returning, every culled lane is checked against its fit's
final best ``f*``: a culled lane whose objective at the cull was within the margin,
``f <= f* + margin * |f*| + floor``, or any culled lane of a fit whose best lane did not
converge, is resumed and run to its end (its status is then its own). A culled lane keeps the
point, objective and steps it had when it was stopped: nothing is dropped.

Why it is deterministic: every decision is a function of each lane's own trajectory after a
fixed step budget (a lane's steps do not depend on which lanes share its device or queue call;
see ``tests/test_reproducible.py``) and of the other lanes of its fit, all known on the host
at the round's end. A round restarts each lane from its point with the solver's initial
state (for LM: damping ``lam0``, trust radius ``radius0``), which costs a few steps per round:
on the Chinchilla grid the surviving lanes took 649 steps in all against 628 for the same lanes
run without a break (one 20-step round instead: 11,367 against 10,261).

The defaults (:class:`Race`: one cull after 10 steps, another after 20 more, margin 1.0) were
measured on the Chinchilla grid (``chinchilla_epoch``, ``huber-log:1e-3``, mixed precision;
``benchmarks/results/racing_cpu.json``, a quiet 2-core CPU): the grid fit kept 20 of 4,500
lanes after the first round and reached the same best objective (to 2e-15 relative) in 45,449
lane-steps against 321,095 (3.3x less warm time: a fit this small is partly fixed cost); with
the grid on each of 1,000 bootstrap resamples, every resample reached the best objective of
running every lane (worst excess 9e-15 relative) in 8.1x less time (83 s against 676 s), and
the 18 M-fit job (the grid in each of 4,000 resamples) took 5.5 min
(``benchmarks/results/grid_bootstrap_cpu.md``). A law whose basins are closer in objective than 2x
after 10 steps needs a wider margin or longer rounds.

Beyond ``chinchilla_epoch`` (``benchmarks/racing_catalog.py``, ``benchmarks/results/racing_catalog_cpu.md``:
eleven catalog laws on bundled datasets, 100 pairs resamples each, mixed precision; time ratios
every lane / racing): from the law's start grid, racing reached every lane's best objective on
every resample of the two Chinchilla laws on ``chinchilla_epoch`` (7.9x, 8.4x) and of
``chinchilla`` on ``data_constrained`` (2.2x); ``chinchilla`` on ``vocab`` stalls from every start
and racing culled nothing (0.98x). From 1,024 sampled starts it did on every resample of six laws
(0.91-4.0x: slower on ``moe_6p``, whose starts converge within the rounds) and on 99 of 100 of
``lr_bsz`` (12 parameters, 5.7x). The one that differs (best 7e-8 relative above every lane's) had
no converged lane under either strategy (1,014 of 1,025 lanes ran out of steps; each round
restarts a lane's damping, so unconverged lanes end elsewhere), and the check then resumed every
culled lane; the bootstrap leaves such a resample out by default. On every resample whose best
converged, racing's best was every lane's. Hence :class:`Auto` (``"auto"``, the bootstrap's
default) races a start grid, where the gain is large, and not sampled starts, where it may be a
loss; the grids measured are the Chinchilla laws', and a grid of another law races alike
(``strategy="all"`` runs every lane).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from jaxlaws.engine import phase
from jaxlaws.engine.precision import Options, Precision, sized, solve
from jaxlaws.errors import JaxlawsError
from jaxlaws.lanes import Lanes
from jaxlaws.problem import Batch
from jaxlaws.solvers.base import Solver
from jaxlaws.solvers.status import Status

RUNNING_OUT = int(Status.MAX_STEPS)  # a round's budget ends a lane as MAX_STEPS (see _round)


@dataclasses.dataclass(frozen=True)
class Race:
    """How lanes race (see the module docstring).

    Attributes:
      rounds: steps per racing round, in order; a cull follows each round.
      margin: a lane trailing its fit's best by more than this, relative, is culled.
      floor: and by more than this, absolute (objective units): near a zero objective a
        relative margin alone would cull lanes that differ by rounding.
      join_xtol: relative sup-norm distance (internal coordinates) within which a lane has
        joined its fit's best lane (``jaxlaws.basins.BASIN_XTOL``: the distance at which two
        converged lanes count as one basin).
    """

    rounds: tuple[int, ...] = (10, 20)
    margin: float = 1.0
    floor: float = 0.0
    join_xtol: float = 1e-2

    def __post_init__(self) -> None:
        try:
            r = tuple(self.rounds)
        except TypeError:
            raise JaxlawsError(f"race rounds must be a sequence of step counts, got {self.rounds!r}") from None
        if not r or any(isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1 for k in r):
            raise JaxlawsError(f"race rounds must be positive step counts, got {self.rounds!r}")
        for name in ("margin", "floor", "join_xtol"):
            v = getattr(self, name)
            try:
                ok = not isinstance(v, bool) and math.isfinite(float(v)) and float(v) >= 0
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise JaxlawsError(f"race {name} must be a finite number >= 0, got {v!r}")
            object.__setattr__(self, name, float(v))
        object.__setattr__(self, "rounds", tuple(int(k) for k in r))

    @classmethod
    def parse(cls, strategy: Any) -> Race | Auto | None:
        """``"all"`` (every lane to its end: None), ``"race"`` (the default :class:`Race`), a Race,
        ``"auto"`` (:class:`Auto`: race the law's start grid, run any other starts to their end) or
        an Auto."""
        if isinstance(strategy, (Race, Auto)):
            return strategy
        if strategy == "all":
            return None
        if strategy == "race":
            return cls()
        if strategy == "auto":
            return Auto()
        raise JaxlawsError(f"strategy must be 'all', 'race', 'auto' or a jaxlaws.engine.Race, got {strategy!r}")


@dataclasses.dataclass(frozen=True)
class Auto:
    """Race where racing is proven: starts on the law's start grid race (``race``); sampled or
    given starts run to their end (module docstring: racing beyond the Chinchilla grid)."""

    race: Race = Race()

    def __post_init__(self) -> None:
        if not isinstance(self.race, Race):
            raise JaxlawsError(f"Auto's race must be a jaxlaws.engine.Race, got {self.race!r}")

    def resolve(self, on_grid: bool) -> Race | None:
        return self.race if on_grid else None


def resolve(strategy: Race | Auto | None, on_grid: bool) -> Race | None:
    """The race a parsed strategy (:meth:`Race.parse`) runs, for starts that are (``on_grid``) or
    are not the law's start grid (None: every lane to its end)."""
    return strategy.resolve(on_grid) if isinstance(strategy, Auto) else strategy


def name(race: Race | None) -> str:
    """What a resolved strategy ran, as results record it: ``"all"`` (None), ``"race"`` (the
    default :class:`Race`) or the Race's ``repr`` (one of other settings)."""
    if race is None:
        return "all"
    return "race" if race == Race() else repr(race)


def _fit_best(value: np.ndarray, ok: np.ndarray, fit_index: np.ndarray, n_fits: int) -> np.ndarray:
    """``[n_fits]`` lane index of each fit's lowest objective among ``ok`` lanes (ties: the
    first lane), -1 where none."""
    val = np.where(ok & np.isfinite(value), value, np.inf)
    order = np.lexsort((np.arange(len(val)), val, fit_index))
    best = np.full(n_fits, -1, np.int64)
    fi = fit_index[order]
    first = np.flatnonzero(np.r_[True, fi[1:] != fi[:-1]]) if len(fi) else np.zeros(0, np.int64)
    best[fi[first]] = order[first]
    best[(best >= 0) & ~np.isfinite(val[np.maximum(best, 0)])] = -1
    return best


def cull(race: Race, theta: np.ndarray, value: np.ndarray, alive: np.ndarray, fit_index: np.ndarray,
         n_fits: int) -> np.ndarray:
    """``[L]`` int32: the Status code culling each lane (0: kept), among ``alive`` lanes, by the
    rules of the module docstring; each fit's best lane is kept."""
    best = _fit_best(value, alive, fit_index, n_fits)
    has = best[fit_index] >= 0
    b = np.maximum(best[fit_index], 0)
    fb = value[b]
    code = np.zeros(len(value), np.int32)
    with np.errstate(invalid="ignore"):
        trailing = alive & has & (~np.isfinite(value) | (value > fb + race.margin * np.abs(fb) + race.floor))
        tb = theta[b]
        near = (np.max(np.abs(theta - tb), axis=1, initial=0.0)
                <= race.join_xtol * (1.0 + np.max(np.abs(tb), axis=1, initial=0.0)))
    joined = alive & has & ~trailing & near
    is_best = np.zeros(len(value), bool)
    is_best[best[best >= 0]] = True
    code[trailing & ~is_best] = int(Status.CULLED_TRAILING)
    code[joined & ~is_best] = int(Status.CULLED_JOINED)
    return code


def solve_racing(batch: Batch, solver: Solver, options: Options = Options(), race: Race = Race(),
                 meanwhile: Callable[[], Any] | None = None) -> Lanes:
    """Every lane of ``batch`` raced (module docstring): survivors and resumed lanes run to their
    end by ``solver`` under ``options``; culled lanes keep the point where they were stopped."""
    if batch.problem.law.n_params == 0 or batch.n_lanes == 0:
        return solve(batch, solver, options, meanwhile)
    t0 = time.perf_counter()
    L, n_fits = batch.n_lanes, batch.n_fits
    # The policies are resolved once, on the whole batch: the survivors run in the same ones.
    solver = sized(solver, L)
    precision = options.precision.resolve(L)
    final_opts = dataclasses.replace(options, precision=precision, progress=None)
    scout, x64 = (solver.coarse(), False) if precision is Precision.MIXED else (solver, precision is Precision.FLOAT64)
    theta = batch.theta0.copy()
    value = np.full(L, np.inf)
    used = np.zeros(L, np.int32)
    code = np.zeros(L, np.int32)  # 0: alive; a CULLED_* code once culled
    running = np.ones(L, bool)  # alive and still stepping at the end of its last round
    restart = np.zeros(L, bool)  # failed in a round: the final solve starts it over
    compile_s = 0.0
    for i, r in enumerate(race.rounds):
        idx = np.flatnonzero(running & (code == 0))
        if not len(idx):
            break
        budget = np.minimum(r, solver.max_steps - used[idx])
        # The lane's own count starts at max_steps - budget, so the solver's step limit ends the
        # round after `budget` steps: a round runs the solver's ordinary queue program, no
        # program of its own. The slots per device follow each round's (and the survivors')
        # lane count, so a raced fit can compile a program for each slot count it meets (one
        # per power of two; cached like any other) unless ``chunk=`` fixes the slots.
        sub = dataclasses.replace(batch.take(idx), theta0=theta[idx])
        if i == 0 and meanwhile is not None:
            ahead = phase.compile_ahead(sub, scout, x64, options.chunk, options.devices)
            compile_s += ahead
            if ahead > 0:  # the first round's program is compiling: the caller's work meanwhile
                meanwhile()
        got = phase.run(sub, scout, x64, options.chunk, steps0=scout.max_steps - budget,
                        devices=options.devices)
        compile_s += got.compile_s
        spent = got.steps - (scout.max_steps - budget)
        used[idx] += spent.astype(np.int32)
        bad = Status.failed_mask(got.status) | ~np.isfinite(got.value)
        # A float32 round's point, clipped to the float64 bounds as the mixed polish clips it: a
        # culled lane keeps it, and must lie inside the bounds like every other end point.
        lo, hi = sub.lane_bounds()
        theta[idx] = np.where(bad[:, None], theta[idx], np.clip(got.theta, lo, hi))
        value[idx] = np.where(bad, np.inf, got.value)
        restart[idx] |= bad
        running[idx] = ~bad & (got.status == RUNNING_OUT) & (used[idx] < solver.max_steps)
        alive = (code == 0) & ~restart
        code = np.where(alive, cull(race, theta, value, alive, batch.fit_index, n_fits), code)

    def finish(ids: np.ndarray, out: dict[str, np.ndarray]) -> float:
        """Run lanes ``ids`` to their end from where they are; store their outcomes in ``out``."""
        if not len(ids):
            return 0.0
        start = np.where(restart[ids, None], batch.theta0[ids], theta[ids])
        sub = dataclasses.replace(batch.take(ids), theta0=start)
        opts = final_opts
        if options.progress is not None:
            # Progress counts every lane of the batch: those already final, then these as they end;
            # never backwards, and the whole batch only once the check has resumed what it needs.
            base = L - len(ids)
            opts = dataclasses.replace(final_opts, progress=lambda d, _t: report(base + d))
        got = solve(sub, solver, opts, steps0=np.where(restart[ids], 0, used[ids]))
        out["theta"][ids], out["value"][ids] = got.theta, got.value
        out["steps"][ids], out["status"][ids] = got.steps, got.status
        return got.compile_s

    shown = [0]

    def report(done: int) -> None:
        done = min(done, L - 1)
        if done > shown[0]:
            shown[0] = done
            options.progress(done, L)

    out = {"theta": theta.copy(), "value": np.where(np.isfinite(value), value, np.inf), "steps": used.copy(),
           "status": np.where(code > 0, code, int(Status.RUNNING)).astype(np.int32)}
    compile_s += finish(np.flatnonzero(code == 0), out)
    # The check that the best basin was not culled: against each fit's final best.
    final = Lanes(out["theta"], out["value"], out["steps"], out["status"], 0.0, 0.0)
    best = final.best(batch.fit_index, n_fits)
    fb = np.where(best >= 0, out["value"][np.maximum(best, 0)], np.inf)[batch.fit_index]
    best_conv = np.where(best >= 0, Status.converged_mask(out["status"][np.maximum(best, 0)]), False)[batch.fit_index]
    with np.errstate(invalid="ignore"):
        resume = (code > 0) & ((value <= fb + race.margin * np.abs(fb) + race.floor) | ~best_conv)
    compile_s += finish(np.flatnonzero(resume), out)
    if options.progress is not None:
        options.progress(L, L)
    run_s = time.perf_counter() - t0 - compile_s
    return Lanes(theta=out["theta"], value=out["value"], steps=out["steps"], status=out["status"],
                 compile_s=compile_s, run_s=run_s)


def solve_with(batch: Batch, solver: Solver, options: Options = Options(), race: Race | None = None,
               meanwhile: Callable[[], Any] | None = None) -> Lanes:
    """:func:`solve_racing` with ``race``, or every lane to its end (:func:`jaxlaws.engine.solve`)
    where ``race`` is None (the ``"all"`` strategy of :meth:`Race.parse`)."""
    if isinstance(race, Auto):  # what "auto" runs depends on the starts: the caller resolves it
        raise JaxlawsError("solve_with takes a Race or None: resolve 'auto' first (jaxlaws.engine.resolve_strategy)")
    if race is None:
        return solve(batch, solver, options, meanwhile)
    return solve_racing(batch, solver, options, race, meanwhile)
