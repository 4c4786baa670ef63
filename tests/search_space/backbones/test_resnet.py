"""ResNet family: parameter counts equal torchvision / the original papers, MACs of ResNet-50 ~ 4.1 G."""
import pytest
import torch

from search_space import ArchConfig, build_model
from search_space.backbones.resnet_blocks import PadShortcut


def n_params(data) -> int:
    with torch.device("meta"):
        model = build_model(ArchConfig.from_dict(data, check_fits=False))
    return sum(p.numel() for p in model.parameters())


IMAGENET = {"num_classes": 1000, "input_size": [3, 224, 224]}


@pytest.mark.parametrize("depth, expected", [(18, 11_689_512), (34, 21_797_672), (50, 25_557_032),
                                             (101, 44_549_160)])
def test_imagenet_resnet_equals_torchvision(depth, expected):
    assert n_params({"backbone": {"type": "resnet", "depth": depth}, **IMAGENET}) == expected


def test_resnext50_32x4d_equals_torchvision():
    assert n_params({"backbone": {"type": "resnet", "depth": 50, "groups": 32, "width_per_group": 4},
                     **IMAGENET}) == 25_028_904


def test_se_resnet50_matches_senet():
    # Hu et al. 2018, Table 2: SE-ResNet-50 (r = 16) has 28.09 M parameters.
    n = n_params({"backbone": {"type": "resnet", "depth": 50}, "attention": {"type": "se", "reduction": 16}, **IMAGENET})
    assert round(n / 1e6, 2) == 28.09


@pytest.mark.parametrize("depth, published_m", [(20, 0.27), (56, 0.85), (110, 1.7)])
def test_cifar_resnet_matches_he_et_al(depth, published_m):
    n = n_params({"backbone": {"type": "resnet_cifar", "depth": depth}, "num_classes": 10})
    assert round(n / 1e6, 2 if depth < 100 else 1) == published_m


def test_wide_resnet_is_wider():
    base = n_params({"backbone": {"type": "resnet", "depth": 18}, **IMAGENET})
    wide = n_params({"backbone": {"type": "wide_resnet", "depth": 18, "widen": 1.5}, **IMAGENET})
    assert 2.0 < wide / base < 2.3  # conv weights scale with widen^2 = 2.25, the fc only with 1.5


def test_resnet_c_stem_and_d_downsample_change_the_model():
    base = {"backbone": {"type": "resnet", "depth": 50}, **IMAGENET}
    c = {"backbone": {"type": "resnet", "depth": 50, "stem": "deep", "downsample": "avg"}, **IMAGENET}
    model = build_model(ArchConfig.from_dict({**c, "input_size": [3, 64, 64]}))
    pools = [m for m in model.modules() if isinstance(m, torch.nn.AvgPool2d)]
    assert len(pools) == 3  # one per strided stage transition (ResNet-D)
    assert n_params(c) != n_params(base)


def test_option_a_shortcut_is_parameter_free_zero_padding():
    sc = PadShortcut(4, 8, 2)
    x = torch.randn(1, 4, 6, 6)
    y = sc(x)
    assert y.shape == (1, 8, 3, 3)
    assert torch.equal(y[:, :4], x[:, :, ::2, ::2]) and torch.count_nonzero(y[:, 4:]) == 0


@pytest.mark.parametrize("point", ["pre_add", "post_add"])
def test_attention_goes_where_asked(point):
    arch = ArchConfig.from_dict({"backbone": {"type": "resnet_cifar", "depth": 8}, "attention": {"type": "se", "reduction": 4},
                                 "insertion_point": point, "stage_mask": [True, False, True], "input_size": [3, 16, 16]})
    model = build_model(arch)
    blocks = [m for m in model.modules() if type(m).__name__ == "ResidualBlock"]
    has = [type(getattr(b, "attn_pre" if point == "pre_add" else "attn_post")).__name__ == "SqueezeExcite" for b in blocks]
    assert has == [True, False, True]
    other = [type(getattr(b, "attn_post" if point == "pre_add" else "attn_pre")).__name__ for b in blocks]
    assert set(other) == {"Identity"}


def test_cifar_stem_stride_two_for_tiny_imagenet():
    """001 §IV-B: the first 3x3 conv at stride 2 on Tiny-ImageNet, so 64x64 inputs meet CIFAR's 32x32 maps."""
    for backbone in ({"type": "resnet_cifar", "depth": 20}, {"type": "resnext_cifar", "depth": 11, "base_width": 4}):
        tiny = ArchConfig.from_dict({"backbone": {**backbone, "stem_stride": 2}, "input_size": [3, 64, 64]})
        cifar = ArchConfig.from_dict({"backbone": backbone, "input_size": [3, 32, 32]})
        model = build_model(tiny).eval()
        assert model.backbone.stem(torch.randn(1, 3, 64, 64)).shape[2:] == (32, 32)
        assert n_params(tiny.to_dict()) == n_params(cifar.to_dict())
    # only the cifar stem has the stride: with another stem it folds to 1
    a = ArchConfig.from_dict({"backbone": {"type": "resnet_cifar", "stem": "conv7", "stem_stride": 2}})
    assert a.backbone.params["stem_stride"] == 1
