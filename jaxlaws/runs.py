"""Run directories: long runs written to disk chunk by chunk, resumable after SIGINT, SIGTERM or
``kill -9``.

A run directory holds:

* ``manifest.json``: what the run is (its *identity*: law, data fingerprint, loss, solver,
  seed, resamples, chunk size, starts, the RNG scheme, jaxlaws version) and, for information,
  the chunks done so far. A run directory made by other arguments is refused (one line);
* ``fit.npz``: the full-data fit's lanes, written first, so an interrupted run never loses it;
* ``chunk_NNNNNN.npz``: one per finished chunk of resamples. A chunk file exists only once it
  is complete (written to a temporary name in the same directory, fsynced, then renamed:
  ``os.replace`` is atomic), so the files present *are* the chunks done;
* ``log.jsonl``: one line per event (a run started or resumed, a chunk written), for people
  and tests.

Chunk ``k``'s randomness comes from ``numpy.random.default_rng([seed, k])`` alone
(:data:`RNG_SCHEME`), so a chunk computed after a resume is the chunk an uninterrupted run
computes, bit for bit. Every chunk has the same number of resamples (the last one is padded
and trimmed), so one compiled program serves them all.

With several jax processes only process 0 writes; every process reads which chunks are done
from process 0 (``broadcast_one_to_all``), so the directory need not be shared.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import zipfile
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from jaxlaws.errors import JaxlawsError

MANIFEST = "manifest.json"
FIT = "fit.npz"
LOG = "log.jsonl"
RNG_SCHEME = "numpy.random.default_rng([seed, chunk]) draws chunk's resample rows (resamples_per_chunk rows)"
FORMAT = 1

# The default chunk: about this many lanes (resamples x starts), enough that a chunk's tail
# (the last lanes keeping all slots stepping) and its few ms of dispatch are small against it ...
CHUNK_LANES = 2 ** 16
# ... and at most this many bytes of resample rows ([resamples, points] float64) per chunk: a
# chunk holds several copies of its rows at once (drawn, weighted, on each device), so this
# bounds its memory. Measured (Chinchilla, 240 points, one start): 32 MB chunks raised a
# 10^6-resample run's peak RSS to 1.43x a 10^4 one's, most of it the larger chunk's copies.
CHUNK_ROW_BYTES = 16 * 2 ** 20


def default_chunk(n: int, starts: int, points: int) -> int:
    """Resamples per chunk by default: about :data:`CHUNK_LANES` lanes, rows within
    :data:`CHUNK_ROW_BYTES`, at least 1, at most ``n``.

    A function of the request alone, never of the memory free at the time: the chunk size
    decides which rows each chunk draws (:data:`RNG_SCHEME`), so the same command must choose
    the same chunks on any machine. The row budget (16 MB) fits any machine this runs on; pass
    ``resamples_per_chunk`` to choose another.
    """
    by_rows = CHUNK_ROW_BYTES // (8 * max(points, 1))
    return int(max(1, min(n, CHUNK_LANES // max(starts, 1), by_rows)))


def recorded_chunk(path: str | None, section: str = "bootstrap") -> int | None:
    """The chunk size a run directory's manifest records (None: no such run yet), process 0's on
    every process: a resume keeps it, whatever memory is free now (:func:`default_chunk`)."""
    c = 0
    if path is not None and _is_writer():
        try:
            with open(os.path.join(path, MANIFEST)) as f:
                c = int(json.load(f).get(section, {}).get("resamples_per_chunk", 0))
        except (OSError, ValueError, TypeError, AttributeError):
            c = 0
    c = int(_broadcast(np.array(c, np.int64)))
    return c or None


def check_recorded(path: str | None, section: str, expected: Mapping[str, Any]) -> None:
    """Refuse (one line) a run directory whose ``section`` was made with other values of the keys
    in ``expected``, before anything runs: the command checks its bootstrap's arguments before
    the full-data fit, although the bootstrap's whole identity (:class:`RunDir`) needs that fit."""
    if path is None:
        return
    old: dict[str, Any] = {}
    if _is_writer():
        try:
            with open(os.path.join(path, MANIFEST)) as f:
                old = json.load(f).get(section) or {}
        except (OSError, ValueError, AttributeError):
            old = {}  # no run yet, or a manifest RunDir will refuse with its own message
    want = json.loads(json.dumps(dict(expected)))  # as a manifest holds them
    diff = sorted(k for k in want if k in old and old[k] != want[k])
    if bool(_broadcast(np.array(bool(diff)))):
        raise JaxlawsError(f"run_dir {path!r} holds a run made with other arguments "
                           f"({section}: {', '.join(diff) or 'arguments'} differ); use a new directory or the same "
                           "arguments")


def check_chunk(c: Any) -> int:
    if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or c < 1:
        raise JaxlawsError(f"resamples_per_chunk must be a positive integer, got {c!r}")
    return int(c)


def fingerprint(*arrays: Any) -> str:
    """sha256 of the arrays' dtypes, shapes and bytes (the data a run was made from)."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _is_writer() -> bool:
    import jax

    return jax.process_index() == 0


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - a platform that cannot open directories
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def atomic_write(path: str, write: Callable[[Any], None]) -> None:
    """``write(file)`` to a temporary file beside ``path``, fsync it, rename it onto ``path``:
    a reader (or a rerun after ``kill -9``) sees the old file or the whole new one, never part."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(path), dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(folder)


class RunDir:
    """A run directory (see the module docstring), opened for one identity.

    Args:
      path: the directory (created if missing).
      section: which part of the manifest this run owns (``"fit"``, ``"bootstrap"``).
      identity: JSON-ready mapping of what makes the run; refused if the directory holds
        another identity under ``section``.
    """

    def __init__(self, path: str, section: str, identity: Mapping[str, Any]) -> None:
        self.path = str(path)
        self.section = section
        self.identity = json.loads(json.dumps(dict(identity)))  # as read back
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise JaxlawsError(f"run_dir {self.path!r} is a file; give a directory")
        # Process 0's directory decides, for every process (the others may not see it).
        manifest = self._read_manifest() if _is_writer() else {}
        old = manifest.get(section)
        refused = old is not None and old != self.identity
        if bool(_broadcast(np.array(refused))):
            if not _is_writer():
                raise JaxlawsError(f"run_dir {self.path!r}: process 0 holds a run made with other arguments there")
            diff = sorted(k for k in set(old) | set(self.identity) if old.get(k) != self.identity.get(k))
            # A grid's bootstrap did not race by default before strategy "auto": say which one the run had.
            was = old.get("strategy")
            hint = ("" if "strategy" not in diff or was is None else
                    f"; it was made with strategy={'all' if was == 'None' else was}")
            raise JaxlawsError(f"run_dir {self.path!r} holds a run made with other arguments "
                               f"({section}: {', '.join(diff)} differ{hint}); use a new directory or the same "
                               "arguments")
        self.resumed = old is not None
        if _is_writer():
            os.makedirs(self.path, exist_ok=True)
            for name in os.listdir(self.path):  # a write cut short by kill -9: never renamed, never counted
                if name.startswith(".tmp-"):
                    os.unlink(self.file(name))
            if old is None:
                manifest.setdefault("format", FORMAT)
                manifest[section] = self.identity
                self._write_manifest(manifest)
            self.log("resumed" if self.resumed else "started", section=section)

    # ---- files -------------------------------------------------------------------------------
    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def _read_manifest(self) -> dict[str, Any]:
        try:
            with open(self.file(MANIFEST)) as f:
                out = json.load(f)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            raise JaxlawsError(f"run_dir {self.path!r}: cannot read {MANIFEST}: {e}") from None
        if out.get("format", FORMAT) != FORMAT:
            raise JaxlawsError(f"run_dir {self.path!r} was written in format {out.get('format')}, not {FORMAT}")
        return out

    def _write_manifest(self, manifest: Mapping[str, Any]) -> None:
        text = json.dumps(manifest, indent=1, sort_keys=True).encode()
        atomic_write(self.file(MANIFEST), lambda f: f.write(text))

    def log(self, event: str, **fields: Any) -> None:
        """Append one JSON line (process 0 only)."""
        if not _is_writer():
            return
        line = json.dumps({"event": event, "time": time.time(), "pid": os.getpid(), **fields}) + "\n"
        with open(self.file(LOG), "ab+") as f:
            f.seek(0, os.SEEK_END)
            if f.tell():  # a line cut short by kill -9 ends here: start on a line of our own
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    line = "\n" + line
            f.write(line.encode())
            f.flush()
            os.fsync(f.fileno())

    def events(self) -> list[dict[str, Any]]:
        return events(self.path)

    def save(self, name: str, arrays: Mapping[str, Any]) -> None:
        """``name`` (an ``.npz``) written atomically (process 0 only)."""
        if _is_writer():
            atomic_write(self.file(name), lambda f: np.savez(f, **arrays))

    def load(self, name: str) -> dict[str, np.ndarray] | None:
        """The arrays of ``name``, or None if it is not there (every process: broadcast from 0)."""
        path = self.file(name)
        have = _broadcast(np.array(os.path.exists(path) if _is_writer() else False))
        if not bool(have):
            return None
        if _is_writer():
            with np.load(path) as z:
                out = {k: z[k] for k in z.files}
        else:
            out = None
        return _broadcast_tree(out)

    # ---- chunks ------------------------------------------------------------------------------
    @staticmethod
    def chunk_name(k: int) -> str:
        return f"chunk_{k:06d}.npz"

    def done(self, n_chunks: int) -> np.ndarray:
        """``[n_chunks]`` bool: which chunk files are present (process 0's view, on every process)."""
        mask = np.array([os.path.exists(self.file(self.chunk_name(k))) for k in range(n_chunks)]) \
            if _is_writer() else np.zeros(n_chunks, bool)
        return np.asarray(_broadcast(mask), bool)

    def save_chunk(self, k: int, arrays: Mapping[str, Any], seconds: float, compile_s: float = 0.0) -> None:
        """Chunk ``k`` written, and logged with the seconds it took (``compile_s`` of them compiling)."""
        self.save(self.chunk_name(k), arrays)
        self.log("chunk", chunk=k, seconds=seconds, compile_s=compile_s)

    def load_chunk(self, k: int, shapes: Mapping[str, tuple[int, ...]] | None = None) -> dict[str, np.ndarray]:
        """Chunk ``k``'s arrays; refused in one line if the file cannot be read or its arrays
        are not ``shapes`` (name -> shape): a file that is not this run's chunk."""
        try:
            out = self.load(self.chunk_name(k))
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
            raise JaxlawsError(f"run_dir {self.path!r}: cannot read {self.chunk_name(k)} ({type(e).__name__}: "
                               f"{str(e).splitlines()[0] if str(e) else ''}); delete it to recompute it") from None
        if out is None:  # pragma: no cover - removed while running
            raise JaxlawsError(f"run_dir {self.path!r}: {self.chunk_name(k)} vanished")
        bad = [name for name, shape in (shapes or {}).items() if name not in out or out[name].shape != tuple(shape)]
        if bad:
            raise JaxlawsError(f"run_dir {self.path!r}: {self.chunk_name(k)} is not a chunk of this run "
                               f"({', '.join(bad)} of another shape); delete it to recompute it")
        return out

    def mark_done(self, done: np.ndarray) -> None:
        """Record in the manifest which chunks are done (``done [n_chunks]`` bool, kept as
        ``[first, last]`` ranges): for people; the chunk files are what counts."""
        if _is_writer():
            manifest = self._read_manifest()
            manifest.setdefault("progress", {})[self.section] = {
                "chunks": int(len(done)), "chunks_done": int(done.sum()), "done": ranges(done)}
            self._write_manifest(manifest)


def events(path: str) -> list[dict[str, Any]]:
    """Every complete line of a run directory's log (a line cut short by ``kill -9`` is skipped)."""
    out = []
    try:
        with open(os.path.join(path, LOG)) as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue
    except FileNotFoundError:
        pass
    return out


def ranges(mask: np.ndarray) -> list[list[int]]:
    """``[[first, last], ...]`` of the runs of True in ``mask`` (inclusive)."""
    m = np.r_[False, np.asarray(mask, bool), False].astype(np.int8)
    edges = np.flatnonzero(np.diff(m))
    return [[int(a), int(b) - 1] for a, b in zip(edges[::2], edges[1::2])]


def _broadcast(x: np.ndarray) -> np.ndarray:
    import jax

    if jax.process_count() == 1:
        return x
    from jax.experimental import multihost_utils

    with jax.enable_x64(True):  # float64 and int64 as they are
        return np.asarray(multihost_utils.broadcast_one_to_all(x))


def _broadcast_tree(tree: dict[str, np.ndarray] | None) -> dict[str, np.ndarray]:
    """Process 0's arrays on every process (shapes first, then the values)."""
    import jax

    if jax.process_count() == 1:
        return tree
    meta = json.dumps({k: [v.shape, v.dtype.str] for k, v in tree.items()}) if tree is not None else ""
    raw = np.frombuffer(meta.encode(), np.uint8)
    n = int(_broadcast(np.array(len(raw))))
    buf = np.zeros(n, np.uint8)
    buf[:len(raw)] = raw[:n]
    spec = json.loads(bytes(_broadcast(buf).astype(np.uint8)).decode())
    out = {}
    for k, (shape, dt) in spec.items():
        v = tree[k] if tree is not None else np.zeros(shape, np.dtype(dt))
        out[k] = _broadcast(v.view(np.uint8)).view(v.dtype).reshape(v.shape)  # the bytes, whatever the dtype
    return out


# ---- identities ------------------------------------------------------------------------------
def problem_identity(prob: Any) -> dict[str, Any]:
    """What a problem is, for a manifest: the law (name, parameters, fixed values, bounds), the
    data's fingerprint (inputs, observations, weights) and the loss."""
    law = prob.law
    inputs = [np.asarray(prob.inputs[k], np.float64) for k in sorted(prob.inputs)]
    return {
        "law": law.name, "law_function": law_fingerprint(law, prob.inputs), "params": list(law.params),
        "fixed": {k: float(v) for k, v in law.fixed.items()},
        "bounds": fingerprint(law.lower, law.upper), "loss": prob.loss.spec, "n_points": int(prob.n_points),
        "data": fingerprint(*inputs, prob.obs, prob.weights), "inputs": sorted(prob.inputs),
    }


def law_fingerprint(law: Any, inputs: Mapping[str, Any]) -> str:
    """A digest of what the law computes: its function traced to a jaxpr on the inputs' shapes
    (the operations and literal constants), so that a law edited under the same name (a
    notebook's) is another run, not a resume of the old one."""
    import jax
    import jax.numpy as jnp

    free = {k: jax.ShapeDtypeStruct((), jnp.float64) for k in law.params}
    x = {k: jax.ShapeDtypeStruct(np.shape(inputs[k]), jnp.float64) for k in law.inputs}
    with jax.enable_x64(True):
        jaxpr = jax.make_jaxpr(lambda p, xs: law.fn({**p, **law.fixed}, xs))(free, x)
    return hashlib.sha256(str(jaxpr).encode()).hexdigest()[:16]


def version_identity() -> dict[str, Any]:
    from jaxlaws.version import __version__

    return {"jaxlaws": __version__}


def kept(path: str) -> str:
    """What a run directory holds, in words, for the line an interrupted command prints: e.g.
    ``the fit and 3 of 10 bootstrap chunks``."""
    try:
        with open(os.path.join(path, MANIFEST)) as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return "nothing"
    fit = "the fit" if os.path.exists(os.path.join(path, FIT)) else "no fit"
    boot = manifest.get("bootstrap")
    if boot is None:
        return fit
    n_chunks = -(-int(boot["n"]) // int(boot["resamples_per_chunk"]))
    done = sum(os.path.exists(os.path.join(path, RunDir.chunk_name(k))) for k in range(n_chunks))
    return f"{fit} and {done} of {n_chunks} bootstrap chunks"
