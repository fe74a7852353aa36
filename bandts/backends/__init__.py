"""Backends for the complex multiply-accumulate (CMAC) of band-limited convolutions.

The CMAC is the one heavy operation of a band-limited convolution (DESIGN.md section 5): at every
kept frequency ``k`` a small complex matrix product,

    out[k, m, n] = sum_j op(a)[k, m, j] * op(b)[k, j, n],    op = conj or identity,

so the frequency axis is the batch axis of a batched GEMM. Forward, input gradient and weight
gradient are all this one operation with different operands.

Backends:

- ``"torch"``: ``torch.matmul`` on the frequency-major layout; the fast CPU path, and it runs on
  CUDA tensors too (cuBLAS).
- ``"pycuda"``: the CUDA kernels of ``kernels/*.cu`` compiled and launched through PyCUDA
  (optional; ``pip install bandts[cuda]``).
- ``"auto"``: ``"pycuda"`` when PyCUDA is importable and the operands live on a CUDA device,
  otherwise ``"torch"``.
"""

from bandts.backends.registry import BACKEND_NAMES, cmac, resolve_backend

__all__ = ["BACKEND_NAMES", "cmac", "resolve_backend"]
