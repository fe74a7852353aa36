"""The ``"torch"`` CMAC backend: a batched complex GEMM with frequency as the batch axis."""

import torch


def cmac(a: torch.Tensor, b: torch.Tensor, conj_a: bool = False, conj_b: bool = False) -> torch.Tensor:
    """Return ``op(a) @ op(b)`` per frequency.

    Args:
        a: complex tensor of shape (K, M, J), any strides.
        b: complex tensor of shape (K, J, N), same dtype and device as ``a``.
        conj_a, conj_b: conjugate that operand first.

    Returns:
        Contiguous complex tensor of shape (K, M, N).
    """
    # A lazily conjugated operand would be copied by the GEMM once per frequency; materialising
    # it once is cheaper.
    if conj_a:
        a = a.conj().resolve_conj()
    if conj_b:
        b = b.conj().resolve_conj()
    return torch.matmul(a, b)
