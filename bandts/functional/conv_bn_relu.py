"""Band-limited convolution, batch normalisation and ReLU as one operator that keeps only
compressed spectra and a bit mask for backward.

In ``conv -> BatchNorm -> ReLU`` the batch norm keeps its whole input for backward (the
convolution's full-length output) and the ReLU its output or a mask: for a band-limited
convolution, whose own saved state is the compressed input spectrum, those two are most of what
the block keeps. But the convolution's output y is band-limited: y = S(Y), S the synthesis from
its kept spectrum Y. The block keeps Y instead of y, the ReLU's mask as bits, and two numbers
per channel; backward never rebuilds y. It pays off wherever activation memory bounds the batch
or the model, and its values and gradients are those of the unfused block.

Backward works on the kept spectra. With g the gradient after the ReLU (the incoming gradient
where the mask is set), x_hat = (y - mean) / sqrt(var + eps), s = gamma / sqrt(var + eps) and n
values per channel, the gradient at the convolution's output is s (g - a x_hat - b) with
a = sum(g x_hat) / n and b = sum(g) / n (training; s g with running statistics). The
convolution's backward needs only its kept spectrum D = P(.), P the adjoint of S:

- P(g) is one transform of g (on the CPU plan a slice of the batch at a time, so no
  temporary of the output's size is made);
- sum(g x_hat) = <P(g), Y_c> / sqrt(var + eps), Y_c the spectrum of y - mean (Y with the mean
  taken off its DC bin), because P is S's adjoint;
- a x_hat + b = S(Z) with Z = a Y_c / sqrt(var + eps) plus b in the DC bin, so
  P(a x_hat + b) = P(S(Z)): on the 1D CPU plan one small (2 keep, 2 keep) product.

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
from bandts.functional.bits import packed_bits, unpacked_bits
from bandts.functional.chunks import chunk_ranges
from bandts.functional.conv1d_op import geometry_of
from bandts.functional.conv2d_op import geometries_of
from bandts.functional.geometry import resolve_geometry
from bandts.functional.inputs import TORCHSCRIPT_UNSUPPORTED, ConvReport, check_tensors
from bandts.functional.plans import resolve_plan

# Backward on the CPU plan transforms the gradient a slice of the batch at a time, each slice of
# the output holding at most this many bytes. The accelerator plan takes the whole batch at once
# (few large operations).
SLICE_BYTES = 2 * 2**20


class _Convolution:
    """The plan functions of one call's convolution (1D on either plan, or 2D) bound to its
    geometry, so that the block is written once for all of them."""

    def __init__(self, x_shape, weight_shape, geometry, backend: str, plan: str):
        self.backend, self.chunked = backend, plan == "cpu"
        self.dims = len(x_shape) - 2
        if self.dims == 1:
            self.geo = geometry_of(x_shape[2], weight_shape[2], geometry)
            self.plan = conv1d_cpu if plan == "cpu" else conv1d_dense
            self.plan_args = ()
            self.out_size = (self.geo.out_len,)
        else:
            self.geo = geometries_of(x_shape[2:], weight_shape[2:], geometry)
            self.plan = conv2d_plan
            self.plan_args = (self.chunked,)
            self.out_size = tuple(geo.out_len for geo in self.geo)
        # The batch axis of the spectra: (keep, 2, N, ·) split-complex on the 1D CPU plan,
        # (keep, N, ·) complex otherwise.
        self.batch_axis = 2 if self.dims == 1 and plan == "cpu" else 1

    def kept_input(self, x, band: Band):
        return self.plan.kept_input(x, self.geo, band)

    def output_spectrum(self, kept, weight, bias):
        return self.plan.output_spectrum(kept, weight, bias, self.geo, self.backend,
                                         *self.plan_args)

    def output_of(self, spectrum):
        return self.plan.output_of_spectrum(spectrum, self.geo)

    def grad_spectrum(self, grad_out, keep: int):
        return self.plan.output_grad_spectrum(grad_out, keep, self.geo)

    def add_constant(self, spectrum, values):
        self.plan.add_constant(spectrum, values, self.geo)

    def project(self, spectrum):
        return self.plan.project(spectrum, self.geo)

    def output_inner(self, grad_spectrum, spectrum):
        return self.plan.output_inner(grad_spectrum, spectrum, self.geo)

    def backward_from(self, grad_spectrum, kept, weight, cuts, needs):
        return self.plan.backward_from_spectrum(grad_spectrum, kept, weight, cuts, self.geo,
                                                needs, self.backend, *self.plan_args)


def _per_channel(values: torch.Tensor, dims: int) -> torch.Tensor:
    return values.view(1, -1, *([1] * dims))


def _affine(mean, invstd, bn_weight, bn_bias):
    """(scale, shift) per channel with batch_norm(y) = scale y + shift."""
    scale = invstd if bn_weight is None else invstd * bn_weight
    if bn_bias is None:
        return scale, -mean * scale
    return scale, torch.addcmul(bn_bias, mean, scale, value=-1.0)


def _batch_statistics(y: torch.Tensor):
    """(biased variance, mean) per channel of y (N, C, ...)."""
    if y.device.type == "cpu":
        # torch's batch-norm statistics kernel: the values nn.BatchNorm computes, and several
        # times faster on the CPU than var_mean over the batch and spatial axes.
        mean, var = torch.ops.aten.batch_norm_update_stats(y, None, None, 0.0)
        return var, mean
    return torch.var_mean(y, [0, *range(2, y.dim())], correction=0)


def _relu_mask(out: torch.Tensor, conv: _Convolution) -> torch.Tensor:
    """Where the output is positive: bits, eight to a byte, on the CPU plan; a bool per value on
    the accelerator plan, where packing would cost launches."""
    positive = out > 0
    return packed_bits(positive) if conv.chunked else positive


def conv_bn_relu_impl(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor],
                      bn_weight: Optional[torch.Tensor], bn_bias: Optional[torch.Tensor],
                      running_mean: Optional[torch.Tensor], running_var: Optional[torch.Tensor],
                      batch_stats: bool, eps: float, geometry: list[int], compress_rate: float,
                      preserve_energy: float, energy_scope: str, frozen_cut: Optional[float],
                      backend: str, plan: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                                        torch.Tensor, torch.Tensor, torch.Tensor,
                                                        torch.Tensor]:
    """(output, kept input spectrum, per-sample levels, kept output spectrum, ReLU mask bits,
    mean, 1 / sqrt(variance + eps)) of relu(bn(conv(x))) with the batch's statistics (biased
    variance) when ``batch_stats``, else the running ones."""
    conv = _Convolution(x.shape, weight.shape, geometry, backend, plan)
    band = Band(compress_rate, preserve_energy, energy_scope, frozen_cut)
    kept, cuts = conv.kept_input(x, band)
    spectrum = conv.output_spectrum(kept, weight, bias)
    y = conv.output_of(spectrum)
    if batch_stats:
        var, mean = _batch_statistics(y)
    else:
        var, mean = running_var, running_mean.clone()
    invstd = torch.rsqrt(var + eps)
    scale, shift = _affine(mean, invstd, bn_weight, bn_bias)
    out = torch.addcmul(_per_channel(shift, conv.dims), y, _per_channel(scale, conv.dims),
                        out=y).relu_()
    return out, kept, cuts, spectrum, _relu_mask(out, conv), mean, invstd


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
    spectrum = kept.new_empty(*kept.shape[:-1], weight.shape[0])
    if plan == "cpu":
        mask = x.new_empty(-(-out.numel() // 8), dtype=torch.uint8)
    else:
        mask = out.new_empty(out.shape, dtype=torch.bool)
    return out, kept, cuts, spectrum, mask, stats, stats.clone()


def _batch_slices(conv: _Convolution, grad_out: torch.Tensor) -> list:
    if not conv.chunked:
        return [(0, grad_out.shape[0])]
    return chunk_ranges(grad_out.shape[0], grad_out[0].numel(), grad_out.dtype,
                        max_bytes=SLICE_BYTES)


def _relu_gradient(grad_out, mask, start: int, stop: int) -> torch.Tensor:
    """g: the gradient after the ReLU for samples start..stop-1 (grad_out where the mask is
    set)."""
    if mask.dtype == torch.bool:
        return grad_out[start:stop] * mask[start:stop]
    per_sample = grad_out[0].numel()
    if per_sample % 8 == 0:  # the slice's bits are whole bytes
        bits = unpacked_bits(mask[start * per_sample // 8:stop * per_sample // 8],
                              (stop - start) * per_sample)
    else:
        bits = unpacked_bits(mask, grad_out.numel())[start * per_sample:stop * per_sample]
    return grad_out[start:stop] * bits.view(stop - start, *grad_out.shape[1:])


def _relu_gradient_spectrum(conv, grad_out, mask, spectrum):
    """(P(g), sum(g)) over the batch, a slice of it at a time on the CPU plan."""
    reduced = [0, *range(2, grad_out.dim())]
    keep, axis = spectrum.shape[0], conv.batch_axis
    slices = _batch_slices(conv, grad_out)
    if len(slices) == 1:
        g = _relu_gradient(grad_out, mask, 0, grad_out.shape[0])
        return conv.grad_spectrum(g, keep), g.sum(reduced)
    grad_spectrum = spectrum.new_empty(spectrum.shape)
    sum_g = grad_out.new_zeros(grad_out.shape[1])
    for start, stop in slices:
        g = _relu_gradient(grad_out, mask, start, stop)
        sum_g += g.sum(reduced)
        grad_spectrum.narrow(axis, start, stop - start).copy_(conv.grad_spectrum(g, keep))
    return grad_spectrum, sum_g


def _output_grad_spectrum(conv, grad_out, spectrum, mask, mean, invstd, bn_weight,
                          batch_stats: bool, need_bn_weight: bool):
    """(D, sum(g), sum(g x_hat) or None): the kept spectrum of the gradient at the
    convolution's output, and the gradients of the batch norm's bias and weight (module
    docstring)."""
    grad_spectrum, sum_g = _relu_gradient_spectrum(conv, grad_out, mask, spectrum)
    sum_g_x_hat = None
    if batch_stats or need_bn_weight:
        centred = spectrum.clone()
        conv.add_constant(centred, -mean)
        sum_g_x_hat = invstd * conv.output_inner(grad_spectrum, centred)
    if batch_stats:  # the batch's mean and variance depend on the output too
        count = grad_out.numel() // grad_out.shape[1]
        a, b = sum_g_x_hat / count, sum_g / count
        z = centred.mul_(a * invstd)
        conv.add_constant(z, b)
        grad_spectrum.sub_(conv.project(z))
    scale = invstd if bn_weight is None else invstd * bn_weight
    return grad_spectrum.mul_(scale), sum_g, sum_g_x_hat


def conv_bn_relu_backward_impl(
        grad_out: torch.Tensor, kept: torch.Tensor, spectrum: torch.Tensor, mask: torch.Tensor,
        weight: torch.Tensor, cuts: torch.Tensor, bn_weight: Optional[torch.Tensor],
        mean: torch.Tensor, invstd: torch.Tensor,
        batch_stats: bool, x_shape: list[int], geometry: list[int], need_x: bool,
        need_weight: bool, need_bias: bool, need_bn_weight: bool, need_bn_bias: bool,
        backend: str, plan: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                          torch.Tensor, torch.Tensor]:
    """Gradients of x, weight, bias, bn_weight and bn_bias (empty where not needed), from the
    kept output spectrum (see the module docstring)."""
    conv = _Convolution(x_shape, weight.shape, geometry, backend, plan)
    grad_spectrum, sum_g, sum_g_x_hat = _output_grad_spectrum(
        conv, grad_out, spectrum, mask, mean, invstd, bn_weight, batch_stats, need_bn_weight)
    grads = conv.backward_from(grad_spectrum, kept, weight, cuts,
                               (need_x, need_weight, need_bias))
    empty = grad_out.new_empty(0)
    return (*(g.contiguous() if g is not None else empty for g in grads),
            sum_g_x_hat if need_bn_weight else empty, sum_g if need_bn_bias else empty)


conv_bn_relu_backward_op = torch.library.custom_op(
    "bandts::conv_bn_relu_backward", mutates_args=())(conv_bn_relu_backward_impl)


@conv_bn_relu_backward_op.register_fake
def _conv_bn_relu_backward_fake(grad_out, kept, spectrum, mask, weight, cuts, bn_weight, mean,
                                invstd, batch_stats, x_shape, geometry, need_x, need_weight,
                                need_bias, need_bn_weight, need_bn_bias, backend, plan):
    def maybe(shape, need):
        return grad_out.new_empty(shape if need else (0,))

    return (maybe(x_shape, need_x), maybe(weight.shape, need_weight),
            maybe((weight.shape[0],), need_bias),
            maybe((weight.shape[0],), need_bn_weight), maybe((weight.shape[0],), need_bn_bias))


def _setup_context(ctx, inputs, output):
    x, weight, bias, bn_weight, bn_bias, _, _, batch_stats, _, geometry, *_, backend, plan = \
        inputs
    _, kept, cuts, spectrum, mask, mean, invstd = output
    # Returned for bookkeeping (running statistics, kept bins) and backward, never differentiated.
    ctx.mark_non_differentiable(kept, cuts, spectrum, mask, mean, invstd)
    ctx.save_for_backward(kept, spectrum, mask, weight, cuts, bn_weight, mean, invstd)
    ctx.has_bn_bias = bn_bias is not None
    ctx.settings = (batch_stats, list(x.shape), geometry)
    ctx.has_bias = bias is not None
    ctx.backend, ctx.plan = backend, plan
    ctx.set_materialize_grads(False)


def _backward(ctx, grad_out, *_grads_of_bookkeeping):
    if torch.is_grad_enabled():
        raise RuntimeError("double backward (create_graph=True) through the fused band-limited "
                           "block is not supported; build the model with unfused layers "
                           "(BandLimitedConv1d/2d, nn.BatchNorm, nn.ReLU) for it")
    kept, spectrum, mask, weight, cuts, bn_weight, mean, invstd = ctx.saved_tensors
    needs = ctx.needs_input_grad[:5]
    if grad_out is None or not any(needs):
        return (None,) * 16
    needs = (needs[0], needs[1], needs[2] and ctx.has_bias, needs[3] and bn_weight is not None,
             needs[4] and ctx.has_bn_bias)
    grads = torch.ops.bandts.conv_bn_relu_backward(
        grad_out.contiguous(), kept, spectrum, mask, weight, cuts, bn_weight, mean, invstd,
        *ctx.settings, *needs, ctx.backend, ctx.plan)
    return (*(g if need else None for g, need in zip(grads, needs)),) + (None,) * 11


conv_bn_relu_op.register_autograd(_backward, setup_context=_setup_context)


def conv_bn_relu_with_band(x, weight, bias, bn_weight, bn_bias, running_mean, running_var,
                           batch_stats: bool, eps: float, stride, padding, band: Band, fft_size,
                           backend: str, plan: str):
    """``relu(batch_norm(conv(x)))`` by ``bandts::conv_bn_relu``, keeping only the compressed
    input and output spectra, the ReLU's mask as bits and two values per channel for backward.

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
    out, kept, _, _, _, mean, invstd = conv_bn_relu_op(
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
