"""The real DFTs of bandts.functional.transforms, by both methods, against torch.fft."""

import math

import pytest
import torch

from bandts.functional import bandlimited_conv1d, transforms

METHODS = {"gemm": math.inf, "fft": 0.0}


@pytest.fixture(params=sorted(METHODS))
def method(request, monkeypatch):
    """Each transform method, with chunks of a few rows or bins so that every loop runs often."""
    monkeypatch.setattr(transforms, "GEMM_BINS_PER_LOG2", METHODS[request.param])
    monkeypatch.setattr("bandts.functional.chunks.CHUNK_BYTES", 2048)
    return request.param


def frames_of(rows, step, fft_len):
    frames = torch.zeros(rows.shape[0], fft_len, dtype=rows.dtype)
    frames[:, :rows.shape[1] * step:step] = rows
    return frames


def split(z):
    return torch.stack((z.real, z.imag), 1)


@pytest.mark.parametrize("n_positions,step,fft_len,bins", [(7, 1, 10, 6), (20, 1, 27, 5),
                                                            (9, 2, 20, 11), (5, 3, 15, 3)])
@pytest.mark.parametrize("inverse", [False, True])
def test_spectrum_of_is_the_rfft_of_the_placed_signal(method, n_positions, step, fft_len, bins,
                                                      inverse):
    rows = torch.randn(4, n_positions, dtype=torch.float64)
    expected = torch.fft.rfft(frames_of(rows, step, fft_len))[:, :bins].T  # (bins, R)
    if inverse:
        weights = torch.full((bins,), 2.0, dtype=torch.float64)
        weights[0] = 1.0
        if fft_len % 2 == 0 and bins == fft_len // 2 + 1:
            weights[-1] = 1.0
        expected = expected * (weights / fft_len)[:, None]
    torch.testing.assert_close(transforms.spectrum_of(rows, bins, step, fft_len, inverse),
                               split(expected))


@pytest.mark.parametrize("n_positions,step,fft_len,bins", [(7, 1, 10, 6), (20, 1, 27, 5),
                                                            (9, 2, 20, 11)])
def test_inverse_signal_of_is_irfft_of_the_zero_extended_bins(method, n_positions, step, fft_len,
                                                              bins):
    spectrum = torch.randn(bins, 4, dtype=torch.complex128)
    full = torch.zeros(fft_len // 2 + 1, 4, dtype=torch.complex128)
    full[:bins] = spectrum
    expected = torch.fft.irfft(full.T, n=fft_len)[:, :n_positions * step:step]
    torch.testing.assert_close(
        transforms.signal_of(split(spectrum), n_positions, step, fft_len, inverse=True), expected)


@pytest.mark.parametrize("n_positions,fft_len,bins", [(7, 10, 6), (20, 27, 5), (9, 20, 11)])
def test_rfft_kept_is_rfft_along_the_last_axis(method, n_positions, fft_len, bins):
    x = torch.randn(2, 3, 4, n_positions, dtype=torch.float64)
    torch.testing.assert_close(transforms.rfft_kept(x, bins, fft_len),
                               torch.fft.rfft(x, n=fft_len)[..., :bins])


@pytest.mark.parametrize("size,step,fft_len,bins", [(7, 1, 10, 6), (20, 1, 27, 5), (17, 2, 20, 11)])
def test_irfft_kept_is_irfft_of_the_zero_extended_bins(method, size, step, fft_len, bins):
    """Also on rows that are a slice of taller spectra (a non-contiguous input)."""
    taller = torch.randn(2, 3, 6, bins, dtype=torch.complex128)
    spectrum = taller[:, :, :4]
    full = torch.zeros(2, 3, 4, fft_len // 2 + 1, dtype=torch.complex128)
    full[..., :bins] = spectrum
    expected = torch.fft.irfft(full, n=fft_len)[..., :size:step]
    torch.testing.assert_close(transforms.irfft_kept(spectrum, size, step, fft_len), expected)


@pytest.mark.parametrize("inverse", [False, True])
def test_signal_of_is_the_transpose_of_spectrum_of(method, inverse):
    rows = torch.randn(3, 11, dtype=torch.float64)
    spectrum = torch.randn(7, 2, 3, dtype=torch.float64)
    left = (transforms.spectrum_of(rows, 7, 2, 24, inverse) * spectrum).sum()
    right = (rows * transforms.signal_of(spectrum, 11, 2, 24, inverse)).sum()
    torch.testing.assert_close(left, right)


@pytest.mark.parametrize("stride,padding", [(1, 2), (2, 0), (3, "valid"), (1, "same")])
def test_conv1d_by_either_method_equals_torch_and_has_exact_gradients(method, stride, padding):
    torch.manual_seed(0)
    x = torch.randn(3, 4, 30, dtype=torch.float64, requires_grad=True)
    w = torch.randn(5, 4, 4, dtype=torch.float64, requires_grad=True)
    b = torch.randn(5, dtype=torch.float64, requires_grad=True)
    ours = bandlimited_conv1d(x, w, b, stride, padding)
    theirs = torch.nn.functional.conv1d(x, w, b, stride, padding)
    torch.testing.assert_close(ours, theirs)
    grads = torch.autograd.grad(ours, (x, w, b), torch.ones_like(ours))
    for g_ours, g_theirs in zip(grads, torch.autograd.grad(theirs, (x, w, b), torch.ones_like(theirs))):
        torch.testing.assert_close(g_ours, g_theirs)
    assert torch.autograd.gradcheck(
        lambda *t: bandlimited_conv1d(*t, stride=stride, padding=padding, compress_rate=0.5),
        (x, w, b))
    assert torch.autograd.gradcheck(
        lambda *t: bandlimited_conv1d(*t, stride=stride, padding=padding, preserve_energy=0.9),
        (x, w, b))
