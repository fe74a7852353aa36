"""A ReLU that keeps less for backward, for networks of band-limited layers."""

import torch
from torch import nn


class _MaskedReLUFunction(torch.autograd.Function):
    """torch.relu(x), saving for backward the bool mask of where the gradient passes."""

    @staticmethod
    def forward(ctx, x):
        out = torch.relu(x)
        # out != 0 exactly where torch.relu passes the gradient (x > 0, and NaN); the cast to bool
        # is the cheapest way to get it.
        ctx.save_for_backward(out.bool())
        return out

    @staticmethod
    def backward(ctx, grad_out):
        (mask,) = ctx.saved_tensors
        # A uint8 view multiplies faster than the bool mask it views.
        return grad_out * mask.view(torch.uint8)


class MaskedReLU(nn.Module):
    """``nn.ReLU`` that saves for backward a one-byte mask instead of its float output.

    Same values and gradients as ``nn.ReLU`` (the gradient is zero where x <= 0). ``nn.ReLU``
    saves its output (4 bytes per float32 element), which costs nothing extra when the next layer
    keeps that same tensor for its own backward, as ``nn.Conv1d`` does. A band-limited convolution
    keeps only its input's compressed spectrum, so behind it the ReLU's saved output would be the
    largest tensor of the block; this layer saves 1 byte per element instead.

    Shape: any; the output has the input's shape.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _MaskedReLUFunction.apply(x)
