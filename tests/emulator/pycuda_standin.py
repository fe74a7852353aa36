"""A CPU stand-in for the part of PyCUDA that ``bandts.backends.pycuda_cmac`` uses.

``install(monkeypatch, cache_dir)`` puts fake ``pycuda``, ``pycuda.driver`` and ``pycuda.compiler``
modules into ``sys.modules``. ``SourceModule`` compiles the CUDA source with the host compiler
through the emulation harness (``emulated_kernels.py``) and ``Function.__call__`` runs the kernel
as an emulated grid, so the backend's own code (source loading, ``no_extern_c``, include dirs,
argument packing, grid and block sizes, dtype dispatch, context push/pop, caching) runs for real.
Device memory is host memory: torch CPU tensors stand in for CUDA tensors, their data pointers
are passed to the kernels.

Checks that real PyCUDA / CUDA would make are kept, and one stricter: a context must be current to
compile and to launch (and must be the module's); the ``prepare()`` format must match the C types
the kernel declares, parameter by parameter; grid and block must be within CUDA's limits; a
missing kernel name fails.
"""

from __future__ import annotations

import struct
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

from emulator.emulated_kernels import EmulatedModule, build_library


class Error(Exception):
    """pycuda.driver.Error"""


class LogicError(Error):
    """pycuda.driver.LogicError"""


class LaunchError(Error):
    """pycuda.driver.LaunchError"""


@dataclass
class Launch:
    """One kernel launch as the stand-in saw it."""

    kernel: str
    grid: tuple
    block: tuple
    stream: object
    params: bytes  # the packed parameter buffer


@dataclass
class StandIn:
    """The fake PyCUDA's state: what was compiled and launched, and the context stack."""

    cache_dir: Path
    schedule: str = "concurrent"
    initialized: bool = False
    context_stack: list = field(default_factory=list)
    compiled: list = field(default_factory=list)  # (source, options, include_dirs) per module
    launches: list = field(default_factory=list)
    stream_class: type = type(None)


def install(monkeypatch, cache_dir: Path, *, schedule: str = "concurrent") -> StandIn:
    """Make ``import pycuda.driver`` / ``pycuda.compiler`` give the stand-in; return its state."""
    state = StandIn(Path(cache_dir), schedule)
    driver = _driver_module(state)
    compiler = types.ModuleType("pycuda.compiler")
    compiler.SourceModule = _source_module_class(state)
    package = types.ModuleType("pycuda")
    package.__path__ = []
    package.driver = driver
    package.compiler = compiler
    for name, module in (("pycuda", package), ("pycuda.driver", driver),
                         ("pycuda.compiler", compiler)):
        monkeypatch.setitem(sys.modules, name, module)
    return state


def _driver_module(state: StandIn) -> types.ModuleType:
    driver = types.ModuleType("pycuda.driver")
    driver.Error, driver.LogicError, driver.LaunchError = Error, LogicError, LaunchError

    def init(flags=0):
        state.initialized = True

    class Context:
        def __init__(self, device):
            self.device = device

        def push(self):
            state.context_stack.append(self)

        @staticmethod
        def pop():
            if not state.context_stack:
                raise LogicError("cuCtxPopCurrent failed: invalid device context")
            state.context_stack.pop()

    class Device:
        def __init__(self, ordinal):
            if not state.initialized:
                raise LogicError("cuDeviceGet failed: initialization error (call init() first)")
            if ordinal != 0:
                raise LogicError(f"cuDeviceGet failed: invalid device ordinal {ordinal}")
            self.ordinal = ordinal
            self._primary = Context(self)

        def retain_primary_context(self):
            return self._primary

    class Stream:
        _next_handle = 0x1000

        def __init__(self, flags=0):
            Stream._next_handle += 0x10
            self.handle = Stream._next_handle

    driver.init, driver.Context, driver.Device, driver.Stream = init, Context, Device, Stream
    state.stream_class = Stream
    return driver


def _source_module_class(state: StandIn):
    class Function:
        def __init__(self, module, name):
            self._module, self._name = module, name
            self._format = None

        def prepare(self, arg_types):
            if not isinstance(arg_types, str):
                raise TypeError("the stand-in takes prepare() formats as a string, e.g. 'PPqi'")
            expected = self._module.emulated.struct_format(self._name)
            if arg_types != expected:
                raise LogicError(f"prepare({arg_types!r}) does not match the parameters of "
                                 f"{self._name}, which need {expected!r}")
            self._format = arg_types
            return self

        def prepared_async_call(self, grid, block, stream, *args, shared_size=0):
            if self._format is None:
                raise LogicError(f"{self._name}: prepared_async_call before prepare")
            if not isinstance(block, tuple) or not isinstance(grid, tuple):
                raise TypeError("grid and block must be tuples")
            if stream is not None and not isinstance(stream, state.stream_class):
                raise TypeError(f"stream must be a pycuda.driver.Stream or None, got {stream!r}")
            if not state.context_stack or state.context_stack[-1] is not self._module.context:
                raise LogicError("cuLaunchKernel failed: invalid device context (the module's "
                                 "context is not current)")
            if shared_size:
                raise LaunchError("the stand-in kernels use no dynamic shared memory")
            params = struct.pack(self._format, *args)
            state.launches.append(Launch(self._name, grid, block, stream, params))
            self._module.emulated.launch(self._name, params, grid, block, schedule=state.schedule)

    class SourceModule:
        def __init__(self, source, nvcc="nvcc", options=None, keep=False, no_extern_c=False,
                     arch=None, code=None, cache_dir=None, include_dirs=()):
            if not state.context_stack:
                raise LogicError("cuModuleLoadDataEx failed: invalid device context")
            self.context = state.context_stack[-1]
            if not no_extern_c:  # what PyCUDA does to the source by default
                source = 'extern "C" {\n' + source + "\n}\n"
            library = build_library(source, include_dirs=list(include_dirs),
                                    cache_dir=state.cache_dir)
            self.emulated = EmulatedModule(library, source)
            state.compiled.append((source, options, list(include_dirs)))

        def get_function(self, name):
            if name not in self.emulated.kernels:
                raise LogicError(f"cuModuleGetFunction failed: named symbol not found ({name})")
            return Function(self, name)

    return SourceModule
