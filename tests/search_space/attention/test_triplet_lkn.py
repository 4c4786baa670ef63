"""TripletLKN (report 003, §三(一)3, 图15, 表2): LKA's depthwise local and dilated convs over the collapsed
maps and a learned 1x1 compression in place of the z-pool; its +0.97M on ResNet-50 fixes the kernels."""
import torch
import torch.nn.functional as F

from search_space import ArchConfig
from search_space.cost import estimate_cost


def test_branch_is_lka_with_a_learned_compression_of_the_collapsed_dimension(make):
    m = make("triplet_lkn", 6, 9, 8).train()
    for p in m.parameters():
        torch.nn.init.normal_(p)
    x = torch.randn(2, 6, 9, 8)
    b = m.branches[2]                                                    # collapses C: Z = 6
    u = F.conv2d(x, b.local.weight, b.local.bias, padding=1, groups=6)                   # 3x3 depthwise
    u = F.conv2d(u, b.dilated.weight, b.dilated.bias, padding=6, dilation=2, groups=6)   # 7x7 dw, dilation 2
    want = torch.sigmoid(b.bn(torch.relu(F.conv2d(u, b.compress.weight))))            # 1x1 Z -> 1, act, BN
    torch.testing.assert_close(b(x), want)
    assert [br.compress.in_channels for br in m.branches] == [9, 8, 6]                 # H, W, C collapsed
    assert m(x).shape == x.shape


def test_parameters_are_61_per_collapsed_channel(make):
    m = make("triplet_lkn", 6, 9, 8)
    assert sum(p.numel() for p in m.parameters()) == 61 * (6 + 9 + 8) + 3 * 2


def test_adds_the_reports_097M_to_resnet50():
    """表2: TripletLKN 23.49M vs Triplet 22.52M on the same ResNet-50 (+0.97M)."""
    base = {"backbone": {"type": "resnet", "depth": 50}, "num_classes": 100, "input_size": [3, 224, 224],
            "attention": {"type": "triplet", "act": "relu"}, "stage_mask": [True] * 4}
    lkn = {**base, "attention": {"type": "triplet_lkn"}}
    delta = estimate_cost(ArchConfig.from_dict(lkn)).params - estimate_cost(ArchConfig.from_dict(base)).params
    assert abs(delta - 0.97e6) < 0.01e6                                # both counts printed to 0.01M
