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

from jaxlaws import engine, joint as joint_mod, resample, starts as starts_mod
from jaxlaws.diagnostics import Diagnostics, diagnose_or_explain, information
from jaxlaws.errors import JaxlawsError, JaxlawsWarning
from jaxlaws.fit import FitResult, fit, solver_name
from jaxlaws.law import Law
from jaxlaws.problem import Batch, Problem, make_problem
from jaxlaws.solvers import Status, get as get_solver


def _declared(law: Law, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` (one per parameter, free and fixed) in the law's declared order."""
    return {k: values[k] for k in law.order}


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
                "se": None if d is None else _declared(self.law, {**d.se, **{k: 0.0 for k in self.fixed}}),
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
               *, shared: Any = None, chunk: int | None = None, precision: str = "mixed", dtype: Any = None,
               throw: bool = False, devices: int | None = None, **solver_options: Any) -> GroupFit | SharedFit:
    """Fit ``law`` separately to every group of ``data`` (which needs ``groups``) in one batched call.

    The arguments are :func:`jaxlaws.fit`'s; the precision is ``mixed`` by default here (every
    lane judged by its float64 polish), not fit's ``auto``: a fit over groups has as many lanes
    as groups times starts, where mixed pays. ``throw`` raises when some group's best
    lane did not converge (default: a :class:`~jaxlaws.JaxlawsWarning` naming the groups).

    ``shared``: parameter names common to every group (the rest per group): the groups are
    fitted separately first (in one call), then together as one joint law
    (:mod:`jaxlaws.joint`) in one more call, started from the separate fits (shared values at
    their median) and from ``starts`` sampled joint starts; returns a :class:`SharedFit` with
    the comparison of shared against separate.
    """
    if shared is not None:
        prob = make_problem(law, data, loss)
        return _fit_shared(prob.law, prob.data, shared, loss, starts, solver, seed, throw,
                           {"chunk": chunk, "precision": precision, "dtype": dtype, "devices": devices}, solver_options)
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
    options = engine.Options.make(precision, dtype, chunk, devices=devices)
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
                  diagnostics=diags, device=engine.device_name(devices), loss=prob.loss.spec, solver=solver_name(slv),
                  precision=options.precision.value)
    bad = [str(g) for g, c in zip(gf.labels, gf.converged) if not c]
    if bad:
        msg = (f"fit_groups of {law.name!r}: the best lane of {len(bad)} of {G} groups did not converge "
               f"({', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''})")
        if throw:
            raise JaxlawsError(msg)
        warnings_mod.warn(msg, JaxlawsWarning, stacklevel=2)
    return gf


# ---- shared parameters ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Comparison:
    """Shared against separate fits of the same groups, on the pooled residuals.

    Gaussian information criteria in the loss's space (:func:`jaxlaws.diagnostics.information`:
    n ln(RSS/n) + 2k, + k ln n) for both, k counting free parameters (``k_shared`` =
    |S| + G (P - |S|), ``k_separate`` = G P). For squared losses (``mse``, ``mse-log``) also the
    nested-model tests of "the shared parameters are equal across groups", ``df`` = k_separate -
    k_shared: the likelihood ratio ``lr = n ln(RSS_shared / RSS_separate)`` against chi2(df),
    and the F test ``((RSS_shared - RSS_separate) / df) / (RSS_separate / (n - k_separate))``
    against F(df, n - k_separate) (exact for linear Gaussian models, better calibrated than the
    chi2 in small samples). For robust losses the tests are None: the likelihood they assume is
    not the one minimised; compare by AIC/BIC, or bootstrap.
    """

    n: int
    k_shared: int
    k_separate: int
    rss_shared: float
    rss_separate: float
    aic_shared: float
    aic_separate: float
    bic_shared: float
    bic_separate: float
    df: int
    lr: float | None
    lr_p: float | None
    f: float | None
    f_p: float | None
    note: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _tail_p(df1: int, df2: int, lr: float, f: float) -> tuple[float, float]:
    """Upper-tail p-values of chi2(df1) at ``lr`` and F(df1, df2) at ``f`` (float64)."""
    import jax
    from jax.scipy.special import betainc, gammaincc

    with jax.enable_x64(True):
        lr_p = float(gammaincc(df1 / 2.0, max(lr, 0.0) / 2.0))
        f_p = float(betainc(df2 / 2.0, df1 / 2.0, df2 / (df2 + df1 * max(f, 0.0)))) if df2 > 0 else float("nan")
    return lr_p, f_p


def _compare(prob_shared: Problem, res: FitResult, separate: GroupFit, data: Any) -> Comparison:
    r_shared = prob_shared.fitted(res.theta) - prob_shared.obs
    pred = np.asarray(separate.predict(data.inputs, data.groups), np.float64).reshape(data.y.shape)
    r_sep = prob_shared.to_obs(pred) - prob_shared.obs
    w = prob_shared.weights
    k0, k1 = prob_shared.law.n_params, separate.law.n_params * len(separate.labels)
    _, aic0, bic0 = information(r_shared, w, k0)
    _, aic1, bic1 = information(r_sep, w, k1)
    n = int(np.sum(w > 0))
    rss0, rss1 = float(np.sum(w * r_shared**2)), float(np.sum(w * r_sep**2))
    df, df2 = k1 - k0, n - k1
    squared = prob_shared.loss.delta is None
    if not squared:
        return Comparison(n, k0, k1, rss0, rss1, aic0, aic1, bic0, bic1, df, None, None, None, None,
                          f"no likelihood-ratio or F test for loss {prob_shared.loss.spec!r}: compare by AIC/BIC")
    lr = n * np.log(rss0 / rss1) if rss1 > 0 else float("inf")
    f = ((rss0 - rss1) / df) / (rss1 / df2) if rss1 > 0 and df2 > 0 else float("inf")
    note = "likelihood ratio against chi2(df); F test against F(df, n - k_separate)"
    if rss0 < rss1:
        note += ("; the shared fit has the lower RSS, so some separate fit missed its optimum "
                 "(negative statistics, p-values taken at 0)")
    lr_p, f_p = _tail_p(df, df2, float(lr), float(f))
    return Comparison(n, k0, k1, rss0, rss1, aic0, aic1, bic0, bic1, df, float(lr), lr_p, float(f), f_p, note)


@dataclasses.dataclass(frozen=True, eq=False)
class SharedFit:
    """Every group fitted in one joint fit, with the ``shared`` parameters common to all.

    Attributes:
      law: the per-group law; ``labels``: ``[G]`` groups; ``shared``: the shared names.
      fit: the joint :class:`~jaxlaws.FitResult` (law :func:`jaxlaws.joint.joint_law`: every
        lane, status, diagnostics and standard errors of the joint parameters).
      separate: the groups fitted separately (:class:`GroupFit`): the joint fit's first start
        and the alternative in ``comparison``.
      comparison: shared against separate (:class:`Comparison`).
      params: ``[G, P]`` each group's free parameters (shared ones equal in every row).
    """

    law: Law
    labels: np.ndarray
    shared: tuple[str, ...]
    fit: FitResult
    separate: GroupFit
    comparison: Comparison
    params: np.ndarray

    @property
    def objective(self) -> float:
        return self.fit.objective

    @property
    def status(self) -> Status:
        return self.fit.best_status

    @property
    def warnings(self) -> list[str]:
        return self.fit.warnings

    def params_of(self, label: Any) -> dict[str, float]:
        if not np.any(self.labels == label):
            raise JaxlawsError(f"no group {label!r}; groups are {list(self.labels)}")
        return self.law.values(self.params[int(np.flatnonzero(self.labels == label)[0])])

    def predict(self, inputs: Any, groups: Any) -> np.ndarray:
        """Predictions at ``inputs`` (name -> ``[n]``), each point with its group's parameters."""
        groups = np.asarray(groups)
        unknown = ~np.isin(groups, self.labels)
        if unknown.any():
            raise JaxlawsError(f"points of group {groups[unknown][0]!r} have no fitted group")
        index = {g: i for i, g in enumerate(self.labels)}
        x = {**{k: np.asarray(v) for k, v in inputs.items()},
             joint_mod.GROUP_INPUT: np.array([index[g] for g in groups], np.float64)}
        return np.asarray(self.fit.predict(x))

    def to_dict(self) -> dict[str, Any]:
        return {"law": self.law.name, "shared": list(self.shared), "fixed": self.law.fixed,
                "groups": [{"group": g.item() if hasattr(g, "item") else g, "params": self.params_of(g)}
                           for g in self.labels],
                "fit": self.fit.to_dict(), "comparison": self.comparison.to_dict()}

    def report(self) -> str:
        c = self.comparison
        lines = [self.fit.report(), f"shared {', '.join(self.shared)} across {len(self.labels)} groups: "
                 f"k {c.k_shared} vs {c.k_separate} separate; AIC {c.aic_shared:.6g} vs {c.aic_separate:.6g}, "
                 f"BIC {c.bic_shared:.6g} vs {c.bic_separate:.6g}"]
        if c.f_p is not None:
            lines.append(f"  equal across groups? F = {c.f:.4g} (df {c.df}, {c.n - c.k_separate}), p = {c.f_p:.3g}; "
                         f"likelihood ratio {c.lr:.4g}, p = {c.lr_p:.3g}")
        else:
            lines.append(f"  {c.note}")
        return "\n".join(lines)


def _fit_shared(law: Law, data: Any, shared: Any, loss: Any, starts: Any, solver: Any, seed: int,
                throw: bool, engine_kw: dict[str, Any], solver_options: dict[str, Any]) -> SharedFit:
    """fit_groups(..., shared=...): separate fits (the start and the comparison), then one joint fit."""
    shared = joint_mod.check_shared(law, shared)
    if data.groups is not None and len(np.unique(data.groups)) < 2:
        raise JaxlawsError(f"shared= needs at least 2 groups to share across; {data.name!r} has one")
    separate = fit_groups(law, data, loss=loss, starts=starts, solver=solver, seed=seed, throw=throw,
                          **engine_kw, **solver_options)
    if separate.failed.any():
        g = separate.labels[int(np.flatnonzero(separate.failed)[0])]
        raise JaxlawsError(f"group {g!r} cannot be fitted on its own (every lane failed), so no shared fit starts there")
    labels = separate.labels
    joint = joint_mod.joint_law(law, labels, shared)
    jdata = joint_mod.joint_data(data, labels)
    first = joint_mod.combine(law, labels, separate.params, shared)
    n_sampled = int(starts) if isinstance(starts, (int, np.integer)) and not isinstance(starts, bool) else 64
    sampled = np.asarray(joint.to_natural(starts_mod.make(joint, n_sampled, seed=seed)))
    # exp(log(bound)) need not round back to the bound: a separate fit that ended on a
    # log-scale bound would read as outside it. Clip to the natural box.
    lo = np.array([p.lower for p in joint.params.values()])
    hi = np.array([p.upper for p in joint.params.values()])
    res = fit(joint, jdata, loss=loss, starts=np.clip(np.vstack([first[None], sampled]), lo, hi), solver=solver, seed=seed,
              throw=throw, **engine_kw, **solver_options)
    params = joint_mod.split(law, joint, labels, np.asarray(joint.to_natural(res.theta)))
    return SharedFit(law=law, labels=labels, shared=shared, fit=res, separate=separate,
                     comparison=_compare(res.problem, res, separate, jdata), params=params)
