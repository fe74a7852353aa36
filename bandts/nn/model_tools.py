"""Whole-model operations: swap band-limited layers in and out, change their band, calibrate
their cuts."""

from contextlib import ExitStack, contextmanager

import torch
from torch import nn

from bandts.functional.band import Band
from bandts.nn.conv import BandLimitedConv1d, BandLimitedConv2d, _BandLimitedMixin


def bandlimited_layers(model: nn.Module) -> list:
    """The band-limited layers of ``model`` as (qualified name, layer) pairs, in module order."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, _BandLimitedMixin)]


def _replace_children(model: nn.Module, matches, convert) -> nn.Module:
    """Replace every submodule for which ``matches`` holds by ``convert(name, module)``, in place;
    a model that matches itself is returned converted."""
    if matches(model):
        return convert("", model)
    for parent_name, parent in list(model.named_modules()):
        for child_name, child in list(parent.named_children()):
            if matches(child):
                qualified = f"{parent_name}.{child_name}" if parent_name else child_name
                setattr(parent, child_name, convert(qualified, child))
    return model


def bandlimit(model: nn.Module, *, compress_rate=0.0, preserve_energy=1.0, energy_scope="sample",
              fft_size="minimal", backend="auto", plan="auto") -> nn.Module:
    """Replace every ``nn.Conv1d`` / ``nn.Conv2d`` of ``model`` in place by a band-limited layer.

    The new layers share the old layers' parameters. A model that is itself a convolution is
    returned converted (it cannot be replaced in place). :func:`unbandlimit` undoes it.

    Args:
        model: any module.
        compress_rate, preserve_energy, energy_scope: the :class:`~bandts.functional.Band`.
        fft_size, backend, plan: as in :class:`BandLimitedConv1d`.

    Returns:
        The model (the same object unless it was a bare convolution).

    Raises:
        NotImplementedError: a convolution uses dilation or groups; its name is in the message.

    Examples:
        >>> model = nn.Sequential(nn.Conv1d(1, 4, 3), nn.ReLU(), nn.Conv1d(4, 2, 3))
        >>> model = bandlimit(model, compress_rate=0.5)
        >>> [type(m).__name__ for m in model]
        ['BandLimitedConv1d', 'ReLU', 'BandLimitedConv1d']
    """
    band = Band(compress_rate, preserve_energy, energy_scope)
    options = dict(band=band, fft_size=fft_size, backend=backend, plan=plan)

    def convert(name, conv):
        kind = BandLimitedConv1d if isinstance(conv, nn.Conv1d) else BandLimitedConv2d
        try:
            return kind.from_conv(conv, **options)
        except NotImplementedError as err:
            raise NotImplementedError(f"cannot band-limit layer {name or '<model>'!r}: {err}") from None

    def is_plain_conv(m):
        return isinstance(m, (nn.Conv1d, nn.Conv2d)) and not isinstance(m, _BandLimitedMixin)

    return _replace_children(model, is_plain_conv, convert)


def unbandlimit(model: nn.Module) -> nn.Module:
    """Replace every band-limited layer of ``model`` in place by the plain ``nn.Conv1d`` /
    ``nn.Conv2d`` it computes at full band, sharing its parameters (for export to tools that
    know only torch's layers). A model that is itself a band-limited layer is returned converted.

    Examples:
        >>> model = bandlimit(nn.Sequential(nn.Conv1d(1, 4, 3)), compress_rate=0.5)
        >>> type(unbandlimit(model)[0]).__name__
        'Conv1d'
    """
    return _replace_children(model, lambda m: isinstance(m, _BandLimitedMixin),
                             lambda _name, layer: layer.to_conv())


def set_band(model: nn.Module, band: Band = None, *, compress_rate=None, preserve_energy=None,
             energy_scope=None) -> None:
    """Set the band of every band-limited layer of ``model``.

    Either a whole :class:`~bandts.functional.Band`, or fields to change in each layer's band
    (None leaves a field as it is). Changing ``preserve_energy`` forgets calibrated cuts (they
    were measured for another energy).

    Raises:
        ValueError: the resulting band is invalid (e.g. a static rate and an energy cut at once).
    """
    for _, layer in bandlimited_layers(model):
        layer.set_band(band if band is not None else layer.band.with_changes(
            compress_rate=compress_rate, preserve_energy=preserve_energy,
            energy_scope=energy_scope))


@contextmanager
def band_applied(model: nn.Module, band: Band):
    """Run ``model`` under ``band`` inside the block; every layer gets its own band back on
    leaving it.

    Each layer takes the band's rate, energy and scope, and keeps its calibrated cut while the
    energy stays the same (unless ``band`` brings a cut of its own).

    Examples:
        >>> model = bandlimit(nn.Sequential(nn.Conv1d(1, 4, 3)), compress_rate=0.5)
        >>> with band_applied(model, Band(compress_rate=0.75)):
        ...     model[0].compress_rate
        0.75
        >>> model[0].compress_rate
        0.5
    """
    layers = [layer for _, layer in bandlimited_layers(model)]
    before = [layer.band for layer in layers]
    try:
        for layer in layers:
            layer.set_band(layer.band.with_changes(
                compress_rate=band.compress_rate, preserve_energy=band.preserve_energy,
                energy_scope=band.energy_scope, frozen_cut=band.frozen_cut))
        yield model
    finally:
        for layer, old in zip(layers, before):
            layer.set_band(old)


@torch.no_grad()
def calibrate_cuts(model: nn.Module, batches) -> dict:
    """Measure and freeze each band-limited layer's energy cut on ``batches``.

    Runs every batch forward in eval mode with each layer's energy measured over the whole batch
    ("batch" scope) and sets the layer's frozen cut to the largest cut seen, so that every batch
    keeps at least ``preserve_energy`` of its power. Layers with a static rate (preserve_energy = 1)
    are left uncalibrated. The model's training mode is restored afterwards.

    Args:
        model: a module with band-limited layers.
        batches: iterable of input tensors (or tuples whose first item is the input).

    Returns:
        {layer name: frozen cut} for the calibrated layers.
    """
    layers = [(n, m) for n, m in bandlimited_layers(model) if m.band.preserve_energy < 1]
    was_training = model.training
    model.eval()
    try:
        with ExitStack() as stack:
            for _, layer in layers:
                stack.enter_context(layer.calibrating())
            seen = 0
            for batch in batches:
                model(batch[0] if isinstance(batch, (tuple, list)) else batch)
                seen += 1
            if seen == 0:
                raise ValueError("calibrate_cuts needs at least one batch")
    finally:
        model.train(was_training)
    return {name: layer.band.frozen_cut for name, layer in layers}
