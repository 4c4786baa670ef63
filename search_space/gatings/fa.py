"""Focus-and-Association (FA) block-wise attention (Liu et al., seed paper 001), as a gating over a sequence of
blocks B_0 .. B_{n-1} with inputs X_i and outputs U_i = B_i(X_i):

    focus        k'_i = sigmoid(W2 ReLU(W1 GAP(X_i)))             Eq. 5-7, W1: C'_i -> C'_i / r1, W2: -> 1
    association  k_i  = sigmoid(W4 ReLU(W3 [k_1 .. k_{i-1}, k'_i]))  Eq. 8, W3: i -> r2 * i, W4: -> 1
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

from typing import Literal, Sequence

import torch
from torch import nn

from ..errors import AttnasError
from ..layers import conv_bn, reduced
from ..registry import GATINGS


class FocusAssociation(nn.Module):
    """A sequence of blocks with FA recalibration of every block after the first."""

    def __init__(self, blocks: Sequence[nn.Module], shapes: Sequence[tuple], r1: int, r2: int):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.focus = nn.ModuleList()        # focus[i - 1] serves block i
        self.associate = nn.ModuleList()    # associate[i - 2] serves block i
        self.project = nn.ModuleList()      # project[i - 1] serves block i
        for i, (cin, cout, stride) in enumerate(shapes):
            if i == 0:
                continue
            self.focus.append(nn.Sequential(nn.Linear(cin, reduced(cin, r1, "gating.r1")), nn.ReLU(inplace=True),
                                            nn.Linear(reduced(cin, r1, "gating.r1"), 1), nn.Sigmoid()))
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


def probe_forward(module: nn.Module, x: torch.Tensor, **kwargs) -> torch.Tensor:
    """Run ``module`` once to learn shapes, leaving it untouched: eval mode (no BN statistics update), no grad,
    and, for a model built on the meta device, zero CPU stand-ins for its tensors (meta kernels are
    far slower than a tiny CPU run)."""
    tensors = [*module.named_parameters(), *module.named_buffers()]
    on_meta = any(v.is_meta for _, v in tensors)
    stand_ins = {k: torch.zeros(v.shape, dtype=v.dtype, device="cpu") for k, v in tensors} if on_meta else {}
    was_training, threads = module.training, torch.get_num_threads()
    module.eval()
    torch.set_num_threads(1)  # a tiny run: more threads only add synchronisation
    try:
        with torch.no_grad():
            return torch.func.functional_call(module, stand_ins, (x.to("cpu"),), kwargs)
    finally:
        module.train(was_training)
        torch.set_num_threads(threads)


def block_shapes(modules: Sequence[nn.Module], field: str, size: int = 32) -> list[tuple[int, int, int]]:
    """(input channels, output channels, stride) of each module, from one probe run of the sequence. The input
    channel count is the first one among the first module's convolutions that runs."""
    candidates = list(dict.fromkeys(m.in_channels for m in modules[0].modules() if isinstance(m, nn.Conv2d)))
    for cin in candidates:
        try:
            x = torch.zeros(2, cin, size, size, device="cpu")
            shapes = []
            for m in modules:
                y = probe_forward(m, x)
                shapes.append((x.shape[1], y.shape[1], max(1, x.shape[2] // y.shape[2])))
                x = y
            return shapes
        except (RuntimeError, ValueError):
            continue
    raise AttnasError(f"{field}: cannot find the input channels of {type(modules[0]).__name__}; "
                      f"allowed: blocks that start with a convolution")


def _canonical(params: dict, field: str) -> dict:
    for key in ("r1", "r2"):
        if params[key] < 1:
            raise AttnasError(f"{field}.{key}: {params[key]} is not allowed; allowed: an integer >= 1")
    return params


@GATINGS.register("fa")
def focus_and_association(modules, level: str = "blocks", *, r1: int = 4, r2: int = 4,
                          deploy: Literal["both", "blocks", "stages"] = "both") -> nn.Module:
    """FA over ``modules`` (a stage's blocks, or the stages) when ``level`` is deployed; r1 = r2 = 4 as in the
    paper's experiments (Sec. III.D); ``deploy: both`` is the multi-stage form of Fig. 4."""
    modules = list(modules)
    if deploy not in ("both", level) or len(modules) < 2:
        return nn.Sequential(*modules)
    return FocusAssociation(modules, block_shapes(modules, "gating.type: fa"), r1, r2)


focus_and_association.canonical_params = _canonical
