"""Shared by the band-limited convolutions: validation of tensors and options (clear errors) and
what a call reports."""

from typing import NamedTuple

import torch

from bandts.backends import BACKEND_NAMES
from bandts.functional.geometry import FFT_SIZE_RULES
from bandts.functional.plans import PLANS

SUPPORTED_DTYPES = (torch.float32, torch.float64)

TORCHSCRIPT_UNSUPPORTED = (
    "TorchScript (torch.jit.script / torch.jit.trace) cannot record bandts' band-limited "
    "convolutions; use torch.export.export (or torch.compile) instead, or "
    "bandts.nn.unbandlimit(model) for a plain model computing the full band")


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
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"{name}: bias must have shape ({weight.shape[0]},), got {tuple(bias.shape)}")
    return x, unbatched


class ConvReport(NamedTuple):
    """The band a convolution used (``return_report=True``).

    Attributes:
        kept_bins: frequency coefficients kept (the largest cut of the batch).
        spectrum_bins: coefficients available.
        level, n_levels: the cut as a level of :mod:`bandts.functional.band`; ``level / n_levels``
            is what a frozen cut stores.
    """

    kept_bins: int
    spectrum_bins: int
    level: int
    n_levels: int


def check_options(fft_size, backend: str, plan: str) -> None:
    """Raise a clear error for an unknown backend or plan, or an invalid fft_size rule."""
    if backend not in BACKEND_NAMES:
        raise ValueError(f"backend must be one of {BACKEND_NAMES}, got {backend!r}")
    if plan not in PLANS:
        raise ValueError(f"plan must be one of {PLANS}, got {plan!r}")
    rules = fft_size if isinstance(fft_size, (tuple, list)) else (fft_size,)
    for rule in rules:
        if isinstance(rule, bool) or not (isinstance(rule, int) or rule in FFT_SIZE_RULES):
            raise ValueError(f"fft_size must be one of {FFT_SIZE_RULES} or an int, got {fft_size!r}")
