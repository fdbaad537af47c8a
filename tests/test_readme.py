"""The README's Python code blocks run as written, in order, in one namespace."""

import pathlib
import re
import warnings

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_python_blocks():
    assert len(BLOCKS) >= 3


@pytest.mark.filterwarnings("ignore::jaxlaws.JaxlawsWarning")
def test_readme_blocks_run_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # anything a block writes lands here
    ns: dict = {}
    for i, block in enumerate(BLOCKS):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                exec(compile(block, f"README.md python block {i + 1}", "exec"), ns)  # noqa: S102 (our own README)
            except Exception as e:  # noqa: BLE001 - report which block failed, then fail
                pytest.fail(f"README python block {i + 1} failed: {type(e).__name__}: {e}\n{block}")
