"""Compute-optimal allocation: closed form vs autodiff, and bad input."""

import numpy as np
import pytest

import jaxlaws as jl
from jaxlaws.analysis import allocation

EPOCH = {"E": 1.8172, "A": 477.8, "B": 2143.0, "alpha": 0.3473, "beta": 0.3672}


def test_autodiff_equals_closed_form():
    law = jl.laws.get("chinchilla")
    C = np.logspace(18, 26, 9)
    closed = allocation.optimal(law, EPOCH, C, method="closed")
    auto = allocation.optimal(law, EPOCH, C, method="autodiff")
    # Golden section then Newton on log N converges to float64 rounding of the stationary point;
    # 1e-8 relative leaves room for the flatness of L near its minimum.
    np.testing.assert_allclose(auto["N_opt"], closed["N_opt"], rtol=1e-8)
    np.testing.assert_allclose(auto["D_opt"], closed["D_opt"], rtol=1e-8)
    np.testing.assert_allclose(closed["N_opt"] * closed["D_opt"] * 6, C, rtol=1e-12)
    np.testing.assert_allclose(closed["a"] + closed["b"], 1.0)


def test_closed_form_is_a_minimum():
    law = jl.laws.get("chinchilla")
    C = 5.88e23
    N = allocation.optimal(law, EPOCH, [C])["N_opt"][0]
    L = lambda n: float(law.predict(EPOCH, N=n, D=C / (6 * n)))  # noqa: E731
    assert L(N) < L(N * 1.01) and L(N) < L(N / 1.01)


def test_bad_input():
    law = jl.laws.get("chinchilla")
    with pytest.raises(jl.JaxlawsError, match="positive"):
        allocation.optimal(law, EPOCH, [-1.0])
    with pytest.raises(jl.JaxlawsError, match="compute model"):
        allocation.optimal(law, EPOCH, [1e21], tokens=lambda N, C: -C / N)
    with pytest.raises(jl.JaxlawsError, match="law of N and D"):
        allocation.optimal(jl.laws.get("kaplan_n"), {"N_c": 1e13, "alpha_N": 0.07}, [1e21])
