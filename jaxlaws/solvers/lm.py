"""Projected Levenberg-Marquardt with IRLS weights (the default solver).

Each step solves the damped Gauss-Newton system

    (H + lam * diag(D)) delta = -g,   H = J^T diag(w c) J,   g = J^T (w rho'(r)),

with w the point weights and c the loss's curvature weights (for Huber: 1
inside delta, ``outlier * delta/|r|`` outside; ``outlier = 1`` is classic IRLS,
the default 0.1 measured ~1.6x fewer steps on the Chinchilla grid), J from
forward-mode autodiff. D is MINPACK's scaling: the running maximum over the
iterates of diag(H) (the squared, weighted column norms of J), floored, so the
damping of a coordinate cannot collapse where its column vanishes on a plateau
and the method is invariant to rescaling a parameter. The candidate is
projected onto the bounds and accepted only if the objective drops; lam follows
Nielsen's rule from the ratio rho of actual to predicted reduction. Every
iterate is inside the bounds.

Coordinates held on a bound by an outward gradient are fixed for the step
(projected Newton), and steps are capped by an adaptive trust radius (sup norm
in internal coordinates) that doubles after good steps and halves after bad.

Stopping (:meth:`LM.terminate`; ``dx_j = |delta_j| / (1 + |theta_j|)``, internal
coordinates, so log-scale parameters are measured relatively):

* ``CONVERGED_OBJECTIVE``: the Gauss-Newton decrement ``g^T H^-1 g / 2`` over the
  free coordinates (the model's estimate of ``f - f*``) is at most ``ftol * f``, or
  a step was just rejected while the decrement is at most ``DECREMENT_NOISE`` times
  the objective's rounding error (the rejection is explained by rounding: no
  further decrease can be seen at working precision). Near an optimum the objective
  is quadratic, so a relative gap of ``ftol`` leaves parameters good to about
  ``sqrt(ftol)`` relative, in units of their standard errors; measured on NIST's
  hard problems, every converged lane agrees with the certified values to 7 or more
  digits (MGH09: 6.97, at float64's noise floor);
* ``CONVERGED_STEP``: an accepted, trusted step with ``max_j dx_j <= xtol``;
* ``CONVERGED_GRADIENT``: the projected gradient, scaled as MINPACK's gtol test
  (``|pg_j| / sqrt(2 f H_jj)``, the current cosine between the residual and column j for a
  squared loss), at most ``gtol``, while no free Jacobian column has collapsed;
* ``STALLED``: lam above ``lam_max`` times its start value with no test met: no
  step lowers the objective at working precision, and the point is not known to be
  an optimum.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxlaws.solvers.base import Objective, held, project, projected_gradient
from jaxlaws.solvers.linalg import Cholesky
from jaxlaws.solvers.status import Status


# After a rejected step, a decrement within this factor of the objective's rounding estimate
# counts as converged (the estimate is typical, not a bound; measured: lanes at the noise floor
# of low-noise data stalled without it, and a factor applied to every step instead stopped
# NIST's MGH09, Rat43 and Thurber short of 7 digits).
DECREMENT_NOISE = 10.0

# Batches of at most this many lanes factor with the platform's library (``cholesky=None``; see
# :meth:`LM.for_batch`). Measured on the 2-core CPU, Chinchilla (240 points), warm run time
# library / inline: 1.15x at 256 lanes, 1.10x at 1,024 (float64; ~10-25 ms), 1.25x at 4,500
# (mixed), while a cold fit of a new law compiles ~0.5 s less. Below this size compiling is most
# of a fit seen for the first time; above it the run is, and the inline code runs faster. The
# same size as ``auto`` precision's float64 limit, so that a small batch is one small program.
LIBRARY_LANES = 1024


class LMState(NamedTuple):
    theta: Any
    value: Any
    grad: Any  # [P]  J^T W psi at theta
    hess: Any  # [P, P] J^T W C J at theta
    scale: Any  # [P] running max of diag(hess): MINPACK's damping scale
    lam: Any
    nu: Any
    radius: Any  # trust radius: sup norm of a step, internal coordinates
    rho: Any  # actual / predicted reduction of the last step
    dx: Any  # max_j |delta_j| / (1 + |theta_j|) of the last step
    accepted: Any  # bool: the last step was accepted
    fnoise: Any  # rounding-error scale of the objective at theta (see LM.evaluate)


class LMEval(NamedTuple):
    value: Any
    grad: Any
    hess: Any
    fnoise: Any


@dataclasses.dataclass(frozen=True)
class LM:
    """Projected Levenberg-Marquardt / IRLS Gauss-Newton.

    Attributes:
      max_steps: step limit per lane (evaluations after the start).
      ftol: the Gauss-Newton decrement, relative to f, that counts as converged.
      xtol: relative step ``max_j |delta_j| / (1 + |theta_j|)`` that counts as converged.
      gtol: MINPACK-scaled projected gradient that counts as converged.
      lam0: initial damping; lam_max: damping (relative to lam0's scale) at which a lane stalls.
      outlier: IRLS curvature factor outside Huber's delta (see the module docstring).
      radius0: initial trust radius (sup norm, internal coordinates).
      polish_lam0, polish_outlier: lam0 and outlier of :meth:`refine`.
      cholesky: how the damped system is factored: ``"inline"`` (written out in XLA
        operations: runs fastest), ``"library"`` (LAPACK on a CPU: compiles in about half the
        time) or None (default): the engine picks by the batch's size (:meth:`for_batch`).
        The two agree to rounding; a lane near a tie between two ends may end at the other.
    """

    max_steps: int = 200
    ftol: float = 1e-14
    xtol: float = 1e-10
    gtol: float = 1e-10
    lam0: float = 0.1
    lam_max: float = 1e14
    outlier: float = 0.1
    radius0: float = 1.0
    polish_lam0: float = 1e-3
    polish_outlier: float = 0.0

    cholesky: Cholesky | str | None = None

    rejects_nonfinite = True  # a non-finite candidate is a rejected step: the damping grows

    def __post_init__(self) -> None:
        if self.cholesky is not None:
            object.__setattr__(self, "cholesky", Cholesky.parse(self.cholesky))

    def for_batch(self, n_lanes: int) -> LM:
        """This solver for a batch of ``n_lanes`` lanes: with ``cholesky`` None, on a CPU the
        library's factorisation up to :data:`LIBRARY_LANES` lanes and the inline one above (on an
        accelerator, where it is not measured, inline); else itself."""
        if self.cholesky is not None:
            return self
        small = n_lanes <= LIBRARY_LANES and jax.default_backend() == "cpu"
        return dataclasses.replace(self, cholesky=Cholesky.LIBRARY if small else Cholesky.INLINE)

    def _solve(self, A: Any, b: Any) -> Any:
        return (self.cholesky or Cholesky.INLINE).solve(A, b)

    def coarse(self) -> LM:
        # float32 resolves a relative decrease of ~1e-7 at best: stop there and let the float64
        # polish (which judges every lane) finish the job.
        return dataclasses.replace(self, ftol=max(self.ftol, 1e-6), xtol=max(self.xtol, 1e-6),
                                   gtol=max(self.gtol, 1e-5))

    def refine(self) -> LM:
        # Near a solution the damping a fresh start needs (lam0) would cost several steps to
        # decay by Nielsen's rule, and exact Huber curvature (outlier 0) converges fastest there.
        return dataclasses.replace(self, lam0=min(self.lam0, self.polish_lam0),
                                   outlier=min(self.outlier, self.polish_outlier))

    def init(self, theta0: Any, lower: Any, upper: Any) -> LMState:
        # Nothing is evaluated here: the loop evaluates the start (value +inf marks a lane
        # not yet evaluated), so the engine can put a new lane into a slot at no cost.
        dt = theta0.dtype
        P = theta0.shape[0]
        zero = jnp.zeros((), dt)
        return LMState(
            theta=theta0, value=jnp.asarray(jnp.inf, dt), grad=jnp.zeros((P,), dt), hess=jnp.zeros((P, P), dt),
            scale=jnp.zeros((P,), dt), lam=jnp.asarray(self.lam0, dt), nu=jnp.asarray(2.0, dt),
            radius=jnp.asarray(self.radius0, dt), rho=zero, dx=jnp.asarray(jnp.inf, dt),
            accepted=jnp.zeros((), bool), fnoise=zero,
        )

    def evaluate(self, obj: Objective, theta: Any) -> LMEval:
        """Objective, gradient ``[P]``, Gauss-Newton matrix ``[P, P]`` and the objective's rounding
        scale at ``theta``, one pass.

        ``fnoise = eps * (sqrt(sum_i (w_i psi_i e_i)^2) + f)`` with ``e_i = |r_i| + 2 |obs_i|`` the
        size of the numbers residual i is the difference of: the typical first-order rounding
        error of ``f`` from the residuals' own rounding (independent errors add in quadrature;
        the sum of their magnitudes, a worst-case bound, stopped NIST's Rat43 a digit early),
        plus the sum's. With low-noise data the residuals are
        differences of nearly equal numbers, and this floor lies far above ``eps * f``.
        """
        r, J = obj.residual_and_jacobian(theta)
        w = obj.weight
        psi = obj.loss.psi(r)
        g = J.T @ (w * psi)
        H = (J * (w * obj.loss.curvature(r, self.outlier))[:, None]).T @ J
        f = obj.loss.total(r, w)
        eps = jnp.finfo(r.dtype).eps
        fnoise = eps * (jnp.sqrt(jnp.sum((w * psi * (jnp.abs(r) + 2.0 * jnp.abs(obj.obs))) ** 2)) + jnp.abs(f))
        return LMEval(f, g, H, fnoise)

    def start(self, s: LMState, ev: LMEval) -> LMState:
        return s._replace(value=ev.value, grad=ev.grad, hess=ev.hess, scale=jnp.diagonal(ev.hess), fnoise=ev.fnoise)

    def propose(self, obj: Objective, s: LMState, lower: Any, upper: Any) -> tuple[Any, Any]:
        # Active set: a coordinate on a bound whose gradient pushes outward is held fixed, and the
        # damped system is solved for the free ones only (projected Newton); clipping a full step
        # instead would give the free coordinates the wrong step and stall at the bound.
        fixed = held(s.theta, s.grad, lower, upper)
        free = ~fixed
        d = s.scale
        # Floor the scale at 1e-12 of its largest entry: a column that is zero everywhere seen so
        # far would otherwise leave that coordinate undamped (and the system singular).
        scale = jnp.maximum(d, 1e-12 * jnp.max(d))
        scale = jnp.where(scale > 0, scale, 1.0)
        A = s.hess + jnp.diag(s.lam * scale)
        A = jnp.where(free[:, None] & free[None, :], A, 0.0) + jnp.diag(fixed.astype(A.dtype))
        delta = -self._solve(A, jnp.where(free, s.grad, 0.0))
        # Trust radius: no step longer than `radius` in any internal coordinate, so one huge
        # Gauss-Newton step cannot jump a far start onto a flat plateau at the bounds.
        big = jnp.max(jnp.abs(delta))
        delta = delta * jnp.minimum(1.0, s.radius / jnp.where(big > 0, big, 1.0))
        cand = project(s.theta + delta, lower, upper)
        delta = cand - s.theta
        # Reduction predicted by the quadratic (IRLS) model for the projected step.
        pred = -(s.grad @ delta + 0.5 * delta @ (s.hess @ delta))
        return cand, pred

    def update(self, s: LMState, cand: Any, pred: Any, ev: LMEval, lower: Any, upper: Any) -> LMState:
        f = ev.value
        finite = jnp.isfinite(f) & jnp.all(jnp.isfinite(ev.grad)) & jnp.all(jnp.isfinite(ev.hess))
        ok = finite & (f < s.value)
        actual = s.value - f
        rho = jnp.where(pred > 0, actual / jnp.where(pred > 0, pred, 1.0), 0.0)
        lam_ok = s.lam * jnp.maximum(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3)
        lam = jnp.where(ok, jnp.maximum(lam_ok, 1e-15), s.lam * s.nu)
        nu = jnp.where(ok, 2.0, 2.0 * s.nu)
        delta = cand - s.theta
        step = jnp.max(jnp.abs(delta))
        # A non-finite step (the damped system too ill-conditioned to factor) halves the radius
        # instead of making it NaN, which would poison every later step of the lane.
        shrunk = 0.5 * jnp.where(jnp.isfinite(step), step, s.radius)
        radius = jnp.where(ok, jnp.where(rho > 0.25, jnp.maximum(s.radius, 2.0 * step), s.radius), shrunk)
        radius = jnp.maximum(radius, 1e-12)
        dx = jnp.max(jnp.abs(delta) / (1.0 + jnp.abs(s.theta)))
        return LMState(
            theta=jnp.where(ok, cand, s.theta), value=jnp.where(ok, f, s.value),
            grad=jnp.where(ok, ev.grad, s.grad), hess=jnp.where(ok, ev.hess, s.hess),
            scale=jnp.where(ok, jnp.maximum(s.scale, jnp.diagonal(ev.hess)), s.scale),
            lam=lam, nu=nu, radius=radius, rho=rho, dx=jnp.where(jnp.isfinite(dx), dx, jnp.inf), accepted=ok,
            fnoise=jnp.where(ok, ev.fnoise, s.fnoise),
        )

    def terminate(self, s: LMState, lower: Any, upper: Any) -> Any:
        f = jnp.abs(s.value)
        free = ~held(s.theta, s.grad, lower, upper)
        # A zero gradient on a plateau (every prediction underflowed, the Jacobian column gone) is
        # no optimum: the gradient and decrement tests count only while no free column has
        # collapsed to below 1e-12 of its running maximum (the damping's floor).
        d = jnp.diagonal(s.hess)
        alive = jnp.all(~free | ((d > 0) & (d >= 1e-12 * s.scale)))
        trusted = s.accepted & (s.rho > 0.25)
        # The Gauss-Newton decrement g^T H^-1 g / 2 over the free coordinates is the model's
        # estimate of f - f* (module docstring). MINPACK tests the actual and predicted reductions
        # of the last, damped step instead; a step held short by damping or the trust radius then
        # passes for convergence (measured: a start on a plateau at f = sum y^2, crawling by
        # 1e-15 f per step, was reported converged). H gets 1e-12 of its scale on the diagonal,
        # far below any curvature the data determine, only to keep the factorisation finite.
        gf = jnp.where(free, s.grad, 0.0)
        A = jnp.where(free[:, None] & free[None, :], s.hess, 0.0) + jnp.diag(
            jnp.where(free, 1e-12 * jnp.maximum(s.scale, 1e-300), 1.0))
        dec = 0.5 * gf @ self._solve(A, gf)
        small_dec = alive & jnp.isfinite(dec) & ((dec <= self.ftol * f)
                                                  | (~s.accepted & (dec <= DECREMENT_NOISE * s.fnoise)))
        small_x = alive & trusted & (s.dx <= self.xtol)
        pg = projected_gradient(s.theta, s.grad, lower, upper)
        # MINPACK's cosine uses the current column norms (diag H), not the damping's running
        # maximum: a column that has shrunk since would loosen the test by sqrt(scale / d).
        denom = jnp.sqrt(2.0 * f * jnp.maximum(d, 1e-300))
        small_g = alive & jnp.all(jnp.abs(pg) <= self.gtol * denom)
        stalled = s.lam > self.lam_max * self.lam0
        return jnp.select([small_g, small_dec, small_x, stalled],
                          [int(Status.CONVERGED_GRADIENT), int(Status.CONVERGED_OBJECTIVE),
                           int(Status.CONVERGED_STEP), int(Status.STALLED)], int(Status.RUNNING))
