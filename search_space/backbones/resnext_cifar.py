"""CIFAR ResNeXt-29 (Xie et al. 2017, Sec. 5.3): a 3x3 stem of 64 channels, then 3 stages of (depth - 2) / 9
bottleneck blocks at 64/128/256 planes (outputs x4: 256/512/1024), strides 1/2/2, projection shortcuts.

The bottleneck's grouped 3x3 has ``cardinality`` groups of ``base_width * planes / 64`` channels each, so the
paper's "C x d" names read ``cardinality x base_width``: 8x64d has 34.4M and 16x64d 68.1M parameters on
CIFAR-10 (Table 7). The FA paper (001, Sec. IV-A) uses cardinality 8 and width 16, i.e. 8x16d (5.65M).
"""
from __future__ import annotations

from ..errors import AttnasError
from ..registry import BACKBONES
from .base import Backbone, classifier
from .resnet import build_stages, init_weights
from .resnet_blocks import bottleneck_block, make_stem


@BACKBONES.register("resnext_cifar")
class CifarResNeXt(Backbone):
    insertion_points = ("pre_add", "post_add", "conv")
    num_stages = 3

    def __init__(self, ctx, *, depth: int = 29, cardinality: int = 8, base_width: int = 64, width: float = 1.0):
        super().__init__()
        if depth < 11 or (depth - 2) % 9:
            raise AttnasError(f"backbone.depth: {depth} is not allowed for resnext_cifar; allowed: 9n+2 "
                              f"(11, 20, 29, 38, ...)")
        if cardinality < 1:
            raise AttnasError(f"backbone.cardinality: {cardinality} is not allowed; allowed: an integer >= 1")
        planes = [max(4, int(round(p * width))) for p in (64, 128, 256)]
        if int(planes[0] * base_width / 64) < 1:
            raise AttnasError(f"backbone.base_width: {base_width} gives no channels per group at width {width}; "
                              f"allowed: base_width >= {-(-64 // planes[0])}")
        n = (depth - 2) // 9
        self.stem = make_stem("cifar", ctx.in_channels, planes[0], ctx.arch.activation)
        stages, cout = build_stages(ctx, bottleneck_block, (n, n, n), planes, planes[0], (1, 2, 2), "conv",
                                    groups=cardinality, base_width=base_width)
        self.stages = ctx.body(stages)
        self.head = classifier(cout, ctx.num_classes)
        init_weights(self)

    def forward(self, x):
        return self.head(self.stages(self.stem(x)))
