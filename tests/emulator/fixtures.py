"""pytest fixtures shared by the kernel test modules (import the names you use into the module)."""

from pathlib import Path

import pytest

from bandts.backends.kernel_sources import kernel_dir, read_kernel
from emulator.emulated_kernels import EmulatedModule, build_library, host_compiler

_cache_dir = None


@pytest.fixture(scope="session")
def emulator_cache_dir(tmp_path_factory) -> Path:
    """One build directory per test session; builds in it are keyed by their content."""
    global _cache_dir
    if host_compiler() is None:
        pytest.skip("no host C++ compiler (g++ or $CXX): the CUDA kernels cannot be emulated")
    if _cache_dir is None:
        _cache_dir = tmp_path_factory.mktemp("cuda-emulator")
    return _cache_dir


@pytest.fixture(scope="session")
def emulated_kernels(emulator_cache_dir) -> dict:
    """{"plane": EmulatedModule, "tiled": EmulatedModule} built from kernels/*.cu."""
    modules = {}
    for design in ("plane", "tiled"):
        source = read_kernel(f"cmac_{design}.cu")
        library = build_library(source, include_dirs=[kernel_dir()], cache_dir=emulator_cache_dir)
        modules[design] = EmulatedModule(library, source)
    return modules
