"""``jaxlaws approaches``: the three approaches on training curves, as a command.

Meant for ``jaxlaws/cli.py`` (``add_arguments`` on a subparser, ``run_cli`` as its handler);
until it is wired there it runs as ``python -m jaxlaws.analysis.approaches.cli``. Bad input:
one line on stderr, exit status 2.

    jaxlaws approaches --data routing_curves --where router_type=Dense --where flop_increase=1 \\
        --n-boot 200 --target 1e21 --json out.json --plot out.png
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from jaxlaws.errors import JaxlawsError, JaxlawsWarning


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The subcommand's options, on parser ``p``."""
    p.add_argument("--data", default="routing_curves", help="bundled curves (default routing_curves) or a CSV path")
    p.add_argument("--where", action="append", default=[], metavar="COLUMN=VALUE",
                   help="keep rows whose COLUMN equals VALUE (repeatable; numbers compare as numbers)")
    p.add_argument("--run", default=None, metavar="COLUMN", help="a CSV's column of run labels")
    p.add_argument("--x", action="append", default=[], metavar="INPUT=COLUMN", help="map an input (N, D, C) to a CSV column")
    p.add_argument("--y", default=None, metavar="COLUMN", help="a CSV's loss column (default: loss)")
    p.add_argument("--budgets", default=None, metavar="C1,C2,...", help="the envelope's budgets (default: a grid)")
    p.add_argument("--isoflop-budgets", default=None, metavar="C1,C2,...", help="the IsoFLOP budgets (default: 8)")
    p.add_argument("--window", type=float, default=None, metavar="DECADES",
                   help="IsoFLOP: keep runs within DECADES of each budget's best run")
    p.add_argument("--target", type=float, default=None, metavar="C", help="report N*, D* at this budget")
    p.add_argument("--n-boot", type=int, default=200, metavar="B", help="run resamples (default 200)")
    p.add_argument("--level", type=float, default=0.9, help="interval level (default 0.9)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--law", default="chinchilla", help="approach 3's law (default chinchilla)")
    p.add_argument("--loss", default="huber-log:1e-3", help="approach 3's loss")
    p.add_argument("--starts", default="grid", help="approach 3's starts: 'grid' or a count")
    p.add_argument("--json", default=None, metavar="OUT.json")
    p.add_argument("--plot", default=None, metavar="OUT.png")
    p.add_argument("--markdown", default=None, metavar="OUT.md")
    return p


def _numbers(text: str | None, flag: str) -> np.ndarray | None:
    if text is None:
        return None
    try:
        return np.array([float(v) for v in text.split(",") if v.strip()])
    except ValueError:
        raise JaxlawsError(f"{flag} takes comma-separated numbers, got {text!r}") from None


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        k, sep, v = item.partition("=")
        if not sep or not k or not v:
            raise JaxlawsError(f"{flag} takes NAME=VALUE, got {item!r}")
        out[k] = v
    return out


def load(args: argparse.Namespace) -> Any:
    """The curves the options name, with ``--where`` applied."""
    from jaxlaws import datasets

    if os.path.isfile(args.data):
        data = datasets.from_csv(args.data, x=_pairs(args.x, "--x") or None, y=args.y or "loss", run=args.run)
    elif args.x or args.y or args.run:
        raise JaxlawsError("--x, --y and --run apply to CSV files, not to bundled datasets")
    else:
        data = datasets.load(args.data)
    keep = np.ones(data.n_points, bool)
    for col, val in _pairs(args.where, "--where").items():
        c = data.column(col)
        try:
            keep &= c.astype(np.float64) == float(val) if c.dtype.kind in "fiu" else c == val
        except ValueError:
            raise JaxlawsError(f"--where {col}={val}: {col!r} is numeric and {val!r} is not a number") from None
    if not keep.any():
        raise JaxlawsError(f"--where {' '.join(args.where)} selects no rows of {data.name!r}")
    return data if keep.all() else data.subset(keep)


def run_cli(args: argparse.Namespace) -> int:
    """Run the comparison the options describe; print its table; write --json, --plot, --markdown."""
    from jaxlaws import engine
    from jaxlaws.analysis.approaches import compare, plot_frontiers

    for out in (args.json, args.plot, args.markdown):
        if out is not None and not os.path.isdir(os.path.dirname(os.path.abspath(out))):
            raise JaxlawsError(f"cannot write {out!r}: no such directory")
    if not 0 < args.level < 1:
        raise JaxlawsError(f"--level must be in (0, 1), got {args.level}")
    starts: Any = args.starts
    if starts != "grid":
        try:
            starts = int(starts)
        except ValueError:
            raise JaxlawsError(f"--starts takes 'grid' or a number, got {starts!r}") from None
    data = load(args)
    with warnings.catch_warnings():  # each is in the result, and printed once below
        warnings.simplefilter("ignore", JaxlawsWarning)
        res = compare(data, _numbers(args.budgets, "--budgets"), args.target, level=args.level, n_boot=args.n_boot,
                      seed=args.seed, isoflop_budgets=_numbers(args.isoflop_budgets, "--isoflop-budgets"),
                      window=args.window, law=args.law, loss=args.loss, starts=starts)
    print(res.table())
    for w in res.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(res.table() + "\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(_plain({**res.to_dict(), "device": engine.device_name()}), f, indent=2)
    if args.plot:
        plot_frontiers(res, args.plot)
    return 0


def _plain(x: Any) -> Any:
    """JSON-ready: numpy to lists and floats, non-finite floats to None, objects to their names."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return _plain(x.tolist())
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if np.isfinite(x) else None
    if isinstance(x, str) or x is None:
        return x
    return getattr(x, "name", type(x).__name__)


def main(argv: Sequence[str] | None = None) -> int:
    p = add_arguments(argparse.ArgumentParser(prog="jaxlaws approaches", description=__doc__.splitlines()[0]))
    args = p.parse_args(argv)
    try:
        return run_cli(args)
    except JaxlawsError as e:
        print(f"jaxlaws: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
