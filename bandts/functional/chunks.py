"""Chunks that bound the size of large temporaries.

The filter spectrum at the kept frequencies, (kept, 2, C, F) in 1D, is usually the largest tensor
of a band-limited convolution (C * F is much larger than N * C), and FFTs of many rows need
padded and transformed copies of them. Working a chunk at a time (frequencies of the filter
spectrum, rows of an FFT) into buffers of bounded size keeps those temporaries in cache, and
small enough to be kept between calls (:mod:`bandts.backends.workspace`).
"""

import torch

# Small enough to stay in cache and to be kept between calls, large enough that the per-chunk
# overhead is small (chosen by timing the FCN's layers: benchmarks/bench_conv.py).
CHUNK_BYTES = 4 * 2**20


def chunk_ranges(n_items: int, values_per_item: int, dtype: torch.dtype, multiple: int = 1,
                 max_bytes: int = CHUNK_BYTES) -> list:
    """(start, stop) ranges covering 0..n_items whose items hold at most ``max_bytes`` together
    (at least ``multiple`` items per range): as few ranges as that allows, of near-equal sizes,
    each a multiple of ``multiple`` except the last when n_items is not one.

    Args:
        n_items: kept frequencies (1D bins, 2D rows of kept coefficients) or signal rows.
        values_per_item: values of ``dtype`` each item holds.
        dtype: their dtype.
        multiple: granularity of the sizes, e.g. the threads that split a batched GEMM over a
            chunk's items (an odd batch leaves one of two threads idle at the end).
        max_bytes: the bound (CHUNK_BYTES unless the caller has its own).
    """
    bytes_per_item = values_per_item * torch.empty((), dtype=dtype).element_size()
    units = -(-n_items // multiple)
    largest = max(1, max_bytes // max(1, bytes_per_item * multiple))
    n_chunks = -(-units // largest)
    if n_chunks == 0:
        return []
    bounds = [min(n_items, multiple * (units * i // n_chunks)) for i in range(n_chunks + 1)]
    return list(zip(bounds, bounds[1:]))
