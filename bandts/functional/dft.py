"""Small DFT matrices for filters.

A filter has only K taps, so its spectrum at the kept bins is a (kept x K) matrix product, cheaper
than an FFT of length L and shrinking with the band. The same matrices give the inverse transform of
the weight gradient back to K taps.

Filters are placed circularly at offset ``-pad_left``: tap t sits at position (t - pad_left) mod L.
That shift folds the input's left zero padding into the filter, so inputs are transformed without
being padded (a circular shift commutes with the ideal low-pass, so the result is the same).
"""

import math

import torch


def phase_matrix(bins: torch.Tensor, taps: int, offset: int, fft_len: int, sign: int,
                 dtype: torch.dtype) -> torch.Tensor:
    """exp(sign * 2 pi i * bin * (tap - offset) / L) as a complex (len(bins), taps) matrix.

    Args:
        bins: int64 frequency indices (signed or not).
        dtype: complex dtype of the result.
    """
    taps_shifted = torch.arange(taps, dtype=torch.int64, device=bins.device) - offset
    # Integer products reduced mod L keep the angle exact in float64 whatever the size.
    turns = torch.remainder(bins[:, None].to(torch.int64) * taps_shifted[None, :], fft_len)
    angle = turns.to(torch.float64) * (2.0 * math.pi / fft_len)
    return torch.polar(torch.ones_like(angle), sign * angle).to(dtype)


def complex_dtype(real_dtype: torch.dtype) -> torch.dtype:
    return torch.complex128 if real_dtype == torch.float64 else torch.complex64


def one_sided_weights(bins: torch.Tensor, fft_len: int, dtype: torch.dtype) -> torch.Tensor:
    """How often each one-sided bin counts in the full spectrum: 1 for DC and Nyquist, else 2."""
    twice = (bins != 0) & ~((fft_len % 2 == 0) & (bins == fft_len // 2))
    return 1.0 + twice.to(dtype)
