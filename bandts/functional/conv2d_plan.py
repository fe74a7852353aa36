"""Both plans of the band-limited 2D convolution (cross-correlation, like ``conv2d``).

Shapes: x (N, C, H, W), weight (F, C, kH, kW), bias (F,), output (N, F, H_out, W_out).
The spectrum is the (Lh, Lw // 2 + 1) rfft2 grid; a kept band is a set of rows (the top ir rows and
the last ir - 1, contiguous under circular indexing) times the first ic columns (docs/design.md,
"The 2D convolution"; levels in :mod:`bandts.functional.band`). Kept coefficients are flattened
row-major into one frequency axis, frequency-major as in 1D: (kept coefficients, rows, columns),
complex.

Along the width only the kept one-sided columns are computed
(:func:`bandts.functional.transforms.rfft_kept` and ``irfft_kept``: a GEMM with their small DFT
matrix while the band is narrow, ``torch.fft`` otherwise); along the height by ``torch.fft``.
The separable filter spectrum is built from two small cached phase matrices. The CPU plan
(``chunked``) builds it and multiplies a chunk of kept rows at a time, bounding the temporaries;
the accelerator plan does each step once for the whole band. Both are made of differentiable
torch operations, so the backward also serves for double backward.
"""

import torch

from bandts.backends import cmac
from bandts.functional.band import (Band, axis_keep, choose_levels, levels_2d,
                                   static_level_2d)
from bandts.functional.chunks import chunk_ranges
from bandts.functional.dft import cached_constant, one_sided_weights, phase_matrix
from bandts.functional.transforms import irfft_kept, rfft_kept


class KeptCells:
    """The coefficients kept at one level of an (Lh, Lw // 2 + 1) grid.

    Kept rows are two contiguous runs, the top ``n_top`` rows (0..ir-1) and the bottom rows
    ``bottom_start``..Lh-1 (the last ir - 1, fewer where they would overlap the top); kept columns
    are the first ``n_cols``. Coefficients are flattened row-major, top rows first.

    Attributes:
        signed_rows: int64 row frequencies of the kept rows (bottom rows negative).
        count: number of kept coefficients.
    """

    def __init__(self, geo_h, geo_w, level: int, device):
        self.n_top, self.bottom_start, self.n_cols = self.extent(geo_h, geo_w, level)
        fft_h = self.fft_h = geo_h.fft_len
        rows = list(range(self.n_top)) + list(range(self.bottom_start - fft_h, 0))
        self.signed_rows = torch.tensor(rows, dtype=torch.int64, device=device)
        self.count = len(rows) * self.n_cols

    @staticmethod
    def extent(geo_h, geo_w, level: int) -> tuple:
        """(top rows, first bottom row, columns) kept at ``level``."""
        n_levels = max(geo_h.n_bins, geo_w.n_bins)
        n_top = axis_keep(level, geo_h.n_bins, n_levels)
        bottom_start = max(n_top, geo_h.fft_len - n_top + 1)
        return n_top, bottom_start, axis_keep(level, geo_w.n_bins, n_levels)

    @classmethod
    def count_at(cls, geo_h, geo_w, level: int) -> int:
        """Coefficients kept at ``level``."""
        n_top, bottom_start, n_cols = cls.extent(geo_h, geo_w, level)
        return (n_top + geo_h.fft_len - bottom_start) * n_cols

    def gather(self, grid: torch.Tensor) -> torch.Tensor:
        """(N, C, Lh, >= ic) grid -> (kept, N, C), a new contiguous tensor."""
        n, c = grid.shape[:2]
        kept = grid.new_empty(len(self.signed_rows), self.n_cols, n, c)
        kept[:self.n_top] = grid[:, :, :self.n_top, :self.n_cols].permute(2, 3, 0, 1)
        kept[self.n_top:] = grid[:, :, self.bottom_start:, :self.n_cols].permute(2, 3, 0, 1)
        return kept.view(self.count, n, c)

    def scatter(self, kept: torch.Tensor) -> torch.Tensor:
        """(kept, N, C) -> (N, C, Lh, ic) grid with zeros outside the cells."""
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


@cached_constant
def kept_cells(geo_h, geo_w, level: int, device) -> KeptCells:
    """The :class:`KeptCells` of a level, cached per geometry and device (no host copies per call)."""
    with torch.inference_mode(False):  # cached tensors must be usable outside inference mode
        return KeptCells(geo_h, geo_w, level, device)


@cached_constant
def _cached_levels(fft_h: int, fft_w: int, device) -> torch.Tensor:
    with torch.inference_mode(False):
        return levels_2d(fft_h, fft_w, device)


@cached_constant
def _phase_matrices(cells: KeptCells, geo_h, geo_w, sign: int, dtype):
    """Row (kept rows, kH) and column (ic, kW) phase matrices of the shifted filter (cached)."""
    with torch.inference_mode(False):
        rows = phase_matrix(cells.signed_rows, geo_h.kernel, geo_h.pad_left, geo_h.fft_len, sign,
                            dtype)
        cols = phase_matrix(torch.arange(cells.n_cols, device=cells.signed_rows.device),
                            geo_w.kernel, geo_w.pad_left, geo_w.fft_len, sign, dtype)
    return rows, cols


def level_of_count(geo_h, geo_w, count: int) -> int:
    """The level whose band keeps ``count`` coefficients (kept counts grow with the level)."""
    for level in range(1, max(geo_h.n_bins, geo_w.n_bins) + 1):
        if KeptCells.count_at(geo_h, geo_w, level) == count:
            return level
    raise ValueError(f"no level of a {geo_h.fft_len} x {geo_w.fft_len} grid keeps {count} "
                     "coefficients")


def _row_ranges(n_rows: int, values_per_row: int, dtype, chunked: bool) -> list:
    return chunk_ranges(n_rows, values_per_row, dtype) if chunked else [(0, n_rows)]


def filter_times_2d(spectrum, weight, geo_h, geo_w, cells: KeptCells, for_input_grad: bool,
                    backend: str, chunked: bool) -> torch.Tensor:
    """Per-coefficient product of a (kept, rows, C or F) spectrum with the filter spectrum.

    Forward: X (kept, N, C) -> X conj(W') (kept, N, F); input gradient: D (kept, N, F) ->
    D W' (kept, N, C). The separable filter spectrum is built a chunk of kept rows at a time
    (:mod:`bandts.functional.chunks`) with ``chunked``, else all at once.
    """
    rows, cols = _phase_matrices(cells, geo_h, geo_w, -1 if for_input_grad else 1, spectrum.dtype)
    taps = weight.permute(2, 3, 0, 1) if for_input_grad else weight.permute(2, 3, 1, 0)
    kh, kw = taps.shape[:2]
    flat = taps.reshape(kh, -1).to(spectrum.dtype)
    shape, n_cols = taps.shape[2:], cells.n_cols
    result = spectrum.new_empty(cells.count, spectrum.shape[1], shape[1])
    for start, stop in _row_ranges(len(rows), n_cols * flat.shape[1] // kw, spectrum.dtype,
                                   chunked):
        by_row = (rows[start:stop] @ flat).view(stop - start, kw, -1)
        chunk = torch.matmul(cols, by_row).reshape((stop - start) * n_cols, *shape)
        result[start * n_cols:stop * n_cols] = cmac(spectrum[start * n_cols:stop * n_cols], chunk,
                                                    backend=backend)
    return result


def weight_grad_2d(grad_spectrum, kept, geo_h, geo_w, cells: KeptCells, backend: str,
                   chunked: bool) -> torch.Tensor:
    """Weight gradient (F, C, kH, kW) from D (kept, N, F) and X (kept, N, C).

    dW' = D^H X per coefficient, mapped back to the taps by the inverse of the filter spectrum
    (one-sided columns other than DC and Nyquist count twice), a chunk of kept rows at a time.
    """
    n_out, n_in = grad_spectrum.shape[2], kept.shape[2]
    rows, cols = _phase_matrices(cells, geo_h, geo_w, 1, kept.dtype)
    col_bins = torch.arange(cells.n_cols, device=kept.device)
    weights = one_sided_weights(col_bins, geo_w.fft_len, rows.real.dtype)
    cols = cols * (weights / (geo_h.fft_len * geo_w.fft_len))[:, None]
    n_cols = cells.n_cols
    taps = kept.real.new_zeros(geo_h.kernel, geo_w.kernel * n_out * n_in)
    for start, stop in _row_ranges(len(rows), n_cols * n_out * n_in, kept.dtype, chunked):
        coefficients = slice(start * n_cols, stop * n_cols)
        spectrum = cmac(grad_spectrum[coefficients].transpose(1, 2), kept[coefficients],
                        conj_a=True, backend=backend)  # (coefficients, F, C)
        by_col = torch.matmul(cols.T, spectrum.reshape(stop - start, n_cols, -1))  # (rows, kW, F*C)
        taps += (rows[start:stop].T @ by_col.reshape(stop - start, -1)).real
    return taps.reshape(geo_h.kernel, geo_w.kernel, n_out, n_in).permute(2, 3, 0, 1)


def _inverse(kept_spectrum, cells, geo_h, geo_w, size_h, size_w, stride_h=1, stride_w=1):
    """(kept, N, C) -> spatial (N, C, size_h, size_w) taken every stride from the origin."""
    grid = torch.fft.ifft(cells.scatter(kept_spectrum), dim=2)[:, :, :size_h:stride_h]
    return irfft_kept(grid, size_w, stride_w, geo_w.fft_len)


def _above_cut(per_sample, band_levels):
    """(kept, N, 1) mask of the coefficients above each sample's own cut."""
    return (band_levels[:, None] > per_sample[None, :])[..., None]




def kept_spectrum(x, geos, cells: KeptCells, all_columns=None):
    """The kept (count, N, C) spectrum of x (a copy); ``all_columns`` is x's full rfft along the
    width when an energy cut has already computed it."""
    geo_h, geo_w = geos
    by_col = (all_columns[..., :cells.n_cols] if all_columns is not None
              else rfft_kept(x, cells.n_cols, geo_w.fft_len))
    return cells.gather(torch.fft.fft(by_col, n=geo_h.fft_len, dim=2))


def cells_of(geos, count: int, device) -> KeptCells:
    """The :class:`KeptCells` of the band that keeps ``count`` coefficients."""
    geo_h, geo_w = geos
    return kept_cells(geo_h, geo_w, level_of_count(geo_h, geo_w, count), device)


def kept_input(x, geos, band: Band):
    """The kept input spectrum (count, N, C) complex and the per-sample levels ((N,) int64 in
    the "sample" scope of an energy cut, else empty)."""
    geo_h, geo_w = geos
    n_levels = max(geo_h.n_bins, geo_w.n_bins)
    levels = _cached_levels(geo_h.fft_len, geo_w.fft_len, x.device)
    all_columns = []  # filled only when an energy cut needs the whole spectrum

    def level_power():
        all_columns.append(torch.fft.rfft(x, n=geo_w.fft_len, dim=3))
        grid = torch.fft.fft(all_columns[0], n=geo_h.fft_len, dim=2)
        power = torch.view_as_real(grid).square().sum((1, 4)).flatten(1)  # (N, Lh * Wh)
        return power.new_zeros(power.shape[0], n_levels + 1).index_add_(
            1, levels.flatten(), power)[:, 1:]

    level, per_sample = choose_levels(level_power, n_levels, static_level_2d, band)
    cells = kept_cells(geo_h, geo_w, level, x.device)
    kept = kept_spectrum(x, geos, cells, all_columns.pop() if all_columns else None)
    if per_sample is None:
        return kept, x.new_empty(0, dtype=torch.int64)
    kept.masked_fill_(_above_cut(per_sample, cells.levels(levels)), 0)
    return kept, per_sample


def forward(x, weight, bias, geos, band: Band, backend: str, chunked: bool):
    """Output (N, F, H_out, W_out), kept input spectrum (count, N, C) complex and per-sample
    levels."""
    kept, cuts = kept_input(x, geos, band)
    return output_from_kept(kept, weight, bias, geos, backend, chunked), kept, cuts


def output_spectrum(kept, weight, bias, geos, backend: str, chunked: bool) -> torch.Tensor:
    """The output's kept spectrum (count, N, F) complex: the filter product, with the bias in
    the DC coefficient."""
    geo_h, geo_w = geos
    cells = cells_of(geos, kept.shape[0], kept.device)
    product = filter_times_2d(kept, weight, geo_h, geo_w, cells, False, backend, chunked)
    if bias is not None:
        add_constant(product, bias, geos)
    return product


def add_constant(spectrum, values, geos) -> None:
    """Adds ``values`` (F,) to every output of channel f in the output spectrum (count, N, F),
    in place: a constant is the DC coefficient alone (kept index 0), Lh * Lw * value there."""
    spectrum[0] += geos[0].fft_len * geos[1].fft_len * values


def project(spectrum, geos) -> torch.Tensor:
    """``output_grad_spectrum(output_of_spectrum(spectrum))`` (count, N, F)."""
    return output_grad_spectrum(output_of_spectrum(spectrum, geos), spectrum.shape[0], geos)


def output_inner(grad_spectrum, spectrum, geos) -> torch.Tensor:
    """sum(g * y) per output channel (F,) from D = :func:`output_grad_spectrum` of g and y's
    kept spectrum Y: y sums w_c / (Lh Lw) Re(Y e^(...)) over the cells (w_c of the one-sided
    column, :func:`one_sided_weights`), so <g, y> = sum w_c / (Lh Lw) Re(conj(D) Y)."""
    geo_h, geo_w = geos
    n_cols = cells_of(geos, spectrum.shape[0], spectrum.device).n_cols
    weights = one_sided_weights(torch.arange(n_cols, device=spectrum.device), geo_w.fft_len,
                                spectrum.real.dtype) / (geo_h.fft_len * geo_w.fft_len)
    products = (grad_spectrum.conj() * spectrum).real
    return (products.view(-1, n_cols, *products.shape[1:]) * weights[:, None, None]).sum((0, 1, 2))


def output_of_spectrum(spectrum, geos) -> torch.Tensor:
    """The output (N, F, H_out, W_out) of its kept spectrum (count, N, F)."""
    geo_h, geo_w = geos
    cells = cells_of(geos, spectrum.shape[0], spectrum.device)
    return _inverse(spectrum, cells, geo_h, geo_w, geo_h.full_out_len, geo_w.full_out_len,
                    geo_h.stride, geo_w.stride).contiguous()


def output_from_kept(kept, weight, bias, geos, backend: str, chunked: bool):
    """The output (N, F, H_out, W_out) from the kept input spectrum (count, N, C)."""
    return output_of_spectrum(output_spectrum(kept, weight, bias, geos, backend, chunked), geos)


def output_grad_spectrum(grad_out, count: int, geos) -> torch.Tensor:
    """D (count, N, F) complex: the kept spectrum of an output gradient (N, F, H_out, W_out)
    placed at the strided output positions (the adjoint of :func:`output_of_spectrum` up to the
    scale that :func:`weight_grad_2d` and :func:`_inverse` apply)."""
    geo_h, geo_w = geos
    grad = grad_out
    if geo_h.stride > 1 or geo_w.stride > 1:
        grad = grad_out.new_zeros(*grad_out.shape[:2], geo_h.full_out_len, geo_w.full_out_len)
        grad[..., ::geo_h.stride, ::geo_w.stride] = grad_out
    return kept_spectrum(grad, geos, cells_of(geos, count, grad_out.device))


def backward(grad_out, kept, weight, cuts, geos, needs, backend: str, chunked: bool):
    """(grad_x, grad_w, grad_b) from the output gradient; None where ``needs`` (x, weight,
    bias) is False. Differentiable (the double backward runs it with grad mode on)."""
    return backward_from_spectrum(output_grad_spectrum(grad_out, kept.shape[0], geos), kept,
                                  weight, cuts, geos, needs, backend, chunked)


def backward_from_spectrum(grad_spectrum, kept, weight, cuts, geos, needs, backend: str,
                           chunked: bool):
    """:func:`backward` from D = :func:`output_grad_spectrum` of the output gradient."""
    geo_h, geo_w = geos
    cells = cells_of(geos, kept.shape[0], kept.device)
    want_x, want_w, want_b = needs
    grad_b = grad_spectrum[0].real.sum(0) if want_b else None  # DC: the sum over positions
    if cuts.numel():
        levels = _cached_levels(geo_h.fft_len, geo_w.fft_len, kept.device)
        grad_spectrum = grad_spectrum.masked_fill(_above_cut(cuts, cells.levels(levels)), 0)
    grad_x = grad_w = None
    # The weight gradient first: its temporaries are gone before grad_x is allocated.
    if want_w:
        grad_w = weight_grad_2d(grad_spectrum, kept, geo_h, geo_w, cells, backend, chunked)
    if want_x:
        spectrum = filter_times_2d(grad_spectrum, weight, geo_h, geo_w, cells, True, backend,
                                   chunked)
        grad_x = _inverse(spectrum, cells, geo_h, geo_w, geo_h.in_len, geo_w.in_len).contiguous()
    return grad_x, grad_w, grad_b


def input_adjoint(grad_kept, cuts, geos, x_shape) -> torch.Tensor:
    """The adjoint of x -> kept spectrum applied to ``grad_kept`` (count, N, C): (N, C, H, W).

    The transposes of the three steps of :func:`kept_spectrum`, last first: the gather (a
    scatter), the FFT along the height (Lh times the inverse FFT) and the kept one-sided columns
    of the width (``irfft`` scaled by Lw / w_k, as in 1D).
    """
    geo_h, geo_w = geos
    cells = kept_cells(geo_h, geo_w, level_of_count(geo_h, geo_w, grad_kept.shape[0]),
                       grad_kept.device)
    if cuts.numel():
        levels = _cached_levels(geo_h.fft_len, geo_w.fft_len, grad_kept.device)
        grad_kept = grad_kept.masked_fill(_above_cut(cuts, cells.levels(levels)), 0)
    by_col = geo_h.fft_len * torch.fft.ifft(cells.scatter(grad_kept), dim=2)[:, :, :x_shape[2]]
    column_bins = torch.arange(cells.n_cols, device=grad_kept.device)
    scale = geo_w.fft_len / one_sided_weights(column_bins, geo_w.fft_len, grad_kept.real.dtype)
    return torch.fft.irfft(by_col * scale, n=geo_w.fft_len, dim=3)[..., :x_shape[3]].contiguous()
