"""The Fully Convolutional Network (FCN) of Wang, Yan and Oates (2017) (docs/design.md, "The FCN
and its training").

Three blocks ``conv -> BatchNorm -> ReLU`` with "same" padding, global average pooling over the
spatial axes and a linear head. The convolutions are either bandts' band-limited FFT layers
(``conv="fft"``) or torch's own (``conv="direct"``, the baseline every comparison needs);
``spatial_dims=2`` builds the same network with 2D convolutions for images.
"""

import torch
from torch import nn

from bandts.functional import Band
from bandts.nn import BandLimitedBlock, BandLimitedConv1d, BandLimitedConv2d, MaskedReLU

CONV_KINDS = ("fft", "direct")

_DIRECT_CONV = {1: nn.Conv1d, 2: nn.Conv2d}
_FFT_CONV = {1: BandLimitedConv1d, 2: BandLimitedConv2d}
_BATCH_NORM = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d}
BAND_LIMITED = (BandLimitedConv1d, BandLimitedConv2d)


class ConvBlock(nn.Module):
    """``conv -> BatchNorm -> ReLU`` as three layers, each keeping its own state for backward.

    Behind a band-limited convolution the ReLU is :class:`bandts.nn.MaskedReLU` (a one-byte mask
    instead of its float output, which nothing else keeps).
    """

    def __init__(self, conv: nn.Module, bn: nn.Module):
        super().__init__()
        self.conv = conv
        self.bn = bn
        self.relu = MaskedReLU() if isinstance(conv, BAND_LIMITED) else nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))


def conv_block(in_channels: int, out_channels: int, kernel_size: int, *, spatial_dims: int,
               conv: str, band: Band = None, fft_size="minimal", backend="auto", plan="auto",
               low_memory: bool = True) -> nn.Module:
    """``conv -> BatchNorm -> ReLU`` keeping the spatial size ("same" padding, stride 1).

    Input (N, C_in, *S), output (N, C_out, *S) with S = (L,) or (H, W). A ``"direct"`` block is a
    :class:`ConvBlock`. An ``"fft"`` block with ``low_memory`` is a
    :class:`bandts.nn.BandLimitedBlock`, which keeps only the convolution's compressed input and
    output spectra and the ReLU's mask bits for backward; without it a :class:`ConvBlock`. All have
    submodules ``conv`` and ``bn`` (the same state-dict keys). The band-limited layer is converted
    from a direct one, so for a given seed both kinds start from identical weights.
    """
    direct = _DIRECT_CONV[spatial_dims](in_channels, out_channels, kernel_size, padding="same")
    bn = _BATCH_NORM[spatial_dims](out_channels)
    if conv == "direct":
        return ConvBlock(direct, bn)
    band_limited = _FFT_CONV[spatial_dims].from_conv(direct, band=band, fft_size=fft_size,
                                                     backend=backend, plan=plan)
    return BandLimitedBlock(band_limited, bn) if low_memory else ConvBlock(band_limited, bn)


class FCN(nn.Module):
    """Fully Convolutional Network for series (``spatial_dims=1``) or images (``spatial_dims=2``).

    Args:
        in_channels: channels C of the input.
        n_classes: outputs of the linear head.
        spatial_dims: 1 for series (N, C, L), 2 for images (N, C, H, W).
        conv: ``"fft"`` (band-limited layers of :mod:`bandts.nn`) or ``"direct"`` (torch).
        filters: output channels of the convolution blocks (paper: 128, 256, 128).
        kernel_sizes: kernel size of each block (paper: 8, 5, 3); square kernels in 2D.
        band: the :class:`~bandts.functional.Band` of the ``"fft"`` layers (default: full band);
            ignored for ``"direct"``.
        fft_size, backend, plan: options of the ``"fft"`` layers (see
            :class:`bandts.nn.BandLimitedConv1d`).
        low_memory: build each ``"fft"`` block as a :class:`bandts.nn.BandLimitedBlock` (saves
            only compressed spectra and the ReLU's mask bits; its backward works on the spectra);
            False keeps conv, BatchNorm and ReLU separate.

    Forward: input (N, C, *S) float -> logits (N, n_classes). Any spatial size works (global
    average pooling); each sample is processed independently in eval mode.
    """

    def __init__(self, in_channels: int, n_classes: int, *, spatial_dims: int = 1,
                 conv: str = "fft", filters=(128, 256, 128), kernel_sizes=(8, 5, 3),
                 band: Band = None, fft_size: str = "minimal", backend: str = "auto",
                 plan: str = "auto", low_memory: bool = True):
        super().__init__()
        if spatial_dims not in (1, 2):
            raise ValueError(f"spatial_dims must be 1 (series) or 2 (images), got {spatial_dims!r}")
        if conv not in CONV_KINDS:
            raise ValueError(f"conv must be one of {CONV_KINDS}, got {conv!r}")
        filters, kernel_sizes = tuple(filters), tuple(kernel_sizes)
        if not filters or len(filters) != len(kernel_sizes):
            raise ValueError("filters and kernel_sizes must be non-empty and of equal length; got "
                             f"filters={filters}, kernel_sizes={kernel_sizes}")
        for name, values in (("filters", filters), ("kernel_sizes", kernel_sizes)):
            if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in values):
                raise ValueError(f"{name} must hold positive integers, got {values}")
        if in_channels < 1 or n_classes < 1:
            raise ValueError("in_channels and n_classes must be >= 1, got "
                             f"{in_channels}, {n_classes}")
        options = dict(band=band, fft_size=fft_size, backend=backend, plan=plan,
                       low_memory=low_memory)
        self.spatial_dims = spatial_dims
        self.conv_kind = conv
        blocks, c_in = [], in_channels
        for c_out, k in zip(filters, kernel_sizes):
            blocks.append(conv_block(c_in, c_out, k, spatial_dims=spatial_dims, conv=conv,
                                     **options))
            c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(c_in, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != self.spatial_dims + 2:
            raise ValueError(f"FCN with spatial_dims={self.spatial_dims} needs a "
                             f"{self.spatial_dims + 2}D input (N, C, ...), "
                             f"got shape {tuple(x.shape)}")
        features = self.blocks(x)
        pooled = features.mean(dim=tuple(range(2, features.dim())))
        return self.head(pooled)
