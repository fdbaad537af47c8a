"""Command-line pieces the analysis commands share (``jaxlaws backtest``, ``jaxlaws predict``):
the data and law arguments, reading them, and writing JSON. The rules are those of
``jaxlaws fit``: a bundled name or a CSV path, ``--x INPUT=COLUMN`` and ``--y`` for a CSV only."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

import numpy as np

from jaxlaws.errors import JaxlawsError


def add_data_arguments(p: argparse.ArgumentParser) -> None:
    """``--data --law --x --y --group --loss --starts --solver --seed --json``."""
    p.add_argument("--data", required=True, help="bundled dataset name or a CSV path")
    p.add_argument("--law", required=True, help="catalog law name (see `jaxlaws laws`)")
    p.add_argument("--x", action="append", default=[], metavar="INPUT=COLUMN", help="map a law input to a CSV column")
    p.add_argument("--y", default=None, metavar="COLUMN", help="target column of a CSV (default: loss)")
    p.add_argument("--group", default=None, metavar="COLUMN", help="CSV column of group labels")
    p.add_argument("--loss", default="huber-log:1e-3", help="mse | mse-log | huber:D | huber-log:D")
    p.add_argument("--starts", default="grid", help="'grid' or a number of sampled starts")
    p.add_argument("--solver", default="lm", choices=["lm", "lbfgs", "adam"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, metavar="OUT.json")


def is_file(name: str) -> bool:
    """Whether ``--data`` names a file rather than a bundled dataset: an existing path, a data
    suffix (``.csv``, ``.tsv``, either gzipped, any case), or a path separator."""
    return (os.path.exists(name) or name.lower().endswith((".csv", ".tsv", ".csv.gz", ".tsv.gz"))
            or os.path.sep in name or (os.path.altsep or os.path.sep) in name)


def columns(items: list[str]) -> dict[str, str]:
    """``--x INPUT=COLUMN`` items as a mapping (one-line error for a malformed one)."""
    x: dict[str, str] = {}
    for item in items:
        k, sep, v = item.partition("=")
        k, v = k.strip(), v.strip()
        if not sep or not k or not v:
            raise JaxlawsError(f"--x takes INPUT=COLUMN, got {item!r}")
        if k in x:  # the later one would silently win
            raise JaxlawsError(f"--x maps input {k!r} twice ({k}={x[k]} and {item}); give each input once")
        x[k] = v
    return x


def load_data(args: argparse.Namespace) -> Any:
    """The dataset ``--data`` names (with ``--x``/``--y``/``--group`` for a CSV)."""
    from jaxlaws import datasets

    if is_file(args.data):
        return datasets.from_csv(args.data, x=columns(args.x) or None, y=args.y or "loss", group=args.group)
    if args.x or args.y or args.group:
        raise JaxlawsError("--x, --y and --group apply to CSV files, not to bundled datasets")
    return datasets.load(args.data)


def starts(spec: str) -> Any:
    """``--starts``: ``"grid"`` or a positive count."""
    if spec == "grid":
        return "grid"
    try:
        n = int(spec)
    except ValueError:
        raise JaxlawsError(f"--starts takes 'grid' or a number, got {spec!r}") from None
    if n < 1:
        raise JaxlawsError(f"--starts must be >= 1, got {n}")
    return n


def floats(text: str, what: str) -> list[float]:
    """A comma-separated list of numbers."""
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise JaxlawsError(f"{what} takes comma-separated numbers, got {text!r}") from None


def check_writable(*paths: str | None) -> None:
    for out in paths:
        if out and not os.path.isdir(os.path.dirname(os.path.abspath(out))):
            raise JaxlawsError(f"cannot write {out!r}: no such directory")


def plain(x: Any) -> Any:
    """``x`` with numpy values as Python ones and non-finite floats as ``None`` (JSON has no NaN)."""
    if isinstance(x, dict):
        return {str(k): plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, np.ndarray)):
        return [plain(v) for v in (x.tolist() if isinstance(x, np.ndarray) else x)]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float):
        return x if np.isfinite(x) else None
    return x


def write_json(path: str, report: dict[str, Any]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(plain(report), fh, indent=2, allow_nan=False)
