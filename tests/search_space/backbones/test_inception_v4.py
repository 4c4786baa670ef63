"""Inception-v4: the 299x299 network's count and MACs, the FA paper's small-input variant and its SE form."""
import pytest
import torch

from search_space import ArchConfig, build_model
from search_space.attention.se import SqueezeExcite
from search_space.backbones.inception_v4 import InceptionModule
from search_space.errors import AttnasError


def test_imagenet_variant_equals_reference(n_params):
    # Szegedy et al. 2017 as implemented by timm / pretrainedmodels (inception_v4): 42,679,816 at 1000 classes
    data = {"backbone": {"type": "inception_v4", "variant": "imagenet"}, "num_classes": 1000,
            "input_size": [3, 299, 299]}
    assert n_params(data) == 42_679_816


@pytest.mark.slow
def test_imagenet_variant_macs(macs):
    data = {"backbone": {"type": "inception_v4", "variant": "imagenet"}, "num_classes": 1000,
            "input_size": [3, 299, 299]}
    assert macs(data) == pytest.approx(12.27e9, rel=0.02)  # timm: 12.28 GMACs at 299


@pytest.mark.parametrize("classes, attention, published", [(10, None, 36.84e6), (100, None, 36.97e6),
                                                           (10, {"type": "se", "reduction": 8}, 40.60e6)])
def test_cifar_variant_matches_fa_paper(n_params, classes, attention, published):
    # FA paper (001) Tables I/II. Its SE-Inception-v4 (+3.76M) is SE with reduction 8 after each of the 14
    # Inception modules (r=16 would add 1.89M).
    n = n_params({"backbone": {"type": "inception_v4"}, "num_classes": classes, "attention": attention})
    assert n == pytest.approx(published, rel=0.001)


def test_attention_after_each_inception_module_and_mask(modules):
    data = {"backbone": {"type": "inception_v4"}, "attention": {"type": "se"}}
    se = modules(data, SqueezeExcite)
    assert [m.fc1.in_channels for m in se] == [384] * 4 + [1024] * 7 + [1536] * 3
    assert len(modules(data, InceptionModule)) == 14
    assert [m.fc1.in_channels for m in modules({**data, "stage_mask": [0, 1, 0]}, SqueezeExcite)] == [1024] * 7


def test_cifar_variant_uses_5_taps_and_pads_to_96(modules):
    convs = modules({"backbone": {"type": "inception_v4"}}, torch.nn.Conv2d)
    long_taps = {max(c.kernel_size) for c in convs if c.kernel_size[0] != c.kernel_size[1]}
    assert long_taps == {3, 5, 7}  # 1x3/3x1 of Inception-C, 1x5/5x1 of B and Reduction-B, 1x7/7x1 of the stem
    arch = ArchConfig.from_dict({"backbone": {"type": "inception_v4", "width": 0.125}, "input_size": [3, 32, 32]},
                                check_fits=False)
    model = build_model(arch)
    seen = []
    model.backbone.stem.register_forward_pre_hook(lambda m, args: seen.append(tuple(args[0].shape[-2:])))
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert seen == [(96, 96)]


def test_imagenet_variant_needs_its_valid_padding_input_size():
    # the 299x299 network's valid convs and reductions run down to 75x75 and reject smaller inputs
    base = {"backbone": {"type": "inception_v4", "variant": "imagenet", "width": 0.125}, "num_classes": 3}
    ArchConfig.from_dict({**base, "input_size": [3, 75, 75]})
    with pytest.raises(AttnasError, match="input_size"):
        ArchConfig.from_dict({**base, "input_size": [3, 64, 64]})
