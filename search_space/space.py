"""SearchSpace: a YAML-declared set of ArchConfigs, sampled define-by-run by Optuna or at random by seed.

A space is ``fixed`` ArchConfig fields plus ``dimensions``, each named by its dotted ArchConfig path::

    fixed: {num_classes: 10, input_size: [1, 16, 16], backbone.type: resnet_cifar}
    dimensions:
      backbone.depth: [8, 14, 20]                      # a list: categorical choices
      backbone.width: {low: 0.5, high: 1.0, step: 0.25}  # a range (int if all ints; log: true allowed)
      attention.type: [none, se, eca, cbam, triplet]
      attention.reduction: [4, 8, 16]                  # asked only where the attention has `reduction`
      attention.zpool_stats: {subsets_of: [avg, max, median, l1, l2, std]}  # every non-empty subset
      insertion_point: [pre_add, post_add]             # filtered to the points the attention allows
      stage_mask: ["111", "011"]
      connection.type: [none, direct]                  # asked only for connectable attention
      backbone.depth: {by: backbone.type, choices: {resnet_cifar: [8, 20], resnet: [18, 50]}}  # per parent value
      attention.kernel_size: {choices: [3, 7], when: {attention.type: [cbam]}}   # explicit condition

A dimension on a component parameter (``backbone.*``, ``attention.*``, ``connection.*``, ``gating.*``,
``extra_attention.<point>.*``) applies only where the chosen type has that parameter, so conditions follow
from the registries and rarely need writing. The walk over dimensions lives in one function,
:meth:`SearchSpace._assign`, shared by Optuna sampling, seeded sampling and counting.
"""
from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .arch_config import TOP_FIELDS, ArchConfig, allowed_points
from .errors import AttnasError
from .layers import ACTIVATION_NAMES
from .registry import ATTENTION, BACKBONES, CONNECTIONS, GATINGS, coerce
from .yaml_io import parse_yaml

COMPONENTS = {"backbone": BACKBONES, "attention": ATTENTION, "connection": CONNECTIONS, "gating": GATINGS}
ORDER = ("backbone.type", "backbone.", "activation", "num_classes", "input_size", "attention.type", "attention.",
         "insertion_point", "stage_mask", "extra_attention.", "connection.type", "connection.", "gating.type",
         "gating.")


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
        return self.choices is not None or bool(self.choices_by) or (self.integer or self.step is not None)

    def values(self, parent=None) -> tuple:
        if self.by is not None:
            return self.choices_by.get(parent, ())
        if self.choices is not None:
            return self.choices
        n = int(round((self.high - self.low) / (self.step or 1))) + 1
        vals = [self.low + i * (self.step or 1) for i in range(n)]
        return tuple(int(v) for v in vals) if self.integer else tuple(round(v, 10) for v in vals)


def _encode(value, path: str) -> tuple[Any, bool]:
    if isinstance(value, (list, tuple)):
        if path == "stage_mask" and all(isinstance(v, (bool, int)) for v in value):
            return "".join("1" if v else "0" for v in value), False
        return "+".join(str(v) for v in value), True
    return value, False


def _decode(value, dim: Dimension):
    if dim.encoded_lists and isinstance(value, str):
        return [int(p) if p.lstrip("-").isdigit() else p for p in value.split("+")] if value else []
    return value


def _parse_dimension(path: str, spec) -> Dimension:
    head = path.split(".")[0]
    if head not in TOP_FIELDS:
        raise AttnasError(f"dimensions.{path}: unknown field; allowed: paths under {', '.join(TOP_FIELDS)}")
    if isinstance(spec, list):
        spec = {"choices": spec}
    if not isinstance(spec, Mapping):
        raise AttnasError(f"dimensions.{path}: {spec!r} is not allowed; allowed: a list of choices or a mapping "
                          f"with choices, subsets_of, low/high[/step/log], by, when")
    spec = dict(spec)
    known = {"choices", "subsets_of", "min_size", "max_size", "low", "high", "step", "log", "by", "when"}
    for k in spec:
        if k not in known:
            raise AttnasError(f"dimensions.{path}.{k}: unknown key; allowed: {', '.join(sorted(known))}")
    when = spec.get("when") or {}
    if not isinstance(when, Mapping):
        raise AttnasError(f"dimensions.{path}.when: {when!r} is not allowed; allowed: a mapping path -> list of values")
    when = {k: tuple(v if isinstance(v, list) else [v]) for k, v in when.items()}

    def encode_all(values, where):
        if not isinstance(values, list) or not values:
            raise AttnasError(f"{where}: {values!r} is not allowed; allowed: a non-empty list of choices")
        enc = [_encode(v, path) for v in values]
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
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (lo, hi)) or lo > hi:
            raise AttnasError(f"dimensions.{path}: low={lo!r}, high={hi!r} is not allowed; allowed: numbers with low <= high")
        integer = all(isinstance(v, int) for v in (lo, hi)) and (step is None or isinstance(step, int))
        log = bool(spec.get("log", False))
        if log and (lo <= 0 or step is not None and not integer):
            raise AttnasError(f"dimensions.{path}.log: true needs low > 0 and no float step; allowed: log with a positive range")
        return Dimension(path, low=lo, high=hi, step=step, log=log, integer=integer, when=when)
    raise AttnasError(f"dimensions.{path}: {spec!r} is not allowed; allowed: choices, subsets_of, low/high or by")


def _rank(path: str) -> int:
    for i, prefix in enumerate(ORDER):
        if path == prefix or (prefix.endswith(".") and path.startswith(prefix)):
            return i
    return len(ORDER)


# A chooser picks a value: ``pick(name, dim, values)`` with ``values`` the categorical choices here, or None
# for a numeric range. Three kinds: by Optuna, by a numpy RNG, or replayed from a list (for enumeration).


class _OptunaChooser:
    def __init__(self, trial):
        self.trial = trial

    def pick(self, name, dim, values):
        if values is not None:
            return self.trial.suggest_categorical(name, list(values))
        if dim.integer:
            return self.trial.suggest_int(name, int(dim.low), int(dim.high), step=int(dim.step or 1), log=dim.log)
        return self.trial.suggest_float(name, dim.low, dim.high, step=dim.step, log=dim.log)


class _RandomChooser:
    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def pick(self, name, dim, values):
        if values is not None:
            return values[int(self.rng.integers(len(values)))]
        if dim.log:
            v = float(np.exp(self.rng.uniform(np.log(dim.low), np.log(dim.high))))
            return int(round(v)) if dim.integer else v
        if dim.integer or dim.step is not None:
            vals = dim.values()
            return vals[int(self.rng.integers(len(vals)))]
        return float(self.rng.uniform(dim.low, dim.high))


class _ReplayChooser:
    """Replays a prefix of choice indices and records how many options each step had (odometer walk)."""

    def __init__(self, prefix: list[int]):
        self.prefix, self.sizes, self.i = prefix, [], 0

    def pick(self, name, dim, values):
        values = values if values is not None else dim.values()
        k = self.prefix[self.i] if self.i < len(self.prefix) else 0
        self.sizes.append(len(values))
        self.i += 1
        return values[k]


class _BranchChooser(_ReplayChooser):
    """Replays structural dimensions like :class:`_ReplayChooser`; for the others takes the first option
    and records how many there were (``leaves``), so a branch's points are counted without walking them."""

    def __init__(self, prefix: list[int], structural: set):
        super().__init__(prefix)
        self.structural, self.leaves = structural, []

    def pick(self, name, dim, values):
        if dim.path in self.structural:
            return super().pick(name, dim, values)
        values = values if values is not None else dim.values()
        self.leaves.append((dim.path, len(values)))
        return values[0]


class SearchSpace:
    """A validated space of architectures. See the module docstring for the YAML form."""

    def __init__(self, fixed: Mapping, dimensions: list[Dimension], name: str = "space"):
        self.name = name
        self.fixed = dict(fixed)
        self.dimensions = sorted(dimensions, key=lambda d: _rank(d.path))
        self._validate()

    # ---- loading ---------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping, **fixed_overrides) -> "SearchSpace":
        if not isinstance(data, Mapping):
            raise AttnasError(f"space: {type(data).__name__} is not allowed; allowed: a mapping with fixed and dimensions")
        unknown = [k for k in data if k not in ("name", "fixed", "dimensions")]
        if unknown:
            raise AttnasError(f"space.{unknown[0]}: unknown key; allowed: name, fixed, dimensions")
        fixed = dict(data.get("fixed") or {})
        fixed.update({k: v for k, v in fixed_overrides.items() if v is not None})
        dims_raw = data.get("dimensions") or {}
        if not isinstance(dims_raw, Mapping):
            raise AttnasError(f"space.dimensions: {dims_raw!r} is not allowed; allowed: a mapping path -> choices")
        dims = [_parse_dimension(str(p), s) for p, s in dims_raw.items()]
        clash = [d.path for d in dims if d.path in fixed]
        if clash:
            raise AttnasError(f"dimensions.{clash[0]}: also set in fixed; allowed: one of the two")
        return cls(fixed, dims, name=str(data.get("name", "space")))

    @classmethod
    def from_yaml(cls, source: str | Path, **fixed_overrides) -> "SearchSpace":
        """From a YAML file path or YAML text."""
        text = str(source)
        if "\n" not in text and Path(text).exists():
            text = Path(text).read_text()
        elif "\n" not in text and text.endswith((".yaml", ".yml")):
            raise AttnasError(f"space: {text!r} does not exist; allowed: a path to a search-space YAML file")
        return cls.from_dict(parse_yaml(text, "space"), **fixed_overrides)

    def to_dict(self) -> dict:
        def dim_dict(d: Dimension):
            out: dict = {}
            if d.by is not None:
                out = {"by": d.by, "choices": {k: [_decode(v, d) for v in vs] for k, vs in d.choices_by.items()}}
            elif d.choices is not None:
                out = {"choices": [_decode(v, d) for v in d.choices]}
            else:
                out = {"low": d.low, "high": d.high}
                if d.step is not None:
                    out["step"] = d.step
                if d.log:
                    out["log"] = True
            if d.when:
                out["when"] = {k: list(v) for k, v in d.when.items()}
            return out

        return {"name": self.name, "fixed": dict(self.fixed),
                "dimensions": {d.path: dim_dict(d) for d in self.dimensions}}

    @property
    def hash(self) -> str:
        blob = json.dumps(self.to_dict(), sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    # ---- the one walk --------------------------------------------------------------------------------
    def _value(self, path: str, a: dict):
        if path in a:
            return a[path]
        if path in self.fixed:
            return self.fixed[path]
        # nested fixed form: fixed: {attention: {type: se}}
        head, _, rest = path.partition(".")
        node = self.fixed.get(head)
        if isinstance(node, Mapping) and rest:
            for part in rest.split("."):
                if not isinstance(node, Mapping) or part not in node:
                    return _DEFAULTS.get(path)
                node = node[part]
            return node
        if isinstance(node, str) and rest == "type":
            return node
        return _DEFAULTS.get(path)

    def _applies(self, dim: Dimension, a: dict) -> bool:
        for parent, allowed in dim.when.items():
            if self._value(parent, a) not in allowed:
                return False
        path = dim.path
        head, _, rest = path.partition(".")
        att = self._value("attention.type", a)
        if path in ("insertion_point", "stage_mask"):
            return att not in (None, "none")
        if head == "connection" and rest == "type":
            return att not in (None, "none") and getattr(ATTENTION.get(att), "connectable", False)
        if head == "extra_attention":
            point, _, param = rest.partition(".")
            if param == "type":
                return True
            t = self._value(f"extra_attention.{point}.type", a)
            return t not in (None, "none") and param in ATTENTION.param_specs(t)
        if head in COMPONENTS and rest and rest != "type":
            t = self._value(f"{head}.type", a)
            if t in (None, "none") and head != "backbone":
                return False
            if head == "connection" and not self._applies(Dimension("connection.type"), a) \
                    and "connection.type" not in self.fixed:
                return False
            return t is not None and t in COMPONENTS[head] and rest in COMPONENTS[head].param_specs(t)
        return True

    def _choices(self, dim: Dimension, a: dict, flat: bool) -> tuple[str, tuple | None]:
        """Optuna parameter name and the categorical choices (None for a numeric range) of ``dim`` here."""
        if dim.by is not None:
            parent = self._value(dim.by, a)
            return f"{dim.path}|{parent}", dim.values(parent)
        if dim.choices is None:
            return dim.path, None
        if flat:
            return dim.path, dim.choices
        if dim.path == "insertion_point":
            ok = self._points(a)
            allowed = tuple(c for c in dim.choices if c in ok)
            if allowed != dim.choices:
                return f"insertion_point|{self._value('attention.type', a)}", allowed or (ok[:1])
        if dim.path == "stage_mask":
            n = self._stages(a)
            allowed = tuple(c for c in dim.choices if len(str(c)) == n)
            if allowed != dim.choices:
                return f"stage_mask|{n}", allowed
        return dim.path, dim.choices

    def _points(self, a: dict) -> tuple:
        bb = BACKBONES.get(self._value("backbone.type", a), "backbone.type")
        return allowed_points(self._value("attention.type", a) or "none", tuple(bb.insertion_points))

    def _stages(self, a: dict) -> int:
        bb_type = self._value("backbone.type", a)
        bb = BACKBONES.get(bb_type, "backbone.type")
        params = {}
        for k, p in BACKBONES.param_specs(bb_type).items():
            v = self._value(f"backbone.{k}", a)
            params[k] = p.default if v is None else v
        return bb.stage_count(params)

    def _assign(self, chooser, flat: bool = False) -> dict:
        """Walk the dimensions in order, asking ``chooser`` for each that applies; return path -> value.

        ``flat`` asks every dimension with its full choices whether or not it applies (a static space that
        NSGA-II and QMC can treat as one vector); values that do not apply are then ignored, and an
        insertion point or stage mask the chosen attention/backbone cannot take falls back to a legal one.
        """
        a: dict = {}
        for dim in self.dimensions:
            applies = self._applies(dim, a)
            if flat:
                names = [(f"{dim.path}|{p}", dim.values(p)) for p in dim.choices_by] if dim.by else \
                    [(dim.path, dim.choices)]
                picked = {n: chooser.pick(n, dim, v) for n, v in names}
                if not applies:
                    continue
                name, _ = self._choices(dim, a, flat=True)
                value = picked.get(name)
                if value is None:
                    continue
                value = self._legalise(dim, value, a)
            else:
                if not applies:
                    continue
                name, values = self._choices(dim, a, flat=False)
                if values is not None and not values:
                    raise AttnasError(f"dimensions.{dim.path}: no choice applies when "
                                      f"{dim.by or 'backbone.type'} is {self._value(dim.by or 'backbone.type', a)!r}")
                value = chooser.pick(name, dim, values)
            a[dim.path] = _decode(value, dim)
        return a

    def _legalise(self, dim: Dimension, value, a: dict):
        if dim.path == "insertion_point":
            ok = self._points(a)
            return value if value in ok else next((c for c in dim.choices if c in ok), ok[0] if ok else value)
        if dim.path == "stage_mask":
            n = self._stages(a)
            if len(str(value)) != n:
                ok = [c for c in dim.choices if len(str(c)) == n]
                return ok[0] if ok else "1" * n
        return value

    def _config(self, a: dict) -> dict:
        """Nest fixed fields and assigned dotted paths into an ArchConfig mapping."""
        data: dict = {}

        def put(path, value):
            parts = path.split(".")
            node = data
            for p in parts[:-1]:
                nxt = node.get(p)
                if isinstance(nxt, str):
                    nxt = {"type": nxt}
                if not isinstance(nxt, dict):
                    nxt = {}
                node[p] = nxt
                node = nxt
            if isinstance(node.get(parts[-1]), dict) and isinstance(value, dict):
                node[parts[-1]].update(value)
            else:
                node[parts[-1]] = value

        for path, value in self.fixed.items():
            put(path, dict(value) if isinstance(value, Mapping) else value)
        for path, value in a.items():
            put(path, value)
        return data

    # ---- public sampling -------------------------------------------------------------------------------
    def suggest(self, trial, flat: bool = False) -> ArchConfig:
        """An ArchConfig from an Optuna trial (define-by-run; see :meth:`_assign` for ``flat``)."""
        return ArchConfig.from_dict(self._config(self._assign(_OptunaChooser(trial), flat)))

    def sample(self, seed: int | np.random.Generator = 0) -> ArchConfig:
        """An ArchConfig drawn at random, without Optuna (same seed -> same architecture)."""
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        return ArchConfig.from_dict(self._config(self._assign(_RandomChooser(rng))))

    def configs(self, limit: int = 100_000):
        """Every raw assignment of a finite space as an ArchConfig mapping (not yet deduplicated; for
        small spaces and tests — :meth:`size` counts without enumerating)."""
        if not all(d.finite for d in self.dimensions):
            raise AttnasError("space: has a continuous dimension; allowed: enumeration of finite spaces only")
        prefix: list[int] = []
        for _ in range(limit):
            chooser = _ReplayChooser(prefix)
            a = self._assign(chooser)
            yield self._config(a)
            sizes = chooser.sizes
            idx = (prefix + [0] * len(sizes))[: len(sizes)]
            while idx and idx[-1] + 1 >= sizes[len(idx) - 1]:
                idx.pop()
            if not idx:
                return
            idx[-1] += 1
            prefix = idx
        raise AttnasError(f"space: more than {limit} raw points; allowed: enumeration up to {limit}")

    def size(self) -> int | None:
        """The number of distinct architectures (canonical configs) in the space; None if it is continuous.

        Computed per branch of the structural dimensions (types, stage masks and the parents of ``when``
        and ``by``), multiplying the option counts of the other dimensions that apply there; branches whose
        attention folds away (``none`` or an all-false stage mask) count their backbone-only points once.
        """
        if not all(d.finite for d in self.dimensions):
            return None
        parents = {p for d in self.dimensions for p in list(d.when) + ([d.by] if d.by else [])}
        structural = {d.path for d in self.dimensions
                      if d.path.endswith(".type") or d.path == "stage_mask" or d.path in parents}
        total, folded = 0, {}
        prefix: list[int] = []
        while True:
            chooser = _BranchChooser(prefix, structural)
            arch = ArchConfig.from_dict(self._config(self._assign(chooser)), check_build=False)
            if arch.attention.type == "none" and not arch.extra_attention:
                attn = ("attention", "extra_attention", "insertion_point", "stage_mask", "connection")
                folded[arch.hash] = int(np.prod([n for p, n in chooser.leaves if not p.startswith(attn)]))
            else:
                total += int(np.prod([n for _, n in chooser.leaves]))
            sizes = chooser.sizes
            idx = (prefix + [0] * len(sizes))[: len(sizes)]
            while idx and idx[-1] + 1 >= sizes[len(idx) - 1]:
                idx.pop()
            if not idx:
                return total + sum(folded.values())
            idx[-1] += 1
            prefix = idx

    # ---- validation ------------------------------------------------------------------------------------
    def _validate(self) -> None:
        paths = [d.path for d in self.dimensions]
        for d in self.dimensions:
            for parent in list(d.when) + ([d.by] if d.by else []):
                if parent not in paths and parent not in self.fixed and "." not in parent and parent not in TOP_FIELDS:
                    raise AttnasError(f"dimensions.{d.path}: depends on {parent!r}, which is not a field")
                if parent in paths and paths.index(parent) > paths.index(d.path):
                    raise AttnasError(f"dimensions.{d.path}: depends on {parent!r}, which is decided later; "
                                      f"allowed: conditions on type fields or earlier dimensions")
            self._validate_values(d)
        if "backbone.type" not in paths and self._value("backbone.type", {}) is None:
            raise AttnasError(f"space.fixed.backbone.type: missing; allowed: {', '.join(BACKBONES.names())}")
        # one draw must build: catches impossible fixed fields (e.g. an input too small) before any training
        self.sample(0)

    def _validate_values(self, d: Dimension) -> None:
        head, _, rest = d.path.partition(".")
        values = [v for vs in (d.choices_by.values() if d.by else [d.values()] if d.finite else []) for v in vs]
        field_name = f"dimensions.{d.path}"
        if d.path == "activation":
            bad = [v for v in values if v not in ACTIVATION_NAMES]
            if bad:
                raise AttnasError(f"{field_name}: {bad[0]!r} is not allowed; allowed: {', '.join(ACTIVATION_NAMES)}")
            return
        if head == "extra_attention":
            point, _, rest = rest.partition(".")
            head = "attention"
        if head in COMPONENTS and rest == "type":
            for v in values:
                COMPONENTS[head].get(v, field_name)
            return
        if head in COMPONENTS and rest:
            reg = COMPONENTS[head]
            types = self._possible(f"{head}.type") if head != "attention" or "extra" not in d.path else reg.names()
            having = [t for t in types if t in reg and rest in reg.param_specs(t)]
            if not having:
                raise AttnasError(f"{field_name}: no {head} in this space has a parameter {rest!r}; allowed: "
                                  + ", ".join(sorted({p for t in types if t in reg for p in reg.param_specs(t)})))
            per_type = d.choices_by if d.by == f"{head}.type" else {t: values for t in having}
            for t, vals in per_type.items():
                if t in having:
                    for v in vals:
                        coerce(_decode(v, d), reg.param_specs(t)[rest].annotation, field_name)

    def _possible(self, path: str) -> list:
        for d in self.dimensions:
            if d.path == path:
                return [v for vs in (d.choices_by.values() if d.by else [d.values()]) for v in vs]
        v = self._value(path, {})
        return [v] if v is not None else []


_DEFAULTS = {"attention.type": "none", "connection.type": "none", "gating.type": "none"}
