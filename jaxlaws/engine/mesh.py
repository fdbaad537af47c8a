"""Where lanes run: one mesh axis, ``lanes``, over every jax device; data replicated."""

from __future__ import annotations

import functools

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

LANES = PartitionSpec("lanes")
REPLICATED = PartitionSpec()


@functools.lru_cache(maxsize=None)
def _mesh(devices: tuple) -> Mesh:
    return Mesh(np.array(devices), ("lanes",))


def mesh() -> Mesh:
    """The mesh over ``jax.devices()`` (cached per device set)."""
    return _mesh(tuple(jax.devices()))


def n_devices() -> int:
    return len(jax.devices())


def lane_sharding() -> NamedSharding:
    """Splits the leading (lane) axis over every device."""
    return NamedSharding(mesh(), LANES)


def replicated() -> NamedSharding:
    """A copy on every device (data, bounds, flags)."""
    return NamedSharding(mesh(), REPLICATED)


def device_name() -> str:
    """``platform:kind xN``, e.g. ``cpu:cpu x2``."""
    d = jax.devices()[0]
    return f"{d.platform}:{getattr(d, 'device_kind', d.platform)} x{jax.device_count()}"
