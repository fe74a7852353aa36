"""Choosing a CMAC backend by name and dispatching to it."""

import importlib.util

import torch

from bandts.backends import torch_cmac

BACKEND_NAMES = ("auto", "torch", "pycuda")


def _pycuda_importable() -> bool:
    return importlib.util.find_spec("pycuda") is not None


def resolve_backend(name: str, device: torch.device) -> str:
    """Return the concrete backend (``"torch"`` or ``"pycuda"``) that ``name`` means on ``device``.

    Raises:
        ValueError: ``name`` is not one of :data:`BACKEND_NAMES`.
    """
    if name not in BACKEND_NAMES:
        raise ValueError(f"backend must be one of {BACKEND_NAMES}, got {name!r}")
    if name == "auto":
        return "pycuda" if device.type == "cuda" and _pycuda_importable() else "torch"
    return name


def cmac(a: torch.Tensor, b: torch.Tensor, *, conj_a: bool = False, conj_b: bool = False,
         backend: str = "auto") -> torch.Tensor:
    """Per-frequency complex matrix product ``op(a)[k] @ op(b)[k]``.

    Args:
        a: complex64 or complex128 tensor of shape (K, M, J); K is the number of kept frequencies.
        b: complex tensor of shape (K, J, N), same dtype and device.
        conj_a, conj_b: conjugate that operand.
        backend: ``"auto"``, ``"torch"`` or ``"pycuda"``.

    Returns:
        Complex tensor of shape (K, M, N).
    """
    if a.dim() != 3 or b.dim() != 3 or a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise ValueError(f"cmac needs a (K, M, J) and b (K, J, N); got {tuple(a.shape)} and {tuple(b.shape)}")
    if a.dtype != b.dtype or not a.is_complex():
        raise TypeError(f"cmac needs two complex tensors of one dtype; got {a.dtype} and {b.dtype}")
    if resolve_backend(backend, a.device) == "pycuda":
        from bandts.backends import pycuda_cmac  # optional dependency, imported only when asked for

        return pycuda_cmac.cmac(a, b, conj_a=conj_a, conj_b=conj_b)
    return torch_cmac.cmac(a, b, conj_a=conj_a, conj_b=conj_b)
