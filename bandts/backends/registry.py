"""Choosing a CMAC backend by name and dispatching to it."""

import torch

from bandts.backends import torch_cmac

BACKEND_NAMES = ("auto", "torch", "pycuda")


def resolve_backend(name: str, device: torch.device) -> str:
    """Return the concrete backend (``"torch"`` or ``"pycuda"``) that ``name`` means on ``device``.

    ``"auto"`` is ``"torch"`` on every device: the only in-network GPU measurement (an H200, the
    FCN at c = 0.5) found the torch backend faster, and "auto" must never pick the slower one.
    Ask for ``"pycuda"`` by name to use the kernels.

    Raises:
        ValueError: ``name`` is not one of :data:`BACKEND_NAMES`.
    """
    if name not in BACKEND_NAMES:
        raise ValueError(f"backend must be one of {BACKEND_NAMES}, got {name!r}")
    return "torch" if name == "auto" else name


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


def _check_split(a: torch.Tensor, b: torch.Tensor) -> None:
    if (a.dim() != 4 or b.dim() != 4 or a.shape[1] != 2 or b.shape[1] != 2
            or a.shape[0] != b.shape[0] or a.shape[3] != b.shape[2]):
        raise ValueError(f"split_cmac needs a (K, 2, M, J) and b (K, 2, J, N); got {tuple(a.shape)} "
                         f"and {tuple(b.shape)}")
    if a.dtype != b.dtype or not a.is_floating_point():
        raise TypeError(f"split_cmac needs two real tensors of one dtype; got {a.dtype} and {b.dtype}")


def split_cmac_chunks(a: torch.Tensor, chunks, *, conj_a: bool = False, conj_b: bool = False,
                      backend: str = "auto") -> None:
    """:func:`split_cmac` of ``a`` with ``b`` given a chunk of frequencies at a time.

    For every (start, stop, b, out) that ``chunks`` yields, writes ``op(a[start:stop]) @ op(b)``
    into ``out``. The large right operand (the filter spectrum) can so be built a chunk at a time
    into a reused buffer while the left one is prepared once for all chunks (on the torch
    backend, :func:`bandts.backends.torch_cmac.split_cmac_chunks`). ``chunks`` may be a generator;
    it resumes only after the previous chunk's product is written.

    Args:
        a: float32 or float64 tensor of shape (K, 2, M, J), any strides.
        chunks: iterable of (start, stop, b, out): b of shape (stop - start, 2, J, N), out a
            contiguous (stop - start, 2, M, N) tensor of a's dtype.
        conj_a, conj_b: conjugate that operand.
        backend: ``"auto"``, ``"torch"`` or ``"pycuda"`` (as :func:`split_cmac`).
    """
    if resolve_backend(backend, a.device) == "pycuda":
        for start, stop, b, out in chunks:
            split_cmac(a[start:stop], b, conj_a=conj_a, conj_b=conj_b, backend="pycuda", out=out)
        return
    torch_cmac.split_cmac_chunks(a, _checked(a, chunks), conj_a=conj_a, conj_b=conj_b)


def _checked(a: torch.Tensor, chunks):
    for start, stop, b, out in chunks:
        _check_split(a[start:stop], b)
        yield start, stop, b, out


def split_cmac(a: torch.Tensor, b: torch.Tensor, *, conj_a: bool = False, conj_b: bool = False,
               backend: str = "auto", out: torch.Tensor = None) -> torch.Tensor:
    """:func:`cmac` on split-complex operands (real and imaginary parts as planes of a real tensor).

    Args:
        a: float32 or float64 tensor of shape (K, 2, M, J); ``a[:, 0]`` real, ``a[:, 1]`` imaginary.
        b: tensor of shape (K, 2, J, N), same dtype and device.
        conj_a, conj_b: conjugate that operand.
        backend: ``"auto"``, ``"torch"`` (one real batched GEMM) or ``"pycuda"`` (the complex
            kernels, on operands interleaved for them and split again afterwards).
        out: optional contiguous (K, 2, M, N) tensor to write the result into (a slice of a
            larger result, or a buffer reused across calls).

    Returns:
        Tensor of shape (K, 2, M, N) (``out`` when given).
    """
    _check_split(a, b)
    if resolve_backend(backend, a.device) == "pycuda":
        from bandts.backends import pycuda_cmac

        product = pycuda_cmac.cmac(torch.complex(a[:, 0], a[:, 1]), torch.complex(b[:, 0], b[:, 1]),
                                   conj_a=conj_a, conj_b=conj_b)
        return torch.stack((product.real, product.imag), 1, out=out)
    return torch_cmac.split_cmac(a, b, conj_a=conj_a, conj_b=conj_b, out=out)
