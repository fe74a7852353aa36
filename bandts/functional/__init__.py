"""Band-limited convolutions as functions (autograd-aware), like ``torch.nn.functional``."""

from bandts.functional.band import ENERGY_SCOPES
from bandts.functional.conv1d import bandlimited_conv1d, bandlimited_conv1d_report
from bandts.functional.conv2d import bandlimited_conv2d, bandlimited_conv2d_report
from bandts.functional.geometry import FFT_SIZE_RULES

__all__ = ["ENERGY_SCOPES", "FFT_SIZE_RULES", "bandlimited_conv1d", "bandlimited_conv1d_report",
           "bandlimited_conv2d", "bandlimited_conv2d_report"]
