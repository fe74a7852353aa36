"""bandts.models.FCN: architecture, "same" padding and fft/direct equivalence at full band."""

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from bandts.functional import Band
from bandts.models import FCN, conv_block
from bandts.nn import BandLimitedConv1d, BandLimitedConv2d, bandlimited_layers, set_band


@pytest.fixture(autouse=True)
def _one_thread():
    # Tiny tensors: thread hand-offs cost more than they save on a shared 2-core machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_paper_architecture():
    model = FCN(3, 5, conv="direct")
    convs = [m for m in model.modules() if isinstance(m, nn.Conv1d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size[0]) for c in convs] == [
        (3, 128, 8), (128, 256, 5), (256, 128, 3)]
    assert len([m for m in model.modules() if isinstance(m, nn.BatchNorm1d)]) == 3
    assert len([m for m in model.modules() if isinstance(m, nn.ReLU)]) == 3
    assert (model.head.in_features, model.head.out_features) == (128, 5)
    fft = FCN(3, 5, conv="fft", band=Band(compress_rate=0.5), fft_size="pow2")
    layers = bandlimited_layers(fft)
    assert [name for name, _ in layers] == ["blocks.0.conv", "blocks.1.conv", "blocks.2.conv"]
    assert all(isinstance(layer, BandLimitedConv1d) and layer.compress_rate == 0.5
               and layer.fft_size == "pow2" for _, layer in layers)
    assert all(isinstance(layer, BandLimitedConv2d)
               for _, layer in bandlimited_layers(FCN(1, 2, spatial_dims=2)))


@pytest.mark.parametrize("kernel_size", [8, 5])
@pytest.mark.parametrize("length", [1, 2, 37])
def test_fft_block_reproduces_torch_same_padding(kernel_size, length):
    torch.manual_seed(1)
    block = conv_block(2, 4, kernel_size, spatial_dims=1, conv="fft")
    x = torch.randn(3, 2, length, dtype=torch.float64)
    block.double()
    # Independent reference: torch's "same" puts (k-1)//2 zeros left and the rest right.
    left = (kernel_size - 1) // 2
    padded = F.pad(x, (left, kernel_size - 1 - left))
    expected = F.conv1d(padded, block.conv.weight, block.conv.bias)
    assert torch.allclose(block.conv(x), expected, atol=1e-10)
    assert block(x).shape == (3, 4, length)


@pytest.mark.parametrize("spatial_dims,shape", [(1, (4, 2, 45)), (2, (2, 2, 11, 14))])
def test_fft_at_full_band_equals_direct_for_the_same_seed(spatial_dims, shape):
    torch.manual_seed(3)
    direct = FCN(2, 3, spatial_dims=spatial_dims, conv="direct", filters=(6, 8, 6)).double()
    torch.manual_seed(3)
    fft = FCN(2, 3, spatial_dims=spatial_dims, conv="fft", filters=(6, 8, 6)).double()
    for a, b in zip(direct.parameters(), fft.parameters()):
        assert torch.equal(a, b)
    x = torch.randn(*shape, dtype=torch.float64)
    out_direct, out_fft = direct(x), fft(x)
    assert out_direct.shape == (shape[0], 3)
    assert torch.allclose(out_fft, out_direct, atol=1e-9)
    out_direct.sum().backward()
    out_fft.sum().backward()
    for (name, a), b in zip(direct.named_parameters(), fft.parameters()):
        assert torch.allclose(a.grad, b.grad, atol=1e-8), name


def test_band_limiting_changes_the_output_and_keeps_fewer_bins():
    torch.manual_seed(0)
    model = FCN(1, 2, filters=(4, 4, 4)).eval()
    x = torch.randn(2, 1, 64)
    full = model(x)
    full_bins = {name: layer.kept_bins for name, layer in bandlimited_layers(model)}
    assert full_bins == {name: layer.spectrum_bins for name, layer in bandlimited_layers(model)}
    set_band(model, compress_rate=0.75)
    limited = model(x)
    for name, layer in bandlimited_layers(model):
        assert layer.kept_bins == layer.spectrum_bins - (layer.spectrum_bins * 3 // 4 + 1)
    assert not torch.allclose(full, limited, atol=1e-4)


def test_the_network_accepts_other_lengths_and_rejects_wrong_rank():
    model = FCN(1, 2, filters=(4, 4, 4)).eval()
    assert model(torch.randn(1, 1, 10)).shape == model(torch.randn(1, 1, 100)).shape == (1, 2)
    with pytest.raises(ValueError, match="3D input"):
        model(torch.randn(4, 10))


@pytest.mark.parametrize("kwargs,match", [
    ({"conv": "winograd"}, "conv must be one of"),
    ({"spatial_dims": 3}, "spatial_dims"),
    ({"filters": (4, 4), "kernel_sizes": (3, 3, 3)}, "equal length"),
    ({"filters": (4, 0, 4)}, "positive integers"),
])
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FCN(1, 2, **kwargs)


@pytest.mark.parametrize("low_memory,band", [(True, Band(compress_rate=0.5)),
                                             (False, Band(compress_rate=0.5)),
                                             (True, Band(preserve_energy=0.95))])
def test_compiled_fcn_trains_like_the_eager_one(low_memory, band):
    import copy

    torch.manual_seed(12)
    model = FCN(1, 5, filters=(4, 6, 4), band=band, low_memory=low_memory)
    twin = copy.deepcopy(model)
    torch._dynamo.reset()
    x, y = torch.randn(8, 1, 64), torch.randint(0, 5, (8,))
    # an energy cut's kept bins depend on the data: one graph needs this flag (README)
    with torch._dynamo.config.patch(capture_dynamic_output_shape_ops=True):
        compiled = torch.compile(twin, fullgraph=True)
        F.cross_entropy(compiled(x), y).backward()
        compiled_eval = compiled.eval()(x)
    F.cross_entropy(model(x), y).backward()
    for a, b in zip(model.parameters(), twin.parameters()):
        torch.testing.assert_close(b.grad, a.grad, atol=1e-5, rtol=1e-4)
    for a, b in zip(model.buffers(), twin.buffers()):
        torch.testing.assert_close(b, a)
    torch.testing.assert_close(compiled_eval, model.eval()(x), atol=1e-5, rtol=1e-5)
