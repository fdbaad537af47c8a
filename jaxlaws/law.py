"""Laws: pure jax functions of named parameters and named inputs.

A law is ``fn(params, inputs) -> prediction`` where ``params`` maps parameter
names to scalars (natural units) and ``inputs`` maps input names to arrays of
shape ``[n]``. The prediction has shape ``[n]`` (or ``[n, k]`` for a law with
``k`` outputs). A law that sets ``predicts_log=True`` returns log(y) instead,
so that log-space losses never take the log of a non-positive prediction.

Solvers work in *internal* coordinates: a parameter with ``scale="log"`` is
optimised as log(value), one with ``scale="linear"`` as the value itself.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlaws.errors import JaxlawsError

_SCALES = ("linear", "log")


@dataclasses.dataclass(frozen=True)
class Param:
    """A bounded parameter.

    Attributes:
      lower, upper: bounds in natural units (``lower < upper``; may be infinite
        on a linear scale, must be positive on a log scale).
      scale: ``"linear"`` or ``"log"``: the coordinate the solvers move in.
      start: ``(lo, hi)`` natural-unit range that sampled starts are drawn from
        (uniformly in the internal coordinate); defaults to the bounds.
      grid: natural-unit values this parameter takes in the law's start grid.
    """

    lower: float
    upper: float
    scale: str = "linear"
    start: tuple[float, float] | None = None
    grid: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        lo, hi = float(self.lower), float(self.upper)
        if math.isnan(lo) or math.isnan(hi):
            raise JaxlawsError(f"Param bounds must not be NaN, got ({lo}, {hi})")
        if not lo < hi:
            raise JaxlawsError(f"Param lower ({lo:g}) must be < upper ({hi:g})")
        if self.scale not in _SCALES:
            raise JaxlawsError(f"Param scale must be 'linear' or 'log', got {self.scale!r}")
        if self.scale == "log" and not (lo > 0 and math.isfinite(hi)):
            raise JaxlawsError(f"a log-scale Param needs 0 < lower and a finite upper, got ({lo:g}, {hi:g})")
        object.__setattr__(self, "lower", lo)
        object.__setattr__(self, "upper", hi)
        if self.start is not None:
            s = tuple(float(v) for v in self.start)
            if len(s) != 2 or not (lo <= s[0] < s[1] <= hi):
                raise JaxlawsError(f"Param start range {self.start} must be (lo, hi) inside ({lo:g}, {hi:g})")
            object.__setattr__(self, "start", s)
        if self.grid is not None:
            g = tuple(float(v) for v in self.grid)
            if not g or any(not (lo <= v <= hi) for v in g):
                raise JaxlawsError(f"Param grid {self.grid} must be non-empty and inside ({lo:g}, {hi:g})")
            object.__setattr__(self, "grid", g)

    def to_internal(self, value: Any) -> Any:
        """Natural units -> the solver's coordinate (numpy or jax arrays)."""
        return np.log(value) if self.scale == "log" else value

    def start_range(self) -> tuple[float, float]:
        """The natural-unit range sampled starts come from."""
        lo, hi = self.start if self.start is not None else (self.lower, self.upper)
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise JaxlawsError("a Param with infinite bounds needs a finite start=(lo, hi) range to sample starts")
        return lo, hi


@dataclasses.dataclass(frozen=True, eq=False)
class Law:
    """A scaling law: a pure jax function with named, bounded parameters.

    Attributes:
      name: catalog name.
      fn: ``fn(params, inputs) -> [n]`` (or ``[n, k]``) prediction, or log
        prediction when ``predicts_log``.
      inputs: names of the inputs ``fn`` reads.
      params: ordered mapping name -> :class:`Param`.
      predicts_log: ``fn`` returns log(y).
      n_outputs: number of outputs per point (1 for an ordinary law).
      description: the formula, for listings.
      reference: where the law comes from.
      allocation: the law's closed-form compute-optimal allocation, if it has one:
        ``allocation(params, C, flops_per_param_token) -> {"N_opt", "D_opt",
        "tokens_per_param", "a", "b"}`` under C = k N D (pure jax). Declared by the law
        itself; :mod:`jaxlaws.analysis.allocation` uses autodiff for laws without one.
    """

    name: str
    fn: Callable[[Mapping[str, Any], Mapping[str, Any]], Any]
    inputs: tuple[str, ...]
    params: Mapping[str, Param]
    predicts_log: bool = False
    n_outputs: int = 1
    description: str = ""
    reference: str = ""
    allocation: Callable[..., Mapping[str, Any]] | None = None

    def __post_init__(self) -> None:
        if not self.params:
            raise JaxlawsError(f"law {self.name!r} has no parameters")
        if not self.inputs:
            raise JaxlawsError(f"law {self.name!r} has no inputs")
        for k, p in self.params.items():
            if not isinstance(p, Param):
                raise JaxlawsError(f"law {self.name!r}: parameter {k!r} must be a jl.Param, got {type(p).__name__}")
        object.__setattr__(self, "params", dict(self.params))
        object.__setattr__(self, "inputs", tuple(self.inputs))

    # ---- coordinates -------------------------------------------------------
    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(self.params)

    @property
    def n_params(self) -> int:
        return len(self.params)

    @property
    def log_mask(self) -> np.ndarray:
        """``[P]`` bool: which parameters move on a log scale."""
        return np.array([p.scale == "log" for p in self.params.values()])

    @property
    def lower(self) -> np.ndarray:
        """``[P]`` lower bounds in internal coordinates."""
        return np.array([p.to_internal(p.lower) for p in self.params.values()], dtype=np.float64)

    @property
    def upper(self) -> np.ndarray:
        """``[P]`` upper bounds in internal coordinates."""
        return np.array([p.to_internal(p.upper) for p in self.params.values()], dtype=np.float64)

    def to_internal(self, natural: Any) -> np.ndarray:
        """``[..., P]`` natural values (or a name -> value mapping) -> internal."""
        if isinstance(natural, Mapping):
            missing = [k for k in self.params if k not in natural]
            extra = [k for k in natural if k not in self.params]
            if missing or extra:
                raise JaxlawsError(f"law {self.name!r} parameters are {list(self.params)}; missing {missing}, unknown {extra}")
            natural = np.stack([np.asarray(natural[k], dtype=np.float64) for k in self.params], axis=-1)
        natural = np.asarray(natural, dtype=np.float64)
        if natural.shape[-1:] != (self.n_params,):
            raise JaxlawsError(f"law {self.name!r} has {self.n_params} parameters, got values of shape {natural.shape}")
        mask = self.log_mask
        if np.any(natural[..., mask] <= 0):
            raise JaxlawsError(f"law {self.name!r}: log-scale parameters must be positive")
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(mask, np.log(np.where(mask, natural, 1.0)), natural)

    def to_natural(self, theta: Any) -> Any:
        """``[..., P]`` internal -> natural (jax or numpy arrays)."""
        xp = jnp if isinstance(theta, jax.Array) else np
        mask = self.log_mask
        # exp only where the scale is log: exp of a large linear-scale value would overflow and,
        # through where's reverse-mode rule, turn that coordinate's gradient into NaN.
        return xp.where(mask, xp.exp(xp.where(mask, theta, 0.0)), theta)

    def as_dict(self, theta_natural: Any) -> dict[str, Any]:
        """``[..., P]`` natural -> name -> ``[...]`` mapping."""
        return {k: theta_natural[..., i] for i, k in enumerate(self.params)}

    # ---- evaluation --------------------------------------------------------
    def _check_inputs(self, inputs: Mapping[str, Any]) -> None:
        missing = [k for k in self.inputs if k not in inputs]
        if missing:
            raise JaxlawsError(f"law {self.name!r} needs inputs {list(self.inputs)}; missing {missing}")

    def log_predict_internal(self, theta: Any, inputs: Mapping[str, Any]) -> Any:
        """log(y) at internal ``theta [P]``: NaN where the prediction is not positive."""
        out = self.fn(self.as_dict(self.to_natural(theta)), inputs)
        return out if self.predicts_log else jnp.log(out)

    def predict_internal(self, theta: Any, inputs: Mapping[str, Any]) -> Any:
        """y at internal ``theta [P]``."""
        out = self.fn(self.as_dict(self.to_natural(theta)), inputs)
        return jnp.exp(out) if self.predicts_log else out

    def predict(self, params: Mapping[str, Any], inputs: Mapping[str, Any] | None = None, **kw: Any) -> Any:
        """y at natural ``params`` (name -> value) and ``inputs`` (name -> array)."""
        inputs = dict(inputs or {}, **kw)
        self._check_inputs(inputs)
        # float64 unless the caller's arrays say otherwise (their dtypes are kept), scoped to this call.
        with jax.enable_x64(True):
            x = {k: jnp.asarray(inputs[k]) for k in self.inputs}
            p = {k: jnp.asarray(params[k]) for k in self.params}
            out = self.fn(p, x)
            return jnp.exp(out) if self.predicts_log else out

    __call__ = predict

    def describe(self) -> str:
        """One block of text: formula, inputs, parameters with bounds."""
        lines = [f"{self.name}: {self.description}".rstrip(": ")]
        lines.append(f"  inputs: {', '.join(self.inputs)}")
        for k, p in self.params.items():
            lines.append(f"  {k:<10s} [{p.lower:g}, {p.upper:g}] {p.scale}")
        if self.reference:
            lines.append(f"  ref: {self.reference}")
        return "\n".join(lines)


def law(
    *,
    inputs: Sequence[str],
    params: Mapping[str, Param],
    name: str | None = None,
    predicts_log: bool = False,
    n_outputs: int = 1,
    description: str = "",
    reference: str = "",
) -> Callable[[Callable[..., Any]], Law]:
    """Decorator turning ``fn(params, inputs)`` into a :class:`Law`.

    Example::

        @jl.law(inputs=("N",), params={"A": jl.Param(1e-3, 1e9, scale="log"),
                                       "alpha": jl.Param(0, 2)})
        def my_law(p, x):
            return p["A"] * x["N"] ** -p["alpha"]
    """

    def wrap(fn: Callable[..., Any]) -> Law:
        return Law(
            name=name or fn.__name__,
            fn=fn,
            inputs=tuple(inputs),
            params=params,
            predicts_log=predicts_log,
            n_outputs=n_outputs,
            description=description or (fn.__doc__ or "").strip().split("\n")[0],
            reference=reference,
        )

    return wrap
