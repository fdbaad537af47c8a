"""Chunked, resumable bootstraps (jaxlaws.runs): interrupted by SIGINT or SIGKILL in a fresh
process, then resumed, they give the uninterrupted run's results bit for bit, with no chunk
lost and none written twice."""

from __future__ import annotations

import json
import shlex
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import jaxlaws as jl
from jaxlaws import runs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N, CHUNK, STARTS = 30, 3, 8  # 10 chunks of 3 resamples
KEYS = ("theta", "params", "objective", "converged", "failed", "lane_objective", "lane_status")

# A bootstrap in a run directory; its progress callback (called once per chunk) sleeps, so that
# the parent can stop it between chunks, wherever the signal lands.
WORKER = textwrap.dedent(f"""
    import sys, time
    import numpy as np
    import jaxlaws as jl

    run_dir, out, delay = sys.argv[1], sys.argv[2], float(sys.argv[3])
    law, data = jl.laws.get("chinchilla"), jl.datasets.load("chinchilla_epoch")
    fit = jl.fit(law, data, starts={STARTS}, seed=5, run_dir=run_dir)
    boot = jl.bootstrap(law, data, n={N}, fit=fit, seed=5, run_dir=run_dir, resamples_per_chunk={CHUNK},
                        progress=lambda done, total: time.sleep(delay))
    ci = boot.ci(0.9)
    np.savez(out, ci=np.array([ci[k] for k in law.order]), **{{k: getattr(boot, k) for k in {KEYS!r}}})
""")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([ROOT] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


def _chunks(run_dir) -> list[str]:
    return sorted(f for f in os.listdir(run_dir) if f.startswith("chunk_")) if os.path.isdir(run_dir) else []


def _interrupt(script, run_dir, sig, at_least: int) -> subprocess.Popen:
    """Start the worker, wait until ``at_least`` chunks are on disk, send ``sig``."""
    p = subprocess.Popen([sys.executable, str(script), str(run_dir), str(run_dir) + ".npz", "0.4"], env=_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 300
    while len(_chunks(run_dir)) < at_least:
        assert p.poll() is None, p.communicate()[0][-2000:]
        assert time.monotonic() < deadline, "no chunks written"
        time.sleep(0.02)
    p.send_signal(sig)
    return p


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """Two run directories, one stopped by SIGINT and one by SIGKILL after 3 chunks (run side
    by side), each then resumed by the same command; and what each held when stopped."""
    tmp = tmp_path_factory.mktemp("runs")
    script = tmp / "worker.py"
    script.write_text(WORKER)
    dirs = {"SIGINT": tmp / "int", "SIGKILL": tmp / "kill"}
    procs = {k: _interrupt(script, d, getattr(signal, k), 3) for k, d in dirs.items()}
    stopped = {}
    for k, p in procs.items():
        log, _ = p.communicate(timeout=120)
        assert p.returncode != 0, f"{k}: the run finished before the signal"
        files = _chunks(dirs[k])
        stopped[k] = {f: (os.stat(dirs[k] / f).st_ino, os.stat(dirs[k] / f).st_mtime_ns) for f in files}
        assert 3 <= len(files) < N // CHUNK, files
    resumed = {k: subprocess.Popen([sys.executable, str(script), str(d), str(d) + ".npz", "0"], env=_env(),
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for k, d in dirs.items()}
    for k, p in resumed.items():
        log, _ = p.communicate(timeout=300)
        assert p.returncode == 0, log[-3000:]
    return dirs, stopped


@pytest.fixture(scope="module")
def reference():
    """The same bootstrap uninterrupted, in this process and without a run directory: chunked
    runs with the same chunk size are the same run, on disk or not."""
    law, data = jl.laws.get("chinchilla"), jl.datasets.load("chinchilla_epoch")
    fit = jl.fit(law, data, starts=STARTS, seed=5)
    return jl.bootstrap(law, data, n=N, fit=fit, seed=5, resamples_per_chunk=CHUNK, progress=False)


@pytest.mark.parametrize("sig", ["SIGINT", "SIGKILL"])
def test_a_resumed_run_is_bit_identical_to_an_uninterrupted_one(interrupted, reference, sig):
    dirs, _ = interrupted
    with np.load(str(dirs[sig]) + ".npz") as z:
        for k in KEYS:
            np.testing.assert_array_equal(z[k], getattr(reference, k), err_msg=k)
        ci = reference.ci(0.9)
        np.testing.assert_array_equal(z["ci"], np.array([ci[k] for k in reference.law.order]))
    assert reference.resamples_per_chunk == CHUNK and reference.n == N


@pytest.mark.parametrize("sig", ["SIGINT", "SIGKILL"])
def test_no_chunk_is_lost_or_written_twice(interrupted, sig):
    dirs, stopped = interrupted
    d = dirs[sig]
    assert _chunks(d) == [runs.RunDir.chunk_name(k) for k in range(N // CHUNK)]  # none lost
    # The chunks kept through the interrupt are the very files written before it (same inode,
    # same modification time): the resume read them and computed only the others ...
    for f, stat in stopped[sig].items():
        assert (os.stat(d / f).st_ino, os.stat(d / f).st_mtime_ns) == stat, f
    events = runs.events(d)
    written = [e["chunk"] for e in events if e["event"] == "chunk"]
    # ... and the log shows every chunk written once, the fit stored once, and one resume. A
    # SIGKILL can land between a chunk file's rename and its log line (the fixture signals as soon
    # as the third file appears, inside that window): such a chunk is on disk, kept unchanged
    # through the resume (checked above), but has no log line. SIGINT lets the line through.
    assert len(written) == len(set(written))  # none written twice
    unlogged = set(range(N // CHUNK)) - set(written)
    kept = {k for k in range(N // CHUNK) if runs.RunDir.chunk_name(k) in stopped[sig]}
    assert not unlogged if sig == "SIGINT" else (unlogged <= kept and len(unlogged) <= 1), (unlogged, kept)
    assert [e["event"] for e in events].count("fit") == 1
    assert [e["event"] for e in events if e.get("section") == "bootstrap"] == ["started", "resumed"]
    assert not [f for f in os.listdir(d) if f.startswith(".tmp-")]  # no half-written file left
    manifest = json.load(open(d / runs.MANIFEST))
    assert manifest["bootstrap"]["rng"] == runs.RNG_SCHEME and manifest["bootstrap"]["resamples_per_chunk"] == CHUNK
    assert manifest["progress"]["bootstrap"] == {"chunks": N // CHUNK, "chunks_done": N // CHUNK,
                                                 "done": [[0, N // CHUNK - 1]]}


def test_a_run_dir_of_other_arguments_is_refused(interrupted):
    dirs, _ = interrupted
    law, data = jl.laws.get("chinchilla"), jl.datasets.load("chinchilla_epoch")
    fit = jl.fit(law, data, starts=STARTS, seed=5, run_dir=str(dirs["SIGINT"]))  # the same fit: read back
    assert fit.timing == {"compile_s": 0.0, "run_s": 0.0}
    with pytest.raises(jl.JaxlawsError, match=r"other arguments \(bootstrap: seed differ") as e:
        jl.bootstrap(law, data, n=N, fit=fit, seed=6, run_dir=str(dirs["SIGINT"]), resamples_per_chunk=CHUNK,
                     progress=False)
    assert "\n" not in str(e.value)


def test_the_last_chunk_is_padded_so_one_program_serves_every_chunk():
    # 7 resamples in chunks of 3: chunks of 3, 3 and 1 (run as 3, trimmed); the first resamples
    # of a chunk do not depend on how many of them are kept.
    law, data = jl.laws.get("chinchilla"), jl.datasets.load("chinchilla_epoch")
    fit = jl.fit(law, data, starts=STARTS, precision="float64")
    before = jl.engine.compile_count()
    a = jl.bootstrap(law, data, n=7, fit=fit, basins=0, seed=2, resamples_per_chunk=3, progress=False)
    assert jl.engine.compile_count() - before <= 1
    calls = []
    b = jl.bootstrap(law, data, n=9, fit=fit, basins=0, seed=2, resamples_per_chunk=3,
                     progress=lambda done, total: calls.append((done, total)))
    assert calls == [(3, 9), (6, 9), (9, 9)]  # once per chunk, in lanes (one start here)
    assert jl.engine.compile_count() - before <= 1
    np.testing.assert_array_equal(a.theta, b.theta[:7])
    assert a.timing["chunks"] == 3 and a.lane_status.dtype == np.int8


def test_bad_chunk_sizes_and_device_counts_are_refused_in_one_line():
    law, data = jl.laws.get("chinchilla"), jl.datasets.load("chinchilla_epoch")
    for kw, msg in (({"resamples_per_chunk": 0}, "resamples_per_chunk"), ({"devices": 0}, "devices"),
                    ({"devices": 10 ** 6}, "more devices")):
        with pytest.raises(jl.JaxlawsError, match=msg) as e:
            jl.bootstrap(law, data, n=4, starts=4, **kw)
        assert "\n" not in str(e.value)


def test_default_chunk_follows_starts_and_data_size():
    assert 1 <= runs.default_chunk(10 ** 6, 1, 240) <= runs.CHUNK_ROW_BYTES // (8 * 240)  # rows bound it
    assert runs.default_chunk(4000, 4500, 240) == runs.CHUNK_LANES // 4500
    assert runs.default_chunk(5, 1, 240) == 5 and runs.default_chunk(10, 10 ** 6, 240) == 1


# ---- the command: one line on an interrupt, and the command that resumes -----------------------
CLI = ["fit", "--data", "chinchilla_epoch", "--law", "chinchilla", "--starts", "16", "--bootstrap", "200",
       "--chunk-resamples", "2", "--progress", "off"]


def test_the_command_interrupted_says_what_it_kept_and_how_to_resume(tmp_path):
    procs = {}
    for sig in ("SIGINT", "SIGTERM"):
        d = tmp_path / sig
        args = CLI + ["--run-dir", str(d), "--json", str(d) + ".json"]
        p = subprocess.Popen([sys.executable, "-m", "jaxlaws", *args], env=_env(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 300
        while len(_chunks(d)) < 2:
            assert p.poll() is None, p.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.01)
        p.send_signal(getattr(signal, sig))
        procs[sig] = (p, d, args)
    commands = {}
    for sig, (p, d, args) in procs.items():
        _, err = p.communicate(timeout=120)
        assert p.returncode == 130, (sig, err)
        line = err.strip()
        assert "\n" not in line and "Traceback" not in line, line
        kept = len(_chunks(d))
        assert f"the fit and {kept} of 100 bootstrap chunks kept in {d}" in line, line
        commands[sig] = line.split("resume with: ", 1)[1]
        assert shlex.split(commands[sig]) == ["jaxlaws", *args]
        assert not os.path.exists(str(d) + ".json")  # no partial output
    # The command printed resumes and completes; its intervals are the uninterrupted run's.
    p, d, args = procs["SIGINT"]
    done = subprocess.run([sys.executable, "-m", *shlex.split(commands["SIGINT"])], env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    rep = json.load(open(str(d) + ".json"))
    law, data = jl.laws.get("chinchilla"), jl.datasets.load("chinchilla_epoch")
    fit = jl.fit(law, data, starts=16, seed=0)
    ref = jl.bootstrap(law, data, n=200, fit=fit, seed=0, resamples_per_chunk=2, progress=False)
    assert rep["bootstrap"]["ci"] == {k: list(v) for k, v in ref.ci(0.95).items()}
    assert rep["bootstrap"]["resamples_per_chunk"] == 2


def test_the_command_refuses_run_dirs_it_cannot_use(tmp_path, capsys):
    from jaxlaws.cli import main

    base = ["fit", "--data", "chinchilla_epoch", "--law", "chinchilla", "--starts", "8"]
    afile = tmp_path / "file"
    afile.write_text("")
    for extra, msg in ((["--run-dir", str(afile)], "is a file"),
                       (["--run-dir", str(tmp_path / "no" / "such")], "no such directory"),
                       (["--run-dir", str(tmp_path / "r"), "--bootstrap", "4", "--chunk-resamples", "0"],
                        "--chunk-resamples must be >= 1")):
        assert main(base + extra) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and msg in err, err
    assert main(["fit", "--data", "sft", "--law", "sft_rectified", "--run-dir", str(tmp_path / "g")]) == 2
    assert "per-group fit has nothing to resume" in capsys.readouterr().err


def test_the_command_refuses_other_bootstrap_arguments_before_the_fit(tmp_path, capsys, monkeypatch):
    from jaxlaws.cli import main

    run_dir = str(tmp_path / "r")
    base = ["fit", "--data", "chinchilla_epoch", "--law", "chinchilla", "--starts", "8", "--progress", "off",
            "--run-dir", run_dir, "--chunk-resamples", "2"]
    assert main(base + ["--bootstrap", "4"]) == 0
    capsys.readouterr()
    # "auto" resolves as the bootstrap recorded it (3 starts per resample: every lane to its end),
    # so the same run resumes instead of being refused.
    assert main(base + ["--bootstrap", "4", "--strategy", "auto"]) == 0
    capsys.readouterr()
    calls = []
    monkeypatch.setattr(jl, "fit", lambda *a, **k: calls.append(1))  # the fit must not even start
    for extra, what in ((["--bootstrap", "6"], "n differ"), (["--bootstrap", "4", "--seed", "3"], "seed differ"),
                        (["--bootstrap", "4", "--strategy", "race"], "strategy differ")):
        assert main(base + extra) == 2
        cap = capsys.readouterr()
        assert cap.out == "" and cap.err.count("\n") == 1 and what in cap.err, cap.err
    assert not calls


def test_a_resume_keeps_the_recorded_chunk_size(tmp_path, monkeypatch):
    # The default chunk size may change (another version's default); a resume must not: it takes
    # the size the manifest records.
    law, data = jl.laws.get("chinchilla"), jl.datasets.load("chinchilla_epoch")
    fit = jl.fit(law, data, starts=STARTS, seed=5)
    first = jl.bootstrap(law, data, n=6, fit=fit, seed=5, run_dir=str(tmp_path), resamples_per_chunk=2,
                         progress=False)
    monkeypatch.setattr(runs, "default_chunk", lambda *a: 5)  # as if memory were shorter now
    again = jl.bootstrap(law, data, n=6, fit=fit, seed=5, run_dir=str(tmp_path), progress=False)
    assert again.resamples_per_chunk == 2 and again.timing["chunks_resumed"] == 3
    np.testing.assert_array_equal(again.params, first.params)
    assert runs.recorded_chunk(str(tmp_path / "none")) is None


def test_a_resume_in_another_precision_is_refused(tmp_path):
    # The chunks done in float64 must not be mixed with chunks computed in mixed precision.
    law, data = jl.laws.get("chinchilla"), jl.datasets.load("chinchilla_epoch")
    fit = jl.fit(law, data, starts=STARTS, seed=5)
    kw = dict(n=4, fit=fit, seed=5, run_dir=str(tmp_path), resamples_per_chunk=2, progress=False)
    jl.bootstrap(law, data, precision="float64", **kw)
    with pytest.raises(jl.JaxlawsError, match=r"other arguments \(bootstrap: precision differ") as e:
        jl.bootstrap(law, data, precision="mixed", **kw)
    assert "\n" not in str(e.value)


def test_a_resume_in_another_strategy_is_refused_saying_which_the_run_had(tmp_path):
    # A grid's bootstrap made before racing was its default ran every lane: resuming it with the
    # new default must be refused, and the one-line refusal says how to resume it.
    law, data = jl.laws.get("chinchilla"), jl.datasets.load("chinchilla_epoch")
    fit = jl.fit(law, data, starts=STARTS, seed=5)
    kw = dict(n=4, fit=fit, seed=5, starts=8, run_dir=str(tmp_path), resamples_per_chunk=2, progress=False)
    jl.bootstrap(law, data, strategy="all", **kw)
    with pytest.raises(jl.JaxlawsError, match=r"strategy differ; it was made with strategy=all\)") as e:
        jl.bootstrap(law, data, strategy="race", **kw)
    assert "\n" not in str(e.value)
    jl.bootstrap(law, data, strategy="auto", **kw)  # 9 sampled starts: "auto" runs every lane, as the run did


def _named(exponent: float) -> jl.Law:
    @jl.law(inputs=("x",), params={"A": jl.Param(1e-3, 1e6, scale="log"), "alpha": jl.Param(0.0, 3.0)},
            name="edited")
    def edited(p, x):
        return p["A"] * x["x"] ** -(exponent * p["alpha"])

    return edited


def test_a_law_edited_under_the_same_name_is_another_run(tmp_path):
    # A notebook's law changed in place keeps its name: the run directory tells by what it computes.
    x = np.logspace(1, 4, 12)
    data = jl.datasets.from_arrays(x={"x": x}, y=3.0 * x ** -0.4)
    jl.fit(_named(1.0), data, loss="mse-log", starts=4, run_dir=str(tmp_path))
    again = jl.fit(_named(1.0), data, loss="mse-log", starts=4, run_dir=str(tmp_path))
    assert again.timing == {"compile_s": 0.0, "run_s": 0.0}  # the same law: read back
    with pytest.raises(jl.JaxlawsError, match="law_function"):
        jl.fit(_named(2.0), data, loss="mse-log", starts=4, run_dir=str(tmp_path))


def test_a_chunk_file_that_is_not_this_runs_is_refused_in_one_line(tmp_path):
    law, data = jl.laws.get("chinchilla"), jl.datasets.load("chinchilla_epoch")
    fit = jl.fit(law, data, starts=STARTS, seed=5)
    kw = dict(n=4, fit=fit, seed=5, basins=0, run_dir=str(tmp_path), resamples_per_chunk=2, progress=False)
    jl.bootstrap(law, data, **kw)
    chunk = tmp_path / runs.RunDir.chunk_name(1)
    chunk.write_bytes(b"not an npz")
    with pytest.raises(jl.JaxlawsError, match="cannot read chunk_000001.npz") as e:
        jl.bootstrap(law, data, **kw)
    assert "\n" not in str(e.value)
    np.savez(chunk, theta=np.zeros((5, 5)), lane_objective=np.zeros((5, 1)))
    with pytest.raises(jl.JaxlawsError, match="is not a chunk of this run"):
        jl.bootstrap(law, data, **kw)


def test_done_chunks_are_recorded_as_ranges():
    assert runs.ranges(np.array([1, 1, 0, 1, 0, 0, 1, 1, 1], bool)) == [[0, 1], [3, 3], [6, 8]]
    assert runs.ranges(np.zeros(3, bool)) == [] and runs.ranges(np.ones(2, bool)) == [[0, 1]]


def test_a_log_line_cut_short_is_skipped_and_the_next_starts_afresh(tmp_path):
    run = runs.RunDir(tmp_path, "x", {"a": 1})
    with open(tmp_path / runs.LOG, "a") as f:
        f.write('{"event": "chunk", "chu')  # kill -9 mid-line
    run.log("chunk", chunk=1)
    assert [e["event"] for e in run.events()] == ["started", "chunk"] and run.events()[-1]["chunk"] == 1
    assert runs.RunDir(tmp_path, "x", {"a": 1}).resumed
    with pytest.raises(jl.JaxlawsError, match=r"other arguments \(x: a differ\)"):
        runs.RunDir(tmp_path, "x", {"a": 2})
