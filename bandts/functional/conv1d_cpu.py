"""The CPU plan of the band-limited 1D convolution: bounded temporaries, kept between calls.

Spectra are split-complex and frequency-major, (kept bins, 2, rows, columns) with real and
imaginary parts as the two planes, so every complex multiply-accumulate is one real batched GEMM
with frequency as the batch axis (docs/design.md, "The CMAC"; :func:`bandts.backends.split_cmac`).

The filter's spectrum is a GEMM with the small DFT matrix of its K taps at the kept bins
(:func:`real_dft_matrix`), built one chunk of bins at a time into a reused scratch buffer
(:mod:`bandts.functional.chunks`, :mod:`bandts.backends.workspace`). Signals (input, output,
gradients) are transformed by :mod:`bandts.functional.transforms`: a GEMM of the kept bins when the
band is narrow, ``torch.fft`` otherwise, both reading and writing the split layout. The stride is
folded into the output transform (only the strided outputs are computed), and left padding into
the filter: tap t sits at position t - pad_left (mod L), so the input is transformed unpadded.
The backward pass applies the transposes of the forward's linear maps: it is the exact gradient of
the forward for the kept band.

These functions write into buffers (``out=``, in place): they are not differentiable by autograd
and run inside the ``bandts::conv1d`` custom operator (:mod:`bandts.functional.conv1d_op`).
"""

from contextlib import contextmanager

import torch

from bandts.backends import split_cmac_chunks
from bandts.backends.workspace import scratch
from bandts.functional.band import Band, choose_levels, static_level_1d
from bandts.functional.chunks import chunk_ranges
from bandts.functional.dft import cached_constant, real_dft_matrix
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


def kept_input(x, geo, band: Band):
    """The kept input spectrum (keep, 2, N, C) and the per-sample levels ((N,) int64 in the
    "sample" scope of an energy cut, else empty)."""
    kept, per_sample = _input_spectrum(x, geo, lambda bin_power: choose_levels(
        bin_power, geo.n_bins, static_level_1d, band))
    if per_sample is not None and bool((per_sample < kept.shape[0]).any()):
        kept.masked_fill_(_above_cut(per_sample, kept.shape[0]), 0)
    cuts = per_sample if per_sample is not None else x.new_empty(0, dtype=torch.int64)
    return kept, cuts


def forward(x, weight, bias, geo, band: Band, backend: str):
    """Output (N, F, W_out), kept input spectrum (keep, 2, N, C) and per-sample levels."""
    kept, cuts = kept_input(x, geo, band)
    return output_from_kept(kept, weight, bias, geo, backend), kept, cuts


def output_spectrum(kept, weight, bias, geo, backend: str, out=None) -> torch.Tensor:
    """The output's kept spectrum (keep, 2, N, F) from the kept input spectrum: the filter
    product, with the bias in the DC bin (written into ``out`` when given)."""
    keep, _, n, _ = kept.shape
    product = kept.new_empty(keep, 2, n, weight.shape[0]) if out is None else out
    filter_times(kept, weight, geo, backend, out=product)
    if bias is not None:
        add_constant(product, bias, geo)
    return product


def add_constant(spectrum, values, geo) -> None:
    """Adds ``values`` (F,) to every output sample of channel f in the output spectrum
    (keep, 2, N, F), in place: a constant is the DC bin alone, L * value there."""
    spectrum[0, 0] += geo.fft_len * values


@cached_constant
def _projection(keep: int, out_len: int, stride: int, fft_len: int, dtype, device):
    """M M^T (2 keep, 2 keep), M the (2 keep, W_out) matrix of both :func:`output_of_spectrum`
    (signal = S^T M) and :func:`output_grad_spectrum` (D = M signal^T)."""
    with torch.inference_mode(False):
        m = real_dft_matrix(0, keep, out_len, fft_len, torch.float64, device, step=stride,
                            inverse=True).flatten(0, 1)
        return (m @ m.T).to(dtype)


def project(spectrum, geo) -> torch.Tensor:
    """``output_grad_spectrum(output_of_spectrum(spectrum))`` (keep, 2, N, F), by one small
    (2 keep, 2 keep) product instead of the two transforms."""
    keep, _, n, n_out = spectrum.shape
    matrix = _projection(keep, geo.out_len, geo.stride, geo.fft_len, spectrum.dtype,
                         spectrum.device)
    return (matrix @ spectrum.reshape(2 * keep, n * n_out)).view(keep, 2, n, n_out)


def output_inner(grad_spectrum, spectrum, geo) -> torch.Tensor:
    """sum(g * y) per output channel (F,) from D = :func:`output_grad_spectrum` of g and y's
    kept spectrum: D is the adjoint of the synthesis applied to g, so <g, y> = <D, Y>."""
    return (grad_spectrum * spectrum).sum((0, 1, 2))


def output_of_spectrum(spectrum, geo) -> torch.Tensor:
    """The output (N, F, W_out) of its kept spectrum (keep, 2, N, F); the (N, F) axes may be a
    slice of a larger batch."""
    keep, _, n, n_out = spectrum.shape
    out = signal_of(spectrum.reshape(keep, 2, n * n_out), geo.out_len, geo.stride, geo.fft_len,
                    inverse=True)
    return out.view(n, n_out, geo.out_len)


def output_from_kept(kept, weight, bias, geo, backend: str) -> torch.Tensor:
    """The output (N, F, W_out) from the kept input spectrum (keep, 2, N, C)."""
    keep, _, n, _ = kept.shape
    with scratch("output spectrum", (keep, 2, n, weight.shape[0]), kept) as product:
        return output_of_spectrum(output_spectrum(kept, weight, bias, geo, backend, product), geo)


def output_grad_spectrum(grad_out, keep: int, geo, out=None) -> torch.Tensor:
    """D (keep, 2, N, F): the kept spectrum of an output gradient (N, F, W_out), scaled by
    w_k / L (the adjoint of :func:`output_of_spectrum`); written into ``out`` when given."""
    n, n_out, _ = grad_out.shape
    spectrum = grad_out.new_empty(keep, 2, n, n_out) if out is None else out
    spectrum_of(grad_out.reshape(n * n_out, -1), keep, geo.stride, geo.fft_len, inverse=True,
                out=spectrum.view(keep, 2, n * n_out))
    return spectrum


def backward(grad_out, kept, weight, cuts, geo, needs, backend: str):
    """(grad_x, grad_w, grad_b) from the output gradient; None where ``needs`` (x, weight,
    bias) is False."""
    keep, _, n, _ = kept.shape
    with scratch("output gradient spectrum", (keep, 2, n, weight.shape[0]), kept) as spectrum:
        return backward_from_spectrum(output_grad_spectrum(grad_out, keep, geo, spectrum), kept,
                                      weight, cuts, geo, needs, backend)


def backward_from_spectrum(grad_spectrum, kept, weight, cuts, geo, needs, backend: str):
    """:func:`backward` from D = :func:`output_grad_spectrum` of the output gradient (changed
    in place: the bins above per-sample cuts are zeroed)."""
    keep = kept.shape[0]
    want_x, want_w, want_b = needs
    grad_x = grad_w = grad_b = None
    if want_b:
        # The bias sits in the DC bin (forward), whose adjoint sums the gradient over samples:
        # read it from that bin instead of summing grad_out again.
        grad_b = geo.fft_len * grad_spectrum[0, 0].sum(0)
    if cuts.numel() and bool((cuts < keep).any()):
        grad_spectrum.masked_fill_(_above_cut(cuts, keep), 0)
    # The weight gradient first: its temporaries are gone before grad_x is allocated.
    if want_w:
        grad_w = _weight_grad(grad_spectrum, kept, weight, geo, backend)
    if want_x:
        grad_x = _input_grad(grad_spectrum, weight, geo, backend)
    return grad_x, grad_w, grad_b
