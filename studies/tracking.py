"""MLflow logging for a study, from the driver only: one parent run per study, one nested child run per trial.

``MlflowTracker`` is the only code that talks to MLflow (through ``MlflowClient``, no global active run), with
one method per lifecycle stage. Trial id -> run id is kept in ``<study_dir>/mlflow_runs.json`` (rewritten
atomically after every new run, or once per batch of calls on the MLflow thread), so a resumed study re-attaches
to its runs and never logs a trial twice.
Ray's ``MLflowLoggerCallback`` is not used: it makes unlinked runs, not children of the study's run.

In MLflow's own terms (:mod:`studies.mlflow_terms`): every run's source is the entry point that started the
study, every child run has the study's data set as a dataset input, front members carry ``attnas.front`` /
``attnas.rank`` tags kept current by :meth:`MlflowTracker.sync_front`, and each is a LoggedModel (ArchConfig
YAML and recipe as artifacts, final metrics and the run linked) while it is on the front.
"""
from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from pathlib import Path

from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient
from mlflow.utils.validation import MAX_ENTITIES_PER_BATCH, MAX_METRICS_PER_BATCH, MAX_PARAMS_TAGS_PER_BATCH

from analysis.status import finite as _finite
from analysis.status import status as status_of

RUNS_FILE = "mlflow_runs.json"
STORE_ATTEMPTS = 5
"""Tries to open a SQLite store that another program (``mlflow ui``) creates or migrates at the same moment."""
FINAL_METRICS = ("val_top1", "val_top5", "macs", "params", "latency_ms", "epochs", "wall_time_s")
EPOCH_METRICS = ("train_loss", "train_top1", "val_loss", "val_top1", "val_top5", "lr", "epoch_time_s")
BATCH_CHARS = 500_000
"""Characters of keys and values in one ``log_batch`` call: half of a tracking server's 1 MB request limit."""


def batches(metrics: list, params: list, tags: list):
    """``(metrics, params, tags)`` split into ``log_batch`` calls within MLflow's limits (1,000 entities, of them
    at most 1,000 metrics, 100 params and 100 tags) and :data:`BATCH_CHARS`; no call for nothing."""
    queues = [list(params), list(tags), list(metrics)]
    limits = (MAX_PARAMS_TAGS_PER_BATCH, MAX_PARAMS_TAGS_PER_BATCH, MAX_METRICS_PER_BATCH)
    while any(queues):
        out: tuple = ([], [], [])
        count = chars = 0
        for queue, sink, limit in zip(queues, out, limits):
            while queue and len(sink) < limit and count < MAX_ENTITIES_PER_BATCH:
                size = len(queue[0].key) + len(str(queue[0].value)) + 64
                if count and chars + size > BATCH_CHARS:
                    break
                sink.append(queue.pop(0))
                count, chars = count + 1, chars + size
        yield out[2], out[0], out[1]


def merged(parts: list) -> tuple | None:
    """One run's held writes ``[(label, metrics, params, tags)]`` as one ``(metrics, params, tags)``: every
    metric, each param once, each tag with its last value (as the calls in order leave it); None when two calls
    give a param different values (MLflow refuses the second: the calls are then sent one by one)."""
    params: dict = {}
    tags: dict = {}
    for _, _, ps, ts in parts:
        for p in ps:
            if params.setdefault(p.key, p.value) != p.value:
                return None
        tags.update((t.key, t.value) for t in ts)
    return ([m for _, ms, _, _ in parts for m in ms], [Param(k, v) for k, v in params.items()],
            [RunTag(k, v) for k, v in tags.items()])


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


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` tracking URI (None for any other store)."""
    return Path(uri[len("sqlite:///"):]) if uri.startswith("sqlite:///") else None


def analyze_store(uri: str) -> bool:
    """Refresh SQLite's query-planner statistics of a ``sqlite:///`` store (``ANALYZE``); False, and nothing
    done, for any other store. Without statistics SQLite plans MLflow's search of a parent run's children
    ordered by a metric (the UI's runs page, ``search_runs`` with ``order_by``) as a scan of every child's
    metric row for every child, quadratic in the children: 4.8 s at 10,000 children on the dev box, 0.08 s
    with statistics (an automatic index on the metric). Open clients and ``mlflow server`` see them at once.
    They live in SQLite's own ``sqlite_stat1`` table, which MLflow neither reads nor migrates (a table that a
    schema upgrade rebuilds loses its row until the next call)."""
    import sqlite3

    db = sqlite_path(uri)
    if db is None:
        return False
    with contextlib.closing(sqlite3.connect(db, timeout=60)) as con:
        con.execute("ANALYZE")
        con.commit()
    return True


def open_client(uri: str, attempts: int = STORE_ATTEMPTS) -> MlflowClient:
    """An ``MlflowClient`` on ``uri`` whose store exists at MLflow's current schema.

    Opening a SQLite store creates and migrates it when it is new; two processes doing that at once both fail
    (alembic: "Online migration expected to match one row"). Every attnas process opens a SQLite store under
    one file lock (``<db>.lock``), so the first creates it and the others find it made; a program that does not
    take the lock (``mlflow ui`` opening the same new file) can still race, so a failed opening is tried again,
    ``attempts`` times in all, after the other side had time to finish."""
    db = sqlite_path(uri)
    if db is None:
        return MlflowClient(tracking_uri=uri)
    from .locks import file_lock

    for attempt in range(1, attempts + 1):
        with file_lock(db.with_name(db.name + ".lock")):
            try:
                client = MlflowClient(tracking_uri=uri)
                client.search_experiments(max_results=1)      # the store answers at its current schema
                return client
            except Exception:  # noqa: BLE001  - another creator's half-made schema: tried again, else raised
                if attempt == attempts:
                    raise
        time.sleep(0.5 * attempt)
    raise AssertionError("unreachable")


class MlflowTracker:
    def __init__(self, tracking_uri: str, study_dir: Path):
        self.uri = tracking_uri
        self.client = open_client(tracking_uri)
        self.study_dir = Path(study_dir)
        self.runs_file = self.study_dir / RUNS_FILE
        self.runs: dict = json.loads(self.runs_file.read_text()) if self.runs_file.exists() else {}
        self.parent_id: str | None = self.runs.get("_study")
        self.experiment_id: str | None = None
        self.source_tags: dict = {}
        self.data: "DataInputs | None" = None         # the study's data set, described once (studies.mlflow_terms)
        self.front = FrontModels(self.client, self.study_dir)
        self.statuses: dict = {}             # child run id -> status, from the last trial_runs() (resume)
        self.analyzed_at = 0                 # runs in mlflow_runs.json at the store's last ANALYZE (analyze_store)
        self._held = threading.local()       # this thread's run writes held for one batch (collecting)

    # ---- batches ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def collecting(self, label: str):
        """Hold this thread's run writes (metrics, params, tags) made inside, each with ``label`` (the trial it
        belongs to), until :meth:`flush_batches` sends them: one ``log_batch`` per run for everything a drained
        queue of calls logged to it (the MLflow thread, :class:`Background`). Other threads are not affected."""
        held = self._held
        if not hasattr(held, "runs"):
            held.runs, held.failed = {}, []
        held.label = label
        try:
            yield
        finally:
            held.label = None

    def flush_batches(self) -> list[tuple[str, str]]:
        """Send the writes this thread holds, one run at a time; returns the failures as ``(label, message)``
        (also those of flushes made inside a call, see :meth:`_flush_held`). A run whose merged batch fails
        gets each call's writes sent alone, so only the failing calls are reported, each against its trial,
        and the rest is logged as without batching."""
        self._flush_held()
        failed = getattr(self._held, "failed", [])
        self._held.failed = []
        return failed

    def _flush_held(self) -> None:
        """Send what this thread holds now: before a call that reads a run, or writes it other than by
        :meth:`_log` (its writes then land after the held ones, as they were made)."""
        if getattr(self._held, "save", False):
            self._held.save = False
            self._save_runs()
        runs = getattr(self._held, "runs", None)
        if not runs:
            return
        self._held.runs = {}
        for run_id, parts in runs.items():
            self._held.failed.extend(self._send_parts(run_id, parts))

    def _send_parts(self, run_id: str, parts: list) -> list[tuple[str, str]]:
        one = merged(parts)
        if one is not None:
            try:
                self._send(run_id, *one)
                return []
            except Exception as e:  # noqa: BLE001  - reported, or sent again call by call to find the failing ones
                if len(parts) == 1:
                    return [(parts[0][0], f"{type(e).__name__}: {e}")]
        failed = []
        for label, ms, ps, ts in parts:
            try:
                self._send(run_id, ms, ps, ts)
            except Exception as e:  # noqa: BLE001  - reported against the call's trial by Background
                failed.append((label, f"{type(e).__name__}: {e}"))
        return failed

    def _send(self, run_id: str, metrics: list, params: list, tags: list) -> None:
        for m, p, t in batches(metrics, params, tags):
            self.client.log_batch(run_id, metrics=m, params=p, tags=t, synchronous=True)

    def _log(self, run_id: str, metrics=(), params=(), tags=()) -> None:
        """Write metrics, params and tags to a run: held for the batch while :meth:`collecting`, else sent."""
        label = getattr(self._held, "label", None)
        if label is None:
            self._send(run_id, list(metrics), list(params), list(tags))
        else:
            self._held.runs.setdefault(run_id, []).append((label, list(metrics), list(params), list(tags)))

    # ---- study --------------------------------------------------------------------------------
    def start_study(self, name: str, study_config: dict, tags: dict) -> str:
        """Create (or, on resume, re-open) the study's experiment and parent run; returns the run id."""
        from .mlflow_terms import DataInputs, source_tags

        self.source_tags = source_tags()
        self.data = DataInputs(study_config)
        exp = self.client.get_experiment_by_name(name)
        if exp is None:
            location = None
            db = sqlite_path(self.uri)
            if db is not None:
                location = (db.parent / "mlartifacts").resolve().as_uri()
            self.experiment_id = self.client.create_experiment(name, artifact_location=location)
            self.client.set_experiment_tag(self.experiment_id, "mlflow.experimentKind", "custom_model_development")
        else:
            self.experiment_id = exp.experiment_id
        self.front.experiment_id = self.experiment_id
        self.analyze()
        if self.parent_id is not None:
            self.client.update_run(self.parent_id, status="RUNNING")
            return self.parent_id
        run = self.client.create_run(self.experiment_id, run_name=name,
                                     tags={"attnas.kind": "study", "attnas.study": name, **tags, **self.source_tags})
        self.parent_id = run.info.run_id
        self.runs["_study"] = self.parent_id
        self._save_runs()
        params = flat_params(study_config)
        self._send(self.parent_id, [], [Param(k[:250], v[:6000]) for k, v in params.items()], [])
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
        self.analyze()

    def analyze(self) -> None:
        """Refresh the SQLite store's planner statistics (:func:`analyze_store`): at the study's start and end,
        and whenever its runs have doubled since (64, 128, ...: a fraction of a second at 10,000 children)."""
        analyze_store(self.uri)
        self.analyzed_at = max(32, len(self.runs))

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
            "status": "running", **tags, **self.source_tags})
        run_id = run.info.run_id
        self.runs[trial_id] = run_id
        self._save_runs()
        self._log(run_id, params=[Param(k[:250], str(v)[:6000]) for k, v in arch_flat.items()])
        self.client.log_text(run_id, arch_yaml, "arch.yaml")
        if self.data is not None:
            self.client.log_inputs(run_id, datasets=[self.data.input()])
        if len(self.runs) >= 2 * self.analyzed_at:      # last: a failure here leaves the run complete
            self.analyze()
        return run_id

    def sync_front(self, front: list, recipe: dict, weights: dict | None = None) -> None:
        """Make the runs' ``attnas.front`` / ``attnas.rank`` tags and the LoggedModels match ``front`` (see
        :class:`FrontModels`); ``weights`` (trial id -> final checkpoint folder, ``tracking.log_weights: front``)
        are logged with a member's model, then every one of them is deleted (and forgotten)."""
        self._flush_held()
        self.front.sync(front, self.runs, recipe, self.data.dataset() if self.data is not None else None, weights)

    def log_epoch(self, trial_id: str, epoch: int, metrics: dict) -> None:
        now = int(time.time() * 1000)
        items = [Metric(k, float(metrics[k]), now, epoch) for k in EPOCH_METRICS if _finite(metrics.get(k))]
        if items:
            self._log(self.runs[trial_id], metrics=items)

    def fill_epochs(self, trial_id: str, rows: list[dict]) -> int:
        """Log the epochs of ``rows`` that the trial's run lacks (a resumed trial's checkpoint history: a kill
        can come after an epoch's checkpoint and before its queued MLflow call); returns how many."""
        self._flush_held()
        logged = {m.step for m in self.client.get_metric_history(self.runs[trial_id], "train_loss")}
        missing = [r for r in rows if int(r["epoch"]) not in logged]
        for row in missing:
            self.log_epoch(trial_id, int(row["epoch"]), row)
        return len(missing)

    def end_trial(self, trial_id: str, status: str, reason: str, metrics: dict, tags: dict | None = None) -> None:
        """Close the trial's run with ``status``'s run status (:mod:`analysis.status`; KILLED for a status
        without one, e.g. a trial that never got to train), with ``tags`` (where, how and when it trained);
        nothing when the trial has no run."""
        run_id = self.runs.get(trial_id)
        if run_id is None:
            return
        now = int(time.time() * 1000)
        items = [Metric(k, float(metrics[k]), now, 0) for k in FINAL_METRICS if _finite(metrics.get(k))]
        tags = [RunTag("status", status), RunTag("reason", reason[:5000]),
                *(RunTag(k[:250], str(v)[:5000]) for k, v in (tags or {}).items())]
        self._log(run_id, metrics=items, tags=tags)
        self.client.set_terminated(run_id, status=status_of(status).run_status or "KILLED")

    def log_trial_file(self, trial_id: str, path: str) -> None:
        """Attach a file (a failed trial's traceback log) to the trial's run, under ``logs/``."""
        if trial_id in self.runs:
            self.client.log_artifact(self.runs[trial_id], path, artifact_path="logs")

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
        """Rewrite ``mlflow_runs.json``; while :meth:`collecting`, once when the held writes are sent instead
        (the file grows with the study: 40 ms a rewrite at 10,000 runs here). A kill before that leaves runs
        the file lacks: strays, which a resume deletes (:mod:`studies.lifecycle`), as after a kill between a
        run's creation and its rewrite."""
        if getattr(self._held, "label", None) is not None:
            self._held.save = True
            return
        tmp = self.runs_file.with_name(RUNS_FILE + ".tmp")
        tmp.write_text(json.dumps(self.runs, indent=1))
        os.replace(tmp, self.runs_file)


class FrontModels:
    """The front in MLflow's terms, kept current: each member's run tagged ``attnas.front: true`` and
    ``attnas.rank: N`` (its place in the front, best accuracy first: the export's file number), runs that left
    the front ``attnas.front: false`` without a rank; each member a LoggedModel (named after the architecture,
    the ArchConfig YAML and the recipe as artifacts, its final metrics logged to it and to its run, the run
    linked as source and output), deleted when the trial leaves the front, so the Models tab lists the front.
    What was set is remembered in ``<study_dir>/mlflow_front.json`` (trial id -> rank, model id): only changes
    reach MLflow, and a resumed study goes on from it."""

    FILE = "mlflow_front.json"

    def __init__(self, client, study_dir: Path):
        self.client = client
        self.path = Path(study_dir) / self.FILE
        self.experiment_id: str | None = None
        self.members: dict = json.loads(self.path.read_text()) if self.path.exists() else {}

    def sync(self, front: list, runs: dict, recipe: dict, dataset=None, weights: dict | None = None) -> None:
        """``front``: ``[(trial_id, arch_yaml, arch_name, arch_hash, metrics)]`` best first; ``weights``: trial id
        -> a finished trial's final checkpoint folder, logged as the model's ``checkpoint/`` when its trial is
        on the front, then deleted and removed from ``weights`` (on the front or not)."""
        from .mlflow_terms import create_front_model

        now = {entry[0]: rank for rank, entry in enumerate(front, start=1) if entry[0] in runs}
        for trial_id in [t for t in self.members if t not in now]:
            old = self.members.pop(trial_id)
            self.client.set_tag(runs[trial_id], "attnas.front", "false")
            self.client.delete_tag(runs[trial_id], "attnas.rank")
            if old.get("model_id"):
                self.client.delete_logged_model(old["model_id"])
            self._save()
        for trial_id, arch_yaml, name, arch_hash, metrics in front:
            if trial_id not in now:
                continue
            rank, old = now[trial_id], self.members.get(trial_id)
            if old is not None and old["rank"] == rank:
                continue
            run_id = runs[trial_id]
            if old is None:
                model_id = create_front_model(self.client, self.experiment_id, run_id, trial_id, arch_yaml, name,
                                              arch_hash, metrics, recipe, rank, dataset)
                if weights and trial_id in weights:
                    self.client.log_model_artifacts(model_id, weights[trial_id], artifact_path="checkpoint")
            else:
                model_id = old["model_id"]
                self.client.set_logged_model_tags(model_id, {"attnas.rank": str(rank)})
            self.client.set_tag(run_id, "attnas.front", "true")
            self.client.set_tag(run_id, "attnas.rank", str(rank))
            self.members[trial_id] = {"rank": rank, "model_id": model_id}
            self._save()
        for trial_id in list(weights or {}):
            import shutil
            shutil.rmtree(weights.pop(trial_id), ignore_errors=True)

    def _save(self) -> None:
        tmp = self.path.with_name(self.FILE + ".tmp")
        tmp.write_text(json.dumps(self.members, indent=1))
        os.replace(tmp, self.path)


class Background:
    """Runs tracker calls in order on one worker thread, so MLflow round-trips (a few tens of ms each on
    SQLite) stay off Ray Tune's event loop. A failed call is not swallowed: it is kept in ``errors`` with the
    trial it belongs to, printed, and the worker goes on with the next call; :meth:`flush` waits for all.

    With a ``batcher`` (the study's :class:`MlflowTracker`, :meth:`batch_with`), the worker takes every call
    queued at once (up to ``MAX_DRAIN``), runs them in order while the tracker holds their metrics, params and
    tags, then sends one ``log_batch`` per run: a trial's epochs, its params and its ending, queued together,
    cost one round trip instead of one each. A held write that fails is reported against its call's trial."""

    MAX_DRAIN = 1000
    """Calls run before their held writes are sent (and :meth:`flush` counts them done)."""

    def __init__(self, out=None, batcher=None):
        import queue

        self.errors: list[tuple[str, str]] = []
        self.out = out
        self.batcher = batcher
        self._queue: "queue.Queue" = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="attnas-mlflow", daemon=True)
        self._thread.start()

    def batch_with(self, batcher) -> None:
        """Batch the writes of the calls that follow through ``batcher`` (``collecting(label)`` and
        ``flush_batches()``, as :class:`MlflowTracker` has them)."""
        self.batcher = batcher

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

    def _failed(self, label: str, message: str) -> None:
        import sys

        self.errors.append((label, message))
        print(f"attnas: MLflow call for {label} failed: {message}", file=self.out or sys.stderr)

    def _work(self) -> None:
        import queue

        while True:
            calls = [self._queue.get()]
            batcher = self.batcher
            while batcher is not None and len(calls) < self.MAX_DRAIN:
                try:
                    calls.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                for label, fn, args, kwargs in calls:
                    try:
                        with batcher.collecting(label) if batcher is not None else contextlib.nullcontext():
                            fn(*args, **kwargs)
                    except Exception as e:  # noqa: BLE001  - kept and reported, see the class docstring
                        self._failed(label, f"{type(e).__name__}: {e}")
                if batcher is not None:
                    try:
                        for label, message in batcher.flush_batches():
                            self._failed(label, message)
                    except Exception as e:  # noqa: BLE001  - the batcher's own fault, on every call it held
                        for label in dict.fromkeys(c[0] for c in calls):
                            self._failed(label, f"{type(e).__name__}: {e}")
            finally:
                for _ in calls:
                    self._queue.task_done()
