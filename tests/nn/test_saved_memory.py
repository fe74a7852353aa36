"""What the band-limited autograd Functions keep for backward."""

import pytest
import torch

from bandts.functional import bandlimited_conv1d, bandlimited_conv2d


def saved_tensors_during(fn):
    saved = []

    def pack(t):
        saved.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        result = fn()
    return saved, result


@pytest.mark.parametrize("rate", [0.0, 0.5, 0.75])
def test_conv1d_saves_only_the_compressed_spectrum_and_the_weight(rate):
    x = torch.randn(8, 16, 270, requires_grad=True)
    w = torch.randn(32, 16, 5, requires_grad=True)
    saved, (out, report) = saved_tensors_during(
        lambda: bandlimited_conv1d(x, w, padding=2, compress_rate=rate, return_report=True))
    keep = report.kept_bins
    spectrum_bytes = keep * 8 * 16 * 8  # real and imaginary float32 planes
    assert sum(t.numel() * t.element_size() for t in saved) == spectrum_bytes + w.numel() * 4
    spectrum = next(t for t in saved if t.shape[0] == keep)
    # A copy, not a view keeping the full spectrum alive.
    assert spectrum.untyped_storage().nbytes() == spectrum_bytes
    out.sum().backward()
    if rate == 0.5:
        assert spectrum_bytes <= 0.55 * x.numel() * 4


def test_sample_scope_adds_only_the_per_sample_cuts():
    x = torch.randn(4, 3, 50, requires_grad=True)
    x.data[0] *= torch.linspace(0, 1, 50)
    w = torch.randn(2, 3, 3, requires_grad=True)
    saved, (_, report) = saved_tensors_during(
        lambda: bandlimited_conv1d(x, w, preserve_energy=0.5, return_report=True))
    assert sum(t.numel() * t.element_size() for t in saved) <= \
        report.kept_bins * 4 * 3 * 8 + w.numel() * 4 + 4 * 8


def test_conv2d_saves_only_the_compressed_spectrum_and_the_weight():
    x = torch.randn(4, 8, 32, 32, requires_grad=True)
    w = torch.randn(8, 8, 3, 3, requires_grad=True)
    saved, (_, report) = saved_tensors_during(
        lambda: bandlimited_conv2d(x, w, padding=1, compress_rate=0.5, return_report=True))
    spectrum_bytes = report.kept_bins * 4 * 8 * 8
    assert sum(t.numel() * t.element_size() for t in saved) == spectrum_bytes + w.numel() * 4
