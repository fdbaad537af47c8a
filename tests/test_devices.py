"""Devices and the compilation cache: what ``import jaxlaws`` sets in a fresh process, what it
leaves to the user, and that lanes sharded over several devices give the same fits as one."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import jaxlaws as jl

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A fresh process: what jax ended up with, and what jaxlaws says it set. One small jit compile
# shows whether the persistent cache is really in use (it writes an entry).
PROBE = """
import json, os, sys
{before}
import jax, jax.numpy as jnp
import jaxlaws as jl
jax.jit(lambda x: x * 2.0 + 1.0)(jnp.arange(3.0)).block_until_ready()
cache = jax.config.jax_compilation_cache_dir
print(json.dumps({{"n": jax.device_count(), "cache": cache,
                  "entries": len(os.listdir(cache)) if cache and os.path.isdir(cache) else 0,
                  "min_compile_s": jax.config.jax_persistent_cache_min_compile_time_secs,
                  "settings": {{k: v.to_dict() for k, v in jl.devices.settings().items()}}}}))
"""


def _probe(tmp_path, before="", **env):
    """Run PROBE in a fresh python with none of the user's jax settings but ``env``; its report.
    The user cache directory is ``tmp_path/cache`` (XDG_CACHE_HOME), so nothing lands in $HOME."""
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("JAX_", "XLA_", "JAXLAWS_")) and k != "XDG_CACHE_HOME"}
    base.update(PYTHONPATH=ROOT, XDG_CACHE_HOME=str(tmp_path / "cache"), **env)
    out = subprocess.run([sys.executable, "-c", PROBE.format(before=before)], env=base, capture_output=True,
                         text=True, check=True, cwd=str(tmp_path))
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_plain_import_gets_one_device_per_core_and_the_cache(tmp_path):
    got = _probe(tmp_path)
    cores = jl.devices.cores()
    assert cores == (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())
    assert got["n"] == cores
    s = got["settings"]
    assert s["cpu_devices"]["source"] == ("jaxlaws" if cores > 1 else "default")
    assert s["cpu_devices"]["value"] == cores
    want = str(tmp_path / "cache" / "jaxlaws" / "xla")
    assert got["cache"] == want and s["compilation_cache_dir"] == {
        "name": "compilation_cache_dir", "value": want, "source": "jaxlaws",
        "reason": "compiled programs kept on disk (the user cache directory)"}
    assert got["min_compile_s"] == 0.0  # every compile is kept, not only those over jax's 1 s
    assert got["entries"] >= 1  # the jit compile above went to disk


def test_jaxlaws_cache_dir_variable_names_the_directory(tmp_path):
    got = _probe(tmp_path, JAXLAWS_CACHE_DIR=str(tmp_path / "mine"))
    assert got["cache"] == str(tmp_path / "mine") and got["entries"] >= 1
    assert got["settings"]["compilation_cache_dir"]["source"] == "jaxlaws"


@pytest.mark.parametrize("env, before", [
    ({"XLA_FLAGS": "--xla_force_host_platform_device_count=3"}, ""),
    ({"JAX_NUM_CPU_DEVICES": "3"}, ""),
    ({}, "import jax; jax.config.update('jax_num_cpu_devices', 3)"),
], ids=["XLA_FLAGS", "JAX_NUM_CPU_DEVICES", "jax.config"])
def test_a_users_device_count_is_kept(tmp_path, env, before):
    got = _probe(tmp_path, before=before, **env)
    assert got["n"] == 3
    dev = got["settings"]["cpu_devices"]
    assert dev["source"] == "user" and dev["value"] == 3
    assert got["settings"]["compilation_cache_dir"]["source"] == "jaxlaws"  # the other default still applies


@pytest.mark.parametrize("env, before", [
    ({"JAX_COMPILATION_CACHE_DIR": "{tmp}/users"}, ""),
    ({}, "import jax; jax.config.update('jax_compilation_cache_dir', {tmp!r} + '/users')"),
], ids=["JAX_COMPILATION_CACHE_DIR", "jax.config"])
def test_a_users_cache_dir_is_kept(tmp_path, env, before):
    env = {k: v.format(tmp=tmp_path) for k, v in env.items()}
    got = _probe(tmp_path, before=before.format(tmp=str(tmp_path)), **env)
    assert got["cache"] == f"{tmp_path}/users"
    assert got["settings"]["compilation_cache_dir"]["source"] == "user"
    assert got["min_compile_s"] == 1.0  # the user's cache: jax's threshold, not jaxlaws'
    assert not (tmp_path / "cache").exists()
    assert got["settings"]["cpu_devices"]["source"] in ("jaxlaws", "default")


def test_a_user_who_turned_the_cache_off_keeps_it_off(tmp_path):
    got = _probe(tmp_path, JAX_ENABLE_COMPILATION_CACHE="false")
    assert got["cache"] is None and got["entries"] == 0
    assert got["settings"]["compilation_cache_dir"]["source"] == "user"


def test_opt_out_sets_nothing(tmp_path):
    got = _probe(tmp_path, JAXLAWS_DEFAULTS="0")
    assert got["n"] == 1 and got["cache"] is None and got["entries"] == 0
    for s in got["settings"].values():
        assert s["source"] == "default" and s["value"] is None and "JAXLAWS_DEFAULTS=0" in s["reason"]
    assert not (tmp_path / "cache").exists()


def test_a_program_that_started_jax_first_keeps_what_it_had(tmp_path):
    got = _probe(tmp_path, before="import jax.numpy as jnp; float(jnp.ones(3).sum())")
    assert got["n"] == 1 and got["cache"] is None and got["entries"] == 0
    dev, cache = got["settings"]["cpu_devices"], got["settings"]["compilation_cache_dir"]
    assert dev["source"] == cache["source"] == "default"
    assert dev["value"] == 1 and cache["value"] is None
    assert "backend had started before jaxlaws was imported" in dev["reason"] == cache["reason"]
    assert not (tmp_path / "cache").exists()


def test_documented_names_exist():
    # README and the devices docstring name these; each is callable from `jl.devices`.
    for name in ("settings", "describe", "use_cpu_cores", "use_compilation_cache", "cores", "default_cache_dir"):
        assert callable(getattr(jl.devices, name)), name
    s = jl.devices.settings()
    assert set(s) == {"cpu_devices", "compilation_cache_dir"}
    assert all(isinstance(v, jl.devices.Setting) for v in s.values())
    assert jl.devices.describe().count("\n") == 1


SCRIPT = """
import json, numpy as np, jax, jaxlaws as jl
law = jl.laws.get("chinchilla")
res = jl.fit(law, "chinchilla_epoch", starts=law.to_natural(jl.starts.lhs(law, 64, seed=3)), precision="float64")
print(json.dumps({"n": jax.device_count(), "f": res.all_objective.tolist(), "best": res.objective}))
"""


def _fit_on(n_devices):
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={n_devices}", PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_two_cpu_devices_match_one():
    one, two = _fit_on(1), _fit_on(2)
    assert one["n"] == 1 and two["n"] == 2
    # Different compiled programs (per-device chunks) may round differently in the last bits; as in
    # test_engine's chunk test, lanes that stay in one basin agree to the LM stopping tolerance
    # (1e-8 relative), at most 10% may be tipped into another basin, and the best fit agrees.
    same = np.isclose(two["f"], one["f"], rtol=1e-8, atol=0)
    assert same.mean() >= 0.9
    assert abs(two["best"] - one["best"]) <= 1e-8 * one["best"]


def test_use_cpu_cores_respects_user_setting(monkeypatch):
    from jaxlaws.devices import use_cpu_cores

    monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=3")
    assert use_cpu_cores() is False
    assert os.environ["XLA_FLAGS"] == "--xla_force_host_platform_device_count=3"
