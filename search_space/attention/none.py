"""The empty choice: no attention (the plain backbone). The builder never builds it (ctx.attention returns None
where the attention is none); it is registered so that ``attention: {type: none}`` is a config."""
from ..registry import ATTENTION
from .base import Attention


@ATTENTION.register("none")
class NoAttention(Attention):
    def __init__(self, channels: int = 0):
        super().__init__()

    def forward(self, x):
        return x

    @classmethod
    def cost(cls, t, shape, p, *conv_args):
        return shape
