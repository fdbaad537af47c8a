"""Where lanes run: one mesh axis, ``lanes``, over the first ``n`` jax devices (default: all of
them, across every process after :func:`jaxlaws.distributed.initialize`); data replicated.

Nothing is kept here: every function takes the device count (None: all devices) and builds
what it needs, and meshes over the same devices compare equal, so compiled programs are shared.

Several processes (multi-controller jax): ``jax.devices()`` lists every process's devices,
and each process may only build and read the shards on its own (addressable) devices.
:func:`put_rows` builds a lane-sharded array from the rows of this process's devices only,
:func:`local_rows` reads back the rows this process holds, and :func:`gather_lanes` gives
every process every lane's outcome (``process_allgather``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxlaws.errors import JaxlawsError

LANES = PartitionSpec("lanes")
REPLICATED = PartitionSpec()


def check_count(n: Any) -> int | None:
    """``n`` as a device count (None: all); refuses a non-integer or ``n < 1`` (one line). The
    upper limit is checked by :func:`select`, once the devices are known."""
    if n is None:
        return None
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise JaxlawsError(f"devices must be a positive integer, got {n!r}")
    return int(n)


def select(n: int | None = None) -> tuple[Any, ...]:
    """The first ``n`` of ``jax.devices()`` (all of them for None)."""
    devices = jax.devices()
    if n is None:
        return tuple(devices)
    n = check_count(n)
    if n > len(devices):
        raise JaxlawsError(f"devices={n} asks for more devices than the {len(devices)} jax has "
                           f"({devices[0].platform}; on a CPU set XLA_FLAGS=--xla_force_host_platform_device_count=N)")
    chosen = tuple(devices[:n])
    if jax.process_count() > 1 and n != len(devices):
        # Every process runs every program; one with no device in the mesh would have nothing
        # to run it on.
        raise JaxlawsError(f"devices={n}: with {jax.process_count()} processes every device runs "
                           f"({len(devices)}); start fewer processes or devices instead")
    return chosen


def mesh(n: int | None = None) -> Mesh:
    """The mesh over the first ``n`` devices (all for None)."""
    return Mesh(np.array(select(n)), ("lanes",))


def n_devices(n: int | None = None) -> int:
    return len(select(n))


def lane_sharding(n: int | None = None) -> NamedSharding:
    """Splits the leading (lane) axis over the devices."""
    return NamedSharding(mesh(n), LANES)


def replicated(n: int | None = None) -> NamedSharding:
    """A copy on every device (data, bounds, flags)."""
    return NamedSharding(mesh(n), REPLICATED)


@dataclasses.dataclass(frozen=True)
class Devices:
    """The devices a run used.

    Attributes:
      count: devices the lanes were sharded over (all processes together).
      platform: ``cpu``, ``gpu``, ``tpu``.
      kind: the device kind jax reports (e.g. ``cpu``, ``NVIDIA H200``).
      processes: jax processes whose devices took part (1 unless :mod:`jaxlaws.distributed`).
    """

    count: int
    platform: str
    kind: str
    processes: int = 1

    @property
    def name(self) -> str:
        """``platform:kind xN``, e.g. ``cpu:cpu x2``."""
        return f"{self.platform}:{self.kind} x{self.count}"

    def to_dict(self) -> dict[str, Any]:
        """The JSON keys: ``devices`` (int), ``device_kind``, ``device_platform``, ``processes``."""
        return {"devices": self.count, "device_kind": self.kind, "device_platform": self.platform,
                "processes": self.processes}


def info(n: int | None = None) -> Devices:
    """:class:`Devices` of the first ``n`` devices (all for None)."""
    ds = select(n)
    d = ds[0]
    return Devices(len(ds), d.platform, getattr(d, "device_kind", d.platform), len({x.process_index for x in ds}))


def device_name(n: int | None = None) -> str:
    """``platform:kind xN``, e.g. ``cpu:cpu x2``."""
    return info(n).name


# ---- arrays over several processes ---------------------------------------------------------
def put(tree: Any, sharding: NamedSharding) -> Any:
    """``tree`` (host arrays, the same value on every process) placed by ``sharding``; with
    several processes each builds only the shards on its own devices."""
    if sharding.is_fully_addressable:
        return jax.device_put(tree, sharding)
    return jax.tree.map(lambda a: jax.make_array_from_callback(np.shape(a), sharding, lambda i: np.asarray(a)[i]), tree)


def put_rows(rows: Callable[[int], Any], n: int | None = None) -> Any:
    """A lane-sharded pytree whose block for the device at mesh position ``d`` is ``rows(d)``
    (host arrays, every leaf with the same leading length per device). ``rows`` is called only
    for this process's devices: each process builds only its own lanes."""
    m = mesh(n)
    sharding = NamedSharding(m, LANES)
    devices = list(m.devices.flat)
    mine = [(d, dev) for d, dev in enumerate(devices) if dev.process_index == jax.process_index()]
    parts = [jax.device_put(rows(d), dev) for d, dev in mine]
    leaves = [jax.tree.leaves(p) for p in parts]
    treedef = jax.tree.structure(parts[0])

    def glue(i: int) -> Any:
        first = leaves[0][i]
        shape = (first.shape[0] * len(devices),) + tuple(first.shape[1:])
        return jax.make_array_from_single_device_arrays(shape, sharding, [ls[i] for ls in leaves])

    return jax.tree.unflatten(treedef, [glue(i) for i in range(len(leaves[0]))])


def local_rows(tree: Any) -> Any:
    """The rows of a lane-sharded pytree that this process holds, as numpy, in lane order (every
    row with one process)."""
    def rows(a: Any) -> np.ndarray:
        shards = sorted(a.addressable_shards, key=lambda s: s.index[0].start or 0)
        return np.concatenate(jax.device_get([s.data for s in shards]))

    return jax.tree.map(rows, tree)


def owner(n_lanes: int, n: int | None = None) -> np.ndarray:
    """``[n_lanes]`` the process that runs each lane: lane ``l`` queues on the device at mesh
    position ``l % n_devices`` (see :mod:`jaxlaws.engine.phase`)."""
    procs = np.array([d.process_index for d in select(n)])
    return procs[np.arange(n_lanes) % len(procs)]


def gather_lanes(pool: dict[str, np.ndarray], n: int | None = None) -> dict[str, np.ndarray]:
    """Every lane's outcome on every process: each process filled the rows ``[L, ...]`` of the
    lanes it ran; the others' rows come by ``process_allgather``. A no-op with one process."""
    if jax.process_count() == 1:
        return pool
    from jax.experimental import multihost_utils

    L = len(next(iter(pool.values())))
    who = owner(L, n)
    every = multihost_utils.process_allgather(pool)  # leaf [processes, L, ...]
    return {k: np.asarray(v)[who, np.arange(L)] for k, v in every.items()}
