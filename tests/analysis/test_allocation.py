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


def test_closed_form_only_where_the_law_declares_it():
    # A law with Chinchilla's inputs and parameter names but another form: L = E + A / (N^alpha
    # D^beta) + B / D. Its allocation must come from autodiff of its own function, not from
    # Chinchilla's closed form picked by the names (which gave N* ~1e10 where the truth differs
    # by orders of magnitude).
    import jax.numpy as jnp

    @jl.law(inputs=("N", "D"), params={"E": jl.Param(0.0, 10.0), "A": jl.Param(1e-3, 1e7, scale="log"),
                                       "B": jl.Param(1e-3, 1e7, scale="log"), "alpha": jl.Param(0.0, 2.0),
                                       "beta": jl.Param(0.0, 2.0)})
    def lookalike(p, x):
        return p["E"] + p["A"] / (x["N"] ** p["alpha"] * x["D"] ** p["beta"]) + p["B"] / x["D"] + 0.0 * jnp.log(x["N"])

    assert not allocation.has_closed_form(lookalike)
    assert allocation.has_closed_form(jl.laws.get("chinchilla"))
    params = {"E": 1.8, "A": 400.0, "B": 2e3, "alpha": 0.3, "beta": 0.05}
    got = allocation.optimal(lookalike, params, [5.88e23])
    assert "a" not in got  # no closed-form exponents: the autodiff path ran
    auto = allocation.optimal(lookalike, params, [5.88e23], method="autodiff")
    np.testing.assert_array_equal(got["N_opt"], auto["N_opt"])
    named = jl.laws.chinchilla.compute_optimal(params, 5.88e23)
    assert abs(np.log10(got["N_opt"][0] / float(named["N_opt"]))) > 1  # the names' answer is far off
    # and the autodiff answer is a minimum of this law along C = 6 N D
    N, C = got["N_opt"][0], 5.88e23
    L = lambda n: float(lookalike.predict(params, N=n, D=C / (6 * n)))  # noqa: E731
    assert L(N) <= L(N * 1.05) and L(N) <= L(N / 1.05)
    with pytest.raises(jl.JaxlawsError, match="no closed-form allocation"):
        allocation.optimal(lookalike, params, [1e21], method="closed")
