"""Triplet Attention (Misra et al. 2021) with the z-pool and activation variants of report 003 (§三(一)).

Three branches see the input rotated so that a different dimension is collapsed: C (plane H x W), H
(plane C x W) and W (plane H x C). Each branch computes a 2-D map of its plane,

    map = gate(BN(act(conv_kxk(ZPool(x_rot)))))                  (paper Sec. 3.2, Eq. 1-2; report 图16)
    y   = (x * map_hw + rot^-1(x_cw * map_cw) + rot^-1(x_hc * map_hc)) / 3

ZPool concatenates statistics of the collapsed dimension; the paper's ZPool is [max; mean] (report: {avg, max}).
``zpool_stats`` picks any subset of (max, avg, median, l1, l2, std), always concatenated in that order:
  max = amax; avg = mean; median = torch.median (the lower of the two middle values for an even count);
  l1 = sum of |x| and l2 = sqrt(sum of x^2), the L1 and L2 norms the report names (表1: "L1 范数", "L2 范数"),
  so their scale grows with the collapsed size (the BN after the conv absorbs it);
  std = population standard deviation (divide by N; an extension).
``act`` sits between the kxk conv and BN, where the report's 图16 puts it ("7x7conv: 该卷积层和 BatchNorm 层
中间存在一个激活层,使用的是 relu 激活函数"): its baseline has ReLU there (the report presets set ``act: relu``);
Misra et al.'s module has none, the default ``identity``. The report's 表3 swaps it (sigmoid, relu, gelu, celu,
elu) and swaps the gate after BN (sigmoid, tanh, softmax; softmax over the whole map).
"""
from __future__ import annotations

from typing import Annotated, Callable, Literal

import torch
from torch import nn

from ..constraints import NonEmpty, OddKernel
from ..errors import AttnasError
from ..layers import Act, Gate, make_act, make_gate
from ..registry import ATTENTION
from ..tally import numel
from .base import Attention

ZPOOL_STATS = ("max", "avg", "median", "l1", "l2", "std")
"""Every z-pool statistic, in the fixed order in which the pooled maps are concatenated."""

ZPoolStats = Annotated[tuple[Literal[ZPOOL_STATS], ...], NonEmpty]
"""The annotation of ``zpool_stats``: a non-empty subset of ZPOOL_STATS (put in that order by canonical_zpool)."""

EPS = 1e-12

_STAT_FNS: dict[str, Callable[[torch.Tensor, int], torch.Tensor]] = {
    "max": lambda x, d: x.amax(d, keepdim=True),
    "avg": lambda x, d: x.mean(d, keepdim=True),
    "median": lambda x, d: x.median(d, keepdim=True).values,
    "l1": lambda x, d: x.abs().sum(d, keepdim=True),
    # sqrt clamped away from 0 so an all-zero slice (after ReLU) gives a zero, not NaN, gradient
    "l2": lambda x, d: x.pow(2).sum(d, keepdim=True).clamp_min(EPS).sqrt(),
    "std": lambda x, d: x.var(d, keepdim=True, correction=0).clamp_min(EPS).sqrt(),
}


def zpool(x: torch.Tensor, stats: tuple[str, ...], dim: int = 1) -> torch.Tensor:
    """Concatenate the statistics ``stats`` of ``x`` over ``dim`` (kept as a dimension of size len(stats))."""
    return torch.cat([_STAT_FNS[s](x, dim) for s in stats], dim=dim)


def canonical_zpool(stats, field: str) -> tuple[str, ...]:
    """Reject a repeated statistic; return the set in ZPOOL_STATS order (the concatenation order)."""
    if len(set(stats)) != len(stats):
        raise AttnasError(f"{field}: {list(stats)!r} repeats a statistic; allowed: each of "
                          f"{', '.join(ZPOOL_STATS)} at most once")
    return tuple(s for s in ZPOOL_STATS if s in stats)


def zpool_cost(t, rotated: tuple, stats: tuple[str, ...]) -> tuple:
    """Cost of :func:`zpool` over dim 1 of a (Z, P, Q) tensor; returns the pooled shape (S, P, Q)."""
    z, p, q = rotated
    n, plane = z * p * q, p * q
    for s in stats:
        t.reduce(n)                                               # the statistic's reduction
        if s in ("l1", "l2"):
            t.ew(n)                                               # abs / pow before the mean
        if s in ("l2", "std"):
            t.ew(plane, 2)                                        # clamp_min, sqrt
    return len(stats), p, q


def rotated_shapes(shape: tuple) -> tuple:
    """The (Z, P, Q) shape each branch sees, in ROTATIONS order: H collapsed, W collapsed, C collapsed."""
    c, h, w = shape
    return (h, c, w), (w, h, c), (c, h, w)


def frame_cost(t, shape: tuple, branch_cost: Callable) -> tuple:
    """Cost of :class:`TripletFrame`: ``branch_cost(t, rotated_shape)`` per branch, the products with the
    input, the sum and the average."""
    for rotated in rotated_shapes(shape):
        branch_cost(t, rotated)
        t.ew(numel(rotated))                                      # x_rot * map
    t.ew(numel(shape), 4)                                         # 0 + y1 + y2 + y3, / 3
    return shape


ROTATIONS = ((0, 2, 1, 3), (0, 3, 2, 1), None)
"""Per branch, the permutation that brings the collapsed dim to position 1 (H, W, then C); each is its own
inverse."""


class TripletFrame(Attention):
    """The three rotated branches and their average; ``branches[i]`` maps (B, Z, P, Q) to a (B, 1, P, Q)
    attention map (or anything that broadcasts to it). The base of the triplet family."""

    def __init__(self, branches: list[nn.Module]):
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = 0
        for perm, branch in zip(ROTATIONS, self.branches):
            xr = x if perm is None else x.permute(perm)
            yr = xr * branch(xr)
            out = out + (yr if perm is None else yr.permute(perm))
        return out / 3


class ZPoolGate(nn.Module):
    """One branch of the paper (its 'AttentionGate'): ZPool -> conv kxk (no bias) -> act -> BN -> gate."""

    def __init__(self, stats: tuple[str, ...], kernel_size: int, act: str, gate: str):
        super().__init__()
        self.stats = stats
        self.conv = nn.Conv2d(len(stats), 1, kernel_size, padding=kernel_size // 2, bias=False)
        self.bn = nn.BatchNorm2d(1)
        self.act = make_act(act, "attention.act")
        self.gate = make_gate(gate)

    def forward(self, xr: torch.Tensor) -> torch.Tensor:
        return self.gate(self.bn(self.act(self.conv(zpool(xr, self.stats)))))


@ATTENTION.register("triplet")
class TripletAttention(TripletFrame):
    dims = ("channel", "spatial")

    def __init__(self, channels: int, *, zpool_stats: ZPoolStats = ("max", "avg"),
                 kernel_size: Annotated[int, OddKernel] = 7, act: Act = "identity", gate: Gate = "sigmoid"):
        super().__init__([ZPoolGate(zpool_stats, kernel_size, act, gate) for _ in ROTATIONS])

    @classmethod
    def canonical_params(cls, params: dict, field: str) -> dict:
        return {**params, "zpool_stats": canonical_zpool(params["zpool_stats"], f"{field}.zpool_stats")}

    @classmethod
    def cost(cls, t, shape, p):
        k = p["kernel_size"]

        def branch(t, rotated):
            s = t.conv(zpool_cost(t, rotated, p["zpool_stats"]), 1, k, padding=k // 2, bias=False)
            t.act(numel(s), p["act"])
            t.gate(numel(t.bn(s)), p["gate"])

        return frame_cost(t, shape, branch)
