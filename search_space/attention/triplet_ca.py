"""TripletCA (report 003, Sec. 3.2 'TripletCA', Fig. 14): Triplet Attention whose branches extract their
plane's map the coordinate-attention way (Hou et al. 2021) instead of with a kxk convolution.

The report keeps triplet as the skeleton and uses the coordinate method for the C (H x W) branch "and the
other interaction dimensions" too. Per branch, on the rotated input (B, Z, P, Q):

    z   = ZPool_Z(x_rot)                                  (B, S, P, Q), S = len(zpool_stats)
    a_P, a_Q = CA encoder of z: pool along Q and along P, shared 1x1 conv S -> m + BN + act,
               two 1x1 convs m -> 1, gate each            (CA Eq. 4-8)
    map = a_P * a_Q                                       (B, 1, P, Q), CA Eq. 9 with one output channel

and the three branches are averaged as in triplet. Why z-pool first (not CA on all C channels): the report's
Table 2 gives TripletCA +0.01M parameters over Triplet while CA on full channels costs +0.42M; only the
pooled-map encoder fits that budget, and it is the one that works for the two rotated branches, whose
collapsed dimension is a spatial size unknown when the network is built.

The encoder width m is CA's, max(min_width, S // 32) (``reduced_width`` with CA's reduction 32); with S <= 6
pooled maps it is ``min_width``, CA's floor of 8 by default.

What does not hold: the report's TripletCA-ResNet-50 costs 4.83 GMACs against its Triplet's 4.17 (thop, its
counter); this encoder costs 0.05G less than Triplet's 7x7 convs, and no encoder within its +0.01M parameters
adds 0.66G, so the parameter count is the reading kept (tests/search_space/seed_tables.yaml, row 003-2-tca).
"""
from __future__ import annotations

from typing import Annotated

import torch
from torch import nn

from ..constraints import Positive
from ..layers import Act, Gate, reduced_width
from ..registry import ATTENTION
from ..tally import numel
from .ca import CoordinateEncoder
from .triplet import ROTATIONS, TripletFrame, ZPoolStats, canonical_zpool, frame_cost, zpool, zpool_cost

CA_REDUCTION = 32


class ZPoolCoordinateGate(nn.Module):
    def __init__(self, stats: tuple[str, ...], hidden: int, act: str, gate: str):
        super().__init__()
        self.stats = stats
        self.encoder = CoordinateEncoder(len(stats), hidden, 1, act, gate)

    def forward(self, xr: torch.Tensor) -> torch.Tensor:
        a_p, a_q = self.encoder(zpool(xr, self.stats))
        return a_p * a_q


@ATTENTION.register("triplet_ca")
class TripletCoordinateAttention(TripletFrame):
    dims = ("channel", "spatial")

    def __init__(self, channels: int, *, zpool_stats: ZPoolStats = ("max", "avg"),
                 min_width: Annotated[int, Positive] = 8, act: Act = "hard_swish", gate: Gate = "sigmoid"):
        hidden = reduced_width(len(zpool_stats), CA_REDUCTION, min_width=min_width)
        super().__init__([ZPoolCoordinateGate(zpool_stats, hidden, act, gate) for _ in ROTATIONS])

    @classmethod
    def canonical_params(cls, params: dict, field: str) -> dict:
        return {**params, "zpool_stats": canonical_zpool(params["zpool_stats"], f"{field}.zpool_stats")}

    @classmethod
    def cost(cls, t, shape, p):
        stats = p["zpool_stats"]
        hidden = reduced_width(len(stats), CA_REDUCTION, min_width=p["min_width"])

        def branch(t, rotated):
            z = zpool_cost(t, rotated, stats)
            CoordinateEncoder.cost(t, z, hidden, 1, p["act"], p["gate"])
            t.ew(numel(z) // z[0])                                # a_P * a_Q

        return frame_cost(t, shape, branch)
