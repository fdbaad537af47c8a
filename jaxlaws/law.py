"""Laws: pure jax functions of named parameters and named inputs.

A law is ``fn(params, inputs) -> prediction`` where ``params`` maps parameter
names to scalars (natural units) and ``inputs`` maps input names to arrays of
shape ``[n]``. The prediction has shape ``[n]`` (or ``[n, k]`` for a law with
``k`` outputs). A law that sets ``predicts_log=True`` returns log(y) instead,
so that log-space losses never take the log of a non-positive prediction.

Solvers work in *internal* coordinates: a parameter with ``scale="log"`` is
optimised as log(value), one with ``scale="asinh"`` as asinh(value / width) (signed, linear
within about one width of zero and logarithmic beyond), one with ``scale="linear"`` as the
value itself. A parameter declared ``fixed=value`` (or fixed later with :meth:`Law.fix`) is
held out of the solvers entirely: ``Law.params`` lists the free parameters, the ones every
internal vector ``theta [P]`` holds, and ``Law.fixed`` the held values.
"""

from __future__ import annotations

import dataclasses
import math
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlaws.errors import JaxlawsError

_SCALES = ("linear", "log", "asinh")


@dataclasses.dataclass(frozen=True)
class Param:
    """A bounded parameter.

    Attributes:
      lower, upper: bounds in natural units (``lower < upper``; may be infinite
        on a linear scale, must be positive on a log scale).
      scale: the coordinate the solvers move in: ``"linear"``; ``"log"`` (log(value), for
        positive values spanning decades); ``"asinh"`` (asinh(value / width), for values of
        either sign spanning decades: linear for |value| << width, sign * log(2 |value| / width)
        for |value| >> width).
      start: ``(lo, hi)`` natural-unit range that sampled starts are drawn from
        (uniformly in the internal coordinate); defaults to the bounds.
      grid: natural-unit values this parameter takes in the law's start grid.
      width: the asinh scale's linear half-width (natural units, > 0); only with ``scale="asinh"``.
        The smallest magnitude the starts should resolve: sampled starts put as many points
        in each decade of |value| above it as a log scale would.
      fixed: hold the parameter at this value (natural units, inside the bounds): it is not
        fitted, not counted in AIC/BIC, constant in every bootstrap resample.
    """

    lower: float
    upper: float
    scale: str = "linear"
    start: tuple[float, float] | None = None
    grid: tuple[float, ...] | None = None
    width: float | None = None
    fixed: float | None = None

    def __post_init__(self) -> None:
        lo, hi = float(self.lower), float(self.upper)
        if math.isnan(lo) or math.isnan(hi):
            raise JaxlawsError(f"Param bounds must not be NaN, got ({lo}, {hi})")
        if not lo < hi:
            raise JaxlawsError(f"Param lower ({lo:g}) must be < upper ({hi:g})")
        if self.scale not in _SCALES:
            raise JaxlawsError(f"Param scale must be 'linear', 'log' or 'asinh', got {self.scale!r}")
        if self.scale == "log" and not (lo > 0 and math.isfinite(hi)):
            raise JaxlawsError(f"a log-scale Param needs 0 < lower and a finite upper, got ({lo:g}, {hi:g})")
        if self.scale == "asinh":
            w = 1.0 if self.width is None else float(self.width)
            if not (math.isfinite(w) and w > 0):
                raise JaxlawsError(f"an asinh-scale Param needs a finite width > 0, got {self.width!r}")
            object.__setattr__(self, "width", w)
        elif self.width is not None:
            raise JaxlawsError(f"Param width is the asinh scale's; this Param's scale is {self.scale!r}")
        object.__setattr__(self, "lower", lo)
        object.__setattr__(self, "upper", hi)
        if self.fixed is not None:
            v = float(self.fixed)
            if not (math.isfinite(v) and lo <= v <= hi):
                raise JaxlawsError(f"Param fixed value {self.fixed!r} must be finite and inside ({lo:g}, {hi:g})")
            object.__setattr__(self, "fixed", v)
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
        """Natural units -> the solver's coordinate (numpy arrays or floats)."""
        if self.scale == "log":
            return np.log(value)
        if self.scale == "asinh":
            return np.arcsinh(np.asarray(value, np.float64) / self.width)
        return value

    def label(self, name: str) -> str:
        """How the internal coordinate is written: ``log(A)``, ``asinh(c/0.001)``, ``E``."""
        if self.scale == "log":
            return f"log({name})"
        if self.scale == "asinh":
            return f"asinh({name}/{self.width:g})"
        return name

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
        prediction when ``predicts_log``; ``params`` holds every parameter, fixed ones too.
      inputs: names of the inputs ``fn`` reads.
      params: ordered mapping name -> :class:`Param` of the *free* parameters: the ones the
        solvers move and every internal vector ``theta [P]`` holds. Params given here with
        ``fixed=`` are moved to ``held``.
      held: name -> :class:`Param` (with ``fixed`` set) of the parameters held fixed.
      order: every parameter's name in declared order (free and fixed; derived when empty).
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
    held: Mapping[str, Param] = dataclasses.field(default_factory=dict)
    order: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.inputs:
            raise JaxlawsError(f"law {self.name!r} has no inputs")
        for k, p in {**self.params, **self.held}.items():
            if not isinstance(p, Param):
                raise JaxlawsError(f"law {self.name!r}: parameter {k!r} must be a jl.Param, got {type(p).__name__}")
        both = [k for k in self.params if k in self.held]
        if both:
            raise JaxlawsError(f"law {self.name!r}: parameter(s) {both} are both free and fixed")
        free = {k: p for k, p in self.params.items() if p.fixed is None}
        held = dict(self.held)
        held.update({k: p for k, p in self.params.items() if p.fixed is not None})
        not_fixed = [k for k, p in held.items() if p.fixed is None]
        if not_fixed:
            raise JaxlawsError(f"law {self.name!r}: held parameter(s) {not_fixed} have no fixed value")
        if not free and not held:
            raise JaxlawsError(f"law {self.name!r} has no parameters")
        order = tuple(self.order) or tuple(list(self.params) + [k for k in self.held if k not in self.params])
        if sorted(order) != sorted({**free, **held}):
            raise JaxlawsError(f"law {self.name!r}: parameter order {list(order)} does not name every parameter once")
        object.__setattr__(self, "params", free)
        object.__setattr__(self, "held", held)
        object.__setattr__(self, "order", order)
        object.__setattr__(self, "inputs", tuple(self.inputs))

    # ---- fixing and releasing ------------------------------------------------
    @property
    def fixed(self) -> dict[str, float]:
        """name -> value (natural units) of every parameter held fixed, in declared order."""
        return {k: self.held[k].fixed for k in self.order if k in self.held}

    @property
    def all_params(self) -> dict[str, Param]:
        """Every parameter, free and fixed, in declared order."""
        every = {**self.params, **self.held}
        return {k: every[k] for k in self.order}

    def fix(self, **values: float) -> Law:
        """This law with the named parameters held at ``values`` (natural units).

        ``law.fix(E=1.69)`` fits the other parameters only; a parameter already fixed is
        moved to the new value. Bounds still apply: a value outside them is refused.
        """
        every = self.all_params
        unknown = [k for k in values if k not in every]
        if unknown:
            raise JaxlawsError(f"law {self.name!r} has no parameter(s) {unknown}; it has {list(every)}")
        for k, v in values.items():
            p = every[k]
            try:
                ok = math.isfinite(float(v)) and p.lower <= float(v) <= p.upper
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise JaxlawsError(f"law {self.name!r}: {k} fixed at {v!r} must be finite and inside its bounds "
                                   f"[{p.lower:g}, {p.upper:g}]")
        params = {k: dataclasses.replace(p, fixed=values[k]) if k in values else p for k, p in every.items()}
        return dataclasses.replace(self, params=params, held={}, order=self.order)

    def release(self, *names: str) -> Law:
        """This law with the named fixed parameters (default: all) free again."""
        names = names or tuple(self.held)
        unknown = [k for k in names if k not in self.held]
        if unknown:
            raise JaxlawsError(f"law {self.name!r}: {unknown} are not fixed; fixed are {list(self.held)}")
        params = {k: dataclasses.replace(p, fixed=None) if k in names else p for k, p in self.all_params.items()}
        return dataclasses.replace(self, params=params, held={}, order=self.order)

    # ---- coordinates -------------------------------------------------------
    @property
    def param_names(self) -> tuple[str, ...]:
        """The free parameters' names (the columns of ``theta [P]``)."""
        return tuple(self.params)

    @property
    def n_params(self) -> int:
        """How many parameters are fitted (fixed ones are not counted)."""
        return len(self.params)

    @property
    def log_mask(self) -> np.ndarray:
        """``[P]`` bool: which parameters move on a log scale."""
        return np.array([p.scale == "log" for p in self.params.values()], dtype=bool)

    @property
    def asinh_mask(self) -> np.ndarray:
        """``[P]`` bool: which parameters move on an asinh scale."""
        return np.array([p.scale == "asinh" for p in self.params.values()], dtype=bool)

    @property
    def widths(self) -> np.ndarray:
        """``[P]`` the asinh scales' widths (1 elsewhere)."""
        return np.array([p.width if p.scale == "asinh" else 1.0 for p in self.params.values()], dtype=np.float64)

    @property
    def lower(self) -> np.ndarray:
        """``[P]`` lower bounds in internal coordinates."""
        return np.array([p.to_internal(p.lower) for p in self.params.values()], dtype=np.float64)

    @property
    def upper(self) -> np.ndarray:
        """``[P]`` upper bounds in internal coordinates."""
        return np.array([p.to_internal(p.upper) for p in self.params.values()], dtype=np.float64)

    def free_values(self, natural: Mapping[str, Any]) -> dict[str, Any]:
        """The free parameters of a name -> value mapping; fixed ones it names must have their
        fixed value (a different one is refused rather than ignored)."""
        missing = [k for k in self.params if k not in natural]
        extra = [k for k in natural if k not in self.params and k not in self.held]
        if missing or extra:
            raise JaxlawsError(f"law {self.name!r} parameters are {list(self.params)}; missing {missing}, unknown {extra}")
        for k, p in self.held.items():
            if k in natural and not np.all(np.asarray(natural[k], np.float64) == p.fixed):
                raise JaxlawsError(f"law {self.name!r} holds {k} fixed at {p.fixed:g}; got {k} = {natural[k]}")
        return {k: natural[k] for k in self.params}

    def every(self, natural: Mapping[str, Any]) -> dict[str, Any]:
        """Every parameter (declared order) from a mapping of the free ones (fixed ones filled in,
        checked by :meth:`free_values`): what ``fn`` is called with."""
        every = {**self.free_values(natural), **self.fixed}
        return {k: every[k] for k in self.order}

    def to_internal(self, natural: Any) -> np.ndarray:
        """``[..., P]`` natural values (or a name -> value mapping) -> internal."""
        if isinstance(natural, Mapping):
            free = self.free_values(natural)
            natural = np.stack([np.asarray(free[k], dtype=np.float64) for k in self.params], axis=-1) \
                if self.params else np.zeros((0,))
        natural = np.asarray(natural, dtype=np.float64)
        if natural.shape[-1:] != (self.n_params,):
            raise JaxlawsError(f"law {self.name!r} has {self.n_params} free parameters, got values of shape {natural.shape}")
        mask, sinh = self.log_mask, self.asinh_mask
        if np.any(natural[..., mask] <= 0):
            raise JaxlawsError(f"law {self.name!r}: log-scale parameters must be positive")
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(mask, np.log(np.where(mask, natural, 1.0)), natural)
        return np.where(sinh, np.arcsinh(natural / self.widths), out)

    def to_natural(self, theta: Any) -> Any:
        """``[..., P]`` internal -> natural (jax or numpy arrays)."""
        xp = jnp if isinstance(theta, jax.Array) else np
        mask, sinh = self.log_mask, self.asinh_mask
        # exp (sinh) only where the scale is log (asinh): exp of a large linear-scale value would
        # overflow and, through where's reverse-mode rule, turn that coordinate's gradient into NaN.
        out = xp.where(mask, xp.exp(xp.where(mask, theta, 0.0)), theta)
        if sinh.any():
            out = xp.where(sinh, self.widths * xp.sinh(xp.where(sinh, theta, 0.0)), out)
        return out

    def natural_per_internal(self, theta: Any) -> np.ndarray:
        """``[..., P]`` d natural / d internal at internal ``theta`` (numpy): the value on a log
        scale, width * cosh on an asinh scale, 1 on a linear one (the delta method's factor)."""
        theta = np.asarray(theta, np.float64)
        nat = np.asarray(self.to_natural(theta), np.float64)
        with np.errstate(over="ignore"):
            g = np.where(self.asinh_mask, self.widths * np.cosh(np.where(self.asinh_mask, theta, 0.0)), 1.0)
        return np.where(self.log_mask, nat, g)

    def as_dict(self, theta_natural: Any) -> dict[str, Any]:
        """``[..., P]`` natural (free parameters) -> name -> ``[...]`` mapping of every parameter,
        in declared order, fixed ones filled in."""
        xp = jnp if isinstance(theta_natural, jax.Array) else np
        shape = np.shape(theta_natural)[:-1]
        free = {k: theta_natural[..., i] for i, k in enumerate(self.params)}
        held = {k: xp.full(shape, p.fixed, dtype=theta_natural.dtype) for k, p in self.held.items()}
        every = {**free, **held}
        return {k: every[k] for k in self.order}

    def values(self, theta_natural: Any) -> dict[str, float]:
        """``[P]`` natural (free parameters) -> name -> float of every parameter, declared order."""
        return {k: float(v) for k, v in self.as_dict(np.asarray(theta_natural, np.float64)).items()}

    def expand(self, theta_natural: Any) -> np.ndarray:
        """``[..., P]`` natural (free) -> ``[..., P_all]`` every parameter in declared order (numpy)."""
        d = self.as_dict(np.asarray(theta_natural, np.float64))
        return np.stack([d[k] for k in self.order], axis=-1)

    # ---- evaluation --------------------------------------------------------
    def check_output(self, inputs: Mapping[str, Any]) -> None:
        """Trace ``fn`` once on the shapes of ``inputs`` (name -> ``[n]``), abstractly
        (:func:`jax.eval_shape`: nothing is computed or compiled), and raise
        :class:`JaxlawsError` naming this law and the problem: a key it reads but does not
        declare, a value jax cannot trace (numpy, ``float()``, an ``if`` on a parameter), any
        other error, or an output that is not one float per point (``[n]``, or ``[n, k]`` for
        ``k`` outputs; ``[n, 1]`` is taken for ``[n]``). Run when a problem is built, so that a
        law's mistake is one line before any compile instead of a traceback from inside one."""
        n = next(iter(np.shape(inputs[k]) for k in self.inputs))
        shapes = tuple((k, np.shape(inputs[k])) for k in self.inputs)
        if shapes in _CHECKED.get(self, ()):
            return  # this law passed on these shapes: a trace would only repeat the answer
        free = {k: jax.ShapeDtypeStruct((), jnp.float64) for k in self.params}
        x = {k: jax.ShapeDtypeStruct(np.shape(inputs[k]), jnp.float64) for k in self.inputs}

        def call(p: Mapping[str, Any], xs: Mapping[str, Any]) -> Any:
            every = {**p, **self.fixed}
            return self.fn(_Declared({k: every[k] for k in self.order}, self, "parameter"),
                           _Declared(xs, self, "input"))

        try:
            with jax.enable_x64(True):
                out = jax.eval_shape(call, free, x)
        except _Undeclared as e:
            raise JaxlawsError(str(e)) from None
        except (jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError,
                jax.errors.TracerBoolConversionError, jax.errors.TracerIntegerConversionError) as e:
            raise JaxlawsError(
                f"law {self.name!r} cannot be traced by jax ({type(e).__name__}): it turns a traced value into a "
                "concrete one (numpy, float(), int() or an if on a parameter?); use jax.numpy and jnp.where") from e
        except Exception as e:  # any error of the user's function: one line, the cause chained for debugging
            first = (str(e).strip().splitlines() or [""])[0]
            raise JaxlawsError(f"law {self.name!r} fails on {n[0]} points: {type(e).__name__}: {first}"
                               .rstrip(": ")) from e
        leaves = jax.tree.leaves(out)
        if len(leaves) != 1 or not isinstance(out, jax.ShapeDtypeStruct):
            kind = "None" if out is None else type(out).__name__
            raise JaxlawsError(f"law {self.name!r} must return one array of predictions, got {kind}")
        want = n if self.n_outputs == 1 else (*n, self.n_outputs)
        if out.shape != want and not (self.n_outputs == 1 and out.shape == (*n, 1)):
            hint = "; broadcast a constant with jnp.full_like" if out.shape == () else ""
            raise JaxlawsError(f"law {self.name!r} must return one value per point, shape {want} for {n[0]} points; "
                               f"got shape {out.shape}{hint}")
        if not jnp.issubdtype(out.dtype, jnp.floating):
            raise JaxlawsError(f"law {self.name!r} returns {out.dtype} values; a law must return real floats")
        _CHECKED.setdefault(self, set()).add(shapes)

    def _check_inputs(self, inputs: Mapping[str, Any]) -> None:
        missing = [k for k in self.inputs if k not in inputs]
        if missing:
            raise JaxlawsError(f"law {self.name!r} needs inputs {list(self.inputs)}; missing {missing}")

    def _call(self, free: Mapping[str, Any], inputs: Mapping[str, Any]) -> Any:
        """``fn`` with the fixed parameters filled in (as constants of the trace)."""
        every = {**free, **self.fixed}
        return self.fn({k: every[k] for k in self.order}, inputs)

    def log_predict_internal(self, theta: Any, inputs: Mapping[str, Any]) -> Any:
        """log(y) at internal ``theta [P]``: NaN where the prediction is not positive."""
        out = self._call(self._free(theta), inputs)
        return out if self.predicts_log else jnp.log(out)

    def predict_internal(self, theta: Any, inputs: Mapping[str, Any]) -> Any:
        """y at internal ``theta [P]``."""
        out = self._call(self._free(theta), inputs)
        return jnp.exp(out) if self.predicts_log else out

    def _free(self, theta: Any) -> dict[str, Any]:
        nat = self.to_natural(theta)
        return {k: nat[..., i] for i, k in enumerate(self.params)}

    def predict(self, params: Mapping[str, Any] | None = None, inputs: Mapping[str, Any] | None = None,
                **kw: Any) -> Any:
        """y at natural ``params`` (name -> value; fixed parameters may be left out) and
        ``inputs`` (name -> array)."""
        inputs = dict(inputs or {}, **kw)
        self._check_inputs(inputs)
        free = self.free_values(params or {})
        # float64 unless the caller's arrays say otherwise (their dtypes are kept), scoped to this call.
        with jax.enable_x64(True):
            x = {k: jnp.asarray(inputs[k]) for k in self.inputs}
            out = self._call({k: jnp.asarray(v) for k, v in free.items()}, x)
            return jnp.exp(out) if self.predicts_log else out

    __call__ = predict

    def describe(self) -> str:
        """One block of text: formula, inputs, parameters with bounds."""
        lines = [f"{self.name}: {self.description}".rstrip(": ")]
        lines.append(f"  inputs: {', '.join(self.inputs)}")
        for k, p in self.all_params.items():
            scale = f"asinh (width {p.width:g})" if p.scale == "asinh" else p.scale
            note = f"  fixed at {p.fixed:g}" if p.fixed is not None else ""
            lines.append(f"  {k:<10s} [{p.lower:g}, {p.upper:g}] {scale}{note}")
        if self.reference:
            lines.append(f"  ref: {self.reference}")
        return "\n".join(lines)


# Laws (by identity) and the input shapes each passed check_output on: a law is traced once per
# shape, not once per fit, so repeated fits (a loop over cutoffs, groups, notebooks) pay nothing.
_CHECKED: weakref.WeakKeyDictionary[Law, set[tuple[Any, ...]]] = weakref.WeakKeyDictionary()


class _Undeclared(KeyError):
    """A law read a key it does not declare (raised while :meth:`Law.check_output` traces it)."""

    def __str__(self) -> str:
        return str(self.args[0])


class _Declared(dict):
    """The mapping a law reads while it is checked: a missing key names the law and what it declares."""

    def __init__(self, items: Mapping[str, Any], law: Law, role: str) -> None:
        super().__init__(items)
        self.law, self.role = law, role

    def __missing__(self, key: Any) -> Any:
        declared = list(self.law.inputs) if self.role == "input" else list(self.law.order)
        where = "inputs=" if self.role == "input" else "params="
        raise _Undeclared(f"law {self.law.name!r} reads {self.role} {key!r}, which it does not declare "
                          f"(its {self.role}s: {declared}); add it to {where}")


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
