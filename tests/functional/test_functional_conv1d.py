"""bandlimited_conv1d against torch's conv1d, gradcheck, hand-checked values and a direct reference."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bandts.functional import bandlimited_conv1d
from bandts.functional.geometry import next_5_smooth
from reference import bandlimited_conv1d_reference

# (N, C, F, W, K, stride, padding): odd/even lengths, kernel longer than the input with padding,
# stride 1-3, padding 0 / int / "same", batch 1, one channel.
SHAPES = [
    (2, 3, 4, 17, 3, 1, 0), (1, 1, 1, 16, 5, 1, 2), (3, 2, 5, 9, 12, 1, 6), (2, 4, 3, 31, 8, 2, 3),
    (1, 3, 2, 20, 4, 3, 1), (4, 1, 6, 270, 8, 1, "same"), (2, 5, 3, 15, 6, 1, "same"),
    (2, 2, 2, 8, 8, 1, 0), (1, 6, 7, 33, 5, 2, "valid"), (3, 3, 3, 1, 3, 1, 1),
]


@pytest.mark.parametrize("shape", SHAPES)
def test_full_band_equals_torch_conv1d(shape, plan):
    n, c, f, w, k, stride, padding = shape
    x = torch.randn(n, c, w, requires_grad=True)
    weight = torch.randn(f, c, k, requires_grad=True)
    bias = torch.randn(f, requires_grad=True)
    ours = bandlimited_conv1d(x, weight, bias, stride, padding, plan=plan)
    theirs = F.conv1d(x, weight, bias, stride, padding)
    assert ours.shape == theirs.shape
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=1e-4)
    grad = torch.randn_like(theirs)
    for a, b in zip(torch.autograd.grad(ours, (x, weight, bias), grad),
                    torch.autograd.grad(theirs, (x, weight, bias), grad)):
        torch.testing.assert_close(a, b, atol=2e-4, rtol=1e-4)


@pytest.mark.parametrize("fft_size", ["pow2", "paper", 64])
def test_full_band_any_fft_size(fft_size):
    x, weight = torch.randn(2, 3, 21, dtype=torch.float64), torch.randn(4, 3, 5, dtype=torch.float64)
    torch.testing.assert_close(bandlimited_conv1d(x, weight, padding=2, fft_size=fft_size),
                               F.conv1d(x, weight, padding=2))


def test_unbatched_input():
    x, weight = torch.randn(3, 21), torch.randn(4, 3, 5)
    torch.testing.assert_close(bandlimited_conv1d(x, weight, padding=2), F.conv1d(x, weight, padding=2),
                               atol=1e-5, rtol=1e-5)


def test_hand_checked_static_example():
    x = torch.tensor([[[1, 2, 3, 1, 4, 5, 10.]]], dtype=torch.float64)
    w = torch.tensor([[[2, 1, 3.]]], dtype=torch.float64)
    out = bandlimited_conv1d(x, w, fft_size="paper", compress_rate=0.05)
    torch.testing.assert_close(out, torch.tensor([[[10.5, 12.5, 16.5, 23.5, 40.5]]], dtype=torch.float64))


def test_hand_checked_example_with_gradients():
    x = torch.tensor([[[1, 2, 3, 4, 5, -1, 10.]]], dtype=torch.float64, requires_grad=True)
    w = torch.tensor([[[2, 1, -3.]]], dtype=torch.float64, requires_grad=True)
    b = torch.tensor([1.], dtype=torch.float64, requires_grad=True)
    out = bandlimited_conv1d(x, w, b, fft_size="paper", compress_rate=0.01)
    expected = [-2.25, -5.75, -2.25, 15.25, -18.25]
    torch.testing.assert_close(out, torch.tensor([[expected]], dtype=torch.float64))
    out.backward(torch.tensor([[[0.1, -0.2, -0.3, 0.3, 0.1]]], dtype=torch.float64))
    torch.testing.assert_close(x.grad, torch.tensor(
        [[[0.175, -0.275, -1.125, 0.925, 1.375, -0.775, -0.325]]], dtype=torch.float64))
    torch.testing.assert_close(w.grad, torch.tensor([[[0.675, -0.375, -1.125]]], dtype=torch.float64))
    torch.testing.assert_close(b.grad, torch.tensor([0.0], dtype=torch.float64))


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.75, 0.9])
@pytest.mark.parametrize("stride,padding", [(1, 0), (2, 3), (3, 1)])
def test_static_rate_against_direct_reference(rate, stride, padding, plan):
    rng = np.random.default_rng(1)
    x, w, b = rng.normal(size=(2, 2, 19)), rng.normal(size=(3, 2, 4)), rng.normal(size=3)
    fft_len = next_5_smooth(19 + 2 * padding)
    n_bins = fft_len // 2 + 1
    keep = max(1, n_bins - (int(np.floor(n_bins * rate)) + 1))
    out, report = bandlimited_conv1d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b),
                                            stride, padding, compress_rate=rate, return_report=True, plan=plan)
    assert report.kept_bins == keep and report.spectrum_bins == n_bins
    expected = bandlimited_conv1d_reference(x, w, b, stride, padding, padding, fft_len, keep)
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-10)


def test_paper_rule_bins_for_fiftywords():
    # FiftyWords: W = 270, "paper" FFT length 1024 -> M = 513; c=0.5 keeps 256, c=0.75 keeps 128.
    x, w = torch.randn(1, 1, 270), torch.randn(1, 1, 8)
    for rate, keep in [(0.0, 513), (0.5, 256), (0.75, 128)]:
        _, report = bandlimited_conv1d(x, w, padding=0, fft_size="paper", compress_rate=rate, return_report=True)
        assert (report.spectrum_bins, report.kept_bins) == (513, keep)


def _two_tone_batch():
    """Sample 0 holds only bin 2 of a length-30 spectrum, sample 1 bins 2 and 11 equally."""
    t = torch.arange(30, dtype=torch.float64)
    low = torch.cos(2 * torch.pi * 2 * t / 30)
    high = torch.cos(2 * torch.pi * 11 * t / 30)
    return torch.stack([low, low + high])[:, None, :]


def test_energy_cut_keeps_the_fewest_bins_reaching_the_target():
    x = _two_tone_batch()
    w = torch.ones(1, 1, 1, dtype=torch.float64)
    _, report = bandlimited_conv1d(x[1:], w, preserve_energy=0.4, return_report=True)
    assert report.kept_bins == 3  # bins 0..2 hold half of the power
    _, report = bandlimited_conv1d(x[1:], w, preserve_energy=0.6, return_report=True)
    assert report.kept_bins == 12
    _, report = bandlimited_conv1d(x[:1], w, preserve_energy=0.99, return_report=True)
    assert report.kept_bins == 3


def test_sample_scope_is_independent_of_the_batch(plan):
    x = _two_tone_batch()
    w = torch.randn(2, 1, 3, dtype=torch.float64)
    together = bandlimited_conv1d(x, w, padding=1, preserve_energy=0.9, energy_scope="sample", plan=plan)
    for i in range(2):
        alone = bandlimited_conv1d(x[i:i + 1], w, padding=1, preserve_energy=0.9, energy_scope="sample", plan=plan)
        torch.testing.assert_close(together[i:i + 1], alone)
    # The batch scope uses one cut for both, so sample 0 is computed at sample 1's wider band.
    batch = bandlimited_conv1d(x, w, padding=1, preserve_energy=0.9, energy_scope="batch", plan=plan)
    alone = bandlimited_conv1d(x[:1], w, padding=1, preserve_energy=0.9, energy_scope="batch", plan=plan)
    assert not torch.allclose(batch[:1], alone)


def test_frozen_scope_uses_the_calibrated_fraction():
    x = torch.randn(2, 3, 40, dtype=torch.float64)
    w = torch.randn(2, 3, 5, dtype=torch.float64)
    frozen, report = bandlimited_conv1d(x, w, preserve_energy=0.5, energy_scope="frozen", frozen_cut=0.25, return_report=True)
    static, _ = bandlimited_conv1d(x, w, compress_rate=0.0, return_report=True)
    assert report.kept_bins == round(0.25 * report.spectrum_bins)
    assert not torch.allclose(frozen, static)
    uncalibrated, report_batch = bandlimited_conv1d(x, w, preserve_energy=0.5, energy_scope="frozen", return_report=True)
    batch, report_ref = bandlimited_conv1d(x, w, preserve_energy=0.5, energy_scope="batch", return_report=True)
    torch.testing.assert_close(uncalibrated, batch)


@pytest.mark.parametrize("band", [
    dict(compress_rate=0.5), dict(compress_rate=0.3, fft_size="paper"),
    dict(preserve_energy=0.8, energy_scope="sample"), dict(preserve_energy=0.8, energy_scope="batch"),
    dict(preserve_energy=0.8, energy_scope="frozen", frozen_cut=0.4),
])
def test_gradcheck_with_compression(band, plan):
    torch.manual_seed(3)
    x = torch.randn(3, 2, 11, dtype=torch.float64)
    x[0] *= torch.linspace(0, 1, 11, dtype=torch.float64)  # samples with different spectra
    x.requires_grad_(True)
    w = torch.randn(3, 2, 4, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, w, b: bandlimited_conv1d(x, w, b, stride=2, padding=2, **band, plan=plan), (x, w, b))


def test_sample_scope_gradcheck_exercises_per_sample_cuts(plan):
    x = _two_tone_batch().clone().requires_grad_(True)
    w = torch.randn(2, 1, 3, dtype=torch.float64, requires_grad=True)
    _, report = bandlimited_conv1d(x[:1], w, preserve_energy=0.9, return_report=True, plan=plan)
    _, report_both = bandlimited_conv1d(x, w, preserve_energy=0.9, return_report=True, plan=plan)
    assert report.kept_bins < report_both.kept_bins  # the two samples really have different cuts
    assert torch.autograd.gradcheck(lambda x, w: bandlimited_conv1d(x, w, padding=1, preserve_energy=0.9, plan=plan), (x, w))


@pytest.mark.parametrize("call,error,match", [
    (lambda x, w: bandlimited_conv1d(x[0, 0], w), ValueError, "input must have shape"),
    (lambda x, w: bandlimited_conv1d(x, w[:, :2]), ValueError, "channels"),
    (lambda x, w: bandlimited_conv1d(x, w, compress_rate=1.0), ValueError, "compress_rate"),
    (lambda x, w: bandlimited_conv1d(x, w, compress_rate=-0.1), ValueError, "compress_rate"),
    (lambda x, w: bandlimited_conv1d(x, w, preserve_energy=0.0), ValueError, "preserve_energy"),
    (lambda x, w: bandlimited_conv1d(x, w, compress_rate=0.5, preserve_energy=0.9), ValueError, "not both"),
    (lambda x, w: bandlimited_conv1d(x, w, energy_scope="global"), ValueError, "energy_scope"),
    (lambda x, w: bandlimited_conv1d(x, w, fft_size="huge"), ValueError, "fft_size"),
    (lambda x, w: bandlimited_conv1d(x, w, fft_size=8), ValueError, "shorter than the padded"),
    (lambda x, w: bandlimited_conv1d(x[..., :2], w), ValueError, "kernel size 3 is larger"),
    (lambda x, w: bandlimited_conv1d(x.long(), w), TypeError, "float32 or float64"),
    (lambda x, w: bandlimited_conv1d(x.half(), w.half()), TypeError, "float32 or float64"),
    (lambda x, w: bandlimited_conv1d(x.double(), w), TypeError, "one dtype"),
    (lambda x, w: bandlimited_conv1d(x, w, stride=2, padding="same"), ValueError, "strided"),
    (lambda x, w: bandlimited_conv1d(x, w, backend="cudnn"), ValueError, "backend"),
    (lambda x, w: bandlimited_conv1d(x, w, torch.zeros(3)), ValueError, "bias"),
])
def test_bad_input_gets_a_clear_error(call, error, match):
    x, w = torch.randn(2, 3, 10), torch.randn(4, 3, 3)
    with pytest.raises(error, match=match):
        call(x, w)


@pytest.mark.parametrize("chunk_bytes", [1, 600])
def test_results_do_not_depend_on_the_frequency_chunking(monkeypatch, chunk_bytes):
    # Real layers are chunked only when C * F is large; shrink the chunk to exercise the loop.
    x = torch.randn(2, 3, 29, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 3, 5, dtype=torch.float64, requires_grad=True)
    reference = bandlimited_conv1d(x, w, padding=2, compress_rate=0.3)
    expected = torch.autograd.grad(reference.square().sum(), (x, w))
    monkeypatch.setattr("bandts.functional.chunks.CHUNK_BYTES", chunk_bytes)
    chunked = bandlimited_conv1d(x, w, padding=2, compress_rate=0.3)
    torch.testing.assert_close(chunked, reference)
    for a, b in zip(torch.autograd.grad(chunked.square().sum(), (x, w)), expected):
        torch.testing.assert_close(a, b)
