"""Compiled programs kept on disk and found again without tracing them.

jax's persistent compilation cache keys a program by its lowered HLO, so even a hit first
traces and lowers it: for the queue program of a new 5-parameter law that was ~0.3 s of a
~0.7 s fit from the cache (2-core CPU, 256 starts). This store keys a program by what decides
it instead, and keeps the executable jax serialises (``jax.experimental.serialize_executable``):

* what the law computes (:func:`law_digest`): its prediction in internal coordinates traced to a
  jaxpr at the program's input shapes and precision, with the value of every constant and literal
  in it and its sub-jaxprs, and its forward-mode derivative where it holds a ``custom_jvp`` rule
  of its own (a law edited under the same name is another program);
* the loss and solver (their ``repr``: every field of jaxlaws' frozen dataclasses), the program's
  own settings (slot count, compile options, ...), the arguments' tree, shapes and dtypes;
* the devices (ids, kinds), the platform and its version, the host CPU (an executable is
  machine code for it), jax's, jaxlib's, optax's, numpy's, Python's and jaxlaws' versions, every
  jax configuration value and the calling thread's trace context, ``XLA_FLAGS``, and jaxlaws' own
  source (every ``.py`` file but the :data:`HOST_ONLY` ones, so an edited engine misses).

The store is on where jax's persistent cache is (a cache directory set and the cache enabled),
on a CPU (the only platform it is measured and tested on) and in one process (a multi-process
program is compiled for its cluster), in ``<cache dir>/jaxlaws-programs``; a program it keeps is
not written to jax's cache as well (:func:`store_only`). Not stored: a program
built from a user's own solver or loss object (:func:`describes`), or from a law holding a rule
whose body no trace shows (``custom_vjp``, ``custom_vmap``, ``custom_transpose``). It is trusted
as jax trusts its own cache: loading an executable runs its machine code, so the directory must
be the user's own. At most :data:`MAX_FILES` programs are kept (the least recently used go
first; a 5-parameter law's queue program is ~0.6 MB). Any failure to compute a key, read or
write is a miss, never an error: the program is then traced and compiled as without the store.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import functools
import hashlib
import importlib.metadata
import math
import os
import platform
import re
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jaxlib
import numpy as np

from jaxlaws.version import __version__

_HIT_EVENT = "/jax/compilation_cache/cache_hits"
_local = threading.local()
_listening = threading.Lock()

# XLA's CPU options for the engine's queue programs (run for many steps). Measured on the 2-core
# CPU (Chinchilla grid): the classic loop emitters instead of the newer fusion emitters compile ~35% faster and run the
# solve ~8% faster; LLVM at -O1 instead of -O2 compiles ~20% faster again and runs as fast.
CPU_COMPILE_OPTIONS = {
    "xla_cpu_use_fusion_emitters": False,
    "xla_backend_optimization_level": 1,
    # XLA's default library fusions less the reduce fusion: with it, a sum over the K slots'
    # residuals switches summation order (YNNPACK) once K * m passes ~4,096 elements, so a lane's
    # last bits, and for ~5% of lanes its status, depended on the slot count and hence on the
    # device count. Without it every lane is bit-identical for any K (measured K = 8..128), at
    # no measurable cost (warm grid and a 36,000-lane bootstrap within noise).
    "xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT,LIBRARY_FUSION_TYPE_INDIVIDUAL_CONVOLUTION",
}

# XLA's CPU options for a program run once (the diagnostics at the best point): LLVM at -O0 halves
# the code generation a new law's diagnostics cost on a cold start (measured on the 2-core CPU),
# and the one evaluation runs in well under a millisecond either way.
ONCE_COMPILE_OPTIONS = {"xla_cpu_use_fusion_emitters": False, "xla_backend_optimization_level": 0}

SUFFIX = ".jaxlaws-exe"
MAX_FILES = 256
STALE_TMP_S = 3600.0  # a save takes well under a second: an older temporary file is a killed one's
SUBDIR = "jaxlaws-programs"


def directory() -> str | None:
    """Where programs are stored, or None where the store is off (see the module docstring)."""
    path = jax.config.jax_compilation_cache_dir
    if not path or not jax.config.jax_enable_compilation_cache or jax.process_count() > 1:
        return None
    if jax.default_backend() != "cpu":
        return None  # measured and tested on CPUs only: an accelerator keeps jax's own cache alone
    return os.path.join(path, SUBDIR)


def describes(*objects: Any) -> bool:
    """Whether each object's ``repr`` is all of its configuration: jaxlaws' own frozen dataclasses
    (solvers, losses) are; a user's object may not be (a ``repr`` that omits a setting would
    let two different programs share a key), so a program built from one is not stored."""
    return all(dataclasses.is_dataclass(o) and type(o).__module__.startswith("jaxlaws.") for o in objects)


# jaxlaws' modules whose code never runs inside a stored program (the command line, reports,
# plots, analyses, datasets, run directories, settings): an edit to one leaves the stored programs
# valid. Every other module, and any module added later, counts (the safe default).
HOST_ONLY = ("__main__.py", "cli.py", "report.py", "plot.py", "bench.py", "runs.py", "estimate.py", "distributed.py",
             "devices.py", "version.py", "intervals.py", "basins.py", "errors.py", "analysis/", "datasets/")


def _digest_sources(root: str) -> str | None:
    """Every ``.py`` file under ``root`` but :data:`HOST_ONLY`, by relative path and content;
    None where none is found."""
    h = hashlib.sha256()
    found = False
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            rel = os.path.relpath(os.path.join(dirpath, name), root).replace(os.sep, "/")
            if name.endswith(".py") and not any(rel == m or rel.startswith(m) for m in HOST_ONLY):
                h.update(rel.encode())
                try:
                    with open(os.path.join(dirpath, name), "rb") as f:
                        h.update(hashlib.sha256(f.read()).digest())
                except OSError:  # unreadable (e.g. an editor's lock link): the source is unknown
                    return None
                found = True
    return h.hexdigest() if found else None


@functools.lru_cache(maxsize=1)
def _source_digest() -> str | None:
    """jaxlaws' own source as it enters stored programs (:func:`_digest_sources`); None where no
    source file is found (a zipped or frozen install: the store is then off, as an edited engine
    could not be told from the stored one). Read once per process: a module reloaded after an
    edit is not seen (a new process sees it)."""
    return _digest_sources(os.path.dirname(os.path.abspath(__file__)))


@functools.lru_cache(maxsize=1)
def _host() -> str:
    """The host CPU an executable is machine code for: its architecture, model and feature flags."""
    parts = [platform.machine(), platform.processor()]
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key = line.split(":", 1)[0].strip()
                if key in ("model name", "flags", "Features", "CPU implementer", "CPU part"):
                    parts.append(line.strip())
                elif not line.strip():
                    break  # the first processor's block is enough: the others match it
    except OSError:
        pass
    return "\n".join(parts)


def _digest_array(h: Any, a: Any) -> None:
    a = np.asarray(a)
    h.update(f"{a.dtype.str}{a.shape}".encode())
    h.update(np.ascontiguousarray(a).tobytes())


def _sub_jaxprs(params: Mapping[str, Any]) -> list[Any]:
    """The jaxprs among an equation's parameters, closed ones kept closed: a nested ``jax.jit``
    holds the arrays it closes over as its closed jaxpr's constants, which ``jaxprs_in_params``
    (open jaxprs) would drop."""
    from jax.extend import core

    found = []
    for v in params.values():
        for x in v if isinstance(v, (tuple, list)) else (v,):
            if isinstance(x, (core.ClosedJaxpr, core.Jaxpr)):
                found.append(x)
    return found


# Rules whose bodies a jaxpr prints only by name (``bwd=<lambda>``, a masked rule object): a law
# holding one cannot be told from an edited one, so it is not stored.
_OPAQUE_RULES = ("custom_vjp", "custom_lin", "custom_vmap", "custom_transpose")


def _digest_jaxpr(h: Any, closed: Any) -> bool:
    """A jaxpr's text, and the value of every constant and literal in it and its sub-jaxprs: the
    text alone leaves out a constant array's values (and, with jax's simplified constants, prints
    array literals as ``[...]``). True if it holds a ``custom_jvp`` rule (whose body it does not
    show); a rule of :data:`_OPAQUE_RULES` raises (its body is in no trace)."""
    from jax.extend import core

    jaxpr = closed.jaxpr if isinstance(closed, core.ClosedJaxpr) else closed
    h.update(str(closed).encode())
    for c in getattr(closed, "consts", ()):
        _digest_array(h, c)
    custom = False
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        if any(r in name for r in _OPAQUE_RULES):
            raise ValueError(f"a {name} rule is not in the trace: not stored")
        custom |= "custom_jvp" in name
        for v in eqn.invars:
            if isinstance(v, core.Literal):
                _digest_array(h, v.val)
        for sub in _sub_jaxprs(eqn.params):
            custom |= _digest_jaxpr(h, sub)
    for v in jaxpr.outvars:
        if isinstance(v, core.Literal):
            _digest_array(h, v.val)
    return custom


_DIGESTS: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], str]] = weakref.WeakKeyDictionary()
_DIGEST_LOCK = threading.Lock()


def law_digest(law: Any, log_space: bool, X: Mapping[str, Any], x64: bool) -> str:
    """What ``law`` computes as a program sees it: its prediction (log or linear) in internal
    coordinates at the shapes of ``X`` in the given precision, traced to a jaxpr with the value
    of every constant and literal (:func:`_digest_jaxpr`). Its derivatives follow from that
    jaxpr and jax's version (keyed), except a ``custom_jvp`` rule of the law's own: where the
    jaxpr holds one, the forward-mode derivative (the Jacobian LM takes; reverse mode, the
    first-order solvers' gradient, transposes that same rule) is traced into the digest too. A
    law with a ``custom_vjp`` rule raises here (the rule's body is in no trace), and is not
    stored. Kept per law object (the engine's and the diagnostics' keys ask for the same one)."""
    shapes = tuple(sorted((k, tuple(np.shape(v))) for k, v in X.items()))
    with _DIGEST_LOCK:  # a repair (another thread) may ask for a digest too
        memo = _DIGESTS.setdefault(law, {})
        if (log_space, shapes, x64) in memo:
            return memo[log_space, shapes, x64]
    dt = np.float64 if x64 else np.float32
    theta = jax.ShapeDtypeStruct((law.n_params,), dt)
    xs = {k: jax.ShapeDtypeStruct(v, dt) for k, v in shapes}
    predict = law.log_predict_internal if log_space else law.predict_internal
    h = hashlib.sha256()
    with jax.enable_x64(x64):
        if _digest_jaxpr(h, jax.make_jaxpr(predict)(theta, xs)):
            _digest_jaxpr(h, jax.make_jaxpr(lambda th, x, t: jax.jvp(lambda u: predict(u, x), (th,), (t,)))(
                theta, xs, theta))
    with _DIGEST_LOCK:
        memo[log_space, shapes, x64] = h.hexdigest()
    return h.hexdigest()


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return ""


def _trace_context() -> str:
    """jax's thread-local settings that change a trace (e.g. ``with jax.default_matmul_precision``),
    which ``jax.config.values`` (the global ones) does not show."""
    try:
        from jax._src import config

        # Objects print with their address (the axis environment): not a setting.
        return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(config.trace_context()))
    except (ImportError, AttributeError):  # another jax: the global settings are keyed still
        return ""


def key(program: Mapping[str, Any], args: Any, devices: Any) -> str | None:
    """:func:`identity`, or None where the store is off or a part of the key cannot be computed
    (the program is then compiled as without the store: never an error of the store's)."""
    try:
        if directory() is None or _source_digest() is None:
            return None
        return identity(program, args, devices)
    except Exception:  # noqa: BLE001 - no key, no store; the fit goes on
        return None


def identity(program: Mapping[str, Any], args: Any, devices: Any) -> str:
    """The store's key for a program: ``program`` (what the caller knows decides it: law digest,
    loss, solver, settings) with the arguments' tree, shapes and dtypes, ``devices`` (a sequence
    of jax devices) and everything of the machine and software that could change the code."""
    leaves, tree = jax.tree.flatten(args)
    parts = {
        "program": sorted((k, repr(v)) for k, v in program.items()),
        "args": (str(tree), [(np.shape(a), str(a.dtype)) for a in leaves]),
        "devices": [(d.id, d.device_kind, d.platform) for d in devices],
        "platform": (jax.default_backend(), devices[0].client.platform_version),
        "host": _host(),
        "versions": (jax.__version__, jaxlib.__version__, _version("optax"), np.__version__, sys.version,
                     __version__, _source_digest()),
        "config": sorted((k, repr(v)) for k, v in jax.config.values.items()),
        "context": _trace_context(),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
    }
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _prepare() -> None:
    """Register the LAPACK kernels a CPU program may call (LM's library Cholesky): jax does it
    when it lowers a linear-algebra operation, which a program loaded from the store never
    was in this process; an executable calling an unregistered kernel crashes the process."""
    if jax.default_backend() != "cpu":
        return
    try:
        from jax._src.lax import linalg

        linalg.initialize_lapack()
    except (ImportError, AttributeError):  # another jax: lowering one Cholesky registers them
        import jax.numpy as jnp

        jax.jit(jnp.linalg.cholesky).lower(jax.ShapeDtypeStruct((2, 2), np.float32))


def _on_event(event: str, **kwargs: Any) -> None:
    if event == _HIT_EVENT:
        _local.hits = getattr(_local, "hits", 0) + 1


def named(fn: Callable[..., Any], kind: str, key: str | None, salt: str = "") -> Callable[..., Any]:
    """``fn`` named ``<kind>_<key><salt>`` (``<kind>`` without a key), the name its jitted
    program's module takes. jax's persistent cache keys a program by its module, name included,
    so a program the store never held is not in jax's cache either: XLA compiles it, and only a
    fresh compile can be stored (:func:`compile_fresh`; :func:`compile_and_store` salts the name
    where jax's cache has it nonetheless)."""

    def program(*args: Any) -> Any:
        return fn(*args)

    program.__name__ = program.__qualname__ = f"{kind}_{key[:16]}{salt}" if key else kind
    return program


_REPAIRS: list[concurrent.futures.ThreadPoolExecutor] = []


def store_only() -> contextlib.AbstractContextManager[Any]:
    """A context in which this thread's compiles are not written to jax's persistent cache: a
    program the store keeps is not kept twice. jax writes its copy inside the compile, before the
    program can run (0.04-0.06 s for a new 5-parameter law's queue program on the 2-core CPU),
    and would read it back only if the store lost its file (the program's name is its store key,
    :func:`named`). It sets jax's threshold for writing, ``jax_persistent_cache_min_compile_time_secs``,
    to infinity for the calling thread only (the user's own value serves every other compile); a
    jax without that thread-local setting writes its copy as before."""
    try:
        from jax._src import config

        return config.persistent_cache_min_compile_time_secs(math.inf)
    except (ImportError, AttributeError, TypeError):
        return contextlib.nullcontext()


def compile_and_store(key: str | None, lowered: Any, relower: Callable[[str], tuple[Any, str | None]],
                      cpu_options: Mapping[str, Any], args: Any, out_example: Any) -> Any:
    """``lowered`` compiled (see :func:`compile_lowered`) and stored under ``key`` (None: not),
    and not written to jax's persistent cache as well (:func:`store_only`).

    Where jax's persistent cache had the program nonetheless (written by a jax without the
    setting :func:`store_only` uses) and the store had lost its file (evicted, deleted, a save
    that failed), the executable jax loaded cannot be stored (:func:`compile_fresh`), and every
    later process would miss the store again. So the program is compiled once more on a
    background thread: ``relower(salt)`` lowers it under a name jax's cache has never seen, in
    the precision it runs in, and returns it with its key as computed there; it is stored only if
    that key is ``key`` (a thread-local setting of the caller's, which the background thread
    lacks, changes the key: then nothing is stored). A process waits at exit for its repairs. A
    stored program whose file is lost is otherwise compiled again, in full, by the next process."""
    if key is None:
        return compile_lowered(lowered, cpu_options)
    with store_only():
        exe, fresh = compile_fresh(lambda: compile_lowered(lowered, cpu_options))
    if fresh:
        save(key, exe, args, out_example)
        return exe

    def repair() -> None:
        try:
            # The key outside store_only: inside it jax.config.values reads this thread's
            # threshold (infinity), which the key hashes, and no key would ever match.
            again, key_here = relower("_r" + os.urandom(4).hex())
            if key_here == key:
                with store_only():
                    compiled = compile_lowered(again, cpu_options)
                save(key, compiled, args, out_example)
        except Exception:  # noqa: BLE001 - not repaired: the next process tries again
            pass

    try:
        with _listening:
            if not _REPAIRS:
                _REPAIRS.append(concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="jaxlaws-store"))
        _REPAIRS[0].submit(repair)
    except RuntimeError:  # no thread to be had (e.g. the interpreter is shutting down): not repaired
        pass
    return exe


def drain() -> None:
    """Wait for the repairs this process began (benchmarks, before timing a cold start)."""
    if _REPAIRS:
        _REPAIRS[0].submit(lambda: None).result()


def compile_fresh(compile_: Callable[[], Any]) -> tuple[Any, bool]:
    """``compile_()`` and whether XLA compiled it (True) rather than jax's persistent cache
    loading it (False). Only a fresh compile is stored: an executable jax loaded from its cache
    serialises without all of its kernels (measured: a new process loading it failed with
    ``Function bitcast_concatenate_fusion not found``). jax reports a hit on the compiling
    thread, so hits are counted per thread."""
    with _listening:
        if not getattr(compile_fresh, "listening", False):
            jax.monitoring.register_event_listener(_on_event)
            compile_fresh.listening = True  # type: ignore[attr-defined]
    before = getattr(_local, "hits", 0)
    exe = compile_()
    return exe, getattr(_local, "hits", 0) == before


def load(key: str, args: Any, out_example: Any, devices: Any) -> Any | None:
    """The stored executable for ``key``, called with ``args`` and returning the tree of
    ``out_example``; None if it is not stored or cannot be loaded."""
    where = directory()
    if where is None:
        return None
    path = os.path.join(where, key + SUFFIX)
    try:
        with open(path, "rb") as f:
            blob = f.read()
        from jax.experimental import serialize_executable

        _prepare()
        exe = serialize_executable.deserialize_and_load(
            blob, jax.tree.structure((args, {})), jax.tree.structure(out_example), execution_devices=list(devices))
    except FileNotFoundError:
        return None
    except Exception:  # noqa: BLE001 - an unreadable or incompatible file is a miss; it is replaced
        return None
    try:
        os.utime(path)  # recently used: kept longest
    except OSError:  # a store the user may read but not write still serves
        pass
    return exe


def save(key: str, compiled: Any, args: Any, out_example: Any) -> bool:
    """Store ``compiled`` under ``key`` (written to a temporary file, then renamed); False where
    the store is off, the executable cannot be serialised, or its trees are not the ones
    :func:`load` rebuilds from ``args`` and ``out_example``."""
    where = directory()
    if where is None:
        return False
    try:
        from jax.experimental import serialize_executable

        blob, in_tree, out_tree = serialize_executable.serialize(compiled)
        if in_tree != jax.tree.structure((args, {})) or out_tree != jax.tree.structure(out_example):
            return False
        os.makedirs(where, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=where, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
            os.replace(tmp, os.path.join(where, key + SUFFIX))
        except BaseException:
            os.unlink(tmp)
            raise
        _evict(where)
        return True
    except Exception:  # noqa: BLE001 - a program not stored is compiled again next time, nothing more
        return False


def _evict(where: str) -> None:
    """Keep the :data:`MAX_FILES` most recently used programs, and remove the temporary files of
    saves that a killed process left (older than :data:`STALE_TMP_S`)."""
    now = time.time()
    for n in os.listdir(where):
        if n.endswith(".tmp"):
            p = os.path.join(where, n)
            try:
                if now - os.stat(p).st_mtime > STALE_TMP_S:
                    os.unlink(p)
            except OSError:
                pass
    files = [os.path.join(where, n) for n in os.listdir(where) if n.endswith(SUFFIX)]
    if len(files) <= MAX_FILES:
        return
    def age(p: str) -> float:
        try:
            return os.stat(p).st_mtime
        except OSError:  # removed meanwhile (another process evicting)
            return -1.0

    by_age = sorted(files, key=age)
    for p in by_age[:len(files) - MAX_FILES]:
        try:
            os.unlink(p)
        except OSError:
            pass


def compile_lowered(lowered: Any, cpu_options: Mapping[str, Any]) -> Any:
    """``lowered`` compiled, with ``cpu_options`` on a CPU. An XLA that lacks (or rejects the
    value of) an option compiles without that one: its default serves for it."""
    if jax.default_backend() != "cpu":
        return lowered.compile()
    options = dict(cpu_options)
    while True:
        try:
            return lowered.compile(compiler_options=options)
        except jax.errors.JaxRuntimeError as e:
            rejected = [k for k in options if k in str(e)]
            if not rejected or "option" not in str(e).lower() and "valid" not in str(e).lower():
                raise
            for k in rejected:
                del options[k]


def prepare(fn: Callable[..., Any], args: tuple[Any, ...], program: Mapping[str, Any] | None, out_example: Any,
            cpu_options: Mapping[str, Any] = ONCE_COMPILE_OPTIONS) -> Callable[[], Any]:
    """``jax.jit(fn)`` for ``args`` (arrays or ``jax.ShapeDtypeStruct``, on the default device) made
    ready to compile: loaded from the store where it holds the program ``program`` describes
    (see :func:`identity`), else traced and lowered now. The function returned finishes it (the
    loaded program, or XLA's compile with ``cpu_options`` on a CPU, then the store's save) and may
    run on another thread, inside the precision context the program runs in. ``out_example``: a
    tree of the outputs' structure (the store rebuilds the call's trees from it and ``args``
    instead of tracing). ``program`` None: not stored (what decides it could not be described)."""
    devices = [jax.devices()[0]]
    program = {"kind": "program"} if program is None else {**program, "options": dict(cpu_options)}
    stored = len(program) > 1
    objects = [v for v in program.values() if not isinstance(v, (str, int, float, bool, type(None), tuple, dict))]
    k = key(program, args, devices) if stored and describes(*objects) else None
    exe = None if k is None else load(k, args, out_example, devices)
    if exe is not None:
        return lambda: exe
    kind = str(program.get("kind", "program"))
    x64 = any(np.dtype(a.dtype) == np.float64 for a in jax.tree.leaves(args))

    def relower(salt: str) -> tuple[Any, str | None]:
        with jax.enable_x64(x64):
            return jax.jit(named(fn, kind, k, salt)).lower(*args), key(program, args, devices)

    lowered = jax.jit(named(fn, kind, k)).lower(*args)
    return lambda: compile_and_store(k, lowered, relower, cpu_options, args, out_example)
