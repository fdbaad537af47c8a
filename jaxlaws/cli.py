"""The ``jaxlaws`` command: ``fit``, ``laws``, ``datasets``, ``bench``.

Bad input prints one line on stderr and exits with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Sequence
from typing import Any, NoReturn

import numpy as np

from jaxlaws.errors import JaxlawsError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, status 2
        self.exit(2, f"jaxlaws: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="jaxlaws", description="Fit scaling laws with jax: many starts and bootstrap resamples at once.")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)
    f = sub.add_parser("fit", help="fit a law to a dataset")
    f.add_argument("--data", required=True, help="bundled dataset name or a CSV path")
    f.add_argument("--law", required=True, help="catalog law name (see `jaxlaws laws`)")
    f.add_argument("--x", action="append", default=[], metavar="INPUT=COLUMN", help="map a law input to a CSV column")
    f.add_argument("--y", default=None, metavar="COLUMN", help="target column of a CSV (default: loss)")
    f.add_argument("--loss", default="huber-log:1e-3", help="mse | mse-log | huber:D | huber-log:D")
    f.add_argument("--starts", default="grid", help="'grid' or a number of sampled starts")
    f.add_argument("--solver", default="lm", choices=["lm", "lbfgs", "adam"])
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--bootstrap", type=int, default=0, metavar="B", help="number of bootstrap resamples")
    f.add_argument("--scheme", default="pairs", choices=["pairs", "residual", "parametric", "groups"],
                   help="bootstrap resampling scheme")
    f.add_argument("--group", default=None, metavar="COLUMN", help="CSV column of group labels")
    g = f.add_mutually_exclusive_group()
    g.add_argument("--per-group", dest="per_group", action="store_true", default=None,
                   help="fit every group separately (the default when the data have groups)")
    g.add_argument("--pooled", dest="per_group", action="store_false",
                   help="fit one law through all groups together")
    f.add_argument("--ci", type=float, default=0.95, metavar="LEVEL", help="confidence level for --bootstrap")
    f.add_argument("--json", default=None, metavar="OUT.json")
    f.add_argument("--plot", default=None, metavar="OUT.png")
    sub.add_parser("laws", help="list the law catalog")
    sub.add_parser("datasets", help="list the bundled datasets")
    b = sub.add_parser("bench", help="quick side-by-side comparison with scipy")
    b.add_argument("--json", default=None, metavar="OUT.json")
    return p


def _load_data(args: argparse.Namespace) -> Any:
    from jaxlaws import datasets

    if args.data.endswith(".csv") or os.path.sep in args.data:
        x = {}
        for item in args.x:
            if "=" not in item:
                raise JaxlawsError(f"--x takes INPUT=COLUMN, got {item!r}")
            k, v = item.split("=", 1)
            x[k.strip()] = v.strip()
        return datasets.from_csv(args.data, x=x or None, y=args.y or "loss", group=args.group)
    if args.x or args.y or args.group:
        raise JaxlawsError("--x, --y and --group apply to CSV files, not to bundled datasets")
    return datasets.load(args.data)


def _starts(spec: str, default: Any = "grid") -> Any:
    if spec == "grid":
        return default
    try:
        n = int(spec)
    except ValueError:
        raise JaxlawsError(f"--starts takes 'grid' or a number, got {spec!r}") from None
    if n < 1:
        raise JaxlawsError(f"--starts must be >= 1, got {n}")
    return n


def _per_group(args: argparse.Namespace, data: Any) -> bool:
    """Whether to fit every group separately: asked for, or by default when the data have groups
    (one curve through many groups' points is rarely what anyone wants), unless the groups are
    resampled whole to bootstrap a pooled fit (``--bootstrap B --scheme groups``)."""
    grouped = data.groups is not None
    if args.per_group and not grouped:
        raise JaxlawsError(f"--per-group needs data with groups; {data.name!r} has none (use --group COLUMN for a CSV)")
    pooled_bootstrap = bool(args.bootstrap) and args.scheme == "groups"
    per_group = grouped and not pooled_bootstrap if args.per_group is None else args.per_group
    if per_group and args.bootstrap:
        raise JaxlawsError("--bootstrap with a per-group fit is not supported: pass --pooled for one fit of all groups, "
                           "or --scheme groups to resample whole groups of a pooled fit")
    if per_group and args.plot:
        raise JaxlawsError("--plot draws one fit: pass --pooled, or fit one group's rows")
    return per_group


def _fit_groups(args: argparse.Namespace, law: Any, data: Any) -> int:
    import jaxlaws as jl

    gf = jl.fit_groups(law, data, loss=args.loss, starts=_starts(args.starts, default=64), solver=args.solver,
                       seed=args.seed)
    n_groups = len(gf.labels)
    print(f"{law.name}: {n_groups} groups of {data.name!r} fitted separately (--pooled for one fit of all); "
          f"objective summed over groups {float(np.sum(gf.objective)):.10g}")
    for w in gf.warnings:
        print(f"WARNING: {w}")
    names = list(law.params)
    shown = names if len(names) <= 8 else []  # a wide law's parameters go to --json only
    if not shown:
        print(f"  ({len(names)} parameters per group: see --json)")
    wide = max(5, *(len(str(label)) for label in gf.labels))
    print("  " + " ".join([f"{'group':<{wide}s}", *(f"{c:>12s}" for c in [*shown, "objective", "status"])]))
    groups = []
    for i, label in enumerate(gf.labels):
        st = jl.Status(int(gf.status[i]))
        print("  " + " ".join([f"{str(label):<{wide}s}", *(f"{gf.params[i, j]:>12.6g}" for j in range(len(shown))),
                               f"{gf.objective[i]:>12.6g}", f"{st.label:>12s}"]))
        groups.append({"group": label.item() if hasattr(label, "item") else label,
                       "params": {k: _finite(gf.params[i, j]) for j, k in enumerate(names)},
                       "objective": _finite(gf.objective[i]), "status": st.label, "n_points": int(gf.n_points[i]),
                       "se": None if gf.diagnostics[i] is None else dict(gf.diagnostics[i].se),
                       "at_bound": {} if gf.diagnostics[i] is None else dict(gf.diagnostics[i].at_bound)})
    if args.json:
        report = {"law": law.name, "per_group": True, "n_groups": n_groups, "groups": groups,
                  "objective": _finite(np.sum(gf.objective)), "n_points": int(data.n_points),
                  "status_counts": gf.status_counts, "warnings": gf.warnings, "timing": gf.timing,
                  "device": jl.engine.device_name()}
        _write_json(args.json, report)
        print(f"results written to {args.json}")
    return 0


def _fit(args: argparse.Namespace) -> int:
    import jaxlaws as jl

    if args.bootstrap < 0 or args.bootstrap == 1:
        raise JaxlawsError(f"--bootstrap needs at least 2 resamples, got {args.bootstrap}")
    if not 0.0 < args.ci < 1.0:
        raise JaxlawsError(f"--ci must be in (0, 1), got {args.ci}")
    for out in (args.json, args.plot):
        if out and not os.path.isdir(os.path.dirname(os.path.abspath(out))):
            raise JaxlawsError(f"cannot write {out!r}: no such directory")
    law = jl.laws.get(args.law)
    data = _load_data(args)
    if _per_group(args, data):
        return _fit_groups(args, law, data)
    with warnings.catch_warnings():
        # The report below states any warning, once, in words; no Python warning line on top.
        warnings.simplefilter("ignore", jl.JaxlawsWarning)
        res = jl.fit(law, data, loss=args.loss, starts=_starts(args.starts), solver=args.solver, seed=args.seed)
    report = res.to_dict()
    print(res.report())
    if args.bootstrap:
        boot = jl.bootstrap(law, data, n=args.bootstrap, loss=args.loss, seed=args.seed, solver=args.solver,
                            scheme=args.scheme, fit=res)
        report["bootstrap"] = boot.summary(args.ci)
        print(boot.format(args.ci))
    if args.plot:
        from jaxlaws import plot

        plot.fit_figure(res, data, args.plot)
        print(f"plot written to {args.plot}")
    if args.json:
        _write_json(args.json, report)
        print(f"results written to {args.json}")
    return 0


def _finite(x: Any) -> float | None:
    """A float for JSON, ``None`` (null) where it is not finite: JSON has no inf or NaN."""
    x = float(x)
    return x if np.isfinite(x) else None


def _plain(x: Any) -> Any:
    """``x`` with numpy values as Python ones and every non-finite float as ``None`` (JSON has no
    inf or NaN: an undetermined standard error is written as null)."""
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, np.ndarray)):
        return [_plain(v) for v in (x.tolist() if isinstance(x, np.ndarray) else x)]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float):
        return _finite(x)
    return x


def _write_json(path: str, report: dict[str, Any]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(_plain(report), fh, indent=2, allow_nan=False)


def _laws() -> int:
    import jaxlaws as jl

    for name in jl.laws.names():
        print(jl.laws.get(name).describe())
    return 0


def _datasets() -> int:
    from jaxlaws import datasets

    for name, text in datasets.describe().items():
        print(f"{name:<18s} {text}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from jaxlaws import bench

    result = bench.quick()
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=2)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # One device per core and the persistent compilation cache come with `import jaxlaws`
    # (jaxlaws.devices), as in any Python program: the command runs as fast as a script.
    if args.cmd == "bench":
        from jaxlaws.devices import use_compilation_cache

        try:  # a fresh cache: "cold" must time a real compile, not programs an earlier run left on disk
            fresh = tempfile.mkdtemp(prefix="jaxlaws-bench-xla-")
            atexit.register(shutil.rmtree, fresh, ignore_errors=True)
            use_compilation_cache(fresh)
        except OSError:
            pass  # an unwritable temporary directory only costs compile time
    try:
        if args.cmd == "fit":
            return _fit(args)
        if args.cmd == "laws":
            return _laws()
        if args.cmd == "datasets":
            return _datasets()
        return _bench(args)
    except JaxlawsError as e:
        print(f"jaxlaws: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except OSError as e:
        print(f"jaxlaws: error: {e.strerror or e}: {e.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
