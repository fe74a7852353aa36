"""Small DFT matrices for filters.

A filter has only K taps, so its spectrum at the kept bins is a (kept x K) matrix product, cheaper
than an FFT of length L and shrinking with the band. The same matrices give the inverse transform of
the weight gradient back to K taps.

Filters are placed circularly at offset ``-pad_left``: tap t sits at position (t - pad_left) mod L.
That shift folds the input's left zero padding into the filter, so inputs are transformed without
being padded (a circular shift commutes with the ideal low-pass, so the result is the same).
"""

import functools
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


# Matrices up to this many entries are cached (2 MiB in float32); at most this many of them.
CACHED_ENTRIES = 2**19
CACHE_SIZE = 32


def cached_constant(function):
    """Cache ``function``'s tensors per arguments, except while tensors are fake (torch.compile,
    torch.export and opcheck trace with fake tensors, which a cached real tensor cannot join)."""
    cached = functools.lru_cache(maxsize=CACHE_SIZE)(function)

    @functools.wraps(function)
    def lookup(*args):
        if torch._C._get_dispatch_mode(torch._C._TorchDispatchModeKey.FAKE) is not None:
            return function(*args)
        return cached(*args)

    lookup.cache_clear = cached.cache_clear
    return lookup


def real_dft_matrix(start: int, stop: int, n_positions: int, fft_len: int, dtype: torch.dtype,
                    device: torch.device, step: int = 1, offset: int = 0,
                    inverse: bool = False) -> torch.Tensor:
    """Split-complex DFT rows for bins start..stop-1 at positions ``offset + step * j``.

    Row k of the result is [cos, -sin](2 pi k p / L) over the positions p, so
    ``real_dft_matrix(...) @ signal`` is the length-L DFT, at those bins, of a signal sitting at
    those positions (zero elsewhere), with real and imaginary parts as planes. With ``inverse``
    every row is scaled by w_k / L (w_k = 1 for DC and Nyquist, else 2), so that
    ``sum_k,plane spectrum * matrix`` is ``irfft`` of the bins zero-extended to L // 2 + 1.

    The matrices depend only on the geometry; small ones are cached (the same few serve every
    call of a layer), so never modify the result.

    Args:
        n_positions: number of positions.
        dtype: real dtype of the result; device: its device.

    Returns:
        (stop - start, 2, n_positions) tensor.
    """
    args = (start, stop, n_positions, fft_len, dtype, device, step, offset, inverse)
    if (stop - start) * 2 * n_positions <= CACHED_ENTRIES:
        return _cached_real_dft_matrix(*args)
    return _real_dft_matrix(*args)


def _real_dft_matrix(start, stop, n_positions, fft_len, dtype, device, step, offset, inverse):
    with torch.inference_mode(False):  # a cached inference tensor could not be used later
        bins = torch.arange(start, stop, dtype=torch.int64, device=device)
        positions = torch.arange(n_positions, dtype=torch.int64, device=device) * step + offset
        # Integer products reduced mod L keep the angle exact in float64 whatever the size.
        turns = torch.remainder(bins[:, None] * positions[None, :], fft_len)
        angle = turns.to(torch.float64) * (2.0 * math.pi / fft_len)
        matrix = torch.stack((torch.cos(angle), -torch.sin(angle)), 1)
        if inverse:
            matrix *= (one_sided_weights(bins, fft_len, torch.float64) / fft_len)[:, None, None]
        return matrix.to(dtype)


_cached_real_dft_matrix = cached_constant(_real_dft_matrix)


@cached_constant
def filter_dft_matrix(bins: int, taps: int, offset: int, fft_len: int, dtype: torch.dtype,
                      device: torch.device, conjugate: bool) -> torch.Tensor:
    """exp(-2 pi i k (t - offset) / L) for bins k < ``bins`` and taps t: the complex (bins, taps)
    matrix whose product with a filter's taps is its spectrum at the first bins (the filter placed
    at t - offset); with ``conjugate`` its conjugate. Cached per arguments; never modify it.

    Args:
        dtype: complex dtype of the result.
    """
    with torch.inference_mode(False):  # a cached inference tensor could not be used later
        return phase_matrix(torch.arange(bins, device=device), taps, offset, fft_len,
                            1 if conjugate else -1, dtype)


@cached_constant
def inverse_scale(bins: int, fft_len: int, dtype: torch.dtype, device: torch.device,
                  reciprocal: bool) -> torch.Tensor:
    """w_k / L for bins k < ``bins`` (w_k of :func:`one_sided_weights`): the scale that turns the
    first bins of ``rfft`` into the adjoint of ``irfft``; with ``reciprocal``, L / w_k. Cached;
    never modify the result."""
    with torch.inference_mode(False):
        scale = one_sided_weights(torch.arange(bins, device=device), fft_len, dtype) / fft_len
        return 1.0 / scale if reciprocal else scale
