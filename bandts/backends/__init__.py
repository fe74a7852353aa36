"""Backends for the complex multiply-accumulate (CMAC) of band-limited convolutions.

The CMAC is the one heavy operation of a band-limited convolution (docs/design.md, "The CMAC"):
at every kept frequency ``k`` a small complex matrix product,

    out[k, m, n] = sum_j op(a)[k, m, j] * op(b)[k, j, n],    op = conj or identity,

so the frequency axis is the batch axis of a batched GEMM. Forward, input gradient and weight
gradient are all this one operation with different operands. :func:`cmac` takes complex tensors
(the 2D convolution's layout); :func:`split_cmac` takes split-complex ones, real and imaginary parts
as two planes of a real tensor (the 1D convolution's layout), and on the torch backend is one real
batched GEMM; :func:`split_cmac_chunks` is the same product with the right operand supplied a chunk
of frequencies at a time (the left one prepared once).

Backends:

- ``"torch"``: batched GEMMs (``torch.matmul`` / ``torch.bmm``) on the frequency-major layout; the
  fast CPU path, and it runs on CUDA tensors too (cuBLAS).
- ``"pycuda"``: the CUDA kernels of ``kernels/*.cu`` compiled and launched through PyCUDA
  (optional; ``pip install bandts[cuda]``).
- ``"auto"``: ``"torch"`` (see :func:`resolve_backend`: the faster one in the only in-network GPU
  measurement).
"""

from bandts.backends.registry import (BACKEND_NAMES, cmac, resolve_backend, split_cmac,
                                      split_cmac_chunks)

__all__ = ["BACKEND_NAMES", "cmac", "resolve_backend", "split_cmac", "split_cmac_chunks"]
