"""The backbone shape contract (search_space/shapes.py): the declared sites are the shapes the built modules see,
check_fits rejects exactly what cannot build or run (from the config alone, no forward), and building raises no
user error after it passes."""
import random

import pytest
import torch

from search_space import ArchConfig, build_model
from search_space.errors import AttnasError
from search_space.registry import ATTENTION, BACKBONES
from search_space.shapes import (attention_can_misfit, backbone_shapes, check_fits, connection_can_misfit,
                                 gating_can_misfit)

from .test_cost import random_variant


def seen_shapes(arch, cls):
    """(input shape, output shape) of every forward call of a ``cls`` module, batch dropped."""
    model = build_model(arch).eval()
    seen = []
    for m in model.modules():
        if isinstance(m, cls):
            m.register_forward_hook(lambda m, args, out: seen.append((tuple(args[0].shape[1:]), tuple(out.shape[1:]))))
    with torch.no_grad():
        model(torch.zeros(1, *arch.input_size))
    return sorted(seen)


@pytest.mark.parametrize("backbone", BACKBONES.names())
def test_sites_are_the_shapes_the_modules_see(backbone):
    cls = BACKBONES.get(backbone)
    base = {"backbone": {"type": backbone, **cls.test_params}, "input_size": list(cls.test_input_size)}
    points = [p for p in cls.insertion_points if p != "conv"]
    arch = ArchConfig.from_dict({**base, "attention": "se", "insertion_point": points[0],
                                 "extra_attention": {p: "se" for p in points[1:]}})
    # the sites of the backbone as this config holds it (Backbone.fold_params may fold parameters without attention)
    shapes = backbone_shapes(arch.backbone, cls.test_input_size)
    declared = sorted((s.shape, s.out_shape) for s in shapes.sites if s.point != "conv")
    assert seen_shapes(arch, ATTENTION.get("se")) == declared
    if "conv" in cls.insertion_points:
        arch = ArchConfig.from_dict({**base, "attention": "sk", "insertion_point": "conv"})
        declared = sorted((s.shape, s.out_shape) for s in shapes.sites if s.point == "conv")
        assert seen_shapes(arch, ATTENTION.get("sk")) == declared
    assert len(shapes.stages) == cls.stage_count(arch.backbone.params)


@pytest.mark.parametrize("data, message", [
    ({"backbone": {"type": "vgg", "depth": 11, "width": 0.125}, "input_size": [3, 16, 16]},
     r"^input_size: 3x16x16 is too small for backbone vgg \(.*max-pool.*\); allowed: an input of at least 3x32x32$"),
    ({"backbone": {"type": "inception_v4", "variant": "imagenet", "width": 0.125}, "input_size": [3, 64, 64]},
     r"^input_size: 3x64x64 is too small for backbone inception_v4 .*allowed: an input of at least 3x75x75$"),
    ({"backbone": {"type": "vgg", "depth": 11, "width": 0.125}, "input_size": [3, 48, 48], "gating": "fa"},
     r"^gating.type: 'fa' cannot gate the stages at input_size 3x48x48 \(block 4: its 3x3 input at stride 2 "
     r"projects to 2x2, its output is 1x1\); allowed: .*gating.deploy: blocks$"),
    ({"backbone": {"type": "fft", "patch": [2, 2, 2]}, "input_size": [3, 32, 32]},
     r"^input_size: 3x32x32 gives a 1x1 feature map for stream Z, which patch 2 does not tile; allowed: an input "
     r"whose stage maps are multiples of backbone.patch \[2, 2, 2\]"),
    ({"backbone": {"type": "resnet_cifar", "depth": 8}, "attention": "se", "connection": {"type": "direct", "dims": "spatial"}},
     r"^connection.dims: 'spatial' is not allowed for attention 'se' \(dimensions: channel\); allowed: all, channel$"),
])
def test_check_fits_names_the_field_without_building(data, message):
    arch = ArchConfig.from_dict(data, check_fits=False)
    with pytest.raises(AttnasError, match=message):
        check_fits(arch)
    with pytest.raises(AttnasError, match=message):
        ArchConfig.from_dict(data)


def test_fit_rules_are_declared_by_type():
    assert not any(attention_can_misfit(a) for a in ATTENTION.names())
    assert connection_can_misfit("direct") and not connection_can_misfit("none")
    assert gating_can_misfit("fa") and not gating_can_misfit("none")


def fits_iff_it_runs(backbone: str, n: int, seed: int) -> None:
    """Random variants at random small inputs: check_fits passes exactly when build + forward succeed."""
    rng = random.Random(f"{backbone}-{seed}")
    for _ in range(n):
        arch = random_variant(backbone, rng)
        arch = ArchConfig.from_dict({**arch.to_dict(), "input_size": [3, rng.randint(1, 40), rng.randint(1, 40)]},
                                    check_fits=False)
        try:
            check_fits(arch)
            fits = True
        except AttnasError:
            fits = False
        try:
            with torch.no_grad():
                build_model(arch).eval()(torch.zeros(1, *arch.input_size))
            runs = True
        except AttnasError:             # the builder's own errors (e.g. FFT patch tiling) are AttnasErrors too
            runs = False
        except RuntimeError:            # torch: "output size is too small", a shape mismatch at an add
            runs = False
        assert fits == runs, (arch.to_dict(), fits, runs)


@pytest.mark.parametrize("backbone", BACKBONES.names())
def test_check_fits_rejects_exactly_what_cannot_run(backbone):
    fits_iff_it_runs(backbone, 2, 0)


@pytest.mark.slow
@pytest.mark.parametrize("backbone", BACKBONES.names())
def test_check_fits_rejects_exactly_what_cannot_run_many(backbone):
    fits_iff_it_runs(backbone, 40, 1)
