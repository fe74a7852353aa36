"""Networks built from bandts layers: the Fully Convolutional Network (FCN)."""

from bandts.models.fcn import CONV_KINDS, FCN, ConvBlock, conv_block

__all__ = ["CONV_KINDS", "ConvBlock", "FCN", "conv_block"]
