"""Real DFTs of signals at the kept bins, in the split-complex frequency-major layout.

A spectrum here is a (bins, 2, R) tensor: for each of R signals, real and imaginary parts as the
two planes of each bin. Signals are (R, P) rows whose samples sit at positions ``step * j``,
j = 0..P-1, of a length-L frame (zero elsewhere). With a_kj = 2 pi k step j / L:

- :func:`spectrum_of`: S[k] = scale_k * sum_j signal[j] (cos a_kj - i sin a_kj);
- :func:`signal_of`, its transpose: signal[j] = sum_k scale_k (Re S[k] cos a_kj - Im S[k] sin a_kj).

``inverse`` selects scale_k = w_k / L (w_k = 1 for DC and Nyquist, else 2), making
:func:`signal_of` the inverse real DFT of the bins zero-extended to L // 2 + 1 (``irfft``);
otherwise scale_k = 1.

:func:`rfft_kept` and :func:`irfft_kept` are the same transforms for ordinary interleaved complex
spectra along the last axis (the 2D convolution's width axis), with the scale of ``torch.fft``.

Two methods compute the same numbers. A GEMM with the small matrix of
:func:`bandts.functional.dft.real_dft_matrix` reads and writes the split layout directly and costs
O(R * P * bins), shrinking with the band; ``torch.fft`` costs O(R * L log L) at every band plus
copies between its interleaved (R, bins) layout and this one. :func:`uses_gemm` picks one.
"""

import math

import torch

from bandts.functional.chunks import chunk_ranges
from bandts.functional.dft import one_sided_weights, real_dft_matrix

# The GEMM is used while bins <= GEMM_BINS_PER_LOG2 * log2(L) (81 bins at L = 288): below that its
# O(bins) cost beats the FFT's O(L log L) plus layout copies (benchmarks/bench_transforms.py and
# benchmarks/results/bench_transforms.*).
GEMM_BINS_PER_LOG2 = 10.0


def uses_gemm(bins: int, fft_len: int) -> bool:
    """Whether a transform of ``bins`` kept bins of a length-``fft_len`` frame uses the GEMM."""
    return bins <= GEMM_BINS_PER_LOG2 * math.log2(fft_len)


def _matrix(bins, n_positions, step, fft_len, inverse, like):
    return real_dft_matrix(0, bins, n_positions, fft_len, like.dtype, like.device, step=step,
                           inverse=inverse)


def _fft_weights(bins, fft_len, like):
    """w_k of the bins 0..bins-1: how often each counts in the full spectrum (1 or 2), (bins,)."""
    return one_sided_weights(torch.arange(bins, device=like.device), fft_len, like.dtype)


def spectrum_of(rows: torch.Tensor, bins: int, step: int, fft_len: int, inverse: bool = False,
                out: torch.Tensor = None) -> torch.Tensor:
    """(R, P) signals -> their (bins, 2, R) spectra at bins 0..bins-1 (see the module docstring),
    written into ``out`` (contiguous, that shape) when given."""
    n_rows, n_positions = rows.shape
    split = rows.new_empty(bins, 2, n_rows) if out is None else out
    if uses_gemm(bins, fft_len):
        matrix = _matrix(bins, n_positions, step, fft_len, inverse, rows)
        torch.mm(matrix.flatten(0, 1), rows.T, out=split.view(2 * bins, n_rows))
        return split
    scale = _fft_weights(bins, fft_len, rows)[:, None, None] / fft_len if inverse else None
    # Blocks of rows keep the FFT's temporaries small, so they are reused from the heap rather
    # than faulted in afresh (large fresh allocations are slow on virtual machines).
    for start, stop in chunk_ranges(n_rows, fft_len, rows.dtype):
        block = rows[start:stop]
        if step > 1:
            block = rows.new_zeros(stop - start, fft_len)
            block[:, :n_positions * step:step] = rows[start:stop]
        interleaved = torch.view_as_real(torch.fft.rfft(block, n=fft_len)[:, :bins])
        target = split[:, :, start:stop]
        if scale is None:
            target.copy_(interleaved.permute(1, 2, 0))
        else:
            torch.mul(interleaved.permute(1, 2, 0), scale, out=target)
    return split


def signal_of(spectrum: torch.Tensor, n_positions: int, step: int, fft_len: int,
              inverse: bool = False) -> torch.Tensor:
    """(bins, 2, R) spectra -> (R, P) signals, the transpose of :func:`spectrum_of`."""
    bins, _, n_rows = spectrum.shape
    if uses_gemm(bins, fft_len):
        matrix = _matrix(bins, n_positions, step, fft_len, inverse, spectrum).flatten(0, 1)
        return spectrum.flatten(0, 1).T @ matrix
    # irfft sums w_k / L (...) over all L // 2 + 1 bins: zero-extend the spectrum in one
    # interleaved buffer (no second padded copy inside irfft), undoing the scale if there is none.
    factor = None if inverse else fft_len / _fft_weights(bins, fft_len, spectrum)[:, None]
    signals = spectrum.new_empty(n_rows, n_positions)
    for start, stop in chunk_ranges(n_rows, fft_len, spectrum.dtype):
        interleaved = spectrum.new_empty(stop - start, fft_len // 2 + 1, 2)
        interleaved[:, bins:] = 0
        block = spectrum[:, :, start:stop].permute(2, 0, 1)
        if factor is None:
            interleaved[:, :bins] = block
        else:
            torch.mul(block, factor, out=interleaved[:, :bins])
        frames = torch.fft.irfft(torch.view_as_complex(interleaved), n=fft_len)
        signals[start:stop] = frames[:, :n_positions * step:step]
    return signals


def rfft_kept(x: torch.Tensor, bins: int, fft_len: int) -> torch.Tensor:
    """``torch.fft.rfft(x, n=fft_len)[..., :bins]``: (..., P) real -> (..., bins) complex.

    By the GEMM, the DFT matrix's rows alternate real and imaginary parts, so the product is
    already the interleaved complex layout.
    """
    if not uses_gemm(bins, fft_len):
        return torch.fft.rfft(x, n=fft_len)[..., :bins]
    matrix = real_dft_matrix(0, bins, x.shape[-1], fft_len, x.dtype, x.device).flatten(0, 1)
    product = x.reshape(-1, x.shape[-1]) @ matrix.T
    return torch.view_as_complex(product.view(*x.shape[:-1], bins, 2))


def irfft_kept(spectrum: torch.Tensor, size: int, step: int, fft_len: int) -> torch.Tensor:
    """``torch.fft.irfft(spectrum, n=fft_len)[..., :size:step]`` for (..., R, bins) complex
    spectra holding the first ``bins`` one-sided bins (the rest zero): -> (..., R, outputs) real."""
    if not uses_gemm(spectrum.shape[-1], fft_len):
        return torch.fft.irfft(spectrum, n=fft_len)[..., :size:step]
    *leading, rows, bins = spectrum.shape
    n_positions = len(range(0, size, step))
    matrix = real_dft_matrix(0, bins, n_positions, fft_len, spectrum.real.dtype, spectrum.device,
                             step=step, inverse=True).flatten(0, 1)
    # (batch, R, 2 bins) stays a view when R is a slice of taller spectra: matmul then runs a
    # batched GEMM on it rather than copying it into one matrix first.
    interleaved = torch.view_as_real(spectrum).flatten(-2).reshape(-1, rows, 2 * bins)
    return torch.matmul(interleaved, matrix).view(*leading, rows, n_positions)
