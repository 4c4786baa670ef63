"""The transformer parts of the multi-scale Feature Fusion Transformer (Zhu et al., Sec. III-C/D):
patch embeddings with per-stream position encodings, the pre-norm T-block, the unfold + projection
fusion from a finer stream into the next coarser one, and the FFT block that runs all three streams.

Equation numbers are the paper's. Streams: X (inner, finest map), Y (middle), Z (outer, with the class token).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import AttnasError


def check_head_dim(params: dict, field: str) -> dict:
    """A transformer backbone's ``params`` as given; head_dim 0 (dim // heads) needs heads to divide dim."""
    if params["head_dim"] == 0 and params["dim"] % params["heads"]:
        raise AttnasError(f"{field}.heads: {params['heads']} does not divide {field}.dim {params['dim']} "
                          f"(head_dim 0 splits dim across heads); allowed: a divisor of {params['dim']}, "
                          f"or a head_dim >= 1")
    return params


class MultiHeadSelfAttention(nn.Module):
    """MSA with ``heads`` heads of ``head_dim`` each (inner width heads * head_dim, independent of ``dim``)."""

    def __init__(self, dim: int, heads: int, head_dim: int, dropout: float):
        super().__init__()
        self.heads, self.head_dim, self.dropout = heads, head_dim, dropout
        self.qkv = nn.Linear(dim, 3 * heads * head_dim)
        self.proj = nn.Linear(heads * head_dim, dim)
        self.proj_drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        return self.proj_drop(self.proj(out.transpose(1, 2).reshape(b, n, -1)))


class TransformerBlock(nn.Module):
    """Pre-norm T-block: t = t + MSA(LN(t)); t = t + MLP(LN(t))  (Eq. 5-6, 10-11, 16-17)."""

    def __init__(self, dim: int, heads: int, head_dim: int, mlp_dim: int, dropout: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = MultiHeadSelfAttention(dim, heads, head_dim, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(mlp_dim, dim), nn.Dropout(dropout))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        t = t + self.attn(self.norm1(t))
        return t + self.mlp(self.norm2(t))


class PatchEmbedding(nn.Module):
    """A (B, C, H, W) feature map cut into p x p patches, each flattened and projected to ``dim``
    (Eq. 3-4, 7-8, 12-13; a p-strided p x p conv is exactly that flatten + linear), then an optional
    zero-initialised class token in front (Eq. 14) and an optional learned position encoding
    (Eq. 19-21: one per stream, covering the class token too)."""

    def __init__(self, channels: int, dim: int, patch: int, tokens: int, class_token: bool, pos_embed: bool,
                 dropout: float):
        super().__init__()
        self.proj = nn.Conv2d(channels, dim, patch, patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim)) if class_token else None
        n = tokens + int(class_token)
        self.pos = nn.Parameter(nn.init.trunc_normal_(torch.empty(1, n, dim), std=0.02)) if pos_embed else None
        self.drop = nn.Dropout(dropout)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        t = self.proj(f).flatten(2).transpose(1, 2)
        if self.cls is not None:
            t = torch.cat((self.cls.expand(t.shape[0], -1, -1), t), 1)
        if self.pos is not None:
            t = t + self.pos
        return self.drop(t)


class UnfoldFusion(nn.Module):
    """Vec(finer tokens under one coarser token) W + b  (Eq. 9 and 15).

    The finer stream's tokens are laid back on their (gh, gw) grid and unfolded in non-overlapping
    (rh, rw) windows, one per coarser token; each window's rh*rw*dim values are projected to ``dim_out``.
    (B, gh*gw, dim) -> (B, gh*gw / (rh*rw), dim_out).
    """

    def __init__(self, dim: int, dim_out: int, grid: tuple[int, int], ratio: tuple[int, int]):
        super().__init__()
        self.grid, self.ratio = grid, ratio
        self.proj = nn.Linear(ratio[0] * ratio[1] * dim, dim_out)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        b, _, d = t.shape
        grid = t.transpose(1, 2).reshape(b, d, *self.grid)
        windows = F.unfold(grid, kernel_size=self.ratio, stride=self.ratio)   # (B, d*rh*rw, m)
        return self.proj(windows.transpose(1, 2))


class FFTBlock(nn.Module):
    """One layer of Eq. 18: X, Y, Z -> X', Y', Z' with Inner, Middle and Outer T-blocks, the finer stream's
    output fused into the coarser stream's input.

    Eq. 9 and 15 are TNT's (Han et al. 2021, Eq. 7) with the layer indices garbled; read as TNT writes
    them, the fused term is the finer stream's output of the same layer: X' = Inner(X); Y' = Middle(Y +
    fuse(X')); Z' = Outer(Z + fuse(Y')). (Read as the layer inputs instead, the last layer's Inner and
    Middle blocks would never reach the class token.) Z's class token (index 0) receives no fused term:
    the windows cover the k patch tokens only.
    """

    def __init__(self, dim: int, heads: int, head_dim: int, mlp_dim: int, dropout: float,
                 grids: tuple[tuple[int, int], ...], ratios: tuple[tuple[int, int], ...]):
        super().__init__()
        self.fuse_xy = UnfoldFusion(dim, dim, grids[0], ratios[0])
        self.fuse_yz = UnfoldFusion(dim, dim, grids[1], ratios[1])
        self.inner, self.middle, self.outer = (TransformerBlock(dim, heads, head_dim, mlp_dim, dropout)
                                               for _ in range(3))

    def forward(self, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor):
        x = self.inner(x)                                                        # Eq. 5-6
        y = self.middle(y + self.fuse_xy(x))                                     # Eq. 9, 10-11
        z = self.outer(torch.cat((z[:, :1], z[:, 1:] + self.fuse_yz(y)), 1))     # Eq. 15, 16-17
        return x, y, z


def transformer_walk(net, tokens: int, dim: int, heads: int, head_dim: int, mlp_dim: int) -> None:
    """Cost of one TransformerBlock on ``tokens`` tokens (eval: dropout is free; SDPA counted as its two
    matmuls plus the softmax, as trainers.count_macs does)."""
    inner = heads * head_dim
    net.layer_norm(tokens * dim, dim)
    net.linear(tokens, dim, 3 * inner)
    scores = heads * tokens * tokens
    net.macs += scores * 2 * head_dim + 3 * scores
    net.linear(tokens, inner, dim)
    net.ew(tokens * dim)
    net.layer_norm(tokens * dim, dim)
    net.linear(tokens, dim, mlp_dim)
    net.ew(tokens * mlp_dim)                                      # GELU
    net.linear(tokens, mlp_dim, dim)
    net.ew(tokens * dim)


def fft_block_walk(net, dim: int, heads: int, head_dim: int, mlp_dim: int, tokens: list, ratios) -> None:
    """Cost of one FFTBlock; ``tokens`` are the X, Y, Z token counts (Z with its class token)."""
    nx, ny, nz = tokens
    transformer_walk(net, nx, dim, heads, head_dim, mlp_dim)
    net.linear(ny, ratios[0][0] * ratios[0][1] * dim, dim)       # fuse_xy: one row per Y token
    net.ew(ny * dim)
    transformer_walk(net, ny, dim, heads, head_dim, mlp_dim)
    net.linear(nz - 1, ratios[1][0] * ratios[1][1] * dim, dim)   # fuse_yz onto Z's patch tokens
    net.ew((nz - 1) * dim)
    transformer_walk(net, nz, dim, heads, head_dim, mlp_dim)
