"""Devices and the compilation cache: what ``import jaxlaws`` sets, and what it leaves alone.

jax shows one CPU device unless told otherwise, and the engine spreads lanes over
``jax.devices()``; jax also compiles every program afresh in each process unless its
persistent compilation cache is on. So when jaxlaws is imported it sets, **only if jax's
backend has not started yet and the user has set nothing of the kind themselves**:

* the CPU device count to the number of usable cores (jax's ``jax_num_cpu_devices``,
  which XLA reads once, when the backend starts);
* the persistent compilation cache directory to ``$JAXLAWS_CACHE_DIR``, else
  ``$XDG_CACHE_HOME/jaxlaws/xla``, else ``~/.cache/jaxlaws/xla``, caching every compile
  (``jax_persistent_cache_min_compile_time_secs = 0`` unless the user set it; the programs
  jaxlaws' own store keeps are kept there alone, see :func:`jaxlaws.program_store.store_only`).

A user's setting always wins: ``XLA_FLAGS=--xla_force_host_platform_device_count=N``,
``JAX_NUM_CPU_DEVICES`` or ``jax.config.update("jax_num_cpu_devices", N)`` before the
import; ``JAX_COMPILATION_CACHE_DIR``, ``jax_compilation_cache_dir`` or
``JAX_ENABLE_COMPILATION_CACHE=false``. A program that ran a jax computation before importing
jaxlaws keeps what it had. ``JAXLAWS_DEFAULTS=0`` turns all of this off.
:func:`settings` says, for each, what it is, who set it and why.
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Any

OPT_OUT = "JAXLAWS_DEFAULTS"
CACHE_DIR_ENV = "JAXLAWS_CACHE_DIR"
_COUNT_FLAG = re.compile(r"--xla_force_host_platform_device_count=(\d+)")
_MIN_COMPILE = "jax_persistent_cache_min_compile_time_secs"


@dataclasses.dataclass(frozen=True)
class Setting:
    """One jax setting as jaxlaws found or made it.

    Attributes:
      name: ``cpu_devices`` or ``compilation_cache_dir``.
      value: the value set or found (None: not set, so jax's default: one CPU device, no cache).
      source: ``"jaxlaws"`` (set on import), ``"user"`` (the user set it; left alone),
        ``"call"`` (set by :func:`use_cpu_cores` / :func:`use_compilation_cache`), or
        ``"default"`` (jax's own default, left in place).
      reason: why, in words.
    """

    name: str
    value: Any
    source: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def __str__(self) -> str:
        verb = {"jaxlaws": "set by jaxlaws", "call": "set by a call", "user": "the user's, left alone",
                "default": "jax's default, left alone"}[self.source]
        return f"{self.name} = {self.value!r} ({verb}: {self.reason})"


_SETTINGS: dict[str, Setting] = {}


def settings() -> dict[str, Setting]:
    """name -> :class:`Setting`: the CPU device count and the compilation cache directory,
    with who set them and why (see the module docstring)."""
    return dict(_SETTINGS)


def describe() -> str:
    """:func:`settings` as lines of text."""
    return "\n".join(str(s) for s in _SETTINGS.values())


def cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def backend_started() -> bool:
    """Whether jax's backend is up (after which the device count can no longer change)."""
    try:
        from jax._src import xla_bridge

        return bool(xla_bridge.backends_are_initialized())
    except (ImportError, AttributeError):  # pragma: no cover - an older or newer jax
        return False


def _opted_out() -> str | None:
    v = os.environ.get(OPT_OUT)
    return f"{OPT_OUT}={v}" if v is not None and v.strip().lower() in ("0", "false", "no", "off") else None


def _user_device_count() -> Setting | None:
    """The user's own CPU device count, if they set one."""
    import jax

    flags = os.environ.get("XLA_FLAGS", "")
    m = _COUNT_FLAG.search(flags)
    if "xla_force_host_platform_device_count" in flags:
        return Setting("cpu_devices", int(m.group(1)) if m else None, "user",
                       "XLA_FLAGS sets --xla_force_host_platform_device_count")
    if os.environ.get("JAX_NUM_CPU_DEVICES"):
        v = os.environ["JAX_NUM_CPU_DEVICES"]
        return Setting("cpu_devices", int(v) if v.strip().isdigit() else v, "user", "JAX_NUM_CPU_DEVICES is set")
    ours = _SETTINGS.get("cpu_devices")
    n = getattr(jax.config, "jax_num_cpu_devices", -1)
    if n != -1 and not (ours is not None and ours.source in ("jaxlaws", "call") and ours.value == n):
        return Setting("cpu_devices", n, "user", "jax_num_cpu_devices was set before jaxlaws was imported")
    return None


def _set_device_count(n: int) -> str:
    """Ask jax for ``n`` CPU devices; how it was asked."""
    import jax

    try:
        jax.config.update("jax_num_cpu_devices", n)
        return "jax_num_cpu_devices"
    except (AttributeError, RuntimeError):  # pragma: no cover - a jax without the option
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={n}".strip()
        return "XLA_FLAGS"


def _devices_in_effect() -> int | None:
    import jax

    try:
        return len(jax.devices("cpu"))
    except RuntimeError:  # JAX_PLATFORMS without cpu
        return None


def _default_devices() -> Setting:
    user = _user_device_count()
    if user is not None:
        return user
    if backend_started():
        return Setting("cpu_devices", _devices_in_effect(), "default",
                       "jax's backend had started before jaxlaws was imported")
    out = _opted_out()
    if out is not None:
        return Setting("cpu_devices", None, "default", f"{out}: jaxlaws sets nothing")
    n = cores()
    if n <= 1:
        return Setting("cpu_devices", 1, "default", "one core")
    how = _set_device_count(n)
    return Setting("cpu_devices", n, "jaxlaws", f"one device per core ({how})")


def default_cache_dir() -> str:
    """``$JAXLAWS_CACHE_DIR``, else ``$XDG_CACHE_HOME/jaxlaws/xla``, else ``~/.cache/jaxlaws/xla``."""
    if os.environ.get(CACHE_DIR_ENV):
        return os.environ[CACHE_DIR_ENV]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "jaxlaws", "xla")


def _user_cache() -> Setting | None:
    import jax

    if os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return Setting("compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"], "user",
                       "JAX_COMPILATION_CACHE_DIR is set")
    path = jax.config.jax_compilation_cache_dir
    ours = _SETTINGS.get("compilation_cache_dir")
    if path is not None and not (ours is not None and ours.source in ("jaxlaws", "call") and ours.value == path):
        return Setting("compilation_cache_dir", path, "user",
                       "jax_compilation_cache_dir was set before jaxlaws was imported")
    if not jax.config.jax_enable_compilation_cache:
        return Setting("compilation_cache_dir", path, "user", "the user turned jax's compilation cache off")
    return None


def _set_cache_dir(path: str) -> None:
    import jax

    os.makedirs(path, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", path)
    # jax caches only compiles over 1 s by default; the engine's take ~0.2-2 s each. A
    # threshold the user chose (environment variable or config) is theirs.
    if not os.environ.get(_MIN_COMPILE.upper()) and getattr(jax.config, _MIN_COMPILE) == 1.0:
        jax.config.update(_MIN_COMPILE, 0.0)


def _default_cache() -> Setting:
    import jax

    user = _user_cache()
    if user is not None:
        return user
    if backend_started():
        return Setting("compilation_cache_dir", jax.config.jax_compilation_cache_dir, "default",
                       "jax's backend had started before jaxlaws was imported")
    out = _opted_out()
    if out is not None:
        return Setting("compilation_cache_dir", None, "default", f"{out}: jaxlaws sets nothing")
    path = default_cache_dir()
    try:
        _set_cache_dir(path)
    except OSError as e:
        return Setting("compilation_cache_dir", None, "default", f"cannot create {path}: {e.strerror or e}")
    where = f"${CACHE_DIR_ENV}" if os.environ.get(CACHE_DIR_ENV) else "the user cache directory"
    return Setting("compilation_cache_dir", path, "jaxlaws", f"compiled programs kept on disk ({where})")


def apply_defaults() -> dict[str, Setting]:
    """Set jaxlaws' defaults where the user set nothing (see the module docstring); runs once,
    when jaxlaws is imported. Returns :func:`settings`."""
    if not _SETTINGS:
        _SETTINGS["cpu_devices"] = _default_devices()
        _SETTINGS["compilation_cache_dir"] = _default_cache()
    return settings()


def use_cpu_cores(n: int | None = None) -> bool:
    """Ask for ``n`` (default: all cores) CPU devices; True if it takes effect.

    ``import jaxlaws`` already does this (see the module docstring); call it to ask for
    another count before jax's backend starts. A device count the user set (``XLA_FLAGS``,
    ``JAX_NUM_CPU_DEVICES``, ``jax_num_cpu_devices``) is left alone.
    """
    if _user_device_count() is not None or backend_started():
        return False
    n = n or cores()
    if n <= 1:
        return False
    how = _set_device_count(n)
    _SETTINGS["cpu_devices"] = Setting("cpu_devices", n, "call", f"use_cpu_cores({n}) ({how})")
    return True


def use_compilation_cache(path: str | None = None) -> str:
    """Turn on jax's persistent compilation cache at ``path`` (default :func:`default_cache_dir`);
    the path.

    ``import jaxlaws`` already does this for the default directory (see the module docstring).
    Call it before the first compile to use another directory: jax opens the cache once, at
    the first compile of the process. It sets jax's global configuration, whatever was set
    before: it is for programs that own their process (the ``jaxlaws`` command, the benchmarks).
    """
    path = path or default_cache_dir()
    _set_cache_dir(path)
    _SETTINGS["compilation_cache_dir"] = Setting("compilation_cache_dir", path, "call",
                                                 f"use_compilation_cache({path!r})")
    return path
