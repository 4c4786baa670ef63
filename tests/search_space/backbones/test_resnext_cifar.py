"""CIFAR ResNeXt-29: the ResNeXt paper's counts (Table 7) and the FA paper's 8x16d with and without SE."""
import pytest
import torch

from search_space import ArchConfig, build_model
from search_space.attention.se import SqueezeExcite
from search_space.errors import AttnasError


@pytest.mark.parametrize("cardinality, base_width, published", [(8, 64, 34.4e6), (16, 64, 68.1e6)])
def test_resnext29_matches_xie_et_al(n_params, cardinality, base_width, published):
    n = n_params({"backbone": {"type": "resnext_cifar", "cardinality": cardinality, "base_width": base_width}})
    assert n == pytest.approx(published, rel=0.01)


@pytest.mark.parametrize("classes, attention, published", [(10, None, 5.647e6), (100, None, 5.739e6),
                                                           (10, {"type": "se", "reduction": 8}, 6.685e6)])
def test_resnext29_8x16d_matches_fa_paper(n_params, classes, attention, published):
    # FA paper (001) Tables I/II. Its SE-ResNeXt-29 count is SE with reduction 8 at pre_add (r=16 gives 6.16M).
    n = n_params({"backbone": {"type": "resnext_cifar", "cardinality": 8, "base_width": 16},
                  "num_classes": classes, "attention": attention})
    assert n == pytest.approx(published, rel=0.001)


@pytest.mark.parametrize("point", ["pre_add", "post_add"])
def test_every_block_gets_attention_and_mask_is_respected(modules, point):
    data = {"backbone": {"type": "resnext_cifar", "base_width": 16}, "attention": {"type": "se"},
            "insertion_point": point}
    assert sorted({m.fc1.in_channels for m in modules(data, SqueezeExcite)}) == [256, 512, 1024]
    assert len(modules(data, SqueezeExcite)) == 9
    masked = modules({**data, "stage_mask": [0, 1, 0]}, SqueezeExcite)
    assert [m.fc1.in_channels for m in masked] == [512] * 3


def test_grouped_conv_has_cardinality_groups(modules):
    convs = modules({"backbone": {"type": "resnext_cifar", "cardinality": 16, "base_width": 4}}, torch.nn.Conv2d)
    grouped = [c for c in convs if c.groups > 1]
    assert len(grouped) == 9 and all(c.groups == 16 for c in grouped)
    assert [c.in_channels for c in grouped[::3]] == [64, 128, 256]  # 16 groups x 4d, doubling per stage


def test_forward_shape_small():
    arch = ArchConfig.from_dict({"backbone": {"type": "resnext_cifar", "depth": 11, "cardinality": 2,
                                              "base_width": 16, "width": 0.25}, "input_size": [3, 16, 16]})
    assert build_model(arch)(torch.randn(2, 3, 16, 16)).shape == (2, 10)


def test_bad_depth_and_width_teach():
    with pytest.raises(AttnasError, match=r"backbone.depth: 30 .*9n\+2"):
        ArchConfig.from_dict({"backbone": {"type": "resnext_cifar", "depth": 30}})
    with pytest.raises(AttnasError, match="backbone.base_width"):
        ArchConfig.from_dict({"backbone": {"type": "resnext_cifar", "base_width": 1, "width": 0.25}})
