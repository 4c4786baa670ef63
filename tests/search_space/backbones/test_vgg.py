"""VGG-BN: torchvision-exact ImageNet counts, the FA paper's CIFAR VGG-19 and SE-VGG-19, insertion points."""
import pytest
import torch

from search_space import ArchConfig, build_model
from search_space.attention.se import SqueezeExcite
from search_space.errors import AttnasError

IMAGENET = {"num_classes": 1000, "input_size": [3, 224, 224]}


@pytest.mark.parametrize("depth, expected", [(11, 132_868_840), (13, 133_053_736), (16, 138_365_992),
                                             (19, 143_678_248)])
def test_imagenet_vgg_bn_equals_torchvision(n_params, depth, expected):
    assert n_params({"backbone": {"type": "vgg", "depth": depth, "head": "imagenet"}, **IMAGENET}) == expected


def test_imagenet_vgg19_bn_macs(macs):
    # torchvision: vgg19_bn, 19.63 G multiply-adds at 224x224
    m = macs({"backbone": {"type": "vgg", "depth": 19, "head": "imagenet"}, **IMAGENET})
    assert m == pytest.approx(19.63e9, rel=0.02)


@pytest.mark.parametrize("classes, published", [(10, 20.03e6), (100, 20.08e6)])
def test_cifar_vgg19_matches_fa_paper(n_params, classes, published):
    # FA paper (001) Tables I/II: VGG-19 (BN, one FC) 20.03M on CIFAR-10, 20.08M on CIFAR-100
    n = n_params({"backbone": {"type": "vgg", "depth": 19}, "num_classes": classes})
    assert n == pytest.approx(published, rel=0.01)


def test_se_vgg19_is_se_after_every_conv(n_params, modules):
    data = {"backbone": {"type": "vgg"}, "attention": {"type": "se", "reduction": 16}}
    # FA paper Table I: SE-VGG-19 has 20.34M parameters, which is SE after each of the 16 convs
    assert n_params(data) == pytest.approx(20.34e6, rel=0.01)
    assert len(modules(data, SqueezeExcite)) == 16
    assert len(modules({**data, "insertion_point": "pre_pool"}, SqueezeExcite)) == 5


def test_stage_mask_selects_stages(modules):
    data = {"backbone": {"type": "vgg", "depth": 19}, "attention": {"type": "se"}, "stage_mask": [1, 0, 0, 0, 1]}
    se = modules(data, SqueezeExcite)
    assert len(se) == 2 + 4
    assert sorted(m.fc1.in_channels for m in se) == [64, 64, 512, 512, 512, 512]


@pytest.mark.parametrize("head, size", [("cifar", 32), ("cifar", 64), ("imagenet", 32)])
def test_forward_shapes(head, size):
    arch = ArchConfig.from_dict({"backbone": {"type": "vgg", "depth": 11, "head": head, "width": 0.125},
                                 "num_classes": 7, "input_size": [3, size, size]})
    assert build_model(arch)(torch.randn(2, 3, size, size)).shape == (2, 7)


def test_input_too_small_is_rejected():
    with pytest.raises(AttnasError, match="input_size"):
        ArchConfig.from_dict({"backbone": {"type": "vgg", "width": 0.125}, "input_size": [3, 16, 16]})


def test_global_max_pool_head_for_tiny_imagenet():
    """001 §IV-B: "for VGG-19, we add a global max pooling before the last FC layer" (Tiny-ImageNet)."""
    data = {"backbone": {"type": "vgg", "depth": 19, "pool": "max"}, "num_classes": 200, "input_size": [3, 64, 64]}
    model = build_model(ArchConfig.from_dict(data)).eval()
    assert isinstance(model.backbone.head[0], torch.nn.AdaptiveMaxPool2d)
    x = torch.randn(1, 3, 64, 64)
    feats = model.backbone.stages(x)
    torch.testing.assert_close(model(x), model.backbone.head[2](feats.amax((2, 3))))
    # the imagenet head has its own pool: ``pool`` folds to its default there
    a = ArchConfig.from_dict({"backbone": {"type": "vgg", "head": "imagenet", "pool": "max", "width": 0.125}})
    assert a.backbone.params["pool"] == "avg"
