"""Predictions at new inputs, with bootstrap bands for extrapolation.

The band is a confidence band for the law's value (the replicates' quantiles of
the prediction), not a prediction interval for a new noisy observation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from jaxlaws.bootstrap import BootstrapResult
from jaxlaws.errors import JaxlawsError
from jaxlaws.fit import FitResult


@dataclasses.dataclass(frozen=True)
class Prediction:
    """``estimate`` (at the full-data fit), ``lo``/``hi`` band (or None without a bootstrap),
    ``samples`` ``[B, k]`` replicates (or None), ``level``."""

    estimate: np.ndarray
    lo: np.ndarray | None
    hi: np.ndarray | None
    samples: np.ndarray | None
    level: float | None


def predict(result: FitResult | BootstrapResult, inputs: Mapping[str, Any], level: float = 0.95,
            method: str = "percentile") -> Prediction:
    """Predict at ``inputs`` (name -> ``[k]``); with a BootstrapResult, also the ``level`` band."""
    law = result.law
    missing = [k for k in law.inputs if k not in inputs]
    if missing:
        raise JaxlawsError(f"law {law.name!r} needs inputs {list(law.inputs)}; missing {missing}")
    x = {k: np.atleast_1d(np.asarray(inputs[k], np.float64)) for k in law.inputs}
    if isinstance(result, FitResult):
        return Prediction(np.asarray(result.predict(x)), None, None, None, None)
    s = result.derive(lambda p: law.predict(p, x).reshape(-1))
    lo, hi = s.ci(level, method)
    return Prediction(s.estimate, lo, hi, s.samples, level)
