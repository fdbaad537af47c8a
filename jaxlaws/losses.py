"""Per-point losses, summed over points and weighted.

A loss turns residuals ``r`` into ``sum_i w_i * rho(r_i)``. With ``-log`` the
residual is ``log(prediction) - log(observed)``; otherwise it is
``prediction - observed``. Specs:

=================  ==========================================================
``mse``            rho(r) = r**2                      (summed squared error)
``mse-log``        the same on log residuals
``huber:DELTA``    rho(r) = r**2/2 if |r| <= DELTA else DELTA*(|r| - DELTA/2)
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


@dataclasses.dataclass(frozen=True)
class Loss:
    """A summed, weighted per-point loss.

    Attributes:
      kind: ``"mse"`` or ``"huber"``.
      log_space: residuals are differences of logs.
      delta: Huber threshold (in residual units), ``None`` for mse.
    """

    kind: str
    log_space: bool = False
    delta: float | None = None

    @property
    def spec(self) -> str:
        s = self.kind + ("-log" if self.log_space else "")
        return s if self.delta is None else f"{s}:{self.delta!r}"

    def rho(self, r: Any) -> Any:
        """Per-residual loss, same shape as ``r``."""
        if self.kind == "mse":
            return r * r
        d = self.delta
        a = jnp.abs(r)
        return jnp.where(a <= d, 0.5 * r * r, d * (a - 0.5 * d))

    def psi(self, r: Any) -> Any:
        """rho'(r): the gradient of the loss with respect to each residual."""
        if self.kind == "mse":
            return 2.0 * r
        return jnp.clip(r, -self.delta, self.delta)

    def curvature(self, r: Any, outlier: float = 1.0) -> Any:
        """Gauss-Newton curvature weight per residual.

        mse: rho'' = 2. Huber: 1 inside delta; outside, ``outlier`` times the
        IRLS weight delta/|r| (``outlier=1`` gives classic IRLS, whose quadratic
        model majorises the loss; a small value is closer to rho'' = 0 there and
        converges much faster near an optimum, with damping covering the rest).
        """
        if self.kind == "mse":
            return jnp.full_like(r, 2.0)
        a = jnp.abs(r)
        inside = a <= self.delta
        return jnp.where(inside, 1.0, outlier * self.delta / jnp.where(inside, 1.0, a))

    def total(self, r: Any, w: Any) -> Any:
        """``sum_i w_i rho(r_i)``; ``w`` is ``[n]`` and broadcasts over outputs."""
        rho = self.rho(r)
        w = jnp.reshape(w, w.shape + (1,) * (rho.ndim - w.ndim))
        return jnp.sum(w * rho)


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
        return Loss("mse", log)
    if arg is None:
        raise JaxlawsError(f"malformed loss spec {spec!r}: huber needs a threshold, e.g. huber-log:1e-3")
    try:
        delta = float(arg)
    except ValueError:
        raise JaxlawsError(f"malformed loss spec {spec!r}: threshold {arg!r} is not a number") from None
    if not (math.isfinite(delta) and delta > 0):
        raise JaxlawsError(f"malformed loss spec {spec!r}: threshold must be positive and finite")
    return Loss("huber", log, delta)
