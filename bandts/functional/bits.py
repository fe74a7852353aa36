"""Bool tensors stored as bits, eight values to a byte (the fused block's ReLU mask).

One int64 multiply packs or spreads eight values: eight bytes of 0 / 1 (one word) times the
constant 0x8040201008040201 hold their bits, byte i at bit 63 - i, in the top byte; one byte times
it holds its bit 7 - i at bit 8 i + 7. The partial products never share a bit position, so no
carry disturbs either, and packing and unpacking agree whatever the byte order of the machine.
"""

import torch

# 0x8040201008040201 as a signed int64 (torch's integer scalars are signed).
_SPREAD = 0x8040201008040201 - 2**64
_LOW_BITS = 0x0101010101010101


def packed_bits(values: torch.Tensor) -> torch.Tensor:
    """A bool tensor as (ceil(numel / 8),) uint8, eight values to a byte, the first in the
    highest bit."""
    flat = values.reshape(-1)
    if flat.numel() % 8:
        flat = torch.cat([flat, flat.new_zeros(-flat.numel() % 8)])
    words = flat.view(torch.int64)
    return torch.bitwise_and(torch.bitwise_right_shift(words * _SPREAD, 56), 0xFF).to(torch.uint8)


def unpacked_bits(packed: torch.Tensor, count: int) -> torch.Tensor:
    """The first ``count`` values of :func:`packed_bits`' bytes, as a (count,) bool tensor; a
    slice of whole bytes unpacks alone."""
    spread = torch.bitwise_right_shift(packed.to(torch.int64) * _SPREAD, 7)
    return spread.bitwise_and_(_LOW_BITS).view(torch.bool)[:count]
