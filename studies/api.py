"""The Python API, for notebooks and scripts: run a study as ``attnas search`` does, and read one back as pandas.

    >>> from studies import run_study, load_study
    >>> result = run_study("studies/quickstart.yaml", trials=6, epochs=2, root="runs")   # what the CLI runs
    >>> result.front[0].metric("val_top1"), result.paths["export"]
    >>> study = load_study(result.dir)              # also while another process runs the study
    >>> study.trials[["arch.attention.type", "val_top1", "macs", "status"]]
    >>> study.front                                 # the Pareto-optimal rows, best first

``run_study`` and ``attnas search`` share :func:`open_study` (the study file, data and budget overrides, the
study folder) and :func:`studies.run.run_study` (the run itself), so both produce the same folder and MLflow runs.
"""
from __future__ import annotations

import io
import sys
from dataclasses import dataclass, field
from pathlib import Path

OVERRIDES = ("trials", "epochs", "root", "tracking_uri", "time_limit_s")


def open_study(study=None, *, resume=None, data: str | None = None, data_dir: str | None = None,
               image_size: int | None = None, trials: int | None = None, epochs: int | None = None,
               root: str | None = None, tracking_uri: str | None = None, time_limit_s=None):
    """The :class:`~studies.study.Study` that ``attnas search [STUDY] [--resume DIR] [overrides]`` runs: a new
    folder for ``study`` (a path, a shipped ablation name, None for the quickstart), or ``resume``'s folder."""
    from search_space.errors import AttnasError

    from .commands.search import data_override, resolve_study
    from .config import StudyConfig
    from .study import Study

    if resume and (data or data_dir or image_size):
        raise AttnasError("--data: a resumed study keeps its data set; allowed: --data with a study file")
    if resume and study:
        raise AttnasError("--resume: given together with a study file; allowed: one of the two")
    overrides = {"trials": trials, "epochs": epochs, "root": root, "tracking_uri": tracking_uri,
                 "time_limit_s": time_limit_s}      # seconds, "none" (lift the limit) or None (as configured)
    if resume:
        return Study.open(resume, **overrides)
    cfg = data_override(StudyConfig.from_yaml(resolve_study(None if study is None else str(study))), data,
                        data_dir, image_size)
    return Study.create(cfg.replace(**overrides))


@dataclass(frozen=True)
class StudyResult:
    """What :func:`run_study` returns: the study folder, every trial record, the front (best first) and the
    paths of what the study wrote (``study``, ``trials``, ``report``, ``export``, ``front_csv``), plus where its
    MLflow runs are."""

    dir: Path
    records: list
    front: list
    paths: dict
    tracking_uri: str
    parent_run_id: str | None = None
    summary: str = field(default="", repr=False)

    def load(self) -> "LoadedStudy":
        """The same study as DataFrames (:func:`load_study`)."""
        return load_study(self.dir)


def run_study(study=None, *, resume=None, address: str | None = None, reuse_actors: bool = True,
              quiet: bool = False, **overrides) -> StudyResult:
    """Run a study exactly as ``attnas search`` does and return its :class:`StudyResult`.

    ``study``: a study YAML path, a shipped ablation name, or None for the quickstart; ``resume``: a study folder
    to continue; ``overrides``: ``trials``, ``epochs``, ``root``, ``tracking_uri``, ``data``, ``data_dir``,
    ``image_size``, ``time_limit_s`` (seconds, or ``"none"`` to lift it) (the CLI's flags). Progress is printed unless ``quiet``. A stopped study raises
    :class:`~studies.signals.StudyInterrupted` as the CLI's does (continue it with ``resume=``)."""
    from .run import check_address
    from .run import run_study as run

    allowed = (*OVERRIDES, "data", "data_dir", "image_size")
    unknown = [k for k in overrides if k not in allowed]
    if unknown:
        raise TypeError(f"run_study() got an unexpected keyword argument {unknown[0]!r}; allowed: {', '.join(allowed)}")
    if address:
        check_address(address)
    s = open_study(study, resume=resume, **overrides)
    out = io.StringIO() if quiet else sys.stdout
    s = run(s, address=address, reuse_actors=reuse_actors, out=out)
    from analysis import pareto_records

    return StudyResult(dir=s.dir, records=list(s.records), front=pareto_records(s.current(), list(s.cfg.objectives)),
                       paths=study_paths(s.dir), tracking_uri=s.tracking_uri,
                       parent_run_id=s.tracker.parent_id if s.tracker is not None else None, summary=s.report.summary())


def study_paths(study_dir: Path) -> dict:
    d = Path(study_dir)
    return {"study": d / "study.yaml", "trials": d / "trials.jsonl", "report": d / "report",
            "export": d / "export", "front_csv": d / "report" / "front.csv"}


@dataclass(frozen=True)
class LoadedStudy:
    """A study folder read back: ``trials`` (one row per recorded trial: ids, status, reason, metrics, the
    Pareto rank among finished trials and ``on_front``, and one ``arch.<path>`` column per architecture field),
    ``front`` (the front's rows, best first), ``config`` (the StudyConfig) and the paths."""

    dir: Path
    trials: "object"
    front: "object"
    config: "object"
    paths: dict


def load_study(study_dir) -> LoadedStudy:
    """Read a study folder (``trials.jsonl`` and ``study.yaml``) into pandas; works while the study runs."""
    import pandas as pd

    from analysis import TRIALS_FILE, ranked_records, read_trials
    from analysis.report import arch_name, sort_key
    from search_space import ArchConfig
    from search_space.errors import AttnasError

    from .config import StudyConfig

    d = Path(study_dir)
    if not (d / "study.yaml").is_file():
        raise AttnasError(f"study: {str(d)!r} is not a study folder; allowed: a folder with study.yaml")
    cfg = StudyConfig.from_yaml(d / "study.yaml")
    records = read_trials(d / TRIALS_FILE) if (d / TRIALS_FILE).exists() else []
    objectives = list(cfg.objectives)
    ranks = {id(r): rank for rank, r in ranked_records(records, objectives)}
    rows = []
    for r in records:
        row = {"trial_id": r.trial_id, "number": r.number, "status": r.status, "reason": r.reason,
               "is_reference": r.is_reference, "reference_name": r.reference_name, "arch_hash": r.arch_hash,
               "arch_name": arch_name(r) if r.arch else None,
               "pareto_rank": ranks[id(r)] + 1 if id(r) in ranks else None, "on_front": ranks.get(id(r)) == 0}
        row.update({k: r.metrics[k] for k in r.metrics})
        if r.arch:
            flat = ArchConfig.from_dict(r.arch, check_fits=False).to_flat_dict()
            row.update({f"arch.{k}": v for k, v in flat.items()})
        rows.append(row)
    trials = pd.DataFrame(rows)
    if len(trials):
        trials["pareto_rank"] = trials["pareto_rank"].astype("Int64")
    key = sort_key(objectives)
    front_ids = [r.trial_id for r in sorted((r for r in records if ranks.get(id(r)) == 0), key=key)]
    front = trials.set_index("trial_id").loc[front_ids].reset_index() if front_ids else trials.iloc[0:0]
    return LoadedStudy(dir=d.resolve(), trials=trials, front=front, config=cfg, paths=study_paths(d.resolve()))
