"""Band-limited 2D convolution (cross-correlation, like ``torch.nn.functional.conv2d``).

Computed on the (Lh, Lw // 2 + 1) rfft2 grid keeping a centred low-pass band of it
(docs/design.md, "The 2D convolution"). It pays off for wide inputs and narrow bands; at full
band it equals ``torch.nn.functional.conv2d``, usually slower.
"""

import torch
import torch.nn.functional as F

from bandts.backends import resolve_backend
from bandts.functional.band import Band
from bandts.functional.conv2d_op import conv2d_op, geometry_args
from bandts.functional.conv2d_plan import level_of_count
from bandts.functional.geometry import resolve_geometry
from bandts.functional.inputs import (TORCHSCRIPT_UNSUPPORTED, ConvReport, check_options,
                                     check_tensors)
from bandts.functional.plans import resolve_plan


def conv2d_with_band(x, weight, bias, stride, padding, band: Band, fft_size, backend: str,
                     plan: str, return_report: bool = False):
    """:func:`bandlimited_conv2d` with a validated :class:`Band` and options (the layers' call)."""
    if torch.jit.is_tracing() or torch.jit.is_scripting():
        raise RuntimeError(TORCHSCRIPT_UNSUPPORTED)
    x, unbatched = check_tensors(x, weight, bias, 2)
    geos = resolve_geometry(tuple(x.shape[2:]), tuple(weight.shape[2:]), stride, padding,
                            fft_size)
    geo_h, geo_w = geos
    n_levels = max(geo_h.n_bins, geo_w.n_bins)
    spectrum_bins = geo_h.fft_len * geo_w.n_bins
    if x.shape[0] == 0:  # nothing to transform: torch's convolution gives the empty result
        padded = F.pad(x, (geo_w.pad_left, geo_w.pad_right, geo_h.pad_left, geo_h.pad_right))
        out = F.conv2d(padded, weight, bias, (geo_h.stride, geo_w.stride))
        report = ConvReport(0, spectrum_bins, 0, n_levels)
    else:
        out, kept, _ = conv2d_op(x, weight, bias, geometry_args(geos), band.compress_rate,
                                 band.preserve_energy, band.energy_scope, band.frozen_cut,
                                 resolve_backend(backend, x.device), resolve_plan(plan, x.device))
        report = None
        if return_report:
            count = kept.shape[0]
            report = ConvReport(count, spectrum_bins, level_of_count(geo_h, geo_w, count),
                                n_levels)
    out = out.squeeze(0) if unbatched else out
    return (out, report) if return_report else out


def bandlimited_conv2d(x, weight, bias=None, stride=1, padding=0, *, compress_rate=0.0,
                       preserve_energy=1.0, energy_scope="sample", frozen_cut=None,
                       fft_size="minimal", backend="auto", plan="auto", return_report=False):
    """Band-limited 2D cross-correlation computed in the frequency domain.

    Equals ``torch.nn.functional.conv2d`` at full band and otherwise an ideal centred low-pass of
    it. Keywords as :func:`bandts.functional.bandlimited_conv1d`, per axis where it applies:
    stride, padding and fft_size take an int or a pair (padding also "valid" or "same"); a static
    compress_rate c keeps a centred square of side floor(T * sqrt(1 - c)) of the T = Lw // 2 + 1
    one-sided columns (rectangular grids scale each axis); ``frozen_cut`` is a fraction of T.

    Args:
        x: (N, C, H, W) or (C, H, W); float32 or float64.
        weight: (F, C, kH, kW).
        bias: (F,) or None.

    Shape:
        - Input: (N, C, H, W) or (C, H, W).
        - Output: (N, F, H_out, W_out), each axis (size + 2 p - k) // stride + 1.

    Returns:
        The output, or (output, :class:`~bandts.functional.inputs.ConvReport`) with
        ``return_report``.

    Examples:
        >>> x, w = torch.randn(2, 3, 16, 16), torch.randn(4, 3, 3, 3)
        >>> y, report = bandlimited_conv2d(x, w, padding=1, compress_rate=0.5, return_report=True)
        >>> y.shape, report.level, report.n_levels
        (torch.Size([2, 4, 16, 16]), 7, 10)
        >>> torch.allclose(bandlimited_conv2d(x, w, padding=1),
        ...                torch.nn.functional.conv2d(x, w, padding=1), atol=1e-4)
        True
    """
    band = Band(compress_rate, preserve_energy, energy_scope, frozen_cut)
    check_options(fft_size, backend, plan)
    return conv2d_with_band(x, weight, bias, stride, padding, band, fft_size, backend, plan,
                            return_report)
