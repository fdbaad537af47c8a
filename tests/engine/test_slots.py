"""jaxlaws.engine.slots: how many slots per device, from the lanes and the data size."""

import numpy as np

import jaxlaws as jl


def test_default_slots_follow_the_data_size():
    # K * m * (P + 1) numbers within CACHE_ELEMENTS, a power of two from 8 to 128
    assert jl.engine.auto_chunk(240, 5) == 64
    assert jl.engine.auto_chunk(1000, 5) == 16
    assert jl.engine.auto_chunk(10, 2) == 128
    assert jl.engine.auto_chunk(10**6, 5) == 8
    for m, p in ((240, 5), (1000, 5), (500, 35)):
        k = jl.engine.auto_chunk(m, p)
        assert k == 8 or k * m * (p + 1) <= jl.engine.CACHE_ELEMENTS < 2 * k * m * (p + 1) or k == 128


def test_default_slots_grow_with_the_square_root_of_the_lanes():
    # ~1.5 sqrt(lanes per device) as a power of two, within min_slots and auto_chunk
    spd = jl.engine.slots_per_device
    assert [spd(n, 240, 5) for n in (1, 50, 128, 500, 2250, 10**5)] == [8, 8, 16, 32, 64, 64]
    assert spd(10**5, 100, 5) == 128 == jl.engine.auto_chunk(100, 5)  # capped by the data size
    assert spd(500, 10**5, 5) == 8 == jl.engine.auto_chunk(10**5, 5)
    assert spd(1, 10**5, 5) == 1 and spd(2, 10**5, 5) == 2  # a lone lane on large data: no empty slots
    for n in (1, 7, 60, 300, 3000, 40000):
        k = spd(n, 240, 5)
        assert k & (k - 1) == 0 and 8 <= k <= 64
        assert abs(np.log2(k) - np.log2(1.5 * np.sqrt(n))) <= 0.5 or k in (8, 64)
    # an explicit chunk is kept (rounded up to a power of two, no more than the lanes need)
    assert spd(2250, 240, 5, chunk=100) == 128 and spd(20, 240, 5, chunk=100) == 32


def test_min_slots_is_one_only_where_eight_slots_overflow_the_cache_budget():
    assert jl.engine.min_slots(240, 5) == 8  # 8 * 240 * 6 = 11,520 numbers <= 2**17
    assert jl.engine.min_slots(2730, 5) == 8  # 131,040: just within
    assert jl.engine.min_slots(2731, 5) == 1
    assert jl.engine.min_slots(100_000, 5) == 1
    assert ":" in jl.engine.device_name()




def test_chunk_size_rounds_to_a_power_of_two_within_the_lanes():
    cs = jl.engine.chunk_size
    assert cs(1, 256) == 8 and cs(64, 256) == 64 and cs(200, 256) == 256 and cs(4500, 256) == 256
    assert cs(200, 64) == 64
    assert cs(1, 8, floor=1) == 1  # few lanes on a large dataset: no empty slots
    assert cs(5, 8, floor=1) == 8
