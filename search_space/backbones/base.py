"""The backbone contract: what every backbone declares, and the registration check that holds it to it.

A backbone is ``__init__(ctx, *, typed keyword params)``; blocks ask ``ctx`` for attention and never name an
attention type. Class attributes:

  insertion_points   where blocks ask for attention; the first is the default point.
  num_stages         how many stages a stage mask covers (or override :meth:`stage_count`).
  test_params        the smallest sensible configuration (contract tests build every attention, connection
  test_input_size    and gating into it at this input), so a new backbone is covered without editing a test.

and the classmethod ``walk(net, **params)``, which mirrors ``__init__`` and ``forward`` on shapes (see
search_space/shapes.py): the stage shapes, the fit checks and the cost of a config come from it, without a build.
"""
from __future__ import annotations

import inspect
from typing import ClassVar

from torch import nn

from ..registry import BACKBONES


class Backbone(nn.Module):
    """Base of registered backbones (see the module docstring).

    ``pre_add`` is after the block's last conv, before the residual add (the SE position); ``post_add``
    after the add; ``conv`` is the block's spatial conv, for attention that replaces it (SK).
    """

    insertion_points: ClassVar[tuple] = ("pre_add", "post_add")
    num_stages: ClassVar[int] = 4
    test_params: ClassVar[dict] = {}
    test_input_size: ClassVar[tuple] = (3, 32, 32)

    @classmethod
    def stage_count(cls, params: dict) -> int:
        return cls.num_stages

    @classmethod
    def fold_params(cls, params: dict, points: frozenset) -> dict:
        """``params`` with every parameter that cannot apply when attention sits only at ``points`` set to its
        default, so equivalent configs share one hash (e.g. Res2Net's ``branch_attention`` without attention at
        ``branch``). The default: every parameter applies."""
        return params

    @classmethod
    def canonical_stage_mask(cls, point: str, mask: tuple) -> tuple:
        """The mask with stages that have no attention at ``point`` set False, so equivalent configs share
        one hash (e.g. a point that exists only on some stages)."""
        return mask

    @classmethod
    def walk(cls, net, **params) -> None:
        """Mirror ``__init__`` + ``forward`` on ``net`` (a :class:`search_space.shapes.Net`)."""
        raise NotImplementedError


def check_backbone(name: str, cls) -> None:
    where = f"backbone {name!r}"
    if not (inspect.isclass(cls) and issubclass(cls, Backbone)):
        raise TypeError(f"{where} is not a subclass of search_space.backbones.base.Backbone")
    points = cls.insertion_points
    if not isinstance(points, tuple) or not points or not all(isinstance(p, str) for p in points) \
            or len(set(points)) != len(points):
        raise TypeError(f"{where}: insertion_points must be a non-empty tuple of distinct names")
    if cls.walk.__func__ is Backbone.walk.__func__:
        raise TypeError(f"{where}: declares no walk(net, **params) (its shapes and cost)")
    from ..registry import keyword_params
    unknown = set(cls.test_params) - set(keyword_params(cls))
    if unknown:
        raise TypeError(f"{where}: test_params names unknown parameters {sorted(unknown)}")
    size = cls.test_input_size
    if not (isinstance(size, tuple) and len(size) == 3 and all(isinstance(v, int) and v > 0 for v in size)):
        raise TypeError(f"{where}: test_input_size must be (C, H, W)")


BACKBONES.contract(check_backbone)


def classifier(channels: int, num_classes: int, dropout: float = 0.0) -> nn.Sequential:
    """Global average pool -> (dropout) -> linear."""
    layers = [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(channels, num_classes))
    return nn.Sequential(*layers)
