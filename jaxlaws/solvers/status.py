"""How a lane ended: one outcome per lane, each with a message (optimistix's ``RESULTS`` is the model).

Codes are small integers so that they travel through compiled programs as an ``int32`` per
lane; :class:`Status` turns them back into names and messages on the host. ``converged`` means a
tolerance was met, nothing else: a lane that stalled or ran out of steps is not converged,
whatever its objective.
"""

from __future__ import annotations

import enum
from typing import Any

import numpy as np


class Status(enum.IntEnum):
    """The outcome of one lane (one start on one resample)."""

    RUNNING = 0
    CONVERGED_OBJECTIVE = 1
    CONVERGED_STEP = 2
    CONVERGED_GRADIENT = 3
    STALLED = 4
    MAX_STEPS = 5
    NONFINITE_START = 6
    NONFINITE = 7
    FIXED = 8
    CULLED_TRAILING = 9
    CULLED_JOINED = 10

    @property
    def message(self) -> str:
        return _MESSAGES[self]

    @property
    def converged(self) -> bool:
        return self in CONVERGED

    @property
    def failed(self) -> bool:
        """The lane has no usable end point (the objective was never finite, or became non-finite)."""
        return self in FAILED

    @property
    def culled(self) -> bool:
        """Racing stopped the lane early (:mod:`jaxlaws.engine.race`): neither converged nor failed;
        its point and objective are where it was stopped."""
        return self in CULLED

    @property
    def label(self) -> str:
        """The lower-case name used as a key in JSON and counts, e.g. ``"converged_objective"``."""
        return self.name.lower()

    @staticmethod
    def counts(codes: Any) -> dict[str, int]:
        """name -> how many lanes of ``codes`` ended so, in enum order, zeros left out."""
        codes = np.asarray(codes).reshape(-1)
        found = np.bincount(codes.astype(np.int64), minlength=len(Status)) if codes.size else np.zeros(len(Status), int)
        return {s.label: int(found[s]) for s in Status if found[s]}

    @staticmethod
    def converged_mask(codes: Any) -> np.ndarray:
        return np.isin(np.asarray(codes), [int(s) for s in CONVERGED])

    @staticmethod
    def failed_mask(codes: Any) -> np.ndarray:
        return np.isin(np.asarray(codes), [int(s) for s in FAILED])

    @staticmethod
    def culled_mask(codes: Any) -> np.ndarray:
        return np.isin(np.asarray(codes), [int(s) for s in CULLED])


_MESSAGES = {
    Status.RUNNING: "still running (not finished)",
    Status.CONVERGED_OBJECTIVE: "converged: the Gauss-Newton decrement (the model's estimate of f - f*) fell below "
                                "ftol * f, or a step was rejected within the objective's rounding error",
    Status.CONVERGED_STEP: "converged: the step fell below xtol in scaled units",
    Status.CONVERGED_GRADIENT: "converged: the projected gradient fell below gtol",
    Status.STALLED: "stalled: no step lowers the objective (damping or trust radius exhausted) "
                    "although no tolerance was met",
    Status.MAX_STEPS: "stopped at the step limit (max_steps) before meeting a tolerance",
    Status.NONFINITE_START: "failed: the objective is not finite at the start (data outside the law's domain?)",
    Status.NONFINITE: "failed: the objective became non-finite during the run",
    Status.FIXED: "nothing to fit: every parameter is fixed, the objective is evaluated there",
    Status.CULLED_TRAILING: "stopped early (racing): after a racing round its objective trailed the best lane of "
                            "its fit by more than the race's margin",
    Status.CULLED_JOINED: "stopped early (racing): after a racing round its point lay within the race's join "
                          "tolerance of the best lane of its fit (the same basin, already being followed)",
}
# FIXED counts as converged: with no free parameter the point is the exact optimum of the empty search.
CONVERGED = frozenset({Status.CONVERGED_OBJECTIVE, Status.CONVERGED_STEP, Status.CONVERGED_GRADIENT, Status.FIXED})
FAILED = frozenset({Status.NONFINITE_START, Status.NONFINITE})
# Culled lanes are neither converged nor failed: they were stopped on purpose, mid-run.
CULLED = frozenset({Status.CULLED_TRAILING, Status.CULLED_JOINED})
