"""The one enumeration routine of a SearchSpace: which choices are open at each step of the walk, how many
distinct architectures there are, and every one of them.

The walk decides the space's dimensions in :func:`~search_space.dimensions.walk_order`. They fall in two kinds:

* **structural**: types, ``insertion_point``, ``stage_mask``, ``num_classes``, ``input_size`` and any parent of a
  ``when``/``by``: they decide which other dimensions apply and with which choices. They branch a tree whose
  leaves are the space's *structures*; the backbone's stage count (a function of its parameters) is one more
  branch, right after the backbone's dimensions, since the stage masks depend on it.
* **slot parameters**: every other dimension is a parameter of one *slot* (``backbone``, ``activation``,
  ``attention``, ``extra_attention.<point>``, ``connection``, ``gating``). Under one structure a slot's
  parameters form a product, the slot's *table*: each row validated and put in canonical form by the
  registry (``canonical_params``), memoised, so folding parameters (an unused reduction, a custom kernel
  triple equal to a named variant) are counted once.

An attention's values are also folded at the sites they meet (``Attention.canonical_at``, the rule the config
uses), in the same per-backbone partition as the fit checks, so the count and the listing fold exactly as the
hash does. What can be built is decided per slot from the config alone (search_space.shapes): the backbone at the input
size, an attention at the sites (channels, map size) of its point and stages, a connection with its attention,
a gating with the backbone's stages. So under one structure the distinct architectures are, for each class of
backbones that the other slots' fit checks cannot tell apart, the product of the slots' fitting canonical values
(assumption: no fit check or fold couples two slots other than through the backbone's shapes and the structure;
tested by brute force over every registered module). Structures that fold into one canonical form (attention
``none``, an all-false mask, a main attention that is only a label, the stage mask of a point that exists on
some stages) share a key; their sets are united exactly (:func:`union_size`).

A step of the walk is offered only the choices that still lead to at least one buildable architecture
(:meth:`Plan.step`), so a sampler is never handed a point that cannot be built and never meets a dead end.
"""
from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from collections.abc import Mapping
from typing import Any

from .arch_config import NONE, ArchConfig, Component, allowed_points, default_point, parse_input_size
from .dimensions import Dimension, decode, param_name, rank
from .errors import AttnasError
from .frozen import FrozenDict, freeze
from .layers import Act
from .registry import ATTENTION, BACKBONES, CONNECTIONS, GATINGS, coerce
from .shapes import (BackboneShapes, attention_can_fold, attention_can_misfit, backbone_shapes,
                     check_attention_fits, check_connection_fits, check_gating_fits, connection_can_misfit,
                     fold_attention_at, gating_can_misfit)

COMPONENTS = {"backbone": BACKBONES, "attention": ATTENTION, "connection": CONNECTIONS, "gating": GATINGS}
STRUCTURAL_FIELDS = ("num_classes", "input_size", "insertion_point", "stage_mask")
DEFAULTS = {"attention.type": "none", "connection.type": "none", "gating.type": "none", "activation": "relu",
            "num_classes": 10, "input_size": (3, 32, 32)}
STAGES = "#stages"
"""Pseudo-path of the structure: the backbone's stage count."""
PER_BACKBONE = object()
"""A step whose open choices depend on which backbone was chosen (a fit check tells them apart)."""
EMPTY = (FrozenDict(),)
"""The one value of a slot that is folded away (attention of the plain backbone, no connection)."""


def registry_of(slot: str):
    return ATTENTION if slot.startswith("extra_attention.") else COMPONENTS[slot]


# ---- fit checks, one slot at a time (config only, no building; search_space.shapes) ----------------------------
def sites_of(shapes: BackboneShapes, point: str, mask: tuple) -> frozenset:
    """The distinct places (stage, shapes) where an attention at ``point`` under ``mask`` is built."""
    return frozenset(site for site in shapes.sites if site.point == point and site.stage < len(mask) and mask[site.stage])


def fits(check, component: Component) -> bool:
    """Whether ``check(component)`` passes (a fit check raises AttnasError)."""
    try:
        check(component)
        return True
    except AttnasError:
        return False


# ---- tables -----------------------------------------------------------------------------------------------
class Table:
    """The rows of one slot under one structure: raw choices (encoded, in walk order of ``dims``) -> canonical
    value, for the rows that validate. ``full``: every row of the product validated (fast path for sampling)."""

    __slots__ = ("slot", "type", "dims", "rows", "values", "full", "error", "canonical", "_components")

    def __init__(self, slot, type_, dims, rows, full, error):
        self.slot, self.type, self.dims, self.rows, self.full, self.error = slot, type_, dims, rows, full, error
        self.values = tuple(dict.fromkeys(c for _, c in rows))
        self.canonical = dict(rows)
        """raw choices -> canonical value"""
        self._components = None

    def components(self) -> tuple:
        """``Component(type, value)`` of every canonical value (for the fit checks)."""
        if self._components is None:
            self._components = tuple(Component(self.type, v) for v in self.values)
        return self._components


@dataclass(frozen=True)
class Leaf:
    """One structure: its canonical key, and per class of backbones (a bit set over the structure's backbones)
    the canonical values of every slot, in the key's slot order."""

    key: tuple
    rep: ArchConfig | None
    classes: tuple            # ((bits, (backbone values, activation values, ...)), ...)
    bits: int                 # backbones under which this structure has at least one buildable point
    error: str | None = None


class Plan:
    """Everything the walk over one SearchSpace needs, memoised (a space is immutable, so is its plan)."""

    def __init__(self, space):
        self.space = space
        self.dims: list[Dimension] = list(space.dimensions)
        parents = {p for d in self.dims for p in d.parents}
        self.structural = [d.path.endswith(".type") or d.path in STRUCTURAL_FIELDS or d.path in parents
                           for d in self.dims]
        self.slot = [None if st else ("activation" if d.path == "activation" else d.component()[0])
                     for d, st in zip(self.dims, self.structural)]
        self.slot_params: dict[str, list[int]] = defaultdict(list)     # slot -> its finite leaf dimensions
        self.slot_structure: dict[str, list[int]] = defaultdict(list)  # slot -> its structural parameters
        for i, d in enumerate(self.dims):
            if self.slot[i] is not None and d.finite:
                self.slot_params[self.slot[i]].append(i)
            elif self.structural[i] and d.component():
                self.slot_structure[d.component()[0]].append(i)
        backbone_rank = rank("backbone.")
        self.boundary = next((i for i, d in enumerate(self.dims) if rank(d.path) > backbone_rank), len(self.dims))
        self.fixed = space.fixed_config()
        self._memo: dict = {}
        self._tables: dict = {}
        self._leaves: dict = {}
        self._viable: dict = {}
        self._steps: dict = {}
        self._children: dict = {}
        self.empty = FrozenDict()
        self.errors: list[str] = []
        self.flat = None          # search_space.flat.FlatParams, once asked for

    # ---- values and rules of the walk ------------------------------------------------------------------------
    def value(self, path: str, s: Mapping):
        """The value of ``path`` decided so far (``s``), else fixed, else the default."""
        if path in s:
            return s[path]
        node: Any = self.fixed
        for part in path.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return DEFAULTS.get(path)
            node = node[part]
        return node

    def input_size(self, s: Mapping) -> tuple:
        value = self.value("input_size", s)
        if "input_size" in s:
            value = decode(value, next(d for d in self.dims if d.path == "input_size"))
        return parse_input_size(value)

    def stage_count(self, s: Mapping) -> int:
        return s[STAGES]

    def applies(self, dim: Dimension, s: Mapping) -> bool:
        """Whether ``dim`` is asked, given the structure decided so far."""
        for parent, allowed in dim.when.items():
            if self.value(parent, s) not in allowed:
                return False
        if dim.by is not None and self.value(dim.by, s) not in dim.choices_by:
            return False            # no choices listed for this parent value: the field keeps its default
        path = dim.path
        head, _, rest = path.partition(".")
        att = self.value("attention.type", s)
        if path in ("insertion_point", "stage_mask"):
            return att != "none"
        if path == "connection.type":
            return att != "none" and connectable(att)
        if head == "extra_attention":
            point, _, param = rest.partition(".")
            if param == "type":
                return True
            t = self.value(f"extra_attention.{point}.type", s) or "none"
            return t != "none" and param in ATTENTION.param_specs(t)
        if head in COMPONENTS and rest and rest != "type":
            t = self.value(f"{head}.type", s)
            if t is None or (t == "none" and head != "backbone") or t not in COMPONENTS[head]:
                return False
            if head == "connection" and not (att != "none" and connectable(att)) and "connection" not in self.fixed:
                return False
            return rest in COMPONENTS[head].param_specs(t)
        return True

    def legal(self, dim: Dimension, s: Mapping) -> tuple:
        """The choices of a structural ``dim`` that the config's rules allow here (before any fit check)."""
        path = dim.path
        if dim.by is not None:
            values = dim.values(self.value(dim.by, s))
        else:
            values = dim.values()
        if path == "insertion_point":
            ok = allowed_points(self.value("attention.type", s), self.points(s))
            return tuple(v for v in values if v in ok)
        if path == "stage_mask":
            n = self.stage_count(s)
            return tuple(v for v in values if len(str(v)) == n)
        if path.startswith("extra_attention.") and path.endswith(".type"):
            point = path.split(".")[1]
            main = self.main_point(s)
            return tuple(v for v in values if v == "none" or (
                point != main and point in allowed_points(v, self.points(s))))
        return values

    def points(self, s: Mapping) -> tuple:
        return tuple(BACKBONES.get(self.value("backbone.type", s), "backbone.type").insertion_points)

    def main_point(self, s: Mapping) -> str | None:
        att = self.value("attention.type", s)
        if att == "none":
            return None
        return self.value("insertion_point", s) or default_point(Component(att), self.points(s))

    # ---- the tree of structures ------------------------------------------------------------------------------
    def node(self, i: int, s: FrozenDict) -> tuple:
        """``(i, s)`` moved on to the next structural dimension that applies (or the stage-count branch, or the
        end), so equal subtrees share one key."""
        n = len(self.dims)
        while i < n:
            if i >= self.boundary and STAGES not in s:
                return i, s
            if self.structural[i] and self.applies(self.dims[i], s):
                return i, s
            i += 1
        return i, s

    def children(self, i: int, s: FrozenDict) -> list[tuple[Any, tuple]]:
        """``[(choice, child node)]`` of a normalised inner node; [] at a leaf."""
        if i >= self.boundary and STAGES not in s:
            return [(k, self.node(i, self.child(s, STAGES, k))) for k in self.stage_counts(s)]
        if i == len(self.dims):
            return []
        dim = self.dims[i]
        values = self.legal(dim, s)
        if not values:
            self.errors.append(f"dimensions.{dim.path}: no choice applies when {self.describe(dim, s)}; allowed: "
                               f"choices that fit it")
        return [(v, self.node(i + 1, self.child(s, dim.path, v))) for v in values]

    def describe(self, dim: Dimension, s: Mapping) -> str:
        """The context that filters ``dim``'s choices, for an error message."""
        if dim.path == "stage_mask":
            return f"backbone {self.value('backbone.type', s)} has {self.stage_count(s)} stages"
        if dim.path.startswith("extra_attention."):
            return f"the main attention is at {self.main_point(s)!r}"
        if dim.by is not None:
            return f"{dim.by} is {self.value(dim.by, s)!r}"
        return f"attention.type is {self.value('attention.type', s)!r}"

    def is_leaf(self, i: int, s: FrozenDict) -> bool:
        return i == len(self.dims) and STAGES in s

    # ---- slot tables -----------------------------------------------------------------------------------------
    def table(self, slot: str, s: FrozenDict) -> Table:
        """The validated, canonical rows of ``slot`` under the structure ``s`` (memoised)."""
        key = ("table", slot, s)
        if key not in self._memo:
            self._memo[key] = self._table(slot, s)
        return self._memo[key]

    def _table(self, slot: str, s: FrozenDict) -> Table:
        idx = tuple(i for i in self.slot_params[slot] if self.applies(self.dims[i], s))
        if slot == "activation":
            values = self.dims[idx[0]].values() if idx else (self.value("activation", s),)
            key = ("activation", values)
            if key not in self._tables:      # raw name -> canonical name (an alias folds: celu -> elu)
                rows = tuple(((v,) if idx else (), coerce(v, Act, "activation")) for v in values)
                self._tables[key] = Table(slot, None, idx, rows, True, None)
            return self._tables[key]
        type_ = self.value(f"{slot}.type", s)
        given = dict(self.fixed_params(slot))
        for i in self.slot_structure[slot]:
            d = self.dims[i]
            if d.path in s:
                given[d.component()[1]] = decode(s[d.path], d)
        choices = tuple(self.dims[i].values(self.value(self.dims[i].by, s) if self.dims[i].by else None) for i in idx)
        key = (slot, type_, freeze(given), idx, choices)
        table = self._tables.get(key)
        if table is None:
            table = self._tables[key] = self._make_table(slot, type_, given, idx, choices)
        return table

    def fixed_params(self, slot: str) -> Mapping:
        node: Any = self.fixed
        for part in slot.split("."):
            node = node.get(part, {}) if isinstance(node, Mapping) else {}
        if not isinstance(node, Mapping):
            return {}
        return {k: v for k, v in node.items() if k != "type"}

    def _make_table(self, slot, type_, given, idx, choices) -> Table:
        reg = registry_of(slot)
        rows, error, n = [], None, 0
        dims = [self.dims[i] for i in idx]
        for combo in itertools.product(*choices):
            n += 1
            params = dict(given)
            params.update({d.component()[1]: decode(v, d) for d, v in zip(dims, combo)})
            try:
                rows.append((combo, reg.params(type_, params, slot)))
            except AttnasError as e:
                error = error or str(e)
        rows = [(combo, freeze(c)) for combo, c in rows]
        return Table(slot, type_, idx, tuple(rows), len(rows) == n, error)

    # ---- backbones ---------------------------------------------------------------------------------------------
    def backbones(self, s: Mapping) -> dict[int, tuple]:
        """Stage count -> the canonical backbone parameter sets under ``s`` that can run at the input size."""
        table = self.table("backbone", s)
        input_size = self.input_size(s)
        key = ("backbones", table, input_size)
        if key not in self._memo:
            bb_type = table.type
            out: dict[int, list] = {}
            for b in table.values:
                try:
                    backbone_shapes(Component(bb_type, b), input_size)
                except AttnasError as e:
                    self.errors.append(str(e))
                    continue
                out.setdefault(BACKBONES.get(bb_type).stage_count(dict(b)), []).append(b)
            if not table.values and table.error:
                self.errors.append(table.error)
            self._memo[key] = {k: tuple(v) for k, v in out.items()}
        return self._memo[key]

    def stage_counts(self, s: Mapping) -> tuple:
        return tuple(self.backbones(s))

    def backbone_set(self, s: FrozenDict) -> tuple:
        """The backbones of the structure ``s`` (its stage count decided)."""
        key = ("backbone_set", s)
        if key not in self._memo:
            self._memo[key] = self.backbones(s).get(s[STAGES], ())
        return self._memo[key]

    def shapes(self, bb_type: str, b: FrozenDict, input_size: tuple):
        key = ("shapes", bb_type, b, input_size)
        if key not in self._memo:
            self._memo[key] = backbone_shapes(Component(bb_type, b), input_size)
        return self._memo[key]

    # ---- fit per slot --------------------------------------------------------------------------------------
    def fitting(self, table: Table, context, folded: bool = False) -> tuple:
        """The canonical values of ``table`` that fit ``context`` (memoised); ``folded``: each then folded at the
        sites ``context`` (the count and the listing; the walk's open choices are the unfolded values)."""
        key = ("fit", table, context, folded)
        if key not in self._memo:
            kind = table.slot.split(".")[0]
            if not self.can_misfit(table):          # also every backbone and activation table
                ok = table.values
            else:
                check = {"connection": lambda c: check_connection_fits(Component(context), c),
                         "gating": lambda c: check_gating_fits(c, context)}.get(
                    kind, lambda c: check_attention_fits(c, context))
                ok = tuple(v for v, c in zip(table.values, table.components()) if fits(check, c))
            if folded and self.can_fold(table):     # the shape-aware canonical form at these sites
                sites = sorted(context)
                ok = tuple(dict.fromkeys(fold_attention_at(Component(table.type, v), sites).params for v in ok))
            # one object per distinct subset, so callers may group by identity
            ok = table.values if ok == table.values else self._memo.setdefault(("subset", table, ok), ok)
            self._memo[key] = ok
        return self._memo[key]

    @staticmethod
    def can_fold(table: Table) -> bool:
        """Whether ``table``'s values fold at their sites (an attention with ``canonical_at``)."""
        return table.slot.split(".")[0] in ("attention", "extra_attention") and attention_can_fold(table.type)

    @staticmethod
    def can_misfit(table: Table) -> bool:
        """Whether the fit check of ``table``'s slot can reject any of its values (a module with a fit rule)."""
        kind = table.slot.split(".")[0]
        if kind in ("attention", "extra_attention"):
            return attention_can_misfit(table.type)
        if kind == "connection":
            return connection_can_misfit(table.type)
        if kind == "gating":
            return gating_can_misfit(table.type)
        return False

    def context(self, slot: str, s: Mapping, b: FrozenDict, point: str | None = None):
        """What ``slot``'s fit check reads besides its own value, for backbone ``b`` under structure ``s``."""
        kind = slot.split(".")[0]
        if kind in ("backbone", "activation"):
            return None
        if kind == "connection":
            return self.value("attention.type", s)
        input_size = self.input_size(s)
        shapes = self.shapes(self.value("backbone.type", s), b, input_size)
        if kind == "gating":
            return shapes
        mask = mask_of(self.value("stage_mask", s), self.stage_count(s))
        return sites_of(shapes, point, mask)

    def partition(self, slot: str, table: Table, s: FrozenDict, point: str | None, folded: bool = False) -> tuple:
        """The backbones of ``s`` grouped by what of ``table`` fits under them: ((bits, values), ...);
        ``folded``: the values folded at each backbone's sites (Attention.canonical_at), for counting."""
        backbones = self.backbone_set(s)
        kind = slot.split(".")[0]
        folded = folded and self.can_fold(table)
        if not self.can_misfit(table) and not folded:
            return (((1 << len(backbones)) - 1, table.values),)
        if kind in ("backbone", "activation", "connection"):
            ctx = self.context(slot, s, backbones[0], point) if kind == "connection" else None
            return (((1 << len(backbones)) - 1, self.fitting(table, ctx)),)
        key = ("partition", slot, table, point, freeze(self.value("stage_mask", s)), backbones,
               self.input_size(s), self.value("backbone.type", s), folded)
        if key not in self._memo:
            groups: dict[int, list] = {}         # id(values) -> [bits, values]; fitting() interns its results
            for j, b in enumerate(backbones):
                values = self.fitting(table, self.context(slot, s, b, point), folded)
                groups.setdefault(id(values), [0, values])[0] |= 1 << j
            self._memo[key] = tuple((bits, values) for bits, values in groups.values())
        return self._memo[key]

    # ---- one structure -------------------------------------------------------------------------------------
    def leaf(self, s: FrozenDict) -> Leaf:
        """The canonical key and the per-slot canonical values of the structure ``s`` (memoised)."""
        found = self._leaves.get(s)
        if found is None:
            found = self._leaves[s] = self._make_leaf(s)
            if found.error:
                self.errors.append(found.error)
        return found

    def _make_leaf(self, s: FrozenDict) -> Leaf:
        backbones = self.backbone_set(s)
        points = self.points(s)
        main = self.main_point(s)
        extras = {p: self.value(f"extra_attention.{p}.type", s) or "none" for p in self.extra_points()}
        sources: dict[str, str] = {}            # point -> slot of the attention built there
        if main is not None:
            sources[main] = "attention"
        for p, t in extras.items():
            if t != "none" and p != main:
                sources[p] = f"extra_attention.{p}"
        slots = ["activation"] + list(sources.values())
        conn_type = self.value("connection.type", s)
        if conn_type != "none":
            slots.append("connection")
        slots.append("gating")
        tables = {slot: self.table(slot, s) for slot in ["backbone"] + slots}
        for slot, table in tables.items():
            if not table.rows:
                return Leaf((), None, (), 0, table.error or f"{slot}: no choice applies")
        a = dict(s)
        a.pop(STAGES)
        data = self.space.config_of(a)
        first = {slot: Component(table.type, table.values[0]) for slot, table in tables.items() if slot != "activation"}
        try:
            rep = ArchConfig.assemble(
                {**data, "activation": tables["activation"].values[0]},
                backbone=Component(tables["backbone"].type, backbones[0]), attention=first.get("attention", NONE),
                extra_attention={p: first.get(src, NONE) for p, src in sources.items() if src != "attention"},
                connection=first.get("connection", NONE), gating=first["gating"])
        except AttnasError as e:
            return Leaf((), None, (), 0, str(e))
        # which raw slot became which canonical field (None: folded away, its one value is EMPTY)
        order = ["activation", sources[rep.insertion_point] if rep.attention.type != "none" else None]
        order += [sources[p] for p in points if p in rep.extra_attention]
        order += ["connection" if rep.connection.type != "none" else None, "gating"]
        everyone = (1 << len(backbones)) - 1
        classes = [(everyone, ())]
        for slot in order:
            if slot is None:
                parts = ((everyone, EMPTY),)
            else:
                point = next((p for p, src in sources.items() if src == slot), None)
                parts = self.partition(slot, tables[slot], s, point, folded=True)
            classes = [(b1 & b2, vals + (v,)) for b1, vals in classes for b2, v in parts if b1 & b2]
        placed = frozenset(([rep.insertion_point] if rep.attention.type != "none" else []) + list(rep.extra_attention))
        fold = BACKBONES.get(rep.backbone.type).fold_params
        classes = [(bits, (tuple(dict.fromkeys(freeze(fold(dict(b), placed)) for b in self.backbone_values(s, bits))),)
                    + vals) for bits, vals in classes]
        bits = 0
        for b, vals in classes:
            if all(vals):
                bits |= b
        key = (rep.backbone.type, rep.num_classes, rep.input_size, rep.attention.type, rep.insertion_point,
               rep.stage_mask, tuple((p, c.type) for p, c in sorted(rep.extra_attention.items())),
               rep.connection.type, rep.gating.type)
        return Leaf(key, rep, tuple(classes), bits)

    def backbone_values(self, s: FrozenDict, bits: int) -> tuple:
        backbones = self.backbone_set(s)
        return tuple(b for j, b in enumerate(backbones) if bits >> j & 1)

    def extra_points(self) -> list[str]:
        points = {d.path.split(".")[1] for d in self.dims if d.path.startswith("extra_attention.")}
        points |= set(self.fixed.get("extra_attention") or {})
        return sorted(points)

    # ---- viability ---------------------------------------------------------------------------------------
    def viable(self, node: tuple, j: int | None = None) -> bool:
        """Whether the subtree of ``node`` holds a buildable architecture (with backbone ``j`` of the structure's
        backbone set, once the stage count is decided)."""
        key = (node, j)
        hit = self._viable.get(key)
        if hit is None:
            i, s = node
            if self.is_leaf(i, s):
                bits = self.leaf(s).bits
                hit = bool(bits if j is None else bits >> j & 1)
            else:
                hit = any(self.viable(child, j) for _, child in self.children(i, s))
            self._viable[key] = hit
        return hit

    def bits(self, node: tuple) -> int:
        """The backbones (a bit set over the structure's backbone set) under which ``node``'s subtree holds a
        buildable architecture; before the stage count is decided, 1 if it holds one at all."""
        key = ("bits", node)
        if key not in self._memo:
            i, s = node
            if self.is_leaf(i, s):
                bits = self.leaf(s).bits
            elif STAGES not in s:
                bits = int(any(self.bits(child) for _, child in self.children(i, s)))
            else:
                bits = 0
                for _, child in self.children(i, s):
                    bits |= self.bits(child)
            self._memo[key] = bits
        return self._memo[key]

    def root(self) -> tuple:
        return self.node(0, self.empty)

    def child(self, s: FrozenDict, path: str, value) -> FrozenDict:
        """``s`` with ``path`` decided as ``value``, one shared object per structure (so that every memo keyed
        on a structure hits by identity)."""
        key = (id(s), path, value)
        hit = self._children.get(key)
        if hit is None:
            items = dict(s._items)
            items[path] = value
            hit = self._children[key] = (s, FrozenDict(items))   # keeps s alive: its id stays unique
        return hit[1]

    # ---- the walk's options --------------------------------------------------------------------------------
    def step(self, i: int, s: FrozenDict, a: Mapping, j: int | None) -> tuple[str, tuple | None] | None:
        """``(Optuna name, open choices)`` of dimension ``i`` (choices None: its whole numeric range), given the
        structure ``s``, the values ``a`` decided so far and the backbone ``j`` (None before it is known); None
        where the dimension does not apply. Only choices that still lead to a buildable architecture are open."""
        hit = self._steps.get((i, s))
        if hit is None:
            hit = self._steps[(i, s)] = self._step(i, s, None) if self.same_for_every_backbone(i, s) else PER_BACKBONE
        if hit is PER_BACKBONE:
            key = (i, s, j)
            hit = self._steps.get(key)
            if hit is None:
                hit = self._steps[key] = self._step(i, s, j)
        if hit is not None and hit[0] is None:       # open choices that depend on the slot's earlier values
            table, ok, pos = hit[1]
            prefix = tuple(a[self.dims[k].path] for k in table.dims[:pos])
            pkey = ("prefix", table, id(ok), pos, prefix)
            if pkey not in self._memo:
                members = set(ok)
                values = tuple(dict.fromkeys(raw[pos] for raw, c in table.rows if c in members and raw[:pos] == prefix))
                self._memo[pkey] = (ok, (param_name(self.dims[i], values), values))
            return self._memo[pkey][1]
        return hit

    def same_for_every_backbone(self, i: int, s: FrozenDict) -> bool:
        """Whether dimension ``i``'s open choices under ``s`` are the same whichever backbone was chosen (true
        before the backbone is known, and wherever no fit check can tell the backbones apart)."""
        if STAGES not in s or not self.applies(self.dims[i], s):
            return True
        everyone = (1 << len(self.backbone_set(s))) - 1
        dim = self.dims[i]
        if self.structural[i]:
            return all(self.bits(self.node(i + 1, self.child(s, dim.path, v))) in (0, everyone)
                       for v in self.legal(dim, s))
        if not dim.finite:
            return True
        slot = self.slot[i]
        return len(self.partition(slot, self.table(slot, s), s, self.slot_point(slot, s))) == 1

    def _step(self, i: int, s: FrozenDict, j: int | None):
        dim = self.dims[i]
        if not self.applies(dim, s):
            return None
        if self.structural[i]:
            values = tuple(v for v in self.legal(dim, s) if self.viable(self.node(i + 1, self.child(s, dim.path, v)), j))
            return param_name(dim, values), values
        if not dim.finite:
            return dim.path, None
        slot = self.slot[i]
        table = self.table(slot, s)
        if slot == "backbone":
            ok = self.open_backbones(s)
        elif j is None:
            ok = self.partition(slot, table, s, self.slot_point(slot, s))[0][1]
        else:
            ok = self.fitting(table, self.context(slot, s, self.backbone_set(s)[j], self.slot_point(slot, s)))
        if table.full and len(ok) == len(table.values):
            values = dim.values(self.value(dim.by, s) if dim.by else None) if dim.categorical else None
            return param_name(dim, values), values
        return None, (table, ok, table.dims.index(i))

    def slot_point(self, slot: str, s: Mapping) -> str | None:
        if slot == "attention":
            return self.main_point(s)
        if slot.startswith("extra_attention."):
            return slot.split(".")[1]
        return None

    def open_backbones(self, s: FrozenDict) -> tuple:
        """The canonical backbones under ``s`` (stage count not yet decided) that lead somewhere buildable."""
        key = ("open backbones", s)
        if key not in self._memo:
            out = []
            for k, backbones in self.backbones(s).items():
                node = self.node(self.boundary, self.child(s, STAGES, k))
                out += [b for j, b in enumerate(backbones) if self.viable(node, j)]
            self._memo[key] = tuple(out)
        return self._memo[key]

    def backbone_index(self, s: FrozenDict, b: FrozenDict) -> tuple[int, int]:
        """(stage count, index in that stage count's backbone set) of the canonical backbone ``b``."""
        by_stages = self.backbones(s)
        key = ("backbone index", id(by_stages))
        if key not in self._memo:
            self._memo[key] = (by_stages, {b: (k, j) for k, bs in by_stages.items() for j, b in enumerate(bs)})
        return self._memo[key][1][b]

    # ---- every structure, counted and listed --------------------------------------------------------------
    def leaves(self):
        """Every structure with a buildable point, in walk order."""
        stack = [self.root()]
        seen = set()
        while stack:
            i, s = stack.pop()
            if (i, s) in seen:
                continue
            seen.add((i, s))
            if self.is_leaf(i, s):
                leaf = self.leaf(s)
                if leaf.bits:
                    yield leaf
                continue
            stack.extend(child for _, child in reversed(self.children(i, s)))

    def groups(self) -> dict[tuple, list]:
        """Canonical key -> (representative, [products of per-field canonical values])."""
        groups: dict[tuple, tuple] = {}
        for leaf in self.leaves():
            entry = groups.setdefault(leaf.key, (leaf.rep, []))
            entry[1].extend(vals for _, vals in leaf.classes if all(vals))
        return groups

    def size(self) -> int:
        return sum(union_size(products) for _, products in self.groups().values())

    def configs(self):
        """Every distinct architecture once, as an ArchConfig (group by group, in walk order)."""
        for rep, products in self.groups().values():
            seen = set()
            for product in {tuple(map(id, p)): p for p in products}.values():
                for combo in itertools.product(*product):
                    if combo not in seen:
                        seen.add(combo)
                        yield assemble(rep, combo)


def assemble(rep: ArchConfig, combo: tuple) -> ArchConfig:
    """The config of group representative ``rep`` with the per-field canonical values ``combo`` (backbone,
    activation, attention, extras in point order, connection, gating)."""
    points = tuple(BACKBONES.get(rep.backbone.type).insertion_points)
    backbone, activation, attention, *extras, connection, gating = combo
    extra_points = [p for p in points if p in rep.extra_attention]
    return replace(rep, backbone=Component(rep.backbone.type, backbone), activation=activation,
                   attention=Component(rep.attention.type, attention),
                   extra_attention=FrozenDict({p: Component(rep.extra_attention[p].type, v)
                                               for p, v in zip(extra_points, extras)}),
                   connection=Component(rep.connection.type, connection), gating=Component(rep.gating.type, gating))


def union_size(products: list[tuple]) -> int:
    """``|U_k A_k1 x A_k2 x ...|`` for products of finite sets (each factor a tuple without repeats), exactly:
    split the first factor into the atoms of the products that contain each value, recurse on the rest."""
    products = list({tuple(map(id, p)): p for p in products if all(p)}.values())   # factors are shared objects
    if not products:
        return 0
    if len(products) == 1:
        return math.prod(len(f) for f in products[0])
    if len(products[0]) == 1:
        return len(set().union(*(p[0] for p in products)))
    holders: dict[Any, list[int]] = defaultdict(list)
    for k, p in enumerate(products):
        for v in set(p[0]):
            holders[v].append(k)
    atoms = Counter(tuple(ks) for ks in holders.values())
    return sum(n * union_size([products[k][1:] for k in ks]) for ks, n in atoms.items())


def connectable(attention_type: str) -> bool:
    return ATTENTION.get(attention_type).connectable


def mask_of(value, n: int) -> tuple:
    if value is None:
        return (True,) * n
    if isinstance(value, str):
        return tuple(c == "1" for c in value)
    return tuple(bool(v) for v in value)
