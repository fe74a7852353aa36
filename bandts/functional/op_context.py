"""What the band-limited operators keep for their backward (shared by 1D and 2D)."""


def save_conv_context(ctx, inputs, output) -> None:
    """``setup_context`` of ``bandts::conv1d`` / ``conv2d``: saves the kept spectrum, the weight
    and the per-sample levels (the activations backward needs, nothing else) and the settings."""
    x, weight, bias, geometry, *_, backend, plan = inputs
    _, kept, cuts = output
    ctx.save_for_backward(kept, weight, cuts)
    ctx.x_shape = tuple(x.shape)
    ctx.geometry, ctx.backend, ctx.plan = geometry, backend, plan
    ctx.has_bias = bias is not None
    ctx.set_materialize_grads(False)  # a gradient of the kept spectrum arrives only in double backward
