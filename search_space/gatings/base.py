"""The gating contract: a registered gating is a factory

    factory(modules, level, shapes, *, params...) -> nn.Module

called by the builder once per stage with ``level`` "blocks" (that stage's blocks) and once with "stages" (the
list of stages). ``shapes`` gives, per module, its (input shape, output shape, stride) from the backbone's shape
walk (search_space/shapes.py), so a gating needs no probe run. The factory carries ``cost(t, level, shapes,
params)``, which adds its parameters and MACs to the tally ``t`` for estimate_cost, and ``check_fits``: None, or
``check_fits(shapes: BackboneShapes, params)`` raising AttnasError where it cannot gate that backbone.
"""
from __future__ import annotations

import inspect

from ..registry import GATINGS

POSITIONAL = ("modules", "level", "shapes")


def check_gating(name: str, factory) -> None:
    where = f"gating {name!r}"
    if not callable(factory) or inspect.isclass(factory):
        raise TypeError(f"{where} must be a factory function")
    positional = [p.name for p in inspect.signature(factory).parameters.values()
                  if p.kind is p.POSITIONAL_OR_KEYWORD]
    if tuple(positional) != POSITIONAL:
        raise TypeError(f"{where}: positional arguments {positional} must be {list(POSITIONAL)}")
    if not callable(vars(factory).get("cost")):
        raise TypeError(f"{where}: the factory must carry cost(t, level, shapes, params)")
    if "check_fits" not in vars(factory) or not (factory.check_fits is None or callable(factory.check_fits)):
        raise TypeError(f"{where}: the factory must carry check_fits (None, or check_fits(shapes, params))")


GATINGS.contract(check_gating)
