"""The band-limited convolutions where PyTorch goes: torch.compile, double backward,
torch.export, TorchScript (a clear error), the empty batch."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from bandts.functional import Band, bandlimited_conv1d, bandlimited_conv2d
from bandts.models import FCN
from bandts.nn import BandLimitedConv1d, BandLimitedConv2d

BANDS = [dict(), dict(compress_rate=0.5), dict(preserve_energy=0.8, energy_scope="sample"),
         dict(preserve_energy=0.8, energy_scope="batch"),
         dict(preserve_energy=0.8, energy_scope="frozen", frozen_cut=0.4)]


def _spread_batch(*shape):
    """float64 samples with different spectra (so per-sample cuts differ)."""
    x = torch.randn(*shape, dtype=torch.float64)
    x[0] *= torch.linspace(0, 1, shape[-1], dtype=torch.float64)
    return x.requires_grad_(True)


@pytest.mark.parametrize("band", BANDS)
def test_gradgradcheck_1d(band, plan):
    torch.manual_seed(5)
    x = _spread_batch(2, 2, 9)
    w = torch.randn(3, 2, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(
        lambda x, w, b: bandlimited_conv1d(x, w, b, stride=2, padding=1, plan=plan, **band),
        (x, w, b))


@pytest.mark.parametrize("band", BANDS)
def test_gradgradcheck_2d(band, plan):
    torch.manual_seed(6)
    x = _spread_batch(2, 1, 5, 6)
    w = torch.randn(2, 1, 3, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(
        lambda x, w, b: bandlimited_conv2d(x, w, b, padding=1, plan=plan, **band), (x, w, b))


def test_gradient_penalty_matches_torch_at_full_band():
    # create_graph=True, then a gradient of the gradient norm: what WGAN-GP style training does.
    torch.manual_seed(7)
    x = torch.randn(3, 2, 16, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 2, 5, dtype=torch.float64, requires_grad=True)
    penalties = []
    for conv in (lambda x: bandlimited_conv1d(x, w, padding=2), lambda x: F.conv1d(x, w, padding=2)):
        (grad_x,) = torch.autograd.grad(conv(x).square().sum(), x, create_graph=True)
        penalties.append(torch.autograd.grad(grad_x.square().sum(), w))
    torch.testing.assert_close(penalties[0], penalties[1])


def _two_layers(kind, **band):
    conv = BandLimitedConv1d if kind == 1 else BandLimitedConv2d
    return nn.Sequential(conv(3, 8, 5, padding=2, **band), nn.ReLU(), conv(8, 4, 3, padding=1, **band))


@pytest.mark.parametrize("dims", [1, 2])
@pytest.mark.parametrize("band", [dict(compress_rate=0.5), dict(preserve_energy=0.9),
                                  dict(preserve_energy=0.9, energy_scope="batch")])
def test_compiled_model_gives_the_eager_values_and_gradients(dims, band):
    torch.manual_seed(8)
    model = _two_layers(dims, **band)
    x = torch.randn(4, 3, *([24] * dims))
    eager = model(x)
    eager_grads = torch.autograd.grad(eager.square().sum(), list(model.parameters()))
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True)  # fullgraph: any graph break is an error
    out = compiled(x)
    grads = torch.autograd.grad(out.square().sum(), list(model.parameters()))
    torch.testing.assert_close(out, eager, atol=1e-5, rtol=1e-5)
    for a, b in zip(grads, eager_grads):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("band", [(0.5, 1.0, "sample", None), (0.0, 0.9, "sample", None),
                                  (0.0, 0.9, "frozen", 0.5)])
@pytest.mark.parametrize("plan", ["cpu", "accelerator"])
def test_operators_pass_opcheck(band, plan):
    # opcheck compares the fake implementations (shapes, strides, dtypes) with the real ones and
    # checks the registrations that torch.compile and torch.export rely on.
    x = torch.randn(3, 2, 30, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 2, 5, dtype=torch.float64, requires_grad=True)
    b = torch.randn(4, dtype=torch.float64, requires_grad=True)
    torch.library.opcheck(torch.ops.bandts.conv1d.default,
                          (x, w, b, [2, 2, 1, 36], *band, "torch", plan))
    image, kernel = torch.randn(2, 2, 7, 8, dtype=torch.float64, requires_grad=True), \
        torch.randn(3, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    torch.library.opcheck(torch.ops.bandts.conv2d.default,
                          (image, kernel, None, [1, 1, 1, 9, 1, 1, 1, 10], *band, "torch", plan))


@pytest.mark.parametrize("band", [Band(compress_rate=0.5), Band(preserve_energy=0.9,
                                                                 energy_scope="frozen",
                                                                 frozen_cut=0.3)])
def test_export_of_an_inference_model_runs_the_same_numbers(band):
    torch.manual_seed(9)
    model = FCN(2, 3, filters=(4, 6, 4), band=band).eval()
    x = torch.randn(5, 2, 40)
    program = torch.export.export(model, (x,))
    assert any("bandts.conv_bn_relu" in str(node.target) for node in program.graph.nodes)
    torch.testing.assert_close(program.module()(x), model(x))


def test_torchscript_raises_a_clear_error():
    model = _two_layers(1, compress_rate=0.5)
    with pytest.raises(RuntimeError, match="torch.export"):
        torch.jit.script(model)
    with pytest.raises(RuntimeError, match="torch.export"):
        torch.jit.trace(model, (torch.randn(2, 3, 20),))


def test_an_empty_batch_gives_an_empty_output_like_torch():
    x, w, b = torch.randn(0, 3, 20, requires_grad=True), torch.randn(4, 3, 5), torch.randn(4)
    out = bandlimited_conv1d(x, w, b, padding=2, compress_rate=0.5)
    assert out.shape == F.conv1d(x, w, b, padding=2).shape == (0, 4, 20)
    out.sum().backward()
    assert x.grad.shape == x.shape
    image = torch.randn(0, 3, 8, 9)
    assert bandlimited_conv2d(image, torch.randn(2, 3, 3, 3), stride=2).shape == (0, 2, 3, 4)
