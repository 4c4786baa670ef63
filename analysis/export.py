"""Export the Pareto-optimal architectures as ArchConfig YAML files that ``attnas train`` and
``attnas profile`` accept unchanged (they load with ``search_space.load_arch``).

Each file is ``NN-<arch name>-<hash>.yaml``, numbered best first (by accuracy, see
:func:`analysis.report.sort_key`); its comment header carries the measured metrics, the source study
and the trial. ``front.json`` beside them lists the same in machine-readable form, with the front's
hypervolume and the reference point it was measured at, and the study's **recipe**: the data set with its split
seed, the fidelity and the training config every trial was measured under. ``attnas train`` on an exported file
reads the recipe from the ``front.json`` beside it (:func:`recipe_for`), so a retrain repeats the measurement
unless flags change it.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Sequence

from .hypervolume import FIXED_REFERENCE_RULE, REFERENCE_RULE, hypervolume, reference_point
from .report import display, pareto_records
from .trials import TrialRecord, front_candidates, objective_matrix

SIDECAR = "front.json"


def sanitise(name: str) -> str:
    """A file-name-safe form of an architecture name: ``resnet_cifar8+se@pre_add`` -> ``resnet_cifar8-se-pre_add``."""
    return re.sub(r"-{2,}", "-", re.sub(r"[^A-Za-z0-9._]+", "-", name)).strip("-.") or "arch"


def _shown(metric: str, value: float) -> str:
    label, factor = display(metric)
    unit = label[label.find("(") + 1:-1] if "(" in label else ""
    return f"{metric} {value * factor:.4g}{' ' + unit if unit else ''}" if factor != 1.0 else f"{metric} {value:.4g}"


def _header(rec: TrialRecord, position: int, total: int, objectives, source: str | None,
            recipe: dict | None = None) -> str:
    metrics = "; ".join(_shown(m, rec.metric(m)) for m in rec.metrics if rec.metric(m) is not None)
    lines = [f"exported by attnas export: Pareto-optimal {position} of {total}, objectives "
             + ", ".join(f"{m} ({d})" for m, d in objectives),
             f"source: {source or 'unknown study'}, trial {rec.number} (id {rec.trial_id}), status {rec.status}"
             + (f", reference preset {rec.reference_name}" if rec.is_reference else ""),
             f"measured: {metrics or 'none'}"]
    if recipe:
        data, train = recipe.get("data", {}), recipe.get("training", {})
        lines.append(f"recipe (in {SIDECAR} beside this file; attnas train uses it): data {data.get('name')} "
                     f"split seed {data.get('seed')}, {train.get('epochs')} epochs, {train.get('optimizer')} lr "
                     f"{train.get('lr')} batch {train.get('batch_size')}")
    return "\n".join(lines)


def _remove_previous(out_dir: Path) -> None:
    """Delete the files a previous export into ``out_dir`` listed in its sidecar (and nothing else), so a
    smaller front does not leave stale configs behind."""
    sidecar = out_dir / SIDECAR
    if not sidecar.is_file():
        return
    try:
        previous = json.loads(sidecar.read_text())
        names = [a["file"] for a in previous.get("architectures", [])]
    except (json.JSONDecodeError, AttributeError, KeyError, TypeError):
        return
    for name in names:
        target = out_dir / Path(name).name
        if target.suffix == ".yaml" and target.is_file():
            target.unlink()


def export_front(records: Sequence[TrialRecord], objectives: Sequence[tuple[str, str]], out_dir: str | Path,
                 top_k: int | None = None, *, source: str | None = None,
                 reference: Sequence[float] | None = None, recipe: dict | None = None) -> list[Path]:
    """Write the Pareto-optimal architectures (the best ``top_k`` of them if given) as YAML files plus
    ``front.json`` into ``out_dir``; returns the YAML paths, best first. ``source`` names the study
    (folder or MLflow run) in the headers; ``reference`` is the study's fixed hypervolume reference point
    (default: :func:`~analysis.hypervolume.reference_point` of the records); ``recipe`` (``{data, training,
    fidelity, ...}``, see ``studies.recipe``) is written into ``front.json`` for ``attnas train``."""
    from search_space.arch_config import ArchConfig

    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ValueError(f"top_k must be a positive integer or None, got {top_k!r}")
    front = pareto_records(records, objectives)
    chosen = front[:top_k] if top_k else front
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _remove_previous(out_dir)
    width = max(2, len(str(len(chosen))))
    paths, entries = [], []
    for i, rec in enumerate(chosen, start=1):
        arch = ArchConfig.from_dict(rec.arch)
        path = out_dir / f"{i:0{width}d}-{sanitise(arch.name)}-{arch.hash}.yaml"
        path.write_text(arch.to_yaml(header=_header(rec, i, len(front), objectives, source, recipe)))
        paths.append(path)
        entries.append({"file": path.name, "position": i, "trial": rec.number, "trial_id": rec.trial_id,
                        "arch_name": arch.name, "arch_hash": arch.hash, "status": rec.status,
                        "is_reference": rec.is_reference, "reference_name": rec.reference_name,
                        "metrics": {m: rec.metric(m) for m in rec.metrics if rec.metric(m) is not None}})
    values = objective_matrix(front_candidates(records, objectives), objectives)
    ref = reference_point(objectives, values) if reference is None else [float(v) for v in reference]
    sidecar = {
        "source": source,
        "objectives": [{"metric": m, "direction": d} for m, d in objectives],
        "front_size": len(front),
        "exported": len(chosen),
        "hypervolume": hypervolume(values, ref, [d for _, d in objectives]) if values else 0.0,
        "reference_point": dict(zip((m for m, _ in objectives), ref)),
        "reference_rule": REFERENCE_RULE if reference is None else FIXED_REFERENCE_RULE,
        "architectures": entries,
    }
    if recipe is not None:
        sidecar["recipe"] = recipe
    (out_dir / SIDECAR).write_text(json.dumps(sidecar, indent=2) + "\n")
    return paths


def recipe_for(config_path: str | Path) -> dict | None:
    """The recipe an exported ArchConfig was measured under: from the ``front.json`` beside it when that lists
    the file (a config copied elsewhere, or exported before recipes, has none: None)."""
    path = Path(config_path)
    sidecar = path.parent / SIDECAR
    if not path.is_file() or not sidecar.is_file():
        return None
    try:
        data = json.loads(sidecar.read_text())
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("recipe"), dict):
        return None
    files = {a.get("file") for a in data.get("architectures", []) if isinstance(a, dict)}
    return data["recipe"] if path.name in files else None
