"""Shared building blocks: activations and gates by name (the one vocabulary of each that every config field
uses), conv-BN-act, channel rounding."""
from __future__ import annotations

from typing import Annotated, Literal

import torch
from torch import nn

from .constraints import Aliases
from .errors import AttnasError

ACTIVATIONS = {
    "relu": lambda: nn.ReLU(inplace=True),
    "relu6": lambda: nn.ReLU6(inplace=True),
    "gelu": nn.GELU,
    "celu": nn.CELU,
    "elu": nn.ELU,
    "leaky_relu": lambda: nn.LeakyReLU(0.01, inplace=True),
    "silu": lambda: nn.SiLU(inplace=True),
    "hard_swish": nn.Hardswish,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "identity": nn.Identity,
}
"""Activation name -> constructor: the one vocabulary of the top-level ``activation`` and of every attention
``act``. The six searched in the seeds are relu, gelu, celu, elu, leaky_relu, silu; ``identity`` is no activation."""

ACTIVATION_ALIASES = {"celu": "elu"}
"""Activation names of one function, alias -> the name a config keeps (the one statement of these equivalences):
torch's CELU at alpha 1, max(0, x) + min(0, exp(x) - 1), is ELU at alpha 1 (torch computes it as ELU with input
scale 1/alpha, bit for bit the same forward and backward). No other pair here is one function: relu6 clips at 6,
leaky_relu(0.01) and hard_swish differ from relu and silu, gelu from silu."""


class SoftmaxGate(nn.Module):
    """Softmax over every element of one sample's attention map (report 003, Table 3 'BatchNorm-softmax')."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(x.flatten(1), dim=1).view_as(x)


GATES = {
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "softmax": SoftmaxGate,
    "hard_sigmoid": nn.Hardsigmoid,
}
"""Gate name -> constructor: the function that turns attention logits into weights."""

ACTIVATION_NAMES = tuple(sorted(ACTIVATIONS))
GATE_NAMES = tuple(sorted(GATES))

Act = Annotated[Literal[ACTIVATION_NAMES], Aliases(ACTIVATION_ALIASES)]
"""The annotation of every activation parameter (``act``, and the top-level ``activation``): one of
ACTIVATION_NAMES, an alias put in the name it stands for, so ``celu`` and ``elu`` are one config."""

Gate = Literal[GATE_NAMES]
"""The annotation of every gate parameter (``gate``)."""

SCALED_GATES = frozenset({"sigmoid", "softmax", "hard_sigmoid"})
"""Gates whose output lies in [0, 1], so a DCA link rescales it by the extraction (DCA paper, Sec. 3.2)."""


def make_act(name: str, field: str = "activation") -> nn.Module:
    if name not in ACTIVATIONS:
        raise AttnasError(f"{field}: {name!r} is not an activation; allowed: {', '.join(ACTIVATION_NAMES)}")
    return ACTIVATIONS[name]()


def make_gate(name: str, field: str = "gate") -> nn.Module:
    if name not in GATES:
        raise AttnasError(f"{field}: {name!r} is not a gate; allowed: {', '.join(GATE_NAMES)}")
    return GATES[name]()


def conv_bn(cin: int, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1, dilation: int = 1,
            act: str | None = "relu") -> nn.Sequential:
    """Conv (no bias, 'same' padding for odd kernels) -> BatchNorm -> optional activation."""
    pad = dilation * (kernel - 1) // 2
    layers = [nn.Conv2d(cin, cout, kernel, stride, pad, dilation=dilation, groups=groups, bias=False),
              nn.BatchNorm2d(cout)]
    if act is not None:
        layers.append(make_act(act))
    return nn.Sequential(*layers)


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round channels to a multiple of ``divisor`` without going below 90% (MobileNet convention)."""
    min_value = min_value or divisor
    new = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new < 0.9 * value:
        new += divisor
    return new


def reduced_width(channels: int, reduction: int, divisor: int = 1, min_width: int = 1) -> int:
    """Width of a layer that reduces ``channels`` by ``reduction`` (a squeeze MLP's hidden layer, SK's d, ...):
    ``max(min_width, (channels // reduction) // divisor * divisor)``.

    A divisor and a floor as timm's ``make_divisible`` has, so every reduction >= 1 builds at every width (a
    reduction larger than the layer gives ``min_width``). It rounds down, not to the nearest multiple: with
    divisor 1 it is exactly the ``C // r`` of the authors' code of every paper model here, also where C is not
    a multiple of r (SE-MnasNet's 24 and 40 channels at r = 16, the Res2Net sub-branches of 26 and 104).
    """
    return max(min_width, channels // reduction // divisor * divisor)
