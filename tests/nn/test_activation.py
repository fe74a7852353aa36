"""bandts.nn.MaskedReLU against torch's ReLU, and what it keeps for backward."""

import torch

from bandts.nn import MaskedReLU


def test_values_and_gradients_equal_torch_relu():
    x = torch.tensor([-2.0, -0.0, 0.0, 1e-30, 3.0, float("inf"), float("-inf"), float("nan")],
                     requires_grad=True)
    ours = MaskedReLU()(x)
    theirs = torch.nn.ReLU()(x)
    torch.testing.assert_close(ours, theirs, equal_nan=True)
    grad = torch.arange(1.0, 9.0)
    (g_ours,) = torch.autograd.grad(ours, x, grad)
    (g_theirs,) = torch.autograd.grad(theirs, x, grad)
    torch.testing.assert_close(g_ours, g_theirs)
    assert g_ours.tolist() == [0, 0, 0, 4, 5, 6, 0, 8]


def test_gradcheck_and_second_order():
    x = (torch.rand(4, 3, 7, dtype=torch.float64) - 0.5).requires_grad_()
    assert torch.autograd.gradcheck(MaskedReLU(), (x,))
    assert torch.autograd.gradgradcheck(MaskedReLU(), (x,))


def test_saves_a_one_byte_mask_instead_of_the_output():
    x = torch.randn(16, 128, 270, requires_grad=True)
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        MaskedReLU()(x)
    assert [(t.dtype, t.shape) for t in saved] == [(torch.bool, x.shape)]
    assert sum(t.untyped_storage().nbytes() for t in saved) == x.numel()
