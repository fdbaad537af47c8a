"""Per-group fits of one law, all groups in one engine call.

Group g's fit is the pooled dataset with point weights 1{group == g}: every
group's lanes share one shape (ragged groups are just different weight
vectors, no padding), so all groups x starts run as one batched computation,
like a bootstrap whose "resamples" are the groups.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from jaxlaws import engine, starts as starts_mod
from jaxlaws.errors import JaxlawsError
from jaxlaws.fit import make_problem
from jaxlaws.law import Law
from jaxlaws.solvers import get as get_solver


@dataclasses.dataclass(frozen=True)
class GroupFit:
    """One fit per group.

    Attributes:
      law: the law.
      labels: ``[G]`` group labels.
      params: ``[G, P]`` natural-unit best parameters per group.
      objective, converged, failed: ``[G]`` of each group's best lane.
      n_points: ``[G]`` points per group.
    """

    law: Law
    labels: np.ndarray
    params: np.ndarray
    objective: np.ndarray
    converged: np.ndarray
    failed: np.ndarray
    n_points: np.ndarray

    def params_of(self, label: Any) -> dict[str, float]:
        i = int(np.flatnonzero(self.labels == label)[0]) if np.any(self.labels == label) else -1
        if i < 0:
            raise JaxlawsError(f"no group {label!r}; groups are {list(self.labels)}")
        return {k: float(self.params[i, j]) for j, k in enumerate(self.law.params)}

    def predict(self, inputs: Any, groups: Any) -> np.ndarray:
        """Predictions at ``inputs`` (name -> ``[n]``), each point with its group's parameters."""
        groups = np.asarray(groups)
        n = len(groups)
        out = None
        for i, g in enumerate(self.labels):
            m = groups == g
            if not m.any():
                continue
            pred = np.asarray(self.law.predict(self.params_of(g), {k: np.asarray(v)[m] for k, v in inputs.items()}))
            if out is None:
                out = np.full((n,) + pred.shape[1:], np.nan)
            out[m] = pred
        unknown = ~np.isin(groups, self.labels)
        if unknown.any():
            raise JaxlawsError(f"points of group {groups[unknown][0]!r} have no fitted group")
        return out


def fit_groups(law: Any, data: Any, loss: Any = "mse", starts: Any = 64, solver: Any = "lm", seed: int = 0,
               *, chunk: int | None = None, **solver_options: Any) -> GroupFit:
    """Fit ``law`` separately to every group of ``data`` (which needs ``groups``) in one batched call."""
    prob = make_problem(law, data, loss)
    law, data = prob.law, prob.data
    if data.groups is None:
        raise JaxlawsError(f"dataset {data.name!r} has no groups")
    labels, inv = np.unique(data.groups, return_inverse=True)
    G = len(labels)
    counts = np.bincount(inv, minlength=G)
    if np.any(counts * law.n_outputs < law.n_params):
        g = labels[int(np.argmin(counts))]
        raise JaxlawsError(f"group {g!r} has {counts.min()} points, fewer than law {law.name!r}'s {law.n_params} parameters")
    theta0 = starts_mod.make(law, starts, seed=seed)
    S = len(theta0)
    W = prob.residual_weights((inv[None, :] == np.arange(G)[:, None]).astype(np.float64)) * prob.weights[None]
    slv = get_solver(solver, **solver_options)
    lanes = engine.solve(law, prob.loss, slv, data.inputs, prob.obs[None], W, np.tile(theta0, (G, 1)),
                         np.zeros(G * S, np.int32), np.repeat(np.arange(G), S), chunk=chunk)
    val = np.where(lanes.failed | ~np.isfinite(lanes.value), np.inf, lanes.value).reshape(G, S)
    best = np.arange(G) * S + np.argmin(val, axis=1)
    return GroupFit(law=law, labels=labels, params=np.asarray(law.to_natural(lanes.theta[best])),
                    objective=lanes.value[best], converged=lanes.converged[best],
                    failed=~np.isfinite(val.min(axis=1)), n_points=counts)
