"""ResNet18_vit, the FFT paper's (000) baseline (§IV-C, Tables III-IV): "transforming the feature patch into
embedded sequences" -- ResNet-18's last feature map (512 channels at 1/32 of the input) cut into patches,
embedded with a class token and a position encoding, and run through L pre-norm ViT blocks; the class token,
layer-normed, feeds a linear classifier. It is FFT with one stream and no fusion or RAM, so the comparison
isolates the multi-scale fusion (ResNet18_linear, the same features through an FC, is ``resnet`` depth 18).

The paper gives no size for it; the defaults are FFT-Base's transformer (the model of all its comparisons: L=6,
dim 512, MLP 1024, 16 heads), with ViT's 64-wide heads (``head_dim: 0`` splits ``dim`` instead) and 1x1 patches
(``patch``), so a 256x256 input gives 8x8 = 64 tokens. The trunk is torchvision's ResNet-18 (7x7 stem); attention
can be placed in its blocks as in ``resnet``.
"""
from __future__ import annotations

from typing import Annotated

from torch import nn

from ..constraints import Fraction, NonNegative, Positive
from ..errors import AttnasError
from ..registry import BACKBONES
from .base import Backbone
from .fft import init_transformer, resnet_map_sizes
from .fft_blocks import PatchEmbedding, TransformerBlock, check_head_dim, transformer_walk
from .resnet import build_stages, init_weights, stages_walk
from .resnet_blocks import basic_block, make_stem, stem_walk

WIDTHS = (64, 128, 256, 512)


def token_grid(input_size: tuple, patch: int) -> tuple[int, int]:
    """The patch grid on ResNet-18's last map; an AttnasError where ``patch`` does not tile it."""
    h, w = resnet_map_sizes(*input_size[1:])[-1]
    if h % patch or w % patch:
        shape = "x".join(map(str, input_size))
        raise AttnasError(f"input_size: {shape} gives a {h}x{w} last feature map, which backbone.patch {patch} "
                          f"does not tile; allowed: an input whose map at 1/32 is a multiple of the patch")
    return h // patch, w // patch


@BACKBONES.register("resnet18_vit")
class ResNet18ViT(Backbone):
    insertion_points = ("pre_add", "post_add", "conv", "post_conv")
    num_stages = 4
    test_params = {"layers": 1, "dim": 32, "mlp_dim": 32, "heads": 2, "head_dim": 8}

    def __init__(self, ctx, *, layers: Annotated[int, Positive] = 6, dim: Annotated[int, Positive] = 512,
                 mlp_dim: Annotated[int, Positive] = 1024, heads: Annotated[int, Positive] = 16,
                 head_dim: Annotated[int, NonNegative] = 64, patch: Annotated[int, Positive] = 1,
                 pos_embed: bool = True, dropout: Annotated[float, Fraction] = 0.1):
        super().__init__()
        head_dim = head_dim or dim // heads
        gh, gw = token_grid(ctx.input_size, patch)
        self.stem = make_stem("conv7", ctx.in_channels, WIDTHS[0], ctx.arch.activation)
        stages, cout = build_stages(ctx, basic_block, (2, 2, 2, 2), WIDTHS, WIDTHS[0], (1, 2, 2, 2), "conv")
        self.stages = ctx.body(stages)
        init_weights(self)
        self.embed = PatchEmbedding(cout, dim, patch, gh * gw, class_token=True, pos_embed=pos_embed,
                                    dropout=dropout)
        self.blocks = nn.Sequential(*(TransformerBlock(dim, heads, head_dim, mlp_dim, dropout) for _ in range(layers)))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, ctx.num_classes)
        init_transformer(self.blocks, self.head)

    @classmethod
    def canonical_params(cls, params: dict, field: str) -> dict:
        return check_head_dim(params, field)

    def forward(self, img):
        tokens = self.blocks(self.embed(self.stages(self.stem(img))))
        return self.head(self.norm(tokens[:, 0]))

    @classmethod
    def walk(cls, net, *, layers, dim, mlp_dim, heads, head_dim, patch, pos_embed, dropout):
        head_dim = head_dim or dim // heads
        x = stages_walk(net, basic_block, (2, 2, 2, 2), WIDTHS, stem_walk(net, "conv7", net.input_size, WIDTHS[0]),
                        (1, 2, 2, 2), "conv")
        gh, gw = token_grid(net.input_size, patch)
        assert (gh * patch, gw * patch) == x[1:], "resnet_map_sizes is the walk's last map"
        n = gh * gw + 1
        net.conv(x, dim, patch, patch)
        net.params += dim * (1 + (n if pos_embed else 0))         # class token, position encoding
        if pos_embed:
            net.ew(n * dim)
        for _ in range(layers):
            transformer_walk(net, n, dim, heads, head_dim, mlp_dim)
        net.layer_norm(dim, dim)
        net.linear(1, dim, net.num_classes)
