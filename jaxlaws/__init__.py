"""jaxlaws: scaling laws fitted fast and right, with jax.

The public surface::

    import jaxlaws as jl
    res = jl.fit("chinchilla", "chinchilla_epoch", loss="huber-log:1e-3", starts="grid")
    res.params, res.objective
"""

from jaxlaws import analysis, datasets, engine, laws, losses, solvers, starts
from jaxlaws.bootstrap import BootstrapResult, bootstrap
from jaxlaws.errors import JaxlawsError
from jaxlaws.fit import FitResult, fit
from jaxlaws.groupfit import GroupFit, fit_groups
from jaxlaws.law import Law, Param, law

__version__ = "0.1.0"

__all__ = [
    "BootstrapResult",
    "bootstrap",
    "FitResult",
    "GroupFit",
    "JaxlawsError",
    "Law",
    "Param",
    "analysis",
    "datasets",
    "engine",
    "fit",
    "fit_groups",
    "law",
    "laws",
    "losses",
    "solvers",
    "starts",
]
