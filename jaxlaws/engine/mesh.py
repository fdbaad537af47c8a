"""Where lanes run: one mesh axis, ``lanes``, over every jax device; data replicated."""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

LANES = PartitionSpec("lanes")
REPLICATED = PartitionSpec()


def mesh() -> Mesh:
    """The mesh over ``jax.devices()`` (built on each call: meshes over the same devices compare
    equal, so compiled programs are shared, and no state is kept here)."""
    return Mesh(np.array(jax.devices()), ("lanes",))


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
