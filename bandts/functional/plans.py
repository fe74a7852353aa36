"""Execution plans: how a band-limited convolution is computed on a device.

- ``"cpu"``: bounded temporaries (chunks of frequencies, large scratch buffers kept between calls),
  split-complex layout, GEMM transforms while the band is narrow. Fast on a few cores, where
  memory traffic and page faults dominate.
- ``"accelerator"``: few large operations over the whole batch (FFTs, cached DFT matrices, one
  batched complex GEMM per product), no host-device synchronisation for static bands. Fast where
  each operation is a kernel launch. Also differentiable, which makes it the plan of higher
  derivatives.
- ``"auto"``: ``"cpu"`` for CPU tensors, ``"accelerator"`` for every other device (CUDA, and meta
  so that the accelerator plan can be inspected without a GPU).

Both plans compute the same numbers (tests run both on CPU tensors against torch's convolution).
"""

import torch

PLANS = ("auto", "cpu", "accelerator")


def resolve_plan(plan: str, device: torch.device) -> str:
    """The concrete plan (``"cpu"`` or ``"accelerator"``) that ``plan`` means on ``device``."""
    if plan == "auto":
        return "cpu" if device.type == "cpu" else "accelerator"
    return plan
