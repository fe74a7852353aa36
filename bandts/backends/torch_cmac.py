"""The ``"torch"`` CMAC backend: batched GEMMs with frequency as the batch axis."""

import itertools
from contextlib import contextmanager

import torch

from bandts.backends.workspace import scratch

# A pass of split_cmac_chunks builds the block matrix of its whole left operand at once up to this
# size (twice the operand), larger operands one chunk at a time: it bounds the scratch buffer
# kept for it (bandts.backends.workspace).
REALIFY_ONCE_BYTES = 16 * 2**20


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
    Expanding ``a`` (:func:`realified`) copies ``a`` twice over. Expanding the output instead:
    ``[ar; ai] @ [br, bi]`` gives the four partial products ar br, ar bi, ai br, ai bi, combined
    afterwards; it writes and reads twice the output. The cheaper of the two is used
    (:func:`expands_a`), and ``b`` (usually the large filter spectrum) is only viewed, never
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
    k, _, m, _ = a.shape
    out = a.new_empty(k, 2, m, b.shape[3]) if out is None else out
    if not expands_a(a, b):
        _expanded_output_product(a, b, conj_a, conj_b, out)
        return out
    with _lent_realified(a, conj_a, conj_b) as left:
        _realified_product(left, b, out)
    return out


def split_cmac_chunks(a: torch.Tensor, chunks, conj_a: bool = False, conj_b: bool = False) -> None:
    """``out = op(a[start:stop]) @ op(b)`` (as :func:`split_cmac`) for every (start, stop, b, out)
    of ``chunks``.

    When ``a`` is expanded (:func:`expands_a`, decided on the first chunk) and its block matrix
    for all frequencies stays within :data:`REALIFY_ONCE_BYTES`, it is built once and each chunk is
    one batched GEMM on a slice of it; otherwise every chunk is a :func:`split_cmac`. ``chunks``
    may be a generator: it resumes only after its previous chunk's product is written, so it can
    consume that product and reuse its buffers.
    """
    chunks = iter(chunks)
    first = next(chunks, None)
    if first is None:
        return
    start, stop, b, _ = first
    chunks = itertools.chain([first], chunks)
    if not expands_a(a[start:stop], b) or 2 * a.numel() * a.element_size() > REALIFY_ONCE_BYTES:
        for start, stop, b, out in chunks:
            split_cmac(a[start:stop], b, conj_a, conj_b, out=out)
        return
    with _lent_realified(a, conj_a, conj_b) as left:
        for start, stop, b, out in chunks:
            _realified_product(left[start:stop], b, out)


def expands_a(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Whether :func:`split_cmac` expands ``a`` (rather than the output): the one that copies less,
    counting a copy of ``b`` when its planes cannot be viewed as the layout that method needs."""
    _, _, m, j = a.shape
    n = b.shape[3]
    b_stacks = b.stride(1) == j * b.stride(2)
    b_side_by_side = b.stride(1) == n * b.stride(3)
    expand_a_cost = 4 * m * j + (0 if b_stacks else 2 * j * n)
    expand_out_cost = 8 * m * n + (0 if b_side_by_side else 2 * j * n)
    return expand_a_cost <= expand_out_cost


def realified(a: torch.Tensor, conj_a: bool = False, conj_b: bool = False,
              out: torch.Tensor = None) -> torch.Tensor:
    """The real (K, 2M, 2J) block matrix that multiplies a split-complex ``b`` like ``op(a)``.

    ``[[ar, -s ai], [sa ai, sb ar]] @ [br; bi]`` gives the real and imaginary planes of
    ``op(a) @ op(b)`` (sa, sb = -1 for a conjugated operand, s = sa * sb). A transposed ``a``
    (e.g. the input spectrum in the weight gradient) is built as the transpose of the block
    matrix: row-wise copies instead of transposing ones; bmm reads the transpose for free.

    Args:
        a: real tensor of shape (K, 2, M, J), any strides; planes real and imaginary.
        conj_a, conj_b: conjugate that operand of the product.
        out: optional contiguous tensor of 4 K M J elements to build the block matrix in.

    Returns:
        (K, 2M, 2J) tensor (a transposed view of a contiguous one for a transposed ``a``), a view
        of ``out`` when given.
    """
    k, _, m, j = a.shape
    sa, sb = (-1.0 if conj_a else 1.0), (-1.0 if conj_b else 1.0)
    ar, ai = a.unbind(1)
    # Planes of the block matrix, each with its sign.
    blocks = (((ar, 1.0), (ai, -sa * sb)), ((ai, sa), (ar, sb)))
    transposed = a.stride(2) == 1 and a.stride(3) != 1
    shape = (k, 2, j, 2, m) if transposed else (k, 2, m, 2, j)
    expanded = a.new_empty(shape) if out is None else out.view(shape)
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


@contextmanager
def _lent_realified(a: torch.Tensor, conj_a: bool, conj_b: bool):
    """:func:`realified` built in the workspace's scratch buffer, lent for the ``with`` block."""
    with scratch("realified", (2 * a.numel(),), a) as buffer:
        yield realified(a, conj_a, conj_b, out=buffer)


def _realified_product(left: torch.Tensor, b: torch.Tensor, out: torch.Tensor) -> None:
    k, _, j, n = b.shape
    torch.bmm(left, b.reshape(k, 2 * j, n), out=out.view(k, 2 * out.shape[2], n))


def _expanded_output_product(a, b, conj_a, conj_b, out) -> None:
    k, _, m, j = a.shape
    n = b.shape[3]
    sa, sb = (-1.0 if conj_a else 1.0), (-1.0 if conj_b else 1.0)
    with scratch("partial products", (k, 2 * m, 2 * n), a) as blocks:
        torch.bmm(a.reshape(k, 2 * m, j), b.transpose(1, 2).reshape(k, j, 2 * n), out=blocks)
        blocks = blocks.view(k, 2, m, 2, n)
        # real = b00 - sa sb b11, imag = sa (b10 + sa sb b01)
        torch.sub(blocks[:, 0, :, 0], blocks[:, 1, :, 1], alpha=sa * sb, out=out[:, 0])
        torch.add(blocks[:, 1, :, 0], blocks[:, 0, :, 1], alpha=sa * sb, out=out[:, 1])
    if sa < 0:
        out[:, 1].neg_()
