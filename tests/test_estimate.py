"""The size estimate told before any compute (jaxlaws.estimate): its arithmetic, the counts it
reads from a starts spec, the refusal with the numbers, and the command's one-line notice."""

import os

import numpy as np
import pytest

import jaxlaws as jl
from jaxlaws import estimate
from jaxlaws.cli import main

LAW = jl.laws.get("power_law")  # 2 free parameters
X = np.logspace(1, 4, 10)
DATA = jl.datasets.from_arrays(x={"x": X}, y=3.0 * X**-0.4)


def test_bytes_are_the_arrays_kept_per_lane_and_per_row():
    e = estimate.Estimate(lanes=1000, params=2, rows=50, residuals=10, devices=2, available=None)
    assert e.lane_bytes == 1000 * (estimate.LANE_VECTORS * 2 + estimate.LANE_SCALARS) * 8
    assert e.row_bytes == 50 * 10 * (estimate.ROW_COPIES + 2) * 8
    assert e.total_bytes == e.lane_bytes + e.row_bytes and e.fits  # unknown memory: nothing refused


@pytest.mark.parametrize("spec, n", [(37, 37), ("37", 37), (("halton", 9), 9), (("around", {}, 12), 12),
                                     ("grid", None), (True, None), (np.zeros((3, 2)), None)])
def test_count_starts_reads_the_spec_without_making_it(spec, n):
    assert estimate.count_starts(LAW, spec) == n  # power_law has no start grid: None


def test_the_chinchilla_grid_is_counted():
    assert estimate.count_starts(jl.laws.get("chinchilla"), "grid") == 4500  # Epoch's grid (DESIGN.md)


def test_a_request_larger_than_memory_is_refused_with_the_numbers(monkeypatch):
    monkeypatch.setattr(estimate, "available_bytes", lambda: 1 << 20)  # 1 MiB available
    with pytest.raises(jl.JaxlawsError, match=r"^100,000 starts needs ~0\.0238 GiB .* <0\.01 GiB available; "
                                               "use fewer starts$"):
        jl.fit(LAW, DATA, starts=100_000)
    with pytest.raises(jl.JaxlawsError, match=r"^1,000 resamples x 3 starts needs ~"):
        jl.bootstrap(LAW, DATA, n=1000)  # refused before its full-data fit


def test_available_memory_falls_back_when_proc_is_unreadable(monkeypatch):
    import builtins

    real = builtins.open

    def no_proc(path, *a, **k):
        if str(path) == "/proc/meminfo":
            raise OSError("no /proc")
        return real(path, *a, **k)

    monkeypatch.setattr(builtins, "open", no_proc)
    got = estimate.available_bytes()
    assert got is None or got > 0  # os.sysconf where the platform has it, else unknown


def test_the_command_says_what_a_large_request_needs_in_one_line(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(estimate, "NOTICE_BYTES", 0)  # every request counts as large

    class Stop(Exception):
        pass

    def stop(*a, **k):
        raise Stop

    monkeypatch.setattr(jl, "fit", stop)
    p = tmp_path / "d.csv"
    p.write_text("x,loss\n" + "".join(f"{a!r},{3.0 * a ** -0.4!r}\n" for a in X.tolist()))
    with pytest.raises(Stop):  # the notice comes before the fit starts
        main(["fit", "--data", str(p), "--law", "power_law", "--starts", "1000", "--progress", "off"])
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("jaxlaws: fit: 1,000 lanes, ~") and "GiB available" in line


def test_the_time_estimate_scales_with_lanes_and_work_per_lane():
    law = jl.laws.get("chinchilla")
    a = estimate.request(law, 240, 4500)
    b = estimate.request(law, 240, 9000)
    c = estimate.request(law, 480, 4500)
    # linear in lanes and in residuals (the model's two factors), exactly up to rounding
    assert b.seconds == pytest.approx(2 * a.seconds, rel=1e-12) and c.seconds == pytest.approx(2 * a.seconds, rel=1e-12)
    # the Chinchilla grid the rate was measured on: ~0.6 s on 2 cores, by construction of the rate
    assert a.seconds * (os.cpu_count() or 2) / 2 == pytest.approx(0.60 * 4500 * 71 / 321_095, rel=1e-12)
    assert "of compute" in a.describe() and estimate.request(law, 240, 10 ** 7).large
    assert [estimate.duration(t) for t in (2.0, 45.0, 600.0, 36000.0)] == ["2 s", "45 s", "10 min", "10 h"]
