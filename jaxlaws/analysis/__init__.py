"""What users compute from a fit: allocation, inversion, prediction bands, model comparison,
backtests of extrapolation."""

from jaxlaws.analysis import allocation, backtest, cliargs, compare, invert, predict
from jaxlaws.analysis.allocation import optimal
from jaxlaws.analysis.backtest import Backtest, CutoffFit
from jaxlaws.analysis.compare import Score
from jaxlaws.analysis.invert import Inversion
from jaxlaws.analysis.predict import Prediction

__all__ = ["allocation", "backtest", "cliargs", "compare", "invert", "predict", "optimal", "Backtest", "CutoffFit",
           "Inversion", "Prediction", "Score"]
