"""The law catalog: ``get(name)``, ``names()``, ``register(law)``."""

from __future__ import annotations

from jaxlaws.errors import JaxlawsError
from jaxlaws.law import Law

_CATALOG: dict[str, Law] = {}


def register(law: Law) -> Law:
    """Add ``law`` to the catalog under ``law.name`` (replacing none)."""
    if law.name in _CATALOG and _CATALOG[law.name] is not law:
        raise JaxlawsError(f"a law named {law.name!r} is already registered")
    _CATALOG[law.name] = law
    return law


def get(name: str | Law) -> Law:
    """The catalog law called ``name`` (a Law is returned as is)."""
    if isinstance(name, Law):
        return name
    try:
        return _CATALOG[name]
    except KeyError:
        raise JaxlawsError(f"unknown law {name!r}; known laws: {', '.join(names())}") from None


def names() -> list[str]:
    """Catalog names, sorted."""
    return sorted(_CATALOG)


from jaxlaws.laws import (  # noqa: E402  (modules register themselves)
    bnsl,
    chinchilla,
    data_constrained,
    kaplan,
    lr_bsz,
    mixing,
    moe,
    parscale,
    poly,
    power,
    sft,
    vocab,
)

__all__ = [
    "get",
    "names",
    "register",
    "bnsl",
    "chinchilla",
    "data_constrained",
    "kaplan",
    "lr_bsz",
    "mixing",
    "moe",
    "parscale",
    "poly",
    "power",
    "sft",
    "vocab",
]
