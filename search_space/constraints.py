"""Constraints a constructor declares on its parameters in their annotations, e.g.

    def __init__(self, channels: int, *, reduction: Annotated[int, Positive] = 16,
                 kernel_size: Annotated[int, OddKernel] = 7): ...

:func:`search_space.registry.coerce` checks the type, then every marker, with the one-line error
``field: value is not allowed; allowed: <what the marker allows>``. A marker is any object with
``ok(value) -> bool``, an ``allowed`` text and ``outside``, one value it rejects (the registry-derived domain
test tries it on every field, so a constraint cannot silently disappear); the common ones are below. Every
int or float parameter of a registered module must carry one (registry.check_signature): a number with no
stated domain is a registration error.
"""
from __future__ import annotations

from dataclasses import dataclass
import typing
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

    @property
    def outside(self):
        return int(self.minimum) - 1 if float(self.minimum).is_integer() else self.minimum - 0.5


@dataclass(frozen=True)
class Above:
    """A number > ``bound`` (a width multiplier: 0 would build no channels)."""

    bound: float

    def ok(self, value) -> bool:
        return value > self.bound

    @property
    def allowed(self) -> str:
        return f"a number > {self.bound:g}"

    @property
    def outside(self):
        return -abs(self.bound) - 0.5


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

    @property
    def outside(self):
        return self.high if self.high_open else self.high + 1


@dataclass(frozen=True)
class _OddKernel:
    """A 'same'-padded kernel size: a positive odd integer."""

    def ok(self, value) -> bool:
        return value >= 1 and value % 2 == 1

    allowed = "an odd integer >= 1 (1, 3, 5, 7, ...)"
    outside = 4


@dataclass(frozen=True)
class _NonEmpty:
    """A list with at least one element."""

    def ok(self, value) -> bool:
        return len(value) >= 1

    allowed = "a non-empty list"
    outside = ()


@dataclass(frozen=True)
class Where:
    """A one-off rule: ``predicate(value)`` must hold; ``allowed`` says what does; ``outside`` is one value
    it rejects."""

    predicate: Callable[[Any], bool]
    allowed: str
    outside: Any

    def ok(self, value) -> bool:
        return bool(self.predicate(value))


@dataclass(frozen=True)
class _AnyFinite:
    """Any finite number (the float coercion already rejects NaN and infinity): for a parameter whose whole
    domain is the reals, so it still declares one (DCA's alpha_init)."""

    def ok(self, value) -> bool:
        return True

    allowed = "any finite number"
    outside = float("nan")


Positive = AtLeast(1)
PositiveReal = Above(0.0)
"""A width multiplier: > 0."""
AnyFinite = _AnyFinite()
NonNegative = AtLeast(0)
OddKernel = _OddKernel()
NonEmpty = _NonEmpty()
Fraction = Interval(0.0, 1.0)
"""A rate such as dropout: 0 <= value < 1."""


@dataclass(frozen=True)
class Aliases:
    """Values that name one thing: ``alias -> canonical value``. Not a constraint (it rejects nothing): in an
    annotation (``Annotated[Literal[...], Aliases({...})]``) it makes :func:`search_space.registry.coerce` return
    the canonical value, so the aliases share one config, one hash and one count. Only for names of provably
    the same function (e.g. torch's CELU at alpha 1 is ELU)."""

    table: typing.Mapping[str, Any]

    def canonical(self, value):
        return self.table.get(value, value) if isinstance(value, typing.Hashable) else value


def is_marker(obj) -> bool:
    return hasattr(obj, "ok") and hasattr(obj, "allowed")
Width = typing.Annotated[float, PositiveReal]
"""A width multiplier parameter (``width: Width = 1.0``)."""
