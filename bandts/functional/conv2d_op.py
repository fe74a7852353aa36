"""``bandts::conv2d``: the band-limited 2D convolution as a PyTorch custom operator.

As ``bandts::conv1d`` (:mod:`bandts.functional.conv1d_op`): one operator with a fake
implementation and a registered backward, returning the output, the kept input spectrum
(count, N, C) complex and the per-sample levels. Both plans' backwards are differentiable torch
operations, so the backward runs them with grad mode on when a graph of the gradient is wanted.
"""

from typing import Optional

import torch

from bandts.functional import conv2d_plan
from bandts.functional.band import Band, static_level_2d
from bandts.functional.dft import complex_dtype
from bandts.functional.geometry import AxisGeometry
from bandts.functional.op_context import save_conv_context


def geometry_args(geos) -> list:
    """The geometry of both axes as the operator's int list."""
    return [v for geo in geos for v in (geo.pad_left, geo.pad_right, geo.stride, geo.fft_len)]


def geometries_of(in_shape, kernel_shape, args) -> tuple:
    """The two :class:`AxisGeometry` of spatial input and kernel sizes and the operator's list."""
    return tuple(AxisGeometry(in_len, kernel, *args[4 * axis:4 * axis + 4])
                 for axis, (in_len, kernel) in enumerate(zip(in_shape, kernel_shape)))


def conv2d_impl(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor],
              geometry: list[int], compress_rate: float, preserve_energy: float,
              energy_scope: str, frozen_cut: Optional[float], backend: str,
              plan: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(output, kept input spectrum, per-sample levels) of a batched input (N, C, H, W)."""
    geos = geometries_of(x.shape[2:], weight.shape[2:], geometry)
    band = Band(compress_rate, preserve_energy, energy_scope, frozen_cut)
    return conv2d_plan.forward(x, weight, bias, geos, band, backend, chunked=plan == "cpu")


conv2d_op = torch.library.custom_op("bandts::conv2d", mutates_args=())(conv2d_impl)


@conv2d_op.register_fake
def conv2d_fake(x, weight, bias, geometry, compress_rate, preserve_energy, energy_scope,
                 frozen_cut, backend, plan):
    geo_h, geo_w = geometries_of(x.shape[2:], weight.shape[2:], geometry)
    band = Band(compress_rate, preserve_energy, energy_scope, frozen_cut)
    level = band.cut_level(max(geo_h.n_bins, geo_w.n_bins), static_level_2d)
    if level is None:
        count = torch.library.get_ctx().new_dynamic_size(min=1)
    else:
        count = conv2d_plan.KeptCells.count_at(geo_h, geo_w, level)
    n, n_in = x.shape[:2]
    out = x.new_empty(n, weight.shape[0], geo_h.out_len, geo_w.out_len)
    per_sample = not band.is_static and band.energy_scope == "sample"
    return (out, x.new_empty(count, n, n_in, dtype=complex_dtype(x.dtype)),
            x.new_empty(n if per_sample else 0, dtype=torch.int64))


def conv2d_backward_impl(grad_out: torch.Tensor, kept: torch.Tensor, weight: torch.Tensor,
                       cuts: torch.Tensor, in_shape: list[int], geometry: list[int],
                       need_x: bool, need_weight: bool, need_bias: bool, backend: str,
                       plan: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(grad_x, grad_weight, grad_bias) of ``bandts::conv2d``; empty where not needed."""
    geos = geometries_of(in_shape, weight.shape[2:], geometry)
    grads = conv2d_plan.backward(grad_out, kept, weight, cuts, geos,
                                 (need_x, need_weight, need_bias), backend, plan == "cpu")
    return tuple(g.contiguous() if g is not None else grad_out.new_empty(0) for g in grads)


conv2d_backward_op = torch.library.custom_op(
    "bandts::conv2d_backward", mutates_args=())(conv2d_backward_impl)


@conv2d_backward_op.register_fake
def _conv2d_backward_fake(grad_out, kept, weight, cuts, in_shape, geometry, need_x,
                          need_weight, need_bias, backend, plan):
    n, n_in = grad_out.shape[0], weight.shape[1]
    return (grad_out.new_empty((n, n_in, *in_shape) if need_x else (0,)),
            grad_out.new_empty(weight.shape if need_weight else (0,)),
            grad_out.new_empty((weight.shape[0],) if need_bias else (0,)))


def kept_adjoint_impl(grad_kept: torch.Tensor, cuts: torch.Tensor, x_shape: list[int],
                    geometry: list[int]) -> torch.Tensor:
    """The gradient of x from a gradient of the kept spectrum (double backward only)."""
    geos = geometries_of(x_shape[2:], (1, 1), geometry)
    return conv2d_plan.input_adjoint(grad_kept, cuts, geos, x_shape)


kept_adjoint_op = torch.library.custom_op(
    "bandts::conv2d_kept_adjoint", mutates_args=())(kept_adjoint_impl)


@kept_adjoint_op.register_fake
def _kept_adjoint_fake(grad_kept, cuts, x_shape, geometry):
    return grad_kept.new_empty(x_shape, dtype=grad_kept.real.dtype)


def _backward(ctx, grad_out, grad_kept, _grad_cuts):
    kept, weight, cuts = ctx.saved_tensors
    geos = geometries_of(ctx.x_shape[2:], weight.shape[2:], ctx.geometry)
    need_x, need_weight, need_bias = ctx.needs_input_grad[:3]
    need_bias = need_bias and ctx.has_bias
    grad_x = grad_w = grad_b = None
    if grad_out is not None:
        if torch.is_grad_enabled():  # create_graph: the same differentiable operations, traced
            grad_x, grad_w, grad_b = conv2d_plan.backward(
                grad_out, kept, weight, cuts, geos, (need_x, need_weight, need_bias),
                "torch", chunked=False)  # the PyCUDA kernels have no autograd
        else:
            grads = torch.ops.bandts.conv2d_backward(
                grad_out.contiguous(), kept, weight, cuts, list(ctx.x_shape[2:]), ctx.geometry,
                need_x, need_weight, need_bias, ctx.backend, ctx.plan)
            grad_x, grad_w, grad_b = (g if need else None for g, need in
                                      zip(grads, (need_x, need_weight, need_bias)))
    if grad_kept is not None and need_x:
        # The kept spectrum was used by a differentiable backward (double backward).
        if torch.is_grad_enabled():
            from_kept = conv2d_plan.input_adjoint(grad_kept, cuts, geos, ctx.x_shape)
        else:
            from_kept = kept_adjoint_op(grad_kept, cuts, list(ctx.x_shape), ctx.geometry)
        grad_x = from_kept if grad_x is None else grad_x + from_kept
    return grad_x, grad_w, grad_b, None, None, None, None, None, None, None


conv2d_op.register_autograd(_backward, setup_context=save_conv_context)
