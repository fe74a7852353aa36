"""``conv -> BatchNorm -> ReLU`` with a band-limited convolution, keeping only compressed spectra
and a bit mask for backward."""

import torch
from torch import nn

from bandts.functional.conv_bn_relu import conv_bn_relu_with_band
from bandts.nn.conv import _BandLimitedMixin


class BandLimitedBlock(nn.Module):
    """``relu(bn(conv(x)))`` computed by one operator that saves for backward only the
    convolution's kept input and output spectra, the ReLU's mask (a bit per value on the CPU)
    and the batch statistics (:mod:`bandts.functional.conv_bn_relu`).

    Same values, gradients and running-statistics updates as ``nn.Sequential(conv, bn,
    nn.ReLU())``; the submodules ``conv`` and ``bn`` are the given ones (their parameters and
    state-dict keys are unchanged). Backward works on the kept spectra, never on the full-length
    output. Double backward through the block raises an error.

    Args:
        conv: a :class:`BandLimitedConv1d` or :class:`BandLimitedConv2d`.
        bn: the ``nn.BatchNorm1d`` / ``nn.BatchNorm2d`` over its output channels.

    Shape:
        - Input: (N, C_in, W) or (N, C_in, H, W) (a batch is required).
        - Output: (N, C_out, W_out) or (N, C_out, H_out, W_out).

    Examples:
        >>> from bandts.nn import BandLimitedConv1d
        >>> block = BandLimitedBlock(BandLimitedConv1d(3, 8, 5, padding="same", compress_rate=0.5),
        ...                          nn.BatchNorm1d(8))
        >>> block(torch.randn(4, 3, 100)).shape
        torch.Size([4, 8, 100])
    """

    def __init__(self, conv: nn.Module, bn: nn.Module):
        super().__init__()
        if not isinstance(conv, _BandLimitedMixin):
            raise TypeError(f"BandLimitedBlock needs a band-limited convolution, got "
                            f"{type(conv).__name__}")
        batch_norm = nn.BatchNorm1d if conv.weight.dim() == 3 else nn.BatchNorm2d
        if type(bn) is not batch_norm or bn.num_features != conv.out_channels:
            raise TypeError(f"BandLimitedBlock needs an nn.{batch_norm.__name__}"
                            f"({conv.out_channels}) after {type(conv).__name__}, got {bn!r}")
        self.conv = conv
        self.bn = bn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv, bn = self.conv, self.bn
        x, padding = conv._padded(x)
        updates = bn.training and bn.track_running_stats
        batch_stats = bn.training or bn.running_mean is None
        out, mean, invstd, report = conv_bn_relu_with_band(
            x, conv.weight, conv.bias, bn.weight, bn.bias, bn.running_mean, bn.running_var,
            batch_stats, bn.eps, conv.stride, padding, conv._call_band(), conv.fft_size,
            conv.backend, conv.plan)
        conv._record(report)
        if updates:
            self._update_running_stats(mean, invstd, out.numel() // out.shape[1])
        return out

    @torch.no_grad()
    def _update_running_stats(self, mean, invstd, count: int) -> None:
        """As ``nn.BatchNorm`` does in training: an exponential (or, with momentum None,
        cumulative) average of the batch mean and the unbiased batch variance (from the batch's
        1 / sqrt(variance + eps))."""
        bn = self.bn
        bn.num_batches_tracked.add_(1)
        factor = (1.0 / float(bn.num_batches_tracked) if bn.momentum is None
                  else bn.momentum)
        unbiased = invstd.pow(-2).sub_(bn.eps).mul_(count / max(count - 1, 1))
        bn.running_mean.lerp_(mean, factor)
        bn.running_var.lerp_(unbiased, factor)
