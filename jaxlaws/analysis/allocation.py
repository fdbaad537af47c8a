"""Compute-optimal allocation for laws of N (parameters) and D (tokens).

Under a compute model C = c(N, D) (default C = 6 N D), the compute-optimal
model size is N*(C) = argmin_N L(N, D(N, C)) with D(N, C) solving c(N, D) = C.

* Closed form where the law declares one (``Law.allocation``; the Chinchilla
  laws do: :func:`jaxlaws.laws.chinchilla.compute_optimal`), never guessed from
  parameter names: another law with inputs N, D and parameters E, A, B, alpha,
  beta gets autodiff.
* Any other law by autodiff: a golden-section search over log N brackets the
  minimum, then Newton steps on d/dlogN L with jax's exact derivatives.

Everything is a pure jax function of the parameter mapping, so it vmaps over
bootstrap replicates (see :meth:`jaxlaws.BootstrapResult.derive`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlaws.errors import JaxlawsError
from jaxlaws.law import Law

TokensFn = Callable[[Any, Any], Any]


def six_nd(N: Any, C: Any) -> Any:
    """Tokens D that compute C buys a model of N parameters under C = 6 N D."""
    return C / (6.0 * N)


def has_closed_form(law: Law) -> bool:
    """Whether the law declares a closed-form allocation (``Law.allocation``)."""
    return law.allocation is not None


def check_budgets(C: Any) -> np.ndarray:
    C = np.atleast_1d(np.asarray(C, np.float64))
    if C.ndim != 1 or not np.all(np.isfinite(C)) or np.any(C <= 0):
        raise JaxlawsError("compute budgets C must be positive, finite numbers")
    return C


def closed_form(law: Law, p: Mapping[str, Any], C: Any, flops_per_param_token: float = 6.0) -> dict[str, Any]:
    """The law's declared closed-form allocation at budgets ``C`` (jax, any shapes)."""
    if law.allocation is None:
        raise JaxlawsError(f"law {law.name!r} has no closed-form allocation; use method='autodiff'")
    return dict(law.allocation(p, C, flops_per_param_token))


def _check_tokens(tokens: TokensFn) -> None:
    with jax.enable_x64(True):
        probe = np.asarray(tokens(jnp.asarray([1e6, 1e9, 1e12]), jnp.asarray([1e18, 1e21, 1e24])))
    if probe.shape != (3,) or not np.all(np.isfinite(probe)) or np.any(probe <= 0):
        raise JaxlawsError("the compute model must give a positive, finite number of tokens D for positive N and C")


def by_autodiff(
    law: Law,
    p: Mapping[str, Any],
    C: Any,
    tokens: TokensFn = six_nd,
    n_range: tuple[float, float] = (1e3, 1e16),
    iters: int = 80,
    newton: int = 4,
) -> dict[str, Any]:
    """N*(C), D*(C) for any law of N and D, by golden section then Newton on log N.

    Works on one parameter mapping and a ``[k]`` vector of budgets (jax).
    """
    lo0, hi0 = jnp.log(n_range[0]), jnp.log(n_range[1])
    gr = (np.sqrt(5.0) - 1.0) / 2.0

    def one(c: Any) -> Any:
        def h(u: Any) -> Any:
            N = jnp.exp(u)
            return jnp.reshape(law.fn(p, {"N": N[None], "D": tokens(N, c)[None]}), ())

        def body(_: int, ab: Any) -> Any:
            a, b = ab
            x1 = b - gr * (b - a)
            x2 = a + gr * (b - a)
            left = h(x1) < h(x2)
            return jnp.where(left, a, x1), jnp.where(left, x2, b)

        a, b = jax.lax.fori_loop(0, iters, body, (lo0, hi0))
        u = 0.5 * (a + b)
        dh, d2h = jax.grad(h), jax.grad(jax.grad(h))
        for _ in range(newton):
            step = dh(u) / d2h(u)
            u = jnp.where(jnp.isfinite(step) & (d2h(u) > 0), jnp.clip(u - step, a - 1.0, b + 1.0), u)
        return jnp.exp(u)

    C = jnp.atleast_1d(jnp.asarray(C))
    N = jax.vmap(one)(C)
    D = tokens(N, C)
    # Local scaling exponents a = dlogN*/dlogC, b = dlogD*/dlogC at each budget (central differences
    # of the exact optimum in log C would need extra solves; the Chinchilla form gives them exactly).
    return {"N_opt": N, "D_opt": D, "tokens_per_param": D / N}


def optimal(law: Law, params: Mapping[str, Any], C: Any, tokens: TokensFn | None = None,
            method: str = "auto") -> dict[str, np.ndarray]:
    """Compute-optimal allocation at budgets ``C`` (FLOPs) for natural ``params``.

    Returns ``N_opt``, ``D_opt``, ``tokens_per_param`` (each ``[len(C)]``) and,
    for the closed form, the exponents ``a``, ``b``.
    """
    if set(law.inputs) != {"N", "D"}:
        raise JaxlawsError(f"allocation needs a law of N and D; {law.name!r} takes {list(law.inputs)}")
    C = check_budgets(C)
    if tokens is not None:
        _check_tokens(tokens)
    use_closed = method == "closed" or (method == "auto" and tokens is None and has_closed_form(law))
    if method == "closed" and not has_closed_form(law):
        raise JaxlawsError(f"law {law.name!r} has no closed-form allocation; use method='autodiff'")
    with jax.enable_x64(True):
        p = {k: jnp.asarray(v, jnp.float64) for k, v in law.every(params).items()}
        if use_closed:
            out = closed_form(law, p, jnp.asarray(C))
        else:
            out = by_autodiff(law, p, jnp.asarray(C), tokens or six_nd)
        return {k: np.asarray(v) for k, v in out.items()}


def from_bootstrap(boot: Any, C: Any, tokens: TokensFn | None = None, method: str = "auto") -> dict[str, Any]:
    """Bootstrap replicates of the compute-optimal allocation at budgets ``C`` (FLOPs).

    ``boot`` is a :class:`~jaxlaws.BootstrapResult`. Returns name ->
    :class:`~jaxlaws.intervals.Samples` for ``N_opt``, ``D_opt``, ``tokens_per_param`` (each
    over the budgets) and, for a law with a closed form, the exponents ``a`` and ``b``;
    ``.ci(level)`` of each gives the band, computed from the replicates.
    """
    law = boot.law
    C = check_budgets(C)
    probe = optimal(law, boot.fit.params, C, tokens=tokens, method=method)
    closed = "a" in probe

    def g(key: str) -> Callable[[Mapping[str, Any]], Any]:
        def fn(p: Mapping[str, Any]) -> Any:
            if closed:
                out = closed_form(law, p, jnp.asarray(C))
            else:
                out = by_autodiff(law, p, jnp.asarray(C), tokens or six_nd)
            return jnp.atleast_1d(out[key])

        return fn

    return {k: boot.derive(g(k)) for k in probe}
