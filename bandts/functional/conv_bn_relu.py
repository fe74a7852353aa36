"""Band-limited convolution, batch normalisation and ReLU as one operator that keeps only the
compressed spectrum for backward.

In ``conv -> BatchNorm -> ReLU`` the batch norm keeps its whole input for backward (the
convolution's full-length output) and the ReLU its output or a mask: for a band-limited
convolution, whose own saved state is the compressed input spectrum, those two are most of what
the block keeps. But the convolution's output is a function of that spectrum, so backward can
recompute it (one filter product and inverse transform, about a third of the layer's forward)
and from it the normalised values and the ReLU's mask: the block then keeps the kept spectrum and
two numbers per channel, at the cost of that recomputation. It pays off wherever activation
memory bounds the batch or the model; the values and gradients are those of the unfused block.

The operator ``bandts::conv_bn_relu`` serves 1D and 2D inputs; running statistics are updated by
the caller (:class:`bandts.nn.BandLimitedBlock`) from the batch mean and variance it returns.
Double backward is not supported through the fused block (a clear error); use the unfused layers
for it.
"""

from typing import Optional

import torch

from bandts.backends import resolve_backend
from bandts.functional import conv1d_cpu, conv1d_dense, conv1d_op, conv2d_op, conv2d_plan
from bandts.functional.band import Band
from bandts.functional.conv1d_op import geometry_of
from bandts.functional.conv2d_op import geometries_of
from bandts.functional.geometry import resolve_geometry
from bandts.functional.inputs import TORCHSCRIPT_UNSUPPORTED, ConvReport, check_tensors
from bandts.functional.plans import resolve_plan


def _channel_view(values: torch.Tensor, dims: int) -> torch.Tensor:
    return values.view(1, -1, *([1] * dims))


def _normalized(y, batch_stats: bool, mean, invstd, eps: float, bn_weight, bn_bias):
    """(z, mean, invstd): y batch-normalised, scaled and shifted, with the batch's statistics
    (torch's own kernel, so the values are nn.BatchNorm's) or the given running ones. The
    forward and the backward compute z this same way, so the recomputed ReLU mask is the
    forward's."""
    if batch_stats:
        return torch.ops.aten.native_batch_norm(y, bn_weight, bn_bias, None, None, True, 0.0, eps)
    dims = y.dim() - 2
    z = (y - _channel_view(mean, dims)) * _channel_view(invstd, dims)
    if bn_weight is not None:
        z = z * _channel_view(bn_weight, dims) + _channel_view(bn_bias, dims)
    return z, mean, invstd


def _conv_forward(x, weight, bias, geometry, band_args, backend, plan):
    if x.dim() == 3:
        return conv1d_op.conv1d_impl(x, weight, bias, geometry, *band_args, backend, plan)
    return conv2d_op.conv2d_impl(x, weight, bias, geometry, *band_args, backend, plan)


def _output_from_kept(kept, weight, bias, x_shape, geometry, backend, plan):
    if len(x_shape) == 3:
        geo = geometry_of(x_shape[2], weight.shape[2], geometry)
        plan_module = conv1d_cpu if plan == "cpu" else conv1d_dense
        return plan_module.output_from_kept(kept, weight, bias, geo, backend)
    geos = geometries_of(x_shape[2:], weight.shape[2:], geometry)
    return conv2d_plan.output_from_kept(kept, weight, bias, geos, backend, plan == "cpu")


def conv_bn_relu_impl(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor],
                      bn_weight: Optional[torch.Tensor], bn_bias: Optional[torch.Tensor],
                      running_mean: Optional[torch.Tensor], running_var: Optional[torch.Tensor],
                      batch_stats: bool, eps: float, geometry: list[int], compress_rate: float,
                      preserve_energy: float, energy_scope: str, frozen_cut: Optional[float],
                      backend: str, plan: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                                        torch.Tensor, torch.Tensor]:
    """(output, kept spectrum, per-sample levels, mean, 1 / sqrt(variance + eps)) of
    relu(bn(conv(x))) with the batch's statistics (``batch_stats``) or the running ones."""
    y, kept, cuts = _conv_forward(x, weight, bias, geometry,
                                  (compress_rate, preserve_energy, energy_scope, frozen_cut),
                                  backend, plan)
    mean = invstd = None
    if not batch_stats:
        mean, invstd = running_mean.clone(), torch.rsqrt(running_var + eps)
    z, mean, invstd = _normalized(y, batch_stats, mean, invstd, eps, bn_weight, bn_bias)
    return torch.relu(z), kept, cuts, mean, invstd


conv_bn_relu_op = torch.library.custom_op(
    "bandts::conv_bn_relu", mutates_args=())(conv_bn_relu_impl)


@conv_bn_relu_op.register_fake
def _conv_bn_relu_fake(x, weight, bias, bn_weight, bn_bias, running_mean, running_var,
                       batch_stats, eps, geometry, compress_rate, preserve_energy, energy_scope,
                       frozen_cut, backend, plan):
    fake = conv1d_op.conv1d_fake if x.dim() == 3 else conv2d_op.conv2d_fake
    out, kept, cuts = fake(x, weight, bias, geometry, compress_rate, preserve_energy,
                           energy_scope, frozen_cut, backend, plan)
    stats = x.new_empty(weight.shape[0])
    return out, kept, cuts, stats, stats.clone()


def conv_bn_relu_backward_impl(
        grad_out: torch.Tensor, kept: torch.Tensor, weight: torch.Tensor,
        bias: Optional[torch.Tensor], cuts: torch.Tensor, bn_weight: Optional[torch.Tensor],
        bn_bias: Optional[torch.Tensor], mean: torch.Tensor, invstd: torch.Tensor,
        batch_stats: bool, eps: float, x_shape: list[int], geometry: list[int], need_x: bool,
        need_weight: bool, need_bias: bool, need_bn_weight: bool, need_bn_bias: bool,
        backend: str, plan: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                          torch.Tensor, torch.Tensor]:
    """Gradients of x, weight, bias, bn_weight and bn_bias (empty where not needed): the
    convolution's output is recomputed from the kept spectrum, then the ReLU, batch-norm and
    convolution backward passes run in turn."""
    # Three full-size buffers at most besides grad_out: y (then x_hat, in place), z (then the
    # gradient, in place) and one product for a per-channel sum.
    y = _output_from_kept(kept, weight, bias, x_shape, geometry, backend, plan)
    z, _, _ = _normalized(y, batch_stats, mean, invstd, eps, bn_weight, bn_bias)
    grad = torch.ops.aten.threshold_backward.grad_input(grad_out, z, 0, grad_input=z)  # ReLU
    del z
    per_channel = (1, -1, *([1] * (y.dim() - 2)))
    dims = [0, *range(2, y.dim())]
    x_hat = y.sub_(mean.view(per_channel)).mul_(invstd.view(per_channel))
    grad_bn_bias = grad.sum(dims)
    grad_bn_weight = (grad * x_hat).sum(dims)
    if batch_stats:  # the batch's mean and variance depend on y too
        count = grad.numel() // grad.shape[1]
        grad.addcmul_(x_hat, grad_bn_weight.view(per_channel), value=-1.0 / count)
        grad.sub_(grad_bn_bias.view(per_channel), alpha=1.0 / count)
    del x_hat, y
    scale = invstd if bn_weight is None else bn_weight * invstd
    grad_y = grad.mul_(scale.view(per_channel))
    if len(x_shape) == 3:
        grads = conv1d_op.conv1d_backward_impl(grad_y, kept, weight, cuts, x_shape[2], geometry,
                                               need_x, need_weight, need_bias, backend, plan)
    else:
        grads = conv2d_op.conv2d_backward_impl(grad_y, kept, weight, cuts, list(x_shape[2:]),
                                               geometry, need_x, need_weight, need_bias,
                                               backend, plan)
    empty = grad_out.new_empty(0)
    return (*grads, grad_bn_weight if need_bn_weight else empty,
            grad_bn_bias if need_bn_bias else empty)


conv_bn_relu_backward_op = torch.library.custom_op(
    "bandts::conv_bn_relu_backward", mutates_args=())(conv_bn_relu_backward_impl)


@conv_bn_relu_backward_op.register_fake
def _conv_bn_relu_backward_fake(grad_out, kept, weight, bias, cuts, bn_weight, bn_bias, mean, invstd,
                                batch_stats, eps, x_shape, geometry, need_x, need_weight,
                                need_bias, need_bn_weight, need_bn_bias, backend, plan):
    def maybe(shape, need):
        return grad_out.new_empty(shape if need else (0,))

    return (maybe(x_shape, need_x), maybe(weight.shape, need_weight),
            maybe((weight.shape[0],), need_bias),
            maybe((weight.shape[0],), need_bn_weight), maybe((weight.shape[0],), need_bn_bias))


def _setup_context(ctx, inputs, output):
    x, weight, bias, bn_weight, bn_bias, _, _, batch_stats, eps, geometry, *_, backend, plan = \
        inputs
    _, kept, cuts, mean, invstd = output
    # Returned for bookkeeping (running statistics, kept bins), never differentiated.
    ctx.mark_non_differentiable(kept, cuts, mean, invstd)
    ctx.save_for_backward(kept, weight, bias, cuts, bn_weight, bn_bias, mean, invstd)
    ctx.settings = (batch_stats, eps, list(x.shape), geometry)
    ctx.backend, ctx.plan = backend, plan
    ctx.set_materialize_grads(False)


def _backward(ctx, grad_out, _grad_kept, _grad_cuts, _grad_mean, _grad_invstd):
    if torch.is_grad_enabled():
        raise RuntimeError("double backward (create_graph=True) through the fused band-limited "
                           "block is not supported; build the model with unfused layers "
                           "(BandLimitedConv1d/2d, nn.BatchNorm, nn.ReLU) for it")
    kept, weight, bias, cuts, bn_weight, bn_bias, mean, invstd = ctx.saved_tensors
    needs = ctx.needs_input_grad[:5]
    if grad_out is None or not any(needs):
        return (None,) * 16
    needs = (needs[0], needs[1], needs[2] and bias is not None, needs[3] and bn_weight is not None,
             needs[4] and bn_bias is not None)
    grads = torch.ops.bandts.conv_bn_relu_backward(
        grad_out.contiguous(), kept, weight, bias, cuts, bn_weight, bn_bias, mean, invstd,
        *ctx.settings, *needs, ctx.backend, ctx.plan)
    return (*(g if need else None for g, need in zip(grads, needs)),) + (None,) * 11


conv_bn_relu_op.register_autograd(_backward, setup_context=_setup_context)


def conv_bn_relu_with_band(x, weight, bias, bn_weight, bn_bias, running_mean, running_var,
                           batch_stats: bool, eps: float, stride, padding, band: Band, fft_size,
                           backend: str, plan: str):
    """``relu(batch_norm(conv(x)))`` by ``bandts::conv_bn_relu``, keeping only the compressed
    input spectrum (and two values per channel) for backward.

    Args:
        x: (N, C, W) or (N, C, H, W); the batch axis is required (batch normalisation).
        weight, bias: the band-limited convolution's parameters.
        bn_weight, bn_bias: the batch norm's affine parameters, or None.
        running_mean, running_var: used when ``batch_stats`` is False (never modified here).
        batch_stats: normalise with the batch's statistics (training) or the running ones.
        stride, padding, band, fft_size, backend, plan: as in the band-limited convolutions.

    Returns:
        (output, mean, 1 / sqrt(variance + eps), :class:`ConvReport` or None inside compiled
        code); the statistics are the batch's (biased variance) or, without ``batch_stats``,
        the running ones.
    """
    if torch.jit.is_tracing() or torch.jit.is_scripting():
        raise RuntimeError(TORCHSCRIPT_UNSUPPORTED)
    dims = weight.dim() - 2
    x, unbatched = check_tensors(x, weight, bias, dims)
    if unbatched or x.shape[0] == 0:
        raise ValueError(f"a band-limited block needs a non-empty batch (N, C, ...), got shape "
                         f"{tuple(x.shape)}")
    geos = resolve_geometry(tuple(x.shape[2:]), tuple(weight.shape[2:]), stride, padding,
                            fft_size)
    geometry = (conv1d_op.geometry_args(geos[0]) if dims == 1
                else conv2d_op.geometry_args(geos))
    out, kept, _, mean, invstd = conv_bn_relu_op(
        x, weight, bias, bn_weight, bn_bias, running_mean, running_var, batch_stats, eps,
        geometry, band.compress_rate, band.preserve_energy, band.energy_scope, band.frozen_cut,
        resolve_backend(backend, x.device), resolve_plan(plan, x.device))
    report = None
    if not torch.compiler.is_compiling():
        count = kept.shape[0]
        if dims == 1:
            report = ConvReport(count, geos[0].n_bins, count, geos[0].n_bins)
        else:
            geo_h, geo_w = geos
            report = ConvReport(count, geo_h.fft_len * geo_w.n_bins,
                                conv2d_plan.level_of_count(geo_h, geo_w, count),
                                max(geo_h.n_bins, geo_w.n_bins))
    return out, mean, invstd, report
