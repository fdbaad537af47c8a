"""Every notebook in notebooks/ runs from a clean checkout and draws at least one figure.

No jupyter: the notebook's JSON is parsed and its code cells are executed in order in one
namespace, with the notebooks folder as the working directory, matplotlib's Agg backend, and
``JAXLAWS_NOTEBOOK_SMALL=1`` in the environment (notebooks read it to shrink their sizes).
"""

from __future__ import annotations

import json
import pathlib
import time
import warnings

import pytest

NOTEBOOKS = pathlib.Path(__file__).resolve().parent.parent / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
SECONDS = 120  # a guard against runaway sizes: each takes ~10-40 s on the 2-core CPU with SMALL


def code_cells(path: pathlib.Path) -> list[str]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nb.get("nbformat") == 4, f"{path.name}: not an nbformat 4 notebook"
    cells = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        src = cell["source"]
        src = "".join(src) if isinstance(src, list) else src
        assert not any(line.lstrip().startswith(("%", "!")) for line in src.splitlines()), (
            f"{path.name}: IPython magics and shell escapes do not run outside jupyter")
        cells.append(src)
    return cells


def test_notebooks_are_found():
    assert PATHS, f"no notebooks in {NOTEBOOKS}"


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_notebook_runs(path, monkeypatch):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.chdir(path.parent)
    monkeypatch.setenv("JAXLAWS_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    plt.close("all")
    ns = {"__name__": "__main__"}
    t = time.perf_counter()
    try:
        with warnings.catch_warnings(), matplotlib.rc_context():
            for i, src in enumerate(code_cells(path)):
                exec(compile(src, f"{path.name}[cell {i}]", "exec"), ns)
        n_figures = len(plt.get_fignums())
    finally:
        plt.close("all")
    elapsed = time.perf_counter() - t
    assert n_figures >= 1, f"{path.name} drew no figure"
    assert elapsed < SECONDS, f"{path.name} took {elapsed:.0f} s (budget {SECONDS} s)"
