"""jaxlaws: scaling laws fitted fast and right, with jax.

The public surface::

    import jaxlaws as jl
    res = jl.fit("chinchilla", "chinchilla_epoch", loss="huber-log:1e-3", starts="grid")
    res.params, res.objective, res.status_counts, res.warnings
    print(res.report())
"""

from jaxlaws import analysis, datasets, devices, diagnostics, engine, laws, losses, plot, resample, solvers, starts
from jaxlaws.bootstrap import BootstrapResult, bootstrap
from jaxlaws.curve_fit import curve_fit
from jaxlaws.errors import JaxlawsError, JaxlawsWarning
from jaxlaws.fit import FitResult, fit
from jaxlaws.groupfit import GroupFit, SharedFit, fit_groups
from jaxlaws.law import Law, Param, law
from jaxlaws.problem import Batch, Problem, make_problem
from jaxlaws.solvers.status import Status

__version__ = "0.1.0"

__all__ = [
    "Batch",
    "BootstrapResult",
    "bootstrap",
    "curve_fit",
    "FitResult",
    "GroupFit",
    "JaxlawsError",
    "JaxlawsWarning",
    "Law",
    "Param",
    "Problem",
    "SharedFit",
    "Status",
    "analysis",
    "datasets",
    "devices",
    "diagnostics",
    "engine",
    "fit",
    "fit_groups",
    "law",
    "laws",
    "losses",
    "make_problem",
    "plot",
    "resample",
    "solvers",
    "starts",
]
