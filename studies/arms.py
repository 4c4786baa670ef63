"""Architectures a study trains as given, not sampled: ``warm_start`` references and an ablation's ``arms``.

Each entry names an architecture three ways: a preset name (``se-resnet50``), an ArchConfig YAML path
(relative to the study file), or an inline ArchConfig mapping; ``set`` then changes dotted fields of it
(``{connection.type: weighted}``), so an ablation's arms read as "the baseline, with this one change"::

    warm_start: [resnet20, ../configs/my-net.yaml]
    arms:
      - {name: se, arch: se-resnet50, reported: {top1_pct: 77.2877, params_m: 28.09, macs_g: 4.130}}
      - {name: direct, arch: dca-se-resnet50, set: {connection.type: direct}, reported: {...}}

``reported`` holds the paper's numbers for the arm, in the units the papers print, named with them
(:data:`REPORTED_FIELDS`); a list of such mappings gives one per data set (a paper that reports an arm on
CIFAR-10, CIFAR-100 and Tiny-ImageNet), and the table uses the one for the data the study trained on; the end-of-study table puts them beside the measured ones
(:mod:`analysis.reported`). Paths are read at load time and kept inline, so the study folder's
``study.yaml`` is self-contained; preset names stay names. ``num_classes`` and ``input_size`` always come
from the study's data set when an arm is trained.

An arm equal by hash to one evaluated before is answered from it (its table row says which), unless it is a
seed replicate: ``replicate: N`` (an integer >= 1) trains it again with training seed ``seed + N``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from search_space.errors import AttnasError
from search_space.yaml_io import parse_yaml

REPORTED_FIELDS = {
    "top1_pct": "top-1 accuracy (%)", "top5_pct": "top-5 accuracy (%)",
    "error_pct": "top-1 error (%)", "top5_error_pct": "top-5 error (%)",
    "params_m": "parameters (millions)", "macs_g": "multiply-accumulates (G)", "macs_m": "multiply-accumulates (M)",
    "dataset": "the data set of the paper's numbers (imagenet, cifar10, cifar100, tinyimagenet, ...)",
    "classes": "the class count the paper's counts are at, where not its data set's",
    "input_size": "the input the paper's counts are at (e.g. 3x224x224), where not its data set's",
    "table": "where in the paper", "note": "a remark (a reading, a caveat)",
}
"""``reported`` keys. Papers that say "FLOPs" for multiply-adds are transcribed as ``macs_*``."""
_NUMERIC = ("top1_pct", "top5_pct", "error_pct", "top5_error_pct", "params_m", "macs_g", "macs_m")
ARM_FIELDS = ("name", "arch", "set", "reported", "replicate")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


@dataclass(frozen=True)
class Arm:
    """One architecture trained as given: ``arch`` a preset name or an inline ArchConfig mapping."""

    name: str
    arch: Any
    set: Mapping[str, Any] = field(default_factory=dict)
    reported: Any = field(default_factory=dict)
    replicate: int = 0
    """0: deduplicated by hash; N >= 1: a seed replicate, trained with training seed ``seed + N``."""

    def reported_for(self, dataset: str = "") -> dict:
        """The paper's numbers for ``dataset`` (a list's entry with that ``dataset``, else its first)."""
        if isinstance(self.reported, Mapping):
            return dict(self.reported)
        match = [r for r in self.reported if str(r.get("dataset", "")).lower() == dataset.lower()]
        return dict((match or list(self.reported) or [{}])[0])

    def config(self, label: str = "", **top_level) -> "ArchConfig":  # noqa: F821
        """The arm's ArchConfig, with ``set`` applied and top-level fields (``num_classes``, ``input_size``)
        overridden; raises AttnasError naming the arm (or ``label``) when it does not build."""
        from search_space import ArchConfig, load_arch

        try:
            data = load_arch(self.arch).to_dict() if isinstance(self.arch, str) else dict(self.arch)
            data = apply_set(data, self.set)
            data.update({k: v for k, v in top_level.items() if v is not None})
            return ArchConfig.from_dict(data)
        except AttnasError as e:
            raise AttnasError(f"{label or 'arm ' + self.name}: {e}") from None

    def to_dict(self):
        if isinstance(self.arch, str) and self.name == self.arch and not self.set and not self.reported \
                and not self.replicate:
            return self.arch
        out: dict = {"name": self.name, "arch": plain(self.arch)}
        if self.set:
            out["set"] = dict(self.set)
        if self.reported:
            out["reported"] = plain(self.reported)
        if self.replicate:
            out["replicate"] = self.replicate
        return out


def apply_set(data: dict, changes: Mapping[str, Any]) -> dict:
    """``data`` (an ArchConfig mapping) with each dotted path of ``changes`` set (``attention.reduction: 8``;
    ``attention: {type: se}`` replaces the whole component)."""
    out = plain(data)
    for path, value in changes.items():
        parts = str(path).split(".")
        node = out
        for p in parts[:-1]:
            child = node.get(p)
            if isinstance(child, str):          # a component written by type name only
                child = {"type": child}
            if not isinstance(child, dict):
                child = {}
            node[p] = child
            node = child
        node[parts[-1]] = plain(value)
    return out


def parse_arms(raw, base_dir: Path, field_name: str, *, need_name: bool = False) -> tuple[Arm, ...]:
    """Validate a list of arm entries (module docstring) once; every problem is one AttnasError line."""
    from search_space.presets import preset_names

    if raw is None:
        return ()
    if isinstance(raw, (str, Mapping)) or not isinstance(raw, (list, tuple)):
        raise AttnasError(f"{field_name}: {raw!r} is not allowed; allowed: a list of preset names, ArchConfig "
                          f"paths or mappings with {', '.join(ARM_FIELDS)}")
    arms = []
    for i, entry in enumerate(raw):
        where = f"{field_name}[{i}]"
        arch_where = where if isinstance(entry, str) else f"{where}.arch"
        if isinstance(entry, str):
            entry = {"arch": entry}
        if not isinstance(entry, Mapping):
            raise AttnasError(f"{where}: {entry!r} is not allowed; allowed: a preset name, a path or a mapping "
                              f"with {', '.join(ARM_FIELDS)}")
        for k in entry:
            if k not in ARM_FIELDS:
                raise AttnasError(f"{where}.{k}: unknown field; allowed: {', '.join(ARM_FIELDS)}")
        arch = entry.get("arch")
        name = entry.get("name")
        if isinstance(arch, str):
            path = Path(arch) if Path(arch).is_absolute() else Path(base_dir) / arch
            if path.suffix in (".yaml", ".yml") or path.is_file():
                if not path.is_file():
                    raise AttnasError(f"{arch_where}: {arch!r} does not exist; allowed: an ArchConfig YAML path "
                                      f"(relative to the study file), a preset name or an inline config")
                name = name or path.stem
                arch = parse_yaml(path.read_text(), f"{arch_where}: {path}")
            elif arch not in preset_names():
                raise AttnasError(f"{arch_where}: {arch!r} is neither a file nor a preset; allowed: an ArchConfig "
                                  f"YAML path, an inline config or one of {', '.join(preset_names())}")
            else:
                name = name or arch
        elif not isinstance(arch, Mapping):
            raise AttnasError(f"{arch_where}: {arch!r} is not allowed; allowed: a preset name, an ArchConfig "
                              f"YAML path or an inline ArchConfig mapping")
        if need_name and "name" not in entry:
            raise AttnasError(f"{where}.name: missing; allowed: a short name for the arm (letters, digits, . _ + -)")
        if not isinstance(name, str) or not _NAME.match(name):
            raise AttnasError(f"{where}.name: {name!r} is not allowed; allowed: letters, digits and . _ + - "
                              f"(it names the trial), required for an inline config")
        changes = entry.get("set") or {}
        if not isinstance(changes, Mapping):
            raise AttnasError(f"{where}.set: {changes!r} is not allowed; allowed: a mapping dotted.field -> value")
        replicate = entry.get("replicate", 0)
        if isinstance(replicate, bool) or not isinstance(replicate, int) or replicate < 0:
            raise AttnasError(f"{where}.replicate: {replicate!r} is not allowed; allowed: an integer >= 1 (a seed "
                              f"replicate, trained with seed + N) or 0")
        arm = Arm(name=name, arch=plain(arch), set=plain(changes),
                  reported=_reported(entry.get("reported"), f"{where}.reported"), replicate=replicate)
        arm.config(label=where)     # builds at the config's own size: a typo is one line now, not a failed trial
        arms.append(arm)
    names = [a.name for a in arms]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup is not None:
        raise AttnasError(f"{field_name}: {dup!r} appears twice; allowed: each name once")
    return tuple(arms)


def _reported(raw, where: str):
    if raw is None:
        return {}
    if isinstance(raw, (list, tuple)):
        entries = [_reported(r, f"{where}[{i}]") for i, r in enumerate(raw)]
        sets = [e.get("dataset") for e in entries]
        if not entries or None in sets or len(set(sets)) != len(sets):
            raise AttnasError(f"{where}: {sets!r} is not allowed; allowed: a list of mappings with one distinct "
                              f"dataset each")
        return entries
    if not isinstance(raw, Mapping):
        raise AttnasError(f"{where}: {raw!r} is not allowed; allowed: a mapping with {', '.join(REPORTED_FIELDS)}")
    for k, v in raw.items():
        if k not in REPORTED_FIELDS:
            raise AttnasError(f"{where}.{k}: unknown field; allowed: {', '.join(REPORTED_FIELDS)}")
        if k in _NUMERIC and (isinstance(v, bool) or not isinstance(v, (int, float)) or not v == v or v < 0):
            raise AttnasError(f"{where}.{k}: {v!r} is not allowed; allowed: a number >= 0 ({REPORTED_FIELDS[k]})")
        if k == "classes" and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise AttnasError(f"{where}.classes: {v!r} is not allowed; allowed: an integer >= 1")
        if k == "input_size" and not re.fullmatch(r"\d+x\d+x\d+", str(v)):
            raise AttnasError(f"{where}.input_size: {v!r} is not allowed; allowed: CxHxW, e.g. 3x224x224")
        if k not in _NUMERIC and k != "classes" and not isinstance(v, str):
            raise AttnasError(f"{where}.{k}: {v!r} is not allowed; allowed: text")
    if "top1_pct" in raw and "error_pct" in raw and abs(raw["top1_pct"] + raw["error_pct"] - 100) > 1e-6:
        raise AttnasError(f"{where}: top1_pct {raw['top1_pct']} and error_pct {raw['error_pct']} do not add to 100; "
                          f"allowed: one of them, or both consistent")
    if "macs_g" in raw and "macs_m" in raw:
        raise AttnasError(f"{where}: both macs_g and macs_m; allowed: one of them")
    return dict(raw)


def plain(v):
    """Plain dicts and lists (YAML-safe) of nested mappings and sequences."""
    if isinstance(v, Mapping):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    return v


DATASET_SHAPES = {
    "imagenet": (1000, [3, 224, 224]), "cifar10": (10, [3, 32, 32]), "cifar100": (100, [3, 32, 32]),
    "tinyimagenet": (200, [3, 64, 64]),
}
"""(classes, input size) of the data sets papers report on, where the paper's counts were taken. An arm
whose ``reported.dataset`` is not here is counted at its config's own size (the preset's native size)."""


def paper_counts(arm: Arm, dataset: str = "") -> tuple[float | None, float | None]:
    """(parameters, MACs) of ``arm`` at the size of its paper's numbers for ``dataset`` (:data:`DATASET_SHAPES`),
    from the config alone (``search_space.cost.estimate_cost``); (None, None) where it does not build there."""
    from search_space.cost import estimate_cost

    rep = arm.reported_for(dataset)
    classes, size = DATASET_SHAPES.get(str(rep.get("dataset", "")).lower(), (None, None))
    classes = rep.get("classes", classes)
    if "input_size" in rep:
        size = [int(x) for x in rep["input_size"].split("x")]
    try:
        cost = estimate_cost(arm.config(num_classes=classes, input_size=size))
    except AttnasError:
        return None, None
    return float(cost.params), float(cost.macs)


def arm_rows(arms, dataset: str = "") -> list[dict]:
    """The per-arm input of :func:`analysis.reported.reported_rows`: name, the paper's numbers for ``dataset``
    (the data the study trains on), and the arm's counts where those numbers were taken."""
    rows = []
    for arm in arms:
        params, macs = paper_counts(arm, dataset)
        rows.append({"arm": arm.name, "reported": arm.reported_for(dataset), "paper_params": params,
                     "paper_macs": macs})
    return rows
