"""The accelerator plan of the band-limited 1D convolution: a few large operations per call.

On a GPU every operation is a kernel launch, and launches, not arithmetic, bound a layer of
FCN size. This plan therefore works on the whole batch at once, with no loop over chunks of
frequencies: one ``rfft`` of all N * C input rows, one product of the weight with a cached
(kept, K) DFT matrix for the filter spectrum, one batched complex GEMM over the kept bins
(:func:`bandts.backends.cmac`, torch or the PyCUDA kernels, which read this layout directly) and
one ``irfft``. Spectra are complex and frequency-major: (kept bins, rows, columns).

It is made of ordinary differentiable torch operations, which makes it also the reference for
higher derivatives: the backward of ``bandts::conv1d`` runs :func:`backward` of this module
whenever a graph of the gradient is wanted (``create_graph=True``), whatever the plan of the
forward. It is the plan of every device but the CPU (where :mod:`bandts.functional.conv1d_cpu`
bounds its temporaries instead), and of the meta device, so its operations can be inspected
without a GPU.

With X the kept input spectrum, Wf = E w the filter spectrum (E the DFT matrix of the taps
placed at t - pad_left) and D = (w_k / L) rfft(dy) the kept output-gradient spectrum:

- forward: y = irfft(X conj(Wf)) at the strided output positions (+ bias in the DC bin);
- dX = D Wf^T, dx = the adjoint of the input transform applied to dX;
- dWf = X^T conj(D), dw = Re(E^H dWf).
"""

import torch

from bandts.backends import cmac
from bandts.functional.band import Band, choose_levels, static_level_1d
from bandts.functional.dft import complex_dtype, filter_dft_matrix, inverse_scale


def _filter_spectrum(weight, geo, keep: int, conjugate: bool = False) -> torch.Tensor:
    """Wf (keep, C, F): the spectrum of every filter at the kept bins, or its conjugate (the
    filter is real, so conj(Wf) = conj(E) w: no separate conjugation)."""
    n_out, n_in, n_taps = weight.shape
    basis = filter_dft_matrix(keep, n_taps, geo.pad_left, geo.fft_len,
                              complex_dtype(weight.dtype), weight.device, conjugate)
    taps = weight.permute(2, 1, 0).reshape(n_taps, n_in * n_out).to(basis.dtype)
    return (basis @ taps).view(keep, n_in, n_out)


def above_cut(per_sample: torch.Tensor, keep: int) -> torch.Tensor:
    """(keep, N, 1) mask of the bins above each sample's own cut."""
    bins = torch.arange(keep, device=per_sample.device)
    return (bins[:, None] >= per_sample[None, :])[..., None]


def _kept_spectrum(x, geo, band: Band):
    """(kept input spectrum (keep, N, C), per-sample levels or None); the full spectrum lives
    only inside this function."""
    spectrum = torch.fft.rfft(x, n=geo.fft_len)  # (N, C, M)
    keep, per_sample = choose_levels(
        lambda: torch.view_as_real(spectrum).square().sum((1, 3)), geo.n_bins, static_level_1d,
        band)
    return spectrum[..., :keep].permute(2, 0, 1).contiguous(), per_sample  # a copy of its own


def kept_input(x, geo, band: Band):
    """The kept input spectrum (keep, N, C) complex and the per-sample levels ((N,) int64 in the
    "sample" scope of an energy cut, else empty)."""
    kept, per_sample = _kept_spectrum(x, geo, band)
    if per_sample is None:
        return kept, x.new_empty(0, dtype=torch.int64)
    return kept.masked_fill(above_cut(per_sample, kept.shape[0]), 0), per_sample


def forward(x, weight, bias, geo, band: Band, backend: str):
    """Output (N, F, W_out), kept input spectrum (keep, N, C) complex and per-sample levels."""
    kept, cuts = kept_input(x, geo, band)
    return output_from_kept(kept, weight, bias, geo, backend), kept, cuts


def output_spectrum(kept, weight, bias, geo, backend: str) -> torch.Tensor:
    """The output's kept spectrum (keep, N, F) complex: the filter product, with the bias in
    the DC bin."""
    product = cmac(kept, _filter_spectrum(weight, geo, kept.shape[0], conjugate=True),
                   backend=backend)
    if bias is not None:
        add_constant(product, bias, geo)
    return product


def add_constant(spectrum, values, geo) -> None:
    """Adds ``values`` (F,) to every output sample of channel f in the output spectrum
    (keep, N, F), in place: a constant is the DC bin alone, L * value there."""
    spectrum[0].add_(values, alpha=geo.fft_len)


def project(spectrum, geo) -> torch.Tensor:
    """``output_grad_spectrum(output_of_spectrum(spectrum))`` (keep, N, F)."""
    return output_grad_spectrum(output_of_spectrum(spectrum, geo), spectrum.shape[0], geo)


def output_inner(grad_spectrum, spectrum, geo) -> torch.Tensor:
    """sum(g * y) per output channel (F,) from D = :func:`output_grad_spectrum` of g and y's
    kept spectrum Y: D is the adjoint of the synthesis applied to g, so <g, y> = Re sum conj(D) Y.
    """
    return (grad_spectrum.conj() * spectrum).real.sum((0, 1))


def output_of_spectrum(spectrum, geo) -> torch.Tensor:
    """The output (N, F, W_out) of its kept spectrum (keep, N, F)."""
    frames = torch.fft.irfft(spectrum.permute(1, 2, 0), n=geo.fft_len)  # zero-extends the bins
    return frames[..., :geo.full_out_len:geo.stride].contiguous()


def output_from_kept(kept, weight, bias, geo, backend: str) -> torch.Tensor:
    """The output (N, F, W_out) from the kept input spectrum (keep, N, C) complex."""
    return output_of_spectrum(output_spectrum(kept, weight, bias, geo, backend), geo)


def output_grad_spectrum(grad_out, keep: int, geo) -> torch.Tensor:
    """D (keep, N, F) complex: the kept spectrum of an output gradient (N, F, W_out) scaled by
    w_k / L (the adjoint of :func:`output_of_spectrum`)."""
    if geo.stride > 1:
        grad_out = grad_out.new_zeros(*grad_out.shape[:2], geo.full_out_len).index_copy(
            2, torch.arange(0, geo.full_out_len, geo.stride, device=grad_out.device), grad_out)
    scale = inverse_scale(keep, geo.fft_len, grad_out.dtype, grad_out.device, False)
    return (torch.fft.rfft(grad_out, n=geo.fft_len)[..., :keep] * scale).permute(2, 0, 1)


def input_adjoint(grad_kept, cuts, geo) -> torch.Tensor:
    """The adjoint of x -> kept spectrum: (keep, N, C) complex -> (N, C, W) real.

    x_j enters bin k as x_j exp(-2 pi i k j / L), so its gradient is sum_k Re(G_k exp(2 pi i k j
    / L)): ``irfft`` of G scaled by L / w_k, at the input positions.
    """
    keep = grad_kept.shape[0]
    if cuts.numel():
        grad_kept = grad_kept.masked_fill(above_cut(cuts, keep), 0)
    scale = inverse_scale(keep, geo.fft_len, grad_kept.real.dtype, grad_kept.device, True)
    frames = torch.fft.irfft((grad_kept * scale[:, None, None]).permute(1, 2, 0), n=geo.fft_len)
    return frames[..., :geo.in_len].contiguous()


def backward(grad_out, kept, weight, cuts, geo, needs, backend: str):
    """(grad_x, grad_w, grad_b) from the output gradient and the kept (keep, N, C) complex input
    spectrum; None where ``needs`` (x, weight, bias) is False."""
    return backward_from_spectrum(output_grad_spectrum(grad_out, kept.shape[0], geo), kept,
                                  weight, cuts, geo, needs, backend)


def backward_from_spectrum(grad_spectrum, kept, weight, cuts, geo, needs, backend: str):
    """:func:`backward` from D = :func:`output_grad_spectrum` of the output gradient."""
    keep = kept.shape[0]
    want_x, want_w, want_b = needs
    grad_b = geo.fft_len * grad_spectrum[0].real.sum(0) if want_b else None
    if cuts.numel():
        grad_spectrum = grad_spectrum.masked_fill(above_cut(cuts, keep), 0)
    grad_x = grad_w = None
    if want_x or want_w:
        filters = _filter_spectrum(weight, geo, keep)
    # The weight gradient first: its temporaries are gone before grad_x is allocated.
    if want_w:
        n_out, n_in, n_taps = weight.shape
        grad_filters = cmac(kept.transpose(1, 2), grad_spectrum, conj_b=True, backend=backend)
        conjugate_basis = filter_dft_matrix(keep, n_taps, geo.pad_left, geo.fft_len, kept.dtype,
                                            kept.device, True)
        grad_taps = (conjugate_basis.T @ grad_filters.reshape(keep, n_in * n_out)).real
        grad_w = grad_taps.view(n_taps, n_in, n_out).permute(2, 1, 0).contiguous()
    if want_x:
        grad_kept = cmac(grad_spectrum, filters.transpose(1, 2), backend=backend)
        grad_x = input_adjoint(grad_kept, cuts.new_empty(0), geo)
    return grad_x, grad_w, grad_b
