"""Solvers sharing one protocol (``lm`` default, ``lbfgs``, ``adam``), the loop they run under and
the :class:`Status` each lane ends with."""

from __future__ import annotations

import dataclasses
from typing import Any

from jaxlaws.errors import JaxlawsError
from jaxlaws.solvers import iterate
from jaxlaws.solvers.base import Objective, Solver
from jaxlaws.solvers.first_order import LBFGS, Adam
from jaxlaws.solvers.lm import LM
from jaxlaws.solvers.status import Status

_BY_NAME = {"lm": LM, "lbfgs": LBFGS, "adam": Adam}


def _options_of(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)] if dataclasses.is_dataclass(cls) else []


def get(spec: Any = "lm", **options: Any) -> Solver:
    """A solver from its name (``lm``, ``lbfgs``, ``adam``) or a solver object, with ``options``
    applied (``max_steps``, tolerances, ...); an option the solver lacks is refused by name."""
    if isinstance(spec, str):
        if spec not in _BY_NAME:
            raise JaxlawsError(f"unknown solver {spec!r}; choose from {', '.join(_BY_NAME)}")
        spec = _BY_NAME[spec]()
    if not options:
        return spec
    known = _options_of(type(spec))
    if not known:
        raise JaxlawsError(f"solver options {sorted(options)} cannot be applied to a {type(spec).__name__} "
                           "(not a dataclass); set them on the solver object instead")
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise JaxlawsError(f"unknown option(s) {', '.join(unknown)} for solver {type(spec).__name__.lower()}; "
                           f"it takes {', '.join(known)}")
    return dataclasses.replace(spec, **options)


__all__ = ["LM", "LBFGS", "Adam", "Objective", "Solver", "Status", "get", "iterate"]
