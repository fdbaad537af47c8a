"""jaxlaws.program_store: compiled programs found again in a new process without tracing, keyed by
what decides them; a file that cannot be used is a miss, never an error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxlaws as jl
from jaxlaws import program_store as store

# A fresh process fits a law of its own; it prints its lanes, diagnostics, what it compiled or
# loaded, and the store's files.
CHILD = textwrap.dedent("""
    import json, os, sys
    import numpy as np
    import jaxlaws as jl
    from jaxlaws import program_store

    @jl.law(inputs=("x",), params={"A": jl.Param(1e-3, 1e6, scale="log"), "alpha": jl.Param(0.0, 3.0)})
    def stored_law(p, x):
        return p["A"] * x["x"] ** -p["alpha"]

    x = np.logspace(1.0, 6.0, 30)
    y = 50.0 * x ** -0.5 * np.exp(0.02 * np.random.default_rng(3).standard_normal(30))
    res = jl.fit(stored_law, jl.datasets.from_arrays(x={"x": x}, y=y), loss="mse-log", starts=16, seed=1)
    where = program_store.directory()
    print(json.dumps({
        "theta": res.all_params.tolist(), "value": res.all_objective.tolist(), "status": res.status.tolist(),
        "steps": res.steps.tolist(), "se": {k: float(v) for k, v in res.diagnostics.se.items()},
        "log": [p._asdict() for p in jl.engine.compile_log()],
        "files": sorted(os.listdir(where)) if where and os.path.isdir(where) else []}))
""")


def _child(cache_dir: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("JAXLAWS_DEFAULTS", "JAX_COMPILATION_CACHE_DIR",
                                                             "JAX_ENABLE_COMPILATION_CACHE")}
    env["JAXLAWS_CACHE_DIR"] = cache_dir
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_new_process_loads_the_stored_programs_and_a_lost_one_comes_back(tmp_path):
    first = _child(str(tmp_path))
    where = tmp_path / store.SUBDIR
    # the engine's queue program and the two diagnostics programs, compiled and stored
    assert len(first["files"]) == 3 and all(f.endswith(store.SUFFIX) for f in first["files"])
    assert [p["stored"] for p in first["log"]] == [False] and first["log"][0]["trace_s"] > 0
    # Back-date every file (a load marks its file used) and lose the queue program's.
    for f in first["files"]:
        os.utime(where / f, (1000, 1000))
    queue_file = _queue_file(where, first["files"])
    os.unlink(where / queue_file)
    second = _child(str(tmp_path))
    # The diagnostics' programs were loaded; the queue program was compiled again (the store keeps
    # no second copy in jax's cache) and stored again.
    assert [os.stat(where / f).st_mtime > 1000 for f in first["files"] if f != queue_file] == [True, True]
    assert [p["stored"] for p in second["log"]] == [False]
    assert queue_file in os.listdir(where)  # written by the time the process had ended
    third = _child(str(tmp_path))
    assert third["files"] == first["files"]  # found, not stored again under another key
    assert [p["stored"] for p in third["log"]] == [True]
    assert third["log"][0]["trace_s"] == third["log"][0]["lower_s"] == 0.0  # nothing traced
    # The loaded programs are the compiled ones: every lane and the diagnostics, bit for bit.
    for run in (second, third):
        for k in ("theta", "value", "status", "steps", "se"):
            assert run[k] == first[k], k


def _queue_file(where, files):
    """The largest stored program: the queue program (the diagnostics' two are a few kB)."""
    return max(files, key=lambda f: os.stat(where / f).st_size)


def _law(scale: float) -> jl.Law:
    table = np.array([1.0, scale])  # a constant the law closes over

    @jl.law(inputs=("x",), params={"A": jl.Param(1e-3, 1e6, scale="log"), "alpha": jl.Param(0.0, 3.0)})
    def closing(p, x):
        return p["A"] * x["x"] ** -p["alpha"] * jnp.asarray(table)[1]

    return closing


def _with_rule(factor: float) -> jl.Law:
    @jax.custom_jvp
    def power(x, a):
        return x ** -a

    @power.defjvp
    def power_jvp(primals, tangents):  # a law's own derivative rule (here deliberately scaled)
        x, a = primals
        return power(x, a), -factor * jnp.log(x) * x ** -a * tangents[1]

    @jl.law(inputs=("x",), params={"A": jl.Param(1e-3, 1e6, scale="log"), "alpha": jl.Param(0.0, 3.0)})
    def ruled(p, x):
        return p["A"] * power(x["x"], p["alpha"])

    return ruled


def _scaled(scale: str) -> jl.Law:
    @jl.law(inputs=("x",), params={"A": jl.Param(1e-3, 1e6, scale=scale), "alpha": jl.Param(0.0, 3.0)})
    def scaled(p, x):
        return p["A"] * x["x"] ** -p["alpha"]

    return scaled


def test_the_key_follows_what_decides_the_program(monkeypatch):
    X = {"x": np.ones(30)}
    a, same, edited = (store.law_digest(_law(s), True, X, True) for s in (2.0, 2.0, 3.0))
    # a derivative rule is part of the program (LM's Jacobian runs it), and a parameter's scale
    assert store.law_digest(_with_rule(1.0), True, X, True) != store.law_digest(_with_rule(7.0), True, X, True)
    assert store.law_digest(_scaled("log"), True, X, True) != store.law_digest(_scaled("linear"), True, X, True)
    assert a == same  # another object computing the same thing: the same program
    assert a != edited  # the same code closing over another value: another program
    assert a != store.law_digest(_law(2.0), False, X, True)  # linear instead of log predictions
    assert a != store.law_digest(_law(2.0), True, {"x": np.ones(31)}, True)  # another shape
    assert a != store.law_digest(_law(2.0), True, X, False)  # float32
    dev = [jax.devices()[0]]
    args = (np.zeros(3), {"x": np.zeros(30)})
    base = store.identity({"kind": "k", "solver": jl.solvers.LM()}, args, dev)
    assert base == store.identity({"kind": "k", "solver": jl.solvers.LM()}, args, dev)
    assert base != store.identity({"kind": "k", "solver": jl.solvers.LM(max_steps=7)}, args, dev)
    assert base != store.identity({"kind": "k", "solver": jl.solvers.LM()}, (np.zeros(4), {"x": np.zeros(30)}), dev)
    assert base != store.identity({"kind": "k", "solver": jl.solvers.LM()},
                                  (np.zeros(3, np.float32), {"x": np.zeros(30)}), dev)
    with jax.default_matmul_precision("float32"):  # a thread-local setting that changes a trace
        assert base != store.identity({"kind": "k", "solver": jl.solvers.LM()}, args, dev)
    monkeypatch.setattr(store, "_version", lambda package: "another")  # e.g. optax upgraded
    assert base != store.identity({"kind": "k", "solver": jl.solvers.LM()}, args, dev)


def _tiny(where):
    """A stored program (a jitted function of one array) and what loads it."""
    args, out = (jax.ShapeDtypeStruct((4,), jnp.float32),), 0
    program = {"kind": "tiny", "seed": int(np.random.default_rng().integers(1 << 62))}  # new to jax's cache too
    return store.prepare(lambda v: jnp.cumsum(v) * 3.0, args, program, out), args, out, program


def test_a_program_is_stored_once_compiled_and_a_bad_file_is_a_miss(tmp_path, monkeypatch):
    monkeypatch.setattr(store, "directory", lambda: str(tmp_path))
    finish, args, out, program = _tiny(tmp_path)
    exe = finish()
    np.testing.assert_allclose(exe(jnp.arange(4.0, dtype=jnp.float32)), [0.0, 3.0, 9.0, 18.0])
    files = os.listdir(tmp_path)
    assert len(files) == 1
    key = files[0].removesuffix(store.SUFFIX)
    dev = [jax.devices()[0]]
    program = {**program, "options": dict(store.ONCE_COMPILE_OPTIONS)}
    assert store.identity(program, args, dev) == key
    loaded = store.load(key, args, out, dev)
    np.testing.assert_allclose(loaded(jnp.arange(4.0, dtype=jnp.float32)), [0.0, 3.0, 9.0, 18.0])
    with open(tmp_path / files[0], "wb") as f:
        f.write(b"not an executable")
    assert store.load(key, args, out, dev) is None  # a miss: the caller compiles it again
    assert store.load("0" * 64, args, out, dev) is None


def test_a_stored_program_is_not_kept_twice_and_a_copy_in_jaxs_cache_is_repaired(tmp_path, monkeypatch):
    monkeypatch.setattr(store, "directory", lambda: str(tmp_path))
    # The session runs with jax's persistent cache on, writing every compile (jaxlaws' default):
    # a program not in jax's cache below is one the store kept out of it.
    assert jax.config.jax_compilation_cache_dir and jax.config.jax_persistent_cache_min_compile_time_secs == 0
    finish, args, out, _ = _tiny(tmp_path)
    finish()
    (name,) = os.listdir(tmp_path)
    key = name.removesuffix(store.SUFFIX)

    def lower(salt: str = "") -> object:  # the same program, traced anew (the same module)
        return jax.jit(store.named(lambda v: jnp.cumsum(v) * 3.0, "tiny", key, salt)).lower(*args)

    # Not written to jax's cache: compiled again, it is a fresh XLA compile, not a hit.
    jax.clear_caches()
    _, fresh = store.compile_fresh(lambda: store.compile_lowered(lower(), store.ONCE_COMPILE_OPTIONS))
    assert fresh
    # That compile (outside the store) did write jax's copy. With the store's file lost, jax's
    # cache has the program, which cannot be stored from there: it is compiled once more under
    # another name on a background thread and stored.
    os.unlink(tmp_path / name)
    jax.clear_caches()
    seen = []
    compile_fresh = store.compile_fresh

    def spy(compile_):
        exe, fresh = compile_fresh(compile_)
        seen.append(fresh)
        return exe, fresh

    monkeypatch.setattr(store, "compile_fresh", spy)
    exe = store.compile_and_store(key, lower(), lambda salt: (lower(salt), key), store.ONCE_COMPILE_OPTIONS, args,
                                  out)
    assert seen == [False]  # jax's cache served it: the repair, not the fresh path, stores it
    store.drain()
    assert os.listdir(tmp_path) == [name]
    np.testing.assert_allclose(exe(jnp.arange(4.0, dtype=jnp.float32)), [0.0, 3.0, 9.0, 18.0])
    loaded = store.load(key, args, out, [jax.devices()[0]])
    np.testing.assert_allclose(loaded(jnp.arange(4.0, dtype=jnp.float32)), [0.0, 3.0, 9.0, 18.0])


def test_an_executable_jax_loaded_from_its_own_cache_is_not_stored(tmp_path):
    # Re-serialised, such an executable lacks kernels (a new process failed to run it), so only
    # a fresh XLA compile counts. The session runs with jax's persistent cache on.
    assert jax.config.jax_compilation_cache_dir
    c = np.random.default_rng().normal()  # a program jax's cache has never seen
    lowered = jax.jit(lambda v: jnp.sin(v) + c).lower(jax.ShapeDtypeStruct((3,), jnp.float32))
    _, fresh = store.compile_fresh(lowered.compile)
    assert fresh
    jax.clear_caches()
    lowered = jax.jit(lambda v: jnp.sin(v) + c).lower(jax.ShapeDtypeStruct((3,), jnp.float32))
    _, fresh = store.compile_fresh(lowered.compile)
    assert not fresh


def test_the_store_is_off_with_the_compilation_cache():
    assert store.directory() == os.path.join(jax.config.jax_compilation_cache_dir, store.SUBDIR)
    prev = jax.config.jax_enable_compilation_cache
    jax.config.update("jax_enable_compilation_cache", False)
    try:
        assert store.directory() is None
    finally:
        jax.config.update("jax_enable_compilation_cache", prev)


def test_only_the_most_recently_used_programs_are_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(store, "MAX_FILES", 2)
    for i, name in enumerate(["old", "mid", "new"]):
        p = tmp_path / (name + store.SUFFIX)
        p.write_bytes(b"x")
        os.utime(p, (1000 + i, 1000 + i))
    (tmp_path / "other.txt").write_bytes(b"not ours")
    store._evict(str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == sorted(["mid" + store.SUFFIX, "new" + store.SUFFIX, "other.txt"])


@pytest.mark.parametrize("kind", ["queue", "diagnostics_loss_terms"])
def test_a_program_is_named_by_its_key(kind):
    # jax's cache keys a program by its module, name included: a program the store lacks is
    # never a hit in jax's cache either (so it is compiled afresh and can be stored).
    named = store.named(lambda v: v + 1, kind, "ab" * 32)
    assert named.__name__ == f"{kind}_{'ab' * 8}"
    assert f"{kind}_{'ab' * 8}" in jax.jit(named).lower(jnp.zeros(2)).as_text()
    assert store.named(lambda v: v, kind, None).__name__ == kind


def test_a_program_of_a_users_own_solver_or_loss_is_not_stored():
    # Only jaxlaws' own frozen dataclasses are known to say all of their settings in their repr.
    class MyLoss(jl.losses.Squared):
        pass

    assert store.describes(jl.solvers.LM(), jl.losses.parse("huber-log:1e-3"))
    assert not store.describes(MyLoss())
    assert not store.describes(jl.solvers.LM(), object())


def _nested(s: float) -> jl.Law:
    w = np.array([1.0, s])  # closed over by a jitted helper: a constant of its own closed jaxpr

    @jax.jit
    def scale(v):
        return v * jnp.asarray(w)[1]

    @jl.law(inputs=("x",), params={"A": jl.Param(1e-3, 1e6, scale="log"), "alpha": jl.Param(0.0, 3.0)})
    def nested(p, x):
        return scale(p["A"] * x["x"] ** -p["alpha"])

    return nested


def test_constants_of_a_nested_jit_are_in_the_key():
    X = {"x": np.ones(30)}
    assert store.law_digest(_nested(2.0), True, X, True) != store.law_digest(_nested(3.0), True, X, True)
    assert store.law_digest(_nested(2.0), True, X, True) == store.law_digest(_nested(2.0), True, X, True)


def test_a_law_with_a_custom_vmap_rule_is_not_stored():
    @jax.custom_batching.custom_vmap
    def f(a):
        return a

    @f.def_vmap
    def f_vmap(axis_size, in_batched, a):
        return a, in_batched[0]

    @jl.law(inputs=("x",), params={"A": jl.Param(1e-3, 1e6, scale="log")})
    def batched(p, x):
        return f(p["A"]) * x["x"]

    with pytest.raises(ValueError, match="custom_vmap"):
        store.law_digest(batched, True, {"x": np.ones(3)}, True)


def test_a_law_with_a_reverse_mode_rule_is_not_stored():
    # A custom_vjp rule's body is in no trace (it prints as ``bwd=<lambda>``): no key.
    @jax.custom_vjp
    def f(a):
        return a

    f.defvjp(lambda a: (a, None), lambda _, g: (g,))

    @jl.law(inputs=("x",), params={"A": jl.Param(1e-3, 1e6, scale="log")})
    def reverse(p, x):
        return f(p["A"]) * x["x"]

    with pytest.raises(ValueError, match="custom_vjp"):
        store.law_digest(reverse, True, {"x": np.ones(3)}, True)
    # The engine runs it as without the store (the first-order solvers' gradient is reverse mode).
    from jaxlaws.problem import Batch, make_problem

    data = jl.datasets.from_arrays(x={"x": np.logspace(0, 2, 12)}, y=2.0 * np.logspace(0, 2, 12))
    batch = Batch.single(make_problem(reverse, data, "mse-log"), jl.starts.lhs(reverse, 8, seed=0))
    def stored() -> set:
        where = store.directory()
        return {n for n in os.listdir(where) if n.endswith(store.SUFFIX)} if where and os.path.isdir(where) else set()

    before = stored()
    lanes = jl.engine.solve(batch, jl.solvers.LBFGS(), jl.engine.Options.make(chunk=8))
    assert lanes.converged.any()
    assert stored() <= before  # nothing stored for it
    np.testing.assert_allclose(np.exp(lanes.theta[lanes.converged, 0]), 2.0, rtol=1e-4)


def test_the_source_digest_follows_the_code_programs_run(tmp_path):
    def tree(files: dict) -> str:
        root = tmp_path / str(len(list(tmp_path.iterdir())))
        for rel, text in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)
        return store._digest_sources(str(root))

    base = {"engine/queue.py": "a", "law.py": "b", "cli.py": "c", "analysis/backtest.py": "d", "data.csv": "e"}
    d = tree(base)
    assert d == tree({**base, "cli.py": "edited", "analysis/backtest.py": "edited", "data.csv": "edited"})
    assert d != tree({**base, "engine/queue.py": "edited"})
    assert d != tree({**base, "law.py": "edited"})
    assert d != tree({**base, "engine/new_module.py": "x"})  # a module added later counts
    assert tree({"cli.py": "only host code"}) is None
