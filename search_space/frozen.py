"""FrozenDict: the read-only, hashable mapping that configs hold, so an ArchConfig is immutable all the way
down (``arch.attention.params["reduction"] = 2`` raises) and can be a dict key or a set member."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


class FrozenDict(Mapping):
    """A mapping that cannot change after construction; hashable when its values are.

    Equal to any mapping with the same items (``FrozenDict(a=1) == {"a": 1}``), so code that reads params
    (``params["k"]``, ``params.get``, ``**params``, ``dict(params)``) is unaffected by the freezing.
    """

    __slots__ = ("_items", "_hash", "_deep")

    def __init__(self, *args, **kwargs):
        object.__setattr__(self, "_items", dict(*args, **kwargs))
        object.__setattr__(self, "_hash", None)
        object.__setattr__(self, "_deep", False)      # True once freeze() made every value immutable

    def __getitem__(self, key) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        if self._hash is None:
            object.__setattr__(self, "_hash", hash(frozenset(self._items.items())))
        return self._hash

    def __eq__(self, other) -> bool:
        if isinstance(other, FrozenDict):
            return self._items == other._items
        return isinstance(other, Mapping) and self._items == dict(other.items())

    def __setattr__(self, name, value):
        raise AttributeError(f"FrozenDict is read-only (tried to set {name!r})")

    def __reduce__(self):
        return freeze, (self._items,)

    def __repr__(self) -> str:
        return f"FrozenDict({self._items!r})"


def freeze(value: Any) -> Any:
    """``value`` with every mapping made a FrozenDict and every list/tuple a tuple, recursively."""
    if isinstance(value, FrozenDict) and value._deep:
        return value
    if isinstance(value, Mapping):
        out = FrozenDict({k: freeze(v) for k, v in value.items()})
        object.__setattr__(out, "_deep", True)
        return out
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value
