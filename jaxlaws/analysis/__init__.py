"""What users compute from a fit: allocation, inversion, prediction bands and intervals, model
comparison, the three approaches to compute-optimal scaling on training curves, backtests of
extrapolation, profile-likelihood intervals, where to train next."""

from jaxlaws.analysis import allocation, approaches, backtest, cliargs, compare, design, invert, predict, profile
from jaxlaws.analysis.allocation import optimal
from jaxlaws.analysis.backtest import Backtest, CutoffFit
from jaxlaws.analysis.compare import Score
from jaxlaws.analysis.design import Candidate, Design
from jaxlaws.analysis.invert import Inversion
from jaxlaws.analysis.predict import Prediction
from jaxlaws.analysis.profile import Profile

__all__ = ["allocation", "approaches", "backtest", "cliargs", "compare", "design", "invert", "predict", "profile",
           "optimal", "Backtest", "Candidate", "CutoffFit", "Design", "Inversion", "Prediction", "Profile", "Score"]
