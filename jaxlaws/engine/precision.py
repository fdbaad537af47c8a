"""The precision policy: one float64 or float32 pass, or a float32 phase polished in float64,
or ``auto``: one of the two chosen by the lane count.

``mixed`` runs every lane in float32 with the solver's :meth:`coarse` tolerances, then every
lane again in float64 with :meth:`refine` from where it stopped, to the solver's own
tolerances: the float64 pass judges every lane, so no lane is reported converged (or stalled)
on float32 evidence alone. A lane that failed in float32 starts over in float64 from its start
with the whole step budget. ``steps`` counts both phases against one budget, with at least
``POLISH_STEPS`` float64 steps for every lane.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlaws.engine import mesh, phase
from jaxlaws.errors import JaxlawsError
from jaxlaws.lanes import Lanes
from jaxlaws.problem import Batch
from jaxlaws.solvers.base import Solver
from jaxlaws.solvers.status import Status

POLISH_STEPS = 30

# ``auto`` runs a batch of at most this many lanes in float64 alone, a larger one mixed. Mixed
# precision compiles a second program (the float32 phase: ~1.3 s more of a cold fit, ~0.5 s more
# from the persistent cache, measured on the 2-core CPU for a new 5-parameter law) and gains
# run time only with many lanes: warm Chinchilla fits (240 points) took mixed / float64 = 1.42x
# at 64 lanes, 0.85x at 256 (10 ms apart), 0.61x at 1,024 (0.09 s apart), 0.51x at 4,500
# (0.56 s apart). Below ~1,000 lanes the second program costs more than it can save in a
# notebook's edit-run cycle. A function of the batch's total lane count only, never of the
# device count, so a lane's outcome stays the same on any mesh.
AUTO_FLOAT64_LANES = 1024


class Precision(enum.Enum):
    FLOAT64 = "float64"
    FLOAT32 = "float32"
    MIXED = "mixed"
    AUTO = "auto"

    def resolve(self, n_lanes: int) -> Precision:
        """The policy a batch of ``n_lanes`` lanes runs under: ``auto`` is float64 up to
        :data:`AUTO_FLOAT64_LANES` lanes, mixed above; any other policy is itself."""
        if self is not Precision.AUTO:
            return self
        return Precision.FLOAT64 if n_lanes <= AUTO_FLOAT64_LANES else Precision.MIXED

    @classmethod
    def parse(cls, precision: Any = "float64", dtype: Any = None) -> Precision:
        """From a name (or ``dtype``, shorthand for one precision: ``np.float32`` / ``np.float64``)."""
        if isinstance(precision, Precision) and dtype is None:
            return precision
        if dtype is not None:
            return cls.FLOAT32 if np.dtype(dtype) == np.float32 else cls.FLOAT64
        try:
            return cls(precision)
        except ValueError:
            raise JaxlawsError(f"precision must be one of {', '.join(p.value for p in cls)}, got {precision!r}") from None


@dataclasses.dataclass(frozen=True)
class Options:
    """How the engine runs a batch.

    Attributes:
      precision: see :class:`Precision`.
      chunk: slots per device (rounded to a power of two, at most enough for the lanes);
        default :func:`jaxlaws.engine.slots.slots_per_device` of the lane count and data size.
      progress: called as ``progress(done_lanes, total_lanes)`` after each queue call.
      devices: run on the first ``devices`` jax devices (None: all of them; see
        :mod:`jaxlaws.engine.mesh`).
    """

    precision: Precision = Precision.FLOAT64
    chunk: int | None = None
    progress: Callable[[int, int], None] | None = None
    devices: int | None = None

    @classmethod
    def make(cls, precision: Any = "float64", dtype: Any = None, chunk: int | None = None,
             progress: Callable[[int, int], None] | None = None, devices: int | None = None) -> Options:
        if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1):
            raise JaxlawsError(f"chunk must be a positive integer, got {chunk!r}")
        devices = mesh.check_count(devices)
        if devices is not None:
            mesh.select(devices)  # refuses more than there are, before any compute
        return cls(Precision.parse(precision, dtype), None if chunk is None else int(chunk), progress, devices)


def sized(solver: Solver, n_lanes: int) -> Solver:
    """``solver`` as set up for a batch of ``n_lanes`` lanes (its optional ``for_batch``; e.g. LM
    factors small batches' systems with the library, which compiles faster). Resolved once per
    call of :func:`solve` or :func:`~jaxlaws.engine.race.solve_racing`, on the whole batch, so a
    lane's program never depends on how a batch was split; a function of the lane count only,
    never of the device count."""
    for_batch = getattr(solver, "for_batch", None)
    return solver if for_batch is None else for_batch(n_lanes)


def solve(batch: Batch, solver: Solver, options: Options = Options(),
          meanwhile: Callable[[], Any] | None = None, steps0: np.ndarray | None = None) -> Lanes:
    """Run ``solver`` on every lane of ``batch`` and return every lane's outcome.

    Lanes are spread over every jax device (``jax.devices()``, or the first ``options.devices``,
    every process's after :func:`jaxlaws.distributed.initialize`); on a CPU use
    :func:`jaxlaws.devices.use_cpu_cores` (or ``XLA_FLAGS``) to get one device per core.
    A law with every parameter fixed has nothing to solve: each lane's objective is evaluated
    (float64) and its status is :attr:`Status.FIXED`.

    ``meanwhile``: called on this thread once the programs are compiling on background threads
    or were loaded from the program store (not called when this process had them already),
    before the first run waits for them
    (``fit`` compiles its diagnostics there: XLA compiles one program per core, so a second one
    costs little wall time beside the first).
    ``steps0`` ``[L]``: steps each lane has already spent against the solver's ``max_steps``
    (a lane continued from an earlier run, as racing continues its survivors).
    """
    if batch.problem.law.n_params == 0:
        return evaluate_fixed(batch, options.progress)
    solver = sized(solver, batch.n_lanes)
    precision = options.precision.resolve(batch.n_lanes)
    if precision is not Precision.MIXED:
        x64 = precision is Precision.FLOAT64
        ahead_s = 0.0
        if meanwhile is not None:
            ahead_s = phase.compile_ahead(batch, solver, x64, options.chunk, options.devices)
            if ahead_s > 0:  # compiling, or loaded from the store (0: it was ready, or on its way)
                meanwhile()
        lanes = phase.run(batch, solver, x64, options.chunk, options.progress, steps0=steps0,
                          devices=options.devices)
        return dataclasses.replace(lanes, compile_s=lanes.compile_s + ahead_s)
    # Both programs compile at once on two background threads, the float64 one overlapping the
    # float32 run (grid cold: 2.4 -> 2.2 s). coarse() and refine() are called once, so the same
    # solver objects key the programs compiled ahead and the programs run.
    coarse, refine = solver.coarse(), solver.refine()
    ahead_s = (phase.compile_ahead(batch, coarse, False, options.chunk, options.devices)
               + phase.compile_ahead(batch, refine, True, options.chunk, options.devices))
    # The caller's work runs beside the compiles only where a core is left for it: with two
    # programs compiling on a 2-core CPU it slowed the cold Chinchilla grid by ~0.4 s (3.6 against
    # 4.0-4.2 s, fresh processes), while beside one program it saves ~0.25 s (256 starts, float64).
    if meanwhile is not None and ahead_s > 0 and (os.cpu_count() or 1) > 2:
        meanwhile()
    first = phase.run(batch, coarse, False, options.chunk, steps0=steps0, devices=options.devices)
    restart = Status.failed_mask(first.status) | ~np.isfinite(first.value)
    lower, upper = batch.lane_bounds()
    start = np.where(restart[:, None], batch.theta0, np.clip(first.theta, lower, upper))
    used = np.where(restart, 0, np.minimum(first.steps, max(solver.max_steps - POLISH_STEPS, 0)))
    # The polish queue runs the lanes likely to need many float64 steps first, so that they
    # overlap the many short polishes instead of trailing alone at the end (see polish_order).
    order = polish_order(first.value, restart, batch.fit_index)
    back = np.argsort(order)
    polish = dataclasses.replace(batch.take(order), theta0=start[order])
    second = phase.run(polish, refine, True, options.chunk, options.progress, steps0=used[order],
                       devices=options.devices)
    return Lanes(
        theta=second.theta[back], value=second.value[back], steps=first.steps + (second.steps[back] - used),
        status=second.status[back], compile_s=ahead_s + first.compile_s + second.compile_s,
        run_s=first.run_s + second.run_s, coarse_steps=first.steps, coarse_status=first.status,
    )


def evaluate_fixed(batch: Batch, progress: Callable[[int, int], None] | None = None) -> Lanes:
    """The lanes of a batch whose law has no free parameter: the objective of every lane's row of
    observations and weights at the fixed values, no step taken."""
    prob = batch.problem
    t = time.perf_counter()
    r = prob.fitted(np.zeros(0))[None, :] - batch.obs[batch.obs_index]
    with jax.enable_x64(True):
        value = np.asarray(jax.vmap(prob.loss.total)(jnp.asarray(r), jnp.asarray(batch.weights[batch.weight_index])))
    L = batch.n_lanes
    status = np.where(np.isfinite(value), int(Status.FIXED), int(Status.NONFINITE_START)).astype(np.int32)
    if progress is not None:
        progress(L, L)
    return Lanes(theta=np.zeros((L, 0)), value=value, steps=np.zeros(L, np.int32), status=status,
                 compile_s=0.0, run_s=time.perf_counter() - t)


def polish_order(value: np.ndarray, failed: np.ndarray, fit_index: np.ndarray) -> np.ndarray:
    """The order ``[L]`` in which lanes enter the float64 polish: longest expected first.

    A lane whose float32 phase ended near the best value of its fit is nearly converged and
    polishes in a few steps; one that ended far above it (stalled on a plateau at float32
    resolution) often needs tens; one that failed starts over. Queued in that order, the long
    polishes overlap the short ones instead of keeping all slots stepping for a few stragglers
    at the end (measured on the Chinchilla grid: the warm fit ~10% faster, every lane's outcome
    unchanged).
    """
    ok = ~failed & np.isfinite(value)
    best = np.full(int(fit_index.max()) + 1 if len(fit_index) else 0, np.inf)
    np.minimum.at(best, fit_index[ok], value[ok])
    gap = np.full(value.shape, np.inf)
    gap[ok] = value[ok] - best[fit_index[ok]]
    return np.argsort(-gap, kind="stable")
