"""Constraints a constructor declares on its parameters in their annotations, e.g.

    def __init__(self, channels: int, *, reduction: Annotated[int, Positive] = 16,
                 kernel_size: Annotated[int, OddKernel] = 7): ...

:func:`search_space.registry.coerce` checks the type, then every marker, with the one-line error
``field: value is not allowed; allowed: <what the marker allows>``. A marker is any object with
``ok(value) -> bool`` and an ``allowed`` text; the common ones are below.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class AtLeast:
    """A number >= ``minimum``."""

    minimum: float

    def ok(self, value) -> bool:
        return value >= self.minimum

    @property
    def allowed(self) -> str:
        m = self.minimum
        return f"an integer >= {int(m)}" if float(m).is_integer() else f"a number >= {m}"


@dataclass(frozen=True)
class Interval:
    """A number in [low, high) (``high_open``) or [low, high]."""

    low: float
    high: float
    high_open: bool = True

    def ok(self, value) -> bool:
        return self.low <= value and (value < self.high if self.high_open else value <= self.high)

    @property
    def allowed(self) -> str:
        return f"{self.low} <= value {'<' if self.high_open else '<='} {self.high}"


@dataclass(frozen=True)
class _OddKernel:
    """A 'same'-padded kernel size: a positive odd integer."""

    def ok(self, value) -> bool:
        return value >= 1 and value % 2 == 1

    allowed = "an odd integer >= 1 (1, 3, 5, 7, ...)"


@dataclass(frozen=True)
class _NonEmpty:
    """A list with at least one element."""

    def ok(self, value) -> bool:
        return len(value) >= 1

    allowed = "a non-empty list"


@dataclass(frozen=True)
class Where:
    """A one-off rule: ``predicate(value)`` must hold; ``allowed`` says what does."""

    predicate: Callable[[Any], bool]
    allowed: str

    def ok(self, value) -> bool:
        return bool(self.predicate(value))


Positive = AtLeast(1)
NonNegative = AtLeast(0)
OddKernel = _OddKernel()
NonEmpty = _NonEmpty()
Fraction = Interval(0.0, 1.0)
"""A rate such as dropout: 0 <= value < 1."""


def is_marker(obj) -> bool:
    return hasattr(obj, "ok") and hasattr(obj, "allowed")
