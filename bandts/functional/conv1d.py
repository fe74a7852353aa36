"""Band-limited 1D convolution (cross-correlation, like ``torch.nn.functional.conv1d``).

Shapes: x (N, C, W), weight (F, C, K), bias (F,), output (N, F, W_out). Spectra are kept
frequency-major, (kept bins, rows, columns), so the complex multiply-accumulate is one batched GEMM
with frequency as the batch axis (DESIGN.md sections 2 and 5).
"""

import torch
from torch.autograd.function import once_differentiable

from bandts.backends import cmac
from bandts.functional.band import choose_levels, static_level_1d
from bandts.functional.chunks import frequency_chunks
from bandts.functional.dft import complex_dtype, one_sided_weights, phase_matrix
from bandts.functional.inputs import run_checked


def _spectrum_shape(weight, for_input_grad: bool) -> tuple:
    """Shape of the per-bin filter matrix: (F, C) for the input gradient, (C, F) forward."""
    return (weight.shape[0], weight.shape[1]) if for_input_grad else (weight.shape[1], weight.shape[0])


def _filter_taps_matrix(weight, for_input_grad: bool) -> torch.Tensor:
    """The weight as a complex (K, F*C) or (K, C*F) matrix, the right operand of the small DFT."""
    taps = weight.permute(2, 0, 1) if for_input_grad else weight.permute(2, 1, 0)
    return taps.reshape(weight.shape[2], -1).to(complex_dtype(weight.dtype))


def _filter_spectrum(taps, geo, start: int, stop: int, for_input_grad: bool) -> torch.Tensor:
    """Spectrum of the circularly shifted filter (tap t at (t - pad_left) mod L) at bins
    start..stop-1, flattened: conj(W') as (bins, C*F) for the forward pass, W' as (bins, F*C)
    for the input gradient."""
    basis = phase_matrix(torch.arange(start, stop, device=taps.device), taps.shape[0],
                         geo.pad_left, geo.fft_len, -1 if for_input_grad else 1, taps.dtype)
    # One complex product writes the interleaved result directly; building it from real and
    # imaginary halves (torch.complex) costs an extra pass over the largest tensor of the layer.
    return basis @ taps


def filter_times(spectrum, weight, geo, for_input_grad: bool, backend: str) -> torch.Tensor:
    """Per-bin product of a (keep, rows, C or F) spectrum with the filter spectrum.

    Forward (``for_input_grad`` False): X (keep, N, C) -> X conj(W') (keep, N, F).
    Input gradient: D (keep, N, F) -> D W' (keep, N, C). The filter spectrum is built one chunk
    of bins at a time (:mod:`bandts.functional.chunks`).
    """
    keep, rows = spectrum.shape[:2]
    shape = _spectrum_shape(weight, for_input_grad)
    taps = _filter_taps_matrix(weight, for_input_grad)
    result = spectrum.new_empty(keep, rows, shape[1])
    for start, stop in frequency_chunks(keep, weight.shape[0] * weight.shape[1], spectrum.dtype):
        chunk = _filter_spectrum(taps, geo, start, stop, for_input_grad).view(stop - start, *shape)
        result[start:stop] = cmac(spectrum[start:stop], chunk, backend=backend)
    return result


def weight_grad_1d(grad_spectrum, kept, geo, backend: str) -> torch.Tensor:
    """Weight gradient (F, C, K) from D (keep, N, F) and X (keep, N, C).

    dW'[k] = D[k]^H X[k] per bin, mapped back to the K taps by the inverse of
    ``_filter_spectrum``, one chunk of bins at a time.
    """
    keep, _, n_out = grad_spectrum.shape
    n_in = kept.shape[2]
    taps = kept.real.new_zeros(geo.kernel, n_out * n_in)
    for start, stop in frequency_chunks(keep, n_out * n_in, kept.dtype):
        spectrum = cmac(grad_spectrum[start:stop].transpose(1, 2), kept[start:stop], conj_a=True,
                        backend=backend)  # (bins, F, C)
        bins = torch.arange(start, stop, device=kept.device)
        basis = phase_matrix(bins, geo.kernel, geo.pad_left, geo.fft_len, 1, kept.dtype)
        basis = basis * (one_sided_weights(bins, geo.fft_len, taps.dtype) / geo.fft_len)[:, None]
        taps += (basis.T @ spectrum.reshape(stop - start, -1)).real  # Re(sum_k basis * spectrum)
    return taps.view(geo.kernel, n_out, n_in).permute(1, 2, 0)


def _above_cut(per_sample: torch.Tensor, keep: int) -> torch.Tensor:
    """(keep, N, 1) mask of the bins above each sample's own cut."""
    return (torch.arange(keep, device=per_sample.device)[:, None] >= per_sample[None, :])[..., None]


class BandLimitedConv1dFunction(torch.autograd.Function):
    """Forward and analytic backward of the band-limited 1D convolution.

    Saves for backward only the compressed input spectrum (kept bins, N, C), the spatial weight and,
    in the "sample" scope, the (N,) per-sample cuts.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, geos, band, backend, report):
        (geo,) = geos
        compress_rate, preserve_energy, energy_scope, frozen_cut = band
        spectrum = torch.fft.rfft(x, n=geo.fft_len)  # (N, C, M)

        def bin_power():
            return torch.view_as_real(spectrum).square().sum((1, 3))  # (N, M)

        keep, per_sample = choose_levels(bin_power, geo.n_bins, static_level_1d, compress_rate,
                                         preserve_energy, energy_scope, frozen_cut)
        # A copy, never a view: a view would keep the full spectrum alive until backward.
        kept = spectrum[..., :keep].permute(2, 0, 1).contiguous()  # (keep, N, C)
        del spectrum
        if per_sample is not None:
            kept.masked_fill_(_above_cut(per_sample, keep), 0)
        product = filter_times(kept, weight, geo, False, backend)  # (keep, N, F)
        out = torch.fft.irfft(product.permute(1, 2, 0), n=geo.fft_len)
        out = out[..., :geo.full_out_len:geo.stride]
        out = out + bias[:, None] if bias is not None else out.contiguous()
        ctx.save_for_backward(kept, weight, per_sample)
        ctx.geo, ctx.backend, ctx.has_bias = geo, backend, bias is not None
        report.update(kept_bins=keep, spectrum_bins=geo.n_bins, level=keep, n_levels=geo.n_bins)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        kept, weight, per_sample = ctx.saved_tensors
        geo, backend = ctx.geo, ctx.backend
        keep = kept.shape[0]
        grad = grad_out
        if geo.stride > 1:
            grad = grad_out.new_zeros(*grad_out.shape[:2], geo.full_out_len)
            grad[..., ::geo.stride] = grad_out
        grad_spectrum = torch.fft.rfft(grad, n=geo.fft_len)[..., :keep].permute(2, 0, 1).contiguous()
        if per_sample is not None:
            grad_spectrum.masked_fill_(_above_cut(per_sample, keep), 0)
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x_spectrum = filter_times(grad_spectrum, weight, geo, True, backend)  # (keep, N, C)
            grad_x = torch.fft.irfft(grad_x_spectrum.permute(1, 2, 0), n=geo.fft_len)
            grad_x = grad_x[..., :geo.in_len].contiguous()
        if ctx.needs_input_grad[1]:
            grad_w = weight_grad_1d(grad_spectrum, kept, geo, backend)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = grad_out.sum((0, 2))
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
