"""How many slots each device steps at once (``K``), from the lane count and the data size."""

from __future__ import annotations

import numpy as np

CACHE_ELEMENTS = 2 ** 17  # residuals plus Jacobian of all slots on one device, measured best near this
# On an accelerator one loop iteration costs about the same for a few lanes as for many thousands
# (kernel launches, not arithmetic, set it), so slots are as many as the lanes fill, up to this
# (at 240 points and 5 parameters, the residuals and Jacobian of 2^17 slots are ~1.3 GB in
# float64). Not yet measured on a GPU: benchmarks/gpu.py times 2^12..2^17 slots at 10^6 lanes.
ACCELERATOR_SLOTS = 2 ** 17


def fits_cache(k: int, n_residuals: int, n_params: int) -> bool:
    """Whether ``k`` slots' residuals and Jacobian, ``k * m * (P + 1)`` numbers, fit ``CACHE_ELEMENTS``."""
    return k * n_residuals * (n_params + 1) <= CACHE_ELEMENTS


def chunk_size(n_lanes: int, chunk: int, floor: int = 8) -> int:
    """Slots per device: ``chunk`` rounded up to a power of two (>= ``floor``), no more than the
    lanes need."""
    k = floor
    while k < n_lanes and k < chunk:
        k *= 2
    return k


def min_slots(n_residuals: int, n_params: int) -> int:
    """The fewest slots per device a program gets: 8 where eight slots' residuals and Jacobian fit
    within ``CACHE_ELEMENTS`` (an empty slot then costs next to nothing, and one program serves
    every fit of up to 8 lanes per device), else 1, so that a few lanes on a large dataset do not
    pay for stepping empty slots (measured: 1 lane on 10^5 points ran 8 slots, ~8x the work).
    """
    return 8 if fits_cache(8, n_residuals, n_params) else 1


def auto_chunk(n_residuals: int, n_params: int) -> int:
    """The most slots per device by default (:func:`slots_per_device`): as many as keep every
    slot's residuals and Jacobian, ``K * m * (P + 1)`` numbers, within ``CACHE_ELEMENTS`` (a
    power of two, 8 to 128).

    Measured on the 2-core CPU with thousands of lanes: 64 slots best for 240 points, 16 for 1,000.
    """
    k = 8
    while k < 128 and fits_cache(2 * k, n_residuals, n_params):
        k *= 2
    return k


def slots_per_device(lanes_per_device: int, n_residuals: int, n_params: int, chunk: int | None = None,
                     accelerator: bool = False) -> int:
    """Slots ``K`` per device for a solve of ``lanes_per_device`` lanes on each device.

    With ``chunk`` given: ``chunk`` rounded up to a power of two, no more than the lanes need.
    By default, about ``1.5 * sqrt(lanes_per_device)`` (the nearest power of two), within
    :func:`min_slots` and :func:`auto_chunk`. A queue's cost is lane-steps plus a tail in which
    the last lanes keep all ``K`` slots stepping (~``K`` times the longest lane, against the
    ``lanes * mean steps`` of the whole solve), while each loop iteration has a fixed cost
    that ``K`` lanes share; the sum is least near ``K ~ sqrt(lanes)``. Measured on the 2-core
    CPU (Chinchilla, 100 and 240 points), the best slots per device were 16 for 50 to 150
    lanes (8, which the rule gives below ~57, within 20% at 50), 32 for 500 and 64 to 128 for
    2,000 to 5,000; at 500 lanes per device, 32 slots instead of 128 made the warm fit ~1.5x
    faster. With ``accelerator`` (a GPU or TPU device), as many slots as lanes, up to
    :data:`ACCELERATOR_SLOTS`.
    """
    floor = min_slots(n_residuals, n_params)
    if chunk is not None:
        return chunk_size(lanes_per_device, chunk, floor)
    if accelerator:  # a GPU or TPU: every lane at once, up to ACCELERATOR_SLOTS
        return chunk_size(lanes_per_device, ACCELERATOR_SLOTS, 8)
    k = 2 ** int(np.round(np.log2(max(1.5 * np.sqrt(lanes_per_device), 1.0))))
    k = min(k, chunk_size(lanes_per_device, k, 1))  # no more than the lanes need
    return int(min(max(k, floor), auto_chunk(n_residuals, n_params)))
