"""Every CUDA kernel of kernels/*.cu compiles with nvcc to PTX for the oldest and a recent GPU."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bandts.backends.kernel_sources import kernel_dir, read_kernel

ARCHITECTURES = ["compute_75", "compute_90"]  # sm_75: the oldest target nvcc 13 accepts
SOURCES = {"cmac_plane.cu": ["cmac_plane_c64", "cmac_plane_c128"],
           "cmac_tiled.cu": ["cmac_tiled_c64", "cmac_tiled_c128"]}


def find_nvcc():
    return shutil.which("nvcc") or next(
        (p for p in ("/usr/local/cuda/bin/nvcc",) if os.access(p, os.X_OK)), None)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("source", sorted(SOURCES))
def test_kernel_compiles_to_ptx(tmp_path, source, architecture):
    nvcc = find_nvcc()
    if nvcc is None:
        pytest.skip("nvcc not found on PATH or in /usr/local/cuda/bin: cannot compile the kernels")
    ptx = tmp_path / f"{Path(source).stem}.ptx"
    result = subprocess.run(
        [nvcc, "--ptx", f"--gpu-architecture={architecture}", "-Werror", "all-warnings",
         f"-I{kernel_dir()}", str(kernel_dir() / source), "-o", str(ptx)],
        capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    entries = set(re.findall(r"\.entry\s+(\w+)", ptx.read_text()))
    assert entries == set(SOURCES[source])
    assert f".target sm_{architecture.split('_')[1]}" in ptx.read_text()


def test_every_kernel_source_is_compiled():
    assert sorted(SOURCES) == sorted(p.name for p in kernel_dir().glob("*.cu"))
    assert all(read_kernel(name) for name in SOURCES)


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_kernel_assembles_for_sm_75_without_spills(tmp_path, source):
    """ptxas builds machine code that fits the launch the backend makes (256 threads per block)."""
    nvcc = find_nvcc()
    if nvcc is None:
        pytest.skip("nvcc not found on PATH or in /usr/local/cuda/bin: cannot compile the kernels")
    result = subprocess.run(
        [nvcc, "--cubin", "--gpu-architecture=sm_75", "--resource-usage", f"-I{kernel_dir()}",
         str(kernel_dir() / source), "-o", str(tmp_path / "kernel.cubin")],
        capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    report = result.stdout + result.stderr
    registers = [int(r) for r in re.findall(r"Used (\d+) registers", report)]
    assert len(registers) == len(SOURCES[source])
    assert all(r * 256 <= 65536 for r in registers)  # one 256-thread block fits an SM's registers
    assert report.count("0 bytes spill stores") == len(SOURCES[source])
