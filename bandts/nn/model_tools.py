"""Whole-model operations: swap in band-limited layers, change their band, calibrate their cuts."""

import torch
from torch import nn

from bandts.functional.band import check_band
from bandts.nn.conv import BandLimitedConv1d, BandLimitedConv2d, _BandLimitedMixin


def bandlimited_layers(model: nn.Module) -> list:
    """The band-limited layers of ``model`` as (qualified name, layer) pairs, in module order."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, _BandLimitedMixin)]


def bandlimit(model: nn.Module, **band) -> nn.Module:
    """Replace every ``nn.Conv1d`` / ``nn.Conv2d`` of ``model`` in place by a band-limited layer.

    The new layers share the old layers' parameters. A model that is itself a convolution is
    returned converted (it cannot be replaced in place).

    Args:
        model: any module.
        **band: compress_rate, preserve_energy, energy_scope, fft_size, backend.

    Returns:
        The model (the same object unless it was a bare convolution).

    Raises:
        NotImplementedError: a convolution uses dilation or groups; its name is in the message.
    """
    def convert(name, conv):
        kind = BandLimitedConv1d if isinstance(conv, nn.Conv1d) else BandLimitedConv2d
        try:
            return kind.from_conv(conv, **band)
        except NotImplementedError as err:
            raise NotImplementedError(f"cannot band-limit layer {name or '<model>'!r}: {err}") from None

    def is_plain_conv(m):
        return isinstance(m, (nn.Conv1d, nn.Conv2d)) and not isinstance(m, _BandLimitedMixin)

    if is_plain_conv(model):
        return convert("", model)
    for parent_name, parent in list(model.named_modules()):
        for child_name, child in list(parent.named_children()):
            if is_plain_conv(child):
                qualified = f"{parent_name}.{child_name}" if parent_name else child_name
                setattr(parent, child_name, convert(qualified, child))
    return model


def set_band(model: nn.Module, *, compress_rate=None, preserve_energy=None, energy_scope=None) -> None:
    """Set the band of every band-limited layer of ``model``; None leaves a field as it is.

    Changing ``preserve_energy`` forgets calibrated cuts (they were measured for another energy).

    Raises:
        ValueError: the resulting setting is invalid (e.g. a static rate and an energy cut at once).
    """
    for _, layer in bandlimited_layers(model):
        new = (layer.compress_rate if compress_rate is None else compress_rate,
               layer.preserve_energy if preserve_energy is None else preserve_energy,
               layer.energy_scope if energy_scope is None else energy_scope)
        check_band(*new)
        if new[1] != layer.preserve_energy:
            layer.frozen_cut = None
        layer.compress_rate, layer.preserve_energy, layer.energy_scope = new


@torch.no_grad()
def calibrate_cuts(model: nn.Module, batches) -> dict:
    """Measure and freeze each band-limited layer's energy cut on ``batches``.

    Runs every batch forward in eval mode with each layer's energy measured over the whole batch
    ("batch" scope) and sets ``frozen_cut`` to the largest cut seen, so that every batch keeps at
    least ``preserve_energy`` of its power. Layers with a static rate (preserve_energy = 1) are left
    uncalibrated. The model's training mode is restored afterwards.

    Args:
        model: a module with band-limited layers.
        batches: iterable of input tensors (or tuples whose first item is the input).

    Returns:
        {layer name: frozen cut} for the calibrated layers.
    """
    layers = [(n, m) for n, m in bandlimited_layers(model) if m.preserve_energy < 1]
    was_training = model.training
    model.eval()
    for _, layer in layers:
        layer._calibration_max = 0.0
    try:
        seen = 0
        for batch in batches:
            model(batch[0] if isinstance(batch, (tuple, list)) else batch)
            seen += 1
        if seen == 0:
            raise ValueError("calibrate_cuts needs at least one batch")
        for _, layer in layers:
            layer.frozen_cut = layer._calibration_max
    finally:
        for _, layer in layers:
            layer._calibration_max = None
        model.train(was_training)
    return {name: layer.frozen_cut for name, layer in layers}
