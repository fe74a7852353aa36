"""The PyCUDA backend (bandts/backends/pycuda_cmac.py) run against a CPU stand-in for PyCUDA.

The stand-in (tests/emulator/pycuda_standin.py) compiles the kernel sources the backend hands to
``SourceModule`` with the host compiler and runs its launches as emulated CUDA grids, so the
backend's marshalling, launch geometry, dtype dispatch, context handling and caching are the
real code. torch CPU tensors stand in for CUDA tensors: only the backend's check that the
operands live on a CUDA device and its query of torch's current stream are replaced.
"""

import struct
import subprocess
import sys

import pytest
import torch

from bandts.backends import cmac, kernel_sources, pycuda_cmac
from emulator import pycuda_standin
from emulator.fixtures import emulator_cache_dir  # noqa: F401 (fixture)


def random_complex(shape, dtype, seed):
    generator = torch.Generator().manual_seed(seed)
    return torch.view_as_complex(torch.randn(*shape, 2, dtype=torch.float64,
                                             generator=generator)).to(dtype)


def expected(a, b, conj_a, conj_b):
    a = a.resolve_conj().to(torch.complex128)
    b = b.resolve_conj().to(torch.complex128)
    return torch.matmul(a.conj() if conj_a else a, b.conj() if conj_b else b)


def assert_close(out, ref):
    tolerance = 1e-5 if out.dtype == torch.complex64 else 1e-12
    torch.testing.assert_close(out.to(torch.complex128), ref, rtol=tolerance, atol=tolerance)


def reset_backend_caches(monkeypatch):
    for name in ("_contexts", "_functions", "_side_streams"):
        monkeypatch.setattr(pycuda_cmac, name, {})


@pytest.fixture
def standin(monkeypatch, emulator_cache_dir):
    """The stand-in PyCUDA, with CPU tensors accepted as device 0 on the default stream."""
    state = pycuda_standin.install(monkeypatch, emulator_cache_dir)
    reset_backend_caches(monkeypatch)

    def device_index(a, b):
        assert a.device == b.device
        return 0

    monkeypatch.setattr(pycuda_cmac, "_device_index", device_index)
    monkeypatch.setattr(pycuda_cmac, "_current_stream_handle", lambda device: 0)
    return state


# (K, M, J, N) -> the design "auto" picks
AUTO_CASES = [((9, 3, 4, 5), "plane"), ((4, 20, 17, 18), "tiled"), ((3, 1, 40, 30), "plane"),
              ((2, 9, 1100, 8), "tiled")]


@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
@pytest.mark.parametrize("shape, design", AUTO_CASES)
def test_backend_matches_torch(standin, shape, design, dtype):
    k, m, j, n = shape
    a = random_complex((k, m, j), dtype, 1)
    b = random_complex((k, j, n), dtype, 2)
    out = pycuda_cmac.cmac(a, b, conj_a=False, conj_b=True)
    assert out.shape == (k, m, n) and out.dtype == dtype
    assert_close(out, expected(a, b, False, True))
    assert [launch.kernel for launch in standin.launches] == \
        [f"cmac_{design}_{'c64' if dtype == torch.complex64 else 'c128'}"]


@pytest.mark.parametrize("design", ["plane", "tiled"])
def test_views_and_lazy_conjugates_need_no_copy(standin, design):
    """k-fastest and transposed views, and lazy .conj() views, go to the kernel as they are."""
    base_a = random_complex((6, 19, 21), torch.complex64, 3)  # (M, J, K)
    base_b = random_complex((7, 19, 21), torch.complex64, 4)  # (N, J, K)
    a = base_a.permute(2, 0, 1)  # (K, M, J), frequency fastest
    b = base_b.permute(2, 1, 0).conj()  # (K, J, N), a lazy conjugate
    assert b.is_conj()
    for conj_a, conj_b in [(False, False), (True, False), (False, True), (True, True)]:
        out = pycuda_cmac.cmac(a, b, conj_a=conj_a, conj_b=conj_b, design=design)
        assert_close(out, expected(a, b, conj_a, conj_b))
    for launch in standin.launches:  # the kernels got the original memory and its strides
        a_ptr, b_ptr, _, k, m, j, n, *strides = struct.unpack("PPP13q", launch.params[:128])
        assert (a_ptr, b_ptr) == (base_a.data_ptr(), base_b.data_ptr())
        assert (k, m, j, n) == (21, 6, 19, 7)
        assert strides[:6] == [1, 19 * 21, 21, 1, 21, 19 * 21]


def test_launch_geometry_and_output_layout(standin):
    a = random_complex((37, 3, 5), torch.complex64, 5)
    b = random_complex((37, 5, 4), torch.complex64, 6)
    out = pycuda_cmac.cmac(a, b, design="plane")
    assert out.stride() == (1, 4 * 37, 37)  # frequency fastest: coalesced plane-kernel writes
    out = pycuda_cmac.cmac(a, b, design="tiled")
    assert out.is_contiguous()
    plane, tiled = standin.launches
    assert (plane.grid, plane.block) == ((12, 1, 1), (64, 1, 1))
    assert (tiled.grid, tiled.block) == ((1, 37, 1), (16, 16, 1))
    big = random_complex((300, 1, 2), torch.complex128, 7)
    pycuda_cmac.cmac(big, random_complex((300, 2, 1), torch.complex128, 8), design="plane")
    assert (standin.launches[-1].grid, standin.launches[-1].block) == ((1, 2, 1), (256, 1, 1))


def test_launch_geometry_respects_cuda_limits():
    grid, block = pycuda_cmac.launch_geometry("plane", 10**7, 70000, 70000)
    assert grid[0] <= 2**31 - 1 and grid[1] <= 65535 and block[0] <= 1024
    grid, block = pycuda_cmac.launch_geometry("tiled", 10**6, 10**6, 10**6)
    assert grid[0] <= 2**31 - 1 and grid[1] <= 65535 and block[0] * block[1] <= 1024


def test_compiles_once_per_design_and_reuses_functions(standin):
    a = random_complex((4, 20, 17), torch.complex64, 9)
    b = random_complex((4, 17, 18), torch.complex64, 10)
    for _ in range(3):
        pycuda_cmac.cmac(a, b, design="tiled")
        pycuda_cmac.cmac(a.to(torch.complex128), b.to(torch.complex128), design="tiled")
    pycuda_cmac.cmac(a, b, design="plane")
    assert len(standin.compiled) == 2 and len(standin.launches) == 7
    sources = [source for source, _, _ in standin.compiled]
    assert sources == [kernel_sources.read_kernel("cmac_tiled.cu"),
                       kernel_sources.read_kernel("cmac_plane.cu")]
    assert all(dirs == [str(kernel_sources.kernel_dir())] for _, _, dirs in standin.compiled)
    assert standin.context_stack == []  # every push was popped


def test_context_is_popped_when_a_launch_fails(standin, monkeypatch):
    monkeypatch.setattr(pycuda_cmac, "launch_geometry", lambda *args: ((1, 1, 1), (2048, 1, 1)))
    a = random_complex((2, 2, 2), torch.complex64, 11)
    with pytest.raises(Exception, match="more than 1024 threads"):
        pycuda_cmac.cmac(a, a, design="plane")
    assert standin.context_stack == []


def test_empty_operands_launch_nothing(standin):
    for k, m, j, n in [(0, 2, 3, 4), (2, 0, 3, 4), (2, 3, 4, 0)]:
        out = pycuda_cmac.cmac(torch.zeros(k, m, j, dtype=torch.complex64),
                               torch.zeros(k, j, n, dtype=torch.complex64))
        assert out.shape == (k, m, n)
    out = pycuda_cmac.cmac(torch.ones(3, 2, 0, dtype=torch.complex64),
                           torch.ones(3, 0, 4, dtype=torch.complex64))
    assert out.shape == (3, 2, 4) and torch.all(out == 0)
    assert standin.launches == []


def test_registry_dispatches_to_pycuda(standin):
    a = random_complex((5, 9, 8), torch.complex128, 12)
    b = random_complex((5, 8, 10), torch.complex128, 13)
    out = cmac(a, b, conj_a=True, conj_b=False, backend="pycuda")
    assert_close(out, expected(a, b, True, False))
    assert len(standin.launches) == 1
    cmac(a, b, backend="auto")  # CPU tensors: "auto" means torch, even with PyCUDA importable
    assert len(standin.launches) == 1


def test_non_default_torch_stream_is_joined_through_a_pycuda_stream(standin, monkeypatch):
    """PyCUDA cannot launch on a foreign stream handle: its own stream is fenced on both sides."""
    events = []

    class FakeTorchStream:
        def __init__(self, name):
            self.name = name

        def wait_stream(self, other):
            events.append(f"{self.name} waits for {other.name} ({len(standin.launches)} launched)")

    monkeypatch.setattr(pycuda_cmac, "_current_stream_handle", lambda device: 0x7F00)
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device: FakeTorchStream("torch"))
    monkeypatch.setattr(torch.cuda, "ExternalStream",
                        lambda handle, device: FakeTorchStream(f"pycuda {handle:#x}"))
    monkeypatch.setattr(torch.Tensor, "record_stream", lambda tensor, stream: events.append(
        f"{tuple(tensor.shape)} on {stream.name}"))
    a = random_complex((3, 2, 4), torch.complex64, 14)
    b = random_complex((3, 4, 5), torch.complex64, 15)
    out = pycuda_cmac.cmac(a, b)
    out = pycuda_cmac.cmac(a, b)
    assert_close(out, expected(a, b, False, False))
    side = standin.launches[0].stream
    assert side is standin.launches[1].stream  # one PyCUDA stream per device, reused
    name = f"pycuda {side.handle:#x}"
    assert events[:6] == [f"{name} waits for torch (0 launched)",
                          f"torch waits for {name} (1 launched)",
                          f"(3, 2, 4) on {name}", f"(3, 4, 5) on {name}", f"(3, 2, 5) on {name}",
                          f"{name} waits for torch (1 launched)"]


# ---- errors ----

def test_missing_pycuda_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pycuda", None)  # makes `import pycuda` raise ImportError
    a = torch.zeros(1, 1, 1, dtype=torch.complex64)
    with pytest.raises(pycuda_cmac.PyCudaUnavailableError,
                       match=r"PyCUDA, which is not installed.*pip install 'bandts\[cuda\]'"):
        cmac(a, a, backend="pycuda")


def test_missing_cuda_device_is_reported(monkeypatch, emulator_cache_dir):
    pycuda_standin.install(monkeypatch, emulator_cache_dir)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    a = torch.zeros(1, 1, 1, dtype=torch.complex64)
    with pytest.raises(pycuda_cmac.PyCudaUnavailableError, match="needs a CUDA device"):
        cmac(a, a, backend="pycuda")


def test_cpu_tensors_are_reported(monkeypatch, emulator_cache_dir):
    pycuda_standin.install(monkeypatch, emulator_cache_dir)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    a = torch.zeros(1, 1, 1, dtype=torch.complex64)
    with pytest.raises(ValueError, match=r"on one CUDA device; got cpu and cpu.*\.to\('cuda'\)"):
        cmac(a, a, backend="pycuda")


@pytest.mark.filterwarnings("ignore:ComplexHalf support is experimental")
def test_unsupported_dtype_and_design_are_reported(standin):
    half = torch.zeros(1, 1, 1, dtype=torch.complex32)
    with pytest.raises(TypeError, match="complex64 or complex128"):
        pycuda_cmac.cmac(half, half)
    a = torch.zeros(1, 1, 1, dtype=torch.complex64)
    with pytest.raises(ValueError, match="design must be one of"):
        pycuda_cmac.cmac(a, a, design="fast")


def test_operands_requiring_grad_are_refused_outside_no_grad(standin):
    a = random_complex((2, 3, 4), torch.complex64, 16).requires_grad_()
    with pytest.raises(RuntimeError, match="not differentiable"):
        pycuda_cmac.cmac(a, a.detach().transpose(1, 2))
    with torch.no_grad():
        out = pycuda_cmac.cmac(a, a.detach().transpose(1, 2))
    assert_close(out, expected(a.detach(), a.detach().transpose(1, 2), False, False))


def test_bandts_imports_without_pycuda():
    code = ("import sys; sys.modules['pycuda'] = None\n"
            "import bandts, bandts.backends, bandts.backends.pycuda_cmac\n"
            "print('ok')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


# ---- the band-limited convolutions on the stand-in ----

def forward_backward(conv, x, w, bias, backend, **band):
    out = conv(x, w, bias, **band, backend=backend)
    weights = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)
    return (out, *torch.autograd.grad((out * weights).sum(), (x, w, bias)))


def assert_backends_agree(standin, conv, x, w, bias, designs, **band):
    ours = forward_backward(conv, x, w, bias, "pycuda", **band)
    kernels = [launch.kernel.split("_")[1] for launch in standin.launches]
    assert kernels == designs  # forward, input gradient, weight gradient
    theirs = forward_backward(conv, x, w, bias, "torch", **band)
    for name, mine, reference in zip(["output", "grad x", "grad w", "grad bias"], ours, theirs):
        torch.testing.assert_close(mine, reference, msg=lambda m, name=name: f"{name}: {m}")


@pytest.mark.parametrize("channels, designs", [((3, 4), ["plane"] * 3),
                                               ((9, 10), ["tiled"] * 3)])
@pytest.mark.parametrize("band", [{"compress_rate": 0.4},
                                  {"preserve_energy": 0.9, "energy_scope": "sample"}],
                         ids=["compress_rate", "preserve_energy"])
def test_bandlimited_conv1d_on_pycuda_matches_torch(standin, channels, designs, band):
    from bandts.functional import bandlimited_conv1d

    c_in, c_out = channels
    x = torch.randn(8, c_in, 21, dtype=torch.float64, requires_grad=True)
    w = torch.randn(c_out, c_in, 5, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(c_out, dtype=torch.float64, requires_grad=True)
    assert_backends_agree(standin, bandlimited_conv1d, x, w, bias, designs, padding=2, **band)


def test_bandlimited_conv2d_on_pycuda_matches_torch(standin):
    from bandts.functional import bandlimited_conv2d

    x = torch.randn(2, 3, 7, 6, requires_grad=True)
    w = torch.randn(4, 3, 3, 3, requires_grad=True)
    bias = torch.randn(4, requires_grad=True)
    assert_backends_agree(standin, bandlimited_conv2d, x, w, bias, ["plane"] * 3, padding=1,
                          compress_rate=0.3)
