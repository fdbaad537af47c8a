"""The compiled-program cache: one object holds every queue program this process compiled,
the ones compiling in the background, and the slot-state shapes.

A program is keyed by (law, loss, solver, K, argument shapes and dtypes): the data are
arguments, so one program serves every dataset of the same shape. The law object itself
(hashed by identity) is in the key: holding it keeps its id from being reused by a new law
while the program lives.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from typing import Any, NamedTuple

import jax

from jaxlaws import program_store as store
from jaxlaws.engine import mesh, queue
from jaxlaws.law import Law
from jaxlaws.losses import Loss
from jaxlaws.solvers import iterate
from jaxlaws.solvers.base import Solver


def _shapes(tree: Any) -> tuple[Any, ...]:
    return tuple((a.shape, str(a.dtype)) for a in jax.tree.leaves(tree))


def _mesh_of(args: tuple[Any, ...]) -> Any:
    """The mesh the arguments were placed on (the slots' sharding): the devices that run, taken
    from the call itself rather than from any setting."""
    return jax.tree.leaves(args[0])[0].sharding.mesh


class Compiled(NamedTuple):
    """Where one program's compile time went (seconds; see :attr:`ProgramCache.log`)."""

    law: str
    solver: str
    K: int
    dtype: str  # of the lanes' parameters: float32 or float64
    trace_s: float  # Python tracing of the queue program to a jaxpr
    lower_s: float  # the jaxpr to StableHLO
    compile_s: float  # XLA: optimisation passes and code generation (or a persistent-cache load)
    background: bool  # compiled on a background thread (compile_ahead)
    stored: bool = False  # loaded from jaxlaws' program store (nothing traced or compiled; compile_s: the load)


def _lower(law: Law, loss: Loss, solver: Solver, args: tuple[Any, ...], K: int,
           store_key: str | None = None, salt: str = "") -> tuple[Any, float, float]:
    """The queue program traced and lowered for these arguments (in the caller's precision),
    with the seconds spent tracing and lowering. With ``store_key``, the program is named by
    it (see :func:`jaxlaws.program_store.named`)."""
    t0 = time.perf_counter()
    fn = store.named(queue.build(law, loss, solver, K), "queue", store_key, salt)
    devices = _mesh_of(args)
    if devices.size > 1:
        # Lanes are independent: shard_map runs each device's slots and queue on its own, with
        # no cross-device communication. Slots and queue carry the lane axis; the final-call
        # flag and the data are replicated.
        specs = (mesh.LANES, mesh.LANES, mesh.REPLICATED, mesh.REPLICATED)
        fn = jax.shard_map(fn, mesh=devices, in_specs=specs, out_specs=mesh.LANES, check_vma=False)
    traced = jax.jit(fn).trace(*args)
    t1 = time.perf_counter()
    lowered = traced.lower()
    return lowered, t1 - t0, time.perf_counter() - t1


def _theta_dtype(args: tuple[Any, ...]) -> str:
    return str(args[0].lane.state.theta.dtype)


def _store_key(law: Law, loss: Loss, solver: Solver, args: tuple[Any, ...], K: int) -> str | None:
    """The program store's key for the queue program of ``args`` (None: not stored)."""
    if store.directory() is None or not store.describes(loss, solver):
        return None
    x64 = _theta_dtype(args) == "float64"
    try:
        digest = store.law_digest(law, loss.log_space, args[3].X, x64)
    except Exception:  # noqa: BLE001 - a law the digest cannot trace is compiled as without the store
        return None
    program = {"kind": "queue", "law": digest, "loss": loss, "solver": solver, "K": K, "x64": x64,
               "options": store.CPU_COMPILE_OPTIONS}
    return store.key(program, args, list(_mesh_of(args).devices.flat))


def _out_example(args: tuple[Any, ...]) -> Any:
    """A tree of the queue program's outputs' structure (the slots, then the records)."""
    return args[0], queue.Records(*range(len(queue.Records._fields)))


def _load(key: str | None, args: tuple[Any, ...]) -> Any | None:
    return None if key is None else store.load(key, args, _out_example(args), list(_mesh_of(args).devices.flat))


def _compile_and_save(law: Law, loss: Loss, solver: Solver, args: tuple[Any, ...], K: int, key: str | None,
                      lowered: Any) -> Any:
    """``lowered`` compiled and put in the program store (see
    :func:`jaxlaws.program_store.compile_and_store`)."""
    x64 = _theta_dtype(args) == "float64"

    def relower(salt: str) -> tuple[Any, str | None]:
        with jax.enable_x64(x64):
            return _lower(law, loss, solver, args, K, key, salt)[0], _store_key(law, loss, solver, args, K)

    return store.compile_and_store(key, lowered, relower, store.CPU_COMPILE_OPTIONS, args, _out_example(args))


class ProgramCache:
    """Compiled queue programs, background compiles and slot shapes of this process."""

    def __init__(self) -> None:
        self.compiled: dict[tuple[Any, ...], Any] = {}
        self.pending: dict[tuple[Any, ...], concurrent.futures.Future] = {}
        self.shapes: dict[tuple[Any, ...], Any] = {}
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        # One entry per program compiled (in order): where its compile time went. Kept for
        # benchmarks and the cold-start breakdown; a few small tuples per program.
        self.log: list[Compiled] = []
        self._lock = threading.Lock()

    @staticmethod
    def key(law: Law, loss: Loss, solver: Solver, args: Any, K: int) -> tuple[Any, ...]:
        return (law, loss, solver, K, _shapes(args), tuple(d.id for d in _mesh_of(args).devices.flat))

    def slot_shape(self, law: Law, loss: Loss, solver: Solver, K: int, data: queue.Data) -> Any:
        """The shapes of ``K`` initialised lanes (traced once per setting, like the programs)."""
        key = (law, loss, solver, K, _shapes(data))
        if key not in self.shapes:
            theta = jax.ShapeDtypeStruct((K, law.n_params), data.lower.dtype)
            self.shapes[key] = jax.eval_shape(
                jax.vmap(lambda t: iterate.init(solver, t, data.lower[0], data.upper[0])), theta)
        return self.shapes[key]

    def _from_store(self, law: Law, loss: Loss, solver: Solver, args: tuple[Any, ...],
                    K: int) -> tuple[str | None, Any | None]:
        """The program store's key for this program and the program loaded from it (None: not
        stored), the load logged."""
        t = time.perf_counter()
        skey = _store_key(law, loss, solver, args, K)
        exe = _load(skey, args)
        if exe is not None:
            self.log.append(Compiled(law.name, type(solver).__name__.lower(), K, _theta_dtype(args), 0.0, 0.0,
                                     time.perf_counter() - t, False, True))
        return skey, exe

    def get(self, law: Law, loss: Loss, solver: Solver, args: tuple[Any, ...], K: int) -> tuple[Any, float]:
        """The compiled program for ``args`` and the seconds this call waited for it (tracing,
        compiling, or the rest of a background compile)."""
        key = self.key(law, loss, solver, args, K)
        if key in self.compiled:
            return self.compiled[key], 0.0
        t = time.perf_counter()
        pending = self.pending.pop(key, None)
        if pending is not None:
            exe = pending.result()
        else:
            skey, exe = self._from_store(law, loss, solver, args, K)
            if exe is None:
                lowered, trace_s, lower_s = _lower(law, loss, solver, args, K, skey)
                t1 = time.perf_counter()
                exe = _compile_and_save(law, loss, solver, args, K, skey, lowered)
                self.log.append(Compiled(law.name, type(solver).__name__.lower(), K, _theta_dtype(args), trace_s,
                                         lower_s, time.perf_counter() - t1, False))
        self.compiled[key] = exe
        return exe, time.perf_counter() - t

    def compile_ahead(self, law: Law, loss: Loss, solver: Solver, args: tuple[Any, ...], K: int, x64: bool) -> float:
        """Trace and lower the program for ``args`` now (inside ``enable_x64(x64)``) and compile it
        on a background thread (XLA releases the GIL while it compiles), so that a later
        :meth:`get` finds it ready or part done; or load it from the program store
        (:mod:`jaxlaws.program_store`). The seconds spent here (0 if it was ready or on its way)."""
        key = self.key(law, loss, solver, args, K)
        if key in self.compiled or key in self.pending:
            return 0.0
        t = time.perf_counter()
        name, dtype = law.name, _theta_dtype(args)
        skey, exe = self._from_store(law, loss, solver, args, K)
        if exe is not None:  # stored: nothing to trace or compile
            self.compiled[key] = exe
            return time.perf_counter() - t
        lowered, trace_s, lower_s = _lower(law, loss, solver, args, K, skey)

        def compile_() -> Any:
            t1 = time.perf_counter()
            with jax.enable_x64(x64):  # the precision context is per thread
                exe = _compile_and_save(law, loss, solver, args, K, skey, lowered)
            self.log.append(Compiled(name, type(solver).__name__.lower(), K, dtype, trace_s, lower_s,
                                     time.perf_counter() - t1, True))
            return exe

        with self._lock:
            if self._executor is None:
                self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=2,
                                                                       thread_name_prefix="jaxlaws-compile")
        self.pending[key] = self._executor.submit(compile_)
        return time.perf_counter() - t

    def count(self) -> int:
        return len(self.compiled)

    def clear(self) -> None:
        # Let background compiles and the store's repairs finish (failed or not), so that none
        # lands after the clear or runs beside what is timed next.
        concurrent.futures.wait(list(self.pending.values()))
        store.drain()
        self.pending.clear()
        self.compiled.clear()
        self.shapes.clear()
        self.log.clear()
        jax.clear_caches()


CACHE = ProgramCache()


def compile_count() -> int:
    """How many engine programs this process has compiled (for tests and benchmarks)."""
    return CACHE.count()


def compile_log() -> list[Compiled]:
    """Where each program this process compiled spent its compile time, in order (benchmarks)."""
    return list(CACHE.log)


def clear_compiled() -> None:
    """Forget this process's compiled programs (benchmarks use it to time cold starts)."""
    CACHE.clear()
