"""The jaxlaws command: JSON contract, exit status 2 with one line for bad input."""

import json
import os
import platform
import re
import subprocess
import sys

import numpy as np
import pytest

import jaxlaws as jl
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
    assert (rep["strategy"], rep["strategy_requested"], bs["strategy"]) == ("all", "all", "all")


def test_the_json_says_which_strategy_ran_and_which_was_asked_for(tmp_path, capsys):
    out = tmp_path / "o.json"
    assert main(["fit", "--data", "chinchilla_epoch", "--law", "chinchilla", "--starts", "16", "--strategy", "auto",
                 "--progress", "off", "--json", str(out)]) == 0
    rep = json.loads(out.read_text())
    # "auto" races only the law's grid: 16 sampled starts ran every lane to its end
    assert (rep["strategy"], rep["strategy_requested"]) == ("all", "auto")
    assert not {"culled_trailing", "culled_joined"} & set(rep["status_counts"])


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
                 "--json", str(out), "--report", str(tmp_path / "rep")]) == 0
    text = capsys.readouterr().out
    assert "42 groups of 'sft' fitted separately" in text
    rep = json.loads(out.read_text())
    assert rep["per_group"] is True and rep["n_groups"] == 42 and len(rep["groups"]) == 42
    assert (rep["strategy"], rep["strategy_requested"]) == ("all", "all")
    assert sum(rep["status_counts"].values()) == 42
    assert sum(rep["lane_status_counts"].values()) == 42 * 16
    assert all(set(g) >= {"group", "params", "objective", "status"} for g in rep["groups"])
    assert rep["starts"] == "16" and rep["data"]["source"] == "bundled" and rep["devices"] >= 1
    # --report: the same JSON, a summary with a row per group, and whatever figures it links
    d = tmp_path / "rep"
    assert json.loads((d / "fit.json").read_text()) == rep
    md = (d / "summary.md").read_text()
    assert md.startswith("# sft_rectified on sft, 42 groups fitted separately")
    for g in rep["groups"]:
        assert f"| {g['group']} | " in md
    assert set(re.findall(r"\]\(([^)]+\.png)\)", md)) == {p.name for p in d.glob("*.png")}


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


# ---- the command's surface: version, bare command, help ----------------------------------------
def test_version(capsys):
    import jax

    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"jaxlaws {jl.__version__} (jax {jax.__version__})"


def test_bare_command_prints_usage_and_the_commands(capsys):
    # As argparse answers a missing required argument: usage on stderr, status 2; here with the
    # whole list of commands, since there is no argument to name.
    assert main([]) == 2
    cap = capsys.readouterr()
    assert cap.out == "" and cap.err.startswith("usage: jaxlaws")
    for cmd in ("fit", "laws", "datasets", "bench"):
        assert f"\n    {cmd} " in cap.err, cmd
    assert "Traceback" not in cap.err
    p = subprocess.run([sys.executable, "-m", "jaxlaws"], capture_output=True, text=True)
    assert p.returncode == 2 and p.stderr == cap.err


@pytest.mark.parametrize("cmd", ["fit", "laws", "datasets", "bench"])
def test_every_subcommand_help_has_defaults_and_an_example(cmd, capsys):
    with pytest.raises(SystemExit) as e:
        main([cmd, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: jaxlaws {cmd}")
    assert "\nexample" in out and f"\n  jaxlaws {cmd}" in out
    if cmd == "fit":
        # one entry per option, its wrapped lines joined
        entries = {e.split()[0]: " ".join(e.split()) for e in re.split(r"\n  (?=-)", out.split("\noptions:\n", 1)[1])}
        for option, default in [("--loss", "huber-log:1e-3"), ("--starts", "grid"), ("--solver", "lm"),
                                ("--seed", "0"), ("--bootstrap", "0"), ("--scheme", "pairs"), ("--ci", "0.95"),
                                ("--progress", "auto"), ("--y", "loss"), ("--compute", "1e21 1e22 1e23 1e24 1e25")]:
            assert f"(default: {default})" in entries[option], option
        flat = " ".join(entries.values())
        assert "(default: None)" not in flat and "(default: [])" not in flat and "(default: True)" not in flat


# ---- outputs and optional dependencies are checked before any compute --------------------------
def _unwritable_dir(tmp_path, monkeypatch):
    """A directory in which creating a file fails with EACCES, on any machine: permission bits
    mean nothing to root, so the command's probe (tempfile.mkstemp) is made to fail there the
    way it fails on a read-only directory."""
    import tempfile

    import jaxlaws.cli as cli_mod

    ro = tmp_path / "ro"
    ro.mkdir()
    real = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kw):
        if dir is not None and os.path.abspath(dir) == str(ro):
            raise PermissionError(13, "Permission denied")
        return real(*args, dir=dir, **kw)

    monkeypatch.setattr(cli_mod.tempfile, "mkstemp", mkstemp)
    return str(ro)


@pytest.mark.parametrize("option, target, message", [
    ("--json", "{tmp}", "is a directory"),
    ("--json", "{tmp}/missing/out.json", "no such directory"),
    ("--json", "{ro}/out.json", "cannot write --json"),
    ("--plot", "{tmp}/fit.txt", "must end in .png, .pdf, .svg"),
    ("--plot", "{tmp}/fit", "must end in .png, .pdf, .svg"),
    ("--plot", "{tmp}/dir.png", "is a directory"),
    ("--plot", "{ro}/fit.png", "cannot write --plot"),
    ("--report", "{tmp}/a_file", "is a file"),
    ("--report", "{tmp}/missing/report", "no such directory"),
    ("--report", "{ro}/report", "cannot write --report"),
    ("--report", "{ro}", "cannot write --report"),
])
def test_bad_output_paths_are_refused_before_any_compute(option, target, message, tmp_path, monkeypatch, capsys):
    ro = _unwritable_dir(tmp_path, monkeypatch) if "{ro}" in target else None
    (tmp_path / "dir.png").mkdir()
    (tmp_path / "a_file").write_text("x")
    before = sorted(p.name for p in tmp_path.iterdir())
    monkeypatch.setattr(jl, "fit", _no_compute)
    monkeypatch.setattr(jl, "bootstrap", _no_compute)
    path = target.format(tmp=tmp_path, ro=ro)
    rc = main(["fit", "--data", "chinchilla_epoch", "--law", "chinchilla", "--bootstrap", "10", option, path])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and message in err and path in err, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


def _no_compute(*a, **k):
    raise AssertionError("compute started before the outputs were checked")


@pytest.mark.parametrize("option, name", [("--plot", "fit.png"), ("--report", "rep")])
def test_missing_matplotlib_is_refused_before_any_compute(option, name, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    monkeypatch.setattr(jl, "fit", _no_compute)
    rc = main(["fit", "--data", "chinchilla_epoch", "--law", "chinchilla", option, str(tmp_path / name)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err == f"jaxlaws: error: {option} needs matplotlib: pip install 'jaxlaws[plot]'"
    assert list(tmp_path.iterdir()) == []


def test_compute_budgets_need_a_law_with_an_allocation(monkeypatch, capsys):
    monkeypatch.setattr(jl, "fit", _no_compute)
    rc = main(["fit", "--data", "chinchilla_epoch", "--law", "kaplan_n", "--compute", "1e21"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "--compute: law 'kaplan_n' has no compute-optimal allocation" in err
    rc = main(["fit", "--data", "chinchilla_epoch", "--law", "chinchilla", "--compute", "-1"])
    assert rc == 2 and "compute budgets C must be positive" in capsys.readouterr().err


# ---- one fit with a bootstrap, written every way --------------------------------------------------
@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """``jaxlaws fit`` with a bootstrap, --json and --report, and its stdout and stderr."""
    import contextlib
    import io

    d = tmp_path_factory.mktemp("written")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(["fit", "--data", "chinchilla_epoch", "--law", "chinchilla", "--starts", "16", "--seed", "3",
                   "--bootstrap", "20", "--ci", "0.9", "--compute", "1e21", "5.76e23", "--json", str(d / "o.json"),
                   "--report", str(d / "report"), "--progress", "on"])
    assert rc == 0
    return {"dir": d, "json": json.loads((d / "o.json").read_text(), parse_constant=_refuse), "out": out.getvalue(),
            "err": err.getvalue()}


def _refuse(c):
    raise AssertionError(f"non-standard JSON constant {c}")


def test_json_records_versions_seed_starts_data_devices_and_wall_time(written):
    import jax

    rep = written["json"]
    assert rep["versions"] == {"jaxlaws": jl.__version__, "jax": jax.__version__, "numpy": np.__version__,
                               "python": platform.python_version()}
    assert rep["seed"] == 3 and rep["starts"] == "16" and rep["n_starts"] == 16
    assert rep["data"] == {"source": "bundled", "name": "chinchilla_epoch", "path": None,
                           "columns": {"inputs": {"N": "N", "D": "D", "C": "C"}, "y": "loss", "group": None}}
    assert rep["devices"] == jax.device_count() and rep["device_kind"] == jax.devices()[0].device_kind
    assert rep["processes"] == 1 and rep["bootstrap"]["devices"] == rep["devices"]
    assert rep["device"] == f"{rep['device_platform']}:{rep['device_kind']} x{rep['devices']}"
    assert rep["device_settings"] == {k: s.to_dict() for k, s in jl.devices.settings().items()}
    t = rep["timing"]
    assert 0 < t["run_s"] and t["compile_s"] + t["run_s"] <= t["fit_s"] <= t["wall_s"]
    # lanes by status, for the fit and for the bootstrap, and the diagnostics
    assert sum(rep["status_counts"].values()) == 16
    assert sum(rep["bootstrap"]["status_counts"].values()) >= 20
    assert set(rep["diagnostics"]) >= {"at_bound", "se", "corr", "covariance", "warnings"}


def test_json_derives_the_compute_optimal_allocation_with_intervals(written):
    rep = written["json"]
    opt = rep["derived"]["compute_optimal"]
    assert opt["C"] == [1e21, 5.76e23] and opt["level"] == 0.9
    law = jl.laws.get("chinchilla")
    at_fit = jl.analysis.optimal(law, rep["params"], opt["C"])
    for k in ("N_opt", "D_opt", "tokens_per_param"):
        q = opt[k]
        np.testing.assert_allclose(q["estimate"], at_fit[k], rtol=1e-12)
        assert len(q["se"]) == 2 and all(s > 0 for s in q["se"])
        assert all(lo <= hi for lo, hi in q["ci"])
    for k in ("a", "b"):  # the exponents: one number each
        np.testing.assert_allclose(opt[k]["estimate"], at_fit[k], rtol=1e-12)
        lo, hi = opt[k]["ci"]
        assert lo <= hi and opt[k]["se"] > 0
    np.testing.assert_allclose(opt["a"]["estimate"] + opt["b"]["estimate"], 1.0)
    assert "compute-optimal allocation (C = 6 N D, 90% interval):" in written["out"]
    assert "C 5.8e23: N " in written["out"]


def test_report_folder_has_the_json_figures_and_a_summary(written):
    d = written["dir"] / "report"
    assert json.loads((d / "fit.json").read_text()) == written["json"]  # the same file as --json
    md = (d / "summary.md").read_text()
    rep = written["json"]
    assert md.startswith("# chinchilla on chinchilla_epoch\n")
    assert "bundled dataset `chinchilla_epoch`, 240 points" in md and "seed 3" in md
    for k, v in rep["params"].items():  # every parameter with its value, SE and interval
        lo, hi = rep["bootstrap"]["ci"][k]
        assert f"| {k} | {v:.7g} | {rep['se'][k]:.4g} | {rep['bootstrap']['se'][k]:.4g} | [{lo:.6g}, {hi:.6g}] |" in md
    assert "| parameter | value | SE | bootstrap SE | 90% percentile interval | note |" in md
    for status, n in rep["status_counts"].items():
        assert f"| {status} | {n} |" in md
    for w in rep["warnings"]:
        assert f"- {w}" in md
    assert "## Compute-optimal allocation" in md and "| 5.8e23 |" in md
    links = set(re.findall(r"\]\(([^)]+\.png)\)", md))
    assert {"data_and_fit.png", "residuals.png"} <= links
    assert links == {p.name for p in d.glob("*.png")}  # every figure linked, every link there
    for name in links:
        assert (d / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"report written to {d / 'summary.md'}" in written["out"]


def test_progress_bars_go_to_stderr(written):
    err = written["err"]
    assert "fit:" in err and "bootstrap:" in err and "lane" in err
    assert "Traceback" not in err


def test_no_progress_bar_off_a_terminal_or_when_asked(capsys):
    # --ci 0.9: 20 resamples are enough for its interval (a 95% one would be warned about on stderr)
    args = ["fit", "--data", "chinchilla_epoch", "--law", "chinchilla", "--starts", "16", "--bootstrap", "20",
            "--ci", "0.9"]
    assert main(args) == 0  # auto: stderr is not a terminal here
    assert capsys.readouterr().err == ""
    assert main([*args, "--progress", "off"]) == 0
    assert capsys.readouterr().err == ""


def test_progress_without_tqdm_still_fits(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    assert main(["fit", "--data", "chinchilla_epoch", "--law", "chinchilla", "--starts", "16", "--bootstrap", "20",
                 "--ci", "0.9", "--progress", "on"]) == 0
    cap = capsys.readouterr()
    assert cap.err == "" and "bootstrap (pairs): 20 resamples" in cap.out


def test_json_without_bootstrap_has_point_estimates_at_the_default_budgets(tmp_path, capsys):
    out = tmp_path / "o.json"
    assert main(["fit", "--data", "chinchilla_epoch", "--law", "chinchilla", "--starts", "16", "--json", str(out)]) == 0
    from jaxlaws import report

    opt = json.loads(out.read_text())["derived"]["compute_optimal"]
    assert opt["C"] == list(report.DEFAULT_BUDGETS) and opt["level"] is None
    assert set(opt["N_opt"]) == {"estimate"} and len(opt["N_opt"]["estimate"]) == len(opt["C"])


def test_csv_source_and_column_mapping_are_recorded(tmp_path, capsys):
    x = np.logspace(1, 4, 30)
    p = tmp_path / "d.csv"
    p.write_text("size,err\n" + "\n".join(f"{float(a)!r},{float(3.0 * a ** -0.4)!r}" for a in x))
    out = tmp_path / "o.json"
    assert main(["fit", "--data", str(p), "--law", "power_law", "--x", "x=size", "--y", "err", "--loss", "mse-log",
                 "--starts", "16", "--json", str(out)]) == 0
    rep = json.loads(out.read_text())
    assert rep["data"] == {"source": "file", "name": "d", "path": str(p),
                           "columns": {"inputs": {"x": "size"}, "y": "err", "group": None}}
    assert rep["derived"] == {}  # power_law has no compute-optimal allocation


def _fake_plot_functions(monkeypatch):
    """The plot functions the report calls, by the signatures jaxlaws.plot gives them; each saves
    a small figure and records its arguments."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from jaxlaws import plot

    calls = {}

    def draw(name, args, kw, path):
        calls[name] = (args, kw)
        fig = plt.figure(figsize=(1, 1))
        fig.savefig(path)
        return fig

    def data_and_fit(res, data=None, *, path=None):
        return draw("data_and_fit", (res, data), {}, path)

    def residuals(res, data=None, *, path=None):
        return draw("residuals", (res, data), {}, path)

    def bootstrap_pairs(boot, *, path=None, fit=None):
        return draw("bootstrap_pairs", (boot,), {"fit": fit}, path)

    def frontier(boot_or_fit, compute, *, level=0.9, path=None):
        return draw("frontier", (boot_or_fit, compute), {"level": level}, path)

    def groups(gf, data, *, path=None):
        return draw("groups", (gf, data), {}, path)

    for fn in (data_and_fit, residuals, bootstrap_pairs, frontier, groups):
        monkeypatch.setattr(plot, fn.__name__, fn, raising=False)
    return calls


def test_report_draws_every_figure_with_the_plot_functions(tmp_path, monkeypatch):
    from jaxlaws import report

    calls = _fake_plot_functions(monkeypatch)
    data = jl.datasets.load("chinchilla_epoch")
    res = jl.fit("chinchilla", data, starts=16, seed=3)
    boot = jl.bootstrap("chinchilla", data, n=20, fit=res, progress=False)
    paths = report.write_fit(str(tmp_path), res.to_dict(), res, data, boot, [1e21, 1e25], 0.9)
    assert set(calls) == {"data_and_fit", "residuals", "bootstrap_pairs", "frontier"}
    assert calls["data_and_fit"][0] == (res, data) and calls["residuals"][0] == (res, data)
    assert calls["bootstrap_pairs"] == ((boot,), {"fit": res})
    (who, compute), kw = calls["frontier"]
    assert who is boot and kw == {"level": 0.9}
    C = 6 * data.inputs["N"] * data.inputs["D"]
    assert compute[0] == pytest.approx(C.min()) and compute[-1] == pytest.approx(1e25) and np.all(np.diff(compute) > 0)
    md = (tmp_path / "summary.md").read_text()
    pngs = {f"{n}.png" for n in calls}
    assert set(re.findall(r"\]\(([^)]+\.png)\)", md)) == pngs == {p.name for p in tmp_path.glob("*.png")}
    assert sorted(os.path.basename(p) for p in paths) == sorted(["fit.json", "summary.md", *pngs])


def test_report_of_a_per_group_fit_draws_the_groups(tmp_path, monkeypatch):
    from conftest import power_law_data
    from jaxlaws import report

    calls = _fake_plot_functions(monkeypatch)
    a, b = power_law_data(n=12, seed=1), power_law_data(n=12, A=80.0, seed=2)
    data = jl.datasets.from_arrays(x={"x": np.concatenate([a.inputs["x"], b.inputs["x"]])},
                                   y=np.concatenate([a.y, b.y]), groups=np.repeat(["a", "b"], 12))
    gf = jl.fit_groups("power_law", data, loss="mse-log", starts=8)
    rep = {"law": "power_law", "n_groups": 2, "objective": float(np.sum(gf.objective)),
           "status_counts": gf.status_counts,
           "warnings": gf.warnings, "groups": [{"group": str(g), "params": dict(zip(gf.law.params, gf.params[i])),
                                                "objective": gf.objective[i], "status": "ok"}
                                               for i, g in enumerate(gf.labels)]}
    report.write_groups(str(tmp_path), rep, gf, data)
    assert set(calls) == {"groups"} and calls["groups"][0] == (gf, data)
    md = (tmp_path / "summary.md").read_text()
    assert "](groups.png)" in md and "| a | " in md and "| b | " in md


def test_bench_checks_its_output_and_scipy_before_running(tmp_path, monkeypatch, capsys):
    from jaxlaws import bench

    monkeypatch.setattr(bench, "quick", _no_compute)
    assert main(["bench", "--json", str(tmp_path)]) == 2
    assert "--json" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "scipy", None)
    assert main(["bench"]) == 2
    assert capsys.readouterr().err.strip() == "jaxlaws: error: jaxlaws bench needs scipy: pip install 'jaxlaws[bench]'"


def test_fix_holds_a_parameter_and_is_checked(tmp_path):
    out = tmp_path / "f.json"
    assert main(["fit", "--data", "chinchilla_epoch", "--law", "chinchilla", "--fix", "E=1.69", "--starts", "16",
                 "--json", str(out), "--progress", "off"]) == 0
    rep = json.loads(out.read_text())
    assert rep["fixed"] == {"E": 1.69} and rep["params"]["E"] == 1.69 and rep["se"]["E"] == 0.0
    assert rep["diagnostics"]["n_free"] == 4


@pytest.mark.parametrize("argv, message", [
    (["--fix", "E"], "--fix takes PARAM=VALUE, got 'E'"),
    (["--fix", "E=abc"], "--fix takes PARAM=VALUE, got 'E=abc'"),
    (["--fix", "Q=1"], "has no parameter(s) ['Q']"),
    (["--fix", "E=50"], "must be finite and inside"),
])
def test_bad_fix_is_one_line_and_status_2(argv, message, capsys):
    assert main(["fit", "--data", "chinchilla_epoch", "--law", "chinchilla", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("cmd", ["approaches", "backtest", "predict"])
def test_analysis_commands_are_wired_with_help(cmd, capsys):
    with pytest.raises(SystemExit) as e:
        main([cmd, "--help"])
    assert e.value.code == 0 and "example:" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["MY.CSV", "runs.tsv", "runs.csv.gz"])
def test_data_files_are_told_from_bundled_names_by_suffix(tmp_path, name, monkeypatch):
    import gzip

    text = "params,tokens,loss\n1e8,2e9,3.1\n2e8,4e9,2.9\n4e8,8e9,2.7\n8e8,1e10,2.6\n"
    if name.endswith(".tsv"):
        text = text.replace(",", "\t")
    monkeypatch.chdir(tmp_path)  # a bare file name, no path separator
    if name.endswith(".gz"):
        with gzip.open(name, "wt") as f:
            f.write(text)
    else:
        (tmp_path / name).write_text(text)
    out = tmp_path / "o.json"
    assert main(["fit", "--data", name, "--law", "kaplan_n", "--x", "N=params", "--loss", "mse", "--starts", "4",
                 "--progress", "off", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["n_points"] == 4


def test_a_directory_as_data_is_refused(tmp_path, capsys):
    assert main(["fit", "--data", str(tmp_path), "--law", "kaplan_n"]) == 2
    assert "is a directory, not a data file" in capsys.readouterr().err


# ---- Ctrl-C ----------------------------------------------------------------------------------
def test_ctrl_c_is_one_line_status_130_and_removes_partial_outputs(tmp_path, monkeypatch, capsys):
    from jaxlaws import cli as cli_mod

    kept = tmp_path / "old.json"  # a user's file from before the run: not the run's to remove
    kept.write_text("{}")

    def partial_json(path, rep):  # interrupted halfway through writing
        with open(path, "w") as f:
            f.write('{"law": ')
        raise KeyboardInterrupt

    def partial_report(folder, *a, **k):
        os.makedirs(folder)
        (tmp_path / "rep" / "fit.json").write_text("{")
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_mod.report_mod, "write_json", partial_json)
    argv = ["fit", "--data", "chinchilla_epoch", "--law", "kaplan_n", "--loss", "mse", "--starts", "4",
            "--progress", "off"]
    assert main([*argv, "--json", str(tmp_path / "out.json")]) == 130
    err = capsys.readouterr().err
    assert err == "jaxlaws: interrupted\n"
    monkeypatch.setattr(cli_mod.report_mod, "write_fit", partial_report)
    assert main([*argv, "--report", str(tmp_path / "rep")]) == 130
    assert capsys.readouterr().err == "jaxlaws: interrupted\n"
    monkeypatch.setattr(cli_mod.report_mod, "write_json", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt))
    assert main([*argv, "--json", str(kept)]) == 130
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.json"]  # the partial ones are gone


def test_a_real_sigint_ends_the_command_with_one_line():
    import signal

    # The fit is replaced by a wait that says when it has begun, so the signal lands inside the
    # command's compute (not in the interpreter's start-up, which is no part of the command).
    code = ("import sys, time, jaxlaws as jl, jaxlaws.cli as c\n"
            "def wait(*a, **k):\n    print('ready', flush=True); time.sleep(120)\n"
            "jl.fit = wait\n"
            "sys.exit(c.main(['fit', '--data', 'chinchilla_epoch', '--law', 'kaplan_n', '--progress', 'off']))\n")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "ready"
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 130 and err == "jaxlaws: interrupted\n", err
