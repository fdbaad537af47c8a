"""One law over several groups with some parameters shared: the joint law a shared fit solves.

For groups ``g = 1..G`` and a law with free parameters ``P``, sharing ``S`` of them gives a
law with ``|S| + G (|P| - |S|)`` parameters: each shared one once (named as in the law), each
other one per group (named ``"name[label]"``). The joint law reads one more input, the point's
group index (``GROUP_INPUT``), and evaluates the original law with every point's own group's
values, so the law's function must broadcast its parameters against its inputs (elementwise
laws do: ``p["A"] / x["N"] ** p["alpha"]`` with ``[n]`` parameters is the same expression).
Parameters the law holds fixed stay fixed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np

from jaxlaws.datasets import Dataset
from jaxlaws.errors import JaxlawsError
from jaxlaws.law import Law

GROUP_INPUT = "_group"

# Each law keeps {(labels, shared): joint law} in its own ``_joint`` attribute: the same request
# gives the same Law object, so its compiled programs (cached per law) are reused, e.g. across
# the datasets of a simulation, and the cache goes when the law goes (a cycle the collector frees).
_CACHE_ATTR = "_joint"


def member(name: str, label: Any) -> str:
    """The joint law's name for group ``label``'s copy of parameter ``name``."""
    return f"{name}[{label}]"


def check_shared(law: Law, shared: Sequence[str]) -> tuple[str, ...]:
    """``shared`` as a tuple of the law's free parameter names, or a one-line error."""
    if isinstance(shared, str):
        shared = (shared,)
    shared = tuple(shared)
    unknown = [k for k in shared if k not in law.params]
    if unknown:
        fixed = [k for k in unknown if k in law.fixed]
        why = f"; {fixed} are fixed (a fixed value is shared already)" if fixed else ""
        raise JaxlawsError(f"shared= names {unknown}, not free parameters of law {law.name!r}: "
                           f"those are {list(law.params)}{why}")
    if len(set(shared)) != len(shared):
        raise JaxlawsError(f"shared= names a parameter twice: {list(shared)}")
    if not shared:
        raise JaxlawsError("shared= is empty: use fit_groups without it for separate fits")
    return shared


def joint_law(law: Law, labels: Sequence[Any], shared: Sequence[str]) -> Law:
    """The law over groups ``labels`` with ``shared`` parameters common to all (module docstring);
    the same law object for the same request."""
    shared = check_shared(law, shared)
    labels = list(labels)
    key = (tuple((type(g).__name__, str(g)) for g in labels), shared)  # 1 and 1.0 name parameters differently
    cached = law.__dict__.get(_CACHE_ATTR)
    if cached is None:
        cached = {}
        object.__setattr__(law, _CACHE_ATTR, cached)  # a cache, not a field of the frozen law
    if key not in cached:
        cached[key] = _build(law, labels, shared)
    return cached[key]


def _build(law: Law, labels: list[Any], shared: tuple[str, ...]) -> Law:
    own = [k for k in law.params if k not in shared]
    params = {k: law.params[k] for k in shared}
    for k in own:
        params.update({member(k, g): law.params[k] for g in labels})

    def fn(p: Any, x: Any) -> Any:
        g = jnp.asarray(x[GROUP_INPUT]).astype(jnp.int32)
        q = {k: p[k] for k in law.order if k not in own}  # shared and fixed
        for k in own:
            q[k] = jnp.stack([p[member(k, lab)] for lab in labels])[g]
        return law.fn({k: q[k] for k in law.order}, {k: x[k] for k in law.inputs})

    return Law(name=f"{law.name}(shared {', '.join(shared)})", fn=fn, inputs=(*law.inputs, GROUP_INPUT),
               params=params, held=dict(law.held), predicts_log=law.predicts_log, n_outputs=law.n_outputs,
               description=f"{law.description} with {', '.join(shared)} shared over {len(labels)} groups",
               reference=law.reference)


def joint_data(data: Dataset, labels: Sequence[Any]) -> Dataset:
    """``data`` with the group index of every point as the input ``GROUP_INPUT``."""
    if data.groups is None:
        raise JaxlawsError(f"dataset {data.name!r} has no groups to share parameters across")
    if GROUP_INPUT in data.inputs:
        raise JaxlawsError(f"dataset {data.name!r} already has an input named {GROUP_INPUT!r}")
    index = {g: i for i, g in enumerate(labels)}
    unknown = [g for g in np.unique(data.groups) if g not in index]
    if unknown:
        raise JaxlawsError(f"points of group {unknown[0]!r} are not among the fitted groups")
    g = np.array([index[v] for v in data.groups], np.float64)
    return Dataset(name=data.name, inputs={**data.inputs, GROUP_INPUT: g}, y=data.y, target=data.target,
                   groups=data.groups, splits=data.splits, provenance=data.provenance, units=data.units)


def split(law: Law, joint: Law, labels: Sequence[Any], natural: np.ndarray) -> np.ndarray:
    """``[G, P]`` each group's free parameters (``law``'s order) from the joint law's ``[P_joint]``."""
    values = dict(zip(joint.params, np.asarray(natural, np.float64)))
    return np.array([[values[k] if k in values else values[member(k, g)] for k in law.params] for g in labels])


def combine(law: Law, labels: Sequence[Any], per_group: np.ndarray, shared: Sequence[str]) -> np.ndarray:
    """``[P_joint]`` a joint start (natural units, :func:`joint_law`'s order) from ``[G, P]``
    per-group values: each shared parameter at the median over groups (the middle of their
    separate fits), the others as they are."""
    per_group = np.asarray(per_group, np.float64)
    col = {k: j for j, k in enumerate(law.params)}
    out = [float(np.median(per_group[:, col[k]])) for k in shared]
    for k in law.params:
        if k not in shared:
            out.extend(float(per_group[i, col[k]]) for i in range(len(labels)))
    return np.array(out)
