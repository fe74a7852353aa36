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


def split_cmac(a: torch.Tensor, b: torch.Tensor, conj_a: bool = False, conj_b: bool = False,
               out: torch.Tensor = None) -> torch.Tensor:
    """:func:`cmac` on split-complex operands, as one real batched GEMM per call.

    A split-complex tensor holds real and imaginary parts as two planes of a real tensor:
    ``a[:, 0]`` is the real part, ``a[:, 1]`` the imaginary part.

    The complex product becomes a real one by writing one side as a real 2x2 block matrix.
    Expanding ``a``: ``[[ar, -s ai], [sa ai, sb ar]] @ [br; bi]`` gives the real and imaginary
    planes directly (sa, sb = -1 for a conjugated operand, s = sa * sb); it copies ``a`` twice
    over. Expanding the output instead: ``[ar; ai] @ [br, bi]`` gives the four partial products
    ar br, ar bi, ai br, ai bi, combined afterwards; it writes and reads twice the output. The
    cheaper of the two is used, and ``b`` (usually the large filter spectrum) is only viewed, never
    copied, when its strides allow: planes stacked, (K, 2J, N), for a contiguous ``b``; side by
    side, (K, J, 2N), for a transposed one.

    Args:
        a: real tensor of shape (K, 2, M, J), any strides.
        b: real tensor of shape (K, 2, J, N), same dtype and device as ``a``.
        conj_a, conj_b: conjugate that operand first.
        out: optional contiguous (K, 2, M, N) tensor to write the result into.

    Returns:
        Contiguous real tensor of shape (K, 2, M, N) (``out`` when given).
    """
    k, _, m, j = a.shape
    n = b.shape[3]
    sa, sb = (-1.0 if conj_a else 1.0), (-1.0 if conj_b else 1.0)
    b_stacks = b.stride(1) == j * b.stride(2)
    b_side_by_side = b.stride(1) == n * b.stride(3)
    expand_a_cost = 4 * m * j + (0 if b_stacks else 2 * j * n)
    expand_out_cost = 8 * m * n + (0 if b_side_by_side else 2 * j * n)
    if expand_out_cost < expand_a_cost:
        blocks = torch.bmm(a.reshape(k, 2 * m, j), b.transpose(1, 2).reshape(k, j, 2 * n))
        blocks = blocks.view(k, 2, m, 2, n)
        out = a.new_empty(k, 2, m, n) if out is None else out
        # real = b00 - sa sb b11, imag = sa (b10 + sa sb b01)
        torch.sub(blocks[:, 0, :, 0], blocks[:, 1, :, 1], alpha=sa * sb, out=out[:, 0])
        torch.add(blocks[:, 1, :, 0], blocks[:, 0, :, 1], alpha=sa * sb, out=out[:, 1])
        if sa < 0:
            out[:, 1].neg_()
        return out
    ar, ai = a.unbind(1)
    # Planes of the block matrix [[ar, -s ai], [sa ai, sb ar]], each with its sign.
    blocks = (((ar, 1.0), (ai, -sa * sb)), ((ai, sa), (ar, sb)))
    # A transposed ``a`` (e.g. the input spectrum in the weight gradient) is expanded as the
    # transpose of the block matrix: row-wise copies instead of transposing ones; bmm reads the
    # transpose for free.
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
    left = (expanded.view(k, 2 * j, 2 * m).transpose(1, 2) if transposed
            else expanded.view(k, 2 * m, 2 * j))
    result = out.view(k, 2 * m, n) if out is not None else None
    return torch.bmm(left, b.reshape(k, 2 * j, n), out=result).view(k, 2, m, n)
