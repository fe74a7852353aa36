"""Chunks that bound the size of large temporaries.

The filter spectrum at the kept frequencies, (kept, 2, C, F) in 1D, is usually the largest tensor
of a band-limited convolution (C * F is much larger than N * C), and FFTs of many rows need
padded and transformed copies of them. Working a chunk at a time (frequencies of the filter
spectrum, rows of an FFT) into buffers of bounded size keeps those temporaries in cache and in
memory the allocator reuses: a fresh allocation of tens of MB is faulted in page by page, which
on the development VM cost about as much as the arithmetic around it.
"""

import torch

# Single runs of 1, 2, 4 and 16 MiB on the 2-core development machine (128->256 k5 layer,
# c = 0.5: 0.70-0.86x torch's conv) did not separate beyond its noise. 4 MiB keeps per-chunk
# overhead small and temporaries far below the 32 MiB above which glibc always maps fresh pages.
CHUNK_BYTES = 4 * 2**20


def chunk_ranges(n_items: int, values_per_item: int, dtype: torch.dtype) -> list:
    """(start, stop) ranges covering 0..n_items whose items hold at most CHUNK_BYTES together
    (at least one item per range).

    Args:
        n_items: kept frequencies (1D bins, 2D rows of kept coefficients) or signal rows.
        values_per_item: values of ``dtype`` each item holds.
        dtype: their dtype.
    """
    bytes_per_item = values_per_item * torch.empty((), dtype=dtype).element_size()
    step = max(1, CHUNK_BYTES // max(1, bytes_per_item))
    return [(start, min(n_items, start + step)) for start in range(0, n_items, step)]
