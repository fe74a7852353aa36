"""BandLimitedConv1d/2d as drop-in replacements of nn.Conv1d/Conv2d, and the model tools."""

import pytest
import torch
from torch import nn

from bandts.nn import (BandLimitedConv1d, BandLimitedConv2d, bandlimit, bandlimited_layers,
                       calibrate_cuts, set_band)


@pytest.mark.parametrize("kind,base,shape", [
    (BandLimitedConv1d, nn.Conv1d, (4, 3, 25)), (BandLimitedConv2d, nn.Conv2d, (4, 3, 9, 11))])
@pytest.mark.parametrize("kwargs", [
    dict(), dict(stride=2, padding=1), dict(padding="same"), dict(bias=False),
    dict(padding=2, padding_mode="reflect"), dict(padding=1, padding_mode="circular"),
])
def test_same_parameters_and_outputs_as_torch(kind, base, shape, kwargs):
    torch.manual_seed(0)
    ours = kind(3, 5, 3, **kwargs)
    torch.manual_seed(0)
    theirs = base(3, 5, 3, **kwargs)
    # Same initialisation from the same seed, same parameter names and shapes.
    assert [(n, p.shape) for n, p in ours.named_parameters()] == [(n, p.shape) for n, p in theirs.named_parameters()]
    for a, b in zip(ours.parameters(), theirs.parameters()):
        torch.testing.assert_close(a, b)
    x = torch.randn(shape)
    torch.testing.assert_close(ours(x), theirs(x), atol=1e-4, rtol=1e-4)


def test_loads_a_plain_conv_state_dict_and_reports_its_band():
    conv = nn.Conv1d(2, 3, 5, padding=2)
    layer = BandLimitedConv1d(2, 3, 5, padding=2, compress_rate=0.5)
    assert str(layer.load_state_dict(conv.state_dict())) == "<All keys matched successfully>"
    assert "compress_rate=0.5" in repr(layer) and "energy_scope='sample'" in repr(layer)
    assert layer.kept_bins is None
    layer(torch.randn(2, 2, 36))  # padded 40 -> 5-smooth 40, M = 21 -> keep 21 - 11 = 10
    assert (layer.kept_bins, layer.spectrum_bins) == (10, 21)


def test_from_conv_shares_parameters_and_matches():
    conv = nn.Conv2d(2, 3, 3, padding=1)
    layer = BandLimitedConv2d.from_conv(conv)
    assert layer.weight is conv.weight and layer.bias is conv.bias
    x = torch.randn(2, 2, 10, 10)
    torch.testing.assert_close(layer(x), conv(x), atol=1e-5, rtol=1e-5)
    with pytest.raises(TypeError, match="nn.Conv1d"):
        BandLimitedConv1d.from_conv(conv)


def test_unsupported_dilation_and_groups_raise():
    with pytest.raises(NotImplementedError, match="dilation"):
        BandLimitedConv1d(2, 2, 3, dilation=2)
    with pytest.raises(NotImplementedError, match="groups"):
        BandLimitedConv2d(2, 2, 3, groups=2)
    model = nn.Sequential(nn.Conv1d(2, 2, 3), nn.Sequential(nn.Conv1d(2, 2, 3, dilation=2)))
    with pytest.raises(NotImplementedError, match="'1.0'"):
        bandlimit(model)


def test_bandlimit_swaps_every_conv_of_a_model():
    model = nn.Sequential(nn.Conv1d(1, 4, 3, padding=1), nn.ReLU(),
                          nn.Sequential(nn.Conv1d(4, 4, 3, padding=1), nn.BatchNorm1d(4)))
    x = torch.randn(3, 1, 20)
    expected = model.eval()(x)
    assert bandlimit(model, compress_rate=0.0) is model
    assert [name for name, _ in bandlimited_layers(model)] == ["0", "2.0"]
    torch.testing.assert_close(model(x), expected, atol=1e-5, rtol=1e-5)
    set_band(model, compress_rate=0.75)
    assert all(layer.compress_rate == 0.75 for _, layer in bandlimited_layers(model))
    assert not torch.allclose(model(x), expected, atol=1e-3)
    with pytest.raises(ValueError, match="not both"):
        set_band(model, preserve_energy=0.9)
    assert isinstance(bandlimit(nn.Conv2d(1, 1, 3)), BandLimitedConv2d)


def test_calibrate_cuts_freezes_the_largest_batch_cut():
    model = nn.Sequential(BandLimitedConv1d(1, 2, 3, padding=1, preserve_energy=0.9, energy_scope="frozen"))
    t = torch.arange(30.)
    smooth = torch.cos(2 * torch.pi * 2 * t / 30)[None, None]
    rough = (smooth + torch.cos(2 * torch.pi * 11 * t / 30))[None]
    layer = model[0]
    layer(smooth)
    smooth_bins = layer.kept_bins
    layer(rough.view(1, 1, 30))
    rough_bins = layer.kept_bins
    assert smooth_bins < rough_bins
    cuts = calibrate_cuts(model, [smooth, rough.view(1, 1, 30)])
    assert cuts == {"0": rough_bins / layer.spectrum_bins}
    assert model.training  # mode restored
    layer(smooth)
    assert layer.kept_bins == rough_bins  # frozen: no longer measured per call
    # The cut travels with the state dict.
    copy = nn.Sequential(BandLimitedConv1d(1, 2, 3, padding=1, preserve_energy=0.9, energy_scope="frozen"))
    copy.load_state_dict(model.state_dict())
    assert copy[0].frozen_cut == layer.frozen_cut
    set_band(model, preserve_energy=0.8)
    assert layer.frozen_cut is None


def test_layer_trains_a_step_like_torch():
    torch.manual_seed(1)
    conv = nn.Conv1d(2, 3, 4, padding="same")
    layer = BandLimitedConv1d(2, 3, 4, padding="same")
    layer.load_state_dict(conv.state_dict())
    x = torch.randn(4, 2, 17)
    for module in (conv, layer):
        module(x).square().mean().backward()
    torch.testing.assert_close(layer.weight.grad, conv.weight.grad, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(layer.bias.grad, conv.bias.grad, atol=1e-5, rtol=1e-4)
