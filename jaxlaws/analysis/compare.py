"""Model comparison: fit several laws to one dataset, rank by held-out error and by AIC/BIC.

Held-out scores on the test split, pooled over groups:
R^2 = 1 - MSE / Var(test targets), NMSE = MSE / Var(test targets), in the
target's natural units. AIC and BIC on the train split use a Gaussian
likelihood of the residuals in the loss's space (log residuals for ``-log``
losses): n ln(RSS/n) + 2k and n ln(RSS/n) + k ln n, with n the number of
residuals and k the number of parameters (times groups for per-group fits), as
:func:`jaxlaws.diagnostics.information` computes them (lmfit's convention: -2 ln L + 2k
less the constant n (ln 2pi + 1)).
For grouped data every group gets its own fit (one batched call per law).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from jaxlaws.datasets import Dataset, load as load_dataset
from jaxlaws.diagnostics import information
from jaxlaws.errors import JaxlawsError
from jaxlaws.fit import fit
from jaxlaws.problem import make_problem
from jaxlaws.groupfit import fit_groups
from jaxlaws.laws import get as get_law


@dataclasses.dataclass(frozen=True)
class Score:
    law: str
    n_params: int
    train_objective: float
    test_r2: float
    test_nmse: float
    aic: float
    bic: float
    fit_s: float
    n_failed: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _information(prob: Any, pred_obs: np.ndarray, k: int) -> tuple[float, float]:
    # The problem's residual weights are all 1 here (score() passes none), so this is the
    # unweighted n ln(RSS/n) + 2k and n ln(RSS/n) + k ln n of the module docstring.
    _, aic, bic = information(pred_obs - prob.obs, prob.weights, k)
    return aic, bic


def score(law: Any, data: Any, loss: Any = "mse", starts: Any = 256, solver: Any = "lm", seed: int = 0,
          **options: Any) -> Score:
    """Fit ``law`` on ``data``'s train split and score it on its test split."""
    law = get_law(law)
    if isinstance(data, str):
        data = load_dataset(data)
    if not isinstance(data, Dataset):
        raise JaxlawsError("data must be a Dataset or a bundled dataset name")
    train, test = data.split("train"), data.split("test")
    prob = make_problem(law, train, loss)
    t = time.perf_counter()
    if train.groups is not None:
        gf = fit_groups(law, train, loss=loss, starts=starts, solver=solver, seed=seed, **options)
        objective, k, n_failed = float(np.sum(gf.objective)), law.n_params * len(gf.labels), int(gf.failed.sum())
        pred_train = gf.predict(train.inputs, train.groups)
        pred_test = gf.predict(test.inputs, test.groups)
    else:
        res = fit(law, train, loss=loss, starts=starts, solver=solver, seed=seed, **options)
        objective, k, n_failed = res.objective, law.n_params, res.n_failed
        pred_train = res.predict(train.inputs)
        pred_test = res.predict(test.inputs)
    fit_s = time.perf_counter() - t
    pred_train = np.asarray(pred_train).reshape(train.y.shape)
    pred_test = np.asarray(pred_test).reshape(test.y.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        aic, bic = _information(prob, prob.to_obs(pred_train), k)
    mse = float(np.mean((pred_test - test.y) ** 2))
    var = float(np.var(test.y))
    return Score(law.name, k, objective, 1.0 - mse / var, mse / var, float(aic), float(bic), fit_s, n_failed)


def compare(laws: Sequence[Any], data: Any, loss: Any = "mse", starts: Any = 256, solver: Any = "lm",
            seed: int = 0, **options: Any) -> list[Score]:
    """Scores of every law on ``data``, best held-out R^2 first."""
    if not laws:
        raise JaxlawsError("compare needs at least one law")
    scores = [score(law, data, loss=loss, starts=starts, solver=solver, seed=seed, **options) for law in laws]
    return sorted(scores, key=lambda s: -s.test_r2 if np.isfinite(s.test_r2) else np.inf)


def table(scores: Sequence[Score]) -> str:
    """A markdown table of scores."""
    lines = ["| law | k | train objective | test R² | test NMSE | AIC | BIC | fit s |",
             "|---|---|---|---|---|---|---|---|"]
    for s in scores:
        lines.append(f"| {s.law} | {s.n_params} | {s.train_objective:.5g} | {s.test_r2:.4f} | {s.test_nmse:.4f} "
                     f"| {s.aic:.1f} | {s.bic:.1f} | {s.fit_s:.2f} |")
    return "\n".join(lines)
