"""Band-limited convolutions as functions (autograd-aware), like ``torch.nn.functional``.

Each is a PyTorch custom operator underneath (``torch.ops.bandts.conv1d`` / ``conv2d``), so
``torch.compile``, ``torch.export`` and double backward work with them.
"""

from bandts.functional.band import ENERGY_SCOPES, Band
from bandts.functional.conv1d import bandlimited_conv1d
from bandts.functional.conv2d import bandlimited_conv2d
from bandts.functional.geometry import FFT_SIZE_RULES
from bandts.functional.inputs import ConvReport
from bandts.functional.plans import PLANS

__all__ = ["ENERGY_SCOPES", "FFT_SIZE_RULES", "PLANS", "Band", "ConvReport",
           "bandlimited_conv1d", "bandlimited_conv2d"]
