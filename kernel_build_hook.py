"""setuptools build step that ships the CUDA kernel sources inside the bandts package.

The repository keeps the kernels in the top-level ``kernels/`` directory; an installed bandts
finds them in ``bandts/_kernels/`` (see ``bandts/backends/kernel_sources.py``). This ``build_py``
copies ``kernels/*.cu`` and ``kernels/*.cuh`` there in every wheel (also one built from the sdist,
which carries ``kernels/`` and this file through ``MANIFEST.in``). An editable install skips the
copy and reads ``kernels/`` from the checkout. Wired up in ``pyproject.toml`` under
``[tool.setuptools.cmdclass]``.
"""

from pathlib import Path

from setuptools.command.build_py import build_py

KERNEL_PATTERNS = ("*.cu", "*.cuh")


class BuildPyWithKernels(build_py):
    """``build_py`` that also copies ``kernels/*.cu``, ``kernels/*.cuh`` to ``bandts/_kernels``."""

    def _kernel_files(self) -> list[Path]:
        source = Path(__file__).resolve().parent / "kernels"
        files = sorted(f for pattern in KERNEL_PATTERNS for f in source.glob(pattern))
        if not files:
            raise FileNotFoundError(
                f"no CUDA kernel sources in {source}; build bandts from the full source tree or "
                "its sdist")
        return files

    def _kernel_target(self) -> Path:
        return Path(self.build_lib) / "bandts" / "_kernels"

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = self._kernel_target()
        self.mkpath(str(target))
        for file in self._kernel_files():
            self.copy_file(str(file), str(target / file.name))

    def get_outputs(self, include_bytecode=True):
        outputs = super().get_outputs(include_bytecode)
        if getattr(self, "editable_mode", False):
            return outputs
        return outputs + [str(self._kernel_target() / f.name) for f in self._kernel_files()]
