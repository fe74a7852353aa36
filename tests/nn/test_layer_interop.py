"""Both directions of the drop-in (state dicts, unbandlimit), the Band value through the layers
(set_band, band_applied, calibrating) and real-number types of every kind."""

import numpy as np
import pytest
import torch
from torch import nn

from bandts.functional import Band
from bandts.nn import (BandLimitedConv1d, BandLimitedConv2d, band_applied, bandlimit,
                       calibrate_cuts, set_band, unbandlimit)


def test_an_uncalibrated_layer_state_dict_loads_strictly_into_nn_conv():
    layer = BandLimitedConv1d(2, 3, 5, padding=2, compress_rate=0.5)
    conv = nn.Conv1d(2, 3, 5, padding=2)
    assert str(conv.load_state_dict(layer.state_dict(), strict=True)) == \
        "<All keys matched successfully>"
    torch.testing.assert_close(conv.weight, layer.weight)


def test_a_calibrated_cut_travels_as_a_state_dict_entry():
    layer = BandLimitedConv1d(1, 2, 3, padding=1, preserve_energy=0.9, energy_scope="frozen")
    calibrate_cuts(layer, [torch.randn(4, 1, 30)])
    state = layer.state_dict()
    assert set(state) == {"weight", "bias", "frozen_cut"}
    copy = BandLimitedConv1d(1, 2, 3, padding=1, preserve_energy=0.9, energy_scope="frozen")
    copy.load_state_dict(state, strict=True)
    assert copy.band == layer.band and copy.frozen_cut is not None
    # A plain convolution cannot hold the cut: strict loading names the key.
    with pytest.raises(RuntimeError, match="frozen_cut"):
        nn.Conv1d(1, 2, 3, padding=1).load_state_dict(state, strict=True)


def test_unbandlimit_gives_back_plain_layers_sharing_the_parameters():
    model = nn.Sequential(nn.Conv1d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(1, 2, 3))
    convs = [model[0], model[2]]
    bandlimit(model, compress_rate=0.5)
    assert isinstance(model[0], BandLimitedConv1d) and isinstance(model[2], BandLimitedConv2d)
    assert unbandlimit(model) is model
    assert type(model[0]) is nn.Conv1d and type(model[2]) is nn.Conv2d
    for before, after in zip(convs, (model[0], model[2])):
        assert after.weight is before.weight and after.bias is before.bias
    x = torch.randn(2, 1, 12)
    torch.testing.assert_close(model[0](x), convs[0](x))
    assert type(unbandlimit(BandLimitedConv1d(1, 1, 3))) is nn.Conv1d


@pytest.mark.parametrize("rate", [np.float32(0.5), np.float64(0.5), np.array(0.5), 0.5,
                                  torch.tensor(0.5), np.int64(0)])
def test_any_real_number_type_is_a_rate(rate):
    band = Band(compress_rate=rate)
    assert type(band.compress_rate) is float and band.compress_rate == float(rate)
    layer = BandLimitedConv1d(1, 1, 3, compress_rate=rate)
    assert layer.band == band


@pytest.mark.parametrize("bad", [True, np.bool_(True), "0.5", None, np.array([0.5]),
                                 float("nan"), 1.0, -0.25, complex(0.5, 0)])
def test_anything_else_is_refused_naming_the_parameter(bad):
    with pytest.raises(ValueError, match="compress_rate must be a real number in \\[0, 1\\)"):
        Band(compress_rate=bad)


def test_band_applied_restores_every_layer_and_its_frozen_cut():
    model = nn.Sequential(BandLimitedConv1d(1, 2, 3, preserve_energy=0.9, energy_scope="frozen"),
                          BandLimitedConv1d(2, 2, 3, compress_rate=0.25))
    calibrate_cuts(model, [torch.randn(3, 1, 20)])
    before = [m.band for m in model]
    with band_applied(model, Band(preserve_energy=0.9, energy_scope="frozen")):
        assert model[0].band == before[0]  # same energy: the calibrated cut is kept
        assert model[1].band == Band(preserve_energy=0.9, energy_scope="frozen")
    with band_applied(model, Band(compress_rate=0.75)):
        assert all(m.band == Band(compress_rate=0.75) for m in model)
    assert [m.band for m in model] == before
    set_band(model, Band(compress_rate=0.5))
    assert all(m.band == Band(compress_rate=0.5) for m in model)
    with pytest.raises(TypeError, match="Band"):
        model[0].set_band({"compress_rate": 0.5})


def test_calibrating_freezes_the_largest_batch_cut_on_leaving():
    layer = BandLimitedConv1d(1, 1, 3, padding=1, preserve_energy=0.9, energy_scope="frozen")
    t = torch.arange(30.)
    smooth = torch.cos(2 * torch.pi * 2 * t / 30).view(1, 1, 30)
    rough = smooth + torch.cos(2 * torch.pi * 11 * t / 30).view(1, 1, 30)
    with layer.calibrating():
        layer(smooth)
        layer(rough)
        rough_bins = layer.kept_bins
        assert layer.frozen_cut is None
    assert layer.frozen_cut == rough_bins / layer.spectrum_bins
