"""Band-limited 2D convolution (cross-correlation, like ``torch.nn.functional.conv2d``).

Shapes: x (N, C, H, W), weight (F, C, kH, kW), bias (F,), output (N, F, H_out, W_out).
The spectrum is the (Lh, Lw // 2 + 1) rfft2 grid; a kept band is a set of rows (the top ir rows and
the last ir - 1, contiguous under circular indexing) times the first ic columns (DESIGN.md
section 4; levels in :mod:`bandts.functional.band`). Kept coefficients are flattened row-major into
one frequency axis, frequency-major as in 1D: (kept coefficients, rows, columns).

Along the width only the kept one-sided columns are computed
(:func:`bandts.functional.transforms.rfft_kept` and ``irfft_kept``: a GEMM with their small DFT
matrix while the band is narrow, ``torch.fft`` otherwise); along the height by ``torch.fft``.
"""

import torch
from torch.autograd.function import once_differentiable

from bandts.backends import cmac
from bandts.functional.band import axis_keep, choose_levels, levels_2d, static_level_2d
from bandts.functional.chunks import chunk_ranges
from bandts.functional.dft import one_sided_weights, phase_matrix
from bandts.functional.inputs import run_checked
from bandts.functional.transforms import irfft_kept, rfft_kept


class Band2d:
    """The coefficients kept at one level of an (Lh, Lw // 2 + 1) grid.

    Kept rows are two contiguous runs, the top ``n_top`` rows (0..ir-1) and the bottom rows
    ``bottom_start``..Lh-1 (the last ir - 1, fewer where they would overlap the top); kept columns
    are the first ``n_cols``. Coefficients are flattened row-major, top rows first.

    Attributes:
        signed_rows: int64 row frequencies of the kept rows (bottom rows negative).
        count: number of kept coefficients.
    """

    def __init__(self, geo_h, geo_w, level: int, device):
        n_levels = max(geo_h.n_bins, geo_w.n_bins)
        fft_h = geo_h.fft_len
        self.n_top = axis_keep(level, geo_h.n_bins, n_levels)
        self.bottom_start = max(self.n_top, fft_h - self.n_top + 1)
        self.n_cols = axis_keep(level, geo_w.n_bins, n_levels)
        self.fft_h = fft_h
        rows = list(range(self.n_top)) + list(range(self.bottom_start - fft_h, 0))
        self.signed_rows = torch.tensor(rows, dtype=torch.int64, device=device)
        self.count = len(rows) * self.n_cols

    def gather(self, grid: torch.Tensor) -> torch.Tensor:
        """(N, C, Lh, >= ic) grid -> (kept, N, C), a new contiguous tensor."""
        n, c = grid.shape[:2]
        kept = grid.new_empty(len(self.signed_rows), self.n_cols, n, c)
        kept[:self.n_top] = grid[:, :, :self.n_top, :self.n_cols].permute(2, 3, 0, 1)
        kept[self.n_top:] = grid[:, :, self.bottom_start:, :self.n_cols].permute(2, 3, 0, 1)
        return kept.view(self.count, n, c)

    def scatter(self, kept: torch.Tensor) -> torch.Tensor:
        """(kept, N, C) -> (N, C, Lh, ic) grid with zeros outside the band."""
        _, n, c = kept.shape
        by_row = kept.view(len(self.signed_rows), self.n_cols, n, c).permute(2, 3, 0, 1)
        grid = kept.new_empty(n, c, self.fft_h, self.n_cols)
        grid[:, :, :self.n_top] = by_row[:, :, :self.n_top]
        grid[:, :, self.n_top:self.bottom_start] = 0
        grid[:, :, self.bottom_start:] = by_row[:, :, self.n_top:]
        return grid

    def levels(self, levels: torch.Tensor) -> torch.Tensor:
        """The (kept,) levels of the kept coefficients, from the full (Lh, Wh) level grid."""
        rows = torch.remainder(self.signed_rows, self.fft_h)
        return levels[rows][:, :self.n_cols].reshape(-1)


def _phase_matrices(band: Band2d, geo_h, geo_w, sign: int, dtype):
    """Row (kept rows, kH) and column (ic, kW) phase matrices of the shifted filter."""
    rows = phase_matrix(band.signed_rows, geo_h.kernel, geo_h.pad_left, geo_h.fft_len, sign, dtype)
    cols = phase_matrix(torch.arange(band.n_cols, device=band.signed_rows.device), geo_w.kernel,
                        geo_w.pad_left, geo_w.fft_len, sign, dtype)
    return rows, cols


def filter_times_2d(spectrum, weight, geo_h, geo_w, band: Band2d, for_input_grad: bool,
                    backend: str) -> torch.Tensor:
    """Per-coefficient product of a (kept, rows, C or F) spectrum with the filter spectrum.

    Forward: X (kept, N, C) -> X conj(W') (kept, N, F); input gradient: D (kept, N, F) ->
    D W' (kept, N, C). The separable filter spectrum is built a chunk of kept rows at a time
    (:mod:`bandts.functional.chunks`).
    """
    rows, cols = _phase_matrices(band, geo_h, geo_w, -1 if for_input_grad else 1, spectrum.dtype)
    taps = weight.permute(2, 3, 0, 1) if for_input_grad else weight.permute(2, 3, 1, 0)
    kh, kw = taps.shape[:2]
    flat = taps.reshape(kh, -1).to(spectrum.dtype)
    shape, n_cols = taps.shape[2:], band.n_cols
    result = spectrum.new_empty(band.count, spectrum.shape[1], shape[1])
    for start, stop in chunk_ranges(len(rows), n_cols * flat.shape[1] // kw, spectrum.dtype):
        by_row = (rows[start:stop] @ flat).view(stop - start, kw, -1)
        chunk = torch.matmul(cols, by_row).reshape((stop - start) * n_cols, *shape)
        result[start * n_cols:stop * n_cols] = cmac(spectrum[start * n_cols:stop * n_cols], chunk,
                                                    backend=backend)
    return result


def weight_grad_2d(grad_spectrum, kept, geo_h, geo_w, band: Band2d, backend: str) -> torch.Tensor:
    """Weight gradient (F, C, kH, kW) from D (kept, N, F) and X (kept, N, C).

    dW' = D^H X per coefficient, mapped back to the taps by the inverse of the filter spectrum
    (one-sided columns other than DC and Nyquist count twice), a chunk of kept rows at a time.
    """
    n_out, n_in = grad_spectrum.shape[2], kept.shape[2]
    rows, cols = _phase_matrices(band, geo_h, geo_w, 1, kept.dtype)
    col_bins = torch.arange(band.n_cols, device=kept.device)
    weights = one_sided_weights(col_bins, geo_w.fft_len, rows.real.dtype)
    cols = cols * (weights / (geo_h.fft_len * geo_w.fft_len))[:, None]
    n_cols = band.n_cols
    taps = kept.real.new_zeros(geo_h.kernel, geo_w.kernel * n_out * n_in)
    for start, stop in chunk_ranges(len(rows), n_cols * n_out * n_in, kept.dtype):
        coefficients = slice(start * n_cols, stop * n_cols)
        spectrum = cmac(grad_spectrum[coefficients].transpose(1, 2), kept[coefficients],
                        conj_a=True, backend=backend)  # (coefficients, F, C)
        by_col = torch.matmul(cols.T, spectrum.reshape(stop - start, n_cols, -1))  # (rows, kW, F*C)
        taps += (rows[start:stop].T @ by_col.reshape(stop - start, -1)).real
    return taps.reshape(geo_h.kernel, geo_w.kernel, n_out, n_in).permute(2, 3, 0, 1)


def _inverse(kept_spectrum, band, geo_h, geo_w, size_h, size_w, stride_h=1, stride_w=1):
    """(kept, N, C) -> spatial (N, C, size_h, size_w) taken every stride from the origin."""
    grid = torch.fft.ifft(band.scatter(kept_spectrum), dim=2)[:, :, :size_h:stride_h]
    return irfft_kept(grid, size_w, stride_w, geo_w.fft_len)


def _above_cut(per_sample, band_levels):
    """(kept, N, 1) mask of the coefficients above each sample's own cut."""
    return (band_levels[:, None] > per_sample[None, :])[..., None]


class BandLimitedConv2dFunction(torch.autograd.Function):
    """Forward and analytic backward of the band-limited 2D convolution.

    Saves for backward only the compressed input spectrum (kept, N, C), the spatial weight and, in
    the "sample" scope, the (N,) per-sample levels.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, geos, band_setting, backend, report):
        geo_h, geo_w = geos
        compress_rate, preserve_energy, energy_scope, frozen_cut = band_setting
        n_levels = max(geo_h.n_bins, geo_w.n_bins)
        levels = levels_2d(geo_h.fft_len, geo_w.fft_len, x.device)
        all_columns = []  # filled only when an energy cut needs the whole spectrum

        def level_power():
            all_columns.append(torch.fft.rfft(x, n=geo_w.fft_len, dim=3))
            grid = torch.fft.fft(all_columns[0], n=geo_h.fft_len, dim=2)
            power = torch.view_as_real(grid).square().sum((1, 4)).flatten(1)  # (N, Lh * Wh)
            return power.new_zeros(power.shape[0], n_levels + 1).index_add_(
                1, levels.flatten(), power)[:, 1:]

        level, per_sample = choose_levels(level_power, n_levels, static_level_2d, compress_rate,
                                          preserve_energy, energy_scope, frozen_cut)
        band = Band2d(geo_h, geo_w, level, x.device)
        by_col = (all_columns.pop()[..., :band.n_cols] if all_columns
                  else rfft_kept(x, band.n_cols, geo_w.fft_len))
        grid = torch.fft.fft(by_col, n=geo_h.fft_len, dim=2)
        del by_col
        kept = band.gather(grid)  # (kept, N, C), a copy
        del grid
        band_levels = band.levels(levels)
        if per_sample is not None:
            kept.masked_fill_(_above_cut(per_sample, band_levels), 0)
        product = filter_times_2d(kept, weight, geo_h, geo_w, band, False, backend)
        if bias is not None:
            # A constant is the DC coefficient alone (kept index 0): Lh * Lw * bias there adds
            # bias to every output, without a pass over the output.
            product[0] += geo_h.fft_len * geo_w.fft_len * bias
        out = _inverse(product, band, geo_h, geo_w, geo_h.full_out_len, geo_w.full_out_len,
                       geo_h.stride, geo_w.stride).contiguous()
        ctx.save_for_backward(kept, weight, per_sample)
        ctx.geos, ctx.band, ctx.band_levels, ctx.backend = geos, band, band_levels, backend
        ctx.has_bias = bias is not None
        report.update(kept_bins=band.count, spectrum_bins=geo_h.fft_len * geo_w.n_bins,
                      level=level, n_levels=n_levels)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        kept, weight, per_sample = ctx.saved_tensors
        geo_h, geo_w = ctx.geos
        band, backend = ctx.band, ctx.backend
        grad = grad_out
        if geo_h.stride > 1 or geo_w.stride > 1:
            grad = grad_out.new_zeros(*grad_out.shape[:2], geo_h.full_out_len, geo_w.full_out_len)
            grad[..., ::geo_h.stride, ::geo_w.stride] = grad_out
        by_col = rfft_kept(grad, band.n_cols, geo_w.fft_len)
        grad_spectrum = band.gather(torch.fft.fft(by_col, n=geo_h.fft_len, dim=2))  # (kept, N, F)
        grad_b = None
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = grad_spectrum[0].real.sum(0)  # the DC coefficient: the sum over positions
        if per_sample is not None:
            grad_spectrum.masked_fill_(_above_cut(per_sample, ctx.band_levels), 0)
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            spectrum = filter_times_2d(grad_spectrum, weight, geo_h, geo_w, band, True, backend)
            grad_x = _inverse(spectrum, band, geo_h, geo_w, geo_h.in_len, geo_w.in_len).contiguous()
        if ctx.needs_input_grad[1]:
            grad_w = weight_grad_2d(grad_spectrum, kept, geo_h, geo_w, band, backend)
        return grad_x, grad_w, grad_b, None, None, None, None


def bandlimited_conv2d_report(x, weight, bias=None, stride=1, padding=0, *, compress_rate=0.0,
                              preserve_energy=1.0, energy_scope="sample", fft_size="minimal",
                              backend="auto", frozen_cut=None):
    """:func:`bandlimited_conv2d` that also reports the band it used.

    Returns:
        (output, report) as :func:`bandts.functional.bandlimited_conv1d_report`.
    """
    return run_checked(BandLimitedConv2dFunction, 2, x, weight, bias, stride, padding,
                       compress_rate, preserve_energy, energy_scope, fft_size, backend,
                       frozen_cut)


def bandlimited_conv2d(x, weight, bias=None, stride=1, padding=0, *, compress_rate=0.0,
                       preserve_energy=1.0, energy_scope="sample", fft_size="minimal",
                       backend="auto", frozen_cut=None):
    """Band-limited 2D cross-correlation computed in the frequency domain.

    Equals ``torch.nn.functional.conv2d`` at full band and otherwise an ideal centred low-pass of
    it (DESIGN.md section 4). Keywords as :func:`bandts.functional.bandlimited_conv1d`, per axis
    where it applies: stride, padding and fft_size take an int or a pair (padding also "valid" or
    "same"); a static compress_rate c keeps a centred square of side floor(T * sqrt(1 - c)) of the
    T = Lw // 2 + 1 one-sided columns (rectangular grids scale each axis); ``frozen_cut`` is a
    fraction of T.

    Args:
        x: (N, C, H, W) or (C, H, W); float32 or float64.
        weight: (F, C, kH, kW).
        bias: (F,) or None.

    Returns:
        Tensor of shape (N, F, H_out, W_out).
    """
    return bandlimited_conv2d_report(
        x, weight, bias, stride, padding, compress_rate=compress_rate,
        preserve_energy=preserve_energy, energy_scope=energy_scope, fft_size=fft_size,
        backend=backend, frozen_cut=frozen_cut)[0]
