"""The fused band-limited block against conv -> BatchNorm -> ReLU: values, gradients, running
statistics, gradcheck, and what it saves for backward."""

import copy

import pytest
import torch
from torch import nn

from bandts.functional import Band, conv_bn_relu
from bandts.nn import BandLimitedBlock, BandLimitedConv1d, BandLimitedConv2d, calibrate_cuts
from bandts.nn.memory import record_saved_bytes

BANDS = [Band(), Band(compress_rate=0.5), Band(preserve_energy=0.8),
         Band(preserve_energy=0.8, energy_scope="batch"),
         Band(preserve_energy=0.8, energy_scope="frozen", frozen_cut=0.4)]


def _pair(dims, band, plan, dtype=torch.float32):
    """A fused block and the same layers unfused (independent copies of the parameters)."""
    torch.manual_seed(11)
    conv_kind, bn_kind = ((BandLimitedConv1d, nn.BatchNorm1d) if dims == 1
                          else (BandLimitedConv2d, nn.BatchNorm2d))
    conv = conv_kind.from_conv((nn.Conv1d if dims == 1 else nn.Conv2d)(3, 5, 3, padding=1),
                               band=band, plan=plan)
    bn = bn_kind(5)
    nn.init.uniform_(bn.weight, 0.5, 1.5)
    nn.init.uniform_(bn.bias, -0.3, 0.3)
    unfused = nn.Sequential(conv, bn, nn.ReLU()).to(dtype)
    fused = BandLimitedBlock(copy.deepcopy(conv), copy.deepcopy(bn)).to(dtype)
    return fused, unfused


def _spread(dims, dtype=torch.float32):
    x = torch.randn(4, 3, *([12] * dims), dtype=dtype)
    x[0] *= torch.linspace(0, 1, 12, dtype=dtype)  # samples with different spectra
    return x


@pytest.mark.parametrize("dims", [1, 2])
@pytest.mark.parametrize("band", BANDS)
@pytest.mark.parametrize("plan, slice_bytes", [("cpu", None), ("cpu", 1), ("accelerator", None)])
def test_block_equals_the_unfused_layers(dims, band, plan, slice_bytes, monkeypatch):
    if slice_bytes is not None:  # one sample per slice: P(g) is assembled from slices
        monkeypatch.setattr(conv_bn_relu, "SLICE_BYTES", slice_bytes)
    fused, unfused = _pair(dims, band, plan)
    for training in (True, False):
        fused.train(training)
        unfused.train(training)
        x = _spread(dims).requires_grad_(True)
        x_copy = x.detach().clone().requires_grad_(True)
        out, expected = fused(x), unfused(x_copy)
        torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
        grad = torch.randn_like(out)
        got = torch.autograd.grad(out, [x, *fused.parameters()], grad)
        want = torch.autograd.grad(expected, [x_copy, *unfused.parameters()], grad)
        for a, b in zip(got, want):
            torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        torch.testing.assert_close(getattr(fused.bn, name), getattr(unfused[1], name))
    assert fused.conv.kept_bins == unfused[0].kept_bins


@pytest.mark.parametrize("dims", [1, 2])
@pytest.mark.parametrize("band", [Band(compress_rate=0.5), Band(preserve_energy=0.8)])
def test_block_gradcheck(dims, band):
    fused, _ = _pair(dims, band, "auto", torch.float64)
    x = _spread(dims, torch.float64).requires_grad_(True)
    params = list(fused.parameters())
    assert torch.autograd.gradcheck(
        lambda x, *p: fused(x), (x, *params), nondet_tol=0.0, atol=1e-6)


def test_momentum_none_and_calibration_pass_through_the_block():
    fused, unfused = _pair(1, Band(preserve_energy=0.9, energy_scope="frozen"), "auto")
    fused.bn.momentum = unfused[1].momentum = None
    for _ in range(3):
        x = _spread(1)
        fused(x), unfused(x)
    torch.testing.assert_close(fused.bn.running_var, unfused[1].running_var)
    cuts = calibrate_cuts(fused, [_spread(1)])
    assert list(cuts) == ["conv"] and fused.conv.frozen_cut is not None


def test_block_saves_only_the_kept_spectra_the_mask_bits_and_the_statistics():
    x = torch.randn(16, 32, 270)
    saved = {}
    for name, band in (("full", Band()), ("half", Band(compress_rate=0.5))):
        conv = BandLimitedConv1d.from_conv(nn.Conv1d(32, 64, 5, padding=2), band=band)
        fused = BandLimitedBlock(conv, nn.BatchNorm1d(64))
        with record_saved_bytes(fused) as per_layer:
            fused(x)
        saved[name] = sum(per_layer.values())
    keep_full, keep_half = 145, 72  # L = 288 -> M = 145; c = 0.5 keeps 72
    stats = 2 * 64 * 4
    mask = 16 * 64 * 270 // 8  # the ReLU's mask, a bit per output value
    spectra = 2 * 16 * (32 + 64) * 4  # per kept bin: input and output, (2, N, C) and (2, N, F)
    assert saved["full"] == keep_full * spectra + mask + stats
    assert saved["half"] == keep_half * spectra + mask + stats


def test_double_backward_and_bad_layers_raise_clear_errors():
    fused, _ = _pair(1, Band(compress_rate=0.5), "auto")
    x = _spread(1).requires_grad_(True)
    assert torch.autograd.grad(fused(x).sum(), x)[0].shape == x.shape
    with pytest.raises(RuntimeError, match="double backward"):
        torch.autograd.grad(fused(x).sum(), x, create_graph=True)
    with pytest.raises(TypeError, match="band-limited convolution"):
        BandLimitedBlock(nn.Conv1d(1, 2, 3), nn.BatchNorm1d(2))
    with pytest.raises(TypeError, match="BatchNorm1d"):
        BandLimitedBlock(BandLimitedConv1d(1, 2, 3), nn.BatchNorm1d(3))


def test_compiled_block_in_training_gives_the_eager_values_gradients_and_statistics():
    fused, _ = _pair(1, Band(compress_rate=0.5), "auto")
    twin = copy.deepcopy(fused)
    x = _spread(1)
    eager = fused(x)
    eager_grads = torch.autograd.grad(eager.square().sum(), list(fused.parameters()))
    torch._dynamo.reset()
    out = torch.compile(twin, fullgraph=True)(x)
    grads = torch.autograd.grad(out.square().sum(), list(twin.parameters()))
    torch.testing.assert_close(out, eager, atol=1e-5, rtol=1e-5)
    for a, b in zip(grads, eager_grads):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(twin.bn.running_var, fused.bn.running_var)
