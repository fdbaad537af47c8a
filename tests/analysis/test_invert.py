"""invert(): round trips, clamping flagged, errors."""

import numpy as np
import pytest

import jaxlaws as jl
from jaxlaws.analysis.invert import invert

P = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}


def test_round_trip_effective_params():
    law = jl.laws.get("chinchilla")
    targets = np.linspace(1.8, 4.0, 23)
    r = invert(law, P, targets, x="N", given={"D": np.inf})
    back = np.asarray(law.predict(P, N=r.values, D=np.full_like(targets, np.inf)))
    # Bisection to ~1e-16 in log N then Newton: the loss is recovered to float64 rounding (a few ulp of ~3).
    np.testing.assert_allclose(back, targets, rtol=1e-13)
    assert not r.clamped.any()
    assert np.all(np.diff(r.values) < 0)  # higher loss, smaller model


def test_round_trip_with_finite_data_and_arrays():
    law = jl.laws.get("chinchilla")
    D = np.array([1e10, 1e11, 1e12])
    t = np.asarray(law.predict(P, N=np.array([1e8, 1e9, 1e10]), D=D))
    r = invert(law, P, t, x="N", given={"D": D})
    np.testing.assert_allclose(r.values, [1e8, 1e9, 1e10], rtol=1e-9)


def test_below_irreducible_loss_is_flagged_or_raises():
    law = jl.laws.get("chinchilla")
    with pytest.raises(jl.JaxlawsError, match="clamp"):
        invert(law, P, [1.5, 2.0], x="N", given={"D": np.inf})
    r = invert(law, P, [1.5, 1.69, 2.0], x="N", given={"D": np.inf}, clamp=True)
    assert list(r.clamped) == [True, True, False]
    assert np.all(np.isfinite(r.values))
    # The bracket end the law approaches as the loss falls to E (exp(log(1e30)) to rounding).
    assert r.values[0] == pytest.approx(1e30, rel=1e-12)


def test_bad_input():
    law = jl.laws.get("chinchilla")
    with pytest.raises(jl.JaxlawsError, match="needs values"):
        invert(law, P, [2.0], x="N")
    with pytest.raises(jl.JaxlawsError, match="no input"):
        invert(law, P, [2.0], x="C", given={"D": 1e9})
