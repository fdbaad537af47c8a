"""What users compute from a fit: allocation, inversion, prediction bands, model comparison, and the
three approaches to compute-optimal scaling on training curves."""

from jaxlaws.analysis import allocation, approaches, compare, invert, predict
from jaxlaws.analysis.allocation import optimal
from jaxlaws.analysis.compare import Score
from jaxlaws.analysis.invert import Inversion
from jaxlaws.analysis.predict import Prediction

__all__ = ["allocation", "approaches", "compare", "invert", "predict", "optimal", "Inversion", "Prediction", "Score"]
