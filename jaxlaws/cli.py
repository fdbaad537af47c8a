"""The ``jaxlaws`` command: ``fit``, ``laws``, ``datasets``, ``bench``.

Bad input prints one line on stderr and exits with status 2, never a traceback; output paths
and optional dependencies are checked before any compute starts. What is written is built in
:mod:`jaxlaws.report`.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import importlib
import io
import os
import platform
import shlex
import shutil
import signal
import sys
import tempfile
import textwrap
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import numpy as np

from jaxlaws import __version__, report as report_mod
from jaxlaws.errors import JaxlawsError, JaxlawsWarning

PLOT_SUFFIXES = (".png", ".pdf", ".svg")
PROGRESS_DELAY_S = 2.0  # --progress auto: a bar only for a run that lasts longer than this

_FIT_EXAMPLES = """\
examples:
  jaxlaws fit --data chinchilla_epoch --law chinchilla --starts grid
  jaxlaws fit --data chinchilla_epoch --law chinchilla --bootstrap 4000 --ci 0.9 --report out/
  jaxlaws fit --data runs.csv --law power_law --x x=params --y eval_loss --loss mse-log --json fit.json
"""
_MAIN_EXAMPLES = """\
examples:
  jaxlaws laws
  jaxlaws fit --data chinchilla_epoch --law chinchilla --bootstrap 1000 --json fit.json
  jaxlaws fit --help

Importing jaxlaws gives jax one CPU device per core and a persistent compilation cache
(~/.cache/jaxlaws/xla) unless you set them yourself; JAXLAWS_DEFAULTS=0 turns that off.
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, status 2
        self.exit(2, f"jaxlaws: error: {message}\n")


class _Help(argparse.RawDescriptionHelpFormatter):
    """Examples as written, and every option's default (where it has one worth saying)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        d = action.default
        if ("%(default)" in text or "default:" in text or not action.option_strings or action.nargs == 0
                or d is None or d is argparse.SUPPRESS or (isinstance(d, list) and not d)):
            return text
        return f"{text} (default: %(default)s)"

    def _split_lines(self, text: str, width: int) -> list[str]:  # never break "huber-log:1e-3" at its hyphen
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


def _parser() -> argparse.ArgumentParser:
    import jax

    p = _Parser(prog="jaxlaws", description="Fit scaling laws with jax: many starts and bootstrap resamples at once.",
                epilog=_MAIN_EXAMPLES, formatter_class=_Help)
    p.add_argument("--version", action="version", version=f"jaxlaws {__version__} (jax {jax.__version__})")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND", title="commands", parser_class=_Parser)
    f = sub.add_parser("fit", help="fit a law to a dataset",
                       description="Fit a law to a dataset from many starts at once, optionally with a bootstrap;\n"
                                   "print the report, and write JSON, a plot or a report folder.",
                       epilog=_FIT_EXAMPLES, formatter_class=_Help)
    f.add_argument("--data", required=True, help="bundled dataset name (see `jaxlaws datasets`) or a CSV path")
    f.add_argument("--law", required=True, help="catalog law name (see `jaxlaws laws`)")
    f.add_argument("--x", action="append", default=[], metavar="INPUT=COLUMN",
                   help="map a law input to a CSV column (repeat; default: columns named as the inputs)")
    f.add_argument("--y", default=None, metavar="COLUMN", help="target column of a CSV (default: loss)")
    f.add_argument("--group", default=None, metavar="COLUMN", help="CSV column of group labels")
    f.add_argument("--loss", default="huber-log:1e-3", metavar="SPEC", help="mse | mse-log | huber:D | huber-log:D")
    f.add_argument("--fix", action="append", default=[], metavar="PARAM=VALUE",
                   help="hold a parameter at a value, not fitted (repeat for several)")
    f.add_argument("--starts", default="grid",
                   help="'grid' (the law's start grid; 256 sampled starts for a law without one) or a number "
                        "of sampled starts")
    f.add_argument("--solver", default="lm", choices=["lm", "lbfgs", "adam"], help="solver")
    f.add_argument("--strategy", default="all", choices=["all", "race", "auto"],
                   help="all: every start to its end; race: starts that trail the best or join its basin after "
                        "a few steps are stopped early (status culled_*; see jaxlaws.engine.race); auto: race "
                        "the law's grid (--starts grid), run other starts to their end")
    f.add_argument("--seed", type=int, default=0, help="seeds the start sampler and the resampling")
    f.add_argument("--bootstrap", type=int, default=0, metavar="B", help="number of bootstrap resamples; 0 for none")
    f.add_argument("--scheme", default=None, choices=["pairs", "residual", "parametric", "groups"],
                   help="bootstrap resampling scheme (default: pairs)")
    g = f.add_mutually_exclusive_group()
    g.add_argument("--per-group", dest="per_group", action="store_true", default=None,
                   help="fit every group separately (the default when the data have groups)")
    g.add_argument("--pooled", dest="per_group", action="store_false",
                   help="fit one law through all groups together")
    f.add_argument("--ci", type=float, default=None, metavar="LEVEL",
                   help="confidence level for --bootstrap (default: 0.95)")
    f.add_argument("--compute", type=float, nargs="+", default=None, metavar="C",
                   help="compute budgets (FLOPs) for the compute-optimal allocation, for laws that have one "
                        f"(default: {' '.join(report_mod.budget(c) for c in report_mod.DEFAULT_BUDGETS)})")
    f.add_argument("--json", default=None, metavar="OUT.json", help="write the results as JSON")
    f.add_argument("--plot", default=None, metavar="OUT.png",
                   help="draw the fit (.png, .pdf or .svg; needs matplotlib)")
    f.add_argument("--report", default=None, metavar="DIR",
                   help="write DIR/fit.json, figures and DIR/summary.md (needs matplotlib)")
    f.add_argument("--progress", default="auto", choices=["auto", "on", "off"],
                   help=f"progress bars on stderr; auto: on a terminal, for a run longer than {PROGRESS_DELAY_S:g} s")
    f.add_argument("--devices", type=int, default=None, metavar="N",
                   help="run on the first N jax devices (default: all; on a CPU the results are the same bits on any count)")
    f.add_argument("--run-dir", dest="run_dir", default=None, metavar="DIR",
                   help="keep the fit and each finished chunk of bootstrap resamples in DIR; rerunning the same "
                        "command resumes (after Ctrl-C, SIGTERM or kill -9) and gives the same result")
    f.add_argument("--chunk-resamples", dest="chunk_resamples", type=int, default=None, metavar="N",
                   help="bootstrap resamples per chunk (default with --run-dir: from the data size and memory)")
    f.add_argument("--distributed", action="store_true",
                   help="run as one of several processes that jax finds itself (Slurm, Open MPI, ...); "
                        "also $JAXLAWS_DISTRIBUTED=1")
    f.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                   help="several processes (jax.distributed): process 0's address; also $JAXLAWS_COORDINATOR")
    f.add_argument("--num-processes", dest="num_processes", type=int, default=None, metavar="N",
                   help="several processes: how many; also $JAXLAWS_NUM_PROCESSES")
    f.add_argument("--process-id", dest="process_id", type=int, default=None, metavar="I",
                   help="several processes: this one's index, 0 .. N-1 (0 writes the output); "
                        "also $JAXLAWS_PROCESS_ID")
    sub.add_parser("laws", help="list the law catalog", description="List the law catalog: names, inputs, "
                   "parameters and bounds.", epilog="example:\n  jaxlaws laws\n", formatter_class=_Help)
    sub.add_parser("datasets", help="list the bundled datasets", description="List the bundled datasets.",
                   epilog="example:\n  jaxlaws datasets\n", formatter_class=_Help)
    b = sub.add_parser("bench", help="quick side-by-side comparison with scipy",
                       description="The Chinchilla grid and Epoch AI's bootstrap, jaxlaws against scipy, in under\n"
                                   "two minutes (needs scipy).", epilog="example:\n  jaxlaws bench --json bench.json\n",
                       formatter_class=_Help)
    b.add_argument("--json", default=None, metavar="OUT.json", help="write the results as JSON")
    # The analysis commands keep their options beside their code (jaxlaws.analysis.*.add_arguments).
    from jaxlaws.analysis import backtest, predict
    from jaxlaws.analysis.approaches import cli as approaches_cli

    for name, module, text, example in (
        ("approaches", approaches_cli, "compute-optimal scaling three ways (envelope, IsoFLOP, parametric)",
         "jaxlaws approaches --data routing_curves --where router_type=Dense --where flop_increase=1 --json a.json"),
        ("backtest", backtest, "fit below cutoffs, predict above: error and interval coverage by distance",
         "jaxlaws backtest --data chinchilla_epoch --law chinchilla --json bt.json --plot bt.png"),
        ("predict", predict, "predict with the band of the mean and the interval of a new observation",
         "jaxlaws predict --data chinchilla_epoch --law chinchilla --at N=7e10 --at D=1.4e12"),
    ):
        module.add_arguments(sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".",
                                            epilog=f"example:\n  {example}\n", formatter_class=_Help))
    return p


def _fixed(law: Any, specs: Sequence[str]) -> Any:
    """``law`` with the ``--fix PARAM=VALUE`` parameters held fixed (checked, one line on error)."""
    values = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        try:
            values[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise JaxlawsError(f"--fix takes PARAM=VALUE, got {spec!r}")
    return law.fix(**values) if values else law


# ---- checks before any compute ---------------------------------------------------------------
def _check_writable_dir(folder: str, what: str) -> None:
    """That a file can be created in ``folder`` (tried: permission bits say nothing to root)."""
    if not os.path.isdir(folder):
        raise JaxlawsError(f"cannot write {what}: no such directory {folder!r}")
    try:
        fd, probe = tempfile.mkstemp(prefix=".jaxlaws-", dir=folder)
    except OSError as e:
        raise JaxlawsError(f"cannot write {what}: {e.strerror or e} in {folder!r}") from None
    os.close(fd)
    os.unlink(probe)


def _check_file(path: str, option: str, suffixes: Sequence[str] = ()) -> None:
    if os.path.isdir(path):
        raise JaxlawsError(f"{option} {path!r} is a directory; give a file name")
    if suffixes and os.path.splitext(path)[1].lower() not in suffixes:
        raise JaxlawsError(f"{option} {path!r}: the file name must end in {', '.join(suffixes)}")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise JaxlawsError(f"cannot write {option} {path!r}: permission denied")
    _check_writable_dir(os.path.dirname(os.path.abspath(path)), f"{option} {path!r}")


def _check_report_dir(path: str) -> None:
    if os.path.exists(path) and not os.path.isdir(path):
        raise JaxlawsError(f"--report {path!r} is a file; give a directory")
    if os.path.isdir(path):
        _check_writable_dir(path, f"--report {path!r}")
    else:  # created once the results are in
        _check_writable_dir(os.path.dirname(os.path.abspath(path)), f"--report {path!r}")


def _need(module: str, why: str, extra: str) -> None:
    try:
        importlib.import_module(module)
    except ImportError:
        raise JaxlawsError(f"{why} needs {module}: pip install 'jaxlaws[{extra}]'") from None


def _check_outputs(args: argparse.Namespace) -> None:
    """Every output path and optional dependency, before any compute: a run must not end in an
    error about where to put its results."""
    if args.json:
        _check_file(args.json, "--json")
    if args.plot:
        _check_file(args.plot, "--plot", PLOT_SUFFIXES)
    if args.report:
        _check_report_dir(args.report)
    if args.plot or args.report:
        _need("matplotlib", "--plot" if args.plot else "--report", "plot")
    if getattr(args, "run_dir", None):
        where = args.run_dir if os.path.isdir(args.run_dir) else os.path.dirname(os.path.abspath(args.run_dir))
        _check_writable_dir(where, f"--run-dir {args.run_dir!r}")


def _check_request(args: argparse.Namespace, law: Any) -> None:
    """Options that mean something only together, refused when given alone (nothing a user
    typed is silently ignored), and ``--x`` inputs the law lacks; sets the defaults of
    ``--scheme`` (pairs) and ``--ci`` (0.95)."""
    from jaxlaws.analysis import cliargs

    if args.scheme is not None and not args.bootstrap:
        raise JaxlawsError(f"--scheme {args.scheme} chooses the bootstrap's resampling: add --bootstrap B")
    if args.ci is not None and not args.bootstrap:
        raise JaxlawsError("--ci sets the level of the bootstrap's intervals: add --bootstrap B")
    if args.chunk_resamples is not None and not args.bootstrap:
        raise JaxlawsError(f"--chunk-resamples {args.chunk_resamples} sizes the bootstrap's chunks: add --bootstrap B")
    args.scheme = args.scheme or "pairs"
    args.ci = 0.95 if args.ci is None else args.ci
    if not 0.0 < args.ci < 1.0:
        raise JaxlawsError(f"--ci must be in (0, 1), got {args.ci}")
    if args.group and args.per_group is False and not (args.bootstrap and args.scheme == "groups"):
        raise JaxlawsError(f"--group {args.group} with --pooled is read only by --bootstrap B --scheme groups "
                           "(drop --pooled to fit every group separately)")
    unknown = [k for k in cliargs.columns(args.x) if k not in law.inputs]
    if unknown:
        raise JaxlawsError(f"--x {unknown[0]}=...: law {law.name!r} has no input {unknown[0]!r}; "
                           f"its inputs are {list(law.inputs)}")


def _check_size(args: argparse.Namespace, law: Any, data: Any, n_fits: int, starts: Any) -> None:
    """The memory ``n_fits`` fits from ``starts`` and the bootstrap need, before any compute:
    refused with the numbers where it cannot fit (:mod:`jaxlaws.estimate`), one line on stderr
    where it is large (from ``estimate.NOTICE_BYTES``)."""
    from jaxlaws import estimate

    if starts == "grid" and estimate.count_starts(law, "grid") is None:
        starts = 256  # what jl.fit samples for a law without a start grid
    count = estimate.count_starts(law, starts)
    if count is None:
        return
    groups = f" x {n_fits} groups" if n_fits > 1 else ""
    fit = estimate.check(estimate.request(law, data.n_points, count, resamples=n_fits, devices=args.devices),
                         f"--starts {args.starts}{groups}", "starts")
    boot = None
    if args.bootstrap:  # each resample from the full-data fit and 2 more basins (jl.bootstrap's default)
        if args.run_dir is None and args.chunk_resamples is None:
            est = estimate.request(law, data.n_points, 3, resamples=args.bootstrap, devices=args.devices)
        else:  # one chunk in flight, the per-resample results kept (see jl.bootstrap)
            from jaxlaws import runs

            c = args.chunk_resamples or runs.default_chunk(args.bootstrap, 3, data.n_points * law.n_outputs)
            est = estimate.chunked(law, data.n_points, 3, args.bootstrap, c, devices=args.devices)
        boot = estimate.check(est, f"--bootstrap {args.bootstrap}", "resamples")
    for est, name in ((fit, "fit"), (boot, "bootstrap")):
        if est is not None and est.large:
            free = "" if est.available is None else f"; {estimate.gib(est.available)} GiB available"
            print(f"jaxlaws: {name}: {est.describe()}{free}", file=sys.stderr)


def _check_bootstrap(args: argparse.Namespace, law: Any, data: Any) -> None:
    """That the bootstrap can resample these data, checked before the fit (which prints), and a
    warning on stderr where it is too small for its interval (:func:`jaxlaws.bootstrap.too_few`)."""
    if not args.bootstrap:
        return
    from jaxlaws import resample
    from jaxlaws.bootstrap import too_few
    from jaxlaws.problem import make_problem

    plan = resample.bootstrap_scheme(args.scheme, data.groups)
    plan.check(make_problem(law, data, args.loss))
    n_groups = len(np.unique(data.groups)) if args.scheme == "groups" else None
    why = too_few(args.bootstrap, args.ci, n_groups)
    if why is not None:
        print(f"jaxlaws: warning: {why}", file=sys.stderr)


# ---- progress --------------------------------------------------------------------------------
def _progress(mode: str, desc: str) -> Callable[[int, int], None] | None:
    """A tqdm bar on stderr as ``progress(done, total)``; None where off, not a terminal (auto)
    or tqdm is missing. ``auto`` shows it only once the run has taken ``PROGRESS_DELAY_S``."""
    if mode == "off" or (mode == "auto" and not sys.stderr.isatty()):
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    bar = tqdm(desc=desc, unit="lane", file=sys.stderr, leave=False, dynamic_ncols=True,
               delay=PROGRESS_DELAY_S if mode == "auto" else 0.0)

    def update(done: int, total: int) -> None:
        if bar.disable:  # closed
            return
        if bar.total != total:
            bar.total = total
        bar.update(max(done - bar.n, 0))
        if done >= total:
            bar.close()

    return update


# ---- fit -------------------------------------------------------------------------------------
def _load_data(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The dataset, and where it came from (for the JSON: source, name or path, columns)."""
    from jaxlaws import datasets
    from jaxlaws.analysis import cliargs

    if cliargs.is_file(args.data):
        x = cliargs.columns(args.x)
        data = datasets.from_csv(args.data, x=x or None, y=args.y or "loss", group=args.group)
        source = {"source": "file", "name": data.name, "path": os.path.abspath(args.data)}
        columns = {"inputs": {k: x.get(k, k) for k in data.inputs}, "y": data.target, "group": args.group}
        return data, {**source, "columns": columns}
    if args.x or args.y or args.group:
        raise JaxlawsError("--x, --y and --group apply to CSV files, not to bundled datasets")
    data = datasets.load(args.data)
    return data, {"source": "bundled", "name": data.name, "path": None,
                  "columns": {"inputs": {k: k for k in data.inputs}, "y": data.target, "group": None}}


def _starts(spec: str, default: Any = "grid") -> Any:
    """``--starts`` (:func:`jaxlaws.analysis.cliargs.starts`), with ``grid`` meaning ``default``."""
    from jaxlaws.analysis import cliargs

    n = cliargs.starts(spec)
    return default if n == "grid" else n


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
        raise JaxlawsError("--plot draws one fit: pass --pooled, or fit one group's rows (--report draws every group)")
    return per_group


def _context(args: argparse.Namespace, source: dict[str, Any]) -> dict[str, Any]:
    """What the JSON records about the run besides the fit: versions, seed, starts, data, devices."""
    import jax

    import jaxlaws as jl

    return {
        "versions": {"jaxlaws": __version__, "jax": jax.__version__, "numpy": np.__version__,
                     "python": platform.python_version()},
        "seed": args.seed,
        "starts": args.starts,
        "strategy_requested": getattr(args, "strategy", "all"),  # as given; "strategy": what the fit ran
        "data": source,
        **jl.engine.device_info(getattr(args, "devices", None)).to_dict(),
        "device_settings": {k: s.to_dict() for k, s in jl.devices.settings().items()},
    }


def _fit_groups(args: argparse.Namespace, law: Any, data: Any, context: dict[str, Any], t0: float) -> int:
    import jaxlaws as jl

    t = time.perf_counter()
    if args.run_dir is not None:
        raise JaxlawsError("--run-dir keeps a pooled fit and its bootstrap; a per-group fit has nothing to resume "
                           "(pass --pooled, or drop --run-dir)")
    if args.strategy != "all":
        raise JaxlawsError(f"--strategy {args.strategy} races the starts of a pooled fit; a per-group fit runs every "
                           "start (pass --pooled, or drop --strategy)")
    gf = jl.fit_groups(law, data, loss=args.loss, starts=_starts(args.starts, default=64), solver=args.solver,
                       seed=args.seed, devices=args.devices)
    fit_s = time.perf_counter() - t
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
                       "params": {k: report_mod.finite(v) for k, v in gf.params_of(label).items()},
                       "objective": report_mod.finite(gf.objective[i]), "status": st.label,
                       "n_points": int(gf.n_points[i]),
                       "se": None if gf.diagnostics[i] is None else {**gf.diagnostics[i].se,
                                                                      **{k: 0.0 for k in law.fixed}},
                       "at_bound": {} if gf.diagnostics[i] is None else dict(gf.diagnostics[i].at_bound)})
    rep = {"law": law.name, "fixed": law.fixed, "per_group": True, "n_groups": n_groups, "groups": groups,
           "objective": report_mod.finite(np.sum(gf.objective)), "n_points": int(data.n_points),
           "loss": args.loss, "solver": args.solver, "status_counts": gf.status_counts,
           "lane_status_counts": jl.Status.counts(gf.lane_status), "warnings": gf.warnings,
           "timing": {**gf.timing, "fit_s": fit_s, "wall_s": time.perf_counter() - t0},
           "device": jl.engine.device_name(args.devices), "strategy": "all", **context}  # each group: every start
    _write(args, rep, lambda: report_mod.write_groups(args.report, rep, gf, data))
    return 0


def _fit(args: argparse.Namespace, t0: float, argv: Sequence[str]) -> int:
    """``jaxlaws fit``: with several processes (``--coordinator ...``) every process runs it and
    only process 0 prints and writes; with ``--run-dir`` an interrupt (Ctrl-C, SIGTERM) says in
    one line what was kept and the command that resumes."""
    from jaxlaws import distributed

    if distributed.requested(args.coordinator, args.num_processes, args.process_id, auto=args.distributed):
        distributed.initialize(args.coordinator, args.num_processes, args.process_id)
    if args.chunk_resamples is not None and args.chunk_resamples < 1:
        raise JaxlawsError(f"--chunk-resamples must be >= 1, got {args.chunk_resamples}")
    if args.devices is not None and args.devices < 1:
        raise JaxlawsError(f"--devices must be >= 1, got {args.devices}")
    if args.run_dir is not None and os.path.exists(args.run_dir) and not os.path.isdir(args.run_dir):
        raise JaxlawsError(f"--run-dir {args.run_dir!r} is a file; give a directory")
    quiet = contextlib.nullcontext() if distributed.is_writer() else contextlib.redirect_stdout(io.StringIO())
    with quiet:
        if args.run_dir is None:
            return _fit_run(args, t0)
        with _term_as_interrupt():
            try:
                return _fit_run(args, t0)
            except KeyboardInterrupt:
                from jaxlaws import runs

                command = shlex.join(["jaxlaws", *argv])
                raise _Interrupted(f"jaxlaws: interrupted: {runs.kept(args.run_dir)} kept in {args.run_dir}; "
                                   f"resume with: {command}") from None


class _Interrupted(KeyboardInterrupt):
    """An interrupt whose one line says more than ``interrupted`` (what a run directory kept);
    :func:`main` prints it after removing the outputs the run had begun, as for any interrupt."""


@contextlib.contextmanager
def _term_as_interrupt() -> Any:
    """SIGTERM raised as KeyboardInterrupt while the run lasts (a batch system's stop reads
    as Ctrl-C: what is done is kept), the previous handler restored after."""
    def raise_interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, raise_interrupt)
    except ValueError:  # not the main thread: leave SIGTERM alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _fit_run(args: argparse.Namespace, t0: float) -> int:
    import jaxlaws as jl

    if args.bootstrap < 0 or args.bootstrap == 1:
        raise JaxlawsError(f"--bootstrap needs at least 2 resamples, got {args.bootstrap}")
    if jl.distributed.is_writer():  # the others write nothing (their hosts may not have the folders)
        _check_outputs(args)
    law = _fixed(jl.laws.get(args.law), args.fix)
    _check_request(args, law)
    data, source = _load_data(args)
    if args.compute is not None:
        if law.allocation is None:
            raise JaxlawsError(f"--compute: law {law.name!r} has no compute-optimal allocation")
        jl.analysis.allocation.check_budgets(args.compute)
    context = _context(args, source)
    if _per_group(args, data):
        _check_size(args, law, data, len(np.unique(data.groups)), _starts(args.starts, default=64))
        return _fit_groups(args, law, data, context, t0)
    if args.run_dir is not None and args.bootstrap:  # a resume of other bootstrap arguments: refused now
        recorded = {"scheme": args.scheme, "seed": args.seed, "n": args.bootstrap,
                    # as the bootstrap resolves it: its starts are the fit's best and basins, not a grid
                    "strategy": repr(jl.engine.resolve_strategy(jl.engine.Race.parse(args.strategy), on_grid=False))}
        if args.chunk_resamples is not None:
            recorded["resamples_per_chunk"] = args.chunk_resamples
        jl.runs.check_recorded(args.run_dir, "bootstrap", recorded)
    _check_bootstrap(args, law, data)  # refusals above, its warning (too few resamples) after them
    _check_size(args, law, data, 1, _starts(args.starts))
    with warnings.catch_warnings():
        # The report below states any warning, once, in words; no Python warning line on top.
        warnings.simplefilter("ignore", jl.JaxlawsWarning)
        t = time.perf_counter()
        res = jl.fit(law, data, loss=args.loss, starts=_starts(args.starts), solver=args.solver, seed=args.seed,
                     progress=_progress(args.progress, "fit"), devices=args.devices, run_dir=args.run_dir,
                     strategy=args.strategy)
        fit_s = time.perf_counter() - t
    rep = res.to_dict()
    rep["timing"]["fit_s"] = fit_s
    rep.update(context)
    print(res.report())
    boot = None
    if args.bootstrap:
        boot = jl.bootstrap(law, data, n=args.bootstrap, loss=args.loss, seed=args.seed, solver=args.solver,
                            scheme=args.scheme, fit=res, progress=_progress(args.progress, "bootstrap") or False,
                            devices=args.devices, run_dir=args.run_dir, resamples_per_chunk=args.chunk_resamples,
                            strategy=args.strategy)
        rep["bootstrap"] = boot.summary(args.ci)
        print(boot.format(args.ci))
    opt = report_mod.compute_optimal(res, boot, args.compute, args.ci)
    rep["derived"] = {} if opt is None else {"compute_optimal": opt}
    if opt is not None:
        print(_format_allocation(opt))
    rep["timing"]["wall_s"] = time.perf_counter() - t0

    def folder() -> list[str]:
        return report_mod.write_fit(args.report, rep, res, data, boot, args.compute, args.ci)

    _write(args, rep, folder)
    if args.plot and jl.distributed.is_writer():
        report_mod.figure("data_and_fit", args.plot, res, data)
        print(f"plot written to {args.plot}")
    return 0


def _format_allocation(opt: dict[str, Any]) -> str:
    band = f", {opt['level']:.0%} interval" if opt.get("level") else ""
    lines = [f"compute-optimal allocation ({opt['compute_model']}{band}):"]
    for i, c in enumerate(opt["C"]):
        cells = []
        for k, label in (("N_opt", "N"), ("D_opt", "D"), ("tokens_per_param", "D/N")):
            q = opt[k]
            cell = f"{label} {float(q['estimate'][i]):.3g}"
            if "ci" in q:
                cell += f" [{float(q['ci'][i][0]):.3g}, {float(q['ci'][i][1]):.3g}]"
            cells.append(cell)
        lines.append(f"  C {report_mod.budget(c)}: " + "; ".join(cells))
    return "\n".join(lines)


def _write(args: argparse.Namespace, rep: dict[str, Any], folder: Callable[[], list[str]]) -> None:
    from jaxlaws import distributed

    if not distributed.is_writer():  # several processes: one set of files, by process 0
        return
    if args.json:
        report_mod.write_json(args.json, rep)
        print(f"results written to {args.json}")
    if args.report:
        paths = folder()
        print(f"report written to {os.path.join(args.report, 'summary.md')} ({len(paths)} files)")


# ---- the other commands ----------------------------------------------------------------------
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

    if args.json:
        _check_file(args.json, "--json")
    _need("scipy", "jaxlaws bench", "bench")
    # A fresh cache: "cold" must time a real compile, not programs an earlier run left on disk.
    try:
        fresh = tempfile.mkdtemp(prefix="jaxlaws-bench-xla-")
        atexit.register(shutil.rmtree, fresh, ignore_errors=True)
        from jaxlaws.devices import use_compilation_cache

        use_compilation_cache(fresh)
    except OSError:
        pass  # an unwritable temporary directory only costs compile time
    result = bench.quick()
    if args.json:
        report_mod.write_json(args.json, result)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    t0 = time.perf_counter()
    parser = _parser()
    args = parser.parse_args(argv)
    if args.cmd is None:  # bare `jaxlaws`: what it can do, as argparse answers a missing argument (status 2)
        parser.print_help(sys.stderr)
        return 2
    # One device per core and the persistent compilation cache come with `import jaxlaws`
    # (jaxlaws.devices), as in any Python program: the command runs as fast as a script.
    created = _new_outputs(args)
    try:
        return _run(args, t0, sys.argv[1:] if argv is None else list(argv))
    except KeyboardInterrupt as e:
        _remove(created)
        print(e.args[0] if isinstance(e, _Interrupted) else "jaxlaws: interrupted", file=sys.stderr)
        return 130  # 128 + SIGINT, what a shell reports for a command stopped by Ctrl-C
    except JaxlawsError as e:
        _remove(created)
        print(f"jaxlaws: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except OSError as e:
        _remove(created)
        print(f"jaxlaws: error: {e.strerror or e}: {e.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2


def _new_outputs(args: argparse.Namespace) -> list[str]:
    """The output paths (``--json``, ``--plot``, ``--report``) that do not exist yet: a run that
    fails or is interrupted removes what it made of them, so no partial output is left."""
    paths = [getattr(args, k, None) for k in ("json", "plot", "report")]
    return [p for p in paths if isinstance(p, str) and p and not os.path.lexists(p)]


def _remove(paths: Sequence[str]) -> None:
    for p in paths:
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p, ignore_errors=True)
        elif os.path.lexists(p):
            try:
                os.unlink(p)
            except OSError:
                pass  # cannot be removed: nothing more to do on the way out


def _run(args: argparse.Namespace, t0: float, argv: Sequence[str]) -> int:
    """The command ``args.cmd`` (``argv``: the words it was given, for a resume hint); its errors
    are :func:`main`'s to report."""
    if args.cmd == "fit":
        with warnings.catch_warnings():
            # A fit's warnings are in its report, in words, and a bootstrap too small for its
            # interval is warned about before the run: no Python warning lines on top.
            warnings.simplefilter("ignore", JaxlawsWarning)
            return _fit(args, t0, argv)
    if args.cmd == "laws":
        return _laws()
    if args.cmd == "datasets":
        return _datasets()
    if args.cmd == "approaches":
        from jaxlaws.analysis.approaches import cli as approaches_cli

        return approaches_cli.run_cli(args)
    if args.cmd in ("backtest", "predict"):
        from jaxlaws.analysis import backtest, predict

        return (backtest if args.cmd == "backtest" else predict).run_cli(args)
    return _bench(args)


if __name__ == "__main__":
    sys.exit(main())
