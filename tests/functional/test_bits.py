"""Bool tensors packed as bits (bandts.functional.bits) read back exactly."""

import pytest
import torch

from bandts.functional.bits import packed_bits, unpacked_bits


@pytest.mark.parametrize("numel", [1, 7, 8, 9, 64, 1001])
def test_bits_round_trip(numel):
    torch.manual_seed(numel)
    values = torch.randn(numel) > 0
    packed = packed_bits(values)
    assert packed.dtype == torch.uint8 and packed.numel() == -(-numel // 8)
    assert torch.equal(unpacked_bits(packed, numel), values)
    if numel >= 16:  # the bits of whole bytes unpack alone
        assert torch.equal(unpacked_bits(packed[1:2], 8), values[8:16])


def test_bits_are_in_order_eight_to_a_byte():
    values = torch.tensor([1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1], dtype=torch.bool)
    assert packed_bits(values).tolist() == [0b10000000, 0b01100001]
    assert packed_bits(torch.ones(64, dtype=torch.bool)).tolist() == [255] * 8
