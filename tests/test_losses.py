"""jaxlaws.losses: rho, psi, curvature, totals and spec parsing."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special

import jaxlaws as jl
from jaxlaws.losses import parse

DELTAS = [1e-3, 0.5, 2.0]


def _residuals(delta: float) -> np.ndarray:
    """Residuals on both sides of the Huber kink, exactly at +-delta, and 0."""
    r = np.concatenate([np.linspace(-5 * delta, 5 * delta, 101), [delta, -delta, 0.0, 1e3 * delta, -1e3 * delta]])
    return r


@pytest.mark.parametrize("delta", DELTAS)
def test_huber_rho_matches_scipy(delta):
    r = _residuals(delta)
    with jax.enable_x64(True):
        ours = np.asarray(parse(f"huber:{delta}").rho(jnp.asarray(r)))
    ref = scipy.special.huber(delta, r)
    # Same formula (r^2/2 inside, delta(|r| - delta/2) outside), each side a couple of
    # float64 operations: agreement to a few ulp, rtol 4 eps; atol covers ref == 0 at r = 0.
    np.testing.assert_allclose(ours, ref, rtol=4 * np.finfo(float).eps, atol=1e-300)


def test_log_flag_does_not_change_rho():
    # '-log' only changes how residuals are formed (engine.make_residual), not rho itself.
    r = _residuals(1e-3)
    with jax.enable_x64(True):
        lin = np.asarray(parse("huber:1e-3").rho(jnp.asarray(r)))
        log = np.asarray(parse("huber-log:1e-3").rho(jnp.asarray(r)))
    np.testing.assert_array_equal(lin, log)
    assert parse("huber-log:1e-3").log_space and not parse("huber:1e-3").log_space


@pytest.mark.parametrize("spec", ["mse", "mse-log"])
def test_mse_rho_is_square(spec):
    r = np.linspace(-3, 3, 61)
    with jax.enable_x64(True):
        out = np.asarray(parse(spec).rho(jnp.asarray(r)))
    # r*r is one correctly rounded multiplication in both: exact equality.
    np.testing.assert_array_equal(out, r * r)


@pytest.mark.parametrize("spec", ["mse", "mse-log", "huber:1e-3", "huber-log:0.5", "huber:2"])
def test_psi_is_grad_of_rho(spec):
    loss = parse(spec)
    r = _residuals(loss.delta or 1.0)
    with jax.enable_x64(True):
        g = np.asarray(jax.vmap(jax.grad(loss.rho))(jnp.asarray(r)))
        psi = np.asarray(loss.psi(jnp.asarray(r)))
    # Both sides are exact in float64: d(r*r) = r + r = 2r, d(r^2/2) = r, d(delta(|r|-delta/2)) = delta*sign(r),
    # and psi is 2r or clip(r, -delta, delta). At |r| == delta the quadratic branch is
    # selected (|r| <= delta), whose derivative r equals the clip. Hence exact equality.
    np.testing.assert_array_equal(psi, g)


def test_curvature():
    with jax.enable_x64(True):
        r = jnp.asarray([-4e-3, -1e-3, 0.0, 5e-4, 2e-3])
        np.testing.assert_array_equal(np.asarray(parse("mse").curvature(r)), 2.0)
        h = parse("huber:1e-3")
        # inside delta: rho'' = 1; outside: outlier * delta/|r| (IRLS weight).
        np.testing.assert_allclose(np.asarray(h.curvature(r, outlier=1.0)), [0.25, 1.0, 1.0, 1.0, 0.5], rtol=4e-16)
        np.testing.assert_allclose(np.asarray(h.curvature(r, outlier=0.1)), [0.025, 1.0, 1.0, 1.0, 0.05], rtol=4e-16)


def test_total_is_weighted_sum_and_broadcasts_over_outputs():
    rng = np.random.default_rng(0)
    r = rng.normal(scale=2e-3, size=(7, 3))
    w = rng.random(7)
    with jax.enable_x64(True):
        loss = parse("huber:1e-3")
        tot1 = float(loss.total(jnp.asarray(r[:, 0]), jnp.asarray(w)))
        tot3 = float(loss.total(jnp.asarray(r), jnp.asarray(w)))
    ref1 = np.sum(w * scipy.special.huber(1e-3, r[:, 0]))
    ref3 = np.sum(w[:, None] * scipy.special.huber(1e-3, r))
    # Sums of <= 21 positive terms in a possibly different order: rtol 21 eps bounds the rounding.
    np.testing.assert_allclose(tot1, ref1, rtol=21 * np.finfo(float).eps)
    np.testing.assert_allclose(tot3, ref3, rtol=21 * np.finfo(float).eps)


@pytest.mark.parametrize(
    "spec, kind, log_space, delta",
    [
        ("mse", "mse", False, None),
        ("mse-log", "mse", True, None),
        ("huber:0.5", "huber", False, 0.5),
        ("huber-log:1e-3", "huber", True, 1e-3),
        ("  huber-log:1e-3 ", "huber", True, 1e-3),
        ("huber:2", "huber", False, 2.0),
    ],
)
def test_parse_round_trip(spec, kind, log_space, delta):
    loss = parse(spec)
    cls = {"mse": jl.losses.Squared, "huber": jl.losses.Huber}[kind]
    assert (type(loss), loss.log_space, loss.delta) == (cls, log_space, delta)
    assert parse(loss.spec) == loss
    assert parse(loss) is loss


def test_spec_strings():
    assert parse("huber-log:1e-3").spec == "huber-log:0.001"
    assert parse("mse-log").spec == "mse-log"
    assert jl.losses.parse is parse


def test_parse_round_trip_keeps_every_digit_of_delta():
    loss = parse("huber-log:1.2345678e-3")
    assert parse(loss.spec) == loss  # spec is 'huber-log:0.00123457'


@pytest.mark.parametrize(
    "spec, match",
    [
        ("huber-log", "huber needs a threshold"),
        ("huber", "huber needs a threshold"),
        ("huber:-1", "threshold must be positive"),
        ("huber:0", "threshold must be positive"),
        ("huber:inf", "threshold must be positive and finite"),
        ("huber:abc", "threshold 'abc' is not a number"),
        ("l1", "malformed loss spec 'l1'"),
        ("mse:3", "mse takes no argument"),
        ("mse-log:1", "mse takes no argument"),
        ("", "malformed loss spec"),
    ],
)
def test_malformed_loss_spec(spec, match):
    with pytest.raises(jl.JaxlawsError, match=match) as e:
        parse(spec)
    assert "\n" not in str(e.value)
    assert isinstance(e.value, ValueError)


def test_loss_must_be_string():
    with pytest.raises(jl.JaxlawsError, match="loss must be a spec string"):
        parse(3)


def test_loss_dataclass_is_hashable_and_comparable():
    # The engine caches compiled programs keyed on the loss.
    assert hash(jl.losses.Huber(True, 1e-3)) == hash(parse("huber-log:1e-3"))
    assert parse("huber-log:1e-3") != parse("huber:1e-3")
