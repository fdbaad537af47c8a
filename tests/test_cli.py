"""The jaxlaws command: JSON contract, exit status 2 with one line for bad input."""

import json
import subprocess
import sys

import pytest

from jaxlaws.cli import main


def test_fit_json_contract(tmp_path, capsys):
    out = tmp_path / "out.json"
    rc = main(["fit", "--data", "chinchilla_epoch", "--law", "chinchilla", "--loss", "huber-log:1e-3",
               "--starts", "64", "--bootstrap", "50", "--ci", "0.9", "--json", str(out)])
    assert rc == 0
    rep = json.loads(out.read_text())
    for key in ("law", "params", "objective", "n_points", "n_starts", "n_converged", "timing", "device", "bootstrap"):
        assert key in rep
    assert set(rep["params"]) == {"E", "A", "B", "alpha", "beta"}
    assert rep["n_points"] == 240 and rep["n_starts"] == 64
    assert set(rep["timing"]) >= {"compile_s", "run_s"}
    bs = rep["bootstrap"]
    assert bs["n"] == 50 and bs["level"] == 0.9 and set(bs) >= {"n_failed", "se", "ci"}
    for k, (lo, hi) in bs["ci"].items():
        assert lo <= hi, k


def test_csv_input(tmp_path, capsys):
    import numpy as np

    x = np.logspace(1, 4, 30)
    y = 3.0 * x**-0.4
    p = tmp_path / "d.csv"
    p.write_text("size,err\n" + "\n".join(f"{float(a)!r},{float(b)!r}" for a, b in zip(x, y)))
    out = tmp_path / "o.json"
    assert main(["fit", "--data", str(p), "--law", "power_law", "--x", "x=size", "--y", "err",
                 "--loss", "mse-log", "--starts", "16", "--json", str(out)]) == 0
    rep = json.loads(out.read_text())
    # Noise-free data: recovered to the solver tolerance (ftol 1e-10 relative on a ~0 objective).
    assert abs(rep["params"]["alpha"] - 0.4) < 1e-6


@pytest.mark.parametrize(
    "argv, message",
    [
        (["fit", "--data", "nope", "--law", "chinchilla"], "unknown dataset"),
        (["fit", "--data", "chinchilla_epoch", "--law", "nope"], "unknown law"),
        (["fit", "--data", "chinchilla_epoch", "--law", "chinchilla", "--loss", "huber-log"], "malformed loss"),
        (["fit", "--data", "chinchilla_epoch", "--law", "chinchilla", "--starts", "many"], "--starts"),
        (["fit", "--data", "chinchilla_epoch", "--law", "chinchilla", "--bootstrap", "1"], "--bootstrap"),
        (["fit", "--data", "chinchilla_epoch", "--law", "chinchilla", "--bootstrap", "10", "--ci", "1.5"], "--ci"),
        (["fit", "--data", "chinchilla_epoch", "--law", "power_law"], "lacks inputs"),
        (["fit", "--data", "/no/such/file.csv", "--law", "power_law"], "no such data file"),
        (["fit", "--law", "chinchilla"], "required"),
    ],
)
def test_bad_input_exit_2_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) if argv == ["fit", "--law", "chinchilla"] else _nullcontext():
        rc = main(argv)
        assert rc == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def test_console_entry_point_no_traceback():
    p = subprocess.run([sys.executable, "-m", "jaxlaws", "fit", "--data", "chinchilla_epoch", "--law", "chinchilla",
                        "--loss", "l2"], capture_output=True, text=True)
    assert p.returncode == 2
    assert p.stderr.strip().startswith("jaxlaws: error: malformed loss spec")
    assert "Traceback" not in p.stderr


def test_listings(capsys):
    assert main(["laws"]) == 0
    out = capsys.readouterr().out
    assert "chinchilla" in out and "kaplan_n" in out
    assert main(["datasets"]) == 0
    assert "chinchilla_epoch" in capsys.readouterr().out
