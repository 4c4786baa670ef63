"""One searched field of a SearchSpace (a :class:`Dimension`), parsed from its YAML form, and the order in which
the walk over a space decides them.

A dimension is named by its dotted ArchConfig path and is categorical (``choices``, ``subsets_of``, or ``by``:
choices per value of a parent field) or numeric (``low``/``high`` with optional ``step`` and ``log``).
Categorical choices are kept as Optuna-safe primitives: a list choice is encoded as the string ``'a+b'``
(a stage mask as ``'101'``) and decoded when the ArchConfig is built.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from collections.abc import Mapping
from typing import Any

from .arch_config import TOP_FIELDS
from .errors import AttnasError

ORDER = ("num_classes", "input_size", "backbone.type", "backbone.", "activation", "attention.type",
         "insertion_point", "stage_mask", "attention.", "extra_attention.", "connection.type", "connection.",
         "gating.type", "gating.")
"""The order in which a walk decides dimensions: the input and the backbone first (they fix every shape), then
where attention goes (type, point, stages) before its parameters, so that whatever a parameter's fit depends on
is decided before it is asked."""

TYPE_FIELDS = ("backbone", "attention", "connection", "gating")


@dataclass(frozen=True)
class Dimension:
    """One searched field. ``choices`` are Optuna-safe primitives (lists are encoded as 'a+b' strings)."""

    path: str
    choices: tuple | None = None          # categorical
    low: float | None = None              # numeric range
    high: float | None = None
    step: float | None = None
    log: bool = False
    integer: bool = False
    by: str | None = None                 # choices depend on this parent path's value
    choices_by: Mapping[Any, tuple] = field(default_factory=dict)
    when: Mapping[str, tuple] = field(default_factory=dict)
    encoded_lists: bool = False           # choices are lists joined with '+'

    @property
    def finite(self) -> bool:
        return self.choices is not None or self.by is not None or self.integer or self.step is not None

    @property
    def categorical(self) -> bool:
        return self.choices is not None or self.by is not None

    def values(self, parent=None) -> tuple:
        """The choices (for ``by``: those of the parent value ``parent``), or every point of a finite range,
        all within [low, high] (a step that does not divide the range stops below ``high``)."""
        if self.by is not None:
            return self.choices_by.get(parent, ())
        if self.choices is not None:
            return self.choices
        step = self.step or 1
        n = int(math.floor((self.high - self.low) / step + 1e-9)) + 1
        if self.integer:
            return tuple(int(self.low) + i * int(step) for i in range(n))
        return tuple(round(self.low + i * step, 10) for i in range(n))

    @property
    def parents(self) -> tuple:
        """The fields this dimension's applicability or choices depend on (besides the registries)."""
        return tuple(self.when) + ((self.by,) if self.by else ())

    def component(self) -> tuple[str, str] | None:
        """``(slot, parameter)`` for a component parameter (slot ``backbone``, ``attention``,
        ``extra_attention.<point>``, ``connection`` or ``gating``); None for a top-level field or a type."""
        head, _, rest = self.path.partition(".")
        if head == "extra_attention":
            point, _, param = rest.partition(".")
            return (f"extra_attention.{point}", param) if param and param != "type" else None
        if head in TYPE_FIELDS and rest and rest != "type":
            return head, rest
        return None


def param_name(dim: Dimension, values: tuple | None) -> str:
    """The Optuna name of ``dim`` with open choices ``values``: its path while every choice is open, else
    ``path|choice1,choice2,...`` (so that one name always has one set of choices)."""
    if values is None or (dim.by is None and tuple(values) == dim.values()):
        return dim.path
    return f"{dim.path}|{','.join(map(str, values))}"


def encode(value, path: str) -> tuple[Any, bool]:
    """An Optuna-safe form of one choice, and whether it encoded a list."""
    if isinstance(value, (list, tuple)):
        if path == "stage_mask" and all(isinstance(v, (bool, int)) for v in value):
            return "".join("1" if v else "0" for v in value), False
        return "+".join(str(v) for v in value), True
    return value, False


def decode(value, dim: Dimension):
    """The ArchConfig value of an encoded choice."""
    if dim.encoded_lists and isinstance(value, str):
        return [int(p) if p.lstrip("-").isdigit() else p for p in value.split("+")] if value else []
    return value


KNOWN_KEYS = ("by", "choices", "high", "log", "low", "max_size", "min_size", "step", "subsets_of", "when")


def parse_dimension(path: str, spec) -> Dimension:
    """A Dimension from its YAML form; AttnasError naming ``dimensions.<path>`` on any problem."""
    head = path.split(".")[0]
    if head not in TOP_FIELDS:
        raise AttnasError(f"dimensions.{path}: unknown field; allowed: paths under {', '.join(TOP_FIELDS)}")
    if isinstance(spec, list):
        spec = {"choices": spec}
    if not isinstance(spec, Mapping):
        raise AttnasError(f"dimensions.{path}: {spec!r} is not allowed; allowed: a list of choices or a mapping "
                          f"with choices, subsets_of, low/high[/step/log], by, when")
    spec = dict(spec)
    for k in spec:
        if k not in KNOWN_KEYS:
            raise AttnasError(f"dimensions.{path}.{k}: unknown key; allowed: {', '.join(KNOWN_KEYS)}")
    when = spec.get("when") or {}
    if not isinstance(when, Mapping):
        raise AttnasError(f"dimensions.{path}.when: {when!r} is not allowed; allowed: a mapping path -> list of values")
    when = {k: tuple(v if isinstance(v, list) else [v]) for k, v in when.items()}

    def encode_all(values, where):
        if not isinstance(values, list) or not values:
            raise AttnasError(f"{where}: {values!r} is not allowed; allowed: a non-empty list of choices")
        enc = [encode(v, path) for v in values]
        vals = tuple(e[0] for e in enc)
        if len(set(map(repr, vals))) != len(vals):
            raise AttnasError(f"{where}: {values!r} has duplicate choices; allowed: distinct choices")
        return vals, any(e[1] for e in enc)

    if "subsets_of" in spec:
        items = spec["subsets_of"]
        if not isinstance(items, list) or not items:
            raise AttnasError(f"dimensions.{path}.subsets_of: {items!r} is not allowed; allowed: a non-empty list")
        lo, hi = spec.get("min_size", 1), spec.get("max_size", len(items))
        subsets = [list(c) for r in range(lo, hi + 1) for c in itertools.combinations(items, r)]
        vals, _ = encode_all(subsets, f"dimensions.{path}.subsets_of")
        return Dimension(path, choices=vals, when=when, encoded_lists=True)
    if "by" in spec:
        table = spec.get("choices")
        if not isinstance(table, Mapping) or not table:
            raise AttnasError(f"dimensions.{path}.choices: {table!r} is not allowed; allowed: with 'by', a mapping "
                              f"from each value of {spec['by']} to a list of choices")
        by, lists = {}, False
        for parent, values in table.items():
            by[parent], enc = encode_all(values, f"dimensions.{path}.choices.{parent}")
            lists = lists or enc
        return Dimension(path, by=spec["by"], choices_by=by, when=when, encoded_lists=lists)
    if "choices" in spec:
        vals, lists = encode_all(spec["choices"], f"dimensions.{path}.choices")
        return Dimension(path, choices=vals, when=when, encoded_lists=lists)
    if "low" in spec and "high" in spec:
        lo, hi, step = spec["low"], spec["high"], spec.get("step")
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (lo, hi))
        if not numbers or lo > hi:
            raise AttnasError(f"dimensions.{path}: low={lo!r}, high={hi!r} is not allowed; allowed: numbers with low <= high")
        if step is not None and (isinstance(step, bool) or not isinstance(step, (int, float)) or step <= 0):
            raise AttnasError(f"dimensions.{path}.step: {step!r} is not allowed; allowed: a number > 0")
        integer = all(isinstance(v, int) for v in (lo, hi)) and (step is None or isinstance(step, int))
        log = bool(spec.get("log", False))
        if log and (lo <= 0 or step is not None and not integer):
            raise AttnasError(f"dimensions.{path}.log: true needs low > 0 and no float step; allowed: log with a positive range")
        if step is not None:     # the last point of the grid: every value stays within [low, high]
            hi = lo + (hi - lo) // step * step if integer else round(lo + math.floor((hi - lo) / step + 1e-9) * step, 10)
        return Dimension(path, low=lo, high=hi, step=step, log=log, integer=integer, when=when)
    raise AttnasError(f"dimensions.{path}: {spec!r} is not allowed; allowed: choices, subsets_of, low/high or by")


def walk_order(dims: list[Dimension]) -> list[Dimension]:
    """``dims`` in the order a walk decides them: by :data:`ORDER`; inside one group the types first, then the
    parameters other dimensions depend on, then the rest, each in the order written."""
    parents = {p for d in dims for p in d.parents}

    def key(item):
        i, d = item
        return rank(d.path), not d.path.endswith(".type"), d.path not in parents, i

    return [d for _, d in sorted(enumerate(dims), key=key)]


def rank(path: str) -> int:
    for i, prefix in enumerate(ORDER):
        if path == prefix or (prefix.endswith(".") and path.startswith(prefix)):
            return i
    return len(ORDER)
