"""MLflow logging for a study, from the driver only: one parent run per study, one nested child run per trial.

``MlflowTracker`` is the only code that talks to MLflow (through ``MlflowClient``, no global active run), with
one method per lifecycle stage. Trial id -> run id is kept in ``<study_dir>/mlflow_runs.json`` (rewritten
atomically after every new run), so a resumed study re-attaches to its runs and never logs a trial twice.
Ray's ``MLflowLoggerCallback`` is not used: it makes unlinked runs, not children of the study's run.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

from analysis.status import status as status_of

RUNS_FILE = "mlflow_runs.json"
FINAL_METRICS = ("val_top1", "val_top5", "macs", "params", "latency_ms", "epochs", "wall_time_s")
EPOCH_METRICS = ("train_loss", "train_top1", "val_loss", "val_top1", "val_top5", "lr", "epoch_time_s")


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and abs(v) != float("inf")


def flat_params(d: dict, prefix: str = "") -> dict:
    """A nested mapping as ``{"a.b": value}`` strings for MLflow params (lists joined by commas)."""
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flat_params(v, key + "."))
        elif isinstance(v, (list, tuple)):
            out[key] = ",".join(str(x) for x in v)
        else:
            out[key] = "" if v is None else str(v)
    return out


class MlflowTracker:
    def __init__(self, tracking_uri: str, study_dir: Path):
        self.uri = tracking_uri
        self.client = MlflowClient(tracking_uri=tracking_uri)
        self.study_dir = Path(study_dir)
        self.runs_file = self.study_dir / RUNS_FILE
        self.runs: dict = json.loads(self.runs_file.read_text()) if self.runs_file.exists() else {}
        self.parent_id: str | None = self.runs.get("_study")
        self.experiment_id: str | None = None
        self.statuses: dict = {}             # child run id -> status, from the last trial_runs() (resume)

    # ---- study --------------------------------------------------------------------------------
    def start_study(self, name: str, study_config: dict, tags: dict) -> str:
        """Create (or, on resume, re-open) the study's experiment and parent run; returns the run id."""
        exp = self.client.get_experiment_by_name(name)
        if exp is None:
            location = None
            if self.uri.startswith("sqlite:///"):
                db = Path(self.uri[len("sqlite:///"):])
                location = (db.parent / "mlartifacts").resolve().as_uri()
            self.experiment_id = self.client.create_experiment(name, artifact_location=location)
            self.client.set_experiment_tag(self.experiment_id, "mlflow.experimentKind", "custom_model_development")
        else:
            self.experiment_id = exp.experiment_id
        if self.parent_id is not None:
            self.client.update_run(self.parent_id, status="RUNNING")
            return self.parent_id
        run = self.client.create_run(self.experiment_id, run_name=name,
                                     tags={"attnas.kind": "study", "attnas.study": name, **tags})
        self.parent_id = run.info.run_id
        self.runs["_study"] = self.parent_id
        self._save_runs()
        params = flat_params(study_config)
        items = [Param(k[:250], v[:6000]) for k, v in params.items()]
        for i in range(0, len(items), 100):
            self.client.log_batch(self.parent_id, params=items[i:i + 100], synchronous=True)
        return self.parent_id

    def log_study_files(self, paths: list[Path], artifact_path: str | None = None) -> None:
        for p in paths:
            if Path(p).is_dir():
                self.client.log_artifacts(self.parent_id, str(p), artifact_path=artifact_path or Path(p).name)
            elif Path(p).exists():
                self.client.log_artifact(self.parent_id, str(p), artifact_path=artifact_path)

    def log_study_metric(self, key: str, value: float, step: int) -> None:
        if _finite(value):
            self.client.log_metric(self.parent_id, key, float(value), step=step)

    def end_study(self, status: str = "FINISHED") -> None:
        self.client.set_terminated(self.parent_id, status=status)

    # ---- trials -------------------------------------------------------------------------------
    def start_trial(self, trial_id: str, run_name: str, arch_flat: dict, arch_yaml: str, tags: dict) -> str:
        """The trial's child run, created once: a trial already in ``mlflow_runs.json`` gets its run back."""
        if trial_id in self.runs:        # resumed from a checkpoint: the same run goes on
            run_id = self.runs[trial_id]
            if self.client.get_run(run_id).info.status != "RUNNING":
                self.client.update_run(run_id, status="RUNNING")
            return run_id
        run = self.client.create_run(self.experiment_id, run_name=run_name, tags={
            "mlflow.parentRunId": self.parent_id, "attnas.kind": "trial", "attnas.trial_id": trial_id,
            "status": "running", **tags})
        run_id = run.info.run_id
        self.runs[trial_id] = run_id
        self._save_runs()
        params = [Param(k[:250], str(v)[:6000]) for k, v in arch_flat.items()]
        for i in range(0, len(params), 100):
            self.client.log_batch(run_id, params=params[i:i + 100], synchronous=True)
        self.client.log_text(run_id, arch_yaml, "arch.yaml")
        return run_id

    def log_epoch(self, trial_id: str, epoch: int, metrics: dict) -> None:
        now = int(time.time() * 1000)
        items = [Metric(k, float(metrics[k]), now, epoch) for k in EPOCH_METRICS if _finite(metrics.get(k))]
        if items:
            self.client.log_batch(self.runs[trial_id], metrics=items, synchronous=True)

    def fill_epochs(self, trial_id: str, rows: list[dict]) -> int:
        """Log the epochs of ``rows`` that the trial's run lacks (a resumed trial's checkpoint history: a kill
        can come after an epoch's checkpoint and before its queued MLflow call); returns how many."""
        logged = {m.step for m in self.client.get_metric_history(self.runs[trial_id], "train_loss")}
        missing = [r for r in rows if int(r["epoch"]) not in logged]
        for row in missing:
            self.log_epoch(trial_id, int(row["epoch"]), row)
        return len(missing)

    def end_trial(self, trial_id: str, status: str, reason: str, metrics: dict) -> None:
        """Close the trial's run with ``status``'s run status (:mod:`analysis.status`; KILLED for a status
        without one, e.g. a trial that never got to train); nothing when the trial has no run."""
        run_id = self.runs.get(trial_id)
        if run_id is None:
            return
        now = int(time.time() * 1000)
        items = [Metric(k, float(metrics[k]), now, 0) for k in FINAL_METRICS if _finite(metrics.get(k))]
        tags = [RunTag("status", status), RunTag("reason", reason[:5000])]
        self.client.log_batch(run_id, metrics=items, tags=tags, synchronous=True)
        self.client.set_terminated(run_id, status=status_of(status).run_status or "KILLED")

    def set_aside(self, trial_id: str) -> None:
        """Keep an interrupted trial's run under ``<trial_id>~<n>`` so that its re-run gets a new run."""
        k = 1
        while f"{trial_id}~{k}" in self.runs:
            k += 1
        self.runs[f"{trial_id}~{k}"] = self.runs.pop(trial_id)
        self._save_runs()

    def trial_runs(self) -> dict:
        """Trial id -> run ids of the study's child runs in MLflow (used on resume to find strays)."""
        out: dict = {}
        runs = self.client.search_runs([self.experiment_id], f"tags.`mlflow.parentRunId` = '{self.parent_id}'",
                                       max_results=50000)
        for r in runs:
            out.setdefault(r.data.tags.get("attnas.trial_id"), []).append(r.info.run_id)
            self.statuses[r.info.run_id] = r.info.status
        return out

    def run_status(self, run_id: str) -> str:
        """A child run's status as of the last :meth:`trial_runs` (one search on resume, not a call per run),
        else asked of MLflow."""
        status = self.statuses.get(run_id)
        return status if status is not None else self.client.get_run(run_id).info.status

    def delete_run(self, run_id: str) -> None:
        self.client.delete_run(run_id)

    def _save_runs(self) -> None:
        tmp = self.runs_file.with_name(RUNS_FILE + ".tmp")
        tmp.write_text(json.dumps(self.runs, indent=1))
        os.replace(tmp, self.runs_file)


class Background:
    """Runs tracker calls in order on one worker thread, so MLflow round-trips (a few tens of ms each on
    SQLite) stay off Ray Tune's event loop. A failed call is not swallowed: it is kept in ``errors`` with the
    trial it belongs to, printed, and the worker goes on with the next call; :meth:`flush` waits for all."""

    def __init__(self, out=None):
        import queue
        import threading

        self.errors: list[tuple[str, str]] = []
        self.out = out
        self._queue: "queue.Queue" = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="attnas-mlflow", daemon=True)
        self._thread.start()

    def submit(self, label: str, fn, *args, **kwargs) -> None:
        self._queue.put((label, fn, args, kwargs))

    def flush(self, timeout_s: float | None = None) -> bool:
        """Wait until every queued call ran (at most ``timeout_s``); True when the queue is empty."""
        if timeout_s is None:
            self._queue.join()
            return True
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.05)
        return not self._queue.unfinished_tasks

    def failures_by_label(self) -> dict[str, list[str]]:
        """The calls that failed, grouped by the trial (or ``study``) they belong to."""
        out: dict[str, list[str]] = {}
        for label, message in self.errors:
            out.setdefault(label, []).append(message)
        return out

    def _work(self) -> None:
        import sys

        while True:
            label, fn, args, kwargs = self._queue.get()
            try:
                fn(*args, **kwargs)
            except Exception as e:  # noqa: BLE001  - kept and reported, see the class docstring
                self.errors.append((label, f"{type(e).__name__}: {e}"))
                print(f"attnas: MLflow call for {label} failed: {type(e).__name__}: {e}", file=self.out or sys.stderr)
            finally:
                self._queue.task_done()
