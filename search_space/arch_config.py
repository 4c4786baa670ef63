"""ArchConfig: one fully specified architecture as plain, validated, frozen data.

YAML form (what ``attnas export`` writes and what presets are)::

    backbone: {type: resnet, depth: 50, stem: conv7, downsample: conv, width: 1.0}
    num_classes: 1000
    input_size: [3, 224, 224]
    activation: relu
    attention: {type: se, reduction: 16, act: relu, gate: sigmoid}
    insertion_point: pre_add
    stage_mask: [true, true, true, true]
    extra_attention: {}
    connection: {type: none}
    gating: {type: none}

Every config is canonical by construction: equivalent points are folded into one form, so they compare
equal and share one :attr:`ArchConfig.hash`, and ``from_dict(to_dict(a)) == a`` (the form is a fixed point):

- a component's parameters are put in one form by its ``canonical_params`` (e.g. an unused parameter takes
  its default, a set is sorted);
- an activation name that is an alias of another (``celu`` is ``elu``: layers.ACTIVATION_ALIASES) is kept
  as the name it stands for, at the top level and in every ``act`` field;
- an attention's parameters whose effect vanishes at the shapes of its sites fold to one value
  (``Attention.canonical_at``: GE-theta-minus's extent at or above every map it meets is the global mean);
- the stage mask drops the stages that carry no attention at any occupied point
  (``Backbone.canonical_stage_mask``);
- without a connection the main attention sits at the first occupied insertion point (the backbone's order)
  and the others are ``extra_attention``: then "main" is only a label, and this also folds attention
  ``none`` plus ``extra_attention`` into one form; with a connection the main attention is the connected one;
- nothing placed (attention ``none`` and no extra, or an all-false mask) is the plain backbone: attention
  ``none``, no extra, an all-false mask, the backbone's first insertion point and no connection.

Configs are deeply immutable and hashable: parameters and ``extra_attention`` are :class:`FrozenDict`,
lists are tuples.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Mapping
from typing import Any

from .errors import AttnasError
from .frozen import FrozenDict, freeze
from .layers import Act
from .registry import ATTENTION, BACKBONES, CONNECTIONS, GATINGS, coerce
from .yaml_io import dump_yaml, parse_yaml

TOP_FIELDS = ("backbone", "num_classes", "input_size", "activation", "attention", "insertion_point",
              "stage_mask", "extra_attention", "connection", "gating")


@dataclass(frozen=True)
class Component:
    """A registered thing chosen by name plus its typed parameters (all of them, defaults filled)."""

    type: str
    params: Mapping[str, Any] = field(default_factory=FrozenDict)

    def __post_init__(self):
        object.__setattr__(self, "params", freeze(self.params))

    def to_dict(self) -> dict:
        return {"type": self.type, **{k: _plain(v) for k, v in self.params.items()}}


NONE = Component("none")


def _plain(v):
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    if isinstance(v, Mapping):
        return {k: _plain(x) for k, x in v.items()}
    return v


def _component(registry, value, field_name: str, key: str = "type") -> Component:
    if value is None:
        value = {"type": "none"}
    if isinstance(value, str):
        value = {"type": value}
    if not isinstance(value, Mapping):
        raise AttnasError(f"{field_name}: {value!r} is not allowed; allowed: a mapping with a 'type' key")
    value = dict(value)
    name = value.pop(key, None)
    if name is None:
        raise AttnasError(f"{field_name}.type: missing; allowed: {', '.join(registry.names())}")
    registry.get(name, f"{field_name}.type")
    return Component(name, registry.params(name, value, field_name))


@dataclass(frozen=True)
class ArchConfig:
    backbone: Component
    num_classes: int = 10
    input_size: tuple = (3, 32, 32)
    activation: str = "relu"
    attention: Component = NONE
    insertion_point: str = ""
    stage_mask: tuple = ()
    extra_attention: Mapping[str, Component] = field(default_factory=FrozenDict)
    connection: Component = NONE
    gating: Component = NONE

    def __post_init__(self):
        for name in ("input_size", "stage_mask"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "extra_attention", FrozenDict(self.extra_attention))

    # ---- construction -------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping, *, check_fits: bool = True) -> "ArchConfig":
        """Validate a plain mapping at the edge; raise AttnasError naming the field on any problem.

        ``check_fits`` also checks, from the config alone, that the network can be built at ``input_size``
        (widths, map sizes); ``check_fits=False`` skips that check (for configs already validated)."""
        if isinstance(data, ArchConfig):
            data = data.to_dict()
        if not isinstance(data, Mapping):
            raise AttnasError(f"config: {type(data).__name__} is not allowed; allowed: a mapping of {', '.join(TOP_FIELDS)}")
        unknown = [k for k in data if k not in TOP_FIELDS]
        if unknown:
            raise AttnasError(f"{unknown[0]}: unknown field; allowed: {', '.join(TOP_FIELDS)}")
        if "backbone" not in data:
            raise AttnasError(f"backbone: missing; allowed: {', '.join(BACKBONES.names())}")
        extra_raw = data.get("extra_attention") or {}
        if not isinstance(extra_raw, Mapping):
            raise AttnasError(f"extra_attention: {extra_raw!r} is not allowed; allowed: a mapping insertion point -> attention")
        arch = cls.assemble(
            data, backbone=_component(BACKBONES, data["backbone"], "backbone"),
            attention=_component(ATTENTION, data.get("attention"), "attention"),
            extra_attention={p: _component(ATTENTION, spec, f"extra_attention.{p}") for p, spec in extra_raw.items()},
            connection=_component(CONNECTIONS, data.get("connection"), "connection"),
            gating=_component(GATINGS, data.get("gating"), "gating"))
        if check_fits:
            from .shapes import check_fits as check
            check(arch)
        return arch

    @classmethod
    def assemble(cls, data: Mapping, *, backbone: Component, attention: Component,
                 extra_attention: Mapping[str, Component], connection: Component, gating: Component) -> "ArchConfig":
        """The canonical config of validated components (as the registries return them) and the plain top-level
        fields of ``data`` (num_classes, input_size, activation, insertion_point, stage_mask), checking the rules
        that tie them together (points, stage count, extra attention, connectable attention)."""
        bb_cls = BACKBONES.get(backbone.type)
        num_classes = data.get("num_classes", 10)
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise AttnasError(f"num_classes: {num_classes!r} is not allowed; allowed: an integer >= 2")
        input_size = parse_input_size(data.get("input_size", (3, 32, 32)))
        activation = coerce(data.get("activation", "relu"), Act, "activation")     # an alias folds (celu -> elu)

        points = tuple(bb_cls.insertion_points)
        insertion_point = data.get("insertion_point") or default_point(attention, points)
        _check_point(attention, insertion_point, points, bb_cls, "insertion_point")

        n_stages = bb_cls.stage_count(backbone.params)
        mask = data.get("stage_mask")
        if mask is None or mask == []:
            mask = (True,) * n_stages
        if isinstance(mask, str):
            mask = [c == "1" for c in mask] if set(mask) <= {"0", "1"} else mask
        if not isinstance(mask, (list, tuple)) or not all(isinstance(m, (bool, int)) for m in mask):
            raise AttnasError(f"stage_mask: {mask!r} is not allowed; allowed: a list of {n_stages} booleans")
        if len(mask) != n_stages:
            raise AttnasError(
                f"stage_mask: {list(mask)!r} has {len(mask)} entries; allowed: {n_stages} (one per stage of {backbone.type})")
        mask = tuple(bool(m) for m in mask)

        extra = {}
        for point, comp in extra_attention.items():
            _check_point(comp, point, points, bb_cls, f"extra_attention.{point}")
            if point == insertion_point and attention.type != "none" and comp.type != "none":
                raise AttnasError(f"extra_attention.{point}: the main attention is already at {point!r}; "
                                  f"allowed: {', '.join(p for p in points if p != insertion_point)}")
            if comp.type != "none":
                extra[point] = comp

        if connection.type != "none" and not ATTENTION.get(attention.type).connectable:
            ok = [n for n in ATTENTION.names() if ATTENTION.get(n).connectable]
            raise AttnasError(f"connection.type: {connection.type!r} needs a connectable attention, "
                              f"not {attention.type!r}; allowed attention: {', '.join(ok)}")
        return cls(backbone, num_classes, input_size, activation, attention, insertion_point, mask,
                   extra, connection, gating)._canonical()

    def _canonical(self) -> "ArchConfig":
        """Fold equivalent points into one form (see the module docstring); expects validated fields."""
        bb_cls = BACKBONES.get(self.backbone.type)
        points = tuple(bb_cls.insertion_points)
        placed = {p: c for p, c in self.extra_attention.items() if c.type != "none"}
        if self.attention.type != "none":
            placed[self.insertion_point] = self.attention
        n = len(self.stage_mask)
        folded = [bb_cls.canonical_stage_mask(p, self.stage_mask) for p in placed]
        mask = tuple(any(m[i] for m in folded) for i in range(n))
        if not any(mask):
            return dataclasses.replace(self, backbone=self._folded_backbone(bb_cls, frozenset()), attention=NONE,
                                       insertion_point=points[0], stage_mask=(False,) * n,
                                       extra_attention=FrozenDict(), connection=NONE)
        main = self.insertion_point if self.connection.type != "none" else next(p for p in points if p in placed)
        backbone = self._folded_backbone(bb_cls, frozenset(placed))
        shapes = _shapes_if_any(backbone, self.input_size, placed.values())
        if shapes is not None:
            from .shapes import fold_attention_at
            placed = {p: fold_attention_at(c, [s for s in shapes.sites if s.point == p and mask[s.stage]])
                      for p, c in placed.items()}
        attention = placed.pop(main)
        return dataclasses.replace(self, backbone=backbone, attention=attention, insertion_point=main,
                                   stage_mask=mask, extra_attention=FrozenDict(placed))

    def _folded_backbone(self, bb_cls, points: frozenset) -> Component:
        params = bb_cls.fold_params(dict(self.backbone.params), points)
        return self.backbone if params == dict(self.backbone.params) else Component(self.backbone.type, params)

    # ---- I/O ------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "backbone": self.backbone.to_dict(),
            "num_classes": self.num_classes,
            "input_size": list(self.input_size),
            "activation": self.activation,
            "attention": self.attention.to_dict(),
            "insertion_point": self.insertion_point,
            "stage_mask": list(self.stage_mask),
            "extra_attention": {k: v.to_dict() for k, v in sorted(self.extra_attention.items())},
            "connection": self.connection.to_dict(),
            "gating": self.gating.to_dict(),
        }

    def to_yaml(self, header: str | None = None) -> str:
        head = f"# attnas ArchConfig {self.hash}\n"
        if header:
            head += "".join(f"# {line}\n" for line in header.splitlines())
        return head + dump_yaml(self.to_dict(), sort_keys=False, default_flow_style=None, width=100)

    @classmethod
    def from_yaml(cls, text: str, **kw) -> "ArchConfig":
        return cls.from_dict(parse_yaml(text, "config"), **kw)

    def to_flat_dict(self) -> dict:
        """``{"attention.reduction": 16, ...}``: one flat level, for MLflow params and tables."""
        return flatten(self.to_dict())

    @functools.cached_property
    def hash(self) -> str:
        """12 hex digits of the SHA-256 of the canonical form: equal configs, equal hashes (computed once)."""
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def replace(self, **changes) -> "ArchConfig":
        """A validated copy with some top-level fields changed (given in plain form)."""
        data = self.to_dict()
        data.update(changes)
        return ArchConfig.from_dict(data)

    @property
    def name(self) -> str:
        """A readable label that identifies the architecture: two configs with different hashes get different
        names (summary tables, MLflow run names and export file names tell them apart). E.g.
        ``resnet50+se@pre_add`` or ``resnet_cifar20-celu+eca[kernel_size=5]@post_add``: the type (depth, width
        multiplier) of each component, the activation where it is not relu, every parameter that differs from
        its registered default in brackets, then ``~m<mask>`` for a partial stage mask, ``~CxHxW`` for an input
        other than 3x32x32 and ``~<n>cls`` for other than 10 classes. Defaults stay implicit, so the name of a
        default config is as short as before."""
        bb = self.backbone
        depth = bb.params.get("depth")
        label = f"{bb.type}{depth if depth is not None else ''}"
        width = bb.params.get("width")
        if isinstance(width, (int, float)) and width != 1:
            label += f"x{width:g}"
        label += _changed(BACKBONES, bb, shown=("depth", "width"))
        if self.activation != "relu":
            label += f"-{self.activation}"
        if self.attention.type != "none":
            label += f"+{self.attention.type}{_changed(ATTENTION, self.attention)}@{self.insertion_point}"
        for point, comp in self.extra_attention.items():
            label += f"+{comp.type}{_changed(ATTENTION, comp)}@{point}"
        if self.connection.type != "none":
            label += f"+dca-{self.connection.type}{_changed(CONNECTIONS, self.connection)}"
        if self.gating.type != "none":
            label += f"+{self.gating.type}{_changed(GATINGS, self.gating)}"
        if not all(self.stage_mask) and any(self.stage_mask):
            label += "~m" + "".join("1" if m else "0" for m in self.stage_mask)
        if tuple(self.input_size) != (3, 32, 32):
            label += "~" + "x".join(map(str, self.input_size))
        if self.num_classes != 10:
            label += f"~{self.num_classes}cls"
        return label


def _shown_value(v) -> str:
    if isinstance(v, (tuple, list)):
        return "-".join(_shown_value(x) for x in v) or "none"
    if isinstance(v, float):
        return f"{v:g}"
    return "null" if v is None else str(v).lower() if isinstance(v, bool) else str(v)


def _changed(registry, comp: Component, shown: tuple = ()) -> str:
    """``[key=value,...]`` of the parameters of ``comp`` that differ from their registered defaults (those in
    ``shown`` are already in the label); empty when all are defaults."""
    specs = registry.param_specs(comp.type)
    diff = [f"{k}={_shown_value(v)}" for k, v in comp.params.items()
            if k not in shown and k in specs and v != specs[k].default]
    return f"[{','.join(diff)}]" if diff else ""


def _shapes_if_any(backbone: Component, input_size: tuple, placed) -> Any:
    """The backbone's shapes at ``input_size`` where a placed attention folds at its sites (shape-aware
    canonical form, Attention.canonical_at); None where none does or the backbone cannot run there (then
    check_fits reports it)."""
    from .shapes import attention_can_fold, backbone_shapes
    if not any(attention_can_fold(c.type) for c in placed):
        return None
    try:
        return backbone_shapes(backbone, tuple(input_size))
    except AttnasError:
        return None


def flatten(d: Mapping, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            out.update(flatten(v, key + "."))
        elif isinstance(v, Mapping):
            continue
        else:
            out[key] = ",".join(map(str, v)) if isinstance(v, (list, tuple)) else v
    return out


def parse_input_size(value) -> tuple:
    """Accept ``[3, 32, 32]`` or ``"3x32x32"``."""
    raw = value
    if isinstance(value, str):
        try:
            value = [int(p) for p in value.lower().split("x")]
        except ValueError:
            value = None
    if (not isinstance(value, (list, tuple)) or len(value) != 3
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)):
        raise AttnasError(f"input_size: {raw!r} is not allowed; allowed: channels x height x width, e.g. 3x32x32")
    return tuple(value)


def allowed_points(attention_type: str, points: tuple) -> tuple:
    """The backbone's insertion points where ``attention_type`` can go: an attention that replaces the
    block's conv (``insertion_points = ("conv",)``) goes there only; any other goes anywhere else."""
    allowed = ATTENTION.get(attention_type).insertion_points
    if allowed is None:
        return tuple(p for p in points if p != "conv")
    return tuple(p for p in points if p in allowed)


def default_point(attention: Component, points: tuple) -> str:
    ok = allowed_points(attention.type, points)
    return ok[0] if ok else points[0]


def _check_point(attention: Component, point: str, points: tuple, bb_cls, field_name: str) -> None:
    if point not in points:
        raise AttnasError(f"{field_name}: {point!r} is not an insertion point of {bb_cls.registry_name}; "
                          f"allowed: {', '.join(points)}")
    ok = allowed_points(attention.type, points)
    if attention.type != "none" and point not in ok:
        raise AttnasError(f"{field_name}: {point!r} is not allowed for attention {attention.type!r}; "
                          f"allowed: {', '.join(ok) or '(none in this backbone)'}")


def load_arch(ref: str | Path | Mapping | ArchConfig, **overrides) -> ArchConfig:
    """An ArchConfig from a preset name, a YAML path, a mapping or an ArchConfig; ``overrides`` are
    top-level fields (e.g. ``num_classes=10, input_size="3x32x32"``)."""
    if isinstance(ref, ArchConfig):
        data = ref.to_dict()
    elif isinstance(ref, Mapping):
        data = dict(ref)
    else:
        from .presets import preset_path
        path = Path(ref)
        if not path.exists():
            path = preset_path(str(ref))
        data = parse_yaml(path.read_text(), str(path))
        if not isinstance(data, Mapping):
            raise AttnasError(f"{path}: {type(data).__name__} is not allowed; allowed: an ArchConfig mapping")
    data.update({k: v for k, v in overrides.items() if v is not None})
    return ArchConfig.from_dict(data)
