"""Using every CPU core: jax shows one CPU device unless told otherwise, and the
engine spreads lanes over ``jax.devices()``. XLA reads the device count once, when
jax's backend starts, so this must run before the first jax computation.
"""

from __future__ import annotations

import os


def use_cpu_cores(n: int | None = None) -> bool:
    """Ask XLA for ``n`` (default: all cores) host devices; True if it can still take effect.

    Leaves an ``XLA_FLAGS`` device count the user already set alone. Meant for
    programs that own their process (the ``jaxlaws`` command, the benchmarks), not
    for library code running inside someone else's program.
    """
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" in flags:
        return False
    try:
        from jax._src import xla_bridge

        if xla_bridge.backends_are_initialized():
            return False
    except (ImportError, AttributeError):  # pragma: no cover - older or newer jax
        pass
    n = n or os.cpu_count() or 1
    if n <= 1:
        return False
    os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={n}".strip()
    return True


def use_compilation_cache(path: str | None = None) -> str:
    """Turn on jax's persistent compilation cache (default ``~/.cache/jaxlaws/xla``).

    Later processes then load the engine's compiled programs from disk instead of
    compiling them again (cold starts). This sets jax's global configuration, so it
    is for programs that own their process, like the ``jaxlaws`` command.
    """
    import jax

    path = path or os.path.join(os.path.expanduser("~"), ".cache", "jaxlaws", "xla")
    os.makedirs(path, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    return path
