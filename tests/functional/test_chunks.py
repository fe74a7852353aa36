"""Chunk ranges of bandts.functional.chunks."""

import pytest
import torch

from bandts.functional import chunks


@pytest.mark.parametrize("n_items,values_per_item,multiple", [
    (72, 65536, 1), (72, 65536, 2), (541, 65536, 2), (8192, 288, 1), (7, 1, 2), (5, 10**9, 2),
    (1, 1, 4), (0, 10, 1)])
def test_chunks_cover_the_items_in_few_near_equal_bounded_ranges(n_items, values_per_item,
                                                                 multiple):
    ranges = chunks.chunk_ranges(n_items, values_per_item, torch.float32, multiple)
    assert [i for start, stop in ranges for i in range(start, stop)] == list(range(n_items))
    sizes = [stop - start for start, stop in ranges]
    per_range = max(multiple, chunks.CHUNK_BYTES // (4 * values_per_item) // multiple * multiple)
    assert all(size <= per_range for size in sizes)
    # No fewer ranges would do, and all but the last are multiples of `multiple` of near-equal size.
    assert len(ranges) == -(-n_items // per_range)
    assert all(size % multiple == 0 for size in sizes[:-1])
    if sizes:
        assert max(sizes) - min(sizes[:-1] or sizes) <= multiple


def test_seventy_two_bins_of_a_128_by_256_filter_make_five_even_chunks():
    assert chunks.chunk_ranges(72, 2 * 128 * 256, torch.float32, 2) == [
        (0, 14), (14, 28), (28, 42), (42, 56), (56, 72)]
