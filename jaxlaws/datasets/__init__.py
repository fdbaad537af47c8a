"""Bundled datasets and loaders: ``load(name)``, ``names()``, ``from_csv(...)``, ``from_arrays(...)``."""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any

import numpy as np

from jaxlaws.datasets.dataset import Dataset
from jaxlaws.errors import JaxlawsError

_DATA = resources.files("jaxlaws.datasets") / "data"


def _read_csv(path: Any) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise JaxlawsError(f"CSV file {os.fspath(path)!r} is empty")
    return rows[0], rows[1:]


def _column(header: list[str], rows: list[list[str]], name: str, where: str) -> np.ndarray:
    if name not in header:
        raise JaxlawsError(f"unknown column {name!r} in {where}; columns are {header}")
    j = header.index(name)
    out = np.empty(len(rows))
    for i, r in enumerate(rows):
        if j >= len(r):
            raise JaxlawsError(f"{where} row {i + 2} has {len(r)} fields, expected {len(header)}")
        try:
            out[i] = float(r[j])
        except ValueError:
            raise JaxlawsError(f"{where} row {i + 2}, column {name!r}: {r[j]!r} is not a number") from None
    return out


def _provenance(name: str) -> str:
    return (_DATA / name).read_text(encoding="utf-8")


def _chinchilla(drop_top: int) -> Dataset:
    header, rows = _read_csv(_DATA / "chinchilla_svg_extracted_data.csv")
    where = "bundled chinchilla data"
    N = _column(header, rows, "Model Size", where)
    C = _column(header, rows, "Training FLOP", where)
    L = _column(header, rows, "loss", where)
    keep = np.ones(len(L), bool)
    if drop_top:
        keep[np.argsort(L)[-drop_top:]] = False
    return Dataset(
        name="chinchilla_epoch" if drop_top else "chinchilla",
        inputs={"N": N[keep], "D": C[keep] / (6.0 * N[keep]), "C": C[keep]},
        y=L[keep],
        target="loss",
        provenance=_provenance("chinchilla_SOURCE.md"),
    )


_LOADERS: dict[str, tuple[Callable[[], Dataset], str]] = {
    "chinchilla": (lambda: _chinchilla(0), "Hoffmann et al. Fig. 4 points as read by Epoch AI (245 rows; N, D = C/(6N), C -> loss)"),
    "chinchilla_epoch": (lambda: _chinchilla(5), "the 240 rows of Epoch AI's headline fit (5 highest-loss rows dropped)"),
}


def names() -> list[str]:
    """Bundled dataset names."""
    return sorted(_LOADERS)


def describe() -> dict[str, str]:
    """Name -> one-line description."""
    return {k: v[1] for k, v in sorted(_LOADERS.items())}


def load(name: str) -> Dataset:
    """A bundled dataset by name."""
    if name not in _LOADERS:
        raise JaxlawsError(f"unknown dataset {name!r}; bundled datasets: {', '.join(names())}")
    return _LOADERS[name][0]()


def from_arrays(x: Mapping[str, Any], y: Any, name: str = "arrays", **kw: Any) -> Dataset:
    """A dataset from input arrays ``x`` (name -> ``[n]``) and target ``y``."""
    return Dataset(name=name, inputs=dict(x), y=y, **kw)


def from_csv(
    path: str | os.PathLike[str],
    x: Mapping[str, str] | None = None,
    y: str = "loss",
    group: str | None = None,
    split: str | None = None,
) -> Dataset:
    """A dataset from a CSV with a header row.

    Args:
      path: the file.
      x: law input name -> column name (default: every column but ``y``,
        ``group`` and ``split``, under its own name).
      y: target column.
      group, split: optional columns of group labels and train/test labels.
    """
    if not os.path.isfile(path):
        raise JaxlawsError(f"no such data file: {os.fspath(path)!r}")
    header, rows = _read_csv(path)
    where = os.path.basename(os.fspath(path))
    if not rows:
        raise JaxlawsError(f"{where} has a header but no rows")
    if x is None:
        x = {c: c for c in header if c not in {y, group, split}}
    inputs = {k: _column(header, rows, c, where) for k, c in x.items()}

    def labels(col: str | None) -> np.ndarray | None:
        if col is None:
            return None
        if col not in header:
            raise JaxlawsError(f"unknown column {col!r} in {where}; columns are {header}")
        j = header.index(col)
        return np.array([r[j] for r in rows])

    return Dataset(
        name=os.path.splitext(where)[0],
        inputs=inputs,
        y=_column(header, rows, y, where),
        target=y,
        groups=labels(group),
        splits=labels(split),
        provenance=f"read from {os.fspath(path)}",
    )


__all__ = ["Dataset", "load", "names", "describe", "from_csv", "from_arrays"]
