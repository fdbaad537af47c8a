"""Per-point losses, summed over points and weighted: one class per loss, parsed once from a spec.

A loss turns residuals ``r`` into ``sum_i w_i * rho(r_i)``. With ``-log`` the
residual is ``log(prediction) - log(observed)``; otherwise it is
``prediction - observed``. Specs (parsed by :func:`parse` at the edge; the maths
never looks at a string):

=================  ==========================================================
``mse``            :class:`Squared`: rho(r) = r**2       (summed squared error)
``mse-log``        the same on log residuals
``huber:DELTA``    :class:`Huber`: rho(r) = r**2/2 if |r| <= DELTA else DELTA*(|r| - DELTA/2)
``huber-log:D``    the same on log residuals (Hoffmann et al.; Epoch AI)
=================  ==========================================================

Huber matches ``scipy.special.huber(delta, r)``, so objectives agree with the
published scipy fits to the last digit.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

import jax.numpy as jnp

from jaxlaws.errors import JaxlawsError

_SPEC = re.compile(r"^(mse|huber)(-log)?(?::(.+))?$")


class Loss:
    """A summed, weighted per-point loss (abstract: :class:`Squared` or :class:`Huber`).

    Attributes:
      log_space: residuals are differences of logs.
      delta: Huber threshold in residual units; ``None`` for a squared loss.
    """

    log_space: bool
    delta: float | None

    @property
    def spec(self) -> str:
        """The spec string that :func:`parse` turns back into this loss."""
        raise NotImplementedError

    def rho(self, r: Any) -> Any:
        """Per-residual loss, same shape as ``r``."""
        raise NotImplementedError

    def psi(self, r: Any) -> Any:
        """rho'(r): the gradient of the loss with respect to each residual."""
        raise NotImplementedError

    def curvature(self, r: Any, outlier: float = 1.0) -> Any:
        """Gauss-Newton curvature weight per residual (``outlier=0``: the exact rho'')."""
        raise NotImplementedError

    def total(self, r: Any, w: Any) -> Any:
        """``sum_i w_i rho(r_i)``; ``w`` is ``[n]`` and broadcasts over outputs."""
        rho = self.rho(r)
        w = jnp.reshape(w, w.shape + (1,) * (rho.ndim - w.ndim))
        return jnp.sum(w * rho)

    def __str__(self) -> str:
        return self.spec


@dataclasses.dataclass(frozen=True)
class Squared(Loss):
    """rho(r) = r**2, summed (``mse`` / ``mse-log``)."""

    log_space: bool = False
    delta: None = None

    @property
    def spec(self) -> str:
        return "mse-log" if self.log_space else "mse"

    def rho(self, r: Any) -> Any:
        return r * r

    def psi(self, r: Any) -> Any:
        return 2.0 * r

    def curvature(self, r: Any, outlier: float = 1.0) -> Any:
        """rho'' = 2 everywhere (Gauss-Newton is exact in the loss)."""
        return jnp.full_like(r, 2.0)


@dataclasses.dataclass(frozen=True)
class Huber(Loss):
    """rho(r) = r**2/2 for |r| <= delta, delta (|r| - delta/2) beyond (``huber:D`` / ``huber-log:D``)."""

    log_space: bool = False
    delta: float = 1.0

    def __post_init__(self) -> None:
        if not (isinstance(self.delta, (int, float)) and math.isfinite(self.delta) and self.delta > 0):
            raise JaxlawsError(f"Huber threshold must be positive and finite, got {self.delta!r}")

    @property
    def spec(self) -> str:
        return f"huber{'-log' if self.log_space else ''}:{self.delta!r}"

    def rho(self, r: Any) -> Any:
        d = self.delta
        a = jnp.abs(r)
        return jnp.where(a <= d, 0.5 * r * r, d * (a - 0.5 * d))

    def psi(self, r: Any) -> Any:
        return jnp.clip(r, -self.delta, self.delta)

    def curvature(self, r: Any, outlier: float = 1.0) -> Any:
        """1 inside delta; outside, ``outlier`` times the IRLS weight delta/|r|.

        ``outlier=1`` gives classic IRLS, whose quadratic model majorises the loss; a small
        value is closer to rho'' = 0 there and converges much faster near an optimum, with
        damping covering the rest; ``outlier=0`` is the exact rho''.
        """
        a = jnp.abs(r)
        inside = a <= self.delta
        return jnp.where(inside, 1.0, outlier * self.delta / jnp.where(inside, 1.0, a))


def parse(spec: Any) -> Loss:
    """A :class:`Loss` from a spec string (or a Loss, returned as is)."""
    if isinstance(spec, Loss):
        return spec
    if not isinstance(spec, str):
        raise JaxlawsError(f"loss must be a spec string such as 'huber-log:1e-3', got {type(spec).__name__}")
    m = _SPEC.match(spec.strip())
    if not m:
        raise JaxlawsError(f"malformed loss spec {spec!r}: expected mse, mse-log, huber:DELTA or huber-log:DELTA")
    kind, log, arg = m.group(1), bool(m.group(2)), m.group(3)
    if kind == "mse":
        if arg is not None:
            raise JaxlawsError(f"malformed loss spec {spec!r}: mse takes no argument")
        return Squared(log)
    if arg is None:
        raise JaxlawsError(f"malformed loss spec {spec!r}: huber needs a threshold, e.g. huber-log:1e-3")
    try:
        delta = float(arg)
    except ValueError:
        raise JaxlawsError(f"malformed loss spec {spec!r}: threshold {arg!r} is not a number") from None
    if not (math.isfinite(delta) and delta > 0):
        raise JaxlawsError(f"malformed loss spec {spec!r}: threshold must be positive and finite")
    return Huber(log, delta)
