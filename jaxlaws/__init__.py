"""jaxlaws: scaling laws fitted fast and right, with jax.

The public surface::

    import jaxlaws as jl
    res = jl.fit("chinchilla", "chinchilla_epoch", loss="huber-log:1e-3", starts="grid")
    res.params, res.objective, res.status_counts, res.warnings
    print(res.report())

On import, jaxlaws gives jax one CPU device per core and turns on its persistent compilation
cache, where the user set neither and jax has not started; ``JAXLAWS_DEFAULTS=0`` turns that
off and :func:`jaxlaws.devices.settings` says what was set (see :mod:`jaxlaws.devices`).
"""

# First, before any module that might start jax's backend: the device count is read once, then.
from jaxlaws import devices

devices.apply_defaults()

from jaxlaws import (  # noqa: E402
    analysis, datasets, diagnostics, distributed, engine, laws, losses, plot, resample, runs, solvers, starts,
)
from jaxlaws.bootstrap import BootstrapResult, bootstrap  # noqa: E402
from jaxlaws.curve_fit import curve_fit  # noqa: E402
from jaxlaws.errors import JaxlawsError, JaxlawsWarning  # noqa: E402
from jaxlaws.fit import FitResult, fit  # noqa: E402
from jaxlaws.groupfit import GroupFit, SharedFit, fit_groups  # noqa: E402
from jaxlaws.law import Law, Param, law  # noqa: E402
from jaxlaws.problem import Batch, Problem, make_problem  # noqa: E402
from jaxlaws.solvers.status import Status  # noqa: E402

from jaxlaws.version import __version__ as __version__  # noqa: E402  (re-exported)

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
    "distributed",
    "engine",
    "fit",
    "fit_groups",
    "law",
    "laws",
    "losses",
    "make_problem",
    "plot",
    "resample",
    "runs",
    "solvers",
    "starts",
]
