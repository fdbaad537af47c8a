"""Where to train next: rank candidate runs by how much one more run there would narrow the
bootstrap interval of the prediction at a target.

For each candidate input ``x_k`` (a run of ``N`` parameters on ``D`` tokens, say), the data are
extended by one simulated run at ``x_k``: its target is the fitted law's prediction there plus a
residual of the fit drawn with replacement (in the loss's space, scaled as in
:mod:`jaxlaws.analysis.predict`), and the extended data are bootstrapped (pairs over the
``n + 1`` points). The interval of the prediction at the target is then compared with the
data's own. Every candidate's resamples and the data's own are lanes of **one** engine call:
all candidate points sit in one extended problem, each fit's weight row puts weight on the
original points and on its own candidate only, and each resample's row of observations holds
that resample's simulated value at every candidate.

Common random numbers: resample ``b`` draws one multinomial count vector over ``n + 1`` slots
(the original points and "the new run") and one residual for the new run; every candidate
uses the same draw at its own point, and the data's own resample ``b`` uses the same counts of
the original points without the new run. Differences between candidates are then differences
of design, not of Monte Carlo luck.

The new run is one of ``n + 1`` points resampled with replacement, so it is missing from about
a third of the resamples, as it would be from a bootstrap of the extended data: the narrowing
is that bootstrap's, smaller than least squares' variance ratio for the same run. The widths
of percentile intervals carry Monte Carlo error of several percent at a few hundred resamples
(common random numbers make the candidates' errors move together); read narrowing factors
within a few percent of each other as ties, or raise ``n``.

Each resample starts from the full-data fit's optimum and its distinct basins (as
:func:`jaxlaws.bootstrap` does). The report per candidate: the interval at the target, its
width, the **narrowing factor** (the data's own width over the candidate's; above 1 narrows)
and the compute the run costs, ``6 N D`` where the candidate names N and D.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from jaxlaws import engine
from jaxlaws.analysis.allocation import optimal
from jaxlaws.analysis.backtest import _predictions
from jaxlaws.analysis.predict import noise_pool
from jaxlaws.bootstrap import BootstrapResult, distinct_basins
from jaxlaws.datasets import Dataset
from jaxlaws.errors import JaxlawsError
from jaxlaws.fit import FitResult
from jaxlaws.intervals import Samples, check_level
from jaxlaws.law import Law
from jaxlaws.problem import Batch, make_problem
from jaxlaws.solvers import get as get_solver


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One candidate run.

    Attributes:
      index: its position among the candidates given.
      inputs: name -> value of the run.
      cost: ``flops_per_param_token * N * D`` (FLOPs), or None without N and D.
      lo, hi, width: the interval of the prediction at the target with this run added.
      narrowing: the data's own width over ``width`` (> 1: the run narrows the interval).
      n_used: resamples that converged.
    """

    index: int
    inputs: dict[str, float]
    cost: float | None
    lo: float
    hi: float
    width: float
    narrowing: float
    n_used: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Design:
    """Candidates ranked by narrowing (best first).

    Attributes:
      law: the law; target: name -> value of the target input; estimate: the fit's prediction there.
      level: the interval's level; n: resamples per candidate.
      lo, hi, width: the data's own interval at the target (same resamples, no new run).
      ranked: the :class:`Candidate` s, largest narrowing first.
      n_lanes, n_engine_calls, timing.
    """

    law: Law
    target: dict[str, float]
    estimate: float
    level: float
    n: int
    lo: float
    hi: float
    width: float
    ranked: tuple[Candidate, ...]
    n_lanes: int
    n_engine_calls: int
    timing: dict[str, float]

    @property
    def best(self) -> Candidate:
        return self.ranked[0]

    def table(self) -> str:
        names = list(self.ranked[0].inputs)
        head = ["rank", *names, "cost (FLOPs)", f"{self.level:.0%} interval at target", "width", "narrowing"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines.append("| data | " + " | ".join("" for _ in names) + f" | | [{self.lo:.5g}, {self.hi:.5g}] | "
                     f"{self.width:.4g} | 1 |")
        for r, c in enumerate(self.ranked, 1):
            cost = "" if c.cost is None else f"{c.cost:.3g}"
            lines.append(f"| {r} | " + " | ".join(f"{c.inputs[k]:.4g}" for k in names) +
                         f" | {cost} | [{c.lo:.5g}, {c.hi:.5g}] | {c.width:.4g} | {c.narrowing:.3f} |")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"law": self.law.name, "target": self.target, "estimate": self.estimate, "level": self.level,
                "n": self.n, "interval": [self.lo, self.hi], "width": self.width,
                "ranked": [c.to_dict() for c in self.ranked], "n_lanes": self.n_lanes,
                "n_engine_calls": self.n_engine_calls, "timing": dict(self.timing)}


def _columns(law: Law, given: Any, what: str) -> dict[str, np.ndarray]:
    if isinstance(given, (list, tuple)) and given and isinstance(given[0], Mapping):
        given = {k: [row[k] for row in given] for k in law.inputs if all(k in row for row in given)}
    if not isinstance(given, Mapping):
        raise JaxlawsError(f"{what} must map the law's inputs {list(law.inputs)} to values")
    missing = [k for k in law.inputs if k not in given]
    if missing:
        raise JaxlawsError(f"{what} lack the law's inputs {missing}")
    cols = {k: np.atleast_1d(np.asarray(given[k], np.float64)) for k in law.inputs}
    sizes = {v.shape for v in cols.values()}
    if len(sizes) != 1 or len(next(iter(sizes))) != 1 or not all(np.all(np.isfinite(v)) for v in cols.values()):
        raise JaxlawsError(f"{what} must be finite 1-D columns of one length, got shapes {sorted(sizes)}")
    return cols


def design(
    fit: FitResult | BootstrapResult,
    candidates: Any,
    target: Any,
    n: int = 500,
    level: float = 0.9,
    seed: int = 0,
    basins: int = 2,
    solver: Any = "lm",
    precision: str = "float64",
    flops_per_param_token: float = 6.0,
) -> Design:
    """Rank ``candidates`` by how much one simulated run at each would narrow the ``level``
    interval of the prediction at ``target`` (one engine call; see the module docstring).

    Args:
      fit: the full-data :class:`~jaxlaws.FitResult` (or a BootstrapResult's).
      candidates: name -> ``[K]`` values of every law input (or a list of name -> value rows).
      target: name -> value of every law input, or a compute budget ``C`` (FLOPs) for a law of
        N and D: the fit's compute-optimal ``(N, D)`` at ``C`` (:func:`~jaxlaws.analysis.allocation.optimal`).
      n: resamples (>= 2) of the data and of each candidate's extended data.
      basins: extra starts per resample from the fit's distinct basins.
    """
    t0 = time.perf_counter()
    if isinstance(fit, BootstrapResult):
        fit = fit.fit
    if not isinstance(fit, FitResult):
        raise JaxlawsError("design() takes the data's FitResult (or BootstrapResult)")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise JaxlawsError(f"design needs n >= 2 resamples, got {n!r}")
    level = check_level(level)
    law, prob = fit.law, fit.problem
    if law.n_outputs != 1:
        raise JaxlawsError(f"design takes single-output laws; {law.name!r} has {law.n_outputs} outputs")
    cand = _columns(law, candidates, "candidates")
    K = len(next(iter(cand.values())))
    if isinstance(target, (int, float, np.integer, np.floating)) and not isinstance(target, bool):
        if set(law.inputs) != {"N", "D"}:
            raise JaxlawsError(f"a target compute needs a law of N and D; {law.name!r} takes {list(law.inputs)}: "
                               f"pass target as inputs")
        opt = optimal(law, fit.params, [float(target)])
        point = {"N": float(opt["N_opt"][0]), "D": float(opt["D_opt"][0])}
    else:
        point = {k: float(v[0]) for k, v in _columns(law, target, "target").items()}
    fitted_c = np.asarray(law.predict(fit.params, cand), np.float64).reshape(-1)
    if prob.loss.log_space and not np.all(fitted_c > 0):
        raise JaxlawsError(f"the fitted law is not positive at every candidate; loss {prob.loss.spec!r} needs it")
    m0 = prob.n_points

    # ---- the extended problem: the data, then one point per candidate ------------------------
    ext = Dataset(name=f"{prob.data.name}+candidates",
                  inputs={k: np.concatenate([prob.inputs[k], cand[k]]) for k in law.inputs},
                  y=np.concatenate([prob.data.y, fitted_c]), target=prob.data.target)
    eprob = make_problem(law, ext, prob.loss, np.concatenate([prob.weights, np.ones(K)]))
    rng = np.random.default_rng(seed)
    B = int(n)
    pool = noise_pool(prob, fit.theta).reshape(-1)
    counts = rng.multinomial(m0 + 1, np.full(m0 + 1, 1.0 / (m0 + 1)), size=B).astype(np.float64)
    noise = pool[rng.integers(0, len(pool), size=B)]
    obs = np.tile(eprob.obs, (B, 1))
    sim = np.log(fitted_c) if prob.loss.log_space else fitted_c
    obs[:, m0:] = sim[None, :] + noise[:, None]
    w = np.zeros((B + K * B, m0 + K))
    w[:B, :m0] = counts[:, :m0]  # the data's own resamples: the same counts, no new run
    for k in range(K):
        w[B + k * B:B + (k + 1) * B, :m0] = counts[:, :m0]
        w[B + k * B:B + (k + 1) * B, m0 + k] = counts[:, m0]
    w *= eprob.weights[None]
    theta0 = distinct_basins(fit, basins)
    S = len(theta0)
    fits = np.repeat(np.arange(B + K * B, dtype=np.int32), S)
    obs_i = (fits % B).astype(np.int32)  # fit B + k B + b reads resample b's observations
    batch = Batch(eprob, np.tile(theta0, (B + K * B, 1)), obs, w, obs_i, fits, fits)
    lanes = engine.solve(batch, get_solver(solver).refine(), engine.Options.make(precision))
    best, failed = lanes.pick(fits, B + K * B)
    ok = lanes.converged[best] & ~failed
    pred = _predictions(law, {k: np.array([v]) for k, v in point.items()}, lanes.theta[best])[:, 0]
    estimate = float(np.asarray(law.predict(fit.params, point)).reshape(-1)[0])

    def interval(rows: np.ndarray) -> tuple[float, float, int]:
        use = rows[ok[rows]]
        if len(use) < 2:
            return float("nan"), float("nan"), len(use)
        lo, hi = Samples(np.asarray(estimate), pred[use]).ci(level, "percentile")
        return float(lo), float(hi), len(use)

    lo0, hi0, _ = interval(np.arange(B))
    out = []
    for k in range(K):
        lo, hi, used = interval(B + k * B + np.arange(B))
        inputs = {name: float(cand[name][k]) for name in law.inputs}
        cost = flops_per_param_token * inputs["N"] * inputs["D"] if "N" in inputs and "D" in inputs else None
        out.append(Candidate(index=k, inputs=inputs, cost=cost, lo=lo, hi=hi, width=hi - lo,
                             narrowing=(hi0 - lo0) / (hi - lo), n_used=used))
    ranked = tuple(sorted(out, key=lambda c: -c.narrowing if np.isfinite(c.narrowing) else np.inf))
    return Design(law=law, target=point, estimate=estimate, level=level, n=B, lo=lo0, hi=hi0, width=hi0 - lo0,
                  ranked=ranked, n_lanes=batch.n_lanes, n_engine_calls=1,
                  timing={"compile_s": lanes.compile_s, "run_s": lanes.run_s, "total_s": time.perf_counter() - t0})
