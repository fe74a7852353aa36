"""The PyCUDA CMAC backend on a real GPU, compared with the torch backend (cuBLAS).

Runs only where PyCUDA is installed (``pip install 'bandts[cuda]'``) and torch sees a CUDA
device; skipped with the reason otherwise.
"""

import pytest
import torch

pytest.importorskip("pycuda.driver", reason="PyCUDA is not installed (pip install 'bandts[cuda]')")
if not torch.cuda.is_available():
    pytest.skip("torch sees no CUDA device", allow_module_level=True)

from bandts.backends import cmac, pycuda_cmac  # noqa: E402
from bandts.functional import bandlimited_conv1d, bandlimited_conv2d  # noqa: E402

pytestmark = pytest.mark.gpu

# (K, M, J, N): ragged, J = 1, J > 1024, M = 1, large N, K over a plane block and over
# grid.y's limit of 65535 (the grid-stride loop over frequencies).
SHAPES = [(37, 3, 5, 4), (5, 1, 1, 300), (3, 9, 1500, 7), (4, 40, 130, 70), (600, 16, 64, 32),
          (70000, 2, 3, 2)]


def random_complex(shape, dtype):
    return torch.randn(*shape, dtype=dtype, device="cuda")


def reference(a, b, conj_a, conj_b):
    a, b = a.to(torch.complex128), b.to(torch.complex128)
    return torch.matmul(a.conj() if conj_a else a, b.conj() if conj_b else b)


def assert_close(out, ref, j):
    tolerance = (1e-5 if out.dtype == torch.complex64 else 1e-12) * max(1.0, j ** 0.5)
    torch.testing.assert_close(out.to(torch.complex128), ref, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
@pytest.mark.parametrize("design", ["plane", "tiled", "auto"])
@pytest.mark.parametrize("shape", SHAPES)
def test_kernel_matches_torch(shape, design, dtype):
    k, m, j, n = shape
    a = random_complex((k, m, j), dtype)
    b = random_complex((k, j, n), dtype)
    for conj_a, conj_b in [(False, False), (True, False), (False, True), (True, True)]:
        out = pycuda_cmac.cmac(a, b, conj_a, conj_b, design=design)
        assert_close(out, reference(a, b, conj_a, conj_b), j)


@pytest.mark.parametrize("design", ["plane", "tiled"])
def test_views_lazy_conjugates_and_registry(design):
    a = random_complex((20, 33, 50), torch.complex64).permute(2, 0, 1)  # (K, M, J) k-fastest
    b = random_complex((40, 33, 50), torch.complex64).permute(2, 1, 0).conj()  # lazy conj
    out = pycuda_cmac.cmac(a, b, True, False, design=design)
    assert_close(out, reference(a.resolve_conj(), b.resolve_conj(), True, False), 33)
    torch.testing.assert_close(cmac(a, b, conj_a=True, backend="pycuda"),
                               cmac(a, b, conj_a=True, backend="torch"), rtol=1e-5, atol=1e-4)


def test_runs_in_order_on_a_non_default_torch_stream():
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        a = random_complex((64, 48, 96), torch.complex64)
        b = random_complex((64, 96, 40), torch.complex64)
        a.mul_(2)  # queued on the side stream just before the kernel
        out = pycuda_cmac.cmac(a, b)
        out = out * 1  # consumed on the side stream right after
    stream.synchronize()
    assert_close(out, reference(a, b, False, False), 96)


def test_band_limited_convolutions_match_the_torch_backend():
    x = torch.randn(4, 3, 50, device="cuda", dtype=torch.float64, requires_grad=True)
    w = torch.randn(5, 3, 4, device="cuda", dtype=torch.float64, requires_grad=True)
    results = []
    for backend in ("pycuda", "torch"):
        out = bandlimited_conv1d(x, w, padding=2, compress_rate=0.5, backend=backend)
        grads = torch.autograd.grad(out.square().sum(), (x, w))
        results.append((out, *grads))
    for ours, theirs in zip(*results):
        torch.testing.assert_close(ours, theirs)
    x2 = torch.randn(2, 3, 12, 12, device="cuda", requires_grad=True)
    w2 = torch.randn(4, 3, 3, 3, device="cuda", requires_grad=True)
    outs = [bandlimited_conv2d(x2, w2, padding=1, compress_rate=0.3, backend=backend)
            for backend in ("pycuda", "torch")]
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-4, atol=1e-4)
