"""Model comparison: fit laws on a dataset's train split and score them on its test split, by
the protocol of SLDBench (Lin et al., "Can Language Models Discover Scaling Laws?",
arXiv:2507.21184), and by AIC/BIC on the train split.

The held-out protocol (:func:`metrics`), as the benchmark computes it:

* fit on the train split, one fit per group where the data are grouped (all groups in one
  batched call), and predict every test point with its group's parameters;
* pool the test points over groups; for each output ``j`` (a law with ``k`` outputs has
  ``k``), over the pooled test targets ``y_j`` and predictions ``p_j``, in the target's natural
  units:

  - ``NMSE_j = mean((y_j - p_j)^2) / Var(y_j)`` with the population variance (``ddof=0``),
  - ``NMAE_j = mean|y_j - p_j| / mean|y_j - mean(y_j)|``;

* ``R^2 = 1 - mean_j NMSE_j`` (for one output, ``1 - NMSE``); the reported NMSE and NMAE are
  the means over outputs, and every per-output value is kept;
* a prediction that is NaN or infinite anywhere is a failure: ``R^2 = -1``, NMSE and NMAE NaN
  (the benchmark's score for a law that does not evaluate).

AIC and BIC on the train split use a Gaussian likelihood of the residuals in the loss's space
(log residuals for ``-log`` losses): n ln(RSS/n) + 2k and n ln(RSS/n) + k ln n, with n the
number of residuals and k the number of *free* parameters (times groups for per-group fits;
parameters a law holds fixed are not counted), as :func:`jaxlaws.diagnostics.information`
computes them (lmfit's convention: -2 ln L + 2k less the constant n (ln 2pi + 1)).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from jaxlaws.datasets import Dataset, coerce as coerce_dataset
from jaxlaws.diagnostics import information
from jaxlaws.errors import JaxlawsError
from jaxlaws.fit import FitResult, fit
from jaxlaws.groupfit import GroupFit, fit_groups
from jaxlaws.laws import get as get_law
from jaxlaws.problem import make_problem
from jaxlaws.solvers import Status

FAILED_R2 = -1.0  # the benchmark's score for a law whose predictions are not all finite


@dataclasses.dataclass(frozen=True)
class Metrics:
    """Held-out scores by the benchmark's protocol (see the module docstring).

    Attributes:
      r2: ``1 - mean_j NMSE_j``; ``FAILED_R2`` (-1) when ``failed``.
      nmse, nmae: the means over outputs (NaN when ``failed``).
      nmse_per_output, nmae_per_output: ``[k]`` per output.
      n_test: test points pooled.
      failed: some prediction is NaN or infinite.
    """

    r2: float
    nmse: float
    nmae: float
    nmse_per_output: tuple[float, ...]
    nmae_per_output: tuple[float, ...]
    n_test: int
    failed: bool


def metrics(y: Any, pred: Any) -> Metrics:
    """The benchmark's held-out scores of predictions ``pred`` of targets ``y`` (``[n]`` or
    ``[n, k]``, natural units, pooled over groups)."""
    y = np.asarray(y, np.float64)
    p = np.asarray(pred, np.float64)
    if p.shape != y.shape:
        raise JaxlawsError(f"predictions have shape {p.shape}, targets {y.shape}")
    if y.ndim not in (1, 2) or y.shape[0] == 0:
        raise JaxlawsError(f"targets must be [n] or [n, k] with n >= 1, got shape {y.shape}")
    y2, p2 = (y[:, None], p[:, None]) if y.ndim == 1 else (y, p)
    k = y2.shape[1]
    if not np.all(np.isfinite(p2)):
        nan = (float("nan"),) * k
        return Metrics(FAILED_R2, float("nan"), float("nan"), nan, nan, y2.shape[0], True)
    with np.errstate(divide="ignore", invalid="ignore"):
        nmse = np.mean((y2 - p2) ** 2, axis=0) / np.var(y2, axis=0)
        nmae = np.mean(np.abs(y2 - p2), axis=0) / np.mean(np.abs(y2 - y2.mean(axis=0)), axis=0)
    return Metrics(float(1.0 - np.mean(nmse)), float(np.mean(nmse)), float(np.mean(nmae)),
                   tuple(map(float, nmse)), tuple(map(float, nmae)), y2.shape[0], False)


@dataclasses.dataclass(frozen=True)
class Score:
    """One law on one dataset: held-out metrics, train fit, information criteria.

    ``n_params`` counts free parameters times groups; ``status`` is the best lane's status
    (the worst group's for per-group fits: the first of stalled/max_steps/failed found);
    ``n_failed`` counts failed lanes (single fit) or groups whose every lane failed.
    """

    law: str
    n_params: int
    train_objective: float
    test_r2: float
    test_nmse: float
    test_nmae: float
    nmse_per_output: tuple[float, ...]
    nmae_per_output: tuple[float, ...]
    failed: bool
    aic: float
    bic: float
    fit_s: float
    n_failed: int
    status: str
    fixed: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _information(prob: Any, pred_obs: np.ndarray, k: int) -> tuple[float, float]:
    # The problem's residual weights are all 1 here (score() passes none), so this is the
    # unweighted n ln(RSS/n) + 2k and n ln(RSS/n) + k ln n of the module docstring.
    _, aic, bic = information(pred_obs - prob.obs, prob.weights, k)
    return aic, bic


def _split(data: Any) -> tuple[Dataset, Dataset]:
    data = coerce_dataset(data)  # a Dataset, a bundled name, a DataFrame or a mapping of columns
    return data.split("train"), data.split("test")


def predict_split(fitted: FitResult | GroupFit, split: Dataset) -> np.ndarray:
    """Predictions of a fit (or per-group fit) at every point of ``split``, shaped like its
    targets: each point with its group's parameters for a :class:`GroupFit`."""
    if isinstance(fitted, GroupFit):
        if split.groups is None:
            raise JaxlawsError(f"a per-group fit needs grouped data; {split.name!r} has no groups")
        pred = fitted.predict(split.inputs, split.groups)
    elif isinstance(fitted, FitResult):
        pred = fitted.predict(split.inputs)
    else:
        raise JaxlawsError(f"expected a FitResult or GroupFit, got {type(fitted).__name__}")
    return np.asarray(pred, np.float64).reshape(split.y.shape)


def evaluate(fitted: FitResult | GroupFit, data: Any) -> Metrics:
    """The benchmark's held-out scores of an existing fit on ``data``'s test split."""
    _, test = _split(data)
    return metrics(test.y, predict_split(fitted, test))


def _worst(status: np.ndarray) -> str:
    bad = [Status(int(s)) for s in status if not Status(int(s)).converged]
    return (bad[0] if bad else Status(int(status[0]))).label


def score(law: Any, data: Any, loss: Any = "mse", starts: Any = 256, solver: Any = "lm", seed: int = 0,
          **options: Any) -> Score:
    """Fit ``law`` on ``data``'s train split (per group where it has groups) and score it on
    its test split by the benchmark's protocol (module docstring)."""
    law = get_law(law)
    train, test = _split(data)
    prob = make_problem(law, train, loss)
    law = prob.law
    t = time.perf_counter()
    fitted: FitResult | GroupFit
    if train.groups is not None:
        fitted = fit_groups(law, train, loss=loss, starts=starts, solver=solver, seed=seed, **options)
        objective, k, n_failed = float(np.sum(fitted.objective)), law.n_params * len(fitted.labels), int(fitted.failed.sum())
        status = _worst(fitted.status)
    else:
        fitted = fit(law, train, loss=loss, starts=starts, solver=solver, seed=seed, **options)
        objective, k, n_failed = fitted.objective, law.n_params, fitted.n_failed
        status = fitted.best_status.label
    fit_s = time.perf_counter() - t
    pred_train = predict_split(fitted, train)
    with np.errstate(divide="ignore", invalid="ignore"):
        aic, bic = _information(prob, prob.to_obs(pred_train), k)
    m = metrics(test.y, predict_split(fitted, test))
    return Score(law.name, k, objective, m.r2, m.nmse, m.nmae, m.nmse_per_output, m.nmae_per_output, m.failed,
                 float(aic), float(bic), fit_s, n_failed, status, law.fixed)


def compare(laws: Sequence[Any], data: Any, loss: Any = "mse", starts: Any = 256, solver: Any = "lm",
            seed: int = 0, **options: Any) -> list[Score]:
    """Scores of every law on ``data``, best held-out R^2 first."""
    if not laws:
        raise JaxlawsError("compare needs at least one law")
    scores = [score(law, data, loss=loss, starts=starts, solver=solver, seed=seed, **options) for law in laws]
    return sorted(scores, key=lambda s: -s.test_r2 if np.isfinite(s.test_r2) else np.inf)


def table(scores: Sequence[Score]) -> str:
    """A markdown table of scores."""
    lines = ["| law | k | train objective | test R² | test NMSE | test NMAE | AIC | BIC | status | fit s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for s in scores:
        r2 = f"{s.test_r2:.4f}" + (" (failed)" if s.failed else "")
        lines.append(f"| {s.law} | {s.n_params} | {s.train_objective:.5g} | {r2} | {s.test_nmse:.4f} "
                     f"| {s.test_nmae:.4f} | {s.aic:.1f} | {s.bic:.1f} | {s.status} | {s.fit_s:.2f} |")
    return "\n".join(lines)
