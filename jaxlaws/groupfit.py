"""Per-group fits of one law, all groups in one engine call.

Group g's fit is the pooled dataset with point weights 1{group == g}: every
group's lanes share one shape (ragged groups are just different weight
vectors, no padding), so all groups x starts run as one batched computation,
like a bootstrap whose "resamples" are the groups.
"""

from __future__ import annotations

import dataclasses
import time
import warnings as warnings_mod
from typing import Any

import numpy as np

from jaxlaws import engine, resample, starts as starts_mod
from jaxlaws.diagnostics import Diagnostics, diagnose_or_explain
from jaxlaws.errors import JaxlawsError, JaxlawsWarning
from jaxlaws.fit import solver_name
from jaxlaws.law import Law
from jaxlaws.problem import Batch, make_problem
from jaxlaws.solvers import Status, get as get_solver


@dataclasses.dataclass(frozen=True)
class GroupFit:
    """One fit per group.

    Attributes:
      law: the law.
      labels: ``[G]`` group labels.
      params: ``[G, P]`` natural-unit best free parameters per group (:meth:`params_of` adds
        the fixed ones).
      objective: ``[G]`` of each group's best lane; ``status``: ``[G]`` its :class:`~jaxlaws.Status`.
      n_points: ``[G]`` points per group.
      lane_status: ``[G, S]`` every lane's status.
      timing: ``{"compile_s", "run_s"}``.
      device: where it ran.
      loss, solver, precision: what was minimised, how, in which precision policy.
      diagnostics: ``[G]`` each group's :class:`~jaxlaws.diagnostics.Diagnostics` at its best
        lane (bounds, standard errors, identifiability), None for a group with no fit.
    """

    law: Law
    labels: np.ndarray
    params: np.ndarray
    objective: np.ndarray
    status: np.ndarray
    n_points: np.ndarray
    lane_status: np.ndarray
    timing: dict[str, float]
    diagnostics: tuple[Diagnostics | None, ...]
    device: str = ""
    loss: str = ""
    solver: str = ""
    precision: str = ""

    @property
    def converged(self) -> np.ndarray:
        return Status.converged_mask(self.status)

    @property
    def failed(self) -> np.ndarray:
        """``[G]`` bool: every lane of the group failed."""
        return Status.failed_mask(self.status) | ~np.isfinite(self.objective)

    @property
    def status_counts(self) -> dict[str, int]:
        """Status name -> groups whose best lane ended so."""
        return Status.counts(self.status)

    @property
    def warnings(self) -> list[str]:
        """One line per concern across groups, naming the groups (the first five)."""
        def named(groups: list[str]) -> str:
            return ", ".join(groups[:5]) + (f" and {len(groups) - 5} more" if len(groups) > 5 else "")

        out = []
        bad = [str(g) for g, c in zip(self.labels, self.converged) if not c]
        if bad:
            out.append(f"{len(bad)} of {len(self.labels)} groups did not converge ({named(bad)})")
        at_bound: dict[str, list[str]] = {}
        undetermined: list[str] = []
        for g, d in zip(self.labels, self.diagnostics):
            if d is None:
                continue
            for k, side in d.at_bound.items():
                at_bound.setdefault(f"{k} at its {side} bound", []).append(str(g))
            if any(not np.isfinite(v) for k, v in d.se.items() if k not in d.at_bound):
                undetermined.append(str(g))
        for what, groups in at_bound.items():
            out.append(f"{what} in {len(groups)} of {len(self.labels)} groups ({named(groups)}): "
                       "its standard error there is not defined")
        if undetermined:
            out.append(f"the data of {len(undetermined)} groups do not determine every parameter ({named(undetermined)}); "
                       "see each group's diagnostics")
        return out

    @property
    def fixed(self) -> dict[str, float]:
        """name -> value of the parameters held fixed in every group."""
        return self.law.fixed

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready summary: one entry per group, and the counts over groups."""
        groups = []
        for i, label in enumerate(self.labels):
            d = self.diagnostics[i]
            groups.append({
                "group": label.item() if hasattr(label, "item") else label,
                "params": self.params_of(label), "objective": float(self.objective[i]),
                "status": Status(int(self.status[i])).label, "n_points": int(self.n_points[i]),
                "lane_status_counts": Status.counts(self.lane_status[i]),
                "se": None if d is None else {**d.se, **{k: 0.0 for k in self.fixed}},
                "at_bound": {} if d is None else dict(d.at_bound),
            })
        return {"law": self.law.name, "fixed": self.fixed, "loss": self.loss, "solver": self.solver,
                "precision": self.precision, "n_groups": len(self.labels),
                "objective": float(np.sum(self.objective)), "status_counts": self.status_counts,
                "lane_status_counts": Status.counts(self.lane_status), "warnings": self.warnings,
                "groups": groups, "timing": dict(self.timing), "device": self.device}

    def report(self) -> str:
        """Every group on one screen (the first 12 parameters), warnings first."""
        lines = [f"WARNING: {w}" for w in self.warnings]
        lines.append(f"{self.law.name} fitted to each of {len(self.labels)} groups, loss {self.loss}, "
                     f"solver {self.solver}, {self.lane_status.shape[1]} starts per group, {self.precision} on {self.device}")
        if self.fixed:
            lines.append("  fixed: " + ", ".join(f"{k} = {v:g}" for k, v in self.fixed.items()))
        names = list(self.law.params)[:12]
        wide = max(5, *(len(str(g)) for g in self.labels))
        lines.append("  " + " ".join([f"{'group':<{wide}s}", *(f"{c:>11s}" for c in [*names, "objective"]),
                                      "  status"]))
        for i, g in enumerate(self.labels):
            vals = [f"{self.params[i, j]:>11.5g}" for j in range(len(names))]
            lines.append("  " + " ".join([f"{str(g):<{wide}s}", *vals, f"{self.objective[i]:>11.5g}",
                                          f"  {Status(int(self.status[i])).label}"]))
        counts = ", ".join(f"{k} {v}" for k, v in self.status_counts.items())
        lines.append(f"groups by best lane: {counts}")
        lines.append(f"time: compile {self.timing['compile_s']:.2f} s, run {self.timing['run_s']:.2f} s")
        return "\n".join(lines)

    def params_of(self, label: Any) -> dict[str, float]:
        i = int(np.flatnonzero(self.labels == label)[0]) if np.any(self.labels == label) else -1
        if i < 0:
            raise JaxlawsError(f"no group {label!r}; groups are {list(self.labels)}")
        return self.law.values(self.params[i])

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
               *, chunk: int | None = None, precision: str = "mixed", dtype: Any = None, throw: bool = False,
               **solver_options: Any) -> GroupFit:
    """Fit ``law`` separately to every group of ``data`` (which needs ``groups``) in one batched call.

    The arguments are :func:`jaxlaws.fit`'s, with the same precision policy (``mixed`` by
    default: every lane judged by its float64 polish). ``throw`` raises when some group's best
    lane did not converge (default: a :class:`~jaxlaws.JaxlawsWarning` naming the groups).
    """
    prob = make_problem(law, data, loss)
    law, data = prob.law, prob.data
    if data.groups is None:
        raise JaxlawsError(f"dataset {data.name!r} has no groups")
    plan = resample.PerGroup(data.groups)
    labels, counts = plan.labels(prob)
    if np.any(counts * law.n_outputs < law.n_params):
        g = labels[int(np.argmin(counts))]
        raise JaxlawsError(f"group {g!r} has {counts.min()} points, fewer than law {law.name!r}'s {law.n_params} parameters")
    theta0 = starts_mod.make(law, starts, seed=seed)
    slv = get_solver(solver, **solver_options)
    options = engine.Options.make(precision, dtype, chunk)
    rows = plan.rows(prob)
    G, S = len(labels), len(theta0)
    batch = Batch.tiled(prob, theta0, rows.obs, rows.weights, G)
    t = time.perf_counter()
    lanes = engine.solve(batch, slv, options)
    best, failed = lanes.pick(batch.fit_index, G)
    status = lanes.status[best]
    params = np.asarray(law.to_natural(lanes.theta[best]))
    params[failed] = np.nan  # a group whose every lane failed has no fit (predict gives NaN there)
    run_s = time.perf_counter() - t - lanes.compile_s
    diags = tuple(None if failed[g] else diagnose_or_explain(law, prob.loss, prob.inputs, prob.obs, rows.weights[g],
                                                              lanes.theta[best[g]]) for g in range(G))
    gf = GroupFit(law=law, labels=labels, params=params,
                  objective=np.where(failed, np.inf, lanes.value[best]), status=status, n_points=counts,
                  lane_status=lanes.status.reshape(G, S), timing={"compile_s": lanes.compile_s, "run_s": run_s},
                  diagnostics=diags, device=engine.device_name(), loss=prob.loss.spec, solver=solver_name(slv),
                  precision=options.precision.value)
    bad = [str(g) for g, c in zip(gf.labels, gf.converged) if not c]
    if bad:
        msg = (f"fit_groups of {law.name!r}: the best lane of {len(bad)} of {G} groups did not converge "
               f"({', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''})")
        if throw:
            raise JaxlawsError(msg)
        warnings_mod.warn(msg, JaxlawsWarning, stacklevel=2)
    return gf
