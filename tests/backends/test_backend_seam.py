"""The CMAC backend seam and its torch backend."""

import pytest
import torch

from bandts.backends import cmac, resolve_backend, split_cmac, split_cmac_chunks, torch_cmac


@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
@pytest.mark.parametrize("conj_a,conj_b", [(False, False), (True, False), (False, True), (True, True)])
def test_torch_cmac_matches_einsum(dtype, conj_a, conj_b):
    a = torch.randn(7, 5, 3, dtype=dtype)
    b = torch.randn(7, 4, 3, dtype=dtype).transpose(1, 2)  # a strided operand
    expected = torch.einsum("kmj,kjn->kmn", a.conj() if conj_a else a, b.conj() if conj_b else b)
    torch.testing.assert_close(cmac(a, b, conj_a=conj_a, conj_b=conj_b, backend="torch"), expected)


def test_auto_is_torch_on_cpu_and_names_are_checked():
    assert resolve_backend("auto", torch.device("cpu")) == "torch"
    with pytest.raises(ValueError, match="backend must be one of"):
        resolve_backend("cublas", torch.device("cpu"))


def test_shape_and_dtype_errors():
    with pytest.raises(ValueError, match="cmac needs a"):
        cmac(torch.randn(2, 3, 4, dtype=torch.complex64), torch.randn(2, 5, 4, dtype=torch.complex64))
    with pytest.raises(TypeError, match="complex"):
        cmac(torch.randn(2, 3, 4), torch.randn(2, 4, 4))


def split(z):
    """(K, M, N) complex -> (K, 2, M, N) real and imaginary planes."""
    return torch.stack((z.real, z.imag), 1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("conj_a,conj_b", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("a_layout", ["contiguous", "transposed"])
@pytest.mark.parametrize("b_layout", ["contiguous", "transposed", "strided"])
# (M, J, N): the first expands a, the second the output (see split_cmac's cost model).
@pytest.mark.parametrize("m,j,n", [(5, 3, 4), (4, 16, 2)])
@pytest.mark.parametrize("with_out", [False, True])
def test_split_cmac_matches_the_complex_product(dtype, conj_a, conj_b, a_layout, b_layout, m, j, n,
                                                with_out):
    """Both realifications, a transposed a (expanded as a transposed block matrix), b's planes
    stacked or side by side, and a non-unit-stride b."""
    complex_dtype = torch.complex64 if dtype == torch.float32 else torch.complex128
    a = torch.randn(6, m, j, dtype=complex_dtype)
    b = torch.randn(6, j, n, dtype=complex_dtype)
    a_split = {"contiguous": split(a),
               "transposed": split(a.transpose(1, 2).contiguous()).transpose(2, 3)}[a_layout]
    b_split = {"contiguous": split(b),
               "transposed": split(b.transpose(1, 2).contiguous()).transpose(2, 3),
               "strided": split(torch.randn(6, j, 2 * n, dtype=complex_dtype))[..., ::2]}[b_layout]
    if b_layout == "strided":
        b = torch.complex(b_split[:, 0], b_split[:, 1])
    expected = torch.einsum("kmj,kjn->kmn", a.conj() if conj_a else a, b.conj() if conj_b else b)
    out = torch.full((6, 2, m, n), float("nan"), dtype=dtype) if with_out else None
    result = split_cmac(a_split, b_split, conj_a=conj_a, conj_b=conj_b, backend="torch", out=out)
    torch.testing.assert_close(result, split(expected))
    if with_out:
        assert result.data_ptr() == out.data_ptr()


@pytest.mark.parametrize("conj_a,conj_b", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("a_layout", ["contiguous", "transposed"])
# (M, J, N): a expanded, then the output expanded (a wide a, a narrow output).
@pytest.mark.parametrize("m,j,n", [(4, 3, 5), (4, 16, 2)])
@pytest.mark.parametrize("realify_once_bytes", [0, 2**20])
def test_split_cmac_chunks_matches_the_complex_product_chunk_by_chunk(
        monkeypatch, conj_a, conj_b, a_layout, m, j, n, realify_once_bytes):
    """Uneven chunks, one reused buffer for b and out, and a generator that reads each product
    before the next chunk overwrites the buffers; a expanded once for all chunks or per chunk."""
    monkeypatch.setattr(torch_cmac, "REALIFY_ONCE_BYTES", realify_once_bytes)
    a = torch.randn(7, m, j, dtype=torch.complex128)
    b = torch.randn(7, j, n, dtype=torch.complex128)
    expected = torch.einsum("kmj,kjn->kmn", a.conj() if conj_a else a, b.conj() if conj_b else b)
    a_split = {"contiguous": split(a),
               "transposed": split(a.transpose(1, 2).contiguous()).transpose(2, 3)}[a_layout]
    b_buffer = torch.empty(3, 2, j, n, dtype=torch.float64)
    out_buffer = torch.empty(3, 2, m, n, dtype=torch.float64)
    seen = []

    def chunks():
        for start, stop in [(0, 3), (3, 4), (4, 7)]:
            b_chunk = b_buffer[:stop - start]
            b_chunk.copy_(split(b[start:stop]))
            yield start, stop, b_chunk, out_buffer[:stop - start]
            seen.append(out_buffer[:stop - start].clone())

    split_cmac_chunks(a_split, chunks(), conj_a=conj_a, conj_b=conj_b, backend="torch")
    torch.testing.assert_close(torch.cat(seen), split(expected))


def test_split_cmac_shape_and_dtype_errors():
    with pytest.raises(ValueError, match="split_cmac needs a"):
        split_cmac(torch.randn(2, 2, 3, 4), torch.randn(2, 2, 5, 4))
    with pytest.raises(ValueError, match="split_cmac needs a"):
        split_cmac_chunks(torch.randn(4, 2, 3, 4),
                          [(0, 2, torch.randn(2, 2, 5, 4), torch.empty(2, 2, 3, 4))])
    with pytest.raises(TypeError, match="real tensors"):
        split_cmac(torch.randn(2, 2, 3, 4), torch.randn(2, 2, 4, 4, dtype=torch.float64))
