"""FFT, the multi-scale Feature Fusion Transformer (Zhu et al., "Image Recognition based on Multi-scale
Feature Fusion Transformer", Sec. III, Fig. 1-3, Table II).

A ResNet-18 without pooling and classifier extracts four feature maps (64/128/256/512 channels at 1/4 ..
1/32 of the input); the last three, each through the residual attention module (RAM), are cut into
patches and embedded as three token streams X (inner), Y (middle), Z (outer, with a class token), each
with its own position encoding. L FFT blocks fuse finer into coarser streams by unfold + projection and
run one pre-norm T-block per stream; the class token of Z, layer-normed, feeds a linear classifier.

Choices the paper leaves open, and how they are read here:
- RAM placement: "each feature map is input into the RAM module" on its way to the FFT, so the attention
  sits on the branch from a stage's output to its stream (insertion point ``stream``, the default) and the
  ResNet trunk runs unattended. ``pre_add``/``post_add``/``conv`` put the attention inside the ResNet blocks
  instead, as in the plain ResNet.
- Fusion order: Eq. 9 and 15 are TNT's with garbled layer indices; read as TNT writes them, each coarser
  stream fuses the finer stream's output of the same layer (see FFTBlock).
- One embedding width ``dim`` for all three streams (Table II lists a single "patch dim").
- Heads are ``heads`` x ``head_dim`` wide independently of ``dim`` (Table II pairs dim 256 with 12 heads and
  dim 512 with 18, which no dim / heads split allows); ``head_dim: 0`` means dim // heads instead.
  Table II gives no head width, and no single one reproduces its three counts (tests/search_space/backbones/
  test_fft.py); the presets take the width that reproduces each row within 0.4 % (Tiny 240, Base 376, Large 368).
- Patch sizes are not given; ``patch`` defaults to 2 on every stream, so at the paper's 256 x 256 input the
  32/16/8 maps give 16x16, 8x8 and 4x4 token grids and each coarser token fuses a 2x2 window of finer ones.
- "Dropout technology is adopted" without a rate: ``dropout`` (default 0.1) acts after the embeddings, the
  attention output and both MLP layers.
- The final "MLP" on Z_class is ViT's head: LayerNorm, then one linear layer.
"""
from __future__ import annotations

from typing import Annotated

import torch
from torch import nn

from ..constraints import Fraction, NonNegative, Positive, Where
from ..errors import AttnasError
from ..registry import BACKBONES
from .base import Backbone
from .fft_blocks import FFTBlock, PatchEmbedding, check_head_dim, fft_block_walk
from .resnet import build_stages, init_weights, stages_walk
from .resnet_blocks import basic_block, make_stem, stem_walk

Patch = Annotated[tuple[Annotated[int, Positive], ...], Where(lambda p: len(p) == 3,
                                                              "three patch sizes >= 1, for the X, Y, Z streams", (2, 2))]

WIDTHS = (64, 128, 256, 512)
STREAM_STAGES = (1, 2, 3)
"""The ResNet-18 stages whose outputs become the X, Y, Z streams (the paper drops the first)."""


def resnet_map_sizes(height: int, width: int) -> list[tuple[int, int]]:
    """Spatial size after each ResNet-18 stage (conv7/2 + max-pool/2 stem, stride 2 from stage 2 on)."""
    down = lambda s: (s - 1) // 2 + 1  # noqa: E731  a 3x3/2 (or 7x7/2) conv or max-pool with 'same' padding
    h, w = down(down(height)), down(down(width))
    sizes = [(h, w)]
    for _ in WIDTHS[1:]:
        h, w = down(h), down(w)
        sizes.append((h, w))
    return sizes


def stream_geometry(input_size: tuple, patch: tuple[int, int, int], sizes=None):
    """Token grids of the three streams and the (rh, rw) unfold window of each finer -> coarser fusion
    (``sizes``: the (h, w) of the three stream maps, computed from the input when not given)."""
    if sizes is None:
        sizes = [resnet_map_sizes(*input_size[1:])[s] for s in STREAM_STAGES]
    shape = "x".join(map(str, input_size))
    grids = []
    for (h, w), p, name in zip(sizes, patch, "XYZ"):
        if h % p or w % p:
            raise AttnasError(f"input_size: {shape} gives a {h}x{w} feature map for stream {name}, which "
                              f"patch {p} does not tile; allowed: an input whose stage maps are multiples of "
                              f"backbone.patch {list(patch)} (e.g. 64x64 or 256x256 for patch 2)")
        grids.append((h // p, w // p))
    ratios = []
    for fine, coarse in zip(grids, grids[1:]):
        if any(f % c for f, c in zip(fine, coarse)):
            raise AttnasError(f"backbone.patch: {list(patch)} gives token grids {grids} at input {shape}, and a "
                              f"finer grid must be a whole multiple of the next coarser one; allowed: patches "
                              f"where each divides twice the next (e.g. [2, 2, 2], [1, 2, 4])")
        ratios.append((fine[0] // coarse[0], fine[1] // coarse[1]))
    return grids, ratios


class InputTap(nn.Module):
    """Identity in front of a ResNet stage that records the stage's input, i.e. the previous stage's output
    after any stage-level gating (FA), in the model's per-forward state under ``key``."""

    def __init__(self, state: dict, key: str):
        super().__init__()
        self.state, self.key = state, key

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.state[self.key] = x
        return x


@BACKBONES.register("fft")
class FFT(Backbone):
    insertion_points = ("stream", "pre_add", "post_add", "conv", "post_conv")
    num_stages = 4
    test_params = {"layers": 1, "dim": 32, "mlp_dim": 32, "heads": 2, "head_dim": 8, "patch": (1, 1, 1)}

    @classmethod
    def canonical_stage_mask(cls, point: str, mask: tuple) -> tuple:
        """At ``stream`` only the stages that feed a stream can carry attention."""
        if point != "stream":
            return mask
        return tuple(m and i in STREAM_STAGES for i, m in enumerate(mask))

    def __init__(self, ctx, *, layers: Annotated[int, Positive] = 6, dim: Annotated[int, Positive] = 512,
                 mlp_dim: Annotated[int, Positive] = 1024, heads: Annotated[int, Positive] = 16,
                 head_dim: Annotated[int, NonNegative] = 64, patch: Patch = (2, 2, 2), pos_embed: bool = True,
                 dropout: Annotated[float, Fraction] = 0.1):
        super().__init__()
        head_dim = head_dim or dim // heads
        grids, ratios = stream_geometry(ctx.input_size, patch)

        self.stem = make_stem("conv7", ctx.in_channels, WIDTHS[0], ctx.arch.activation)
        stages, _ = build_stages(ctx, basic_block, (2, 2, 2, 2), WIDTHS, WIDTHS[0], (1, 2, 2, 2), "conv")
        # the outputs of stages 2 and 3 are read where they enter stages 3 and 4; stage 4's is the body's output
        self.state, self.keys = ctx.state, [f"fft.stream{s}" for s in STREAM_STAGES[:-1]]
        for s, key in zip(STREAM_STAGES, self.keys):
            stages[s + 1] = nn.Sequential(InputTap(ctx.state, key), stages[s + 1])
        self.stages = ctx.body(stages)
        self.stream_attention = nn.ModuleList(ctx.attention(s, "stream", WIDTHS[s]) or nn.Identity()
                                              for s in STREAM_STAGES)
        init_weights(self)

        self.embed = nn.ModuleList(
            PatchEmbedding(WIDTHS[s], dim, p, g[0] * g[1], class_token=(i == 2), pos_embed=pos_embed,
                           dropout=dropout)
            for i, (s, p, g) in enumerate(zip(STREAM_STAGES, patch, grids)))
        self.blocks = nn.ModuleList(FFTBlock(dim, heads, head_dim, mlp_dim, dropout, grids, ratios)
                                    for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, ctx.num_classes)
        init_transformer(self.blocks, self.head)

    @classmethod
    def canonical_params(cls, params: dict, field: str) -> dict:
        return check_head_dim(params, field)

    def streams(self, img: torch.Tensor) -> list[torch.Tensor]:
        """The three attended feature maps (outputs of stages 2, 3, 4 of ResNet-18, each through its RAM)."""
        last = self.stages(self.stem(img))
        maps = [self.state.pop(key) for key in self.keys] + [last]
        return [attention(f) for attention, f in zip(self.stream_attention, maps)]

    def tokens(self, img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """X_L, Y_L, Z_L: the three token streams after the L FFT blocks (Eq. 18 stacked)."""
        x, y, z = (embed(f) for embed, f in zip(self.embed, self.streams(img)))
        for block in self.blocks:
            x, y, z = block(x, y, z)
        return x, y, z

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        z = self.tokens(img)[2]
        return self.head(self.norm(z[:, 0]))

    @classmethod
    def walk(cls, net, *, layers, dim, mlp_dim, heads, head_dim, patch, pos_embed, dropout):
        head_dim = head_dim or dim // heads
        stages_walk(net, basic_block, (2, 2, 2, 2), WIDTHS, stem_walk(net, "conv7", net.input_size, WIDTHS[0]),
                    (1, 2, 2, 2), "conv")
        maps = [net.attention(s, "stream", net.stage_blocks[s][-1].out_shape) for s in STREAM_STAGES]
        grids, ratios = stream_geometry(net.input_size, patch, [m[1:] for m in maps])
        tokens = []
        for i, (m, p, g) in enumerate(zip(maps, patch, grids)):
            n = g[0] * g[1] + (i == 2)
            net.conv(m, dim, p, p)
            net.params += dim * ((i == 2) + (n if pos_embed else 0))   # class token, position encoding
            if pos_embed:
                net.ew(n * dim)
            tokens.append(n)
        for _ in range(layers):
            fft_block_walk(net, dim, heads, head_dim, mlp_dim, tokens, ratios)
        net.layer_norm(dim, dim)
        net.linear(1, dim, net.num_classes)


def init_transformer(*modules: nn.Module) -> None:
    """ViT convention: truncated-normal (std 0.02) linears with zero bias, unit LayerNorms."""
    for module in modules:
        for m in module.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
