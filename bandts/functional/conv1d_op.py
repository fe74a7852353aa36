"""``bandts::conv1d``: the band-limited 1D convolution as a PyTorch custom operator.

Registered with :func:`torch.library.custom_op`, so that ``torch.compile``, ``torch.export`` and
FakeTensor tracing see one operator with known output shapes (a fake implementation) and a
registered backward, instead of tracing into its in-place buffer writes. The operator returns
the output and what backward needs: the kept input spectrum (the only activation saved) and the
per-sample levels. An energy cut makes the number of kept bins depend on the data; the fake
implementation then returns a dynamic size.

The backward is the operator ``bandts::conv1d_backward`` (the plan's analytic backward), or,
when a graph of the gradient is wanted (``create_graph=True``), the accelerator plan's
differentiable backward, so that double backward works (gradient penalties, Hessian-vector
products).
"""

from typing import Optional

import torch

from bandts.functional import conv1d_cpu, conv1d_dense
from bandts.functional.band import Band, static_level_1d
from bandts.functional.dft import complex_dtype
from bandts.functional.geometry import AxisGeometry
from bandts.functional.op_context import save_conv_context

_PLAN_MODULES = {"cpu": conv1d_cpu, "accelerator": conv1d_dense}


def geometry_args(geo: AxisGeometry) -> list:
    """The geometry as the operator's int list (input and kernel lengths come from tensors)."""
    return [geo.pad_left, geo.pad_right, geo.stride, geo.fft_len]


def geometry_of(in_len: int, kernel: int, args) -> AxisGeometry:
    """The :class:`AxisGeometry` of an input length, a kernel length and the operator's list."""
    pad_left, pad_right, stride, fft_len = args
    return AxisGeometry(in_len, kernel, pad_left, pad_right, stride, fft_len)


def conv1d_impl(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor],
              geometry: list[int], compress_rate: float, preserve_energy: float,
              energy_scope: str, frozen_cut: Optional[float], backend: str,
              plan: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(output, kept input spectrum, per-sample levels) of a batched input (N, C, W)."""
    geo = geometry_of(x.shape[2], weight.shape[2], geometry)
    band = Band(compress_rate, preserve_energy, energy_scope, frozen_cut)
    return _PLAN_MODULES[plan].forward(x, weight, bias, geo, band, backend)


conv1d_op = torch.library.custom_op("bandts::conv1d", mutates_args=())(conv1d_impl)


@conv1d_op.register_fake
def conv1d_fake(x, weight, bias, geometry, compress_rate, preserve_energy, energy_scope,
                 frozen_cut, backend, plan):
    geo = geometry_of(x.shape[2], weight.shape[2], geometry)
    band = Band(compress_rate, preserve_energy, energy_scope, frozen_cut)
    keep = band.cut_level(geo.n_bins, static_level_1d)
    if keep is None:
        keep = torch.library.get_ctx().new_dynamic_size(min=1, max=geo.n_bins)
    n, n_in = x.shape[:2]
    out = x.new_empty(n, weight.shape[0], geo.out_len)
    if plan == "cpu":
        kept = x.new_empty(keep, 2, n, n_in)
    else:
        kept = x.new_empty(keep, n, n_in, dtype=complex_dtype(x.dtype))
    per_sample = not band.is_static and band.energy_scope == "sample"
    return out, kept, x.new_empty(n if per_sample else 0, dtype=torch.int64)


def conv1d_backward_impl(grad_out: torch.Tensor, kept: torch.Tensor, weight: torch.Tensor,
                       cuts: torch.Tensor, in_len: int, geometry: list[int], need_x: bool,
                       need_weight: bool, need_bias: bool, backend: str,
                       plan: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(grad_x, grad_weight, grad_bias) of ``bandts::conv1d``; an empty tensor for each one not
    needed (an operator returns tensors only)."""
    geo = geometry_of(in_len, weight.shape[2], geometry)
    grads = _PLAN_MODULES[plan].backward(grad_out, kept, weight, cuts, geo,
                                         (need_x, need_weight, need_bias), backend)
    return tuple(g.contiguous() if g is not None else grad_out.new_empty(0) for g in grads)


conv1d_backward_op = torch.library.custom_op(
    "bandts::conv1d_backward", mutates_args=())(conv1d_backward_impl)


@conv1d_backward_op.register_fake
def conv1d_backward_fake(grad_out, kept, weight, cuts, in_len, geometry, need_x, need_weight,
                          need_bias, backend, plan):
    n, n_in = grad_out.shape[0], weight.shape[1]
    return (grad_out.new_empty((n, n_in, in_len) if need_x else (0,)),
            grad_out.new_empty(weight.shape if need_weight else (0,)),
            grad_out.new_empty((weight.shape[0],) if need_bias else (0,)))


def kept_adjoint_impl(grad_kept: torch.Tensor, cuts: torch.Tensor, in_len: int,
                    geometry: list[int], plan: str) -> torch.Tensor:
    """The gradient of x from a gradient of the kept spectrum (double backward only)."""
    geo = geometry_of(in_len, 1, geometry)
    return conv1d_dense.input_adjoint(_as_dense(grad_kept, plan), cuts, geo)


kept_adjoint_op = torch.library.custom_op(
    "bandts::conv1d_kept_adjoint", mutates_args=())(kept_adjoint_impl)


@kept_adjoint_op.register_fake
def _kept_adjoint_fake(grad_kept, cuts, in_len, geometry, plan):
    n, n_in = grad_kept.shape[-2:]
    return grad_kept.new_empty(n, n_in, in_len, dtype=grad_kept.real.dtype if plan != "cpu"
                               else grad_kept.dtype)


def _as_dense(kept: torch.Tensor, plan: str) -> torch.Tensor:
    """The kept spectrum in the accelerator plan's complex (keep, N, C) layout."""
    return torch.complex(kept[:, 0], kept[:, 1]) if plan == "cpu" else kept


def _backward(ctx, grad_out, grad_kept, _grad_cuts):
    kept, weight, cuts = ctx.saved_tensors
    geo = geometry_of(ctx.x_shape[2], weight.shape[2], ctx.geometry)
    need_x, need_weight, need_bias = ctx.needs_input_grad[:3]
    need_bias = need_bias and ctx.has_bias
    grad_x = grad_w = grad_b = None
    if grad_out is not None:
        if torch.is_grad_enabled():  # create_graph: build the gradient from differentiable ops
            grad_x, grad_w, grad_b = conv1d_dense.backward(
                grad_out, _as_dense(kept, ctx.plan), weight, cuts, geo,
                (need_x, need_weight, need_bias), "torch")  # the PyCUDA kernels have no autograd
        else:
            grads = torch.ops.bandts.conv1d_backward(
                grad_out.contiguous(), kept, weight, cuts, geo.in_len, ctx.geometry, need_x,
                need_weight, need_bias, ctx.backend, ctx.plan)
            grad_x, grad_w, grad_b = (g if need else None for g, need in
                                      zip(grads, (need_x, need_weight, need_bias)))
    if grad_kept is not None and need_x:
        # The kept spectrum was used by a differentiable backward (double backward): its
        # gradient reaches x through the adjoint of the input transform.
        if torch.is_grad_enabled():
            from_kept = conv1d_dense.input_adjoint(_as_dense(grad_kept, ctx.plan), cuts, geo)
        else:
            from_kept = kept_adjoint_op(grad_kept, cuts, geo.in_len, ctx.geometry, ctx.plan)
        grad_x = from_kept if grad_x is None else grad_x + from_kept
    return grad_x, grad_w, grad_b, None, None, None, None, None, None, None


conv1d_op.register_autograd(_backward, setup_context=save_conv_context)
