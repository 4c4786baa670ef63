"""A study's folder and stores: config, records, Optuna journal, MLflow runs, the live report and the lock.

``<root>/<name>/`` holds everything the study needs to resume: ``study.yaml`` (the validated config, with the
hypervolume reference point fixed at the start), ``trials.jsonl`` (one TrialRecord per ended trial, appended
and fsynced), ``optuna.journal`` (Optuna's JournalStorage: append-only, safe under a kill),
``mlflow_runs.json`` (trial id -> MLflow run id), ``ray/`` (Tune's per-run folders), ``report/`` (front.csv,
front.png, hypervolume.csv) and ``export/`` (the Pareto ArchConfigs). What happens to a trial, and the order
of writes when it ends or is repaired on resume, is :mod:`studies.lifecycle`; this module holds the stores it
writes to. Tune's own experiment state is not restored: a resume starts a new Tune run for the remaining
budget, driven by the same Optuna study. A lock file keeps two processes off one study.
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import time
import warnings
from pathlib import Path

import optuna
import yaml

from analysis import (TRIALS_FILE, TrialRecord, arch_name, export_front, hypervolume, pareto_records,
                      read_trials, summary_table, write_report)
from analysis.status import at_fidelity
from analysis.trials import front_candidates, objective_matrix
from search_space import ArchConfig
from search_space.errors import AttnasError

from .config import StudyConfig
from .tracking import Background, MlflowTracker

STUDY_FILE = "study.yaml"
JOURNAL_FILE = "optuna.journal"
STATE_FILE = "state.json"
ARTIFACT_INTERVAL_S = 5.0
"""Least time between two uploads of the parent run's live artifacts (front, plot, trials, exports)."""
PUBLISH_SHARE = 10.0
"""... and at least this many times the last upload took: the report is rebuilt from every record, so a large
study refreshes it less often instead of spending a growing share of the driver's time on it."""

def default_tracking_uri(root: str | Path) -> str:
    return f"sqlite:///{(Path(root).resolve() / 'mlflow.db').as_posix()}"


class Study:
    """One study folder. ``Study.create`` starts a new one, ``Study.open`` an existing one (resume)."""

    def __init__(self, cfg: StudyConfig, study_dir: Path):
        self.cfg = cfg
        self.dir = Path(study_dir).resolve()
        self.trials_path = self.dir / TRIALS_FILE
        self.tracking_uri = cfg.tracking_uri or default_tracking_uri(cfg.root)
        self.records: list[TrialRecord] = read_trials(self.trials_path) if self.trials_path.exists() else []
        self.state = json.loads((self.dir / STATE_FILE).read_text()) if (self.dir / STATE_FILE).exists() else {}
        self.tracker: MlflowTracker | None = None
        self.background = Background()
        self._lock = None
        self._last_upload = 0.0
        self._publish_s = 0.0
        self.optuna_storage = None
        self._arm_rows = None
        self.effects: list = []          # analysis.effects rows, from the last final publish

    def __getstate__(self):
        """Tune pickles its callbacks into its run folder; the live handles (lock, MLflow, Optuna) stay here."""
        return {"cfg": self.cfg, "dir": self.dir}

    def __setstate__(self, state):
        self.__init__(state["cfg"], state["dir"])

    # ---- folders ------------------------------------------------------------------------------
    @classmethod
    def create(cls, cfg: StudyConfig) -> "Study":
        """A new study folder ``<root>/<name>``; if that name is taken, ``<name>-2``, ``-3``, ..."""
        from .locks import file_lock

        root = Path(cfg.root).resolve()
        with file_lock(root / ".attnas-create.lock"):    # studies started at once in one root get distinct names
            name, k = cfg.name, 1
            while (root / name / STUDY_FILE).exists():
                k += 1
                name = f"{cfg.name}-{k}"
            if name != cfg.name:
                cfg = StudyConfig.from_dict({**cfg.to_dict(), "name": name})
            study_dir = root / name
            study_dir.mkdir(parents=True, exist_ok=True)
            # the saved config is self-contained (space inline) and pins the storage locations used
            cfg = cfg.replace(root=str(root), tracking_uri=cfg.tracking_uri or default_tracking_uri(root))
            (study_dir / STUDY_FILE).write_text(cfg.to_yaml())
        return cls(cfg, study_dir)

    @classmethod
    def open(cls, study_dir: str | Path, **overrides) -> "Study":
        study_dir = Path(study_dir)
        path = study_dir / STUDY_FILE
        if not path.is_file():
            raise AttnasError(f"--resume: {str(study_dir)!r} is not a study folder; allowed: a folder with {STUDY_FILE}")
        cfg = StudyConfig.from_yaml(path)
        changes = {k: v for k, v in overrides.items() if v is not None}
        if changes:
            cfg = cfg.replace(**changes)
            path.write_text(cfg.to_yaml())
        return cls(cfg, study_dir)

    def lock(self) -> None:
        self._lock = open(self.dir / ".lock", "w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AttnasError(f"study: {str(self.dir)!r} is in use by another attnas process; "
                              f"allowed: one process per study") from None

    def unlock(self) -> None:
        if getattr(self, "journal", None) is not None:
            self.journal.sync()
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    # ---- state ---------------------------------------------------------------------------------
    def counted(self) -> int:
        """Trials that spent the budget: trained ones (see :mod:`analysis.status`) at the study's current
        fidelity; after a resume at another fidelity, ``budget.trials`` counts the trials the front is made of."""
        return sum(r.counts for r in self.current())

    def remaining(self) -> int:
        return max(0, self.cfg.trials - self.counted())

    def pending_references(self) -> list[str]:
        done = {r.reference_name for r in self.records if r.is_reference and (r.counts or r.status == "duplicate")}
        return [p for p in self.cfg.reference_names if p not in done]

    def current(self, records: list | None = None) -> list:
        """The records at the study's current fidelity (those written before fidelities were recorded count as
        current): what the front, the hypervolume, the exports and the rungs use."""
        fidelity = self.cfg.fidelity()
        return [r for r in (self.records if records is None else records) if at_fidelity(r, fidelity)]

    def other_fidelities(self, records: list | None = None) -> list:
        """The records trained at another fidelity than the study's current one."""
        current = {id(r) for r in self.current(records)}
        return [r for r in (self.records if records is None else records) if id(r) not in current]

    def fidelity_note(self) -> str | None:
        """One line when some records were trained at another fidelity (a resume with other --epochs, data or
        image size); None otherwise."""
        others = [r for r in self.other_fidelities() if r.counts]
        if not others:
            return None
        now = self.cfg.fidelity()
        was = sorted({", ".join(f"{k} {v}" for k, v in r.fidelity.items() if now.get(k) != v) for r in others})
        return (f"note: this study now trains at {', '.join(f'{k} {v}' for k, v in now.items())}; "
                f"{len(others)} trained record(s) at {' / '.join(was)} stay in trials.jsonl but answer no "
                f"duplicate, are left out of the front, hypervolume, exports and rungs (marked on the plot) and do "
                f"not count towards budget.trials ({self.counted()} of {self.cfg.trials} spent at this fidelity)")

    def save_state(self, **changes) -> None:
        self.state.update(changes)
        tmp = self.dir / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(self.state))
        os.replace(tmp, self.dir / STATE_FILE)

    def storage_path(self) -> Path:
        """Tune's run folder: ``storage.path``, else ``<study>/ray``."""
        return Path(self.cfg.storage_path) if self.cfg.storage_path else self.dir / "ray"

    def fix_reference(self, space, archs=()) -> str:
        """Fix the hypervolume reference point once (at the first start) and write it into study.yaml;
        returns the line that states it."""
        if self.cfg.hypervolume_reference is None:
            from .reference import fixed_reference

            ref, rule = fixed_reference(self.cfg, space, archs)
            self.cfg = self.cfg.replace(hypervolume_reference=ref)
            (self.dir / STUDY_FILE).write_text(self.cfg.to_yaml())
            self.save_state(reference_rule=rule)
        rule = self.state.get("reference_rule", "set in study.yaml")
        point = ", ".join(f"{m}={v:.6g}" for m, v in self.cfg.hypervolume_reference.items())
        return f"hypervolume reference point: {point} ({rule})"

    # ---- Optuna ----------------------------------------------------------------------------------
    def open_optuna(self) -> optuna.Study:
        from optuna.storages import JournalStorage

        from .journal import StudyJournalBackend

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.journal = StudyJournalBackend(str(self.dir / JOURNAL_FILE))     # one writer: no fsync per line
        self.optuna_storage = JournalStorage(self.journal)
        ot = optuna.create_study(storage=self.optuna_storage, study_name=self.cfg.name, load_if_exists=True,
                                 directions=["maximize" if d == "max" else "minimize" for d in self.cfg.modes])
        if ot.metric_names != self.cfg.metrics:
            ot.set_metric_names(list(self.cfg.metrics))        # optuna-dashboard shows val_top1 / macs
        return ot

    # ---- the live report -------------------------------------------------------------------------
    def publish(self, force: bool, weights: dict | None = None) -> bool:
        """Write the report and exports and upload them to the parent run (at most every
        ``ARTIFACT_INTERVAL_S`` seconds unless ``force``), on the background thread; ``weights`` (trial key ->
        final checkpoint, ``tracking.log_weights: front``) go to the front's LoggedModels. Returns whether it
        published (False: too soon, ``weights`` not taken)."""
        now = time.monotonic()
        if not force and now - self._last_upload < max(ARTIFACT_INTERVAL_S, PUBLISH_SHARE * self._publish_s):
            return False
        self._last_upload = now
        self.background.submit("study", self._timed_publish, list(self.records), force, dict(weights or {}))
        if force:
            self.background.flush()
        return True

    def _timed_publish(self, records: list, final: bool = False, weights: dict | None = None) -> None:
        t0 = time.monotonic()
        try:
            self._publish(records, final, weights or {})
        finally:
            self._publish_s = time.monotonic() - t0

    def _publish(self, records: list, final: bool = False, weights: dict | None = None) -> None:
        """Front, hypervolume and exports from the records at the study's fidelity; the others are marked on
        the plot. ``final`` (a forced publish: the study's end or stop) adds the effects report
        (studies.effects)."""
        objectives = list(self.cfg.objectives)
        report_dir, export_dir = self.dir / "report", self.dir / "export"
        ref = self.cfg.reference_point
        others = self.other_fidelities(records)
        records = self.current(records)
        files = write_report(records, objectives, report_dir, study_name=self.cfg.name, reference=ref,
                             others=others)
        files += self.write_reported(records)
        from .recipe import study_recipe
        recipe = study_recipe(self.cfg)
        front = pareto_records(records, objectives)
        export_front(records, objectives, export_dir, source=str(self.dir), reference=ref, recipe=recipe)
        self.tracker.sync_front([(r.trial_id, ArchConfig.from_dict(r.arch).to_yaml(), arch_name(r), r.arch_hash,
                                  dict(r.metrics)) for r in front], recipe,
                                {r.trial_id: weights[r.trial_id] for r in records if r.trial_id in (weights or {})})
        self.tracker.log_study_files([self.trials_path, *files, self.dir / STUDY_FILE])
        self.tracker.log_study_files([export_dir], artifact_path="export")
        step = sum(r.counts for r in records)
        self.tracker.log_study_metric("hypervolume", self.hypervolume(records), step=step)
        self.tracker.log_study_metric("front_size", len(front), step=step)
        if final:
            from .effects import write_study_effects
            effect_files, self.effects = write_study_effects(self.cfg, records, report_dir, self.optuna_storage)
            self.tracker.log_study_files(effect_files)

    # ---- an ablation's arms beside their paper's numbers (analysis.reported) ------------------------
    def reported_rows(self, records: list | None = None) -> list[dict]:
        """One row per arm: measured and reported top-1, parameters and MACs ([] without arms)."""
        if not self.cfg.arms:
            return []
        if getattr(self, "_arm_rows", None) is None:
            from .arms import arm_rows
            self._arm_rows = arm_rows(self.cfg.arms, self.cfg.data_config().name)
        from analysis.reported import reported_rows
        return reported_rows(self.records if records is None else records, self._arm_rows,
                             trained_on=self.cfg.data_config().name)

    def write_reported(self, records: list) -> list:
        """``report/reported.csv``, ``.png`` and ``.txt`` (the printed table), for the parent run."""
        rows = self.reported_rows(records)
        if not rows:
            return []
        from analysis.reported import reported_table, write_reported
        files = write_reported(rows, self.dir / "report", title=f"{self.cfg.name}: measured vs reported")
        text = self.dir / "report" / "reported.txt"
        text.write_text(reported_table(rows) + "\n")
        return files + [text]

    def hypervolume(self, records: list | None = None) -> float:
        """The front's hypervolume at the study's fixed reference point."""
        objectives = list(self.cfg.objectives)
        cands = front_candidates(self.current(records), objectives)
        if not cands or self.cfg.reference_point is None:
            return 0.0
        return hypervolume(objective_matrix(cands, objectives), self.cfg.reference_point,
                           [d for _, d in objectives])

    def summary(self) -> str:
        """The best trials at the study's fidelity, the largest effects, then where they trained
        (:func:`trained_on`)."""
        lines = [summary_table(self.current(), list(self.cfg.objectives), reference=self.cfg.reference_point)]
        if self.effects:
            from analysis.effects import effects_lines
            lines.append("largest effects (report/effects.csv, effects.png; matched by MACs bin, 95% bootstrap CI):\n  "
                         + "\n  ".join(effects_lines(self.effects, 3, self.cfg.metrics[0])))
        note = self.fidelity_note()
        return "\n".join(lines + ([note] if note else []) + trained_on(self.records, self.cfg.gpu))


def trained_on(records: list, gpu: float) -> list[str]:
    """One line "trained on: ..." (devices with precision and trial counts, nodes, torch/CUDA, UTC span) and,
    when the study asked for GPUs (``gpu`` > 0) and a trial trained on a CPU, one warning line."""
    done = [r for r in records if r.provenance.get("device")]
    if not done:
        return []
    by = {}
    for r in done:
        key = f"{r.provenance['device']} {r.provenance.get('precision', '?')}"
        by[key] = by.get(key, 0) + 1
    nodes = {r.provenance.get("node") for r in done if r.provenance.get("node")}
    builds = sorted({f"torch {r.provenance.get('torch', '?')}, CUDA {r.provenance.get('cuda') or '-'}" for r in done})
    starts = sorted(r.provenance["started_at"] for r in done if r.provenance.get("started_at"))
    ends = sorted(r.provenance["ended_at"] for r in done if r.provenance.get("ended_at"))
    span = f", {starts[0]} to {ends[-1]} UTC" if starts and ends else ""
    lines = [f"trained on: {', '.join(f'{k} ({n} trial(s))' for k, n in by.items())}; {len(nodes)} node(s); "
             f"{'; '.join(builds)}{span}"]
    on_cpu = sorted(r.trial_id for r in done if r.provenance["device"] == "cpu")
    if gpu > 0 and on_cpu:
        lines.append(f"warning: resources.gpu {gpu:g} asked for a GPU per trial, but {len(on_cpu)} trial(s) trained "
                     f"on the CPU ({', '.join(on_cpu[:8])}{', ...' if len(on_cpu) > 8 else ''}): their node had no "
                     f"usable CUDA device")
    return lines


class Harmless(logging.Filter):
    """Drops Ray Tune log records known to be harmless for a study, by their text
    (:data:`HARMLESS_TUNE_MESSAGES`, each with why); every other record passes whole, traceback included."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        return not any(m in text for m in HARMLESS_TUNE_MESSAGES)


HARMLESS_TUNE_MESSAGES = (
    "Trial task failed for trial",       # the study writes the trial's traceback to <study>/logs/<trial>.log
    "Trials did not complete",           # after a stop: the study records the in-flight trials as interrupted
    "Experiment has been interrupted",   # Tune's resume hint: a study resumes with attnas search --resume
    "Tune detects GPUs, but no trials are using GPUs",   # resources.gpu: 0 is the study's choice
    "Failed to fetch metrics for",       # Tune's ResultGrid after a stop: the study does not use it
)
HARMLESS_SOURCES = ("ray.tune.tune", "ray.tune.execution.tune_controller", "ray.tune.analysis.experiment_analysis")
"""The Tune modules whose loggers write the messages above."""
HARMLESS_WARNINGS = (
    # the study sets TPE's group option itself (sampler_options), knowing it is experimental
    r"Argument ``group`` is an experimental feature",
    # sampler: qmc is a documented choice of the study file
    r"QMCSampler is experimental",
    # the study names its objectives (Study.set_metric_names) for optuna-dashboard
    r"optuna\.study\.study\.Study\.set_metric_names is experimental",
)


def quiet_ray_logs() -> None:
    """Ray's and Tune's progress tables off (the study prints its own progress). No library logger is muted:
    Ray's and Tune's warnings and errors reach the console whole; the few known to be harmless are dropped by
    their text (:class:`Harmless`, :data:`HARMLESS_WARNINGS`), each with why."""
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    os.environ.setdefault("TUNE_WARN_SLOW_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "1000")
    for name in HARMLESS_SOURCES:     # a logger's filters see the records made at it, so each module's own
        log = logging.getLogger(name)
        if not any(isinstance(f, Harmless) for f in log.filters):
            log.addFilter(Harmless())
    optuna.logging.set_verbosity(optuna.logging.WARNING)    # Optuna's per-trial INFO lines; warnings stay
    for message in HARMLESS_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=optuna.exceptions.ExperimentalWarning)


def dump_yaml(data) -> str:
    return yaml.safe_dump(data, sort_keys=False)
