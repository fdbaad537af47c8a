"""jaxlaws: scaling laws fitted fast and right, with jax.

The public surface::

    import jaxlaws as jl
    res = jl.fit("chinchilla", "chinchilla_epoch", loss="huber-log:1e-3", starts="grid")
    res.params, res.objective
"""

from jaxlaws import datasets, engine, laws, losses, solvers, starts
from jaxlaws.bootstrap import BootstrapResult, bootstrap
from jaxlaws.errors import JaxlawsError
from jaxlaws.fit import FitResult, fit
from jaxlaws.law import Law, Param, law

__version__ = "0.1.0"

__all__ = [
    "BootstrapResult",
    "bootstrap",
    "FitResult",
    "JaxlawsError",
    "Law",
    "Param",
    "datasets",
    "engine",
    "fit",
    "law",
    "laws",
    "losses",
    "solvers",
    "starts",
]
