"""The three ways of estimating compute-optimal scaling N*(C) ~ C^a, D*(C) ~ C^b (Hoffmann et al.
2022, "Training Compute-Optimal Large Language Models", section 3), on training curves:

* :func:`envelope` (Approach 1): the lower envelope of the curves over compute;
* :func:`isoflop` (Approach 2): a parabola (or any profile law) through each budget's losses;
* :func:`parametric` (Approach 3): a law L(N, D) fitted to every point, minimised under C = 6ND;
* :func:`compare`: all three with the same run resamples, one :class:`Comparison` with a
  ``.table()``; :func:`plot_frontiers` draws it.

Each returns a :class:`Frontier` with ``a``, ``b``, ``ci(level)``, ``at(C)``, per-budget
``flags`` and ``warnings``. Intervals resample whole runs.
"""

from jaxlaws.analysis.approaches.approach1 import envelope
from jaxlaws.analysis.approaches.approach2 import PARABOLA, default_budgets, isoflop
from jaxlaws.analysis.approaches.approach3 import parametric
from jaxlaws.analysis.approaches.cli import add_arguments, run_cli
from jaxlaws.analysis.approaches.comparison import HOFFMANN_TABLE2, Comparison, compare
from jaxlaws.analysis.approaches.figure import plot_frontiers
from jaxlaws.analysis.approaches.frontier import APPROACHES, Frontier, NoFrontier, loglog_fit, run_resamples

__all__ = ["APPROACHES", "Comparison", "Frontier", "HOFFMANN_TABLE2", "NoFrontier", "PARABOLA", "add_arguments",
           "compare", "default_budgets", "envelope", "isoflop", "loglog_fit", "parametric", "plot_frontiers",
           "run_cli", "run_resamples"]
