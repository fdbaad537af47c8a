"""How much memory a request needs, told before any compute: refuse what cannot fit, with the numbers.

A request is ``lanes`` lanes (starts x resamples) of ``P`` free parameters on rows of ``m``
residuals. What it holds in memory at once, counted from what :func:`jaxlaws.fit` and
:func:`jaxlaws.bootstrap` keep:

* per lane, ``LANE_VECTORS`` float64 vectors of ``P`` (the start, internal and natural; its
  queue-ordered copy; each precision's end point and its natural value; the pool the engine
  gathers into) and ``LANE_SCALARS`` 8-byte numbers (objective, steps, status and the four
  row indices, per phase);
* per row of observations or weights, ``ROW_COPIES`` float64 copies of ``m`` on the host
  (the resampler's counts, their float64 cast, the per-residual repeat and its product with the
  point weights) and one on every device (the engine replicates the rows to each device, and a
  CPU device's memory is the host's).

The time (:attr:`Estimate.seconds`) is a rough rate measured on one law, said with the memory
before a large request starts. The count is of arrays the code keeps, not a measurement of the process (the interpreter, XLA's
buffers and the compiled programs come on top). Measured for 10^6 starts of ``power_law`` on 10
points (2-core CPU): peak resident growth 0.245 GiB with ``precision="mixed"`` and 0.184 GiB in
float64, against the estimate's 0.238 GiB. A request is refused when the estimate exceeds the
memory available: only one within about 30% of the limit could have been refused and still run.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any

import numpy as np

from jaxlaws.errors import JaxlawsError
from jaxlaws.law import Law

LANE_VECTORS = 10
LANE_SCALARS = 12
ROW_COPIES = 4
NOTICE_BYTES = 1 << 30  # the command says what a request needs from 1 GiB up ...
NOTICE_S = 60.0  # ... or from about a minute of compute
GIB = float(1 << 30)

# The time a request takes, roughly: lanes x MEAN_STEPS steps, each costing the residuals and
# Jacobian of one lane, m (P + 1) numbers, at STEP_ELEMENT_S a number. Measured on the Chinchilla
# grid (benchmarks/results/grid_cpu.json: 321,095 lane-steps in 0.60 s warm, m = 240, P = 5, on
# this project's 2-core CPU, one device per core): 1.3 ns a number, 71 steps a lane. Other laws
# take more or fewer steps and a faster machine fewer seconds: an order of magnitude, not a
# promise; it scales with the cores jax has here (2 / cores).
STEP_ELEMENT_S = 0.60 / (321_095 * 240 * 6)
MEAN_STEPS = 71
MEASURED_CORES = 2


@dataclasses.dataclass(frozen=True)
class Estimate:
    """Memory a request holds (bytes), and what is available to it.

    Attributes:
      lanes: lanes (starts x resamples).
      params: free parameters per lane.
      rows: rows of observations or weights (1 for a fit, about one per resample for a bootstrap).
      residuals: residuals per row (points x outputs).
      devices: devices the rows are replicated to.
      available: bytes available (``None`` where it cannot be read).
      kept: bytes of results kept for every resample of a chunked run (:func:`chunked`), on top of
        the lanes and rows of the one chunk in flight.
    """

    lanes: int
    params: int
    rows: int
    residuals: int
    devices: int = 1
    available: int | None = None
    kept: int = 0  # bytes of per-resample results a chunked run keeps for every resample

    @property
    def lane_bytes(self) -> int:
        return self.lanes * (LANE_VECTORS * self.params + LANE_SCALARS) * 8

    @property
    def row_bytes(self) -> int:
        return self.rows * self.residuals * (ROW_COPIES + self.devices) * 8

    @property
    def total_bytes(self) -> int:
        return self.lane_bytes + self.row_bytes + self.kept

    @property
    def seconds(self) -> float:
        """Rough compute seconds (warm, compile excluded) at the rate measured above, scaled by
        this machine's cores."""
        cores = max(os.cpu_count() or MEASURED_CORES, 1)
        per_lane = MEAN_STEPS * self.residuals * (self.params + 1) * STEP_ELEMENT_S
        return self.lanes * per_lane * MEASURED_CORES / cores

    @property
    def large(self) -> bool:
        """Worth a line before it starts: from :data:`NOTICE_BYTES` or :data:`NOTICE_S`."""
        return self.total_bytes >= NOTICE_BYTES or self.seconds >= NOTICE_S

    @property
    def fits(self) -> bool:
        """False only where the available memory is known and smaller than the estimate."""
        return self.available is None or self.total_bytes <= self.available

    def describe(self) -> str:
        """One phrase: ``2,000,000 lanes, ~0.3 GiB (lane results 0.2, data rows 0.1), ~3 min of compute``."""
        return (f"{self.lanes:,} lanes, ~{gib(self.total_bytes)} GiB (lane results {gib(self.lane_bytes)}, "
                f"data rows {gib(self.row_bytes)}), ~{duration(self.seconds)} of compute")


def duration(seconds: float) -> str:
    """``45 s``, ``3 min``, ``2.5 h``: one or two significant figures."""
    if seconds < 90:
        return f"{seconds:.2g} s" if seconds < 10 else f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.2g} h"


def gib(n: float) -> str:
    """Bytes as GiB: three significant figures, ``<0.01`` below."""
    return f"{n / GIB:.3g}" if n >= 0.01 * GIB else "<0.01"


def available_bytes() -> int | None:
    """Memory available to a new allocation: ``MemAvailable`` of ``/proc/meminfo`` (Linux), else
    the free physical pages (``os.sysconf``), else None (unknown: nothing is refused)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def count_starts(law: Law, starts: Any) -> int | None:
    """How many starts a spec of :func:`jaxlaws.starts.make` asks for, without making them;
    None for explicit starts (already in memory) or a spec ``make`` will refuse."""
    if law.n_params == 0:
        return 1
    if isinstance(starts, bool):
        return None
    if isinstance(starts, str):
        if starts == "grid":
            grids = [p.grid for p in law.params.values()]
            return math.prod(len(g) for g in grids) if all(g is not None for g in grids) else None
        return int(starts) if starts.isdigit() else None
    if isinstance(starts, (int, np.integer)):
        return int(starts)
    if isinstance(starts, tuple) and starts and isinstance(starts[0], str):
        n = starts[2] if starts[0] == "around" and len(starts) > 2 else starts[1] if len(starts) == 2 else None
        return n if isinstance(n, int) and not isinstance(n, bool) else None
    return None


def request(law: Law, n_points: int, starts: int, resamples: int = 1, rows: int | None = None,
            devices: int | None = None) -> Estimate:
    """The estimate for ``starts`` starts on each of ``resamples`` fits of ``n_points`` points
    (``rows`` rows of data: default 1 for one fit, one per fit otherwise)."""
    if devices is None:
        import jax

        devices = jax.device_count()
    return Estimate(lanes=int(starts) * int(resamples), params=law.n_params,
                    rows=(1 if resamples <= 1 else int(resamples)) if rows is None else int(rows),
                    residuals=int(n_points) * law.n_outputs, devices=int(devices), available=available_bytes())


def chunked(law: Law, n_points: int, starts: int, resamples: int, chunk: int, devices: int | None = None) -> Estimate:
    """The estimate for a bootstrap of ``resamples`` resamples run ``chunk`` at a time (a run
    directory, :mod:`jaxlaws.runs`): one chunk's lanes and rows in flight, and the results kept
    for every resample (its best point internal and natural, objective and flags, and each
    lane's objective, float64, and status, int8)."""
    est = request(law, n_points, starts, resamples=min(int(chunk), int(resamples)), devices=devices)
    kept = int(resamples) * (2 * 8 * law.n_params + 3 * 8 + int(starts) * (8 + 1))
    return dataclasses.replace(est, kept=kept)


def check(est: Estimate, what: str, fewer: str) -> Estimate:
    """``est``, or :class:`JaxlawsError` with the numbers when it cannot fit; ``what`` names the
    request (``"--starts 10000000"``, ``"10000000 starts"``), ``fewer`` what to lower."""
    if not est.fits:
        kept = f", results kept {gib(est.kept)} GiB" if est.kept else ""
        raise JaxlawsError(f"{what} needs ~{gib(est.total_bytes)} GiB ({est.lanes:,} lanes: lane results "
                           f"{gib(est.lane_bytes)} GiB, data rows {gib(est.row_bytes)} GiB{kept}), "
                           f"{gib(est.available)} GiB available; use fewer {fewer}")
    return est
