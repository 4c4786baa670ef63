"""One trial's lifecycle, in one place: what happens when a trial starts, reports, ends, is answered without
training, and is repaired when a killed study resumes. Statuses come from :mod:`analysis.status` (each with its
Optuna state and MLflow run status); nothing else in ``studies`` decides what a status means.

* **start** (:meth:`Lifecycle.started`, a trained trial only): an MLflow child run is opened.
* **report** (:meth:`Lifecycle.reported`): each epoch's metrics join the trial's history and its MLflow run.
* **end** (:meth:`Lifecycle.ended` for trials Tune ran, :meth:`Lifecycle.answered` for what the searcher
  answers itself: duplicates, rejections, invalid configs, suggestions that never ran) all go through
  :meth:`Lifecycle.end`, in this order: the values the sampler is told are fixed (:meth:`told_values`), the
  record is appended to ``trials.jsonl`` (fsynced), Optuna is told, the MLflow run is closed, duplicates that
  waited for this architecture are answered, and the live report is refreshed. A tell Optuna refuses is an
  error on the trial: it is re-recorded ``failed`` with Optuna's message and told FAIL.
* **repair** (:meth:`Lifecycle.repair`, on ``--resume``): whatever a kill left between those steps is
  finished from the records: an Optuna trial still RUNNING whose record exists is told from it; one without
  a record was ``interrupted``: it is run again (or answered as a duplicate if its architecture was
  evaluated meanwhile); MLflow runs of ended trials are closed from their records, runs of interrupted
  trials end KILLED (status ``interrupted``) and the re-run gets a run of its own, runs created but never
  saved in ``mlflow_runs.json`` are deleted.

* **checkpoint** (:meth:`Lifecycle.checkpointed`): every epoch's Tune checkpoint is remembered in
  ``checkpoints.json`` (key -> path, epoch, arch hash) until the trial ends with any status but ``interrupted``.
* **recover** (:meth:`Lifecycle.recovered`): a trial whose worker or node died is run again by Tune
  (``failures.max_retries``) from its last checkpoint, on any node; it keeps its history (an epoch reported
  twice replaces its row) and its MLflow run.
* **interrupt** (:meth:`Lifecycle.interrupt_running`): Ctrl-C, SIGTERM, the time limit or a crash of the Tune
  loop record every trial in flight as ``interrupted`` with its epochs and history, its MLflow run KILLED. Its
  Optuna trial stays RUNNING (the vocabulary's ``interrupted``: no tell), so ``--resume`` continues it under
  the same number and key, from its checkpoint, in the same MLflow run (re-opened). Without a checkpoint it
  trains from epoch 0 in a run of its own (the old one is set aside as ``<key>~<n>``).
"""
from __future__ import annotations

import json
import os
import shutil
import sys

import optuna

from analysis import TrialRecord, append_trial, pareto_records
from analysis.fidelity import calibration_pairs, corrected_accuracy
from analysis.status import STATUSES, VOCABULARY, finite, status, trial_key
from search_space import ArchConfig

from .trainable import EPOCH_KEYS, PROFILE_KEYS, PROVENANCE_KEYS, lost, read_meta, utc_now

CHECKPOINTS_FILE = "checkpoints.json"
TRAINABLE_ENDINGS = ("finished", "diverged", "failed", "oom")
"""Final ``status`` values a trainable reports; a trial that ends after a ``running`` report was stopped."""


def _epoch_row(result: dict) -> dict:
    return {"epoch": int(result["epoch"]), **{k: result.get(k) for k in EPOCH_KEYS}}


class Lifecycle:
    """Driver-side owner of every trial's records (see the module docstring)."""

    def __init__(self, study, out=sys.stdout):
        self.study, self.cfg, self.out = study, study.cfg, out
        self.fidelity = study.cfg.fidelity()      # written on every record (part of its identity)
        self.searcher = None            # StudySearcher, once the Tune run starts (attach)
        self.optuna = None              # its optuna.Study, told by this lifecycle alone
        self.stops: dict = {}           # key -> the scheduler's Decision that stopped a running trial
        path = study.dir / CHECKPOINTS_FILE
        self.checkpoints: dict = json.loads(path.read_text()) if path.exists() else {}
        """Trial key -> {path, epoch, arch_hash, node} of the last Tune checkpoint of a trial that has not ended."""
        self.final_weights: dict = {}
        """Trial key -> the final checkpoint of a finished trial, kept (tracking.log_weights: front) until the
        next publish hands it to the front's LoggedModels (kept if on the front, deleted if not)."""
        self.histories: dict[str, list] = {}
        self.running: set[str] = set()
        self.configs: dict[str, dict] = {}      # key -> Tune config of a running trial
        self.last: dict[str, dict] = {}         # key -> its last report
        self._curves: dict[str, tuple] = {}     # metric -> (records seen, curves of the finished ones)
        self._pairs: dict[tuple, tuple] = {}    # (metric, epoch) -> (curves seen, calibration pairs)

    def attach(self, searcher) -> None:
        """The study's searcher (:class:`studies.search.StudySearcher`): the lifecycle tells Optuna how each of
        its trials ended (:meth:`tell`) and hands the searcher every ending (``told``, ``trial_ended``)."""
        self.searcher = searcher
        self.optuna = optuna.load_study(study_name=self.cfg.name, storage=searcher.storage)
        self._study_id = searcher.storage.get_study_id_from_name(self.cfg.name)

    def say(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    # ---- start and report (trials Tune runs) --------------------------------------------------------
    def started(self, config: dict) -> None:
        """A trial's actor started. A trial Tune restarts after its worker or node died keeps its history and
        MLflow run; a trial resumed from a checkpoint starts with the checkpoint's history."""
        key = config["key"]
        if key in self.running:
            return
        history = []
        if config.get("resume_from"):
            meta = read_meta(config["resume_from"]) or {}
            history = [_epoch_row(r) for r in meta.get("history", [])]
            self.say(f"  {key:<18} resumes from its checkpoint after epoch {meta.get('epoch', '?')}")
        self.histories[key] = history
        self.configs[key] = config
        self.running.add(key)
        self.start_run(key, ArchConfig.from_dict(config["arch"], check_fits=False), config["number"],
                       config["reference"])
        if history:
            self.fill_epochs(key, history)

    def reported(self, config: dict, result: dict) -> None:
        """One epoch's report. An epoch the history already holds (a retried trial that lost reports after
        its checkpoint and trains them again) replaces its row and is not logged to MLflow twice."""
        key = config["key"]
        self.last[key] = dict(result)
        if result.get("status") in ("running", "finished") and result.get("epoch", 0) >= 1:
            row = _epoch_row(result)
            history = self.histories.setdefault(key, [])
            if history and history[-1]["epoch"] >= row["epoch"]:
                history[:] = [r for r in history if r["epoch"] < row["epoch"]] + [row]
                return
            history.append(row)
            self.log_epoch(key, row["epoch"], row)

    def checkpointed(self, config: dict, path: str) -> None:
        """Tune saved trial ``config``'s checkpoint at ``path``: remembered in the study folder for ``--resume``."""
        meta = read_meta(path) or {}
        node = self.last.get(config["key"], {}).get("node", "")
        self.save_checkpoint(config["key"], {"path": str(path), "epoch": int(meta.get("epoch", 0)),
                                             "arch_hash": config["arch_hash"], "node": node})

    def save_checkpoint(self, key: str, entry: dict | None, delete: bool = True) -> None:
        """Remember (``entry``) or forget (None) trial ``key``'s last checkpoint in ``checkpoints.json``,
        atomically, and delete the checkpoint it replaces (what Tune's ``num_to_keep=1`` would do, without the
        experiment snapshot Tune forces after every checkpoint when that is set)."""
        old = self.checkpoints.get(key)
        if entry is None:
            if self.checkpoints.pop(key, None) is None:
                return
        else:
            self.checkpoints[key] = entry
        if old is not None and delete and (entry is None or old["path"] != entry["path"]):
            shutil.rmtree(old["path"], ignore_errors=True)
        tmp = self.study.dir / (CHECKPOINTS_FILE + ".tmp")
        tmp.write_text(json.dumps(self.checkpoints, indent=1))
        os.replace(tmp, self.study.dir / CHECKPOINTS_FILE)

    def resume_from(self, key: str, arch_hash: str) -> str | None:
        """The checkpoint trial ``key`` goes on from when it is dispatched again (a resumed interrupted trial),
        if it has one of this architecture."""
        ckpt = self.checkpoints.get(key)
        return ckpt["path"] if ckpt and ckpt.get("arch_hash") == arch_hash else None

    def decided(self, decision) -> None:
        """The scheduler's rung decision (:class:`studies.scheduler.Decision`): a stop is kept for the trial's
        record (its reason), which is written when Tune ends the trial."""
        if not decision.promoted:
            self.stops[decision.trial] = decision

    def recovered(self, config: dict, error: str) -> None:
        """Tune runs the trial again (``failures.max_retries``) after its worker or node died."""
        ckpt = self.checkpoints.get(config["key"])
        where = f"from its checkpoint after epoch {ckpt['epoch']}" if ckpt else "from epoch 0 (no checkpoint yet)"
        self.say(f"  {config['key']:<18} lost its worker ({error}); Tune runs it again {where}")

    def interrupt_running(self, reason: str) -> list[TrialRecord]:
        """Record every trial still in flight as ``interrupted`` (Ctrl-C, SIGTERM, the time limit, a crash of
        the Tune loop), with its epochs and history: its MLflow run ends KILLED, its Optuna trial stays
        RUNNING for ``--resume``, which continues it from its last checkpoint."""
        ended = []
        for key in sorted(self.running):
            config, last = self.configs[key], self.last.get(key, {})
            history = self.histories.get(key, [])
            epochs = history[-1]["epoch"] if history else 0
            how = "from its checkpoint" if key in self.checkpoints else "from epoch 0 (no checkpoint yet)"
            why = f"interrupted by {reason} after epoch {epochs}; --resume continues it {how}"
            ended.append(self.ended(config, {**last, "status": "interrupted", "reason": why}))
        return ended

    # ---- end ----------------------------------------------------------------------------------------
    def ended(self, config: dict, last: dict, error: str | None = None, error_text: str = "") -> TrialRecord:
        """Record a trial Tune ran: from its last report (or ``error``, the one line of the Tune error whose
        full text is ``error_text``: ``lost`` when it says the worker or node was lost or the trainable raised
        a transient error, else ``failed``) and the scheduler's decision."""
        key = config["key"]
        self.running.discard(key)
        self.configs.pop(key, None)
        self.last.pop(key, None)
        history = self.histories.pop(key, [])
        reported = last.get("status")
        reason = last.get("reason", "") or ""
        if error is not None:
            name, reason = ("lost" if lost(error_text or error) else "failed"), error
            if name == "lost":
                reason = f"lost on each of Tune's {1 + self.cfg.max_retries} tries (failures.max_retries " \
                         f"{self.cfg.max_retries}): {error}"
        elif reported in TRAINABLE_ENDINGS or reported == "interrupted":
            name = reported
        elif reported == "running" and history:
            name = "stopped"
            decision = self.stops.pop(key, None)
            reason = decision.reason(self.cfg.scheduler) if decision is not None else \
                f"stopped by Tune after epoch {history[-1]['epoch']}"
        elif reported == "running":
            name, reason = "not_run", "ended before its first epoch"
        else:
            name, reason = "failed", reason or "trial ended without reporting a result"
        metrics = {k: last[k] for k in ("val_top1", "val_top5", *PROFILE_KEYS) if finite(last.get(k))}
        metrics.update(epochs=int(history[-1]["epoch"]) if history else 0, wall_time_s=float(last.get("wall_time_s", 0.0) or 0.0))
        if finite(last.get("resumed_from")) and last["resumed_from"] > 0:
            metrics["resumed_from_epoch"] = int(last["resumed_from"])   # its last attempt went on from there
        accs = [float(r["val_top1"]) for r in history if finite(r.get("val_top1"))]
        if accs:
            metrics["best_val_top1"] = max(accs)
        number = config["number"]
        if number is None:
            number = self.cfg.reference_number(config["reference"])
        provenance = {k: last[k] for k in PROVENANCE_KEYS if last.get(k) not in (None, "")}
        if "started_at" in provenance:
            provenance["ended_at"] = utc_now()
        record = TrialRecord(trial_id=key, number=number, arch=config["arch"], arch_hash=config["arch_hash"],
                             status=name, reason=reason, metrics=metrics, history=history,
                             is_reference=config["reference"] is not None, reference_name=config["reference"],
                             provenance=provenance)
        text = last.get("traceback") or error_text
        if name in ("failed", "lost", "oom") and text:
            record.log = self.write_log(key, text)
        return self.end(record)

    def answered(self, record: TrialRecord) -> TrialRecord:
        """Record an outcome the searcher reached without training (duplicate, rejected, invalid, not_run)."""
        return self.end(record)

    def end(self, record: TrialRecord) -> TrialRecord:
        """The one path every ending takes (order in the module docstring)."""
        if not record.fidelity:
            record.fidelity = dict(self.fidelity)
        if record.told is None and record.status != "duplicate":
            record.told = self.told_values(record)
        append_trial(self.study.trials_path, record)
        self.study.records.append(record)
        if self.searcher is not None and not record.is_reference:
            try:
                self.tell(record)
            except Exception as e:  # noqa: BLE001  - an error on the trial, recorded and shown
                reason = f"Optuna did not take the result: {type(e).__name__}: {e}"
                self.say(f"  {record.trial_id}: {reason}")
                record = TrialRecord(**{**record.to_dict(), "status": "failed", "reason": reason, "told": None})
                append_trial(self.study.trials_path, record)
                self.study.records[-1] = record
                self.tell_failed(record.number, reason)
        self.end_run(record)
        self.print_trial(record)
        if self.searcher is not None:
            for dup in self.searcher.trial_ended(record):
                self.end(dup)
        self.publish(force=False)
        return record

    def write_log(self, key: str, text: str) -> str:
        """Write a failed trial's full traceback to ``<study>/logs/<key>.log``; returns the path."""
        path = self.study.dir / "logs" / f"{key}.log"
        path.parent.mkdir(exist_ok=True)
        path.write_text(text if text.endswith("\n") else text + "\n")
        return str(path)

    def publish(self, force: bool) -> None:
        """Refresh the live report (:meth:`studies.report.Report.publish`), handing it the final weights kept
        since the last refresh."""
        weights = dict(self.final_weights)
        if self.study.report.publish(force, weights):
            for key in weights:
                del self.final_weights[key]

    # ---- Optuna ------------------------------------------------------------------------------------
    def set_attrs(self, number: int, **attrs) -> None:
        """User attributes of Optuna trial ``number``."""
        storage = self.searcher.storage
        trial_id = storage.get_trial_id_from_study_id_trial_number(self._study_id, number)
        for key, value in attrs.items():
            storage.set_trial_user_attr(trial_id, key, value)

    def tell(self, record: TrialRecord) -> None:
        """Tell Optuna how trial ``record.number`` ended, in the state its status declares
        (:mod:`analysis.status`), with ``record.told`` as values. Raises when Optuna does not take it."""
        state = status(record.status).optuna_state
        if state == "twin":
            state = "COMPLETE" if record.told is not None else "FAIL"
        if state is None or record.is_reference:
            return
        values = list(record.told) if state == "COMPLETE" else None
        if state == "COMPLETE" and (values is None or len(values) != len(self.cfg.metrics)
                                    or not all(finite(v) for v in values)):
            raise ValueError(f"no finite value for every objective ({values!r})")
        self.set_attrs(record.number, status=record.status, reason=record.reason[:1000], fidelity=record.fidelity,
                       **({"provenance": record.provenance} if record.provenance else {}),
                       **({"log": record.log} if record.log else {}))
        frozen = self.optuna.tell(record.number, values, state=optuna.trial.TrialState[state])
        self.searcher.told(record.number, values, frozen.state, frozen.params, frozen.distributions)
        if frozen.state.name != state:
            raise ValueError(f"Optuna recorded the trial as {frozen.state.name}, not {state}")

    def tell_failed(self, number: int, reason: str) -> None:
        """Mark trial ``number`` FAIL whatever state it is in (after a tell that Optuna refused)."""
        self.set_attrs(number, status="failed", reason=reason[:1000])
        self.optuna.tell(number, None, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)
        self.searcher.told(number, None, optuna.trial.TrialState.FAIL, {}, {})

    def told_values(self, record: TrialRecord) -> list | None:
        """What the sampler is told (see :mod:`analysis.status` and :mod:`analysis.fidelity`): a finished
        trial its objectives; a stopped one its accuracy mapped to full fidelity and its costs; a rejected
        one accuracy 0 and its costs; None (told FAIL) otherwise or when a value is missing."""
        objectives = list(self.cfg.objectives)
        if record.status == "finished":
            values = [record.metric(m) for m, _ in objectives]
        elif record.status == "stopped":
            (acc_metric, _), costs = objectives[0], objectives[1:]
            acc = record.metric(acc_metric)
            pairs = self.pairs(acc_metric, record.metrics.get("epochs", 0))
            values = [None if acc is None else corrected_accuracy(acc, pairs)] + [record.metric(m) for m, _ in costs]
        elif record.status == "rejected":
            ref = self.cfg.reference_point or [None] * len(objectives)
            values = [0.0 if d == "max" else (record.metric(m) if record.metric(m) is not None else ref[i])
                      for i, (m, d) in enumerate(objectives)]
        else:
            return None
        return values if all(finite(v) for v in values) else None

    def pairs(self, metric: str, epoch: int) -> list[tuple]:
        """Calibration pairs (:func:`analysis.fidelity.calibration_pairs`) of ``metric`` at ``epoch``, extended
        from the curves added since the last call."""
        curves = self.curves(metric)
        seen, pairs = self._pairs.get((metric, epoch), (0, []))
        if len(curves) < seen:
            seen, pairs = 0, []
        pairs.extend(calibration_pairs(curves[seen:], epoch, self.cfg.epochs))
        self._pairs[(metric, epoch)] = (len(curves), pairs)
        return pairs

    def curves(self, metric: str) -> list[dict]:
        """Per-epoch ``metric`` of every finished trial at the study's fidelity (references included), as
        {epoch: value}; kept up to date from the records appended since the last call, so a stopped trial costs
        no pass over the study."""
        seen, curves = self._curves.setdefault(metric, (0, []))
        records = self.study.records
        if len(records) < seen:         # records replaced wholesale: start again
            seen, curves = 0, []
        curves.extend({int(r["epoch"]): float(r[metric]) for r in rec.history if finite(r.get(metric))}
                      for rec in self.study.current(records[seen:]) if rec.status == "finished")
        self._curves[metric] = (len(records), curves)
        return curves

    # ---- repair on resume ---------------------------------------------------------------------------
    def repair(self, ot_study: optuna.Study) -> dict:
        """Finish what a kill interrupted (module docstring), before the Tune run starts: the searcher gets
        the trials to run again (and those waiting for a twin among them); returns counts of what was
        repaired."""
        from .search import Suggestion

        tell = self.tell
        fixed = {"optuna_told": 0, "interrupted": 0, "mlflow_closed": 0, "mlflow_interrupted": 0,
                 "mlflow_strays": 0}
        searched = {r.number: r for r in self.study.records if not r.is_reference}
        interrupted = []
        for t in ot_study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            rec = searched.get(t.number)
            if rec is not None and rec.status != "interrupted":
                tell(rec)
                fixed["optuna_told"] += 1
                continue
            arch = self.searcher.arch_of(t)
            if arch is None:          # killed while its parameters were being sampled: nothing to run again
                self.end(TrialRecord(trial_id=trial_key(t.number, None), number=t.number, arch={}, arch_hash="",
                                     status="not_run", reason="interrupted while its architecture was sampled"))
                continue
            if "arch" not in t.user_attrs:
                self.set_attrs(t.number, arch_hash=arch.hash, arch=arch.to_dict())
            interrupted.append(Suggestion(t.number, arch))
            fixed["interrupted"] += 1
        self.repair_runs(fixed)
        for record in self.searcher.requeue(interrupted):
            self.end(record)
        if any(fixed.values()):
            self.say("resume: repaired " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in fixed.items() if v))
        return fixed

    # ---- MLflow runs --------------------------------------------------------------------------------
    def start_run(self, key: str, arch: ArchConfig, number, reference: str | None, wait: bool = False,
                  fidelity: dict | None = None) -> None:
        """Open trial ``key``'s MLflow child run (on the background thread unless ``wait``)."""
        tags = {"arch_hash": arch.hash, "arch_name": arch.name, "is_reference": str(bool(reference)).lower()}
        if reference:
            tags["reference_name"] = reference
        if number is not None:
            tags["optuna_number"] = str(number)
        params = {**arch.to_flat_dict(), **{f"fidelity.{k}": v for k, v in (fidelity or self.fidelity).items()}}
        tracker = self.study.tracker
        args = (key, f"{key} {arch.name}", params, arch.to_yaml(), tags)
        if wait:
            tracker.start_trial(*args)
        else:
            self.study.background.submit(key, tracker.start_trial, *args)

    def fill_epochs(self, key: str, rows: list[dict]) -> None:
        """Log to the trial's run the epochs of ``rows`` it lacks (see :meth:`MlflowTracker.fill_epochs`)."""
        self.study.background.submit(key, self.study.tracker.fill_epochs, key, [dict(r) for r in rows])

    def log_epoch(self, key: str, epoch: int, row: dict) -> None:
        self.study.background.submit(key, self.study.tracker.log_epoch, key, epoch, dict(row))

    def end_run(self, record: TrialRecord) -> None:
        """Close the trial's MLflow run, if it has one (answered trials trained nothing and have none), and
        forget its checkpoint unless it was interrupted (``--resume`` continues from it)."""
        if record.status != "interrupted":
            entry = self.checkpoints.get(record.trial_id)
            if entry and record.status == "finished" and self.cfg.log_weights == "front":
                self.final_weights[record.trial_id] = entry["path"]    # for the front's LoggedModel, not deleted yet
            self.save_checkpoint(record.trial_id, None, delete=record.trial_id not in self.final_weights)
        tracker, background = self.study.tracker, self.study.background
        background.submit(record.trial_id, tracker.end_trial, record.trial_id, record.status, record.reason,
                          dict(record.metrics), tags=run_tags(record))
        if record.log:
            background.submit(record.trial_id, tracker.log_trial_file, record.trial_id, record.log)

    def repair_runs(self, fixed: dict) -> None:
        """The MLflow side of a resume (module docstring): strays deleted, runs of ended trials closed from their
        records, runs of interrupted trials ended KILLED and set aside for the re-run."""
        tracker, records = self.study.tracker, self.study.records
        kept = set(tracker.runs.values())
        for key, run_ids in tracker.trial_runs().items():
            for run_id in run_ids:
                if run_id not in kept:
                    tracker.delete_run(run_id)
                    fixed["mlflow_strays"] += 1
        by_key = {r.trial_id: r for r in records}
        for key, run_id in list(tracker.runs.items()):
            if key == "_study" or "~" in key or tracker.run_status(run_id) != "RUNNING":
                continue
            rec = by_key.get(key)
            if rec is not None:
                tracker.end_trial(key, rec.status, rec.reason, rec.metrics, tags=run_tags(rec))
                fixed["mlflow_closed"] += 1
            else:
                tracker.end_trial(key, "interrupted", "interrupted: the study process ended; run again on resume", {})
                fixed["mlflow_interrupted"] += 1
        for key in [k for k in tracker.runs if k != "_study" and "~" not in k]:
            rec = by_key.get(key)
            if (rec is None or rec.status == "interrupted") and key not in self.checkpoints:
                tracker.set_aside(key)     # trained again from epoch 0: a run of its own
        for rec in records:
            if rec.trial_id not in tracker.runs and status(rec.status).run_status is not None \
                    and rec.status != "interrupted" and by_key[rec.trial_id] is rec:
                self.start_run(rec.trial_id, ArchConfig.from_dict(rec.arch, check_fits=False),
                               rec.number if not rec.is_reference else None, rec.reference_name, wait=True,
                               fidelity=rec.fidelity or None)
                for row in rec.history:
                    tracker.log_epoch(rec.trial_id, int(row.get("epoch", 0)), row)
                tracker.end_trial(rec.trial_id, rec.status, rec.reason, rec.metrics, tags=run_tags(rec))
                fixed["mlflow_closed"] += 1

    # ---- printing -----------------------------------------------------------------------------------
    def print_trial(self, r: TrialRecord) -> None:
        acc, macs = r.metric("val_top1"), r.metric("macs")
        name = ArchConfig.from_dict(r.arch, check_fits=False).name if r.arch else "-"
        extra = "" if r.status in ("finished", "stopped") else f" ({r.reason.splitlines()[0] if r.reason else ''})"
        if r.log:
            extra += f"; traceback: {r.log}"
        told = f"  told {100 * r.told[0]:5.1f}%" if r.status == "stopped" and r.told else ""
        self.say(f"  {r.trial_id:<18} {r.status:<10} {name:<36} "
                 f"top-1 {'-' if acc is None else f'{100 * acc:5.1f}%'}  "
                 f"MACs {'-' if macs is None else f'{macs / 1e6:6.2f}M'}  epochs {r.metrics.get('epochs', 0)}"
                 f"{told}{extra}")

    def progress_line(self, elapsed: float) -> str:
        recs = self.study.records
        counts = {s: sum(r.status == s for r in recs) for s in STATUSES}
        front = pareto_records(self.study.current(recs), list(self.cfg.objectives))
        accs = [r.metric("val_top1") for r in recs if r.status == "finished" and r.metric("val_top1") is not None]
        best = f"{100 * max(accs):.1f}%" if accs else "-"
        failed = sum(counts[s.name] for s in VOCABULARY if s.run_status == "FAILED")   # trained, then failed
        answered = " ".join(f"{s} {counts[s]}" for s in ("duplicate", "rejected", "invalid") if counts[s])
        return (f"[{elapsed:6.0f}s] budget {self.study.counted()}/{self.cfg.trials}, {len(self.running)} running"
                f" | finished {counts['finished']} stopped {counts['stopped']} failed {failed}"
                f"{' | answered ' + answered if answered else ''}"
                f" | best top-1 {best} | front {len(front)} | hypervolume {self.study.report.hypervolume():.4g}")


def run_tags(record: TrialRecord) -> dict:
    """The MLflow tags that say where, how and when ``record`` trained, and at what fidelity."""
    tags = {f"attnas.{k}": str(v) for k, v in record.provenance.items()}
    tags.update({f"attnas.fidelity.{k}": str(v) for k, v in record.fidelity.items()})
    if record.log:
        tags["attnas.log"] = record.log
    return tags
