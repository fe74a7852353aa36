"""The CUDA CMAC kernels of kernels/*.cu, compiled for the CPU and run as emulated CUDA grids.

Every thread of a block is a real thread and __syncthreads a real barrier (tests/emulator). The
kernels are compared with a torch reference on awkward shapes, complex64 and complex128; the
negative tests prove the harness catches a missing __syncthreads, barrier divergence and an
out-of-bounds read.
"""

import mmap
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from bandts.backends.kernel_sources import kernel_dir, read_kernel
from bandts.backends.pycuda_cmac import launch_geometry
from emulator.emulated_kernels import EmulatedModule, EmulationError, build_library, pack_params
from emulator.fixtures import emulated_kernels, emulator_cache_dir  # noqa: F401 (fixtures)
from emulator.run_cmac import cmac_args

RUN_CMAC = Path(__file__).resolve().parents[1] / "emulator" / "run_cmac.py"
SUFFIX = {torch.complex64: "c64", torch.complex128: "c128"}

# (K, M, J, N): K not a multiple of the block size, J = 1, J > 1024, M = 1, large N, several
# tiles with ragged edges in every dimension, K over one plane block (256 threads).
SHAPES = [(37, 3, 5, 4), (5, 1, 1, 40), (2, 3, 1100, 2), (3, 17, 19, 18), (300, 2, 3, 2),
          (3, 1, 3, 150)]


def random_complex(shape, dtype, generator):
    real = torch.randn(*shape, 2, dtype=torch.float64, generator=generator)
    return torch.view_as_complex(real).to(dtype)


def operands(shape, dtype, layout, seed=0):
    """a (K, M, J) and b (K, J, N) as contiguous tensors or as k-fastest / transposed views."""
    k, m, j, n = shape
    generator = torch.Generator().manual_seed(seed)
    if layout == "contiguous":
        return (random_complex((k, m, j), dtype, generator),
                random_complex((k, j, n), dtype, generator))
    # The functional ops hand over permuted rfft outputs: frequency is the fastest axis.
    a = random_complex((m, j, k), dtype, generator).permute(2, 0, 1)
    b = random_complex((n, j, k), dtype, generator).permute(2, 1, 0)
    return a, b


def reference(a, b, conj_a, conj_b):
    """torch reference in complex128 and the bound |a| @ |b| for the rounding error."""
    a64, b64 = a.to(torch.complex128), b.to(torch.complex128)
    exact = torch.matmul(a64.conj() if conj_a else a64, b64.conj() if conj_b else b64)
    scale = torch.matmul(a64.abs(), b64.abs())
    return exact, scale


def assert_matches(out, a, b, conj_a, conj_b):
    """Error within the worst-case bound of a J-term sum of 3-multiplication products."""
    exact, scale = reference(a, b, conj_a, conj_b)
    eps = torch.finfo(out.real.dtype).eps
    j = a.shape[2]
    error = (out.to(torch.complex128) - exact).abs()
    bound = 4 * (j + 4) * eps * scale + torch.finfo(out.real.dtype).tiny
    worst = (error / bound).max().item()
    assert worst <= 1.0, f"error {error.max().item():.3g} exceeds the rounding bound ({worst:.3g}x)"


def launch(module, design, a, b, out, conj_a, conj_b, *, grid=None, block=None,
           schedule="concurrent"):
    k, m, j = a.shape
    n = b.shape[2]
    default_grid, default_block = launch_geometry(design, k, m, n)
    args = cmac_args(a.data_ptr(), a.stride(), b.data_ptr(), b.stride(), out.data_ptr(),
                     out.stride(), (k, m, j, n), conj_a, conj_b)
    module.launch(f"cmac_{design}_{SUFFIX[a.dtype]}", pack_params(args), grid or default_grid,
                  block or default_block, schedule=schedule)


# K = 300 exercises the plane kernel's frequency chunks; the tiled kernel's grid.y covers k.
CASES = [(design, dtype, index) for design in ("plane", "tiled")
         for dtype in (torch.complex64, torch.complex128) for index in range(len(SHAPES))
         if not (design == "tiled" and SHAPES[index][0] > 256)]
CASE_IDS = [f"{d}-{SUFFIX[t]}-{'x'.join(map(str, SHAPES[i]))}" for d, t, i in CASES]


@pytest.mark.parametrize("design, dtype, index", CASES, ids=CASE_IDS)
def test_kernel_matches_torch(emulated_kernels, design, dtype, index):
    shape = SHAPES[index]
    # Each shape gets one combination of conjugation and layout, so all four conj cases and
    # both layouts are covered by every design and dtype.
    conj_a, conj_b = [(False, False), (True, False), (False, True), (True, True)][index % 4]
    layout = "k-fastest" if index % 2 else "contiguous"
    a, b = operands(shape, dtype, layout, seed=index)
    k, m, j, n = shape
    out = torch.full((k, m, n), complex(float("nan"), float("nan")), dtype=dtype)
    launch(emulated_kernels[design], design, a, b, out, conj_a, conj_b)
    assert_matches(out, a, b, conj_a, conj_b)


GRIDS = [("plane", (1, 1, 1)), ("plane", (7, 3, 1)), ("plane", (400, 2, 1)),
         ("tiled", (1, 1, 1)), ("tiled", (3, 5, 1)), ("tiled", (6, 13, 1))]


@pytest.mark.parametrize("design, grid", GRIDS)
def test_any_grid_covers_any_shape(emulated_kernels, design, grid):
    """Grid-stride loops: too few blocks loop, too many idle, the result is the same."""
    a, b = operands((11, 18, 17, 20), torch.complex64, "contiguous", seed=7)
    out = torch.full((11, 18, 20), complex(float("nan"), 0.0), dtype=torch.complex64)
    launch(emulated_kernels[design], design, a, b, out, False, True, grid=grid)
    assert_matches(out, a, b, False, True)


def test_strided_output(emulated_kernels):
    """Output strides are honoured: writing into a k-fastest view of a larger buffer."""
    a, b = operands((6, 4, 9, 5), torch.complex128, "contiguous", seed=3)
    buffer = torch.zeros((4, 5, 8), dtype=torch.complex128)
    out = buffer[:, :, 1:7].permute(2, 0, 1)
    for design in ("plane", "tiled"):
        buffer.zero_()
        launch(emulated_kernels[design], design, a, b, out, True, False)
        assert_matches(out, a, b, True, False)
        assert torch.all(buffer[:, :, 0] == 0) and torch.all(buffer[:, :, 7] == 0)


MAP_NORESERVE = 0x4000  # Linux: reserve address space only; untouched pages cost no memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux MAP_NORESERVE")
@pytest.mark.parametrize("design", ["plane", "tiled"])
def test_offsets_beyond_32_bits(emulated_kernels, design):
    """64-bit indexing: the second frequency of each operand lies 2^32 + 3 elements further."""
    big = 2**32 + 3  # a 32-bit offset would wrap to 3: wrong values rather than a crash
    region = mmap.mmap(-1, (big + 128) * 8, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
                       | MAP_NORESERVE)
    flat = torch.frombuffer(region, dtype=torch.complex64)
    a = flat.as_strided((2, 3, 4), (big, 4, 1))
    b = flat.as_strided((2, 4, 5), (big, 5, 1), storage_offset=64)
    a.copy_(random_complex((2, 3, 4), torch.complex64, torch.Generator().manual_seed(1)))
    b.copy_(random_complex((2, 4, 5), torch.complex64, torch.Generator().manual_seed(2)))
    out = torch.zeros((2, 3, 5), dtype=torch.complex64)
    launch(emulated_kernels[design], design, a, b, out, False, True)
    assert_matches(out, a.clone(), b.clone(), False, True)


@pytest.mark.parametrize("schedule", ["serial", "serial-reverse"])
def test_tiled_kernel_correct_under_serial_schedules(emulated_kernels, schedule):
    a, b = operands((2, 17, 37, 18), torch.complex64, "contiguous", seed=5)
    out = torch.zeros((2, 17, 18), dtype=torch.complex64)
    launch(emulated_kernels["tiled"], "tiled", a, b, out, True, True, schedule=schedule)
    assert_matches(out, a, b, True, True)


# ---- negative tests: the harness catches what a GPU would get wrong ----

SYNC = "__syncthreads();"


def without_sync(source: str, occurrence: int) -> str:
    """The source with its ``occurrence``-th __syncthreads() call removed."""
    start = [match.start() for match in re.finditer(re.escape(SYNC), source)][occurrence]
    return source[:start] + ";" + source[start + len(SYNC):]


def test_tiled_kernel_has_two_barriers():
    assert read_kernel("cmac_tiled.cu").count(SYNC) == 2


@pytest.mark.parametrize("occurrence", [0, 1], ids=["before-reading-tiles", "before-next-load"])
@pytest.mark.parametrize("schedule", ["serial", "serial-reverse"])
def test_missing_syncthreads_gives_wrong_results(emulator_cache_dir, occurrence, schedule):
    source = without_sync(read_kernel("cmac_tiled.cu"), occurrence)
    module = EmulatedModule(
        build_library(source, include_dirs=[kernel_dir()], cache_dir=emulator_cache_dir), source)
    a, b = operands((2, 17, 37, 18), torch.complex64, "contiguous", seed=5)
    out = torch.zeros((2, 17, 18), dtype=torch.complex64)
    launch(module, "tiled", a, b, out, False, False, schedule=schedule)
    exact, scale = reference(a, b, False, False)
    assert ((out - exact).abs() > 1e-3 * scale).any(), "a missing barrier went unnoticed"


def test_barrier_divergence_is_reported(emulator_cache_dir):
    source = r'''
extern "C" __global__ void divergent(float* out) {
    if (threadIdx.x < 3) __syncthreads();
    out[threadIdx.x] = 1.0f;
}
'''
    module = EmulatedModule(build_library(source, cache_dir=emulator_cache_dir), source)
    out = np.zeros(8, dtype=np.float32)
    with pytest.raises(EmulationError, match="barrier divergence"):
        module.launch("divergent", pack_params([np.uintp(out.ctypes.data)]), (1,), (8,))


def test_launch_limits_and_parameter_size_are_checked(emulated_kernels):
    module = emulated_kernels["plane"]
    a, b = operands((2, 2, 2, 2), torch.complex64, "contiguous")
    out = torch.zeros((2, 2, 2), dtype=torch.complex64)
    args = list(cmac_args(a.data_ptr(), a.stride(), b.data_ptr(), b.stride(), out.data_ptr(),
                          out.stride(), (2, 2, 2, 2), False, False))
    with pytest.raises(EmulationError, match="more than 1024 threads"):
        module.launch("cmac_plane_c64", pack_params(args), (1,), (64, 32))
    with pytest.raises(EmulationError, match="grid dimension"):
        module.launch("cmac_plane_c64", pack_params(args), (1, 70000), (32,))
    args[-1] = np.int64(0)  # an int where the kernel declares int: the buffer grows by 4 bytes
    with pytest.raises(EmulationError, match="takes 136 bytes"):
        module.launch("cmac_plane_c64", pack_params(args), (1,), (32,))


# ---- sanitizers: ThreadSanitizer for races, AddressSanitizer for out-of-bounds reads ----

def sanitizer_runtime(name: str) -> str:
    """Path of the sanitizer runtime library of the host compiler, or skip."""
    from emulator.emulated_kernels import host_compiler

    result = subprocess.run([host_compiler(), f"-print-file-name=lib{name}.so"],
                            capture_output=True, text=True)
    path = result.stdout.strip()
    if result.returncode != 0 or not Path(path).is_file():
        pytest.skip(f"the host compiler has no lib{name}.so")
    return path


# Messages of a sanitizer runtime that cannot start here (kernel memory layout), not kernel bugs.
SANITIZER_CANNOT_RUN = ("unexpected memory mapping", "Shadow memory range interleaves",
                        "failed to allocate", "ASan runtime does not come first")


def run_sanitized(tmp_path, cache_dir, source, sanitizer, a, b, design="tiled"):
    """Run kernel cmac_<design>_c64 on numpy a, b in a subprocess under the sanitizer."""
    runtime = sanitizer_runtime({"thread": "tsan", "address": "asan"}[sanitizer])
    library = build_library(source, include_dirs=[kernel_dir()], cache_dir=cache_dir,
                            extra_flags=[f"-fsanitize={sanitizer}", "-g", "-O1"])
    source_path = tmp_path / "kernel.cu"
    source_path.write_text(source)
    np.savez(tmp_path / "inputs.npz", a=a, b=b)
    k, m, _ = a.shape
    grid, block = launch_geometry(design, k, m, b.shape[2])
    env = {"LD_PRELOAD": runtime, "PATH": "/usr/bin:/bin",
           "TSAN_OPTIONS": "exitcode=66 report_signal_unsafe=0",
           "ASAN_OPTIONS": "detect_leaks=0 exitcode=67"}
    result = subprocess.run(
        [sys.executable, str(RUN_CMAC), str(library), str(source_path), f"cmac_{design}_c64",
         str(tmp_path / "inputs.npz"), str(tmp_path / "out.npy"), ",".join(map(str, grid)),
         ",".join(map(str, block)), "concurrent", "0", "0"],
        capture_output=True, text=True, env=env, timeout=300)
    for symptom in SANITIZER_CANNOT_RUN:
        if symptom in result.stderr:
            pytest.skip(f"the {sanitizer} sanitizer cannot run on this machine: {symptom}")
    return result


def numpy_operands(shape, seed):
    k, m, j, n = shape
    rng = np.random.default_rng(seed)
    a = (rng.standard_normal((k, m, j)) + 1j * rng.standard_normal((k, m, j))).astype(np.complex64)
    b = (rng.standard_normal((k, j, n)) + 1j * rng.standard_normal((k, j, n))).astype(np.complex64)
    return a, b


def test_threadsanitizer_finds_no_race_in_tiled_kernel(tmp_path, emulator_cache_dir):
    a, b = numpy_operands((1, 17, 20, 18), seed=1)
    source = read_kernel("cmac_tiled.cu")
    result = run_sanitized(tmp_path, emulator_cache_dir, source, "thread", a, b)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ThreadSanitizer" not in result.stderr
    out = np.load(tmp_path / "out.npy")
    np.testing.assert_allclose(out, np.einsum("kmj,kjn->kmn", a, b), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("occurrence", [0, 1], ids=["before-reading-tiles", "before-next-load"])
def test_threadsanitizer_catches_missing_syncthreads(tmp_path, emulator_cache_dir, occurrence):
    a, b = numpy_operands((1, 17, 20, 18), seed=1)
    source = without_sync(read_kernel("cmac_tiled.cu"), occurrence)
    result = run_sanitized(tmp_path, emulator_cache_dir, source, "thread", a, b)
    assert result.returncode == 66 and "ThreadSanitizer: data race" in result.stderr, \
        result.stderr[-3000:]


@pytest.mark.parametrize("design", ["plane", "tiled"])
def test_addresssanitizer_finds_no_out_of_bounds_access(tmp_path, emulator_cache_dir, design):
    # Ragged in every dimension, so every bounds check is exercised at its edge.
    a, b = numpy_operands((3, 17, 19, 18), seed=2)
    result = run_sanitized(tmp_path, emulator_cache_dir, read_kernel(f"cmac_{design}.cu"),
                           "address", a, b, design=design)
    assert result.returncode == 0, result.stderr[-3000:]
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), np.einsum("kmj,kjn->kmn", a, b),
                               rtol=1e-4, atol=1e-4)


def test_addresssanitizer_catches_a_broken_bounds_check(tmp_path, emulator_cache_dir):
    source = read_kernel("cmac_tiled.cu").replace("(am < M && aj < J)", "(am <= M && aj < J)")
    a, b = numpy_operands((3, 17, 19, 18), seed=2)
    result = run_sanitized(tmp_path, emulator_cache_dir, source, "address", a, b)
    assert result.returncode == 67 and "AddressSanitizer" in result.stderr, result.stderr[-3000:]
