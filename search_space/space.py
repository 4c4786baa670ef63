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
      extra_attention.post_add.type: [none, se]        # a second attention point
      connection.type: [none, direct]                  # asked only for connectable attention
      backbone.depth: {by: backbone.type, choices: {resnet_cifar: [8, 20], resnet: [18, 50]}}  # per parent value
      attention.kernel_size: {choices: [3, 7], when: {attention.type: [cbam]}}   # explicit condition

A dimension on a component parameter (``backbone.*``, ``attention.*``, ``connection.*``, ``gating.*``,
``extra_attention.<point>.*``) applies only where the chosen type has that parameter, so conditions follow
from the registries and rarely need writing. A ``by`` dimension without choices for the parent's value
does not apply there (the parameter keeps its default).

Every step of the walk offers only the choices that lead to an architecture that can be built (checked
from the config alone, search_space.shapes), so a study is never handed a point that cannot build. Sampling,
the flat encoding, :meth:`SearchSpace.size` and :meth:`SearchSpace.configs` share one enumeration routine,
search_space.enumeration.

Optuna parameter names: a dimension is asked as its path while all its choices are open, and as
``path|choice1,choice2,...`` where only some are (e.g. ``insertion_point|pre_add,post_add`` for SE and
``insertion_point|conv`` for SK, ``stage_mask|111,011`` on a 3-stage backbone): every name has one fixed
set of choices, and the stored value is the value built.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from collections.abc import Mapping
from typing import Any

import numpy as np

from .arch_config import TOP_FIELDS, ArchConfig
from .dimensions import Dimension, decode, param_name, parse_dimension, walk_order
from .enumeration import COMPONENTS, STAGES, Plan
from .errors import AttnasError
from .frozen import FrozenDict
from .layers import ACTIVATION_NAMES
from .registry import BACKBONES, coerce
from .yaml_io import parse_yaml

__all__ = ["SearchSpace", "Dimension", "resolve_space", "shipped_spaces", "SPACE_DIR"]

SPACE_DIR = Path(__file__).parent / "spaces"


def shipped_spaces() -> list[str]:
    """Names of the spaces shipped in search_space/spaces/ (``space: <name>`` in a study)."""
    return sorted(p.stem for p in SPACE_DIR.glob("*.yaml"))


def resolve_space(ref, base_dir: str | Path | None = None) -> dict:
    """The plain mapping of a search space given inline (a mapping), as a YAML path (relative to ``base_dir``,
    e.g. the study file's folder) or as the name of a shipped space (``cifar-attention``; ``cifar_attention``
    and ``cifar-attention.yaml`` name it too). A path that exists wins over a shipped name; a bare name that is
    neither is one AttnasError line listing the shipped names."""
    if ref is None:
        raise AttnasError("space: missing; allowed: an inline search space, a path to one, or a shipped space ("
                          + ", ".join(shipped_spaces()) + ")")
    if isinstance(ref, Mapping):
        return dict(ref)
    if not isinstance(ref, (str, Path)):
        raise AttnasError(f"space: {ref!r} is not allowed; allowed: a mapping with fixed and dimensions, a path "
                          f"or a shipped space name")
    path = Path(ref)
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    if path.is_file():
        data = parse_yaml(path.read_text(), f"space: {path}")
    else:
        name = Path(ref).name
        name = name[: -len(Path(name).suffix)] if Path(name).suffix in (".yaml", ".yml") else name
        name = name.lower().replace("_", "-")
        if Path(ref).parent != Path(".") or not (SPACE_DIR / f"{name}.yaml").is_file():
            raise AttnasError(f"space: {str(ref)!r} is neither a file nor a shipped space; allowed: "
                              f"{', '.join(shipped_spaces())}, or the path of a search-space YAML")
        path = SPACE_DIR / f"{name}.yaml"
        data = parse_yaml(path.read_text(), f"space: {path}")
    if not isinstance(data, Mapping):
        raise AttnasError(f"space: {path} holds {type(data).__name__}; allowed: a mapping with fixed and dimensions")
    return dict(data)


_PLANS: dict = {}
"""space hash -> Plan, the most recently used last (a plan only grows memos of one immutable space)."""


class SearchSpace:
    """A validated space of architectures. See the module docstring for the YAML form."""

    def __init__(self, fixed: Mapping, dimensions: list[Dimension], name: str = "space"):
        self.name = name
        self.fixed = dict(fixed)
        self.dimensions = walk_order(list(dimensions))
        self._by_path = {d.path: d for d in self.dimensions}
        self._plan: Plan | None = None
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
        dims = [parse_dimension(str(p), s) for p, s in dims_raw.items()]
        clash = [d.path for d in dims if d.path in fixed]
        if clash:
            raise AttnasError(f"dimensions.{clash[0]}: also set in fixed; allowed: one of the two")
        return cls(fixed, dims, name=str(data.get("name", "space")))

    @classmethod
    def from_yaml(cls, source: str | Path, **fixed_overrides) -> "SearchSpace":
        """From a YAML file path, a shipped space name, or YAML text."""
        text = str(source)
        if "\n" in text or ":" in text and not Path(text).exists():
            return cls.from_dict(parse_yaml(text, "space"), **fixed_overrides)
        return cls.load(source, **fixed_overrides)

    @classmethod
    def load(cls, ref, base_dir: str | Path | None = None, **fixed_overrides) -> "SearchSpace":
        """A space given inline, as a path (relative to ``base_dir``) or by shipped name (see
        :func:`resolve_space`)."""
        return cls.from_dict(resolve_space(ref, base_dir), **fixed_overrides)

    def to_dict(self) -> dict:
        def dim_dict(d: Dimension):
            out: dict = {}
            if d.by is not None:
                out = {"by": d.by, "choices": {k: [decode(v, d) for v in vs] for k, vs in d.choices_by.items()}}
            elif d.choices is not None:
                out = {"choices": [decode(v, d) for v in d.choices]}
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

    # ---- configs from assignments ----------------------------------------------------------------------
    def fixed_config(self) -> dict:
        """The fixed fields as one nested ArchConfig mapping (components as ``{type: ...}`` mappings)."""
        return nest(self.fixed.items())

    def config_of(self, assignment: Mapping) -> dict:
        """The ArchConfig mapping of fixed fields plus the walk's (encoded) dimension values."""
        return nest(list(self.fixed.items()) + [(p, decode(v, self._by_path[p])) for p, v in assignment.items()])

    @property
    def plan(self) -> Plan:
        """The space's enumeration plan, shared by equal spaces (same hash) in one process."""
        if self._plan is None:
            key = self.hash
            self._plan = _PLANS.pop(key, None) or Plan(self)
            _PLANS[key] = self._plan
            while len(_PLANS) > 16:
                _PLANS.pop(next(iter(_PLANS)))
        return self._plan

    # ---- the walk -------------------------------------------------------------------------------------------
    def _assign(self, chooser, until: str | None = None) -> dict:
        """Walk the dimensions in order, asking ``chooser`` for each that applies, among the choices that still
        lead to a buildable architecture; return path -> (encoded) value. ``until`` stops after that path."""
        plan = self.plan
        s, a, j = plan.empty, {}, None
        for i, dim in enumerate(plan.dims):
            if i == plan.boundary:
                s, j = self._enter_body(s, a)
            step = plan.step(i, s, a, j)
            if step is None:
                continue
            name, values = step
            if values is not None and not values:
                raise AssertionError(f"walk reached {dim.path} with no open choice")
            a[dim.path] = chooser.pick(name, dim, values)
            if plan.structural[i]:
                s = plan.child(s, dim.path, a[dim.path])
            if dim.path == until:
                return a
        return a

    def _enter_body(self, s: FrozenDict, a: dict) -> tuple[FrozenDict, int]:
        """After the backbone's dimensions: its canonical value decides the stage count and its index."""
        plan = self.plan
        table = plan.table("backbone", s)
        b = table.canonical[tuple(a[plan.dims[k].path] for k in table.dims)]
        k, j = plan.backbone_index(s, b)
        return plan.child(s, STAGES, k), j

    # ---- public sampling -------------------------------------------------------------------------------
    def suggest(self, trial, flat: bool = False) -> ArchConfig:
        """An ArchConfig from an Optuna trial: define-by-run, or with ``flat`` the static vector of
        :meth:`flat_distributions` (every parameter asked on every trial; see search_space.flat)."""
        if flat:
            from .flat import FlatChooser
            return self.build(self._assign(FlatChooser.ask(self, trial)))
        return self.build(self._assign(OptunaChooser(trial)))

    def sample(self, seed: int | np.random.Generator = 0) -> ArchConfig:
        """An ArchConfig drawn at random, without Optuna (same seed -> same architecture)."""
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        return self.build(self._assign(RandomChooser(rng)))

    def build(self, assignment: Mapping) -> ArchConfig:
        """The ArchConfig of a walk's assignment (checked: a walk only reaches buildable points)."""
        return ArchConfig.from_dict(self.config_of(assignment))

    def flat_distributions(self) -> dict:
        """The Optuna distributions of the flat encoding, name -> distribution, in asking order."""
        from .flat import flat_params
        return flat_params(self).distributions()

    def configs(self, limit: int = 100_000):
        """Every distinct architecture (canonical, buildable) of a finite space once, as an ArchConfig."""
        if not all(d.finite for d in self.dimensions):
            raise AttnasError("space: has a continuous dimension; allowed: enumeration of finite spaces only")
        for n, arch in enumerate(self.plan.configs()):
            if n >= limit:
                raise AttnasError(f"space: more than {limit} architectures; allowed: enumeration up to {limit}")
            yield arch

    def size(self) -> int | None:
        """The exact number of distinct buildable architectures (canonical configs); None if continuous."""
        if not all(d.finite for d in self.dimensions):
            return None
        return self.plan.size()

    # ---- validation ------------------------------------------------------------------------------------
    def _validate(self) -> None:
        paths = [d.path for d in self.dimensions]
        for d in self.dimensions:
            for parent in d.parents:
                if parent not in paths and parent not in self.fixed and "." not in parent and parent not in TOP_FIELDS:
                    raise AttnasError(f"dimensions.{d.path}: depends on {parent!r}, which is not a field")
                if parent in paths and paths.index(parent) > paths.index(d.path):
                    raise AttnasError(f"dimensions.{d.path}: depends on {parent!r}, which is decided later; "
                                      f"allowed: conditions on type fields or earlier dimensions")
            self._validate_values(d)
        if "backbone.type" not in paths and self.plan.value("backbone.type", {}) is None:
            raise AttnasError(f"space.fixed.backbone.type: missing; allowed: {', '.join(BACKBONES.names())}")
        if not self.plan.viable(self.plan.root()):
            errors = self.plan.errors
            raise AttnasError(errors[0] if errors else "space: no architecture of this space can be built; "
                                                       "allowed: a space with at least one buildable point")

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
            types = self._possible(f"{head}.type") if not d.path.startswith("extra_attention.") else reg.names()
            having = [t for t in types if t in reg and rest in reg.param_specs(t)]
            if not having:
                raise AttnasError(f"{field_name}: no {head} in this space has a parameter {rest!r}; allowed: "
                                  + ", ".join(sorted({p for t in types if t in reg for p in reg.param_specs(t)})))
            per_type = d.choices_by if d.by == f"{head}.type" else {t: values for t in having}
            for t, vals in per_type.items():
                if t in having:
                    for v in vals:
                        coerce(decode(v, d), reg.param_specs(t)[rest].annotation, field_name)

    def _possible(self, path: str) -> list:
        for d in self.dimensions:
            if d.path == path:
                return [v for vs in (d.choices_by.values() if d.by else [d.values()]) for v in vs]
        v = self.plan.value(path, {})
        return [v] if v is not None else []


def nest(pairs) -> dict:
    """An ArchConfig mapping from (dotted path, value) pairs; a component given by name becomes
    ``{type: name}`` so that later paths can add parameters to it."""
    data: dict = {}
    for path, value in pairs:
        parts = path.split(".")
        node = data
        for depth, p in enumerate(parts[:-1]):
            nxt = node.get(p)
            if isinstance(nxt, str):
                nxt = {"type": nxt}
            if not isinstance(nxt, dict):
                nxt = {}
            node[p] = nxt
            node = nxt
        value = plain(value)
        if isinstance(value, str) and _is_component(parts):
            value = {"type": value}
        if isinstance(node.get(parts[-1]), dict) and isinstance(value, dict):
            node[parts[-1]].update(value)
        else:
            node[parts[-1]] = value
    return data


def _is_component(parts: list[str]) -> bool:
    return (len(parts) == 1 and parts[0] in COMPONENTS) or (len(parts) == 2 and parts[0] == "extra_attention")


def plain(value):
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [plain(v) for v in value]
    return value


# A chooser picks a value: ``pick(name, dim, values)`` with ``values`` the open categorical choices here, or None
# for a numeric range. Optuna's trial, a numpy RNG, or (search_space.flat) a static flat vector.
class OptunaChooser:
    def __init__(self, trial):
        self.trial = trial

    def pick(self, name, dim, values):
        if values is not None:
            return self.trial.suggest_categorical(name, list(values))
        if dim.integer:
            return self.trial.suggest_int(name, int(dim.low), int(dim.high), step=int(dim.step or 1), log=dim.log)
        return self.trial.suggest_float(name, dim.low, dim.high, step=dim.step, log=dim.log)


class RandomChooser:
    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def pick(self, name, dim, values):
        if values is None and dim.log:
            v = float(np.exp(self.rng.uniform(np.log(dim.low), np.log(dim.high))))
            return int(round(v)) if dim.integer else v
        if values is None and not dim.finite:
            return float(self.rng.uniform(dim.low, dim.high))
        return uniform_choice(self.rng, dim.values() if values is None else values)


def uniform_choice(rng: np.random.Generator, values):
    """One of ``values``, uniformly (``rng.random()`` is ~10x cheaper than ``rng.integers``)."""
    return values[min(int(rng.random() * len(values)), len(values) - 1)]
