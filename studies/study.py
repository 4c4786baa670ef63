"""A study's folder: its config, records, state, lock and the handles to its Optuna journal and MLflow runs.

``<root>/<name>/`` holds everything the study needs to resume: ``study.yaml`` (the validated config, with the
hypervolume reference point fixed at the start), ``trials.jsonl`` (one TrialRecord per ended trial, appended
and fsynced), ``optuna.journal`` (Optuna's JournalStorage: append-only, safe under a kill),
``mlflow_runs.json`` (trial id -> MLflow run id), ``checkpoints.json`` (the last checkpoint of each trial in
flight), ``logs/`` (failed trials' tracebacks), ``ray/`` (Tune's per-run folders), ``report/`` and ``export/``
(:mod:`studies.report`). What happens to a trial, and every write of its outcome (record, Optuna tell, MLflow
run, checkpoint), is :mod:`studies.lifecycle`; this module holds the folder, the config, the records read
back, the study's state and lock, and the handles the lifecycle writes through. Tune's own experiment state is
not restored: a resume starts a new Tune run for the remaining budget, driven by the same Optuna study. A lock
file keeps two processes off one study.
"""
from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import optuna

from analysis import TRIALS_FILE, TrialRecord, read_trials
from analysis.status import at_fidelity
from search_space.errors import AttnasError

from .config import StudyConfig
from .report import Report
from .tracking import Background, MlflowTracker

STUDY_FILE = "study.yaml"
JOURNAL_FILE = "optuna.journal"
STATE_FILE = "state.json"

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
        self.optuna_storage = None
        self.report = Report(self)       # report/, export/ and the summary (studies.report)

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
