"""CIFAR ResNet of depth 6n+2 (He et al. 2016, Sec. 4.2): 3 stages of n basic blocks at 16/32/64 channels,
3x3 stem, option-A (zero-pad) shortcuts; 20/32/44/56/110 have 0.27M/0.46M/0.66M/0.85M/1.7M parameters.

The FA paper's (001) forms: ``downsample: conv3`` (3x3 strided projections, its re-implemented baselines, 0.023M
above option A at every depth, Table I) and ``stem_stride: 2`` (its Tiny-ImageNet change, §IV-B: "the stride of
the first layer of 3x3 convolution from 1 to 2"; only the ``cifar`` stem has a stride to change)."""
from __future__ import annotations

from typing import Annotated, Literal

from ..constraints import Where, Width
from ..registry import BACKBONES
from .base import Backbone, classifier
from .resnet import build_stages, init_weights, stages_walk
from .resnet_blocks import basic_block, make_stem, stem_walk

Depth = Annotated[int, Where(lambda d: d >= 8 and (d - 2) % 6 == 0, "6n+2 (8, 14, 20, 32, 44, 56, 110, ...)",
                              10)]


def cifar_widths(width: float) -> list[int]:
    return [max(4, int(round(w * width))) for w in (16, 32, 64)]


@BACKBONES.register("resnet_cifar")
class CifarResNet(Backbone):
    insertion_points = ("pre_add", "post_add", "conv", "post_conv")
    num_stages = 3
    test_params = {"depth": 8, "width": 0.5}

    def __init__(self, ctx, *, depth: Depth = 20, width: Width = 1.0,
                 stem: Literal["cifar", "conv7", "deep"] = "cifar",
                 downsample: Literal["pad", "conv", "conv3", "avg"] = "pad", stem_stride: Literal[1, 2] = 1):
        super().__init__()
        n = (depth - 2) // 6
        widths = cifar_widths(width)
        self.stem = make_stem(stem, ctx.in_channels, widths[0], ctx.arch.activation, stem_stride)
        stages, cout = build_stages(ctx, basic_block, (n, n, n), widths, widths[0], (1, 2, 2), downsample)
        self.stages = ctx.body(stages)
        self.head = classifier(cout, ctx.num_classes)
        init_weights(self)

    def forward(self, x):
        return self.head(self.stages(self.stem(x)))

    @classmethod
    def canonical_params(cls, params: dict, field: str) -> dict:
        """``stem_stride`` is the cifar stem's; the other stems have their own strides."""
        return params if params["stem"] == "cifar" else {**params, "stem_stride": 1}

    @classmethod
    def walk(cls, net, *, depth, width, stem, downsample, stem_stride):
        n = (depth - 2) // 6
        widths = cifar_widths(width)
        x = stem_walk(net, stem, net.input_size, widths[0], stem_stride)
        net.classifier(stages_walk(net, basic_block, (n, n, n), widths, x, (1, 2, 2), downsample))
