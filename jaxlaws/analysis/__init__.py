"""What users compute from a fit: allocation, inversion, prediction bands, model comparison,
backtests of extrapolation, profile-likelihood intervals."""

from jaxlaws.analysis import allocation, backtest, cliargs, compare, invert, predict, profile
from jaxlaws.analysis.allocation import optimal
from jaxlaws.analysis.backtest import Backtest, CutoffFit
from jaxlaws.analysis.compare import Score
from jaxlaws.analysis.invert import Inversion
from jaxlaws.analysis.predict import Prediction
from jaxlaws.analysis.profile import Profile

__all__ = ["allocation", "backtest", "cliargs", "compare", "invert", "predict", "profile", "optimal", "Backtest",
           "CutoffFit", "Inversion", "Prediction", "Profile", "Score"]
