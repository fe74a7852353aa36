"""The CUDA kernel sources ship in the sdist and in a wheel built from it, where bandts finds them.

Builds from a copy of the source tree with the installed setuptools (no network); skipped when that
setuptools is older than the build requirement in pyproject.toml.
"""

import importlib.util
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from bandts.backends.kernel_sources import KERNEL_FILES

ROOT = Path(__file__).resolve().parents[2]
TREE = ["bandts", "kernels", "pyproject.toml", "setup.cfg", "MANIFEST.in", "kernel_build_hook.py",
        "README.md", "LICENSE"]


def build(kind: str, source_dir: Path, out_dir: Path) -> Path:
    code = (f"from setuptools import build_meta; "
            f"print(build_meta.build_{kind}({str(out_dir)!r}))")
    result = subprocess.run([sys.executable, "-c", code], cwd=source_dir, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return out_dir / result.stdout.strip().splitlines()[-1]


def test_sdist_and_wheel_carry_the_kernels(tmp_path):
    setuptools = pytest.importorskip("setuptools")
    if int(setuptools.__version__.split(".")[0]) < 68:
        pytest.skip(f"setuptools {setuptools.__version__} is older than the build needs (>=68)")
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in TREE:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif path.is_file():
            shutil.copy(path, tree / name)
    if not (tree / "README.md").exists():  # pyproject names it; its text is not under test here
        (tree / "README.md").write_text("bandts\n")

    sdist = build("sdist", tree, tmp_path / "dist")
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        archive.extractall(tmp_path / "unpacked", **safe)
    top = names[0].split("/")[0]
    assert {f"{top}/kernels/{name}" for name in KERNEL_FILES} <= set(names)
    assert f"{top}/kernel_build_hook.py" in names

    wheel = build("wheel", tmp_path / "unpacked" / top, tmp_path / "wheels")
    with zipfile.ZipFile(wheel) as archive:
        assert {f"bandts/_kernels/{name}" for name in KERNEL_FILES} <= set(archive.namelist())
        archive.extractall(tmp_path / "installed")

    # The installed package's locator finds its own copy.
    spec = importlib.util.spec_from_file_location(
        "installed_kernel_sources",
        tmp_path / "installed" / "bandts" / "backends" / "kernel_sources.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.kernel_dir() == tmp_path / "installed" / "bandts" / "_kernels"
    assert module.read_kernel("cmac_tiled.cu") == (ROOT / "kernels" / "cmac_tiled.cu").read_text()
