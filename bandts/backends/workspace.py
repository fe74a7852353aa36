"""Scratch tensors kept from one call to the next, per thread.

A band-limited convolution runs through large temporaries (chunks of the filter spectrum, realified
CMAC operands, spectra of its whole batch): several MB each, used within one forward or backward
and dropped. The C allocator hands memory of that size back to the operating system when it is
freed, so each call would fault it in again page by page (a visible part of a layer's time on a
small CPU). A named slot keeps one buffer, grown to the largest request, for the next call.

Only CPU buffers from :data:`KEEP_MIN_BYTES` to :data:`KEEP_MAX_BYTES` are kept (CUDA memory has
PyTorch's caching allocator): smaller ones are allocated afresh at no measurable cost, and are
not held (benchmarks/bench_workspace.py compares the policies per layer). Every kept byte counts
in the memory a user pays for (:func:`kept_bytes`; benchmarks/bench_memory.py adds it to the
peak). A slot is lent for the body of a ``with`` block; a request for a slot already lent out (a
nested call) gets a fresh tensor instead, so lending is always safe. Never return a lent tensor or save it for backward:
the next call overwrites it. :func:`release` frees this thread's buffers.
"""

import math
import threading
from contextlib import contextmanager

import torch

# Smaller requests get a fresh tensor each time: the allocator reuses freed memory of that size
# without faulting it in again (bench_workspace.py: no gain from keeping them).
KEEP_MIN_BYTES = 8 * 2**20
# Larger requests get a fresh tensor each time: at that size the allocation is a small part of
# the work that fills it, and the memory held between calls stays bounded.
KEEP_MAX_BYTES = 64 * 2**20

_local = threading.local()


def _slots() -> dict:
    if not hasattr(_local, "slots"):
        _local.slots = {}
    return _local.slots


@contextmanager
def scratch(slot: str, shape: tuple, like: torch.Tensor):
    """Lend an uninitialised tensor of ``shape`` with the dtype and device of ``like``.

    Args:
        slot: name of the buffer; one name per temporary that can be alive at the same time.
        shape: shape of the tensor lent.
        like: tensor whose dtype and device the buffer takes.

    Yields:
        A contiguous tensor of ``shape``, a view of the slot's buffer (CPU) or a fresh tensor.
    """
    slots = _slots()
    key = (slot, like.dtype)
    numel = math.prod(shape)
    if (like.device.type != "cpu" or slots.get(key, (None, False))[1]
            or not KEEP_MIN_BYTES <= numel * like.element_size() <= KEEP_MAX_BYTES):
        yield like.new_empty(shape)
        return
    buffer, _ = slots.get(key, (None, False))
    if buffer is None or buffer.numel() < numel:
        with torch.inference_mode(False):  # an inference tensor could not be written outside it
            buffer = torch.empty(numel, dtype=like.dtype)
    slots[key] = (buffer, True)
    try:
        yield buffer[:numel].view(shape)
    finally:
        slots[key] = (buffer, False)


def release() -> None:
    """Free the scratch buffers of the calling thread (they are rebuilt on demand)."""
    _slots().clear()


def kept_bytes() -> int:
    """Bytes of scratch buffers the calling thread keeps."""
    return sum(buffer.numel() * buffer.element_size() for buffer, _ in _slots().values())
