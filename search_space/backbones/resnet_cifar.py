"""CIFAR ResNet of depth 6n+2 (He et al. 2016, Sec. 4.2): 3 stages of n basic blocks at 16/32/64 channels,
3x3 stem, option-A (zero-pad) shortcuts; 20/32/44/56/110 have 0.27M/0.46M/0.66M/0.85M/1.7M parameters."""
from __future__ import annotations

from typing import Literal

from ..errors import AttnasError
from ..registry import BACKBONES
from .base import Backbone, classifier
from .resnet import build_stages, init_weights
from .resnet_blocks import basic_block, make_stem


@BACKBONES.register("resnet_cifar")
class CifarResNet(Backbone):
    insertion_points = ("pre_add", "post_add", "conv")
    num_stages = 3

    def __init__(self, ctx, *, depth: int = 20, width: float = 1.0,
                 stem: Literal["cifar", "conv7", "deep"] = "cifar",
                 downsample: Literal["pad", "conv", "avg"] = "pad"):
        super().__init__()
        if depth < 8 or (depth - 2) % 6:
            raise AttnasError(f"backbone.depth: {depth} is not allowed for resnet_cifar; allowed: 6n+2 "
                              f"(8, 14, 20, 32, 44, 56, 110, ...)")
        n = (depth - 2) // 6
        widths = [max(4, int(round(w * width))) for w in (16, 32, 64)]
        self.stem = make_stem(stem, ctx.in_channels, widths[0], ctx.arch.activation)
        stages, cout = build_stages(ctx, basic_block, (n, n, n), widths, widths[0], (1, 2, 2), downsample)
        self.stages = ctx.body(stages)
        self.head = classifier(cout, ctx.num_classes)
        init_weights(self)

    def forward(self, x):
        return self.head(self.stages(self.stem(x)))
