"""The batched core: many lanes (start x resample) solved as one jitted, vmapped computation.

A *lane* is one start on one row of observations and weights (:class:`jaxlaws.problem.Batch`).
Each jax device runs ``K`` *slots* in one jitted ``vmap``, stepping them together inside a
device-side loop; when a slot's lane finishes its outcome is written out and the slot is
refilled from a queue of lanes waiting on that device. One compiled program serves any number
of lanes with the same ``K``, and memory stays flat beyond the queue batch.

Files, one concept each:

* :mod:`~jaxlaws.engine.queue`      the queue program (one device's slots and queue);
* :mod:`~jaxlaws.engine.programs`   the compiled-program cache (the only mutable state);
* :mod:`~jaxlaws.engine.slots`      slot sizing from the lane count and data size;
* :mod:`~jaxlaws.engine.phase`      one precision's pass over a batch;
* :mod:`~jaxlaws.engine.precision`  the precision policy (float64, float32, mixed, auto) and :func:`solve`;
* :mod:`~jaxlaws.engine.race`       racing starts: rounds, culls, the check before returning;
* :mod:`~jaxlaws.engine.mesh`       the device mesh the lanes are sharded over.
"""

from jaxlaws.engine.mesh import Devices, device_name, info as device_info
from jaxlaws.engine.phase import QUEUE_BATCHES
from jaxlaws.engine.precision import POLISH_STEPS, Options, Precision, polish_order, solve
from jaxlaws.engine.race import Auto, Race, solve_racing, solve_with
from jaxlaws.engine.race import name as strategy_name, resolve as resolve_strategy
from jaxlaws.engine.programs import CACHE, Compiled, clear_compiled, compile_count, compile_log
from jaxlaws.engine.slots import CACHE_ELEMENTS, auto_chunk, chunk_size, min_slots, slots_per_device

__all__ = ["Auto", "CACHE", "CACHE_ELEMENTS", "Compiled", "Devices", "Options", "POLISH_STEPS",
           "Precision", "QUEUE_BATCHES", "Race", "auto_chunk", "chunk_size", "clear_compiled", "compile_count",
           "compile_log", "device_info", "device_name", "min_slots", "polish_order", "resolve_strategy",
           "slots_per_device", "solve", "solve_racing", "solve_with", "strategy_name"]
