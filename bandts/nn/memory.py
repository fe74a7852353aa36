"""Measuring the bytes a training step saves for backward, per layer.

Autograd keeps the tensors an operation saves for backward alive from the forward until the
backward; band-limiting shrinks exactly these (docs/design.md, "The 1D convolution": only the compressed input
spectrum and the spatial weight). ``torch.autograd.graph.saved_tensors_hooks`` sees every such
tensor as it is saved; forward hooks tell which layer was running.
"""

from contextlib import contextmanager

import torch
from torch import nn


def _storage_key(tensor: torch.Tensor):
    return tensor.device, tensor.untyped_storage().data_ptr()


@contextmanager
def record_saved_bytes(model: nn.Module):
    """Context manager: run one forward of ``model`` inside it; yields a dict filled with
    {layer name: bytes saved for backward} for every leaf module that saved something.

    Counted are the storages kept alive (a saved view counts its whole storage, as that is what
    stays in memory), each storage once, for the innermost running module that saved it first (a
    layer, or a fused block such as :class:`bandts.nn.BandLimitedBlock`). Parameters are
    excluded: they are held whether or not a backward follows. Tensors saved by the model's own
    forward (e.g. the pooling) are counted under the model's class name.
    """
    parameter_storages = {_storage_key(p) for p in model.parameters()}
    seen = set(parameter_storages)
    running: list[str] = []
    saved: dict[str, int] = {}
    outside = type(model).__name__

    def pack(tensor):
        key = _storage_key(tensor)
        if key not in seen:
            seen.add(key)
            name = running[-1] if running else outside
            saved[name] = saved.get(name, 0) + tensor.untyped_storage().nbytes()
        return tensor

    def enter(name):
        def hook(_module, _args):
            running.append(name)
        return hook

    def leave(_module, _args, _output):
        running.pop()

    handles = []
    for name, module in model.named_modules():
        if name:
            handles.append(module.register_forward_pre_hook(enter(name)))
            handles.append(module.register_forward_hook(leave))
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            yield saved
    finally:
        for handle in handles:
            handle.remove()
