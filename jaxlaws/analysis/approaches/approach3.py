"""Approach 3 (Hoffmann et al. 2022, section 3.3): a parametric loss L(N, D) fitted to every point,
minimised under a compute constraint.

The frontier is :func:`jaxlaws.analysis.allocation.optimal` of the fitted law at each budget
(the closed form N* = G (C/6)^a, a = beta / (alpha + beta), b = alpha / (alpha + beta) for
Chinchilla; autodiff for a law without one), and its bootstrap replicates are the allocation of
every resample's refit (:func:`jaxlaws.analysis.allocation.from_bootstrap`). The exponents are
then fitted in log-log over the budgets like the other approaches' (for the closed form the
frontier is an exact power law and the slope is beta / (alpha + beta) to rounding; the closed
form's own replicates are kept in ``details`` and agree).

With curves (a dataset with ``runs``) the resamples draw whole runs (``scheme="groups"``): the
checkpoints of one run share its seed, data order and schedule, so they are not independent
points, and a pairs bootstrap over checkpoints would understate the spread.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jaxlaws.analysis import allocation
from jaxlaws.analysis.approaches.frontier import Frontier
from jaxlaws.bootstrap import BootstrapResult, bootstrap
from jaxlaws.datasets import Dataset, coerce, curves
from jaxlaws.errors import JaxlawsError
from jaxlaws.fit import FitResult, fit as fit_fn
from jaxlaws.laws import get as get_law


def _check_law(law: Any) -> None:
    if set(law.inputs) != {"N", "D"}:
        raise JaxlawsError(f"approach 3 needs a law of N and D; {law.name!r} takes {list(law.inputs)}")


def default_budgets(data: Dataset, n: int = 20, by: str = "C") -> np.ndarray:
    """``n`` log-spaced budgets from the data's smallest to largest compute (``by``, or 6 N D)."""
    C = data.inputs[by] if by in data.inputs else 6.0 * data.inputs["N"] * data.inputs["D"]
    return np.logspace(np.log10(C.min()), np.log10(C.max()), int(n))


def parametric(source: Any, budgets: Any = None, *, law: Any = "chinchilla", loss: Any = "huber-log:1e-3",
               starts: Any = "grid", n_boot: int = 200, seed: int = 0, scheme: str | None = None,
               tokens: Any = None, by: str = "C", n_budgets: int = 20, **fit_options: Any) -> Frontier:
    """Approach 3: the compute-optimal frontier of a fitted law of N and D.

    Args:
      source: a :class:`~jaxlaws.BootstrapResult` (used as it is), a :class:`~jaxlaws.FitResult`
        (bootstrapped here when ``n_boot`` > 0, else point estimates only), or data (a Dataset or
        bundled name: fitted and bootstrapped here).
      budgets: compute budgets of the frontier (default ``n_budgets`` log-spaced over the data's
        compute ``by``, or 6 N D when the data have no such column).
      law, loss, starts, seed, **fit_options: the fit's (``jl.fit``), when one is run here.
      n_boot: resamples when a bootstrap is run here; scheme: its scheme (default ``groups`` over
        ``data.runs`` when the data have runs, else ``pairs``).
      tokens: the compute model ``tokens(N, C) -> D`` for the allocation (default C = 6 N D).
    """
    if isinstance(source, BootstrapResult):
        boot, res = source, source.fit
    elif isinstance(source, FitResult):
        boot, res = None, source
    else:
        data = coerce(source)
        _check_law(get_law(law))
        res = fit_fn(law, data, loss=loss, starts=starts, seed=seed, **fit_options)
        boot = None
    _check_law(res.law)
    data = res.problem.data
    if boot is None and n_boot:
        if scheme is None:
            scheme = "groups" if data.runs is not None else "pairs"
        groups = data.runs if scheme == "groups" and data.runs is not None else None
        boot = bootstrap(res.law, data, n=n_boot, loss=res.problem.loss, seed=seed, scheme=scheme, fit=res,
                         groups=groups)
    budgets = default_budgets(data, n_budgets, by) if budgets is None else curves.check_budgets(budgets)
    K = len(budgets)
    point = allocation.optimal(res.law, res.params, budgets, tokens=tokens)
    closed = {k: point[k] for k in ("a", "b") if k in point}
    if boot is not None:
        reps = allocation.from_bootstrap(boot, budgets, tokens=tokens)
        N = np.concatenate([point["N_opt"][None], reps["N_opt"].samples])
        D = np.concatenate([point["D_opt"][None], reps["D_opt"].samples])
        closed_boot = {k: reps[k].samples[:, 0] for k in ("a", "b") if k in reps}
        n_drawn = boot.n
    else:
        N, D = point["N_opt"][None], point["D_opt"][None]
        closed_boot, n_drawn = {}, 0
    use = np.isfinite(N) & (N > 0) & np.isfinite(D) & (D > 0)
    warns = [f"fit: {w}" for w in res.warnings]
    if boot is not None and boot.n_used < boot.n:
        warns.append(f"bootstrap: {boot.n - boot.n_used} of {boot.n} resamples failed or did not converge and are "
                     "left out of the intervals")
    details = {"fit": res, "bootstrap": boot, "closed_form": {k: float(np.ravel(v)[0]) for k, v in closed.items()},
               "closed_form_boot": closed_boot, "law": res.law.name, "params": dict(res.params)}
    return Frontier.build("parametric", budgets, N, D, use, ("ok",) * K, n_drawn, tuple(warns), details)
