"""No block-wise gating: stages are plain sequences of blocks."""
from torch import nn

from ..registry import GATINGS


@GATINGS.register("none")
def no_gating(blocks, level="blocks"):
    return nn.Sequential(*blocks)
