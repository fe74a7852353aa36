"""Band-limited 1D convolution (cross-correlation, like ``torch.nn.functional.conv1d``).

The convolution is computed in the frequency domain and only the lowest frequencies of input,
filters and output gradient take part (docs/design.md, "The 1D convolution"). It pays off when
the band is narrow (``compress_rate`` of about 0.5 and more, or an energy cut that keeps few
bins): the multiply-accumulate, the saved activation and the transforms all shrink with the band.
At full band it computes exactly what ``torch.nn.functional.conv1d`` computes, usually slower.
"""

import torch
import torch.nn.functional as F

from bandts.backends import resolve_backend
from bandts.functional.band import Band
from bandts.functional.conv1d_op import conv1d_op, geometry_args
from bandts.functional.geometry import resolve_geometry
from bandts.functional.inputs import (TORCHSCRIPT_UNSUPPORTED, ConvReport, check_options,
                                     check_tensors)
from bandts.functional.plans import resolve_plan


def conv1d_with_band(x, weight, bias, stride, padding, band: Band, fft_size, backend: str,
                     plan: str, return_report: bool = False):
    """:func:`bandlimited_conv1d` with a validated :class:`Band` and options (the layers' call).

    The tensors are checked here (they are new on every call); band, backend, plan and fft_size
    are trusted.
    """
    if torch.jit.is_tracing() or torch.jit.is_scripting():
        raise RuntimeError(TORCHSCRIPT_UNSUPPORTED)
    x, unbatched = check_tensors(x, weight, bias, 1)
    (geo,) = resolve_geometry(tuple(x.shape[2:]), tuple(weight.shape[2:]), stride, padding,
                              fft_size)
    if x.shape[0] == 0:  # nothing to transform: torch's convolution gives the empty result
        out = F.conv1d(F.pad(x, (geo.pad_left, geo.pad_right)), weight, bias, geo.stride)
        report = ConvReport(0, geo.n_bins, 0, geo.n_bins)
    else:
        out, kept, _ = conv1d_op(x, weight, bias, geometry_args(geo), band.compress_rate,
                                 band.preserve_energy, band.energy_scope, band.frozen_cut,
                                 resolve_backend(backend, x.device), resolve_plan(plan, x.device))
        report = ConvReport(kept.shape[0], geo.n_bins, kept.shape[0], geo.n_bins)
    out = out.squeeze(0) if unbatched else out
    return (out, report) if return_report else out


def bandlimited_conv1d(x, weight, bias=None, stride=1, padding=0, *, compress_rate=0.0,
                       preserve_energy=1.0, energy_scope="sample", frozen_cut=None,
                       fft_size="minimal", backend="auto", plan="auto", return_report=False):
    """Band-limited 1D cross-correlation computed in the frequency domain.

    Equals ``torch.nn.functional.conv1d`` at full band (compress_rate 0, preserve_energy 1), and
    otherwise an ideal low-pass of it: only the lowest frequencies of input, filter and (in
    backward) output gradient take part. Gradients are exact for the kept band, and so are second
    derivatives (``create_graph=True``).

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
        frozen_cut: calibrated cut as a fraction of the M bins, used by the "frozen" scope.
        fft_size: FFT length L: "minimal" (smallest 5-smooth >= W + 2p), "pow2", "paper" or an int.
        backend: CMAC backend: "auto", "torch" or "pycuda".
        plan: execution plan (:mod:`bandts.functional.plans`): "auto", "cpu" or "accelerator".
        return_report: also return a :class:`~bandts.functional.inputs.ConvReport` of the band
            used.

    Shape:
        - Input: (N, C, W) or (C, W).
        - Output: (N, F, W_out) or (F, W_out), W_out = (W + 2 p - K) // stride + 1.

    Returns:
        The output, or (output, report) with ``return_report``.

    Examples:
        >>> x, w = torch.randn(4, 3, 100), torch.randn(8, 3, 5)
        >>> y, report = bandlimited_conv1d(x, w, padding="same", compress_rate=0.5,
        ...                                return_report=True)
        >>> y.shape, report.kept_bins, report.spectrum_bins
        (torch.Size([4, 8, 100]), 27, 55)
        >>> full = bandlimited_conv1d(x, w, padding=2)
        >>> torch.allclose(full, torch.nn.functional.conv1d(x, w, padding=2), atol=1e-4)
        True
    """
    band = Band(compress_rate, preserve_energy, energy_scope, frozen_cut)
    check_options(fft_size, backend, plan)
    return conv1d_with_band(x, weight, bias, stride, padding, band, fft_size, backend, plan,
                            return_report)
