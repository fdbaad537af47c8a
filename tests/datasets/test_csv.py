"""from_csv on the files users have: byte-order marks, semicolons and tabs, padded headers, quoted
fields, label columns; refused clearly: duplicated headers, ragged rows, directories."""

import gzip

import numpy as np
import pytest

import jaxlaws as jl

ROWS = [(1e8, 2e9, 3.1), (2e8, 4e9, 2.9), (4e8, 8e9, 2.7)]


def _write(tmp_path, text, name="runs.csv", encoding="utf-8"):
    p = tmp_path / name
    if name.endswith(".gz"):
        with gzip.open(p, "wt", encoding=encoding) as f:
            f.write(text)
    else:
        p.write_text(text, encoding=encoding)
    return p


def _lines(delim=",", header=("params", "tokens", "loss")):
    return "\n".join([delim.join(header)] + [delim.join(f"{v:g}" for v in r) for r in ROWS]) + "\n"


@pytest.mark.parametrize("name, text, encoding", [
    ("bom.csv", _lines(), "utf-8-sig"),
    ("semicolons.csv", _lines(";"), "utf-8"),
    ("tabs.tsv", _lines("\t"), "utf-8"),
    ("tabs_named.csv", _lines("\t"), "utf-8"),
    ("padded.csv", _lines(", ", header=(" params", "tokens ", " loss ")), "utf-8"),
    ("zipped.csv.gz", _lines(), "utf-8"),
    ("MY.CSV", _lines(), "utf-8"),
    ("blank_lines.csv", _lines() + "\n\n", "utf-8"),
])
def test_variants_read_the_same_numbers(tmp_path, name, text, encoding):
    d = jl.datasets.from_csv(_write(tmp_path, text, name, encoding), x={"N": "params", "D": "tokens"}, y="loss")
    np.testing.assert_array_equal(d.inputs["N"], [r[0] for r in ROWS])
    np.testing.assert_array_equal(d.inputs["D"], [r[1] for r in ROWS])
    np.testing.assert_array_equal(d.y, [r[2] for r in ROWS])


def test_quoted_fields_and_label_columns_are_kept_not_mapped(tmp_path):
    text = 'params,tokens,loss,colour,name\n' + "\n".join(
        f'{n:g},{t:g},{l:g},"#faebdd","run, {i}"' for i, (n, t, l) in enumerate(ROWS)) + "\n"
    d = jl.datasets.from_csv(_write(tmp_path, text))
    assert sorted(d.inputs) == ["params", "tokens"]  # the label columns are not inputs ...
    assert list(d.column("colour")) == ["#faebdd"] * 3  # ... but kept, with '#' inside a field
    assert list(d.column("name")) == ["run, 0", "run, 1", "run, 2"]


@pytest.mark.parametrize("text, match", [
    ("params,loss,loss\n1,2,3\n", r"column 'loss' appears twice in the header \(columns 2 and 3\)"),
    ("params,,loss\n1,2,3\n", "column 2 of the header has no name"),
    ("params,tokens,loss\n1,2,3\n4,5,6,7\n", r"row 3 has 4 fields, the header has 3"),
    ("params,tokens,loss\n1,2\n", r"row 2 has 2 fields, the header has 3"),
    ("params,tokens,loss\n1,x,3\n", r"row 2, column 'tokens': 'x' is not a number"),
    ("params,tokens,loss\n", "has a header but no rows"),
    ("\n", "is empty"),
])
def test_malformed_files_are_refused_with_the_cause(tmp_path, text, match):
    with pytest.raises(jl.JaxlawsError, match=match):
        jl.datasets.from_csv(_write(tmp_path, text), x={"N": "params", "D": "tokens"}, y="loss")


def test_a_directory_is_not_a_data_file(tmp_path):
    with pytest.raises(jl.JaxlawsError, match="is a directory, not a data file"):
        jl.datasets.from_csv(tmp_path)
