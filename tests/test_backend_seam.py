"""The CMAC backend seam and its torch backend."""

import pytest
import torch

from bandts.backends import cmac, resolve_backend


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
