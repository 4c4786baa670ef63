"""What every backbone declares: its insertion points and how many stages a stage mask covers."""
from __future__ import annotations

from torch import nn


class Backbone(nn.Module):
    """Base of registered backbones: ``__init__(ctx, *, typed keyword params)``.

    ``insertion_points`` lists where blocks ask the BuildContext for attention; the first is the default.
    ``pre_add`` is after the block's last conv, before the residual add (the SE position); ``post_add``
    after the add; ``conv`` is the block's spatial conv, for attention that replaces it (SK).
    """

    insertion_points: tuple = ("pre_add", "post_add")
    num_stages: int = 4

    @classmethod
    def stage_count(cls, params: dict) -> int:
        return cls.num_stages

    @classmethod
    def canonical_stage_mask(cls, point: str, mask: tuple) -> tuple:
        """The mask with stages that have no attention at ``point`` set False, so equivalent configs share
        one hash (e.g. a point that exists only on some stages)."""
        return mask


def classifier(channels: int, num_classes: int, dropout: float = 0.0) -> nn.Sequential:
    """Global average pool -> (dropout) -> linear."""
    layers = [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(channels, num_classes))
    return nn.Sequential(*layers)
