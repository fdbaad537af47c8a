"""Solvers sharing one init/step protocol: ``lm`` (default), ``lbfgs``, ``adam``."""

from __future__ import annotations

from typing import Any

from jaxlaws.errors import JaxlawsError
from jaxlaws.solvers.base import Lane, Objective, Solver
from jaxlaws.solvers.first_order import LBFGS, Adam
from jaxlaws.solvers.lm import LM

_BY_NAME = {"lm": LM, "lbfgs": LBFGS, "adam": Adam}


def get(spec: Any = "lm", **options: Any) -> Solver:
    """A solver from its name (``lm``, ``lbfgs``, ``adam``) or a solver object."""
    if not isinstance(spec, str):
        return spec
    if spec not in _BY_NAME:
        raise JaxlawsError(f"unknown solver {spec!r}; choose from {', '.join(_BY_NAME)}")
    return _BY_NAME[spec](**options)


__all__ = ["LM", "LBFGS", "Adam", "Lane", "Objective", "Solver", "get"]
