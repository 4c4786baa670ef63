"""The empty choice: no attention (the plain backbone)."""
from torch import nn

from ..registry import ATTENTION


@ATTENTION.register("none")
class NoAttention(nn.Identity):
    def __init__(self, channels: int = 0):
        super().__init__()
