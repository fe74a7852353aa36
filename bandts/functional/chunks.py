"""Frequency chunks for the complex multiply-accumulate.

The filter spectrum at the kept frequencies, (kept, C, F), is usually the largest tensor of a
band-limited convolution (C * F is much larger than N * C). Building it whole and then streaming it
through the GEMM costs two trips through main memory; building and using it a chunk of
frequencies at a time keeps each chunk in cache. Measured on the FCN's 128->256 k5 layer at
L = 1024, batch 32, full band, 2 threads: forward filter spectrum + CMAC 35 ms whole, 14 ms in
chunks; at L = 270 the difference was within the machine's noise.
"""

import torch

# Fastest of 4, 8 and 16 MiB and whole spectra on the 2-core development machine (4 MiB L2 per
# core, large shared L3): smaller chunks pay per-chunk overhead, whole spectra memory traffic.
CHUNK_BYTES = 16 * 2**20


def frequency_chunks(n_frequencies: int, values_per_frequency: int, dtype: torch.dtype) -> list:
    """(start, stop) ranges covering 0..n_frequencies whose filter spectrum fits CHUNK_BYTES.

    Args:
        n_frequencies: kept frequencies (1D bins, or 2D rows of kept coefficients).
        values_per_frequency: complex values of the filter spectrum per frequency (C * F, times
            the kept columns per row in 2D).
        dtype: complex dtype of the spectrum.
    """
    bytes_per_frequency = values_per_frequency * torch.empty((), dtype=dtype).element_size()
    step = max(1, CHUNK_BYTES // max(1, bytes_per_frequency))
    return [(start, min(n_frequencies, start + step)) for start in range(0, n_frequencies, step)]
