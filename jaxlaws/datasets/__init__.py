"""Bundled datasets and loaders: ``load(name)``, ``names()``, ``from_csv(...)``, ``from_arrays(...)``,
and ``coerce(...)`` for DataFrames and mappings of columns; :mod:`~jaxlaws.datasets.curves` reads
training curves (each run's loss at given budgets)."""

from __future__ import annotations

import csv
import gzip
import json
import os
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any

import numpy as np

from jaxlaws.datasets import curves
from jaxlaws.datasets.dataset import Dataset
from jaxlaws.errors import JaxlawsError

_DATA = resources.files("jaxlaws.datasets") / "data"


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def _read_csv(path: Any) -> tuple[list[str], list[list[str]]]:
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rt", newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as e:
        raise JaxlawsError(f"cannot read {os.path.basename(str(path))!r}: {_one_line(e)}") from None
    if not rows:
        raise JaxlawsError(f"CSV file {os.fspath(path)!r} is empty")
    return rows[0], rows[1:]


_DELIMITERS = ",;\t|"


def _read_user_csv(path: Any) -> tuple[list[str], list[list[str]]]:
    """A user's CSV: UTF-8 with or without a byte-order mark, the delimiter (comma, semicolon,
    tab or bar) read from the header line, header names stripped of surrounding spaces, blank
    lines skipped; a duplicated or empty header name, or a row with another number of fields
    than the header, is refused (row numbers count the header as row 1)."""
    where = os.path.basename(os.fspath(path))
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rt", newline="", encoding="utf-8-sig") as f:
            text = f.read()
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise JaxlawsError(f"cannot read {where!r}: {_one_line(e)}") from None
    first = text.split("\n", 1)[0]
    if not first.strip():
        raise JaxlawsError(f"CSV file {where!r} is empty (or its first line is blank)")
    if str(path).endswith((".tsv", ".tsv.gz")):
        delimiter = "\t"
    else:
        try:
            delimiter = csv.Sniffer().sniff(first, delimiters=_DELIMITERS).delimiter
        except csv.Error:
            delimiter = ","  # one column, or nothing to tell: the standard
    try:
        rows = [r for r in csv.reader(text.splitlines(), delimiter=delimiter) if r]
    except csv.Error as e:
        raise JaxlawsError(f"cannot read {where!r}: {_one_line(e)}") from None
    header = [h.strip() for h in rows[0]]
    for j, h in enumerate(header):
        if not h:
            raise JaxlawsError(f"{where}: column {j + 1} of the header has no name")
        if header.index(h) != j:
            raise JaxlawsError(f"{where}: column {h!r} appears twice in the header (columns {header.index(h) + 1} "
                               f"and {j + 1})")
    for i, r in enumerate(rows[1:]):
        if len(r) != len(header):
            raise JaxlawsError(f"{where} row {i + 2} has {len(r)} fields, the header has {len(header)} "
                               f"(delimiter {delimiter!r})")
    return header, rows[1:]


def _is_text(rows: list[list[str]], j: int) -> bool:
    """No field of column ``j`` is a number: a label column (run names, colour codes)."""
    for r in rows:
        try:
            float(r[j])
            return False
        except ValueError:
            continue
    return True


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
        units={"N": "parameters", "D": "tokens", "C": "FLOPs", "loss": "nats/token"},
    )


def _split_labels(test: np.ndarray) -> np.ndarray:
    return np.where(test, "test", "train")


def _moe() -> Dataset:
    header, rows = _read_csv(_DATA / "moe_curves_step249000.csv")
    where = "bundled moe data"
    keep = _column(header, rows, "step", where) == 249000
    E = _column(header, rows, "num_experts", where)[keep]
    N = _column(header, rows, "dense_parameter_count", where)[keep]
    L = _column(header, rows, "loss_validation", where)[keep]
    return Dataset(
        name="moe",
        inputs={"E": E, "N": N},
        y=L,
        target="loss_validation",
        splits=_split_labels(N == N.max()),
        provenance=_provenance("moe_SOURCE.md"),
        units={"E": "experts", "N": "dense parameters", "loss_validation": "nats/token"},
    )


# Clark et al.'s runs see 256 sequences of 2048 tokens per step: the file's flops_per_step (a
# forward pass of one step) is T (2N + 2 V d_model + c L h d_head) for the dense runs, and a
# least-squares fit with T free gives T = 5.235e5 = 2^19 to 0.15% and V = 31,943 (a 32,000-entry
# vocabulary); see routing_curves_SOURCE.md.
ROUTING_TOKENS_PER_STEP = 256 * 2048
# Every column of the DeepMind file but the target, and where each goes: inputs (a law may read
# them) or extra columns (labels, architecture and the other evaluation losses, which have NaNs).
_ROUTING_EXTRA_NUMERIC = ("hyper_id", "seed", "routing_frequency", "flop_increase", "d_model", "num_blocks",
                          "num_heads", "kqv_size", "loss_c4", "loss_curation_corpus", "loss_lambada", "loss_pile",
                          "loss_wikitext103")


def _routing_curves() -> Dataset:
    header, rows = _read_csv(_DATA / "routing_curves.csv.gz")
    where = "bundled routing_curves data"
    for name in ("router_type", "model_size_label", "loss_validation"):
        if name not in header:
            raise JaxlawsError(f"unknown column {name!r} in {where}; columns are {header}")
    if any(len(r) != len(header) for r in rows):
        bad = next(i for i, r in enumerate(rows) if len(r) != len(header))
        raise JaxlawsError(f"{where} row {bad + 2} has {len(rows[bad])} fields, expected {len(header)}")
    # Dropped: step 0 (the untrained model, C = D = 0: nothing to read in log space) and the 8
    # rows with no validation loss (extra checkpoints at step 248000 that only logged other losses).
    j_loss = header.index("loss_validation")
    steps = _column(header, rows, "step", where)
    keep = [r for r, s in zip(rows, steps) if s > 0 and r[j_loss].strip()]
    col = lambda name: _column(header, keep, name, where)  # noqa: E731

    def maybe(name: str) -> np.ndarray:  # a column with empty cells: NaN there
        j = header.index(name)
        return np.array([float(r[j]) if r[j].strip() else np.nan for r in keep])

    step, N, fps = col("step"), col("dense_parameter_count"), col("flops_per_step")
    D = step * ROUTING_TOKENS_PER_STEP
    text = lambda name: np.array([r[header.index(name)] for r in keep])  # noqa: E731
    router = text("router_type")
    hyper = text("hyper_id")
    return Dataset(
        name="routing_curves",
        inputs={"N": N, "N_total": col("total_parameter_count"), "E": col("num_experts"), "k": col("k"),
                "step": step, "D": D, "C": 6.0 * N * D, "C_fwd": step * fps, "C_step": fps},
        y=col("loss_validation"),
        target="loss_validation",
        runs=np.array([f"{a}-{h}" for a, h in zip(router, hyper)]),
        extra={"router_type": router, "model_size_label": text("model_size_label"),
               **{k: maybe(k) for k in _ROUTING_EXTRA_NUMERIC}},
        provenance=_provenance("routing_curves_SOURCE.md"),
        units={"N": "parameters (seen by one token)", "N_total": "parameters (all experts)", "E": "experts",
               "k": "experts per token", "step": "steps", "D": "tokens", "C": "FLOPs (6ND)",
               "C_fwd": "forward FLOPs (the file's estimate)", "C_step": "forward FLOPs per step",
               "loss_validation": "nats/token"},
    )


def _data_constrained() -> Dataset:
    header, rows = _read_csv(_DATA / "data_constrained_data.csv")
    where = "bundled data_constrained data"
    N = _column(header, rows, "params", where)
    D = _column(header, rows, "unique_tokens", where)  # the file's token columns are swapped:
    U = _column(header, rows, "tokens", where)  # 'unique_tokens' is D, 'tokens' is U
    if not np.all(D >= U):
        raise JaxlawsError(f"{where}: expected the swapped token columns (D >= U), row {int(np.argmin(D >= U)) + 2} has D < U")
    test = (D >= np.unique(D)[-2]) | (N >= np.unique(N)[-2])
    return Dataset(
        name="data_constrained",
        inputs={"N": N, "D": D, "U": U},
        y=_column(header, rows, "loss", where),
        target="loss",
        splits=_split_labels(test),
        provenance=_provenance("data_constrained_SOURCE.md"),
        units={"N": "parameters", "D": "tokens", "U": "unique tokens", "loss": "nats/token"},
    )


def _vocab() -> Dataset:
    header, rows = _read_csv(_DATA / "vocab_data.csv.gz")
    where = "bundled vocab data"
    V = _column(header, rows, "vocab_size", where)
    return Dataset(
        name="vocab",
        inputs={
            "N": _column(header, rows, "Non_vocab_parameters", where),
            "V": V,
            "D": _column(header, rows, "num_characters", where),
            "C": _column(header, rows, "FLOPs", where),
            "embed_dim": _column(header, rows, "embed_dim", where),
        },
        y=_column(header, rows, "Lossu", where),
        target="Lossu",
        splits=_split_labels(V == V.max()),
        provenance=_provenance("vocab_SOURCE.md"),
        # Lossu is unigram-normalised (and negative): no unit is stated for it.
        units={"N": "non-vocabulary parameters", "V": "vocabulary entries", "D": "characters", "C": "FLOPs"},
    )


def _sft() -> Dataset:
    D, L, groups = [], [], []
    for task in ("flan", "gigaword", "wikiword"):
        header, rows = _read_csv(_DATA / f"sft_{task}.csv")
        where = f"bundled sft_{task}.csv"
        if header[:1] != ["model"] or len(header) < 2:
            raise JaxlawsError(f"{where}: expected a 'model' column then one column per data size, got {header[:3]}")
        try:
            sizes = [float(c) for c in header[1:]]
        except ValueError:
            raise JaxlawsError(f"{where}: data-size header {header[1:]} is not all numbers") from None
        cols = {c: _column(header, rows, c, where) for c, s in zip(header[1:], sizes) if s > 0}
        for i, r in enumerate(rows):
            for c, v in cols.items():
                D.append(float(c))
                L.append(v[i])
                groups.append(f"{task}/{r[0]}")
    D_ = np.array(D)
    return Dataset(
        name="sft",
        inputs={"D": D_},
        y=np.array(L),
        target="loss",
        groups=np.array(groups),
        splits=_split_labels(D_ == D_.max()),
        provenance=_provenance("sft_SOURCE.md"),
        units={"D": "examples", "loss": "nats/token"},
    )


def _domain_mixture() -> Dataset:
    where = "bundled domain_mixture data"
    try:
        raw = json.loads((_DATA / "domain_mixture_all_models_data.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise JaxlawsError(f"cannot read {where}: {_one_line(e)}") from None
    r, L, groups, splits = [], [], [], []
    try:
        for size, parts in raw.items():
            for key, label in (("train", "train"), ("eval", "test")):
                for j, item in enumerate(parts[key]):
                    p, loss = [float(v) for v in item["proportions"]], [float(v) for v in item["loss"]]
                    if len(p) != 5 or len(loss) != 5:
                        raise JaxlawsError(f"{where}: {size}/{key}[{j}] has {len(p)} proportions and {len(loss)} losses, expected 5 and 5")
                    r.append(p)
                    L.append(loss)
                    groups.append(size)
                    splits.append(label)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise JaxlawsError(f"{where}: unexpected layout ({type(e).__name__}: {_one_line(e)})") from None
    R = np.array(r).reshape(-1, 5)
    return Dataset(
        name="domain_mixture",
        inputs={f"r{k + 1}": R[:, k] for k in range(5)},
        y=np.array(L).reshape(-1, 5),
        target="loss",
        groups=np.array(groups),
        splits=np.array(splits),
        provenance=_provenance("domain_mixture_SOURCE.md"),
        units={**{f"r{k + 1}": "fraction of data" for k in range(5)}, "loss": "nats/token"},
    )


def _lr_bsz() -> Dataset:
    header, rows = _read_csv(_DATA / "lr_bsz_dense_lr_bs_loss.csv.gz")
    where = "bundled lr_bsz data"
    L = _column(header, rows, "smooth loss", where)
    keep = L <= 4.0
    D = _column(header, rows, "D", where)[keep]
    D[D == 1e13] = 1e11  # typo in the file: the 117 rows of the 1.07B model are stored with D = 1e13
    N = _column(header, rows, "N", where)[keep]
    return Dataset(
        name="lr_bsz",
        inputs={
            "eta": _column(header, rows, "lr", where)[keep],
            "b": _column(header, rows, "bs", where)[keep],
            "D": D,
            "N": N,
        },
        y=L[keep],
        target="smooth loss",
        splits=_split_labels((D == D.max()) & (N == N.max())),
        provenance=_provenance("lr_bsz_SOURCE.md"),
        # The file states no unit for the batch size (16 to 4096: sequences, most likely) or the loss.
        units={"eta": "learning rate", "b": "batch size", "D": "tokens", "N": "non-embedding parameters"},
    )


def _parallel() -> Dataset:
    header, rows = _read_csv(_DATA / "parallel_parscale_losses.csv")
    where = "bundled parallel data"
    if "group" not in header:
        raise JaxlawsError(f"{where}: expected a 'group' column, got {header}")
    j = header.index("group")
    P = _column(header, rows, "parallel_size", where)
    return Dataset(
        name="parallel",
        inputs={"N": _column(header, rows, "num_params", where), "P": P},
        y=_column(header, rows, "loss", where),
        target="loss",
        groups=np.array([r[j] for r in rows]),
        splits=_split_labels(P == 8),
        provenance=_provenance("parallel_SOURCE.md"),
    )


# Wu & Lo's benchmarks (SLDBench's group keys) and their emergence thresholds in log10(FLOPs / 1e21):
# models below the threshold are fitted (train), the rest are held out (ExpEmergence utils.py).
_EASY_QUESTION_THRESHOLDS = {
    "mmlu": 1.5,
    "parsinlu_qa_mc": 2.3,
    "arithmetic": 1.8,
    "hindu_knowledge": 1.0,
    "analogical_similarity": 2.0,
    "conceptual_combinations": 1.5,
    "hellaswag": 2.3,
    "arc": 2.3,
    "abstract_narrative_understanding": 2.3,
}
# ExpEmergence's model_filter: small models it judges over-trained, left out of every fit.
_EASY_QUESTION_DROPPED_MODELS = frozenset({
    "microsoft/phi-1_5", "microsoft/phi-2", "Qwen/Qwen1.5-0.5B", "Qwen/Qwen1.5-1.8B", "Qwen/Qwen1.5-4B",
    "stabilityai/stablelm-2-1_6b",
})


def _question_groups(header: list[str], where: str) -> tuple[str, str]:
    """The easiest and the hardest question group's Brier columns, ``<lo>_<hi>_brier``."""
    spans = []
    for c in header:
        parts = c.split("_")
        if len(parts) == 3 and parts[2] == "brier" and parts[0].isdigit() and parts[1].isdigit():
            spans.append((int(parts[0]), c))
    if len(spans) != 3 or min(spans)[0] != 0:
        raise JaxlawsError(f"{where}: expected three question-group columns <lo>_<hi>_brier starting at 0, got {[c for _, c in spans]}")
    return min(spans)[1], max(spans)[1]


def _easy_question() -> Dataset:
    x, y, groups, splits = [], [], [], []
    for g, thr in _EASY_QUESTION_THRESHOLDS.items():
        fname = f"easy_question_{g}.csv.gz"
        header, rows = _read_csv(_DATA / fname)
        where = f"bundled {fname}"
        easy, hard = _question_groups(header, where)
        for name in ("Model", "acc", "FLOPs (1E21)"):
            if name not in header:
                raise JaxlawsError(f"unknown column {name!r} in {where}; columns are {header}")
        iname, iacc, iflops, ieasy, ihard = (header.index(c) for c in ("Model", "acc", "FLOPs (1E21)", easy, hard))
        if any(len(r) != len(header) for r in rows):
            bad = next(i for i, r in enumerate(rows) if len(r) != len(header))
            raise JaxlawsError(f"{where} row {bad + 2} has {len(rows[bad])} fields, expected {len(header)}")
        # ExpEmergence fit_cluster.py: drop the filtered models, then rows with no accuracy, no score
        # in either fitted question group (easy, hard) or no compute.
        keep = [r for r in rows if r[iname] not in _EASY_QUESTION_DROPPED_MODELS
                and all(r[i].strip() for i in (iacc, ieasy, ihard, iflops))]
        flops = _column(header, keep, "FLOPs (1E21)", where)
        if np.any(flops <= 0):
            raise JaxlawsError(f"{where}: 'FLOPs (1E21)' must be positive")
        lf = np.log10(flops)
        x.append(lf)
        y.append(-_column(header, keep, easy, where))  # SLDBench's brier_score: the negated TC Brier score
        groups += [g] * len(keep)
        splits.append(_split_labels(lf >= thr))
    return Dataset(
        name="easy_question",
        inputs={"log_flops": np.concatenate(x)},
        y=np.concatenate(y),
        target="brier_score",
        groups=np.array(groups),
        splits=np.concatenate(splits),
        provenance=_provenance("easy_question_SOURCE.md"),
    )


_LOADERS: dict[str, tuple[Callable[[], Dataset], str]] = {
    "chinchilla": (lambda: _chinchilla(0), "Hoffmann et al. Fig. 4 points as read by Epoch AI (245 rows; N, D = C/(6N), C -> loss)"),
    "chinchilla_epoch": (lambda: _chinchilla(5), "the 240 rows of Epoch AI's headline fit (5 highest-loss rows dropped)"),
    "routing_curves": (_routing_curves, "Clark et al. routed LMs, every 10,000-step checkpoint of 223 runs (5568 rows; "
                       "N, N_total, E, k, step, D, C = 6ND, C_fwd -> loss_validation; runs; Dense/Hash/S-Base/RL-R)"),
    "moe": (_moe, "Clark et al. routed LMs at step 249000 (221 rows; E, N -> loss_validation; test = largest N, 28 rows)"),
    "data_constrained": (_data_constrained, "Muennighoff-style data-constrained runs (182 rows; N, D, U -> loss; 161 train / 21 test)"),
    "vocab": (_vocab, "vocabulary scaling (1200 rows; N, V, D, C, embed_dim -> Lossu; test = vocab 96256, 120 rows)"),
    "sft": (_sft, "fine-tuning loss vs SFT data size, 42 groups dataset/model (546 rows; D -> loss; 504 train / 42 test = D 819200)"),
    "domain_mixture": (_domain_mixture, "5-domain mixture losses, 4 model-size groups (104 rows; r1..r5 -> 5 losses; 80 train / 24 test)"),
    "lr_bsz": (_lr_bsz, "LR/batch-size sweeps, smooth loss <= 4 (1847 rows; eta, b, D, N -> loss; test = largest N and D, 117 rows)"),
    "parallel": (_parallel, "ParScale losses vs parameters and parallel streams, 2 corpus groups (48 rows; N, P -> loss; 36 train / 12 test = P 8)"),
    "easy_question": (_easy_question, "U-shaped scaling, easiest third of questions, 9 benchmark groups (516 rows; log_flops -> brier_score; 389 train / 127 test)"),
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


def default_inputs(columns: Any, y: str | Any = "loss", group: str | None = None,
                   split: str | None = None, run: str | None = None) -> dict[str, str]:
    """The column mapping used when none is given: every column but the target(s), ``group``,
    ``split`` and ``run``, as a law input of its own name (``from_csv`` and :func:`coerce` both use it)."""
    skip = {group, split, run, *([y] if isinstance(y, str) else y)}
    return {str(c): str(c) for c in columns if str(c) not in skip}


def _table_columns(obj: Any) -> dict[str, Any] | None:
    """Column name -> values of a DataFrame-like object (``.columns`` and ``.to_numpy``: pandas,
    polars, ...) or a mapping; None for anything else. pandas is never imported."""
    if hasattr(obj, "columns") and hasattr(obj, "to_numpy"):
        return {str(c): obj[c] for c in obj.columns}
    if isinstance(obj, Mapping):
        return {str(k): v for k, v in obj.items()}
    return None


def _values(col: Any) -> np.ndarray:
    return np.asarray(col.to_numpy() if hasattr(col, "to_numpy") else col)


def coerce(
    obj: Any,
    x: Mapping[str, str] | None = None,
    y: str | list[str] | tuple[str, ...] | None = None,
    group: str | None = None,
    split: str | None = None,
    name: str | None = None,
    run: str | None = None,
) -> Dataset:
    """A :class:`Dataset` from what a user hands in where data is accepted.

    ``obj`` may be a Dataset (returned as is), a bundled dataset name, a DataFrame-like object
    (anything with ``.columns`` and ``.to_numpy``, e.g. a pandas or polars DataFrame), or a
    mapping of column name -> values (a dict of lists or arrays). For a table, the columns are
    chosen as :func:`from_csv` chooses them:

    Args:
      x: law input name -> column name (default: every column but ``y``, ``group`` and
        ``split``, under its own name).
      y: the target column (default ``"loss"``), or a list of columns for a law with several
        outputs (``[n, k]``).
      group, split: optional columns of group labels and train/test labels.
      name: the dataset's name (default ``"dataframe"`` or ``"mapping"``).
      run: optional column of training-run labels (checkpoints of one run share a label).
    """
    if isinstance(obj, Dataset) or isinstance(obj, str):
        if any(v is not None for v in (x, y, group, split, run)):
            raise JaxlawsError("x=, y=, group=, split= and run= choose columns of a table; a Dataset has its columns already")
        return obj if isinstance(obj, Dataset) else load(obj)
    cols = _table_columns(obj)
    if cols is None:
        raise JaxlawsError("data must be a jl.datasets.Dataset, a bundled dataset name, a DataFrame or a mapping of "
                           f"column name -> values, got {type(obj).__name__}")
    where = name or ("dataframe" if hasattr(obj, "columns") else "mapping")
    y = "loss" if y is None else y
    targets = [y] if isinstance(y, str) else list(y)

    def pick(col: str, role: str) -> Any:
        if col not in cols:
            hint = "y=COLUMN" if role == "target" else "x={INPUT: COLUMN}" if role == "input" else f"{role}=COLUMN"
            raise JaxlawsError(f"{where} has no {role} column {col!r} (columns: {list(cols)}); "
                               f"name it with jl.datasets.coerce(data, {hint})")
        return cols[col]

    def numbers(col: str, role: str) -> np.ndarray:
        v = _values(pick(col, role))
        try:
            return np.asarray(v, np.float64)
        except (TypeError, ValueError):
            first = v.flat[0] if v.size else None
            raise JaxlawsError(f"{where}: {role} column {col!r} is not numeric (first value {first!r}); "
                               "choose the input columns with jl.datasets.coerce(data, x={INPUT: COLUMN})") from None

    if x is None:
        x = default_inputs(cols, targets, group, split, run)
    inputs = {k: numbers(c, "input") for k, c in x.items()}
    ys = [numbers(c, "target") for c in targets]
    if len({v.shape for v in ys}) > 1:
        raise JaxlawsError(f"{where}: target columns {targets} differ in length")
    return Dataset(
        name=where,
        inputs=inputs,
        y=ys[0] if isinstance(y, str) else np.stack(ys, axis=-1),
        target=y if isinstance(y, str) else ",".join(targets),
        groups=None if group is None else _values(pick(group, "group")),
        splits=None if split is None else _values(pick(split, "split")),
        runs=None if run is None else _values(pick(run, "run")),
        provenance=f"from a {type(obj).__name__}",
    )


def from_arrays(x: Mapping[str, Any], y: Any, name: str = "arrays", **kw: Any) -> Dataset:
    """A dataset from input arrays ``x`` (name -> ``[n]``) and target ``y``."""
    return Dataset(name=name, inputs=dict(x), y=y, **kw)


def from_csv(
    path: str | os.PathLike[str],
    x: Mapping[str, str] | None = None,
    y: str = "loss",
    group: str | None = None,
    split: str | None = None,
    units: Mapping[str, str] | None = None,
    run: str | None = None,
) -> Dataset:
    """A dataset from a CSV with a header row.

    Args:
      path: the file: UTF-8 (a byte-order mark is fine), comma-, semicolon-, tab- or
        bar-separated (read from the header line; ``.tsv`` is tab), optionally gzipped
        (``.gz``); quoted fields may hold delimiters and ``#``.
      x: law input name -> column name (default: every numeric column but ``y``, ``group``,
        ``split`` and ``run``, under its own name; columns with no number in them, such as
        labels, are kept as extra columns, ``Dataset.column(name)``).
      y: target column.
      group, split: optional columns of group labels and train/test labels.
      units: input or target name -> unit in words (``{"N": "parameters", "loss": "nats/token"}``),
        for axis labels.
      run: optional column of training-run labels, for training curves (each run's rows are
        its checkpoints; see :mod:`jaxlaws.datasets.curves`).
    """
    if os.path.isdir(path):
        raise JaxlawsError(f"{os.fspath(path)!r} is a directory, not a data file")
    if not os.path.isfile(path):
        raise JaxlawsError(f"no such data file: {os.fspath(path)!r}")
    header, rows = _read_user_csv(path)
    where = os.path.basename(os.fspath(path))
    if not rows:
        raise JaxlawsError(f"{where} has a header but no rows")
    text = set()
    if x is None:
        text = {c for j, c in enumerate(header) if _is_text(rows, j)}
        x = {k: c for k, c in default_inputs(header, y, group, split, run).items() if c not in text}
    inputs = {k: _column(header, rows, c, where) for k, c in x.items()}
    extra = {c: np.array([r[header.index(c)] for r in rows]) for c in text if c not in (group, split, run)}

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
        runs=labels(run),
        provenance=f"read from {os.fspath(path)}",
        units=dict(units or {}),
        extra=extra,
    )


__all__ = ["Dataset", "curves", "load", "names", "describe", "from_csv", "from_arrays", "coerce", "default_inputs"]
