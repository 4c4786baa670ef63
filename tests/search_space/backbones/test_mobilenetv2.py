"""MobileNetV2: torchvision-exact parameters and MACs, the DCA paper's SE-MobileNetV2, insertion points."""
import pytest
import torch

from search_space import ArchConfig, build_model
from search_space.attention.se import SqueezeExcite
from search_space.presets import preset_names

IMAGENET = {"num_classes": 1000, "input_size": [3, 224, 224], "activation": "relu6"}
BLOCK_OUT = [16, 24, 24, 32, 32, 32, 64, 64, 64, 64, 96, 96, 96, 160, 160, 160, 320]
BLOCK_HIDDEN = [32, 96, 144, 144, 192, 192, 192, 384, 384, 384, 384, 576, 576, 576, 960, 960, 960]


def test_equals_torchvision(n_params, macs):
    data = {"backbone": {"type": "mobilenetv2"}, **IMAGENET}
    assert n_params(data) == 3_504_872
    assert macs(data) == pytest.approx(300.8e6, rel=0.02)


def test_se_mobilenetv2_matches_dca_paper(n_params):
    # DCA paper (002) Table 1: SE-MobileNetV2 3.56M = SE with reduction 8 after each block's projection
    # (its code: SELayer(oup, reduction=8) before the residual add). post_dw SE would give 4.07M at r=16.
    n = n_params({"backbone": {"type": "mobilenetv2"}, "attention": {"type": "se", "reduction": 8}, **IMAGENET})
    assert n == pytest.approx(3.56e6, rel=0.01)


@pytest.mark.parametrize("point, widths", [("pre_add", BLOCK_OUT), ("post_add", BLOCK_OUT),
                                           ("post_dw", BLOCK_HIDDEN)])
def test_insertion_points_insert_at_the_right_width(modules, point, widths):
    data = {"backbone": {"type": "mobilenetv2"}, "attention": {"type": "se", "reduction": 8},
            "insertion_point": point, **IMAGENET}
    assert [m.fc1.in_channels for m in modules(data, SqueezeExcite)] == widths


def test_default_point_is_pre_add():
    arch = ArchConfig.from_dict({"backbone": {"type": "mobilenetv2", "width": 0.25}, "attention": {"type": "se", "reduction": 4}})
    assert arch.insertion_point == "pre_add"


def test_stage_mask_covers_the_seven_groups(modules):
    data = {"backbone": {"type": "mobilenetv2"}, "attention": {"type": "se", "reduction": 8},
            "stage_mask": [0, 0, 0, 1, 0, 0, 1], **IMAGENET}
    assert [m.fc1.in_channels for m in modules(data, SqueezeExcite)] == [64] * 4 + [320]


def test_width_multiplier_rounds_to_eight(modules):
    convs = modules({"backbone": {"type": "mobilenetv2", "width": 0.35}, **IMAGENET}, torch.nn.Conv2d)
    assert all(c.out_channels % 8 == 0 for c in convs)
    assert convs[-1].out_channels == 1280  # the last conv is never narrowed


@pytest.mark.parametrize("size", [32, 64])
def test_forward_shapes(size):
    arch = ArchConfig.from_dict({"backbone": {"type": "mobilenetv2", "width": 0.25}, "num_classes": 5,
                                 "input_size": [3, size, size]})
    assert build_model(arch)(torch.randn(2, 3, size, size)).shape == (2, 5)


def test_presets_exist():
    assert {"mobilenetv2", "se-mobilenetv2"} <= set(preset_names())
