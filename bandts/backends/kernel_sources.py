"""Where the CUDA sources of the CMAC kernels are, in an installed bandts or a source checkout.

The repository keeps them in the top-level ``kernels/`` directory; a built wheel carries a copy in
``bandts/_kernels/`` (copied there by ``kernel_build_hook.py`` at build time).
"""

from pathlib import Path

KERNEL_FILES = ("cmac_common.cuh", "cmac_plane.cu", "cmac_tiled.cu")

_PACKAGE_ROOT = Path(__file__).resolve().parents[1]
_CANDIDATES = (_PACKAGE_ROOT / "_kernels", _PACKAGE_ROOT.parent / "kernels")


def kernel_dir() -> Path:
    """The directory holding ``cmac_common.cuh``, ``cmac_plane.cu`` and ``cmac_tiled.cu``.

    Raises:
        FileNotFoundError: neither an installed copy nor a source checkout has all of them.
    """
    for directory in _CANDIDATES:
        if all((directory / name).is_file() for name in KERNEL_FILES):
            return directory
    raise FileNotFoundError(
        f"the CUDA kernel sources {KERNEL_FILES} are in none of {[str(d) for d in _CANDIDATES]}; "
        "reinstall bandts from a wheel or sdist built from the full source tree")


def read_kernel(name: str) -> str:
    """Text of one kernel source file, e.g. ``read_kernel("cmac_tiled.cu")``."""
    if name not in KERNEL_FILES:
        raise ValueError(f"unknown kernel source {name!r}; expected one of {KERNEL_FILES}")
    return (kernel_dir() / name).read_text()
