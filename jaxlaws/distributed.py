"""Several processes, one run: jax's own multi-controller runtime (``jax.distributed``).

Every process runs the same program (the same ``jaxlaws fit ...`` command or script) and calls
:func:`initialize` first, before any jax computation. After it ``jax.devices()`` lists every
process's devices; the engine shards lanes over all of them (:mod:`jaxlaws.engine.mesh`), each
process builds and runs only the lanes of its own devices, and every process ends with every
lane's outcome. The queue program has no cross-device communication, so each lane computes the
same bits as in one process with the same total device count. Only process 0 writes files.

Where the three numbers come from, first found wins: the arguments; ``JAXLAWS_COORDINATOR``
(``host:port`` of process 0), ``JAXLAWS_NUM_PROCESSES``, ``JAXLAWS_PROCESS_ID``; else jax's own
cluster detection (Slurm, Open MPI, Kubernetes, cloud TPU), which reads its environment (the
command asks for it with ``--distributed`` or ``JAXLAWS_DISTRIBUTED=1``).
On CPUs, processes exchange results through gloo (``jax_cpu_collectives_implementation``),
set here unless the user chose another.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from jaxlaws.errors import JaxlawsError

COORDINATOR_ENV = "JAXLAWS_COORDINATOR"
NUM_PROCESSES_ENV = "JAXLAWS_NUM_PROCESSES"
PROCESS_ID_ENV = "JAXLAWS_PROCESS_ID"
AUTO_ENV = "JAXLAWS_DISTRIBUTED"  # "1": let jax detect the cluster (Slurm, Open MPI, ...)


@dataclasses.dataclass(frozen=True)
class Processes:
    """This process's place in a run: ``index`` of ``count`` processes, ``local_devices`` of
    ``devices`` in all."""

    index: int
    count: int
    local_devices: int
    devices: int

    @property
    def writer(self) -> bool:
        """Whether this process writes the run's files (process 0)."""
        return self.index == 0


def current() -> Processes:
    """Where this process stands (one process of one unless :func:`initialize` ran)."""
    import jax

    return Processes(jax.process_index(), jax.process_count(), jax.local_device_count(), jax.device_count())


def is_writer() -> bool:
    import jax

    return jax.process_index() == 0


def _int(value: Any, what: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        out = int(value)
    except (TypeError, ValueError):
        raise JaxlawsError(f"{what} must be an integer, got {value!r}") from None
    return out


def settings(coordinator: str | None = None, num_processes: int | None = None,
             process_id: int | None = None) -> tuple[str | None, int | None, int | None]:
    """The coordinator, process count and id from the arguments, else the ``JAXLAWS_*``
    environment (None where neither says: jax's cluster detection decides)."""
    coordinator = coordinator or os.environ.get(COORDINATOR_ENV) or None
    n = _int(num_processes if num_processes is not None else os.environ.get(NUM_PROCESSES_ENV), "num_processes")
    i = _int(process_id if process_id is not None else os.environ.get(PROCESS_ID_ENV), "process_id")
    if n is not None and n < 1:
        raise JaxlawsError(f"num_processes must be >= 1, got {n}")
    if i is not None and n is not None and not 0 <= i < n:
        raise JaxlawsError(f"process_id must be in 0..{n - 1}, got {i}")
    if coordinator is not None and (":" not in coordinator or not coordinator.rsplit(":", 1)[1].isdigit()):
        raise JaxlawsError(f"coordinator must be HOST:PORT, got {coordinator!r}")
    return coordinator, n, i


def requested(coordinator: str | None = None, num_processes: int | None = None,
              process_id: int | None = None, auto: bool = False) -> bool:
    """Whether the arguments or the ``JAXLAWS_*`` environment ask for several processes
    (``auto`` or ``JAXLAWS_DISTRIBUTED=1``: yes, with whatever jax's cluster detection finds)."""
    if auto or os.environ.get(AUTO_ENV, "").strip().lower() in ("1", "true", "yes", "on"):
        return True
    return any(v is not None for v in settings(coordinator, num_processes, process_id))


def initialize(coordinator: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, **kwargs: Any) -> Processes:
    """Join (or, as process 0, start) a run of several processes; call it before any jax
    computation, in every process. Extra keyword arguments go to ``jax.distributed.initialize``
    (e.g. ``local_device_ids``, ``initialization_timeout``)."""
    import jax

    from jaxlaws import devices

    coordinator, n, i = settings(coordinator, num_processes, process_id)
    if devices.backend_started():
        raise JaxlawsError("jaxlaws.distributed.initialize must run before any jax computation in the process")
    if getattr(jax.config, "jax_cpu_collectives_implementation", "gloo") in (None, "", "none"):
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    try:
        jax.distributed.initialize(coordinator_address=coordinator, num_processes=n, process_id=i, **kwargs)
    except (RuntimeError, ValueError) as e:
        raise JaxlawsError(f"jax.distributed.initialize failed: {str(e).strip().splitlines()[0]}") from None
    return current()


def shutdown() -> None:
    """Leave the run (jax also does this at exit)."""
    import jax

    jax.distributed.shutdown()
