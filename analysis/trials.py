"""The trial result record the system exchanges, and the ``trials.jsonl`` file that holds a study's trials.

``studies`` appends one :class:`TrialRecord` per ended trial to ``<study_dir>/trials.jsonl`` (and logs the
same file as the parent MLflow run's artifact ``trials.jsonl``); ``analysis`` and ``attnas export`` read it.
The file is append-only, one JSON object per line. Reading tolerates what a killed writer leaves behind
(a truncated line) and keeps the last record per ``trial_id``, so a trial re-recorded after a resume
appears once. Non-finite floats (a diverged loss) are written as ``null`` so every line is strict JSON.
"""
from __future__ import annotations

import json
import os
import warnings
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Iterable, Sequence

from search_space.errors import AttnasError

from .status import ALIASES, STATUSES, finite, status

DEFAULT_OBJECTIVES = [("val_top1", "max"), ("macs", "min")]
TRIALS_FILE = "trials.jsonl"


@dataclass
class TrialRecord:
    """One ended trial. ``arch`` is ``ArchConfig.to_dict()``; ``metrics`` holds the final values (accuracies
    as fractions: val_top1, val_top5; params, macs, latency_ms, epochs, wall_time_s, ...); ``history`` one
    dict per epoch. Warm-start presets are trials too, with ``is_reference`` and their preset name. ``status``
    is one of :data:`analysis.status.STATUSES`; ``told`` holds the objective values the sampler was told
    (None when it was told FAIL, or for references, which are not told)."""

    trial_id: str
    number: int
    arch: dict
    arch_hash: str
    status: str
    reason: str = ""
    metrics: dict = field(default_factory=dict)
    history: list = field(default_factory=list)
    is_reference: bool = False
    reference_name: str | None = None
    told: list | None = None
    fidelity: dict = field(default_factory=dict)
    """What the trial was trained (or answered) at: epochs, train_subset, data, image_size (part of identity)."""
    provenance: dict = field(default_factory=dict)
    """Where, how and when it trained: node, device (with the GPU's name), gpu_ids, precision, torch, cuda,
    started_at and ended_at (UTC, ISO 8601); empty for a trial that trained nothing."""
    log: str | None = None
    """The file holding a failed trial's full traceback (``<study>/logs/<trial>.log``)."""
    twin: str | None = None
    """For a ``duplicate``: the trial it was answered from."""

    def __post_init__(self):
        self.status = ALIASES.get(self.status, self.status)
        if self.status not in STATUSES:
            raise AttnasError(f"status: {self.status!r} is not allowed; allowed: {', '.join(STATUSES)}")

    @property
    def counts(self) -> bool:
        """Whether this trial spent the study's budget (see :mod:`analysis.status`)."""
        return status(self.status).counts

    def metric(self, name: str) -> float | None:
        """The final value of ``name`` as a float, or None when missing or not finite."""
        value = self.metrics.get(name)
        return float(value) if finite(value) else None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data) -> "TrialRecord":
        """Build from a plain mapping; unknown or missing keys are one-line AttnasErrors."""
        if not isinstance(data, dict):
            raise AttnasError(f"trial: {type(data).__name__} is not allowed; allowed: a JSON object")
        names = [f.name for f in fields(cls)]
        unknown = [k for k in data if k not in names]
        if unknown:
            raise AttnasError(f"trial.{unknown[0]}: unknown field; allowed: {', '.join(names)}")
        missing = [n for n in ("trial_id", "number", "arch", "arch_hash", "status") if n not in data]
        if missing:
            raise AttnasError(f"trial.{missing[0]}: missing; allowed: a record with {', '.join(names)}")
        kinds = {str: "a string", int: "an integer", dict: "a mapping", list: "a list", bool: "true or false"}
        for name, kind in (("trial_id", str), ("number", int), ("arch", dict), ("arch_hash", str), ("reason", str),
                           ("metrics", dict), ("history", list), ("is_reference", bool), ("fidelity", dict),
                           ("provenance", dict)):
            if name in data and (not isinstance(data[name], kind) or (kind is int and isinstance(data[name], bool))):
                raise AttnasError(f"trial.{name}: {data[name]!r} is not allowed; allowed: {kinds[kind]}")
        if data.get("told") is not None and not isinstance(data["told"], list):
            raise AttnasError(f"trial.told: {data['told']!r} is not allowed; allowed: null or a list of numbers")
        return cls(**data)


def _strict_json(value):
    if isinstance(value, float) and not finite(value):
        return None
    if isinstance(value, dict):
        return {k: _strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict_json(v) for v in value]
    return value


def _line(record: TrialRecord) -> str:
    return json.dumps(_strict_json(record.to_dict()), allow_nan=False, separators=(",", ":")) + "\n"


def append_trial(path: str | Path, record: TrialRecord) -> None:
    """Append one record and fsync, so a finished trial survives a kill of the study process. If the
    file ends in a line cut short by an earlier kill, a newline is written first to keep the new record
    on a line of its own."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab+") as f:
        f.seek(0, os.SEEK_END)
        prefix = b""
        if f.tell():
            f.seek(-1, os.SEEK_END)
            prefix = b"" if f.read(1) == b"\n" else b"\n"
        f.write(prefix + _line(record).encode())
        f.flush()
        os.fsync(f.fileno())


def write_trials(path: str | Path, records: Iterable[TrialRecord]) -> None:
    """Write a whole trials file at once (atomically: a temporary file renamed over ``path``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(_line(r) for r in records))
    os.replace(tmp, path)


def read_trials(path: str | Path) -> list[TrialRecord]:
    """The records of a trials file, one per ``trial_id`` (the last written wins), sorted by trial
    number. A line that is not valid JSON is skipped: silently when it is the last line (a writer
    killed mid-line), with a warning elsewhere (a writer killed, then resumed)."""
    path = Path(path)
    if not path.is_file():
        raise AttnasError(f"trials: {str(path)!r} does not exist; allowed: a {TRIALS_FILE} written by attnas search")
    lines = path.read_text(errors="replace").splitlines()
    by_id: dict[str, TrialRecord] = {}
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            if i != len(lines):
                warnings.warn(f"{path}:{i}: skipped a truncated trial record", stacklevel=2)
            continue
        try:
            record = TrialRecord.from_dict(data)
        except AttnasError as e:
            raise AttnasError(f"{path}:{i}: {e}") from None
        by_id.pop(record.trial_id, None)
        by_id[record.trial_id] = record
    return sorted(by_id.values(), key=lambda r: r.number)


def parse_objectives(raw) -> list[tuple[str, str]]:
    """Objectives as ``[(metric, direction)]`` from the study file's form (a list of ``{metric, direction}``
    mappings) or from pairs; None gives :data:`DEFAULT_OBJECTIVES`."""
    if raw is None:
        return list(DEFAULT_OBJECTIVES)
    allowed = "a list of {metric: NAME, direction: max|min}"
    if not isinstance(raw, (list, tuple)) or not raw:
        raise AttnasError(f"objectives: {raw!r} is not allowed; allowed: {allowed}")
    out = []
    for i, item in enumerate(raw):
        if isinstance(item, dict) and set(item) <= {"metric", "direction"} and "metric" in item:
            metric, direction = item["metric"], item.get("direction", "max")
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            metric, direction = item
        else:
            raise AttnasError(f"objectives[{i}]: {item!r} is not allowed; allowed: {allowed}")
        if not isinstance(metric, str) or not metric:
            raise AttnasError(f"objectives[{i}].metric: {metric!r} is not allowed; allowed: a metric name")
        if direction not in ("max", "min"):
            raise AttnasError(f"objectives[{i}].direction: {direction!r} is not allowed; allowed: max, min")
        out.append((metric, direction))
    names = [m for m, _ in out]
    if len(set(names)) != len(names):
        raise AttnasError(f"objectives: {names!r} repeats a metric; allowed: each metric once")
    return out


def front_candidates(records: Sequence[TrialRecord], objectives: Sequence[tuple[str, str]]) -> list[TrialRecord]:
    """The records that may be on a Pareto front: finished (stopped trials trained fewer epochs, so their
    accuracy is not comparable) and with a finite value for every objective."""
    return [r for r in records
            if status(r.status).front and all(r.metric(m) is not None for m, _ in objectives)]


def objective_matrix(records: Sequence[TrialRecord], objectives: Sequence[tuple[str, str]]) -> list[list[float]]:
    """``[[value per objective] per record]`` for records from :func:`front_candidates`."""
    return [[r.metric(m) for m, _ in objectives] for r in records]
