"""jaxlaws.bench helpers (the benchmarks themselves are not tests: they time things)."""

from __future__ import annotations

import jax

from jaxlaws import engine
from jaxlaws.bench import warmup_lanes


def test_warmup_lanes_is_the_least_count_with_the_same_slots():
    n_dev = jax.device_count()

    def slots(lanes: int, m: int) -> int:
        return engine.slots_per_device(-(-lanes // n_dev), m, 5)

    for m in (100, 240, 1000, 10**5):
        for lanes in (1, 10, 100, 1000, 10**4, 10**5):
            w = warmup_lanes(lanes, m, 5)
            assert 0 < w <= lanes
            assert slots(w, m) == slots(lanes, m)  # the same compiled programs
            assert w == 1 or slots(w - 1, m) < slots(lanes, m)  # and no fewer lanes would do


def test_write_result_names_the_file_by_device_and_writes_plain_json(tmp_path):
    import json

    import numpy as np

    from jaxlaws.bench import write_result

    out = {"machine": {"device": "cpu:cpu x2"}, "seconds": np.float64(1.5), "rows": np.arange(3)}
    path = write_result("demo", out, str(tmp_path))
    assert path == str(tmp_path / "demo_cpu.json")
    with open(path) as f:
        assert json.load(f) == {"machine": {"device": "cpu:cpu x2"}, "seconds": 1.5, "rows": [0, 1, 2]}
