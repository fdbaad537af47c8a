"""The device count a run uses: devices=N (first N devices), reported on every result."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import jax
import numpy as np
import pytest

import jaxlaws as jl
from jaxlaws.cli import main
from jaxlaws.engine import mesh


def _fit(**kw):
    law, data = jl.laws.get("chinchilla"), jl.datasets.load("chinchilla_epoch")
    starts = law.to_natural(jl.starts.lhs(law, 32, seed=3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jl.JaxlawsWarning)
        return jl.fit(law, data, starts=starts, precision="float64", **kw)


def test_results_say_how_many_devices_ran_and_of_what_kind():
    res = _fit()
    d = jax.devices()[0]
    assert (res.devices, res.device_kind, res.processes) == (jax.device_count(), d.device_kind, 1)
    assert res.device == f"{d.platform}:{d.device_kind} x{jax.device_count()}"
    out = res.to_dict()
    assert (out["devices"], out["device_kind"], out["processes"]) == (res.devices, res.device_kind, 1)
    assert isinstance(out["devices"], int)


def _compare_one_with_all() -> None:
    one, every = _fit(devices=1), _fit()
    assert one.devices == 1 and one.device.endswith(" x1") and every.devices >= 2
    np.testing.assert_array_equal(one.all_objective, every.all_objective)
    np.testing.assert_array_equal(one.all_params, every.all_params)
    np.testing.assert_array_equal(one.status, every.status)


def test_one_device_gives_the_same_bits_as_all_of_them():
    # Every lane computes the same arithmetic in a K-slot program whatever device it lands on
    # (tests/test_reproducible.py); 32 lanes get K = 8 on 1 and on 2 devices alike. On a 1-core
    # host (one device here) the comparison runs in a fresh process given two CPU devices.
    if jax.device_count() >= 2:
        _compare_one_with_all()
        return
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "JAX_NUM_CPU_DEVICES": "2",
           "PYTHONPATH": os.pathsep.join([root, os.path.join(root, "tests", "engine"), os.environ.get("PYTHONPATH", "")])}
    code = "import test_mesh; test_mesh._compare_one_with_all(); print('same bits')"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "same bits" in out.stdout, out.stderr[-2000:]


def test_device_counts_out_of_range_are_refused_in_one_line():
    for n, msg in ((0, "positive integer"), (True, "positive integer"), (1.5, "positive integer"),
                   (jax.device_count() + 1, "more devices than")):
        with pytest.raises(jl.JaxlawsError, match=msg) as e:
            _fit(devices=n)
        assert "\n" not in str(e.value)


def test_the_mesh_is_the_first_n_devices():
    assert list(mesh.mesh(1).devices.flat) == jax.devices()[:1]
    assert mesh.info(None) == mesh.info(jax.device_count())
    assert mesh.owner(5, 1).tolist() == [0] * 5  # one process runs every lane


def test_the_command_runs_on_fewer_devices_and_says_so(tmp_path, capsys):
    out = tmp_path / "fit.json"
    assert main(["fit", "--data", "chinchilla_epoch", "--law", "chinchilla", "--starts", "16", "--devices", "1",
                 "--json", str(out)]) == 0
    rep = json.loads(out.read_text())
    assert rep["devices"] == 1 and rep["device"].endswith(" x1") and rep["processes"] == 1
    capsys.readouterr()
    assert main(["fit", "--data", "chinchilla_epoch", "--law", "chinchilla", "--devices", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--devices must be >= 1" in err
