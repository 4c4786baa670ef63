"""No block-wise gating: stages are plain sequences of blocks."""
from torch import nn

from ..registry import GATINGS
from . import base  # noqa: F401  (installs the gating contract)


def no_gating(modules, level, shapes):
    return nn.Sequential(*modules)


no_gating.cost = lambda t, level, shapes, params: None
no_gating.check_fits = None
GATINGS.register("none")(no_gating)
