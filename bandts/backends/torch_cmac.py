"""The ``"torch"`` CMAC backend: batched GEMMs with frequency as the batch axis."""

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


def realified(a: torch.Tensor, conj_a: bool = False, conj_b: bool = False) -> torch.Tensor:
    """The real (K, 2M, 2J) block matrix that multiplies a split-complex ``b`` like ``op(a)``.

    ``[[ar, -s ai], [sa ai, sb ar]] @ [br; bi]`` gives the real and imaginary planes of
    ``op(a) @ op(b)`` (sa, sb = -1 for a conjugated operand, s = sa * sb), so one real batched GEMM
    does the complex product. The block matrix is built once (four plane copies) and serves every
    chunk of ``b``. A transposed ``a`` (e.g. the input spectrum in the weight gradient) is built as
    the transpose of the block matrix: row-wise copies instead of transposing ones, and bmm reads
    the transpose for free.

    Args:
        a: real tensor of shape (K, 2, M, J), any strides; planes real and imaginary.
        conj_a, conj_b: conjugate that operand of the product.

    Returns:
        (K, 2M, 2J) tensor (a transposed view of a contiguous one for a transposed ``a``).
    """
    k, _, m, j = a.shape
    sa, sb = (-1.0 if conj_a else 1.0), (-1.0 if conj_b else 1.0)
    ar, ai = a.unbind(1)
    blocks = (((ar, 1.0), (ai, -sa * sb)), ((ai, sa), (ar, sb)))
    transposed = a.stride(2) == 1 and a.stride(3) != 1
    expanded = a.new_empty((k, 2, j, 2, m) if transposed else (k, 2, m, 2, j))
    for p in range(2):
        for q in range(2):
            plane, sign = blocks[p][q]
            target = expanded[:, q, :, p] if transposed else expanded[:, p, :, q]
            source = plane.transpose(1, 2) if transposed else plane
            if sign > 0:
                target.copy_(source)
            else:
                torch.neg(source, out=target)
    if transposed:
        return expanded.view(k, 2 * j, 2 * m).transpose(1, 2)
    return expanded.view(k, 2 * m, 2 * j)


def split_cmac_chunks(a: torch.Tensor, chunks, conj_a: bool = False, conj_b: bool = False) -> None:
    """``out = op(a[start:stop]) @ op(b)`` for every (start, stop, b, out) of ``chunks``.

    ``a`` is realified once (:func:`realified`); each chunk is then one real batched GEMM. ``b``
    (stop - start, 2, J, N) should have its planes stacked (contiguous, or any layout where the
    planes and rows merge into one axis), otherwise it is copied; ``out`` is a contiguous
    (stop - start, 2, M, N) tensor. ``chunks`` may be a generator: it resumes only after its
    previous chunk's product is written, so it can consume that product and reuse buffers.
    """
    left = realified(a, conj_a, conj_b)
    for start, stop, b, out in chunks:
        n_bins, _, j, n = b.shape
        torch.bmm(left[start:stop], b.reshape(n_bins, 2 * j, n),
                  out=out.view(n_bins, 2 * out.shape[2], n))
