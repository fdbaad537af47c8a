"""The bad-input table (docs/bad_inputs.md), one row per case, each checked where it exists.

* at the Python API: a :class:`jaxlaws.JaxlawsError` with a one-line message holding the row's
  key phrase (or, for a warned row, a :class:`jaxlaws.JaxlawsWarning`; for a reported row, a
  result that flags it; for a read row, the dataset as meant);
* at the command line, in process (``jaxlaws.cli.main``): exit status 2, exactly one line on
  stderr, ``jaxlaws: error: ...`` with the phrase, no traceback, nothing on stdout and no
  ``--json`` file written (a warned row: status 0 and one ``jaxlaws: warning:`` line).

A row exists at one level only where the other has no way to say it (weights, solver options and
custom laws are Python-only; output paths and option combinations are the command's). The
documentation's table is this module's output: ``python tests/test_bad_inputs.py > docs/bad_inputs.md``.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import sys
import tempfile
import warnings
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
import numpy as np
import pytest

import jaxlaws as jl
from jaxlaws import cli

X = np.logspace(1, 4, 10)
Y = 3.0 * X**-0.4 * np.exp(0.01 * np.random.default_rng(0).standard_normal(10))
DATA = jl.datasets.from_arrays(x={"x": X}, y=Y, name="tiny")
XY = list(zip(X.tolist(), Y.tolist()))  # Python floats: repr round-trips them exactly
GOOD_CSV = "x,loss\n" + "".join(f"{a!r},{b!r}\n" for a, b in XY)
P2 = {"A": jl.Param(1e-3, 1e6, scale="log"), "alpha": jl.Param(0.0, 2.0)}


def _law(fn: Callable[..., Any]) -> jl.Law:
    return jl.law(inputs=("x",), params=P2)(fn)


@_law
def reads_undeclared_input(p, x):
    return p["A"] * x["D"] ** -p["alpha"]


@_law
def reads_undeclared_param(p, x):
    return p["A"] * x["x"] ** -p["beta"]


@_law
def uses_numpy(p, x):
    return np.asarray(p["A"]) * x["x"] ** -p["alpha"]


@_law
def uses_float(p, x):
    return float(p["A"]) * x["x"] ** -p["alpha"]


@_law
def wrong_length(p, x):
    return jnp.stack([p["A"], p["alpha"]])


@_law
def scalar_output(p, x):
    return p["A"]


@_law
def int_output(p, x):
    return jnp.ones(x["x"].shape, jnp.int32)


@_law
def complex_output(p, x):
    return p["A"] * x["x"] ** -p["alpha"] + 0j


@_law
def tuple_output(p, x):
    return p["A"] * x["x"], x["x"]


@_law
def raises_inside(p, x):
    raise RuntimeError("boom")


@_law
def nan_everywhere(p, x):
    return jnp.full(x["x"].shape, jnp.nan) * p["A"]


@_law
def nan_for_large_alpha(p, x):
    """``A x^-alpha``, NaN where alpha > 1 (at every point): starts there fail at once."""
    return jnp.where(p["alpha"] > 1.0, jnp.nan, p["A"] * x["x"] ** -p["alpha"])


# ---- the files and folders the rows name ------------------------------------------------------
class Ctx:
    """The row's files, made in ``tmp`` on first use."""

    def __init__(self, tmp: str) -> None:
        self.tmp = tmp
        self.out = os.path.join(tmp, "out.json")  # every command row writes here unless it names --json

    def path(self, name: str) -> str:
        return os.path.join(self.tmp, name)

    def csv(self, name: str, text: str) -> str:
        p = self.path(name)
        if name.endswith(".gz"):
            with gzip.open(p, "wt", encoding="utf-8") as f:
                f.write(text)
        else:
            with open(p, "w", encoding="utf-8", newline="") as f:
                f.write(text)
        return p

    @property
    def good(self) -> str:
        return self.csv("good.csv", GOOD_CSV)

    def folder(self, name: str) -> str:
        p = self.path(name)
        os.makedirs(p, exist_ok=True)
        return p


def fit_argv(c: Ctx, *extra: str, data: str | None = None, law: str = "power_law") -> list[str]:
    return ["fit", "--data", c.good if data is None else data, "--law", law, "--loss", "mse-log", "--starts", "4",
            "--progress", "off", *extra]


@dataclasses.dataclass(frozen=True)
class Row:
    """One bad input.

    Attributes:
      id: short name (the test id).
      input: what the user gave, in words.
      outcome: ``refused`` | ``warned`` | ``reported`` (kept in the result, not raised) | ``read``
        (a file form that is read as meant).
      phrase: a key phrase of the message (API and CLI), or ``(api, cli)``.
      api: ``ctx -> callable`` that makes the call, or None (no API form).
      cli: ``ctx -> argv``, or None (no command-line form).
      check: for reported and read rows, ``result -> None`` asserting what is kept.
      computes: a refusal that only a run can reveal (every start failing): the engine ran
        before it. Every other refused row must be refused before any compute (checked).
    """

    id: str
    input: str
    outcome: str
    phrase: str | tuple[str, str]
    api: Callable[[Ctx], Callable[[], Any]] | None = None
    cli: Callable[[Ctx], list[str]] | None = None
    check: Callable[[Any], None] | None = None
    computes: bool = False

    def phrase_for(self, level: str) -> str:
        return self.phrase if isinstance(self.phrase, str) else self.phrase[level == "cli"]

    @property
    def where(self) -> str:
        return "both" if self.api and self.cli else "API" if self.api else "CLI"


def _csv_rows(c: Ctx, name: str, text: str, *extra: str, law: str = "power_law") -> list[str]:
    return fit_argv(c, *extra, data=c.csv(name, text), law=law)


def _fit(data: Any = DATA, law: Any = "power_law", **kw: Any) -> Callable[[], Any]:
    kw = {"loss": "mse-log", "starts": 4, **kw}
    return lambda: jl.fit(law, data, **kw)


def _boot(data: Any = DATA, **kw: Any) -> Callable[[], Any]:
    kw = {"loss": "mse-log", "n": 8, "starts": 4, **kw}
    return lambda: jl.bootstrap("power_law", data, **kw)


def _read(c: Ctx, name: str, text: str, **kw: Any) -> Callable[[], Any]:
    return lambda: jl.datasets.from_csv(c.csv(name, text), **kw)


_BOM = "\ufeffx,loss\n" + GOOD_CSV.split("\n", 1)[1]
_SEMI = GOOD_CSV.replace(",", ";")
_PADDED = " x , loss \n" + GOOD_CSV.split("\n", 1)[1]
_TEXT = "run,x,loss,colour\n" + "".join(f"r{i},{a!r},{b!r},#faebdd\n" for i, (a, b) in enumerate(XY))
_QUOTED = 'name,x,loss\n' + "".join(f'"run #{i}, the {i}th",{a!r},{b!r}\n' for i, (a, b) in enumerate(XY))
_BLANKS = GOOD_CSV.replace("\n", "\n\n", 3)
_GROUPED2 = "x,loss,g\n" + "".join(f"{a!r},{b!r},{'ab'[i % 2]}\n" for i, (a, b) in enumerate(XY))
_GROUPED1 = "x,loss,g\n" + "".join(f"{a!r},{b!r},a\n" for a, b in XY)


def _with(text: str, row: int, col: int, value: str) -> str:
    lines = text.split("\n")
    cells = lines[row].split(",")
    cells[col] = value
    lines[row] = ",".join(cells)
    return "\n".join(lines)


def _same_data(d: Any) -> None:
    assert list(d.inputs) == ["x"] and d.target == "loss" and d.n_points == 10
    np.testing.assert_array_equal(d.inputs["x"], X)  # read back exactly: repr round-trips a float
    np.testing.assert_array_equal(d.y, Y)


def _text_kept(d: Any) -> None:
    _same_data(d)
    assert set(d.extra) == {"run", "colour"} and d.extra["colour"][0] == "#faebdd"


def _quoted_kept(d: Any) -> None:
    _same_data(d)
    assert d.extra["name"][3] == "run #3, the 3th"


def _failed_lanes_reported(res: Any) -> None:
    # Starts with alpha > 1 fail at once; the others reach the data's alpha = 0.4.
    bad = res.starts[:, 1] > 1.0
    assert bad.any() and (~bad).any()
    assert np.all(res.failed[bad]) and res.n_failed == int(bad.sum())
    assert res.status_counts.get(jl.Status.NONFINITE_START.label, 0) == int(bad.sum())
    assert res.to_dict()["n_failed"] == int(bad.sum())
    assert abs(res.params["alpha"] - 0.4) < 0.05  # 1% noise on 10 points: alpha known to ~0.01


ROWS: list[Row] = [
    # ---- names -----------------------------------------------------------------------------
    Row("unknown-dataset", "a dataset name that is not bundled", "refused", "unknown dataset 'nope'",
        api=lambda c: _fit(data="nope"), cli=lambda c: fit_argv(c, data="nope")),
    Row("unknown-law", "a law name not in the catalog", "refused", "unknown law 'nope'",
        api=lambda c: _fit(law="nope"), cli=lambda c: fit_argv(c, law="nope")),
    Row("bad-loss", "a loss spec that is not one (`l2`)", "refused", "malformed loss spec 'l2'",
        api=lambda c: _fit(loss="l2"), cli=lambda c: fit_argv(c, "--loss", "l2")),
    Row("huber-threshold", "a negative Huber threshold (`huber:-1`)", "refused", "threshold must be positive",
        api=lambda c: _fit(loss="huber:-1"), cli=lambda c: fit_argv(c, "--loss", "huber:-1")),
    Row("unknown-solver", "a solver name that is not one", "refused", ("unknown solver 'nope'", "invalid choice: 'nope'"),
        api=lambda c: _fit(solver="nope"), cli=lambda c: fit_argv(c, "--solver", "nope")),
    Row("data-type", "data of a type jaxlaws does not read (an int)", "refused", "data must be a jl.datasets.Dataset",
        api=lambda c: _fit(data=5)),
    # ---- columns and values ----------------------------------------------------------------
    Row("missing-inputs", "data without the law's inputs (chinchilla on x, loss)", "refused", "lacks inputs ['N', 'D']",
        api=lambda c: _fit(law="chinchilla"), cli=lambda c: fit_argv(c, law="chinchilla")),
    Row("unknown-x-column", "`--x x=COLUMN` for a column the file lacks", "refused", "unknown column 'nosuch'",
        api=lambda c: _read(c, "good.csv", GOOD_CSV, x={"x": "nosuch"}), cli=lambda c: fit_argv(c, "--x", "x=nosuch")),
    Row("unknown-y-column", "`--y COLUMN` for a column the file lacks", "refused", "unknown column 'nosuch'",
        api=lambda c: _read(c, "good.csv", GOOD_CSV, y="nosuch"), cli=lambda c: fit_argv(c, "--y", "nosuch")),
    Row("unknown-group-column", "`--group COLUMN` for a column the file lacks", "refused", "unknown column 'nosuch'",
        api=lambda c: _read(c, "good.csv", GOOD_CSV, group="nosuch"), cli=lambda c: fit_argv(c, "--group", "nosuch")),
    Row("not-a-number", "a cell that is not a number in an input column", "refused", "'abc' is not a number",
        api=lambda c: _read(c, "abc.csv", _with(GOOD_CSV, 3, 0, "abc"), x={"x": "x"}),
        cli=lambda c: _csv_rows(c, "abc.csv", _with(GOOD_CSV, 3, 0, "abc"), "--x", "x=x")),
    Row("nan-target", "a NaN target", "refused", "target 'loss' has NaN or inf at row 2",
        api=lambda c: _read(c, "nan.csv", _with(GOOD_CSV, 3, 1, "nan")),
        cli=lambda c: _csv_rows(c, "nan.csv", _with(GOOD_CSV, 3, 1, "nan"))),
    Row("inf-input", "an infinite input", "refused", "input 'x' has NaN or inf at row 0",
        api=lambda c: _read(c, "inf.csv", _with(GOOD_CSV, 1, 0, "inf")),
        cli=lambda c: _csv_rows(c, "inf.csv", _with(GOOD_CSV, 1, 0, "inf"))),
    Row("negative-target-log-loss", "a negative target with a log-space loss", "refused", "needs positive targets",
        api=lambda c: _fit(data=jl.datasets.from_arrays(x={"x": X}, y=-Y)),
        cli=lambda c: _csv_rows(c, "neg.csv", _with(GOOD_CSV, 1, 1, "-1.5"))),
    Row("zero-input-outside-domain", "`N = 0` (x = 0) for a power law: log(0) at one row", "refused",
        "the prediction is not finite at 1 of 10 rows at every start (first: row 0, x=0)",
        api=lambda c: _fit(data=jl.datasets.from_arrays(x={"x": np.r_[0.0, X[1:]]}, y=Y)),
        cli=lambda c: _csv_rows(c, "zero.csv", _with(GOOD_CSV, 1, 0, "0")), computes=True),
    Row("too-few-points", "fewer points than parameters", "refused", "1 points are fewer than the 2 parameters",
        api=lambda c: _fit(data=jl.datasets.from_arrays(x={"x": X[:1]}, y=Y[:1])),
        cli=lambda c: _csv_rows(c, "one.csv", "\n".join(GOOD_CSV.split("\n")[:2]))),
    # ---- files -----------------------------------------------------------------------------
    Row("no-such-file", "a data path that does not exist", "refused", "no such data file",
        api=lambda c: lambda: jl.datasets.from_csv(c.path("missing.csv")),
        cli=lambda c: fit_argv(c, data=c.path("missing.csv"))),
    Row("data-is-directory", "`--data /tmp` (a directory)", "refused", "is a directory, not a data file",
        api=lambda c: lambda: jl.datasets.from_csv(c.folder("adir")), cli=lambda c: fit_argv(c, data=c.folder("adir"))),
    Row("empty-file", "an empty CSV", "refused", "is empty",
        api=lambda c: _read(c, "empty.csv", ""), cli=lambda c: _csv_rows(c, "empty.csv", "")),
    Row("header-only", "a header and no rows", "refused", "has a header but no rows",
        api=lambda c: _read(c, "head.csv", "x,loss\n"), cli=lambda c: _csv_rows(c, "head.csv", "x,loss\n")),
    Row("duplicate-header", "a column named twice in the header", "refused", "column 'x' appears twice",
        api=lambda c: _read(c, "dup.csv", "x,x,loss\n1,2,3\n"), cli=lambda c: _csv_rows(c, "dup.csv", "x,x,loss\n1,2,3\n")),
    Row("unnamed-header", "a header column with no name", "refused", "column 2 of the header has no name",
        api=lambda c: _read(c, "unnamed.csv", "x,,loss\n1,2,3\n"),
        cli=lambda c: _csv_rows(c, "unnamed.csv", "x,,loss\n1,2,3\n")),
    Row("ragged-row", "a row with an extra field", "refused", "row 3 has 3 fields, the header has 2",
        api=lambda c: _read(c, "ragged.csv", _with(GOOD_CSV, 2, 1, "2.5,7")),
        cli=lambda c: _csv_rows(c, "ragged.csv", _with(GOOD_CSV, 2, 1, "2.5,7"))),
    Row("bom", "a UTF-8 byte-order mark", "read", "", api=lambda c: _read(c, "bom.csv", _BOM),
        cli=lambda c: _csv_rows(c, "bom.csv", _BOM), check=_same_data),
    Row("semicolons", "a semicolon-separated file", "read", "", api=lambda c: _read(c, "semi.csv", _SEMI),
        cli=lambda c: _csv_rows(c, "semi.csv", _SEMI), check=_same_data),
    Row("padded-header", "spaces around header names", "read", "", api=lambda c: _read(c, "pad.csv", _PADDED),
        cli=lambda c: _csv_rows(c, "pad.csv", _PADDED), check=_same_data),
    Row("blank-lines", "blank lines between rows", "read", "", api=lambda c: _read(c, "blank.csv", _BLANKS),
        cli=lambda c: _csv_rows(c, "blank.csv", _BLANKS), check=_same_data),
    Row("text-columns", "unused text columns (run names, colour codes `#faebdd`)", "read", "",
        api=lambda c: _read(c, "text.csv", _TEXT), cli=lambda c: _csv_rows(c, "text.csv", _TEXT), check=_text_kept),
    Row("quoted-hash", "quoted fields holding the delimiter and `#`", "read", "",
        api=lambda c: _read(c, "quoted.csv", _QUOTED), cli=lambda c: _csv_rows(c, "quoted.csv", _QUOTED),
        check=_quoted_kept),
    Row("tsv-name", "`data.tsv` (tab-separated, no path separator)", "read", "",
        api=lambda c: _read(c, "data.tsv", GOOD_CSV.replace(",", "\t")),
        cli=lambda c: fit_argv(c, data=os.path.relpath(c.csv("data.tsv", GOOD_CSV.replace(",", "\t")))), check=_same_data),
    Row("upper-case-name", "`MY.CSV`", "read", "", api=lambda c: _read(c, "MY.CSV", GOOD_CSV),
        cli=lambda c: fit_argv(c, data=os.path.relpath(c.csv("MY.CSV", GOOD_CSV))), check=_same_data),
    Row("gzip-name", "`x.csv.gz`", "read", "", api=lambda c: _read(c, "x.csv.gz", GOOD_CSV),
        cli=lambda c: fit_argv(c, data=os.path.relpath(c.csv("x.csv.gz", GOOD_CSV))), check=_same_data),
    # ---- counts and types ------------------------------------------------------------------
    Row("starts-zero", "`--starts 0`", "refused", ("number of starts must be >= 1", "--starts must be >= 1"),
        api=lambda c: _fit(starts=0), cli=lambda c: fit_argv(c, "--starts", "0")),
    Row("starts-negative", "`--starts -3`", "refused", ("number of starts must be >= 1", "--starts must be >= 1"),
        api=lambda c: _fit(starts=-3), cli=lambda c: fit_argv(c, "--starts", "-3")),
    Row("starts-word", "a word for the start count (`many`)", "refused", ("unknown starts 'many'", "--starts takes 'grid'"),
        api=lambda c: _fit(starts="many"), cli=lambda c: fit_argv(c, "--starts", "many")),
    Row("starts-fraction", "a fractional start count (4.5)", "refused", ("starts takes 'grid', an int", "--starts takes 'grid'"),
        api=lambda c: _fit(starts=4.5), cli=lambda c: fit_argv(c, "--starts", "4.5")),
    Row("starts-bool", "`starts=True`", "refused", "starts takes 'grid', an int count", api=lambda c: _fit(starts=True)),
    Row("starts-huge", "`--starts 10**12`: more lane results than memory", "refused",
        ("1,000,000,000,000 starts needs ~", "--starts 1000000000000 needs ~"),
        api=lambda c: _fit(starts=10**12), cli=lambda c: fit_argv(c, "--starts", str(10**12))),
    Row("bootstrap-huge", "`--bootstrap 10**12` resamples", "refused", ("resamples x 3 starts needs ~", "--bootstrap 1000000000000 needs ~"),
        api=lambda c: _boot(n=10**12, starts="basins"), cli=lambda c: fit_argv(c, "--bootstrap", str(10**12))),
    Row("bootstrap-one", "`--bootstrap 1`", "refused", ("bootstrap needs n >= 2", "--bootstrap needs at least 2"),
        api=lambda c: _boot(n=1), cli=lambda c: fit_argv(c, "--bootstrap", "1")),
    Row("bootstrap-negative", "`--bootstrap -5`", "refused", ("bootstrap needs n >= 2", "--bootstrap needs at least 2"),
        api=lambda c: _boot(n=-5), cli=lambda c: fit_argv(c, "--bootstrap", "-5")),
    Row("bootstrap-word", "a string for the resample count", "refused", ("got '10'", "invalid int value: 'ten'"),
        api=lambda c: _boot(n="10"), cli=lambda c: fit_argv(c, "--bootstrap", "ten")),
    Row("bootstrap-bool", "`n=True`", "refused", "bootstrap needs n >= 2 resamples, got True", api=lambda c: _boot(n=True)),
    Row("bootstrap-two", "`--bootstrap 2`", "warned", "2 resamples cannot give a 95% interval",
        api=lambda c: lambda: _small_boot().ci(0.95), cli=lambda c: fit_argv(c, "--bootstrap", "2")),
    Row("seed-word", "a seed that is not a number", "refused", ("seed must be an int >= 0, got 'a'", "invalid int value: 'a'"),
        api=lambda c: _fit(seed="a"), cli=lambda c: fit_argv(c, "--seed", "a")),
    Row("seed-negative", "a negative seed", "refused", "seed must be an int >= 0, got -1",
        api=lambda c: _fit(seed=-1), cli=lambda c: fit_argv(c, "--seed", "-1")),
    Row("ci-above-one", "`--ci 1.5`", "refused", ("confidence level must be in (0, 1)", "--ci must be in (0, 1)"),
        api=lambda c: lambda: _small_boot().ci(1.5), cli=lambda c: fit_argv(c, "--bootstrap", "10", "--ci", "1.5")),
    Row("ci-nan", "`--ci nan`", "refused", ("confidence level must be in (0, 1)", "--ci must be in (0, 1)"),
        api=lambda c: lambda: _small_boot().ci(float("nan")), cli=lambda c: fit_argv(c, "--bootstrap", "10", "--ci", "nan")),
    Row("precision", "an unknown precision", "refused", "precision must be one of", api=lambda c: _fit(precision="float16")),
    # ---- weights ---------------------------------------------------------------------------
    Row("weights-all-zero", "weights all zero", "refused", "all weights are zero: nothing to fit",
        api=lambda c: _fit(weights=np.zeros(10))),
    Row("weights-too-few", "positive weights on fewer points than parameters", "refused",
        "only 1 points have a positive weight", api=lambda c: _fit(weights=np.r_[1.0, np.zeros(9)])),
    Row("weights-nan", "a NaN weight", "refused", "weight 3 is nan", api=lambda c: _fit(weights=np.r_[1, 1, 1, np.nan, [1] * 6])),
    Row("weights-negative", "a negative weight", "refused", "weight 0 is -1", api=lambda c: _fit(weights=-np.ones(10))),
    Row("weights-length", "weights of another length than the data", "refused", "weights have shape (3,), data has 10",
        api=lambda c: _fit(weights=np.ones(3))),
    Row("weights-strings", "weights that are not numbers", "refused", "weights must be numbers",
        api=lambda c: _fit(weights=["a"] * 10)),
    # ---- solver options --------------------------------------------------------------------
    Row("unknown-solver-option", "an unknown solver option (`maxiter=5`)", "refused",
        "unknown option(s) maxiter for solver lm; it takes max_steps", api=lambda c: _fit(maxiter=5)),
    Row("max-steps-zero", "`max_steps=0`", "refused", "max_steps must be an int >= 1", api=lambda c: _fit(max_steps=0)),
    Row("max-steps-word", "`max_steps='10'`", "refused", "max_steps must be an int >= 1 for solver lm, got '10'",
        api=lambda c: _fit(max_steps="10")),
    Row("negative-tolerance", "a negative tolerance (`ftol=-1`)", "refused", "ftol must be a finite number >= 0",
        api=lambda c: _fit(ftol=-1.0)),
    # ---- starts and fixed parameters -------------------------------------------------------
    Row("start-missing-key", "a start dict missing a parameter", "refused", "missing ['alpha']",
        api=lambda c: _fit(starts=[{"A": 1.0}])),
    Row("start-extra-key", "a start dict with an unknown parameter", "refused", "unknown ['Q']",
        api=lambda c: _fit(starts=[{"A": 1.0, "alpha": 0.3, "Q": 1.0}])),
    Row("start-outside-bounds", "a start outside the bounds", "refused", "alpha = 30 not in [0, 5]",
        api=lambda c: _fit(starts=[{"A": 1.0, "alpha": 30.0}])),
    Row("fix-unknown", "fixing a parameter the law lacks (`--fix Q=1`)", "refused", "has no parameter(s) ['Q']",
        api=lambda c: lambda: jl.laws.get("power_law").fix(Q=1.0), cli=lambda c: fit_argv(c, "--fix", "Q=1")),
    Row("fix-outside-bounds", "fixing outside the bounds (`--fix alpha=30`)", "refused",
        "alpha fixed at 30.0 must be finite and inside its bounds [0, 5]",
        api=lambda c: lambda: jl.laws.get("power_law").fix(alpha=30.0), cli=lambda c: fit_argv(c, "--fix", "alpha=30")),
    Row("fix-nan", "fixing at NaN", "refused", "alpha fixed at nan must be finite",
        api=lambda c: lambda: jl.laws.get("power_law").fix(alpha=float("nan")), cli=lambda c: fit_argv(c, "--fix", "alpha=nan")),
    Row("fix-malformed", "`--fix alpha` (no value)", "refused", "--fix takes PARAM=VALUE, got 'alpha'",
        cli=lambda c: fit_argv(c, "--fix", "alpha")),
    Row("param-bounds", "a Param with lower >= upper", "refused", "Param lower (2) must be < upper (1)",
        api=lambda c: lambda: jl.Param(2.0, 1.0)),
    Row("param-log-zero", "a log-scale Param with lower 0", "refused", "a log-scale Param needs 0 < lower",
        api=lambda c: lambda: jl.Param(0.0, 1.0, scale="log")),
    # ---- custom laws (Python only: the command takes catalog laws) -------------------------
    Row("law-undeclared-input", "a law reading an input it does not declare", "refused",
        "reads input 'D', which it does not declare (its inputs: ['x'])", api=lambda c: _fit(law=reads_undeclared_input)),
    Row("law-undeclared-param", "a law reading a parameter it does not declare", "refused",
        "reads parameter 'beta', which it does not declare", api=lambda c: _fit(law=reads_undeclared_param)),
    Row("law-numpy", "numpy inside a law", "refused", "cannot be traced by jax (TracerArrayConversionError)",
        api=lambda c: _fit(law=uses_numpy)),
    Row("law-float", "`float()` of a parameter inside a law", "refused", "cannot be traced by jax (ConcretizationTypeError)",
        api=lambda c: _fit(law=uses_float)),
    Row("law-wrong-length", "a law returning a [2] array for 10 points", "refused",
        "must return one value per point, shape (10,) for 10 points; got shape (2,)", api=lambda c: _fit(law=wrong_length)),
    Row("law-scalar", "a law returning a scalar", "refused", "got shape (); broadcast a constant with jnp.full_like",
        api=lambda c: _fit(law=scalar_output)),
    Row("law-int", "a law returning integers", "refused", "returns int32 values; a law must return real floats",
        api=lambda c: _fit(law=int_output)),
    Row("law-complex", "a law returning complex numbers", "refused", "returns complex128 values",
        api=lambda c: _fit(law=complex_output)),
    Row("law-tuple", "a law returning a tuple", "refused", "must return one array of predictions, got tuple",
        api=lambda c: _fit(law=tuple_output)),
    Row("law-raises", "a law that raises", "refused", "law 'raises_inside' fails on 10 points: RuntimeError: boom",
        api=lambda c: _fit(law=raises_inside)),
    Row("law-nan-everywhere", "a law returning NaN everywhere", "refused",
        "all 4 starts failed: the objective is not finite at any start; the prediction is not finite at 10 of 10 rows",
        api=lambda c: _fit(law=nan_everywhere), computes=True),
    Row("law-nan-some-starts", "a law NaN in part of its parameter space (alpha > 1)", "reported", "",
        api=lambda c: _fit(law=nan_for_large_alpha, starts=[[1.0, 0.2], [3.0, 0.5], [2.0, 1.5], [5.0, 1.8]]),
        check=_failed_lanes_reported),
    # ---- groups ----------------------------------------------------------------------------
    Row("groups-scheme-without-groups", "`--scheme groups` on data without groups", "refused", "needs group labels",
        api=lambda c: _boot(scheme="groups"), cli=lambda c: fit_argv(c, "--bootstrap", "10", "--scheme", "groups")),
    Row("groups-length", "group labels of another length than the data", "refused", "groups have shape (3,), data has 10",
        api=lambda c: _boot(scheme="groups", groups=[1, 2, 3])),
    Row("groups-one", "a groups bootstrap with one group", "refused", "needs at least 2 groups, got 1",
        api=lambda c: _boot(scheme="groups", groups=[0] * 10),
        cli=lambda c: _csv_rows(c, "g1.csv", _GROUPED1, "--group", "g", "--pooled", "--bootstrap", "10",
                                "--scheme", "groups")),
    Row("groups-two", "a groups bootstrap with two groups", "warned", "2 groups give only 3 distinct resamples",
        api=lambda c: lambda: _small_boot(scheme="groups", groups=[i % 2 for i in range(10)]).ci(0.95),
        cli=lambda c: _csv_rows(c, "g2.csv", _GROUPED2, "--group", "g", "--pooled", "--bootstrap", "8",
                                "--scheme", "groups")),
    # ---- option combinations (the command's) -----------------------------------------------
    Row("x-unknown-input", "`--x Q=params` for an input the law lacks", "refused", "law 'power_law' has no input 'Q'",
        cli=lambda c: fit_argv(c, "--x", "x=x", "--x", "Q=loss")),
    Row("x-twice", "an input mapped twice (`--x x=a --x x=b`)", "refused", "--x maps input 'x' twice",
        cli=lambda c: fit_argv(c, "--x", "x=x", "--x", "x=loss")),
    Row("x-malformed", "`--x x` (no column)", "refused", "--x takes INPUT=COLUMN, got 'x'", cli=lambda c: fit_argv(c, "--x", "x")),
    Row("x-on-bundled", "`--x` with a bundled dataset", "refused", "apply to CSV files, not to bundled datasets",
        cli=lambda c: fit_argv(c, "--x", "N=N", data="chinchilla_epoch", law="kaplan_n")),
    Row("scheme-without-bootstrap", "`--scheme groups` without `--bootstrap`", "refused",
        "--scheme groups chooses the bootstrap's resampling: add --bootstrap B", cli=lambda c: fit_argv(c, "--scheme", "groups")),
    Row("ci-without-bootstrap", "`--ci 0.9` without `--bootstrap`", "refused", "--ci sets the level of the bootstrap's intervals",
        cli=lambda c: fit_argv(c, "--ci", "0.9")),
    Row("group-pooled-unused", "`--group` with `--pooled` and no groups bootstrap", "refused",
        "--group g with --pooled is read only by --bootstrap B --scheme groups",
        cli=lambda c: _csv_rows(c, "g2.csv", _GROUPED2, "--group", "g", "--pooled")),
    Row("per-group-without-groups", "`--per-group` on data without groups", "refused", "--per-group needs data with groups",
        cli=lambda c: fit_argv(c, "--per-group")),
    Row("bootstrap-per-group", "`--bootstrap` with a per-group fit", "refused", "--bootstrap with a per-group fit is not supported",
        cli=lambda c: _csv_rows(c, "g2.csv", _GROUPED2, "--group", "g", "--bootstrap", "10")),
    Row("compute-without-allocation", "`--compute` for a law with no compute-optimal allocation", "refused",
        "has no compute-optimal allocation", cli=lambda c: fit_argv(c, "--compute", "1e21")),
    Row("missing-required", "no `--data`", "refused", "the following arguments are required: --data",
        cli=lambda c: ["fit", "--law", "power_law"]),
    # ---- output paths ----------------------------------------------------------------------
    Row("plot-no-suffix", "`--plot noext` (no suffix)", "refused", ("must end in a format suffix: .png, .pdf, .svg",
                                                                   "must end in .png, .pdf, .svg"),
        api=lambda c: lambda: jl.plot.data_and_fit(_tiny_fit(), path=c.path("noext")),
        cli=lambda c: fit_argv(c, "--plot", c.path("noext"))),
    Row("plot-unknown-suffix", "`--plot fit.txt`", "refused", ("must end in a format suffix", "must end in .png, .pdf, .svg"),
        api=lambda c: lambda: jl.plot.data_and_fit(_tiny_fit(), path=c.path("fit.txt")),
        cli=lambda c: fit_argv(c, "--plot", c.path("fit.txt"))),
    Row("plot-missing-dir", "a plot in a directory that does not exist", "refused", "no such directory",
        api=lambda c: lambda: jl.plot.data_and_fit(_tiny_fit(), path=c.path("nodir/fit.png")),
        cli=lambda c: fit_argv(c, "--plot", c.path("nodir/fit.png"))),
    Row("plot-is-directory", "`--plot` naming a directory", "refused", "is a directory; give a file name",
        cli=lambda c: fit_argv(c, "--plot", c.folder("dir.png"))),
    Row("json-missing-dir", "`--json` in a directory that does not exist", "refused", "no such directory",
        cli=lambda c: fit_argv(c, "--json", c.path("nodir/out.json"))),
    Row("json-is-directory", "`--json` naming a directory", "refused", "is a directory; give a file name",
        cli=lambda c: fit_argv(c, "--json", c.folder("outdir"))),
    Row("json-unwritable", "`--json` in a directory that cannot be written", "refused", "cannot write --json",
        cli=lambda c: fit_argv(c, "--json", os.path.join(c.folder("readonly"), "out.json"))),
    Row("report-is-file", "`--report` naming a file", "refused", "is a file; give a directory",
        cli=lambda c: fit_argv(c, "--report", c.csv("afile.txt", "x"))),
    Row("report-missing-parent", "`--report` under a directory that does not exist", "refused", "no such directory",
        cli=lambda c: fit_argv(c, "--report", c.path("nodir/report"))),
    # ---- devices, processes, run directories, strategies ----------------------------------------
    Row("devices-zero", "`--devices 0` / `devices=0`", "refused",
        ("devices must be a positive integer, got 0", "--devices must be >= 1, got 0"),
        api=lambda c: _fit(devices=0), cli=lambda c: fit_argv(c, "--devices", "0")),
    Row("devices-too-many", "more devices than jax has (`--devices 999`)", "refused", "asks for more devices than",
        api=lambda c: _fit(devices=999), cli=lambda c: fit_argv(c, "--devices", "999")),
    Row("chunk-resamples-zero", "`--chunk-resamples 0` / `resamples_per_chunk=0`", "refused",
        ("resamples_per_chunk must be a positive integer", "--chunk-resamples must be >= 1"),
        api=lambda c: _boot(resamples_per_chunk=0), cli=lambda c: fit_argv(c, "--bootstrap", "8", "--chunk-resamples", "0")),
    Row("chunk-resamples-without-bootstrap", "`--chunk-resamples 4` without `--bootstrap`", "refused",
        "sizes the bootstrap's chunks: add --bootstrap B", cli=lambda c: fit_argv(c, "--chunk-resamples", "4")),
    Row("run-dir-is-file", "`--run-dir` naming a file", "refused", "is a file; give a directory",
        api=lambda c: _fit(run_dir=c.csv("arun.txt", "x")), cli=lambda c: fit_argv(c, "--run-dir", c.csv("arun.txt", "x"))),
    Row("run-dir-other-run", "a run directory made by other arguments", "refused", "holds a run made with other arguments",
        api=lambda c: _fit(run_dir=_other_run(c)), cli=lambda c: fit_argv(c, "--run-dir", _other_run(c))),
    Row("unknown-strategy", "a strategy that is not one (`fast`)", "refused",
        ("strategy must be 'all', 'race'", "invalid choice: 'fast'"),
        api=lambda c: _fit(strategy="fast"), cli=lambda c: fit_argv(c, "--strategy", "fast")),
    Row("strategy-per-group", "`--strategy race` with a per-group fit", "refused", "races the starts of a pooled fit",
        cli=lambda c: _csv_rows(c, "g2.csv", _GROUPED2, "--group", "g", "--strategy", "race")),
    Row("coordinator-malformed", "`--coordinator nohost` (no port)", "refused", "coordinator must be HOST:PORT",
        api=lambda c: lambda: jl.distributed.initialize("nohost", 2, 0),
        cli=lambda c: fit_argv(c, "--coordinator", "nohost", "--num-processes", "2", "--process-id", "0")),
    Row("process-id-out-of-range", "`--process-id 5` of 2 processes", "refused", "process_id must be in 0..1",
        api=lambda c: lambda: jl.distributed.initialize("localhost:1", 2, 5),
        cli=lambda c: fit_argv(c, "--coordinator", "localhost:1", "--num-processes", "2", "--process-id", "5")),
]


def _other_run(c: Ctx) -> str:
    """A run directory whose manifest holds a fit made by other arguments."""
    d = c.folder("otherrun")
    with open(os.path.join(d, "manifest.json"), "w") as f:
        f.write('{"format": 1, "fit": {"law": "another law"}}')
    return d

_ROW = {r.id: r for r in ROWS}


# ---- shared results (computed once, only by the rows that need them) --------------------------
_MEMO: dict[Any, Any] = {}


def _tiny_fit() -> jl.FitResult:
    if "fit" not in _MEMO:
        _MEMO["fit"] = jl.fit("power_law", DATA, loss="mse-log", starts=4)
    return _MEMO["fit"]


def _small_boot(**kw: Any) -> jl.BootstrapResult:
    key = ("boot", tuple(sorted((k, str(v)) for k, v in kw.items())))
    if key not in _MEMO:
        n = 2 if not kw else 8
        _MEMO[key] = jl.bootstrap("power_law", DATA, n=n, loss="mse-log", fit=_tiny_fit(), **kw)
    return _MEMO[key]


def _refusing_mkstemp(tmp: str) -> Callable[..., Any]:
    """``tempfile.mkstemp`` that fails with EACCES in ``tmp/readonly`` (the command's probe of an
    output folder; root ignores permission bits, so a chmod would not make one unwritable)."""
    real, ro = tempfile.mkstemp, os.path.join(tmp, "readonly")

    def mkstemp(*args: Any, dir: Any = None, **kw: Any) -> Any:
        if dir is not None and os.path.abspath(dir) == ro:
            raise PermissionError(13, "Permission denied")
        return real(*args, dir=dir, **kw)

    return mkstemp


@pytest.fixture
def ctx(tmp_path, monkeypatch):
    monkeypatch.setattr(cli.tempfile, "mkstemp", _refusing_mkstemp(str(tmp_path)))
    monkeypatch.chdir(tmp_path)  # bare file names (data.tsv) are read from here
    return Ctx(str(tmp_path))


@pytest.fixture
def solves(monkeypatch):
    """Counts the engine's passes over a batch (every fit, bootstrap and race goes through
    ``engine.phase.run``): a row refused before any compute leaves it at 0."""
    from jaxlaws.engine import phase

    calls = []
    real = phase.run

    def counted(*args, **kw):
        calls.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(phase, "run", counted)
    return calls


def _one_line_error(e: BaseException, phrase: str) -> None:
    msg = str(e)
    assert "\n" not in msg and msg.strip() == msg, repr(msg)
    assert phrase in msg, msg


# ---- the API --------------------------------------------------------------------------------
@pytest.mark.parametrize("row", [r for r in ROWS if r.api], ids=lambda r: r.id)
def test_api(row, ctx, solves):
    call = row.api(ctx)
    if row.outcome == "refused":
        with pytest.raises(jl.JaxlawsError) as e:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", jl.JaxlawsWarning)
                call()
        _one_line_error(e.value, row.phrase_for("api"))
        assert bool(solves) == row.computes, f"{len(solves)} engine passes before the refusal"
    elif row.outcome == "warned":
        with pytest.warns(jl.JaxlawsWarning) as w:
            call()
        [msg] = {str(m.message) for m in w if issubclass(m.category, jl.JaxlawsWarning)}
        _one_line_error(msg, row.phrase_for("api"))
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", jl.JaxlawsWarning)
            row.check(call())


# ---- the command ----------------------------------------------------------------------------
class _Stop(Exception):
    """Raised in place of the fit once the command has read its data (read rows)."""


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        rc = cli.main(argv)
    except SystemExit as e:  # argparse's own errors
        rc = e.code
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


@pytest.mark.parametrize("row", [r for r in ROWS if r.cli], ids=lambda r: r.id)
def test_cli(row, ctx, capsys, monkeypatch, solves):
    argv = row.cli(ctx)
    if "--json" not in argv and argv[0] == "fit":
        argv = [*argv, "--json", ctx.out]
    before = sorted(os.listdir(ctx.tmp))
    if row.outcome == "read":
        seen = []

        def stop(law, data, **kw):
            seen.append(data)
            raise _Stop

        monkeypatch.setattr(jl, "fit", stop)
        with pytest.raises(_Stop):
            cli.main(argv)
        row.check(seen[0])
        return
    rc, out, err = _run(argv, capsys)
    lines = err.splitlines()
    assert "Traceback" not in err
    if row.outcome == "warned":
        assert rc == 0, err
        [line] = [x for x in lines if x.startswith("jaxlaws: warning:")]
        assert row.phrase_for("cli") in line and len(lines) == 1, err
        return
    assert rc == 2, (rc, err)
    assert bool(solves) == row.computes, f"{len(solves)} engine passes before the refusal"
    assert len(lines) == 1 and lines[0].startswith("jaxlaws: error: "), err
    assert row.phrase_for("cli") in lines[0], lines[0]
    assert out == ""
    assert not os.path.exists(ctx.out)
    new = set(os.listdir(ctx.tmp)) - set(before)
    assert not {n for n in new if n.startswith(("out", "report", "noext", "fit."))}, new


def test_every_row_is_in_the_documented_table():
    path = os.path.join(os.path.dirname(__file__), os.pardir, "docs", "bad_inputs.md")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    missing = [r.id for r in ROWS if f"| `{r.id}` |" not in text]
    assert not missing, f"docs/bad_inputs.md lacks rows {missing}: regenerate it (see the module docstring)"
    assert len(ROWS) >= 50 and len(_ROW) == len(ROWS)  # ids are unique


# ---- the documented table -------------------------------------------------------------------
def _message(row: Row, c: Ctx) -> str:
    """What the row's input gets, in one line (the CLI's line where there is one)."""
    import contextlib
    import io

    if row.outcome == "read":
        return "read as meant"
    if row.outcome == "reported":
        return "kept in the result: the failed lanes are flagged (status, n_failed, status_counts, JSON)"
    if row.cli is not None:
        err, argv = io.StringIO(), row.cli(c)
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                cli.main(argv if "--json" in argv else [*argv, "--json", c.out])
            except SystemExit:
                pass
        lines = [x for x in err.getvalue().splitlines() if x.startswith("jaxlaws: ")]
        return lines[0] if lines else "(no message)"
    try:
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            row.api(c)()
        return f"JaxlawsWarning: {w[0].message}" if w else "(no message)"
    except jl.JaxlawsError as e:
        return f"JaxlawsError: {e}"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        cli.tempfile.mkstemp = _refusing_mkstemp(tmp)
        c = Ctx(tmp)
        print("# Bad inputs\n")
        print("Every input below is refused before any compute where it can be (one line, exit status 2 at the\n"
              "command line, `jaxlaws.JaxlawsError` in Python), warned about, kept in the result, or read as meant.\n"
              "*Where* says at which level the case exists: `both`, `API` only (weights, solver options, custom\n"
              "laws: the command has no way to give them), or `CLI` only (output paths, option combinations).\n"
              "The message shown is the command's where the case exists there, else the API's. Generated by\n"
              "`python tests/test_bad_inputs.py`; `tests/test_bad_inputs.py` checks every row at every level it\n"
              "exists, and that a refused row ran no engine pass (only a run can tell that every start fails).\n"
              "`<tmp>` is a temporary folder; the memory figures are those of the machine that made the\n"
              "table (2-core CPU, see `jaxlaws.estimate` for what is counted).\n")
        print("| id | input | where | outcome | message |")
        print("|---|---|---|---|---|")
        for r in ROWS:
            msg = _message(r, c).replace(tmp, "<tmp>").replace("|", "\\|")
            outcome = "refused after the first steps" if r.computes else r.outcome
            print(f"| `{r.id}` | {r.input} | {r.where} | {outcome} | {msg} |")
        both = sum(r.where == "both" for r in ROWS)
        print(f"\n{len(ROWS)} rows: {both} checked at both levels, {sum(r.where == 'API' for r in ROWS)} at the API "
              f"only, {sum(r.where == 'CLI' for r in ROWS)} at the command line only.")


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
    main()
