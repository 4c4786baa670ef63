"""The gating contract: a registered gating is a factory

    factory(modules, level, shapes, *, params...) -> nn.Module

called by the builder once per stage with ``level`` "blocks" (that stage's blocks) and once with "stages" (the
list of stages). ``shapes`` gives, per module, its (input shape, output shape, stride) from the backbone's shape
walk (search_space/shapes.py), so a gating needs no probe run. The factory carries ``cost(t, level, shapes,
params)``, which adds its parameters and MACs to the tally ``t`` for estimate_cost, and ``check_fits``: None, or
``check_fits(shapes: BackboneShapes, params)`` raising AttnasError where it cannot gate that backbone.
"""
from __future__ import annotations

from functools import partial

from ..registry import GATINGS, check_factory

POSITIONAL = ("modules", "level", "shapes")

check_gating = partial(check_factory, "gating", positional=POSITIONAL, cost="cost(t, level, shapes, params)",
                       check_fits="check_fits(shapes, params)")

GATINGS.contract(check_gating)
