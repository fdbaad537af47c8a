"""Solvers sharing one protocol (``lm`` default, ``lbfgs``, ``adam``), the loop they run under and
the :class:`Status` each lane ends with."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from jaxlaws.errors import JaxlawsError
from jaxlaws.solvers import iterate
from jaxlaws.solvers.base import Objective, Solver
from jaxlaws.solvers.first_order import LBFGS, Adam
from jaxlaws.solvers.lm import LM
from jaxlaws.solvers.status import Status

_BY_NAME = {"lm": LM, "lbfgs": LBFGS, "adam": Adam}


def _options_of(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)] if dataclasses.is_dataclass(cls) else []


def _check_options(solver: Any) -> None:
    """Each setting of a dataclass solver has its default's type and a usable value: a count
    (``max_steps``, ``patience``, ``memory_size``) an int >= 1 (0 steps cannot reach any
    tolerance, and the failure would be blamed on the data), a tolerance, damping or rate a
    finite float >= 0. A setting a user typed wrong is refused here, before any trace."""
    name = type(solver).__name__.lower()
    for f in dataclasses.fields(solver):
        v, default = getattr(solver, f.name), f.default
        if isinstance(default, bool) or not isinstance(default, (int, float)):
            continue
        if isinstance(default, int):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise JaxlawsError(f"{f.name} must be an int >= 1 for solver {name}, got {v!r}")
        elif isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                or not (math.isfinite(v) and v >= 0):
            raise JaxlawsError(f"{f.name} must be a finite number >= 0 for solver {name}, got {v!r}")


def get(spec: Any = "lm", **options: Any) -> Solver:
    """A solver from its name (``lm``, ``lbfgs``, ``adam``) or a solver object, with ``options``
    applied (``max_steps``, tolerances, ...); an option the solver lacks is refused by name."""
    if isinstance(spec, str):
        if spec not in _BY_NAME:
            raise JaxlawsError(f"unknown solver {spec!r}; choose from {', '.join(_BY_NAME)}")
        spec = _BY_NAME[spec]()
    if not options:
        if dataclasses.is_dataclass(spec):
            _check_options(spec)
        return spec
    known = _options_of(type(spec))
    if not known:
        raise JaxlawsError(f"solver options {sorted(options)} cannot be applied to a {type(spec).__name__} "
                           "(not a dataclass); set them on the solver object instead")
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise JaxlawsError(f"unknown option(s) {', '.join(unknown)} for solver {type(spec).__name__.lower()}; "
                           f"it takes {', '.join(known)}")
    spec = dataclasses.replace(spec, **options)
    _check_options(spec)
    return spec


__all__ = ["LM", "LBFGS", "Adam", "Objective", "Solver", "Status", "get", "iterate"]
