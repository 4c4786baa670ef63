"""CIFAR ResNeXt-29 (Xie et al. 2017, Sec. 5.3): a 3x3 stem of 64 channels, then 3 stages of (depth - 2) / 9
bottleneck blocks at 64/128/256 planes (outputs x4: 256/512/1024), strides 1/2/2, projection shortcuts.

The bottleneck's grouped 3x3 has ``cardinality`` groups of ``base_width * planes / 64`` channels each, so the
paper's "C x d" names read ``cardinality x base_width``: 8x64d has 34.4M and 16x64d 68.1M parameters on
CIFAR-10 (Table 7). The FA paper (001, Sec. IV-A) uses cardinality 8 and width 16, i.e. 8x16d (5.65M);
``stem_stride: 2`` is its Tiny-ImageNet change (§IV-B, the first 3x3 conv at stride 2).
"""
from __future__ import annotations

from typing import Annotated, Literal

from ..constraints import Positive, Where, Width
from ..errors import AttnasError
from ..registry import BACKBONES
from .base import Backbone, classifier
from .resnet import build_stages, init_weights, stages_walk
from .resnet_blocks import bottleneck_block, make_stem, stem_walk

Depth = Annotated[int, Where(lambda d: d >= 11 and (d - 2) % 9 == 0, "9n+2 (11, 20, 29, 38, ...)", 12)]


def resnext_planes(width: float) -> list[int]:
    return [max(4, int(round(p * width))) for p in (64, 128, 256)]


@BACKBONES.register("resnext_cifar")
class CifarResNeXt(Backbone):
    insertion_points = ("pre_add", "post_add", "conv", "post_conv")
    num_stages = 3
    test_params = {"depth": 11, "cardinality": 2, "base_width": 4, "width": 0.25}

    def __init__(self, ctx, *, depth: Depth = 29, cardinality: Annotated[int, Positive] = 8,
                 base_width: Annotated[int, Positive] = 64, width: Width = 1.0, stem_stride: Literal[1, 2] = 1):
        super().__init__()
        planes = resnext_planes(width)
        n = (depth - 2) // 9
        self.stem = make_stem("cifar", ctx.in_channels, planes[0], ctx.arch.activation, stem_stride)
        stages, cout = build_stages(ctx, bottleneck_block, (n, n, n), planes, planes[0], (1, 2, 2), "conv",
                                    groups=cardinality, base_width=base_width)
        self.stages = ctx.body(stages)
        self.head = classifier(cout, ctx.num_classes)
        init_weights(self)

    @classmethod
    def canonical_params(cls, params: dict, field: str) -> dict:
        """A group must keep at least one channel at the first stage's width."""
        planes = resnext_planes(params["width"])[0]
        if int(planes * params["base_width"] / 64) < 1:
            raise AttnasError(f"{field}.base_width: {params['base_width']} gives no channels per group at width "
                              f"{params['width']}; allowed: base_width >= {-(-64 // planes)}")
        return params

    def forward(self, x):
        return self.head(self.stages(self.stem(x)))

    @classmethod
    def walk(cls, net, *, depth, cardinality, base_width, width, stem_stride):
        planes = resnext_planes(width)
        n = (depth - 2) // 9
        x = stem_walk(net, "cifar", net.input_size, planes[0], stem_stride)
        net.classifier(stages_walk(net, bottleneck_block, (n, n, n), planes, x, (1, 2, 2), "conv",
                                   groups=cardinality, base_width=base_width))
