"""Shared by the band-limited convolutions: validation of tensors and settings (clear errors) and
the checked call of their autograd Functions."""

import torch

from bandts.backends import BACKEND_NAMES
from bandts.functional.band import check_band
from bandts.functional.geometry import resolve_geometry

SUPPORTED_DTYPES = (torch.float32, torch.float64)


def check_tensors(x, weight, bias, spatial_dims: int):
    """Check the operands of a convolution with ``spatial_dims`` spatial axes.

    Args:
        x: (N, C, *spatial) or unbatched (C, *spatial).
        weight: (F, C, *kernel).
        bias: (F,) or None.

    Returns:
        (x with a batch axis, whether the batch axis was added).
    """
    name = f"bandlimited_conv{spatial_dims}d"
    for label, t in (("input", x), ("weight", weight), ("bias", bias)):
        if t is None and label == "bias":
            continue
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name}: {label} must be a torch.Tensor, got {type(t).__name__}")
        if t.dtype not in SUPPORTED_DTYPES:
            raise TypeError(f"{name}: {label} has dtype {t.dtype}; use float32 or float64 "
                            "(e.g. x.float())")
    if weight.dtype != x.dtype or (bias is not None and bias.dtype != x.dtype):
        raise TypeError(f"{name}: input, weight and bias must share one dtype, got {x.dtype}, "
                        f"{weight.dtype}" + (f", {bias.dtype}" if bias is not None else ""))
    if weight.device != x.device or (bias is not None and bias.device != x.device):
        raise ValueError(f"{name}: input, weight and bias must be on one device")
    if weight.dim() != spatial_dims + 2:
        raise ValueError(f"{name}: weight must have shape (out_channels, in_channels, "
                         f"{'kernel' if spatial_dims == 1 else 'kH, kW'}), got {tuple(weight.shape)}")
    unbatched = x.dim() == spatial_dims + 1
    if x.dim() not in (spatial_dims + 1, spatial_dims + 2):
        shape = "(N, C, W)" if spatial_dims == 1 else "(N, C, H, W)"
        raise ValueError(f"{name}: input must have shape {shape} or unbatched without N, "
                         f"got {x.dim()} dimensions {tuple(x.shape)}")
    if unbatched:
        x = x.unsqueeze(0)
    if x.shape[1] != weight.shape[1]:
        raise ValueError(f"{name}: input has {x.shape[1]} channels but the weight expects "
                         f"{weight.shape[1]} (groups are not supported)")
    if x.shape[0] == 0:
        raise ValueError(f"{name}: input batch is empty")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"{name}: bias must have shape ({weight.shape[0]},), got {tuple(bias.shape)}")
    return x, unbatched


def check_settings(x, weight, stride, padding, compress_rate, preserve_energy, energy_scope,
                   fft_size, backend, frozen_cut):
    """Check the band and shape settings; return the per-axis geometry."""
    check_band(compress_rate, preserve_energy, energy_scope)
    if backend not in BACKEND_NAMES:
        raise ValueError(f"backend must be one of {BACKEND_NAMES}, got {backend!r}")
    if frozen_cut is not None and not 0.0 < frozen_cut <= 1.0:
        raise ValueError(f"frozen_cut must be a fraction in (0, 1] or None, got {frozen_cut!r}")
    return resolve_geometry(tuple(x.shape[2:]), tuple(weight.shape[2:]), stride, padding, fft_size)


def run_checked(function, spatial_dims, x, weight, bias, stride, padding, compress_rate,
                preserve_energy, energy_scope, fft_size, backend, frozen_cut):
    """Validate the operands and settings, run a band-limited autograd ``function`` and return
    (output, report); an unbatched input gets its batch axis added and removed again."""
    x, unbatched = check_tensors(x, weight, bias, spatial_dims)
    geos = check_settings(x, weight, stride, padding, compress_rate, preserve_energy,
                          energy_scope, fft_size, backend, frozen_cut)
    report = {}
    band = (compress_rate, preserve_energy, energy_scope, frozen_cut)
    out = function.apply(x, weight, bias, geos, band, backend, report)
    return (out.squeeze(0) if unbatched else out), report
