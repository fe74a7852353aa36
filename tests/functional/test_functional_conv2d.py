"""bandlimited_conv2d against torch's conv2d, gradcheck and a direct reference."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bandts.functional import bandlimited_conv2d, transforms
from bandts.functional.geometry import next_5_smooth
from reference import bandlimited_conv2d_reference

# (N, C, F, H, W, kernel, stride, padding): non-square, odd/even, kernel larger than input, strides.
SHAPES = [
    (2, 3, 4, 8, 8, (3, 3), 1, 1), (1, 1, 1, 7, 12, (3, 5), 1, 0), (2, 2, 3, 9, 6, (4, 2), (2, 1), (2, 0)),
    (3, 2, 2, 5, 5, (7, 7), 1, 3), (1, 4, 5, 16, 11, (3, 3), 3, "valid"), (2, 3, 2, 10, 13, (4, 3), 1, "same"),
    (1, 2, 3, 32, 32, (3, 3), 2, 1),
]


@pytest.fixture(params=["gemm", "fft"])
def column_method(request, monkeypatch):
    """Column transforms by the DFT GEMM or by torch.fft (both paths of the layer)."""
    monkeypatch.setattr(transforms, "GEMM_BINS_PER_LOG2", math.inf if request.param == "gemm" else 0.0)
    return request.param


@pytest.mark.parametrize("shape", SHAPES)
def test_full_band_equals_torch_conv2d(shape, column_method, plan):
    n, c, f, h, w, kernel, stride, padding = shape
    x = torch.randn(n, c, h, w, requires_grad=True)
    weight = torch.randn(f, c, *kernel, requires_grad=True)
    bias = torch.randn(f, requires_grad=True)
    ours = bandlimited_conv2d(x, weight, bias, stride, padding, plan=plan)
    theirs = F.conv2d(x, weight, bias, stride, padding)
    assert ours.shape == theirs.shape
    torch.testing.assert_close(ours, theirs, atol=2e-4, rtol=1e-4)
    grad = torch.randn_like(theirs)
    for a, b in zip(torch.autograd.grad(ours, (x, weight, bias), grad),
                    torch.autograd.grad(theirs, (x, weight, bias), grad)):
        torch.testing.assert_close(a, b, atol=5e-4, rtol=1e-4)


@pytest.mark.parametrize("rate", [0.3, 0.5, 0.75])
@pytest.mark.parametrize("size,padding", [((8, 8), (1, 1)), ((6, 9), (0, 2))])
def test_static_rate_against_direct_reference(rate, size, padding, column_method, plan):
    rng = np.random.default_rng(2)
    x, w = rng.normal(size=(2, 2, *size)), rng.normal(size=(2, 2, 3, 3))
    fft_shape = tuple(next_5_smooth(s + 2 * p) for s, p in zip(size, padding))
    halves = [s // 2 + 1 for s in fft_shape]
    n_levels = max(halves)
    level = max(1, math.floor(n_levels * math.sqrt(1 - rate)))
    keep_rows, keep_cols = (max(1, math.ceil(level * h / n_levels)) for h in halves)
    out, report = bandlimited_conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=padding,
                                            compress_rate=rate, return_report=True, plan=plan)
    rows_kept = min(fft_shape[0], 2 * keep_rows - 1)
    assert report.kept_bins == rows_kept * keep_cols
    pads = tuple((p, p) for p in padding)
    expected = bandlimited_conv2d_reference(x, w, pads, fft_shape, keep_rows, keep_cols)
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-10)


def test_square_lead_compression_matches_the_design():
    # 32x32 input, 3x3 kernel, padding 1: FFT 34 x 34 is not 5-smooth -> 36; Wh = 19.
    x, w = torch.randn(1, 1, 32, 32), torch.randn(1, 1, 3, 3)
    for rate in (0.0, 0.5, 0.75):
        _, report = bandlimited_conv2d(x, w, padding=1, compress_rate=rate, return_report=True)
        idx = math.floor(19 * math.sqrt(1 - rate))
        assert report.kept_bins == min(36, 2 * idx - 1) * idx


@pytest.mark.parametrize("band", [
    dict(compress_rate=0.5), dict(preserve_energy=0.7, energy_scope="sample"),
    dict(preserve_energy=0.7, energy_scope="batch"),
    dict(preserve_energy=0.7, energy_scope="frozen", frozen_cut=0.5),
])
def test_gradcheck_with_compression(band, column_method, plan):
    torch.manual_seed(4)
    x = torch.randn(2, 2, 6, 7, dtype=torch.float64)
    x[0] *= torch.linspace(0, 1, 7, dtype=torch.float64)
    x.requires_grad_(True)
    w = torch.randn(2, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, w, b: bandlimited_conv2d(x, w, b, stride=(1, 2), padding=1, **band, plan=plan), (x, w, b))


def test_sample_scope_is_independent_of_the_batch(plan):
    yy, xx = torch.meshgrid(torch.arange(12.), torch.arange(12.), indexing="ij")
    smooth = torch.cos(2 * torch.pi * xx / 12)
    rough = smooth + torch.cos(2 * torch.pi * 5 * (xx + yy) / 12)
    x = torch.stack([smooth, rough])[:, None].double()
    w = torch.randn(2, 1, 3, 3, dtype=torch.float64)
    together, report = bandlimited_conv2d(x, w, padding=1, preserve_energy=0.9, return_report=True, plan=plan)
    alone, report_alone = bandlimited_conv2d(x[:1], w, padding=1, preserve_energy=0.9, return_report=True, plan=plan)
    assert report_alone.kept_bins < report.kept_bins
    torch.testing.assert_close(together[:1], alone)


@pytest.mark.parametrize("call,match", [
    (lambda x, w: bandlimited_conv2d(x[0, 0], w), "input must have shape"),
    (lambda x, w: bandlimited_conv2d(x, w[:, :1]), "channels"),
    (lambda x, w: bandlimited_conv2d(x, w, stride=(1, 2, 3)), "stride needs 2"),
    (lambda x, w: bandlimited_conv2d(x, w, padding=-1), "non-negative"),
    (lambda x, w: bandlimited_conv2d(x[..., :2], w), "kernel size 3 is larger"),
])
def test_bad_input_gets_a_clear_error(call, match):
    x, w = torch.randn(2, 3, 8, 8), torch.randn(4, 3, 3, 3)
    with pytest.raises(ValueError, match=match):
        call(x, w)


@pytest.mark.parametrize("chunk_bytes", [1, 2000])
def test_results_do_not_depend_on_the_frequency_chunking(monkeypatch, chunk_bytes):
    # Real layers are chunked only when C * F is large; shrink the chunk to exercise the loop.
    x = torch.randn(2, 3, 9, 10, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 3, 3, 2, dtype=torch.float64, requires_grad=True)
    reference = bandlimited_conv2d(x, w, padding=1, compress_rate=0.3)
    expected = torch.autograd.grad(reference.square().sum(), (x, w))
    monkeypatch.setattr("bandts.functional.chunks.CHUNK_BYTES", chunk_bytes)
    chunked = bandlimited_conv2d(x, w, padding=1, compress_rate=0.3)
    torch.testing.assert_close(chunked, reference)
    for a, b in zip(torch.autograd.grad(chunked.square().sum(), (x, w)), expected):
        torch.testing.assert_close(a, b)
