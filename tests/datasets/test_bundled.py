"""Bundled scaling-law benchmark datasets (moe, data_constrained, vocab, sft, domain_mixture, lr_bsz, parallel,
easy_question).

Counts and splits are the ones SLDBench / EvoSLD v1 score on. They are checked against the rules, and where possible
against the bundled raw files read independently with the csv/json/gzip modules.
"""

from __future__ import annotations

import csv
import functools
import gzip
import hashlib
import json
import shutil
from collections import Counter
from importlib import resources

import numpy as np
import pytest

import jaxlaws as jl
from jaxlaws.errors import JaxlawsError

DATA = resources.files("jaxlaws.datasets") / "data"
SLD = "https://github.com/linhaowei1/SLD"
SLD_COMMIT = "61c9d591b6b11364f27362fd817fcd086d0b0cfd"
DEEPMIND = "https://github.com/google-deepmind/scaling_laws_for_routing"
PARSCALE = "https://github.com/QwenLM/ParScale"
EXPEMERGENCE = "https://github.com/tony10101105/ExpEmergence"
EASY_QUESTION_GROUPS = {  # benchmark -> (emergence threshold in log10(FLOPs / 1e21), train rows, test rows)
    "mmlu": (1.5, 32, 27),
    "parsinlu_qa_mc": (2.3, 54, 3),
    "arithmetic": (1.8, 44, 14),
    "hindu_knowledge": (1.0, 19, 38),
    "analogical_similarity": (2.0, 47, 10),
    "conceptual_combinations": (1.5, 31, 26),
    "hellaswag": (2.3, 54, 3),
    "arc": (2.3, 54, 3),
    "abstract_narrative_understanding": (2.3, 54, 3),
}

# name -> (rows, train, test, groups or None, y trailing shape, inputs, target)
EXPECTED = {
    "moe": (221, 193, 28, None, (), {"E", "N"}, "loss_validation"),
    "data_constrained": (182, 161, 21, None, (), {"N", "D", "U"}, "loss"),
    "vocab": (1200, 1080, 120, None, (), {"N", "V", "D", "C", "embed_dim"}, "Lossu"),
    "sft": (546, 504, 42, 42, (), {"D"}, "loss"),
    "domain_mixture": (104, 80, 24, 4, (5,), {"r1", "r2", "r3", "r4", "r5"}, "loss"),
    "lr_bsz": (1847, 1730, 117, None, (), {"eta", "b", "D", "N"}, "smooth loss"),
    "parallel": (48, 36, 12, 2, (), {"N", "P"}, "loss"),
    "easy_question": (516, 389, 127, 9, (), {"log_flops"}, "brier_score"),
}
# name -> (bundled data files, repository its provenance must name)
FILES = {
    "moe": (["moe_curves_step249000.csv"], DEEPMIND),
    "data_constrained": (["data_constrained_data.csv"], SLD),
    "vocab": (["vocab_data.csv.gz"], SLD),
    "sft": (["sft_flan.csv", "sft_gigaword.csv", "sft_wikiword.csv"], SLD),
    "domain_mixture": (["domain_mixture_all_models_data.json"], SLD),
    "lr_bsz": (["lr_bsz_dense_lr_bs_loss.csv.gz"], SLD),
    "parallel": (["parallel_parscale_losses.csv"], PARSCALE),
    "easy_question": ([f"easy_question_{g}.csv.gz" for g in EASY_QUESTION_GROUPS], EXPEMERGENCE),
}


@functools.lru_cache(maxsize=None)
def _load(name: str) -> jl.datasets.Dataset:
    return jl.datasets.load(name)


def _raw_rows(fname: str) -> list[dict[str, str]]:
    path = DATA / fname
    opener = gzip.open if fname.endswith(".gz") else open
    with opener(path, "rt", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _counts(ds) -> tuple[int, int]:
    c = Counter(ds.splits.tolist())
    return c["train"], c["test"]


# ---------------------------------------------------------------- registry


def test_registered_with_one_line_descriptions():
    d = jl.datasets.describe()
    for name in EXPECTED:
        assert name in jl.datasets.names()
        assert d[name] and "\n" not in d[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_counts_splits_groups_shape(name):
    n, n_train, n_test, n_groups, tail, inputs, target = EXPECTED[name]
    ds = _load(name)
    assert ds.name == name
    assert ds.n_points == n
    assert ds.y.shape == (n, *tail)
    assert set(ds.inputs) == inputs
    assert ds.target == target
    assert ds.splits is not None and set(ds.splits.tolist()) == {"train", "test"}
    assert _counts(ds) == (n_train, n_test)
    assert len(ds.split("train")) == n_train and len(ds.split("test")) == n_test
    if n_groups is None:
        assert ds.groups is None
    else:
        assert len(set(ds.groups.tolist())) == n_groups


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_inputs_finite_and_physical(name):
    ds = _load(name)
    assert np.all(np.isfinite(ds.y))
    for k, v in ds.inputs.items():
        assert np.all(np.isfinite(v)), k
        if name == "domain_mixture":  # proportions: a domain may be left out of a mixture
            assert np.all(v >= 0) and np.all(v <= 1), k
        elif name == "easy_question":  # log10(FLOPs / 1e21): the smallest models are below 1e21 FLOPs
            assert np.all((v > -1) & (v < 3)), k
        else:
            assert np.all(v > 0), k


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_provenance_names_repository_and_file_hashes(name):
    ds = _load(name)
    files, repo = FILES[name]
    assert ds.provenance.strip()
    assert repo in ds.provenance
    if repo == SLD:
        assert SLD_COMMIT in ds.provenance
    for fname in files:  # each bundled file's sha256 is recorded in its provenance
        digest = hashlib.sha256((DATA / fname).read_bytes()).hexdigest()
        assert digest in ds.provenance, fname


# ---------------------------------------------------------------- per dataset


def test_moe_rows_and_split():
    ds = _load("moe")
    raw = _raw_rows("moe_curves_step249000.csv")
    assert {r["step"] for r in raw} == {"249000"}
    assert len({r["hyper_id"] for r in raw}) == 221
    N, E = ds.inputs["N"], ds.inputs["E"]
    test = ds.splits == "test"
    assert np.all(N[test] == 1_308_819_456) and np.all(N[~test] < 1_308_819_456)
    assert set(np.unique(E).tolist()) == {1, 2, 4, 8, 16, 32, 64, 128, 256, 512}
    np.testing.assert_array_equal(ds.y, [float(r["loss_validation"]) for r in raw])
    np.testing.assert_array_equal(N, [float(r["dense_parameter_count"]) for r in raw])
    np.testing.assert_array_equal(E, [float(r["num_experts"]) for r in raw])


def test_data_constrained_columns_swapped():
    ds = _load("data_constrained")
    raw = _raw_rows("data_constrained_data.csv")
    D, U, N = ds.inputs["D"], ds.inputs["U"], ds.inputs["N"]
    # the file's 'unique_tokens' holds D (total) and 'tokens' holds U (unique)
    np.testing.assert_array_equal(D, [float(r["unique_tokens"]) for r in raw])
    np.testing.assert_array_equal(U, [float(r["tokens"]) for r in raw])
    assert np.all(D >= U) and np.any(D > U)
    # run id {N}{D}{U}: 8b7178b13b = 8.7B params, 178B tokens, 13B unique
    i = [r["id"] for r in raw].index("8b7178b13b")
    assert (N[i], D[i], U[i]) == (8.67e9, 178e9, 13e9)
    test = ds.splits == "test"
    expect = (D >= np.unique(D)[-2]) | (N >= np.unique(N)[-2])
    np.testing.assert_array_equal(test, expect)
    assert np.unique(D)[-2] == 6e11 and np.unique(N)[-2] == 4.2465e9


def test_vocab_split_is_largest_vocab():
    ds = _load("vocab")
    V = ds.inputs["V"]
    test = ds.splits == "test"
    assert np.all(V[test] == 96256) and np.all(V[~test] < 96256)
    assert len(np.unique(V)) == 10
    assert np.all(ds.y < 0)  # unigram-normalised loss, negative throughout (documented)
    raw = _raw_rows("vocab_data.csv.gz")
    np.testing.assert_array_equal(ds.inputs["N"], [float(r["Non_vocab_parameters"]) for r in raw])
    np.testing.assert_array_equal(ds.inputs["D"], [float(r["num_characters"]) for r in raw])
    np.testing.assert_array_equal(ds.inputs["C"], [float(r["FLOPs"]) for r in raw])


def test_sft_groups_and_sizes():
    ds = _load("sft")
    D = ds.inputs["D"]
    assert not np.any(D == 0)  # the size-0 column is not used
    assert np.all(D[ds.splits == "test"] == 819200)
    assert np.all(D[ds.splits == "train"] <= 409600)
    train_sizes = [200 * 2**k for k in range(12)]
    for g in np.unique(ds.groups):
        m = ds.groups == g
        task, model = str(g).split("/", 1)
        assert task in {"flan", "gigaword", "wikiword"} and model
        assert sorted(D[m & (ds.splits == "train")].tolist()) == train_sizes
        assert D[m & (ds.splits == "test")].tolist() == [819200]
    assert Counter(str(g).split("/", 1)[0] for g in np.unique(ds.groups)) == {"flan": 14, "gigaword": 14, "wikiword": 14}
    raw = {r["model"]: r for r in _raw_rows("sft_flan.csv")}
    m = (ds.groups == "flan/gpt2") & (D == 819200)
    assert ds.y[m].tolist() == [float(raw["gpt2"]["819200"])]
    m = (ds.groups == "flan/gpt2") & (D == 200)
    assert ds.y[m].tolist() == [float(raw["gpt2"]["200"])]


def test_domain_mixture_groups_and_json_splits():
    ds = _load("domain_mixture")
    assert set(ds.groups.tolist()) == {"70M", "160M", "305M", "410M"}  # 1B is empty
    for g in ("70M", "160M", "305M", "410M"):
        m = ds.groups == g
        assert (m & (ds.splits == "train")).sum() == 20 and (m & (ds.splits == "test")).sum() == 6
    R = np.stack([ds.inputs[f"r{k}"] for k in range(1, 6)], axis=1)
    np.testing.assert_allclose(R.sum(axis=1), 1.0, atol=1e-12)
    raw = json.loads((DATA / "domain_mixture_all_models_data.json").read_text())
    assert raw["1B"] == {"train": [], "eval": []}
    first_eval = raw["70M"]["eval"][0]
    i = np.flatnonzero((ds.groups == "70M") & (ds.splits == "test"))[0]
    assert R[i].tolist() == first_eval["proportions"]
    assert ds.y[i].tolist() == first_eval["loss"]


def test_lr_bsz_filter_and_d_correction():
    ds = _load("lr_bsz")
    D, N = ds.inputs["D"], ds.inputs["N"]
    assert not np.any(D == 1e13) and D.max() == 1e11
    assert np.all(ds.y <= 4.0)
    test = ds.splits == "test"
    assert np.all(D[test] == 1e11) and np.all(N[test] == 1_073_741_824)
    assert not np.any((D[~test] == 1e11) & (N[~test] == 1_073_741_824))
    # the 117 test rows are exactly the rows stored with D = 1e13 (empty raw loss)
    raw = [r for r in _raw_rows("lr_bsz_dense_lr_bs_loss.csv.gz") if float(r["smooth loss"]) <= 4.0]
    assert len(raw) == 1847
    stored = np.array([float(r["D"]) for r in raw])
    np.testing.assert_array_equal(test, stored == 1e13)
    np.testing.assert_array_equal(D[~test], stored[~test])
    np.testing.assert_array_equal(ds.inputs["eta"], [float(r["lr"]) for r in raw])
    np.testing.assert_array_equal(ds.inputs["b"], [float(r["bs"]) for r in raw])


def test_parallel_groups_and_split():
    ds = _load("parallel")
    raw = _raw_rows("parallel_parscale_losses.csv")
    N, P = ds.inputs["N"], ds.inputs["P"]
    np.testing.assert_array_equal(ds.y, [float(r["loss"]) for r in raw])
    np.testing.assert_array_equal(N, [float(r["num_params"]) for r in raw])
    np.testing.assert_array_equal(ds.groups, [r["group"] for r in raw])
    test = ds.splits == "test"
    np.testing.assert_array_equal(test, P == 8)
    for g in ("stack", "pile"):
        m = ds.groups == g
        assert (m & ~test).sum() == 18 and (m & test).sum() == 6
        assert sorted(set(P[m & ~test].tolist())) == [1, 2, 4]
        for p in (1, 2, 4, 8):  # 6 sizes per P, N growing with size
            assert np.all(np.diff(N[m & (P == p)]) > 0)
    # the P extra prefixes add parameters: at each size N grows with P
    Ns = N[ds.groups == "stack"].reshape(4, 6)
    assert np.all(np.diff(Ns, axis=0) > 0) and Ns[0, 0] == 535_813_376 and Ns[3, 0] == 545_340_552
    assert np.all(ds.y[ds.groups == "pile"] > ds.y[ds.groups == "stack"])  # Pile is the harder corpus


EASY_QUESTION_DROPPED = {"microsoft/phi-1_5", "microsoft/phi-2", "Qwen/Qwen1.5-0.5B", "Qwen/Qwen1.5-1.8B",
                         "Qwen/Qwen1.5-4B", "stabilityai/stablelm-2-1_6b"}


def test_easy_question_rule_reread_from_the_raw_files():
    ds = _load("easy_question")
    assert list(dict.fromkeys(ds.groups.tolist())) == list(EASY_QUESTION_GROUPS)
    for g, (thr, n_train, n_test) in EASY_QUESTION_GROUPS.items():
        raw = _raw_rows(f"easy_question_{g}.csv.gz")
        assert len(raw) == 114 and EASY_QUESTION_DROPPED <= {r["Model"] for r in raw}
        qcols = [c for c in raw[0] if c.endswith("_brier") and c[0].isdigit()]
        easy, hard = qcols[0], qcols[-1]
        assert len(qcols) == 3 and easy.startswith("0_")
        keep = [r for r in raw if r["Model"] not in EASY_QUESTION_DROPPED
                and r["acc"] and r[easy] and r[hard] and r["FLOPs (1E21)"]]
        m = ds.groups == g
        lf = np.log10([float(r["FLOPs (1E21)"]) for r in keep])
        np.testing.assert_array_equal(ds.inputs["log_flops"][m], lf)
        np.testing.assert_array_equal(ds.y[m], [-float(r[easy]) for r in keep])
        np.testing.assert_array_equal(ds.splits[m] == "test", lf >= thr)
        assert np.min(np.abs(lf - thr)) > 5e-4  # no model sits on its threshold
        assert ((ds.splits[m] == "train").sum(), (ds.splits[m] == "test").sum()) == (n_train, n_test)
    assert np.all(ds.y < 0) and np.all(ds.y > -1)  # minus a Brier score in (0, 1)


# ---------------------------------------------------------------- bad input


def _one_line_error(excinfo) -> str:
    msg = str(excinfo.value)
    assert msg and "\n" not in msg
    return msg


def test_unknown_name_lists_bundled_datasets():
    with pytest.raises(JaxlawsError) as e:
        jl.datasets.load("mo")
    msg = _one_line_error(e)
    assert all(name in msg for name in EXPECTED)


@pytest.fixture
def fake_data(tmp_path, monkeypatch):
    """A copy of the bundled data directory that loaders read instead."""
    for entry in DATA.iterdir():
        shutil.copyfile(entry, tmp_path / entry.name)
    monkeypatch.setattr(jl.datasets, "_DATA", tmp_path)
    return tmp_path


def test_fake_data_fixture_loads_unchanged_copy(fake_data):
    assert _counts(jl.datasets.load("lr_bsz")) == (1730, 117)


def test_corrupt_gzip_is_jaxlaws_error(fake_data):
    blob = (fake_data / "lr_bsz_dense_lr_bs_loss.csv.gz").read_bytes()
    (fake_data / "lr_bsz_dense_lr_bs_loss.csv.gz").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(JaxlawsError) as e:
        jl.datasets.load("lr_bsz")
    assert "lr_bsz_dense_lr_bs_loss.csv.gz" in _one_line_error(e)


def test_non_number_in_sft_is_jaxlaws_error(fake_data):
    p = fake_data / "sft_gigaword.csv"
    lines = p.read_text().splitlines()
    i = [ln.split(",")[0] for ln in lines].index("gpt2")
    cells = lines[i].split(",")
    cells[2] = "oops"  # the size-200 column (column 1, size 0, is not read)
    lines[i] = ",".join(cells)
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(JaxlawsError) as e:
        jl.datasets.load("sft")
    assert "oops" in _one_line_error(e)


def test_unswapped_token_columns_are_rejected(fake_data):
    p = fake_data / "data_constrained_data.csv"
    p.write_text(p.read_text().replace("id,params,unique_tokens,tokens,loss", "id,params,tokens,unique_tokens,loss", 1))
    with pytest.raises(JaxlawsError) as e:
        jl.datasets.load("data_constrained")
    assert "D < U" in _one_line_error(e)


@pytest.mark.parametrize(
    "text, needle",
    [("{not json", "cannot read"), ('{"70M": {"train": [{"proportions": [1, 0]}]}}', "unexpected layout"),
     ('{"70M": {"train": [{"proportions": [1, 0], "loss": [2, 3]}], "eval": []}}', "expected 5 and 5")],
)
def test_bad_domain_mixture_json_is_jaxlaws_error(fake_data, text, needle):
    (fake_data / "domain_mixture_all_models_data.json").write_text(text)
    with pytest.raises(JaxlawsError) as e:
        jl.datasets.load("domain_mixture")
    assert needle in _one_line_error(e)


def test_easy_question_without_question_groups_is_jaxlaws_error(fake_data):
    p = fake_data / "easy_question_arc.csv.gz"
    text = gzip.decompress(p.read_bytes()).decode().replace("_brier", "_score")
    p.write_bytes(gzip.compress(text.encode()))
    with pytest.raises(JaxlawsError) as e:
        jl.datasets.load("easy_question")
    assert "easy_question_arc.csv.gz" in _one_line_error(e)
