"""Contract over the registries: every attention x every legal insertion point x every backbone builds at
a tiny size, runs forward + backward on a batch of 2, returns (2, num_classes), and every parameter of every
attention module receives a gradient. A new attention or backbone is covered without a new test.

To keep the cross product fast, one model per (backbone, attention) carries the attention at every legal
insertion point at once (the main point plus ``extra_attention`` at the others), so each point is built,
run and differentiated without one model per point.

``TINY_BACKBONES`` holds the smallest sensible variant of a backbone (extend it when adding one; keys the
backbone does not take are dropped, so a renamed parameter falls back to its default); a backbone missing
from it is built with its defaults. Inputs are 3x32x32 unless ``INPUT_SIZE`` names a larger one.
``TINY_ATTENTION`` shrinks attention widths generically by parameter name.
"""
import pytest
import torch

from search_space import ArchConfig, build_model
from search_space.arch_config import allowed_points
from search_space.registry import ATTENTION, BACKBONES, keyword_params

TINY_BACKBONES = {
    "resnet": {"depth": 18, "width": 0.125},
    "wide_resnet": {"depth": 18, "widen": 0.125},
    "resnet_cifar": {"depth": 8, "width": 0.5},
    "resnext_cifar": {"depth": 11, "cardinality": 2, "base_width": 4, "width": 0.25},
    "res2net": {"depth": 50, "base_width": 16, "scale": 2, "width": 0.25},
    "mobilenetv2": {"width": 0.25},
    "mnasnet": {"width": 0.25},
    "vgg": {"depth": 11, "width": 0.125},
    "inception_v4": {"width": 0.125},
    "van": {"variant": "custom", "dims": [8, 16, 24, 32], "depths": [1, 1, 1, 1], "mlp_ratios": [2, 2, 2, 2]},
    "fft": {"layers": 1, "dim": 32, "mlp_dim": 32, "heads": 2, "head_dim": 8, "patch": [1, 1, 1]},
}
INPUT_SIZE = {}        # backbone -> input size when 3x32x32 does not fit it
TINY_ATTENTION = {"reduction": 2, "sam_reduction": 2, "min_dim": 4, "hidden": 4}
NUM_CLASSES = 3


def backbone_params(name: str) -> dict:
    specs = keyword_params(BACKBONES.get(name))
    return {k: v for k, v in TINY_BACKBONES.get(name, {}).items() if k in specs}


def attention_params(name: str) -> dict:
    specs = keyword_params(ATTENTION.get(name))
    return {k: v for k, v in TINY_ATTENTION.items() if k in specs}


def cases():
    for bb in BACKBONES.names():
        points = tuple(BACKBONES.get(bb).insertion_points)
        for att in ATTENTION.names():
            if att == "none":
                continue
            ok = allowed_points(att, points)
            if ok:
                yield pytest.param(bb, att, ok, id=f"{bb}-{att}@{'+'.join(ok)}")




@pytest.mark.parametrize("backbone, attention, points", list(cases()))
def test_attention_backbone_contract(backbone, attention, points):
    spec = {"type": attention, **attention_params(attention)}
    arch = ArchConfig.from_dict({
        "backbone": {"type": backbone, **backbone_params(backbone)},
        "num_classes": NUM_CLASSES, "input_size": INPUT_SIZE.get(backbone, [3, 32, 32]),
        "attention": spec, "insertion_point": points[0], "extra_attention": {p: spec for p in points[1:]},
    }, check_build=False)
    torch.manual_seed(0)
    model = build_model(arch).train()
    out = model(torch.randn(2, *arch.input_size))
    assert out.shape == (2, NUM_CLASSES)
    out.square().mean().backward()
    cls = ATTENTION.get(attention)
    modules = [m for m in model.modules() if isinstance(m, cls)]
    assert len(modules) >= len(points), f"{backbone} built {len(modules)} {attention} modules for {points}"
    for m in modules:
        for name, p in m.named_parameters():
            assert p.grad is not None, f"{attention}.{name} got no gradient"
            assert torch.isfinite(p.grad).all(), f"{attention}.{name} has a non-finite gradient"
