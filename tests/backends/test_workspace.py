"""Scratch buffers kept between calls (bandts.backends.workspace) and the layers that use them."""

import threading

import pytest
import torch

from bandts.backends import workspace
from bandts.functional import bandlimited_conv1d


@pytest.fixture(autouse=True)
def fresh_workspace(monkeypatch):
    # These tests keep buffers of every size; test_small_requests_... checks the threshold.
    monkeypatch.setattr(workspace, "KEEP_MIN_BYTES", 0)
    workspace.release()
    yield
    workspace.release()


def test_a_slot_lends_the_same_memory_again_and_grows_when_asked_for_more():
    like = torch.empty(0)
    with workspace.scratch("a", (4, 5), like) as first:
        first.fill_(1.0)
        pointer = first.data_ptr()
    with workspace.scratch("a", (2, 3), like) as smaller:
        assert smaller.shape == (2, 3) and smaller.is_contiguous()
        assert smaller.data_ptr() == pointer
    with workspace.scratch("a", (50,), like) as larger:
        assert larger.shape == (50,)
    assert workspace.kept_bytes() == 50 * 4
    with workspace.scratch("a", (3,), torch.empty(0, dtype=torch.float64)):
        assert workspace.kept_bytes() == 50 * 4 + 3 * 8  # one buffer per dtype
    workspace.release()
    assert workspace.kept_bytes() == 0


def test_a_slot_already_lent_gives_a_fresh_tensor():
    like = torch.empty(0)
    with workspace.scratch("a", (8,), like) as outer:
        with workspace.scratch("a", (8,), like) as inner:
            assert inner.data_ptr() != outer.data_ptr()
        with workspace.scratch("b", (8,), like) as other:
            assert other.data_ptr() != outer.data_ptr()
    with workspace.scratch("a", (8,), like) as again:
        assert again.data_ptr() == outer.data_ptr()


def test_large_requests_and_other_devices_are_not_kept(monkeypatch):
    monkeypatch.setattr(workspace, "KEEP_MAX_BYTES", 64)
    with workspace.scratch("a", (17,), torch.empty(0)) as large:
        assert large.shape == (17,)
    with workspace.scratch("a", (4,), torch.empty(0, device="meta")) as meta:
        assert meta.device.type == "meta"
    assert workspace.kept_bytes() == 0


def test_small_requests_are_not_kept(monkeypatch):
    monkeypatch.setattr(workspace, "KEEP_MIN_BYTES", 64)
    with workspace.scratch("a", (15,), torch.empty(0)) as small:
        assert small.shape == (15,)
    assert workspace.kept_bytes() == 0
    with workspace.scratch("a", (16,), torch.empty(0)):
        pass
    assert workspace.kept_bytes() == 64


def test_each_thread_has_its_own_buffers():
    with workspace.scratch("a", (8,), torch.empty(0)) as here:
        pointer = here.data_ptr()
    seen = {}

    def other_thread():
        with workspace.scratch("a", (8,), torch.empty(0)) as there:
            seen["pointer"] = there.data_ptr()
        seen["bytes"] = workspace.kept_bytes()

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert seen["pointer"] != pointer and seen["bytes"] == 32


def test_layers_of_different_shapes_and_dtypes_share_the_workspace_correctly():
    """Alternating calls reuse (and regrow) the same scratch buffers; every result must still
    equal torch's conv1d, in forward and in all gradients."""
    torch.manual_seed(0)
    cases = [((3, 4, 40), (6, 4, 5), torch.float32), ((2, 7, 23), (3, 7, 3), torch.float64),
             ((5, 2, 64), (9, 2, 8), torch.float32)]
    for _ in range(2):
        for x_shape, w_shape, dtype in cases:
            x = torch.randn(x_shape, dtype=dtype, requires_grad=True)
            w = torch.randn(w_shape, dtype=dtype, requires_grad=True)
            b = torch.randn(w_shape[0], dtype=dtype, requires_grad=True)
            tolerance = {"atol": 1e-4, "rtol": 1e-4} if dtype == torch.float32 else {}
            ours = bandlimited_conv1d(x, w, b, padding="same")
            theirs = torch.nn.functional.conv1d(x, w, b, padding="same")
            torch.testing.assert_close(ours, theirs, **tolerance)
            grad = torch.randn_like(ours)
            for g_ours, g_theirs in zip(torch.autograd.grad(ours, (x, w, b), grad),
                                        torch.autograd.grad(theirs, (x, w, b), grad)):
                torch.testing.assert_close(g_ours, g_theirs, **tolerance)
    assert workspace.kept_bytes() > 0


def test_a_compressed_layer_gives_the_same_numbers_whatever_ran_before_it():
    torch.manual_seed(1)
    x = torch.randn(4, 6, 50, requires_grad=True)
    w = torch.randn(8, 6, 5, requires_grad=True)
    grad = torch.randn(4, 8, 50)

    def run():
        out = bandlimited_conv1d(x, w, padding="same", compress_rate=0.5)
        return (out.detach(), *torch.autograd.grad(out, (x, w), grad))

    first = run()
    bandlimited_conv1d(torch.randn(9, 6, 80), torch.randn(3, 6, 7), compress_rate=0.3)
    bandlimited_conv1d(torch.randn(2, 6, 20, requires_grad=True), w).sum().backward()
    for before, after in zip(first, run()):
        assert torch.equal(before, after)


def test_buffers_made_under_inference_mode_serve_training_and_back():
    x = torch.randn(4, 6, 50)
    w = torch.randn(8, 6, 5, requires_grad=True)
    with torch.inference_mode():
        predicted = bandlimited_conv1d(x, w.detach(), padding="same", compress_rate=0.5)
    trained = bandlimited_conv1d(x, w, padding="same", compress_rate=0.5)
    trained.sum().backward()
    torch.testing.assert_close(trained.detach(), predicted)
    with torch.inference_mode():
        again = bandlimited_conv1d(x, w.detach(), padding="same", compress_rate=0.5)
    torch.testing.assert_close(again, predicted)
    assert w.grad is not None
