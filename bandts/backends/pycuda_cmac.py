"""The ``"pycuda"`` CMAC backend: the CUDA kernels of ``kernels/*.cu`` launched through PyCUDA.

PyCUDA is optional (``pip install 'bandts[cuda]'``); this module imports without it and only
touches PyCUDA when :func:`cmac` is called. Kernels are compiled once per process and device
(PyCUDA also keeps nvcc's output in its on-disk cache) and run in the device's primary context,
the one torch uses, on torch's current stream, directly on the memory of the torch tensors: the
operands' strides are passed to the kernels, so transposed, permuted or conjugated views are
not copied.

Two kernel designs (docs/design.md, "The CMAC"), picked by :func:`choose_design`:

- ``"plane"``: the paper's; one block per (m, n) output pair, threads striding over the
  frequencies, the sum over j in registers. Best when M or N or J is small.
- ``"tiled"``: a shared-memory tiled complex GEMM per frequency. Best when M, N and J are large.
"""

import math
import threading

import torch

from bandts.backends.kernel_sources import kernel_dir, read_kernel

DESIGNS = ("auto", "plane", "tiled")
TILE = 16  # CMAC_TILE in kernels/cmac_common.cuh
PLANE_MAX_THREADS = 256
MAX_GRID_X = 2**31 - 1
MAX_GRID_Y = 65535

_SOURCES = {"plane": "cmac_plane.cu", "tiled": "cmac_tiled.cu"}
# Parameters of every cmac_* kernel, as PyCUDA's prepare() format: the pointers a, b, out; the
# sizes K, M, J, N and the 9 element strides of a, b, out (long long); conj_a, conj_b (int).
ARG_FORMAT = "PPP" + "q" * 13 + "ii"
_DTYPE_SUFFIX = {torch.complex64: "c64", torch.complex128: "c128"}
_INSTALL_HINT = ("install it with `pip install 'bandts[cuda]'` (needs the CUDA toolkit and an "
                 "NVIDIA driver), or use backend='torch' (any device) or backend='auto'")

_lock = threading.Lock()
_contexts = {}  # device index -> PyCUDA primary context
_functions = {}  # (device index, kernel name) -> PyCUDA Function
_side_streams = {}  # device index -> PyCUDA Stream (only for non-default torch streams)


class PyCudaUnavailableError(RuntimeError):
    """backend="pycuda" was asked for where PyCUDA or a CUDA device is missing."""


def choose_design(m: int, n: int, j: int) -> str:
    """The kernel design for an (M, J) x (J, N) product per frequency: "tiled" or "plane".

    A tile is CMAC_TILE x CMAC_TILE; below half a tile in M, N or J most of its threads or its
    shared-memory reuse would be wasted, and the register-only plane kernel is the better fit.
    """
    return "tiled" if min(m, n, j) >= TILE // 2 else "plane"


def launch_geometry(design: str, k: int, m: int, n: int) -> tuple[tuple, tuple]:
    """(grid, block) for a design and an output of shape (K, M, N); both kernels grid-stride."""
    if design == "plane":
        threads = min(PLANE_MAX_THREADS, 32 * math.ceil(k / 32))
        grid = (min(m * n, MAX_GRID_X), min(math.ceil(k / threads), MAX_GRID_Y), 1)
        return grid, (threads, 1, 1)
    if design == "tiled":
        tiles = math.ceil(m / TILE) * math.ceil(n / TILE)
        return (min(tiles, MAX_GRID_X), min(k, MAX_GRID_Y), 1), (TILE, TILE, 1)
    raise ValueError(f"design must be 'plane' or 'tiled', got {design!r}")


def cmac(a: torch.Tensor, b: torch.Tensor, conj_a: bool = False, conj_b: bool = False, *,
         design: str = "auto") -> torch.Tensor:
    """Return ``op(a) @ op(b)`` per frequency, computed by the CUDA kernels.

    Args:
        a: complex64 or complex128 CUDA tensor of shape (K, M, J), any strides.
        b: CUDA tensor of shape (K, J, N), same dtype and device.
        conj_a, conj_b: conjugate that operand.
        design: "auto" (:func:`choose_design`), "plane" or "tiled".

    Returns:
        Tensor of shape (K, M, N) on the operands' device. With the plane design its memory is
        frequency-fastest (strides (1, N*K, K)), which makes the kernel's writes coalesce.

    Raises:
        PyCudaUnavailableError: PyCUDA is not installed or not usable, or there is no CUDA device.
        ValueError: the tensors are not on one CUDA device, or bad shapes or design.
        TypeError: not complex64 / complex128.
        RuntimeError: an operand requires grad while grad mode is on (the kernels do not record
            an autograd graph; the band-limited convolutions call them from their own backward).
    """
    _check_operands(a, b, design)
    if torch.is_grad_enabled() and (a.requires_grad or b.requires_grad):
        raise RuntimeError(
            "the pycuda CMAC is not differentiable: call it under torch.no_grad() or inside an "
            "autograd.Function (as bandts.functional does), or use backend='torch'")
    driver, source_module = _import_pycuda()
    device = _device_index(a, b)
    a, conj_a = _unlazy(a, conj_a)
    b, conj_b = _unlazy(b, conj_b)
    k, m, j = a.shape
    n = b.shape[2]
    chosen = choose_design(m, n, j) if design == "auto" else design
    if chosen == "plane":
        out = torch.empty((m, n, k), dtype=a.dtype, device=a.device).permute(2, 0, 1)
    else:
        out = torch.empty((k, m, n), dtype=a.dtype, device=a.device)
    if out.numel() == 0:
        return out
    if j == 0:
        return out.zero_()

    grid, block = launch_geometry(chosen, k, m, n)
    args = (a.data_ptr(), b.data_ptr(), out.data_ptr(), k, m, j, n, *a.stride(), *b.stride(),
            *out.stride(), int(conj_a), int(conj_b))
    context = _context(driver, device)
    context.push()
    try:
        function = _function(source_module, device, chosen, a.dtype)
        _launch_on_torch_stream(
            driver, device,
            lambda stream: function.prepared_async_call(grid, block, stream, *args), (a, b, out))
    finally:
        driver.Context.pop()
    return out


def _check_operands(a: torch.Tensor, b: torch.Tensor, design: str) -> None:
    if design not in DESIGNS:
        raise ValueError(f"design must be one of {DESIGNS}, got {design!r}")
    if a.dim() != 3 or b.dim() != 3 or a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise ValueError(f"cmac needs a (K, M, J) and b (K, J, N); got {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")
    if a.dtype != b.dtype or a.dtype not in _DTYPE_SUFFIX:
        raise TypeError("the pycuda backend needs two tensors of one dtype, complex64 or "
                        f"complex128; got {a.dtype} and {b.dtype}")


def _import_pycuda():
    """(pycuda.driver, pycuda.compiler.SourceModule), or a PyCudaUnavailableError saying why."""
    try:
        import pycuda  # noqa: F401
    except ImportError as error:
        raise PyCudaUnavailableError(
            f"backend='pycuda' needs PyCUDA, which is not installed; {_INSTALL_HINT}") from error
    try:
        import pycuda.driver as driver
        from pycuda.compiler import SourceModule
    except ImportError as error:
        raise PyCudaUnavailableError(
            f"PyCUDA is installed but cannot load the CUDA driver ({error}); check the NVIDIA "
            f"driver, or {_INSTALL_HINT}") from error
    return driver, SourceModule


def _device_index(a: torch.Tensor, b: torch.Tensor) -> int:
    """The CUDA device index both operands live on."""
    if not torch.cuda.is_available():
        raise PyCudaUnavailableError(
            "backend='pycuda' needs a CUDA device, but torch sees none "
            "(torch.cuda.is_available() is False: no GPU, no NVIDIA driver, or a CPU-only torch "
            "build); use backend='torch' or backend='auto'")
    if a.device.type != "cuda" or b.device != a.device:
        raise ValueError(
            f"backend='pycuda' needs both operands on one CUDA device; got {a.device} and "
            f"{b.device}; move them with .to('cuda') or use backend='torch' or backend='auto'")
    return a.device.index if a.device.index is not None else torch.cuda.current_device()


def _unlazy(t: torch.Tensor, conj: bool) -> tuple[torch.Tensor, bool]:
    """Fold a lazy conjugate view into the kernel's conj flag (no copy); resolve a negative view."""
    if t.is_conj():
        t, conj = t.conj(), not conj
    if t.is_neg():
        t = t.resolve_neg()
    return t, conj


def _context(driver, device: int):
    """The device's primary context (shared with torch), created once."""
    with _lock:
        if device not in _contexts:
            try:
                driver.init()
                _contexts[device] = driver.Device(device).retain_primary_context()
            except driver.Error as error:
                raise PyCudaUnavailableError(
                    f"PyCUDA cannot open CUDA device {device}: {error}") from error
        return _contexts[device]


def _function(source_module, device: int, design: str, dtype: torch.dtype):
    """The compiled kernel for a design and dtype on a device; compiles its source on first use.

    Must be called with the device's context current.
    """
    with _lock:
        key = (device, design)
        if key not in _functions:
            module = source_module(read_kernel(_SOURCES[design]), no_extern_c=True,
                                   include_dirs=[str(kernel_dir())])
            _functions[key] = {
                suffix: module.get_function(f"cmac_{design}_{suffix}").prepare(ARG_FORMAT)
                for suffix in _DTYPE_SUFFIX.values()}
        return _functions[key][_DTYPE_SUFFIX[dtype]]


def _current_stream_handle(device: int) -> int:
    return torch.cuda.current_stream(device).cuda_stream


def _launch_on_torch_stream(driver, device: int, launch, tensors) -> None:
    """Run ``launch(stream)`` ordered with the work torch queued on its current stream."""
    if _current_stream_handle(device) == 0:
        launch(None)  # torch's default stream is the legacy NULL stream, PyCUDA's stream=None
        return
    # PyCUDA launches only on streams it created itself, so a non-default torch stream is
    # joined through a PyCUDA stream that waits for it and that it waits for in turn.
    with _lock:
        if device not in _side_streams:
            _side_streams[device] = driver.Stream()
        side = _side_streams[device]
    torch_side = torch.cuda.ExternalStream(side.handle, device=device)
    current = torch.cuda.current_stream(device)
    torch_side.wait_stream(current)
    launch(side)
    current.wait_stream(torch_side)
    for tensor in tensors:
        tensor.record_stream(torch_side)
