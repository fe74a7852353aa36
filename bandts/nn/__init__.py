"""Band-limited layers and whole-model tools, like ``torch.nn``."""

from bandts.nn.activation import MaskedReLU
from bandts.nn.block import BandLimitedBlock
from bandts.nn.conv import BandLimitedConv1d, BandLimitedConv2d
from bandts.nn.model_tools import (band_applied, bandlimit, bandlimited_layers, calibrate_cuts,
                                   set_band, unbandlimit)

__all__ = ["BandLimitedBlock", "BandLimitedConv1d", "BandLimitedConv2d", "MaskedReLU",
           "band_applied", "bandlimit", "bandlimited_layers", "calibrate_cuts", "set_band",
           "unbandlimit"]
