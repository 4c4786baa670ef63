"""Focus-and-Association (FA) block-wise attention (Liu et al., seed paper 001), as a gating over a sequence of
blocks B_0 .. B_{n-1} with inputs X_i and outputs U_i = B_i(X_i):

    focus        k'_i = sigmoid(W2 ReLU(W1 GAP(X_i)))             Eq. 5-7, W1: C'_i -> C'_i / r1, W2: -> 1
    association  k_i  = sigmoid(W4 ReLU(W3 [k_1 .. k_{i-1}, k'_i]))  Eq. 8, W3: i -> r2 * i, W4: -> 1

The paper's r1 is the parameter ``reduction`` (W1's width is ``reduced_width(C'_i, r1)``), its r2 ``expansion``.
    weighting    X_{i+1} = X_i + (U_i - X_i) * k_i                    Eq. 9 (= Eq. 1)

How the paper is read here:
  * Indexing (Sec. III.B, Eq. 2-4): B_0 is the benchmark block and is not recalibrated; B_1 skips the
    association (k_1 = k'_1, Eq. 4); B_i for i >= 2 associates its focus with k_1 .. k_{i-1} (Eq. 2, 8).
  * The focus step pools the block's INPUT X_i, "the final recalibrated output of block B_{i-1}" (Sec. III.B.1,
    Eq. 6 sums X_{i,j} over H'_i x W'_i), so W1 has the input's channel count C'_i.
  * r2 is an "increasing ratio" of a "dimensionality-increasing layer" (Sec. III.B.2): the hidden width is
    r2 * i. (Eq. 8 prints W3 in R^{r2 x i}, which would not increase the dimension once i > r2; the published
    parameter counts also fit r2 * i: e.g. FA-ResNet-110 adds 0.051M over ResNet-110, r2 * i gives 0.052M,
    a fixed width r2 only 0.030M.)
  * FC layers carry biases (the equations omit them, as the SE paper's do).
  * When X_i and U_i differ in shape, X_i is projected "with convolutions" as in ResNet [6] (Sec. III.B.3):
    a strided 1x1 conv + BN, used in Eq. 9 in place of X_i; the focus step still pools the unprojected X_i.
  * k_i is computed per sample, shape (B, 1, 1, 1).
Multi-stage deployment (Sec. III.C, Fig. 4): the builder calls this gating once per stage with level "blocks"
and once on the list of stages with level "stages", so a stage is itself a block; ``deploy`` picks which of
the two levels get FA (VGG-19 in the paper: its 5 blocks are the stages, ``deploy: stages``).
"""
from __future__ import annotations

from typing import Annotated, Literal, Sequence

import torch
from torch import nn

from ..constraints import Positive
from ..errors import AttnasError
from ..layers import conv_bn, reduced_width
from ..registry import GATINGS
from ..tally import conv_out, numel
from . import base  # noqa: F401  (installs the gating contract)


class FocusAssociation(nn.Module):
    """A sequence of blocks with FA recalibration of every block after the first."""

    def __init__(self, blocks: Sequence[nn.Module], shapes: Sequence[tuple], r1: int, r2: int):
        """``shapes[i]`` is block i's (input shape, output shape, stride), from the backbone's shape walk."""
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.focus = nn.ModuleList()        # focus[i - 1] serves block i
        self.associate = nn.ModuleList()    # associate[i - 2] serves block i
        self.project = nn.ModuleList()      # project[i - 1] serves block i
        for i, ((cin, _, _), (cout, _, _), stride) in enumerate(shapes):
            if i == 0:
                continue
            hidden = reduced_width(cin, r1)
            self.focus.append(nn.Sequential(nn.Linear(cin, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 1),
                                            nn.Sigmoid()))
            if i >= 2:
                self.associate.append(nn.Sequential(nn.Linear(i, r2 * i), nn.ReLU(inplace=True),
                                                    nn.Linear(r2 * i, 1), nn.Sigmoid()))
            same = cin == cout and stride == 1
            self.project.append(nn.Identity() if same else conv_bn(cin, cout, 1, stride, act=None))

    def block_weight(self, i: int, x: torch.Tensor, previous: list[torch.Tensor]) -> torch.Tensor:
        """k_i, shape (B, 1): the focus on X_i (Eq. 5-7), then the association with k_1..k_{i-1} (Eq. 8)."""
        k = self.focus[i - 1](x.mean((2, 3)))
        if i >= 2:
            k = self.associate[i - 2](torch.cat(previous + [k], dim=1))
        return k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks[0](x)
        weights: list[torch.Tensor] = []
        for i in range(1, len(self.blocks)):
            u = self.blocks[i](x)
            k = self.block_weight(i, x, weights)
            weights.append(k)
            x = self.project[i - 1](x)
            x = x + (u - x) * k.view(-1, 1, 1, 1)
        return x


def projects(shape: tuple) -> bool:
    """Whether FA must project X_i onto U_i's shape (a strided 1x1 conv + BN)."""
    (cin, _, _), (cout, _, _), stride = shape
    return not (cin == cout and stride == 1)


def projected_size(shape: tuple) -> tuple:
    """The (H, W) of X_i after FA's projection (or unchanged)."""
    (_, h, w), _, stride = shape
    return (conv_out(h, 1, stride), conv_out(w, 1, stride)) if projects(shape) else (h, w)


def fa_applies(level: str, n: int, deploy: str) -> bool:
    return deploy in ("both", level) and n >= 2


def fa_cost(t, level: str, shapes: Sequence[tuple], params: dict) -> None:
    """Add FA's parameters and MACs over blocks of ``shapes`` (as the builder passes them) to the tally ``t``."""
    if not fa_applies(level, len(shapes), params["deploy"]):
        return
    r2 = params["expansion"]
    for i, shape in enumerate(shapes[1:], start=1):
        x, u, stride = shape
        hidden = reduced_width(x[0], params["reduction"])
        t.reduce(numel(x))                                        # GAP(X_i)
        t.linear(1, x[0], hidden)
        t.ew(hidden)                                              # ReLU
        t.linear(1, hidden, 1)
        t.ew(1)                                                   # sigmoid
        if i >= 2:
            t.linear(1, i, r2 * i)
            t.ew(r2 * i)
            t.linear(1, r2 * i, 1)
            t.ew(1)
        if projects(shape):
            t.bn(t.conv(x, u[0], 1, stride, bias=False))
        t.ew(numel(u), 3)                                         # X + (U - X) * k


def focus_and_association(modules, level: str, shapes, *, reduction: Annotated[int, Positive] = 4,
                          expansion: Annotated[int, Positive] = 4,
                          deploy: Literal["both", "blocks", "stages"] = "both") -> nn.Module:
    """FA over ``modules`` (a stage's blocks, or the stages) when ``level`` is deployed; r1 = r2 = 4 as in the
    paper's experiments (Sec. III.D); ``deploy: both`` is the multi-stage form of Fig. 4. ``shapes``: per module,
    (input shape, output shape, stride)."""
    modules = list(modules)
    if not fa_applies(level, len(modules), deploy):
        return nn.Sequential(*modules)
    return FocusAssociation(modules, shapes, reduction, expansion)


def check_projections(shapes, params: dict) -> None:
    """FA projects a block's input onto its output with a strided 1x1 conv; where that cannot give the output's
    size (e.g. VGG's floor-mode max-pools at an input that is not a multiple of 32), the sequence cannot be
    gated. ``shapes``: the backbone's BackboneShapes."""
    deploy = params["deploy"]
    sequences = [("stages", "the stages", [s[:3] for s in shapes.stages])]
    sequences += [("blocks", f"stage {i}'s blocks", list(s.blocks)) for i, s in enumerate(shapes.stages)]
    for level, what, blocks in sequences:
        if not fa_applies(level, len(blocks), deploy):
            continue
        for i, block in enumerate(blocks[1:], start=1):
            (_, h, w), (_, oh, ow), stride = block
            got = projected_size(block)
            if got != (oh, ow):
                size = "x".join(map(str, shapes.input_size))
                instead = "deploy: blocks" if level == "stages" else "deploy: stages"
                raise AttnasError(
                    f"gating.type: 'fa' cannot gate {what} at input_size {size} (block {i}: its {h}x{w} input at "
                    f"stride {stride} projects to {got[0]}x{got[1]}, its output is {oh}x{ow}); allowed: an input "
                    f"whose maps halve exactly (e.g. a multiple of 32), or gating.{instead}")


focus_and_association.cost = lambda t, level, shapes, params: fa_cost(t, level, shapes, params)
focus_and_association.check_fits = check_projections
GATINGS.register("fa")(focus_and_association)
