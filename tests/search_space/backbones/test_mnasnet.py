"""MnasNet: torchvision-exact parameters and MACs, the DCA paper's SE-MnasNet-1.0, insertion points."""
import pytest
import torch

from search_space import ArchConfig, build_model
from search_space.attention.se import SqueezeExcite

IMAGENET = {"num_classes": 1000, "input_size": [3, 224, 224]}


@pytest.mark.parametrize("width, expected", [(0.5, 2_218_512), (1.0, 4_383_312)])
def test_equals_torchvision(n_params, width, expected):
    assert n_params({"backbone": {"type": "mnasnet", "width": width}, **IMAGENET}) == expected


def test_macs_match_torchvision(macs):
    # torchvision lists 0.31 GFLOPs (multiply-adds); counts of conv + linear MACs run 312-315M
    assert 312e6 * 0.98 <= macs({"backbone": {"type": "mnasnet"}, **IMAGENET}) <= 315e6 * 1.02


def test_se_mnasnet_matches_dca_paper(n_params, modules):
    # DCA paper (002) Table 1: SE-Mnas1_0 has 4.42M parameters: SE r=16 after each of the 16 blocks' projection
    data = {"backbone": {"type": "mnasnet"}, "attention": {"type": "se", "reduction": 16}, **IMAGENET}
    assert n_params(data) == pytest.approx(4.42e6, rel=0.01)
    assert [m.fc1.in_channels for m in modules(data, SqueezeExcite)] == [24] * 3 + [40] * 3 + [80] * 3 + \
        [96] * 2 + [192] * 4 + [320]


def test_post_dw_and_mask(modules):
    data = {"backbone": {"type": "mnasnet"}, "attention": {"type": "se"}, "insertion_point": "post_dw",
            "stage_mask": [1, 0, 0, 0, 0, 1], **IMAGENET}
    assert [m.fc1.in_channels for m in modules(data, SqueezeExcite)] == [48, 72, 72, 1152]


def test_depthwise_kernels_and_bn_momentum(modules):
    data = {"backbone": {"type": "mnasnet"}, **IMAGENET}
    dw = [c for c in modules(data, torch.nn.Conv2d) if c.groups > 1 and c.groups == c.in_channels]
    assert [c.kernel_size[0] for c in dw] == [3] + [3] * 3 + [5] * 3 + [5] * 3 + [3] * 2 + [5] * 4 + [3]
    assert all(bn.momentum == pytest.approx(3e-4) for bn in modules(data, torch.nn.BatchNorm2d))


@pytest.mark.parametrize("size", [32, 64])
def test_forward_shapes(size):
    arch = ArchConfig.from_dict({"backbone": {"type": "mnasnet", "width": 0.25}, "num_classes": 4,
                                 "input_size": [3, size, size]})
    assert build_model(arch)(torch.randn(2, 3, size, size)).shape == (2, 4)
