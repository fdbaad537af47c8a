"""Diagnostics of a fitted law: when not to believe the fit.

:func:`diagnose` takes a law, a loss, the data and an optimum ``theta`` (internal
coordinates) and returns :class:`Diagnostics`: which parameters sit on a bound,
the covariance and standard errors, the identifiability of the free parameters
(singular values, flat directions, high correlations), a Gaussian likelihood with
AIC and BIC, and one-line warnings.

Notation (all sums over the ``n`` residuals with positive weight):
``r [n]`` residuals in the loss's space (log residuals for ``-log`` losses),
``w [n]`` weights, ``J [n, p]`` the Jacobian dr/dtheta over the ``p`` free
parameters in internal coordinates (log(value) for ``scale="log"``, asinh(value / width)
for ``scale="asinh"``),
``W = diag(w)``.

Covariance estimators:

* ``mse`` (rho = r^2): Gauss-Newton, ``s^2 (J^T W J)^-1`` with
  ``s^2 = sum w r^2 / (n - p)``: scipy's ``curve_fit`` ``pcov`` with
  ``absolute_sigma=False`` and ``sigma = 1/sqrt(w)``, inverted as it does (SVD,
  singular values below ``eps * max(n, p) * s_max`` dropped), of the
  column-scaled matrix.
* Huber: the M-estimator sandwich ``n/(n-p) A^-1 B A^-1`` with
  ``B = J^T diag(w^2 psi(r)^2) J`` and ``A = J^T diag(w psi'_h(r)) J``, where
  ``psi'_h(r) = (psi(r+h) - psi(r-h)) / 2h`` is psi' smoothed over a window of
  half-width ``h`` (see :func:`_bandwidth`). Why this one:

  - The sandwich does not assume the residual distribution is the same at every
    design point; Huber's (1981) form ``K^2 [sum w psi^2/(n-p)] / [mean psi']^2
    (J^T W J)^-1``, ``K = 1 + (p/n) var(psi')/mean(psi')^2``, does. On the Chinchilla data it is not: the share of log
    residuals inside delta = 1e-3 is 25% for 1e8 <= N < 1e9 and 9% for N >= 1e9.
    Measured against the 4,000-resample pairs bootstrap (SE alpha 0.0149, beta
    0.0203, E 0.0256), Huber's form gives ratios alpha 0.64, beta 0.42, E 0.58.
  - The exact ``psi' = 1{|r| <= delta}`` builds A from the 39 of 240 points
    inside delta = 1e-3: ratios alpha 1.72, beta 0.76, E 1.15, a noisy bread.
  - With delta far below the residual scale the Huber fit is a median
    regression, and E[psi'(e) | x] ~ 2 delta f_x(0) is a density at zero:
    estimate it with a kernel, as Powell's (1991) sandwich does for quantile
    regression. ``psi'_h`` is the uniform-kernel average of psi' over
    [r - h, r + h]: exactly psi' = 2 for mse, exactly 1 for Huber points deeper
    than h inside delta, ~ (delta/h) 1{|r| <= h} when h >> delta. Ratios at the
    chosen h = 1.97 delta: alpha 1.24, beta 0.74, E 1.01; over h = 1.5 .. 7
    delta they stay within alpha 0.88-1.24, beta 0.73-1.00, E 0.90-1.07.

  The factor n/(n-p) is the sandwich's small-sample correction (HC1), the
  counterpart of the n - p in mse's s^2.

Natural units by the delta method: ``cov_nat = G cov G``, ``G = diag(d value / d internal)``:
the value for log-scale parameters, ``width * cosh(internal)`` for asinh-scale ones, 1 otherwise.
Parameters the law holds fixed (``Param(fixed=)``) are not parameters of the fit at all: they
appear nowhere here (the results report them as fixed).

Parameters on a bound are held fixed: everything above is over the free ones,
conditional on the fixed values. Identifiability is read from the SVD of the
bread's square root ``sqrt(w c) J`` (c constant for mse, psi'_h for Huber, so a flat
direction is exactly one the covariance cannot pin down), with columns scaled
to unit norm. The likelihood is :func:`information`'s Gaussian one for every
loss, with k = p.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import math
from collections.abc import Callable, Mapping
from statistics import NormalDist
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlaws import program_store as store
from jaxlaws.errors import JaxlawsError
from jaxlaws.law import Law
from jaxlaws.losses import Loss

EPS = float(np.finfo(np.float64).eps)  # 2.2e-16

# A parameter within BOUND_RTOL * max(1, |bound|, box width) of a bound is on it. The LM
# solver projects onto the box, so its float64 iterates sit exactly on a bound; a float32 run
# leaves float32(bound), off by up to 6e-8 |bound| (half a float32 ulp), which 1e-6 covers
# with room (8 ulps). The scale is max(1, |bound|) so that a bound at 0 gets an absolute
# tolerance, and at least the box width so that a parameter boxed in [0, 3] is judged against
# its range. 1e-6 of the box is far below any standard error seen in practice.
BOUND_RTOL = 1e-6

# A direction is flat when its singular value s_i (column-scaled Jacobian, so scale-free) is
# below FLAT_RTOL * s_max. J^T W J, which LM steps and the covariance invert, then has a
# condition number above 1e12, and float64 (eps 2.2e-16) leaves under 4 significant digits
# along that direction: the fitted value there is set by rounding and the solver's stopping
# rule rather than by the data. At s_i/s_max ~ sqrt(eps) = 1.5e-8, J^T W J is singular to
# working precision outright; flagging 100x earlier warns while the numbers still compute.
# (The Chinchilla fit's smallest ratio is 3e-3.)
FLAT_RTOL = 1e-6

# |corr| > 0.99: the conditional standard error of one parameter given the other is
# sqrt(1 - 0.99^2) = 0.14 of its marginal one (variance inflation > 50): the data fix a
# combination, not the two separately, and reading each SE on its own misleads.
HIGH_CORR = 0.99

# A Newton step from theta longer than STEP_SE standard errors (its length in the covariance's
# metric, see diagnose) means theta is not the optimum the covariance describes. 0.1 SE moves a
# 95% interval by 5% of its half-width; the LM optimum of the Chinchilla fit is ~1e-6 SE away.
STEP_SE = 0.1

# Residuals all within EXACT_ULPS float64 ulps of max(1, |obs|) are rounding, not noise: a law
# evaluated in float64 carries a few to a few hundred ulps (exp/log chains, cancellation in
# E + A N^-alpha), while no measured data (even stored in float32, 1e-7 relative) comes closer
# than ~1e8 ulps to a fitted law.
EXACT_ULPS = 1e3

# A null vector's component above this marks its parameter as undetermined (SE = inf). SVD
# vectors carry rounding of order eps * s_max / gap, far below 1e-8 for numerically zero
# singular values next to a finite gap.
_NULL_COMPONENT = 1e-8

# Flat directions list the parameters whose share of the (column-scaled) unit vector is at least this.
_SHOWN_COMPONENT = 0.05


@dataclasses.dataclass(frozen=True)
class Diagnostics:
    """Diagnostics of one fit; P parameters in law order, p of them free.

    Attributes:
      names: parameter names, law order.
      at_bound: name -> ``"lower"`` | ``"upper"`` for parameters on a bound (held fixed).
      cov: ``[P, P]`` covariance in natural units; NaN rows/cols for parameters on a bound,
        inf on the diagonal (NaN off it) for parameters the data do not determine.
      cov_internal: ``[P, P]`` the same in internal coordinates (log for log-scale).
      se, se_internal: name -> standard error (sqrt of the diagonals).
      corr: ``[P, P]`` correlation (NaN where a standard error is not finite).
      covariance: the estimator used, as a formula.
      singular_values: ``[p]`` of the column-scaled weighted Jacobian, descending.
      flat_directions: near-null directions in internal coordinates, e.g. ``"0.71*E - 0.70*log(A)"``.
      high_corr: ``(name_i, name_j, corr)`` for pairs with |corr| > 0.99.
      n_obs: residuals with positive weight; n_free: p; dof: n_obs - n_free.
      loglik, aic, bic: see :func:`information`; likelihood: what loglik is.
      warnings: one-line warnings, most serious first.
    """

    names: tuple[str, ...]
    at_bound: dict[str, str]
    cov: np.ndarray
    cov_internal: np.ndarray
    se: dict[str, float]
    se_internal: dict[str, float]
    corr: np.ndarray
    covariance: str
    singular_values: np.ndarray
    flat_directions: tuple[str, ...]
    high_corr: tuple[tuple[str, str, float], ...]
    n_obs: int
    n_free: int
    dof: int
    loglik: float
    aic: float
    bic: float
    likelihood: str
    warnings: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: floats, lists and strings (NaN and inf stay floats)."""
        mat = lambda a: [[float(v) for v in row] for row in np.asarray(a)]  # noqa: E731
        return {
            "names": list(self.names),
            "at_bound": dict(self.at_bound),
            "cov": mat(self.cov),
            "cov_internal": mat(self.cov_internal),
            "se": {k: float(v) for k, v in self.se.items()},
            "se_internal": {k: float(v) for k, v in self.se_internal.items()},
            "corr": mat(self.corr),
            "covariance": self.covariance,
            "singular_values": [float(v) for v in self.singular_values],
            "flat_directions": list(self.flat_directions),
            "high_corr": [[a, b, float(c)] for a, b, c in self.high_corr],
            "n_obs": int(self.n_obs),
            "n_free": int(self.n_free),
            "dof": int(self.dof),
            "loglik": float(self.loglik),
            "aic": float(self.aic),
            "bic": float(self.bic),
            "likelihood": self.likelihood,
            "warnings": list(self.warnings),
        }


def information(residuals: Any, weights: Any, k: int) -> tuple[float, float, float]:
    """Gaussian log-likelihood, AIC and BIC of residuals (lmfit's conventions).

    The residuals ``r [m]`` are taken as independent normal with variances
    ``sigma^2 / w_i`` and sigma^2 at its maximum-likelihood value
    ``RSS/n``, ``RSS = sum w r^2``, over the ``n`` residuals with ``w > 0``:

        loglik = -n/2 (ln(2 pi RSS/n) + 1) + 1/2 sum ln w
        AIC    = n ln(RSS/n) - sum ln w + 2k      = -2 loglik + 2k - n (ln 2pi + 1)
        BIC    = n ln(RSS/n) - sum ln w + k ln n

    With unit weights, AIC and BIC are lmfit's (``n ln(chi2/n) + 2 nvarys``) and
    :mod:`jaxlaws.analysis.compare`'s, to the bit. The ``sum ln w`` term makes all
    three unchanged when every weight is multiplied by one constant. ``k`` counts
    the fitted parameters of the mean only: counting sigma^2 too would add 2 to
    every AIC (ln n to every BIC) on the same data and change no ranking.
    Non-finite residuals give NaN or inf, never an exception.
    """
    r = np.ravel(np.asarray(residuals, np.float64))
    w = np.ravel(np.asarray(weights, np.float64))
    if w.shape != r.shape:
        raise JaxlawsError(f"weights have shape {w.shape}, residuals {r.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise JaxlawsError("weights must be finite and non-negative")
    keep = w > 0
    n = int(keep.sum())
    if n == 0:
        raise JaxlawsError("no residual has a positive weight")
    r, w = r[keep], w[keep]
    rss = float(np.sum(w * r * r))
    slw = float(np.sum(np.log(w)))
    # The same operations as compare's n ln(max(RSS, tiny)/n) + 2k, so unit weights reproduce it exactly.
    ll = n * np.log(max(rss, np.finfo(float).tiny) / n) - slw
    aic = ll + 2 * k
    bic = ll + k * np.log(n)
    loglik = -0.5 * ll - 0.5 * n * (np.log(2 * np.pi) + 1.0)
    return float(loglik), float(aic), float(bic)


def _label(law: Law, j: int) -> str:
    name = law.param_names[j]
    return law.params[name].label(name)


def _direction(law: Law, idx: np.ndarray, v: np.ndarray, D: np.ndarray) -> str:
    """A flat direction as ``"0.71*E - 0.70*log(A)"``.

    ``v [p]``: unit singular vector of the column-scaled Jacobian over the free parameters
    ``idx``; ``D [p]``: the column norms. The terms shown are those with |v_j| >= 0.05, so a
    parameter counts by how much its move changes the fit (scale-free); the coefficients are
    those of the direction in internal coordinates, u = v / D normalised, which a caller can
    step along (moving log(A) by 1 and alpha by 1/ln N leaves A N^-alpha unchanged).
    """
    u = v / D
    u = u / np.linalg.norm(u)
    order = [i for i in np.argsort(-np.abs(v)) if abs(v[i]) >= _SHOWN_COMPONENT]
    order.sort(key=lambda i: (-round(abs(u[i]), 2), i))  # ties (to the digits shown) in law order
    if u[order[0]] < 0:  # sign convention: the largest component is positive
        u = -u
    parts = []
    for n, i in enumerate(order):
        c = u[i]
        sign = ("-" if c < 0 else "") if n == 0 else (" - " if c < 0 else " + ")
        mag = f"{abs(c):.2f}" if abs(c) >= 0.1 else f"{abs(c):.2g}"
        parts.append(f"{sign}{mag}*{_label(law, int(idx[i]))}")
    return "".join(parts)


def _sparse_basis(Vq: np.ndarray) -> np.ndarray:
    """``[q, p]`` rows spanning a subspace -> a basis of it in reduced row echelon form.

    The SVD's basis of a q-dimensional flat subspace is any rotation of it, mixing unrelated
    degeneracies into every vector (a law with one redundant scale per output would list each
    output's in every direction). Gauss-Jordan elimination with full pivoting gives the basis in
    which each vector has a 1 at its own pivot parameter and 0 at the others', so degeneracies
    with disjoint parameters come out one per vector.
    """
    R = np.array(Vq, np.float64)
    q = R.shape[0]
    pivots: list[int] = []
    for k in range(q):
        sub = np.abs(R[k:])
        sub[:, pivots] = 0.0
        i, j = np.unravel_index(int(np.argmax(sub)), sub.shape)
        R[[k, k + i]] = R[[k + i, k]]
        R[k] /= R[k, j]
        for m in range(q):
            if m != k:
                R[m] -= R[m, j] * R[k]
        pivots.append(int(j))
    return R / np.linalg.norm(R, axis=1, keepdims=True)


def _bandwidth(r: np.ndarray) -> float:
    """Half-width h of the window psi' is averaged over, in residual units.

    Hall and Sheather's (1988) bandwidth for the sparsity 1/f(0) at the median,
    ``h_q = n^(-1/3) z^(2/3) (1.5 phi(0)^2)^(1/3)`` (z = 1.96, the 95% level), is a
    fraction of the points. Siddiqui's difference quotient counts the 2 h_q n
    residuals in ``[Q(1/2 - h_q), Q(1/2 + h_q)]``; that is the uniform kernel of
    half-width ``(Q(1/2 + h_q) - Q(1/2 - h_q))/2``, with the quantiles those of a
    normal of robust scale ``kappa = min(sd, IQR/1.34)`` (Koenker 2005, sec. 3.4):
    ``h = kappa Phi^-1(1/2 + h_q)``. h shrinks as n^(-1/3), so psi'_h -> psi'.
    """
    n = r.size
    nd = NormalDist()
    hq = n ** (-1.0 / 3.0) * nd.inv_cdf(0.975) ** (2.0 / 3.0) * (1.5 * nd.pdf(0.0) ** 2) ** (1.0 / 3.0)
    hq = min(hq, 0.45)  # n < 8 would put 1/2 + h_q past 1
    q75, q25 = np.percentile(r, [75, 25])
    sd = float(np.std(r, ddof=1)) if n > 1 else 0.0
    kappa = min(sd, (q75 - q25) / 1.34)
    return float(kappa * nd.inv_cdf(0.5 + hq))


# Compiled diagnostics programs of this process, by law, loss and data shapes (the law object
# itself is in the key: holding it keeps its id from being reused by a new law), or the futures
# of their compiles begun by :func:`compile_ahead`; the MAX_PROGRAMS most recently used are kept
# (a loop over laws, e.g. ``law.fix(E=v)`` per value, would otherwise keep every one alive).
_PROGRAMS: collections.OrderedDict[tuple[Any, ...], Any] = collections.OrderedDict()
MAX_PROGRAMS = 32
_COMPILER: list[concurrent.futures.ThreadPoolExecutor] = []


def _in_x64(finish: Callable[[], Any]) -> Any:
    with jax.enable_x64(True):  # the precision context is per thread
        return finish()


def _program(key: tuple[Any, ...], prepare: Callable[[], Callable[[], Any]], background: bool) -> None:
    """Make sure ``key``'s program exists or is compiling: ``prepare()`` loads it from the store
    or traces and lowers it (on this thread), and returns what finishes it (XLA's compile),
    run here or, with ``background``, on a thread of its own."""
    if key in _PROGRAMS:
        _PROGRAMS.move_to_end(key)
        return
    while len(_PROGRAMS) >= MAX_PROGRAMS:
        _PROGRAMS.popitem(last=False)
    with jax.enable_x64(True):
        finish = prepare()
    if background:
        if not _COMPILER:
            _COMPILER.append(concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="jaxlaws-diagnostics"))
        _PROGRAMS[key] = _COMPILER[0].submit(_in_x64, finish)
    else:
        _PROGRAMS[key] = _in_x64(finish)


def clear_compiled() -> None:
    """Forget this process's compiled diagnostics programs, once those begun ahead have finished
    (benchmarks timing a cold start; :func:`jaxlaws.engine.clear_compiled` does the engine's)."""
    concurrent.futures.wait([p for p in _PROGRAMS.values() if isinstance(p, concurrent.futures.Future)])
    _PROGRAMS.clear()


def _run(key: tuple[Any, ...], prepare: Callable[[], Callable[[], Any]], *args: Any) -> Any:
    _program(key, prepare, background=False)
    exe = _PROGRAMS[key]
    if isinstance(exe, concurrent.futures.Future):
        try:
            exe = exe.result()
        except Exception:  # noqa: BLE001 - compiled again here, so that its error is this call's
            del _PROGRAMS[key]
            _program(key, prepare, background=False)
            exe = _PROGRAMS[key]
        _PROGRAMS[key] = exe
    return exe(*args)


def _rj_key(law: Law, log_space: bool, x_shapes: Mapping[str, tuple[int, ...]], m: int) -> tuple[Any, ...]:
    return ("rj", law, log_space, tuple(sorted(x_shapes.items())), m)


def _rj_prepare(law: Law, log_space: bool, x_shapes: Mapping[str, tuple[int, ...]], m: int) -> Callable[[], Any]:
    """The residual-and-Jacobian program (see :func:`_residual_and_jacobian`), prepared."""

    def residual(th: Any, xs: Any, o: Any) -> Any:
        pred = law.log_predict_internal(th, xs) if log_space else law.predict_internal(th, xs)
        return jnp.reshape(pred, (-1,)) - o

    f64 = jnp.float64
    args = (jax.ShapeDtypeStruct((law.n_params,), f64), {k: jax.ShapeDtypeStruct(v, f64) for k, v in x_shapes.items()},
            jax.ShapeDtypeStruct((m,), f64))
    try:
        program = {"kind": "diagnostics_residual_jacobian", "log_space": log_space,
                   "law": store.law_digest(law, log_space, args[1], True)}
    except Exception:  # noqa: BLE001 - a law the digest cannot describe is compiled, not stored
        program = None
    return store.prepare(lambda th, xs, o: (residual(th, xs, o), jax.jacfwd(residual)(th, xs, o)), args, program, (0, 0))


def _residual_and_jacobian(law: Law, log_space: bool, theta: Any, xj: Mapping[str, Any], oj: Any) -> tuple[Any, Any]:
    """``(r [m], dr/dtheta [m, P])`` at ``theta``, residuals as the engine forms them (float64).

    One compiled program per law and data shape (~0.1 s to compile at XLA's ``-O0``, which serves a
    program run once; op-by-op float64 evaluation of a first call costs ~1.7 s on the Chinchilla
    data), kept in jaxlaws' program store (:mod:`jaxlaws.program_store`) so that a new process
    finds it without tracing.
    """
    shapes = {k: tuple(v.shape) for k, v in xj.items()}
    return _run(_rj_key(law, log_space, shapes, oj.shape[0]), lambda: _rj_prepare(law, log_space, shapes, oj.shape[0]),
                theta, dict(xj), oj)


def _loss_prepare(loss: Loss, n: int) -> Callable[[], Any]:
    args = (jax.ShapeDtypeStruct((n,), jnp.float64), jax.ShapeDtypeStruct((), jnp.float64))
    return store.prepare(lambda r, h: (loss.psi(r), loss.curvature(r, 0.0), loss.psi(r + h), loss.psi(r - h)),
                         args, {"kind": "diagnostics_loss_terms", "loss": loss}, (0, 0, 0, 0))


def _loss_terms(loss: Loss, r: Any, h: Any) -> tuple[Any, Any, Any, Any]:
    """``(psi(r), rho''(r), psi(r + h), psi(r - h))``: one compiled program per loss and shape
    instead of a dozen op-by-op ones (a new process's first diagnosis compiled each of them,
    ~0.2 s in all), kept in the program store like :func:`_residual_and_jacobian`."""
    n = r.shape[0]
    return _run(("loss", loss, n), lambda: _loss_prepare(loss, n), r, h)


def compile_ahead(law: Law, loss: Loss, X: Mapping[str, Any], obs: Any, weights: Any) -> None:
    """Begin compiling what :func:`diagnose` runs for this law and data shape on a background
    thread (loaded from the program store where it holds them), so that the fit's diagnosis
    finds them ready (``fit`` calls it while the engine's program compiles). Never raises: the
    real diagnosis reports any error."""
    try:
        x, obs, w, _ = _check(law, loss, X, obs, weights, np.zeros(law.n_params))
        shapes = {k: v.shape for k, v in x.items()}
        _program(_rj_key(law, loss.log_space, shapes, obs.shape[0]),
                 lambda: _rj_prepare(law, loss.log_space, shapes, obs.shape[0]), background=True)
        n = int(np.sum(w > 0))
        if n > 0:
            _program(("loss", loss, n), lambda: _loss_prepare(loss, n), background=True)
    except Exception:  # noqa: BLE001 - ahead of time only; diagnose reports its own errors
        pass


def _check(law: Any, loss: Any, X: Any, obs: Any, weights: Any,
           theta: Any) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """Validated float64 copies: inputs ``{name: [n]}``, ``obs [m]``, ``weights [m]``, ``theta [P]``."""
    if not isinstance(law, Law):
        raise JaxlawsError(f"law must be a jaxlaws.Law, got {type(law).__name__}")
    if not isinstance(loss, Loss):
        raise JaxlawsError(f"loss must be a jaxlaws.losses.Loss, got {type(loss).__name__}")
    if not isinstance(X, Mapping):
        raise JaxlawsError(f"X must map input names to arrays, got {type(X).__name__}")
    missing = [k for k in law.inputs if k not in X]
    if missing:
        raise JaxlawsError(f"law {law.name!r} needs inputs {list(law.inputs)}; missing {missing}")
    x = {k: np.asarray(X[k], np.float64) for k in law.inputs}
    sizes = {v.shape for v in x.values()}
    if len(sizes) != 1 or len(next(iter(sizes))) != 1:
        raise JaxlawsError(f"inputs must be [n] arrays of one length, got shapes {sorted(sizes)}")
    m = next(iter(sizes))[0] * law.n_outputs
    obs = np.asarray(obs, np.float64)
    w = np.asarray(weights, np.float64)
    if obs.shape != (m,) or w.shape != (m,):
        raise JaxlawsError(f"obs and weights must have shape ({m},) (points x outputs), got {obs.shape} and {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise JaxlawsError("weights must be finite and non-negative")
    theta = np.asarray(theta, np.float64)
    if theta.shape != (law.n_params,) or not np.all(np.isfinite(theta)):
        raise JaxlawsError(f"theta must be {law.n_params} finite internal coordinates, got shape {theta.shape}")
    return x, obs, w, theta


def diagnose(law: Law, loss: Loss, X: Mapping[str, Any], obs: Any, weights: Any, theta: Any, *,
             bound_rtol: float = BOUND_RTOL) -> Diagnostics:
    """Diagnostics of the fit of ``law`` at ``theta``.

    Args:
      law: the law.
      loss: the loss that was minimised (``sum w rho(r)``).
      X: input name -> ``[n]`` array.
      obs: ``[m]`` observations in the loss's space (log y for ``-log`` losses),
        ``m = n * law.n_outputs``, flattened row-major over outputs.
      weights: ``[m]`` non-negative residual weights; zero-weight residuals are not observations.
      theta: ``[P]`` the optimum, internal coordinates.
      bound_rtol: relative tolerance for "on a bound" (see ``BOUND_RTOL``).
    """
    x, obs, w, theta = _check(law, loss, X, obs, weights, theta)
    if not (math.isfinite(bound_rtol) and bound_rtol >= 0):
        raise JaxlawsError(f"bound_rtol must be finite and non-negative, got {bound_rtol!r}")
    names = law.param_names
    P = law.n_params

    with jax.enable_x64(True):
        # device_put, not jnp.asarray: the latter runs a small jitted conversion per shape (three
        # programs to trace and load in a new process, ~40 ms of a fit from the program store).
        xj = {k: jax.device_put(v) for k, v in x.items()}
        r_all, J_all = (np.asarray(a) for a in _residual_and_jacobian(law, loss.log_space, jax.device_put(theta), xj,
                                                                      jax.device_put(obs)))
    keep = w > 0
    n = int(keep.sum())
    if n == 0:
        raise JaxlawsError("no residual has a positive weight")
    r, J, w = r_all[keep], J_all[keep], w[keep]
    if not np.all(np.isfinite(r)):
        bad = int(np.sum(~np.isfinite(r)))
        raise JaxlawsError(f"{bad} of {n} residuals are not finite at theta (is theta in law {law.name!r}'s domain?)")
    bad = [names[j] for j in range(P) if not np.all(np.isfinite(J[:, j]))]
    if bad:
        raise JaxlawsError(f"the derivative of the prediction in {', '.join(bad)} is not finite at theta")
    robust = loss.delta is not None
    h = _bandwidth(r) if robust else 0.0
    with jax.enable_x64(True):
        # rho'': 2 for mse; 1/0 in/outside delta for Huber
        psi, exact_curv, psi_hi, psi_lo = (np.asarray(a) for a in _loss_terms(loss, jax.device_put(r), jax.device_put(np.float64(h))))
    if robust:
        curv = (psi_hi - psi_lo) / (2 * h) if h > 0 else exact_curv

    # ---- bounds: parameters on a bound are held fixed -------------------------------------
    lo, hi = law.lower, law.upper
    width = np.where(np.isfinite(hi - lo), hi - lo, 0.0)
    tol_lo = bound_rtol * np.maximum.reduce([np.ones(P), np.abs(np.where(np.isfinite(lo), lo, 0.0)), width])
    tol_hi = bound_rtol * np.maximum.reduce([np.ones(P), np.abs(np.where(np.isfinite(hi), hi, 0.0)), width])
    outside = [names[j] for j in range(P) if theta[j] < lo[j] - tol_lo[j] or theta[j] > hi[j] + tol_hi[j]]
    if outside:
        raise JaxlawsError(f"theta is outside law {law.name!r}'s bounds in {', '.join(outside)}")
    at_bound: dict[str, str] = {}
    for j in range(P):
        dl, du = theta[j] - lo[j], hi[j] - theta[j]
        if dl <= tol_lo[j] and dl <= du:
            at_bound[names[j]] = "lower"
        elif du <= tol_hi[j]:
            at_bound[names[j]] = "upper"
    free = np.array([k not in at_bound for k in names])
    idx = np.flatnonzero(free)
    p = idx.size
    dof = n - p
    Jf = J[:, idx]

    # ---- the bread A = J^T diag(w c) J, through the SVD of its column-scaled square root ----
    # c: the curvature the covariance uses (1 for mse, whose constant 2 cancels in
    # s^2 (J^T W J)^-1; psi'_h for Huber). Scaling columns to unit norm makes the singular
    # values scale-free (a parameter in other units only rescales its column) and keeps the
    # SVD accurate when the columns' norms differ by orders of magnitude.
    c = curv if robust else np.ones(n)
    M = np.sqrt(w * np.maximum(c, 0.0))[:, None] * Jf
    D = np.linalg.norm(M, axis=0)
    D = np.where(D > 0, D, 1.0)  # a dead column stays zero: a zero singular value, flagged below
    if p:
        _, S, Vt = np.linalg.svd(M / D, full_matrices=False)
    else:
        S, Vt = np.zeros(0), np.zeros((0, 0))
    smax = S[0] if p else 0.0
    # Numerical rank as curve_fit and numpy.linalg.pinv draw it: below eps * max(n, p) * s_max
    # a singular value is rounding, and its direction gets infinite variance.
    ok = S > EPS * max(n, p) * smax if smax > 0 else np.zeros(p, bool)
    V = Vt.T / D[:, None]  # columns: directions in internal coordinates (unnormalised)
    Ainv = (V[:, ok] / S[ok] ** 2) @ V[:, ok].T  # A^-1 on the identifiable subspace
    undetermined = np.zeros(p, bool)
    if not ok.all():
        undetermined = np.any(np.abs(Vt[~ok]) > _NULL_COMPONENT, axis=0)

    # ---- covariance over the free parameters --------------------------------------------
    if robust:
        B = (Jf * (w * w * psi * psi)[:, None]).T @ Jf
        cov_f = n / dof * (Ainv @ B @ Ainv) if dof > 0 else np.full((p, p), np.nan)
        inside = int(np.sum(exact_curv > 0))
        covariance = (f"sandwich (huber): n/(n-p) A^-1 B A^-1, A = J^T diag(w psi'_h) J with psi' averaged over "
                      f"|r' - r| <= h = {h:.3g}, B = J^T diag(w^2 psi^2) J; {inside} of {n} residuals inside "
                      f"delta = {loss.delta:g}")
    else:
        s2 = float(np.sum(w * r * r)) / dof if dof > 0 else np.inf
        cov_f = s2 * Ainv if dof > 0 else np.full((p, p), np.nan)
        covariance = "gauss-newton (mse): s^2 (J^T W J)^-1, s^2 = sum w r^2 / (n - p), as curve_fit's pcov"
    if dof <= 0:
        undetermined[:] = True
    cov_f = np.array(cov_f, dtype=np.float64)
    cov_f[undetermined, :] = np.nan
    cov_f[:, undetermined] = np.nan
    cov_f[undetermined, undetermined] = np.inf

    cov_int = np.full((P, P), np.nan)
    cov_int[np.ix_(idx, idx)] = cov_f
    g = law.natural_per_internal(theta)  # d natural / d internal
    cov_nat = cov_int * np.outer(g, g)
    se_int = np.sqrt(np.diag(cov_int))
    se_nat = np.sqrt(np.diag(cov_nat))
    with np.errstate(invalid="ignore", divide="ignore"):
        fin = np.isfinite(se_int) & (se_int > 0)
        corr = np.where(np.outer(fin, fin), cov_int / np.outer(se_int, se_int), np.nan)

    # ---- identifiability ----------------------------------------------------------------
    flat_idx = np.flatnonzero(S < FLAT_RTOL * smax) if smax > 0 else np.arange(p)
    flat_v = _sparse_basis(Vt[flat_idx]) if flat_idx.size else np.zeros((0, p))
    flat = tuple(_direction(law, idx, v, D) for v in flat_v)
    # How flat each basis vector is: |J~ v| against the rank cutoff (numerically null or not).
    null = tuple(bool(np.linalg.norm((M / D) @ v) <= EPS * max(n, p) * smax) for v in flat_v)
    high = tuple(
        (names[i], names[j], float(corr[i, j]))
        for a, i in enumerate(idx) for j in idx[a + 1:]
        if np.isfinite(corr[i, j]) and abs(corr[i, j]) > HIGH_CORR
    )

    # ---- is theta the optimum? the Newton step's length in the covariance's metric ----------
    # With g the gradient of sum w rho over the free parameters and the Newton step
    # d = H^-1 g, z^2 = d^T cov^-1 d is the step's length in standard errors (it bounds
    # |d_j| / SE_j for every j). mse: H = 2A, cov = s^2 A^-1, so z^2 = g^T A^-1 g / (4 s^2).
    # Huber: H = A, cov = (n/dof) A^-1 B A^-1, so z^2 = (dof/n) g^T B^-1 g, which needs only B:
    # away from an optimum the residuals leave the window around +-delta and A can vanish
    # while B (nearly every point has psi != 0) stays invertible.
    # Residuals within EXACT_ULPS ulps of the observations are rounding: the law fits exactly,
    # and both the covariance (~0) and this test (rounding over rounding) mean nothing.
    exact = bool(np.all(np.abs(r) <= EXACT_ULPS * EPS * np.maximum(1.0, np.abs(obs[keep]))))
    grad = Jf.T @ (w * psi)
    with np.errstate(invalid="ignore", divide="ignore"):
        if p == 0 or dof <= 0 or exact:
            z2 = 0.0
        elif robust:
            y = np.linalg.lstsq(((w * np.abs(psi))[:, None] * Jf).T, grad, rcond=None)[0]  # (R^T)^+ g, B = R^T R
            z2 = dof / n * float(y @ y)
        else:
            z2 = float(grad @ Ainv @ grad) / (4.0 * s2) if s2 > 0 else 0.0
        z = math.sqrt(z2) if np.isfinite(z2) and z2 > 0 else 0.0
        step = -(Ainv @ grad) / (1.0 if robust else 2.0)
        se_f = np.sqrt(np.diag(cov_f))
        in_se = np.where(np.isfinite(se_f) & (se_f > 0), np.abs(step) / se_f, 0.0)

    # ---- likelihood ----------------------------------------------------------------------
    loglik, aic, bic = information(r, w, p)
    space = "log residuals" if loss.log_space else "residuals"
    likelihood = (f"gaussian on the {space} (the loss's space) with variance sigma^2/w, sigma^2 = sum w r^2 / n "
                  f"(ML); k = n_free = {p}")

    # ---- warnings, most serious first ----------------------------------------------------
    warns: list[str] = []
    if exact:
        warns.append(f"the law fits the data exactly (every residual within {EXACT_ULPS:g} ulps of its observation): "
                     f"the standard errors are rounding, not uncertainty; fit noisy data to judge the fit")
    if z > STEP_SE:
        most = f", mostly in {names[idx[int(np.argmax(in_se))]]}" if np.any(in_se > STEP_SE) else ""
        warns.append(f"theta is not at an optimum: a Newton step from it is {z:.3g} standard errors long{most}; "
                     f"refit (more starts, tighter tolerances) before trusting anything below")
    if dof <= 0:
        warns.append(f"{n} observations for {p} free parameters: no residual degrees of freedom, standard errors "
                     f"are not defined; add data or fix parameters")
    elif not ok.all():
        bad_names = ", ".join(names[idx[i]] for i in np.flatnonzero(undetermined))
        warns.append(f"J^T W J is singular: the data do not determine {bad_names} (infinite standard errors); "
                     f"fix a parameter or add data that vary the missing inputs")
    for k, side in at_bound.items():
        b = law.params[k].lower if side == "lower" else law.params[k].upper
        warns.append(f"{k} is at its {side} bound {b:g}: its standard error is not defined and the others are "
                     f"conditional on it; widen the bound if the value is not a physical limit")
    for d, is_null in zip(flat, null):
        how = "do not constrain this combination at all" if is_null else "barely constrain this combination"
        warns.append(f"flat direction {d}: the data {how} (singular value below {FLAT_RTOL:g} of the largest); "
                     f"fix one of these parameters or add data that separate them")
    for a, b, cij in high:
        warns.append(f"{a} and {b} are correlated {cij:+.4f}: the data fix a combination of the two, not each; "
                     f"use the covariance, not the separate standard errors, for anything that depends on both")

    return Diagnostics(
        names=names,
        at_bound=at_bound,
        cov=cov_nat,
        cov_internal=cov_int,
        se={k: float(v) for k, v in zip(names, se_nat)},
        se_internal={k: float(v) for k, v in zip(names, se_int)},
        corr=corr,
        covariance=covariance,
        singular_values=np.asarray(S, np.float64),
        flat_directions=flat,
        high_corr=high,
        n_obs=n,
        n_free=p,
        dof=dof,
        loglik=loglik,
        aic=aic,
        bic=bic,
        likelihood=likelihood,
        warnings=tuple(warns),
    )


def unavailable(law: Law, reason: str) -> Diagnostics:
    """Diagnostics that could not be computed at a fit's end point, saying why (every number NaN)."""
    P = law.n_params
    names = tuple(law.params)
    nan = np.full((P, P), np.nan)
    return Diagnostics(
        names=names, at_bound={}, cov=nan, cov_internal=nan.copy(), se={k: float("nan") for k in names},
        se_internal={k: float("nan") for k in names}, corr=nan.copy(), covariance="not computed",
        singular_values=np.full(0, np.nan), flat_directions=(), high_corr=(), n_obs=0, n_free=0, dof=0,
        loglik=float("nan"), aic=float("nan"), bic=float("nan"), likelihood="not computed",
        warnings=(f"no standard errors or diagnostics at the best lane: {reason}",),
    )


def diagnose_or_explain(law: Law, loss: Loss, X: Mapping[str, Any], obs: Any, weights: Any, theta: Any) -> Diagnostics:
    """:func:`diagnose`, or, where the diagnostics cannot be computed at a fit's end point (a
    non-finite derivative, every weight zero), :func:`unavailable` saying why: a finished fit is
    never lost to its diagnostics."""
    try:
        return diagnose(law, loss, X, obs, weights, theta)
    except JaxlawsError as e:
        return unavailable(law, str(e))
