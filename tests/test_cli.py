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


def test_grouped_data_are_fitted_per_group_by_default(tmp_path, capsys):
    # sft has 42 groups (one learning curve each): one curve through all of them is not what a
    # user wants; the command fits every group separately and says so.
    out = tmp_path / "g.json"
    assert main(["fit", "--data", "sft", "--law", "sft_rectified", "--loss", "mse", "--starts", "16",
                 "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "42 groups of 'sft' fitted separately" in text
    rep = json.loads(out.read_text())
    assert rep["per_group"] is True and rep["n_groups"] == 42 and len(rep["groups"]) == 42
    assert sum(rep["status_counts"].values()) == 42
    assert all(set(g) >= {"group", "params", "objective", "status"} for g in rep["groups"])


@pytest.mark.parametrize("argv, message", [
    (["--bootstrap", "10"], "--bootstrap with a per-group fit is not supported"),
    (["--plot", "x.png"], "--plot draws one fit"),
])
def test_grouped_data_refusals_are_one_line(argv, message, capsys):
    rc = main(["fit", "--data", "sft", "--law", "sft_rectified", "--loss", "mse", *argv])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and message in err and len(err.splitlines()) == 1


def test_per_group_needs_groups(capsys):
    rc = main(["fit", "--data", "chinchilla_epoch", "--law", "chinchilla", "--per-group"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "--per-group needs data with groups" in err


def test_fit_prints_the_report_and_the_json_carries_the_verdict(tmp_path, capsys):
    out = tmp_path / "o.json"
    assert main(["fit", "--data", "chinchilla_epoch", "--law", "chinchilla", "--starts", "64", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    rep = json.loads(out.read_text())
    for key in ("status_counts", "warnings", "se", "aic", "bic", "loglik", "best_status"):
        assert key in rep
    assert sum(rep["status_counts"].values()) == 64
    for w in rep["warnings"]:
        assert f"WARNING: {w}" in text  # every warning printed
    assert set(rep["se"]) == {"E", "A", "B", "alpha", "beta"}


def test_json_is_strict_when_standard_errors_are_undetermined(tmp_path, capsys):
    # One model size: E, A and alpha cannot be told apart and their standard errors are infinite.
    # JSON has no inf or NaN: they are written as null, and the file parses strictly.
    import numpy as np

    law = __import__("jaxlaws").laws.get("chinchilla")
    D = np.logspace(9.5, 12, 60)
    y = np.asarray(law.predict({"E": 1.8, "A": 480.0, "B": 2100.0, "alpha": 0.35, "beta": 0.37}, N=np.full(60, 1e9), D=D))
    p = tmp_path / "one_n.csv"
    p.write_text("N,D,loss\n" + "\n".join(f"1e9,{float(d)!r},{float(v)!r}" for d, v in zip(D, y)))
    out = tmp_path / "o.json"
    assert main(["fit", "--data", str(p), "--law", "chinchilla", "--starts", "16", "--json", str(out)]) == 0

    def refuse(c):
        raise AssertionError(f"non-standard JSON constant {c}")

    rep = json.loads(out.read_text(), parse_constant=refuse)
    assert None in rep["se"].values() and rep["warnings"]
