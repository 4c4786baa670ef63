"""TripletLKN (report 003, Sec. 3.3): LKA decomposition in place of the triplet 7x7 conv."""
import torch
import torch.nn.functional as F

from search_space.attention.triplet import zpool


def test_triplet_lkn_branch_is_lka_on_the_zpool(make):
    m = make("triplet_lkn", 6)
    x = torch.randn(2, 6, 9, 8)
    b = m.branches[2]
    z = zpool(x, ("max", "avg"))
    z = F.conv2d(z, b.local.weight, b.local.bias, padding=2, groups=2)                     # 5x5 depthwise
    z = F.conv2d(z, b.dilated.weight, b.dilated.bias, padding=9, dilation=3, groups=2)   # 7x7 dw, dilation 3
    z = F.conv2d(z, b.pointwise.weight)                                                  # 1x1 across stats
    torch.testing.assert_close(b(x), torch.sigmoid(b.bn(z)))
    assert b.local.kernel_size == (5, 5) and b.dilated.dilation == (3, 3) and m(x).shape == x.shape
