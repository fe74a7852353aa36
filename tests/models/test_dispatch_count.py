"""Operations dispatched by one FCN training step on the meta device: the CPU-checkable proxy for
kernel launches on a GPU (the accelerator plan runs there and on meta alike)."""

import collections

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from bandts.functional import Band, conv1d_op, conv_bn_relu
from bandts.models import FCN

# A custom operator is one dispatch from outside; count what its implementation runs instead.
IMPLEMENTATIONS = {"bandts::conv1d": conv1d_op.conv1d_impl,
                   "bandts::conv1d_backward": conv1d_op.conv1d_backward_impl,
                   "bandts::conv_bn_relu": conv_bn_relu.conv_bn_relu_impl,
                   "bandts::conv_bn_relu_backward": conv_bn_relu.conv_bn_relu_backward_impl}


class CountOps(TorchDispatchMode):
    """Counts every aten operation, looking inside bandts' operators."""

    def __init__(self):
        super().__init__()
        self.counts = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        implementation = IMPLEMENTATIONS.get(func._schema.name)
        assert implementation is not None or func.namespace != "bandts", func  # count them all
        if implementation is not None:
            with self:
                return implementation(*args, **kwargs)
        self.counts[str(func.overloadpacket)] += 1
        return func(*args, **kwargs)


def ops_per_training_step(conv: str, band: Band = None, batch=64, length=1024) -> int:
    """aten operations of one forward and backward of the FCN (50 classes) on meta tensors,
    counted on the second step (the first builds the cached DFT matrices)."""
    model = FCN(1, 50, conv=conv, band=band).to("meta")
    x = torch.randn(batch, 1, length, device="meta")
    y = torch.zeros(batch, dtype=torch.long, device="meta")
    for _ in range(2):
        model.zero_grad(set_to_none=True)
        with CountOps() as counter:
            torch.nn.functional.cross_entropy(model(x), y).backward()
    return sum(counter.counts.values())


def test_band_limited_training_step_dispatches_at_most_5x_the_direct_one():
    direct = ops_per_training_step("direct")
    band_limited = ops_per_training_step("fft", Band(compress_rate=0.5))
    assert 40 <= direct <= 100  # conv, batch norm, relu, pooling, linear, loss and their backward
    assert band_limited <= 5 * direct, (band_limited, direct)


def test_the_count_sees_inside_the_operators():
    # Without looking inside, the three layers would count as a handful of operations.
    assert ops_per_training_step("fft", Band(compress_rate=0.5)) > \
        ops_per_training_step("direct") + 3 * 10
