"""Band-limited 1D convolution (cross-correlation, like ``torch.nn.functional.conv1d``).

Shapes: x (N, C, W), weight (F, C, K), bias (F,), output (N, F, W_out). Spectra are split-complex
and frequency-major, (kept bins, 2, rows, columns) with real and imaginary parts as the two planes,
so every complex multiply-accumulate is one real batched GEMM with frequency as the batch axis
(DESIGN.md sections 2 and 5; :func:`bandts.backends.split_cmac`).

The filter's spectrum is a GEMM with the small DFT matrix of its K taps at the kept bins
(:func:`real_dft_matrix`), built one chunk of bins at a time. Signals (input, output, gradients)
are transformed by :mod:`bandts.functional.transforms`: a GEMM of the kept bins when the band is
narrow, ``torch.fft`` otherwise, both reading and writing the split layout. The stride is folded
into the output transform (only the strided outputs are computed), and left padding into the
filter: tap t sits at position t - pad_left (mod L), so the input is transformed unpadded. The
backward pass applies the transposes of the forward's linear maps: it is the exact gradient of the
forward for the kept band.
"""

from contextlib import contextmanager

import torch
from torch.autograd.function import once_differentiable

from bandts.backends import split_cmac_chunks
from bandts.backends.workspace import scratch
from bandts.functional.band import choose_levels, static_level_1d
from bandts.functional.chunks import chunk_ranges
from bandts.functional.dft import real_dft_matrix
from bandts.functional.inputs import run_checked
from bandts.functional.transforms import signal_of, spectrum_of


def _filter_basis(geo, start: int, stop: int, weight: torch.Tensor) -> torch.Tensor:
    """(2 * bins, K): the DFT of the taps placed at t - pad_left, for bins start..stop-1."""
    return real_dft_matrix(start, stop, geo.kernel, geo.fft_len, weight.dtype, weight.device,
                           offset=-geo.pad_left).flatten(0, 1)


def _taps(weight: torch.Tensor, by_output: bool = False) -> torch.Tensor:
    """The weight (F, C, K) as the right operand of the filter DFT: (K, C * F), a copy, whose
    spectra come out (bins, 2, C, F); with ``by_output``, (K, F * C), a view, whose spectra come
    out (bins, 2, F, C)."""
    if by_output:
        return weight.reshape(-1, weight.shape[2]).T
    return weight.permute(2, 1, 0).reshape(weight.shape[2], -1)


@contextmanager
def _chunks_and_buffer(keep: int, weight: torch.Tensor):
    """Chunks of bins for the filter spectrum and one buffer that holds any chunk's (2 * bins,
    C * F) spectrum, reused by every chunk of a pass (a scratch buffer, lent for the block)."""
    n_filters = weight.shape[0] * weight.shape[1]
    # Chunk sizes a multiple of the threads, which split each chunk's batched GEMM by bins.
    chunks = chunk_ranges(keep, 2 * n_filters, weight.dtype, multiple=torch.get_num_threads())
    largest = max(stop - start for start, stop in chunks)
    with scratch("filter spectrum chunk", (2 * largest, n_filters), weight) as buffer:
        yield chunks, buffer


def _filter_chunks(keep, weight, geo, result, by_output=False):
    """(start, stop, filter spectrum chunk, result[start:stop]) for :func:`split_cmac_chunks`.

    The filter spectrum (keep, 2, C, F), or (keep, 2, F, C) ``by_output``, is the largest tensor
    of the layer; each chunk of it is built into one reused buffer just before its product
    (:mod:`bandts.functional.chunks`).
    """
    n_out, n_in = weight.shape[:2]
    shape = (n_out, n_in) if by_output else (n_in, n_out)
    taps = _taps(weight, by_output)
    with _chunks_and_buffer(keep, weight) as (chunks, buffer):
        for start, stop in chunks:
            filters = torch.mm(_filter_basis(geo, start, stop, weight), taps,
                               out=buffer[:2 * (stop - start)])
            yield start, stop, filters.view(stop - start, 2, *shape), result[start:stop]


def filter_times(spectrum, weight, geo, backend: str, out: torch.Tensor) -> torch.Tensor:
    """X conj(Wf) per bin: (keep, 2, N, C) -> ``out`` (keep, 2, N, F)."""
    split_cmac_chunks(spectrum, _filter_chunks(spectrum.shape[0], weight, geo, out), conj_b=True,
                      backend=backend)
    return out


def _weight_grad_chunks(keep, weight, geo, grad_spectrum, grad_taps):
    """(start, stop, D chunk, buffer) for :func:`split_cmac_chunks`; once a chunk's product
    dWf (bins, 2, C, F) is written, adds its inverse filter DFT into ``grad_taps`` (K, C * F)."""
    n_out, n_in = weight.shape[:2]
    with _chunks_and_buffer(keep, weight) as (chunks, buffer):
        for start, stop in chunks:
            chunk = buffer[:2 * (stop - start)]
            yield start, stop, grad_spectrum[start:stop], chunk.view(stop - start, 2, n_in, n_out)
            grad_taps.addmm_(_filter_basis(geo, start, stop, weight).T, chunk)


def _input_grad(grad_spectrum, weight, geo, backend: str) -> torch.Tensor:
    """dX = D Wf^T per bin, Wf built (bins, 2, F, C) so that its planes stack, synthesised to
    the input's (N, C, W)."""
    keep, _, n, _ = grad_spectrum.shape
    n_in = weight.shape[1]
    with scratch("input gradient spectrum", (keep, 2, n, n_in), grad_spectrum) as spectrum:
        split_cmac_chunks(grad_spectrum, _filter_chunks(keep, weight, geo, spectrum,
                                                        by_output=True), backend=backend)
        return signal_of(spectrum.view(keep, 2, n * n_in), geo.in_len, 1,
                         geo.fft_len).view(n, n_in, geo.in_len)


def _weight_grad(grad_spectrum, kept, weight, geo, backend: str) -> torch.Tensor:
    """dWf = X^T conj(D) per bin, then the transpose of the filter DFT: (F, C, K)."""
    n_out, n_in, n_taps = weight.shape
    grad_taps = weight.new_zeros(n_taps, n_in * n_out)
    split_cmac_chunks(kept.transpose(2, 3), _weight_grad_chunks(
        kept.shape[0], weight, geo, grad_spectrum, grad_taps), conj_b=True, backend=backend)
    return grad_taps.view(n_taps, n_in, n_out).permute(2, 1, 0).contiguous()


def _above_cut(per_sample: torch.Tensor, keep: int) -> torch.Tensor:
    """(keep, 1, N, 1) mask of the bins above each sample's own cut."""
    above = torch.arange(keep, device=per_sample.device)[:, None] >= per_sample[None, :]
    return above[:, None, :, None]


def _input_spectrum(x, geo, level_of):
    """The kept split-complex input spectrum (keep, 2, N, C), a tensor of its own.

    ``level_of(bin_power)`` returns (keep, per_sample cuts or None) as
    :func:`bandts.functional.band.choose_levels`; ``bin_power()`` transforms all L // 2 + 1 bins
    and is called only by energy cuts.
    """
    n, c, _ = x.shape
    rows = x.reshape(n * c, -1)
    full = []

    def bin_power():
        full.append(spectrum_of(rows, geo.n_bins, 1, geo.fft_len).view(geo.n_bins, 2, n, c))
        return full[0].square().sum((1, 3)).T  # (N, M)

    keep, per_sample = level_of(bin_power)
    if not full:
        return spectrum_of(rows, keep, 1, geo.fft_len).view(keep, 2, n, c), per_sample
    # A copy, never a view: a view would keep the full spectrum alive until backward.
    return (full[0][:keep].clone() if keep < geo.n_bins else full[0]), per_sample


class BandLimitedConv1dFunction(torch.autograd.Function):
    """Forward and analytic backward of the band-limited 1D convolution.

    Saves for backward only the compressed input spectrum (kept bins, 2, N, C), the spatial weight
    and, in the "sample" scope, the (N,) per-sample cuts.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, geos, band, backend, report):
        (geo,) = geos
        compress_rate, preserve_energy, energy_scope, frozen_cut = band
        kept, per_sample = _input_spectrum(x, geo, lambda bin_power: choose_levels(
            bin_power, geo.n_bins, static_level_1d, compress_rate, preserve_energy, energy_scope,
            frozen_cut))
        keep = kept.shape[0]
        if per_sample is not None:
            kept.masked_fill_(_above_cut(per_sample, keep), 0)
        n, n_out = x.shape[0], weight.shape[0]
        with scratch("output spectrum", (keep, 2, n, n_out), kept) as product:
            filter_times(kept, weight, geo, backend, out=product)
            if bias is not None:
                # A constant is the DC bin alone: L * bias there adds bias to every output sample.
                product[0, 0] += geo.fft_len * bias
            out = signal_of(product.view(keep, 2, n * n_out), geo.out_len, geo.stride,
                            geo.fft_len, inverse=True)
        ctx.save_for_backward(kept, weight, per_sample)
        ctx.geo, ctx.backend, ctx.has_bias = geo, backend, bias is not None
        report.update(kept_bins=keep, spectrum_bins=geo.n_bins, level=keep, n_levels=geo.n_bins)
        return out.view(n, n_out, geo.out_len)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        kept, weight, per_sample = ctx.saved_tensors
        geo, backend = ctx.geo, ctx.backend
        keep, _, n, n_in = kept.shape
        n_out = weight.shape[0]
        want_x, want_w = ctx.needs_input_grad[:2]
        grad_x = grad_w = grad_b = None
        with scratch("output gradient spectrum", (keep, 2, n, n_out), kept) as grad_spectrum:
            spectrum_of(grad_out.reshape(n * n_out, -1), keep, geo.stride, geo.fft_len,
                        inverse=True, out=grad_spectrum.view(keep, 2, n * n_out))
            if ctx.has_bias and ctx.needs_input_grad[2]:
                # The bias sits in the DC bin (forward), whose adjoint sums the gradient over
                # samples: read it from that bin instead of summing grad_out again.
                grad_b = geo.fft_len * grad_spectrum[0, 0].sum(0)
            if per_sample is not None:
                grad_spectrum.masked_fill_(_above_cut(per_sample, keep), 0)
            if want_x:
                grad_x = _input_grad(grad_spectrum, weight, geo, backend)
            if want_w:
                grad_w = _weight_grad(grad_spectrum, kept, weight, geo, backend)
        return grad_x, grad_w, grad_b, None, None, None, None


def bandlimited_conv1d_report(x, weight, bias=None, stride=1, padding=0, *, compress_rate=0.0,
                              preserve_energy=1.0, energy_scope="sample", fft_size="minimal",
                              backend="auto", frozen_cut=None):
    """:func:`bandlimited_conv1d` that also reports the band it used.

    Returns:
        (output, report) with report keys ``kept_bins`` (coefficients kept, the largest cut in the
        batch), ``spectrum_bins`` (coefficients available), ``level`` and ``n_levels`` (the cut as
        a level of :mod:`bandts.functional.band`; ``level / n_levels`` is what a frozen cut stores).
    """
    return run_checked(BandLimitedConv1dFunction, 1, x, weight, bias, stride, padding,
                       compress_rate, preserve_energy, energy_scope, fft_size, backend,
                       frozen_cut)


def bandlimited_conv1d(x, weight, bias=None, stride=1, padding=0, *, compress_rate=0.0,
                       preserve_energy=1.0, energy_scope="sample", fft_size="minimal",
                       backend="auto", frozen_cut=None):
    """Band-limited 1D cross-correlation computed in the frequency domain.

    Equals ``torch.nn.functional.conv1d`` at full band (compress_rate 0, preserve_energy 1), and
    otherwise an ideal low-pass of it: only the lowest frequencies of input, filter and (in
    backward) output gradient take part. Gradients are exact for the kept band.

    Args:
        x: input of shape (N, C, W) or (C, W); float32 or float64, any device.
        weight: filters of shape (F, C, K).
        bias: (F,) or None.
        stride: output stride (int).
        padding: zeros on both sides (int), "valid" or "same" (stride 1).
        compress_rate: static cut in [0, 1): drop floor(M * c) + 1 of the M = L // 2 + 1 bins
            (none for 0).
        preserve_energy: energy cut in (0, 1]: keep the fewest low bins holding this fraction of
            the input spectrum's power. Exclusive with compress_rate > 0.
        energy_scope: where the energy is measured: "sample" (each sample its own cut; the
            output of a sample never depends on its batch), "batch" (one cut for the batch, the
            paper's) or "frozen" (the calibrated ``frozen_cut``; "batch" while it is None).
        fft_size: FFT length L: "minimal" (smallest 5-smooth >= W + 2p), "pow2", "paper" or an int.
        backend: CMAC backend: "auto", "torch" or "pycuda".
        frozen_cut: calibrated cut as a fraction of the M bins, used by the "frozen" scope.

    Returns:
        Tensor of shape (N, F, W_out), W_out = (W + 2p - K) // stride + 1.
    """
    return bandlimited_conv1d_report(
        x, weight, bias, stride, padding, compress_rate=compress_rate,
        preserve_energy=preserve_energy, energy_scope=energy_scope, fft_size=fft_size,
        backend=backend, frozen_cut=frozen_cut)[0]
