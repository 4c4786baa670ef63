"""Run a study on Ray Tune: ``run_study(study)`` wires the searcher, ASHA, the trainable and the driver-side
callback that records every trial (trials.jsonl, Optuna, MLflow) and prints progress.

ASHA and several objectives: Ray's schedulers take one metric, so ASHA prunes on the per-epoch validation
accuracy (the first objective) alone. The cost objectives (MACs, params, latency) are measured before
training starts and do not change during it, so there is nothing to prune on there: a hard ceiling is the
study's ``macs_budget``, applied before a trial starts. OptunaSearch passes no intermediate values to the
sampler when there are several objectives (and always disables Optuna's own pruners), so the sampler sees
only final results; a trial ASHA stopped is told to Optuna as PRUNED, because its low-fidelity accuracy is
not comparable with fully trained ones.
"""
from __future__ import annotations

import math
import os
import socket
import sys
import time

import ray
from ray import tune
from ray.tune.schedulers import AsyncHyperBandScheduler, FIFOScheduler, TrialScheduler
from ray.tune.search import ConcurrencyLimiter

from analysis import TrialRecord, pareto_records
from search_space import ArchConfig, AttnasError

from .search import StudySearcher
from .study import Study, quiet_ray_logs, trial_key
from .trainable import EPOCH_KEYS, PROFILE_KEYS, train_trial

TERMINAL = ("finished", "diverged", "failed", "duplicate")


class StudyCallback(tune.Callback):
    """Driver-side: turns Tune's trial events into the study's records, MLflow runs and a progress line."""

    def __init__(self, study: Study, out=sys.stdout, progress_every_s: float = 2.0):
        self.study, self.out, self.every = study, out, progress_every_s
        self.histories: dict[str, list] = {}
        self.running: set[str] = set()
        self.t0 = time.monotonic()
        self.elapsed_before = float(study.state.get("elapsed_s", 0.0))
        self._last_line = 0.0

    # ---- Tune hooks ------------------------------------------------------------------------------
    def on_trial_start(self, iteration, trials, trial, **info):
        c = trial.config
        key = trial_key(c["number"], c["reference"])
        self.histories[trial.trial_id] = []
        self.running.add(trial.trial_id)
        self.study.start_tracking(key, ArchConfig.from_dict(c["arch"], check_build=False), c["number"],
                                  c["reference"])

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if result.get("status") in ("running", "finished") and result.get("epoch", 0) >= 1:
            row = {"epoch": int(result["epoch"]), **{k: result.get(k) for k in EPOCH_KEYS}}
            self.histories.setdefault(trial.trial_id, []).append(row)
            key = trial_key(trial.config["number"], trial.config["reference"])
            self.study.log_epoch(key, row["epoch"], row)

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._finish(trial, trial.last_result or {}, error=None)

    def on_trial_error(self, iteration, trials, trial, **info):
        path = trial.error_file
        text = open(path, errors="replace").read() if path and os.path.exists(path) else str(trial.get_error() or "")
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        self._finish(trial, trial.last_result or {}, error=(lines[-1] if lines else "trial process failed")[:500])

    def on_step_end(self, iteration, trials, **info):
        now = time.monotonic()
        if now - self._last_line >= self.every:
            self._last_line = now
            self.print_progress()

    def on_experiment_end(self, trials, **info):
        self.study.save_state(elapsed_s=self.elapsed())

    # ---- records ---------------------------------------------------------------------------------
    def _finish(self, trial, last: dict, error: str | None) -> None:
        self.running.discard(trial.trial_id)
        c = trial.config
        key = trial_key(c["number"], c["reference"])
        history = self.histories.pop(trial.trial_id, [])
        status = last.get("status", "failed")
        reason = last.get("reason", "")
        if error is not None:
            status, reason = "failed", error
        elif status == "running":
            status = "pruned"
            reason = (f"stopped by ASHA after epoch {last.get('epoch')} (val_top1 below the rung cutoff)"
                      if self.study.cfg.scheduler == "asha" else
                      f"stopped after epoch {last.get('epoch')} (the study's time limit)")
        elif status not in TERMINAL:
            status, reason = "failed", reason or "trial ended without reporting a result"
        twin = c.get("duplicate_of")
        if status == "duplicate":
            metrics, history = dict(twin["metrics"]), list(twin["history"])
        else:
            metrics = {k: last[k] for k in ("val_top1", "val_top5", *PROFILE_KEYS) if _finite(last.get(k))}
            metrics.update(epochs=len(history), wall_time_s=float(last.get("wall_time_s", 0.0)))
            if history:
                metrics["best_val_top1"] = max(float(r["val_top1"]) for r in history if _finite(r.get("val_top1")))
        number = c["number"] if c["number"] is not None else -1 - list(self.study.cfg.warm_start).index(c["reference"])
        record = TrialRecord(trial_id=key, number=number, arch=c["arch"], arch_hash=c["arch_hash"], status=status,
                             reason=reason, metrics=metrics, history=history, is_reference=c["reference"] is not None,
                             reference_name=c["reference"])
        self.study.complete(trial.trial_id, record)
        self.print_trial(record)

    # ---- printing --------------------------------------------------------------------------------
    def elapsed(self) -> float:
        return self.elapsed_before + time.monotonic() - self.t0

    def print_trial(self, r: TrialRecord) -> None:
        acc = r.metric("val_top1")
        macs = r.metric("macs")
        name = ArchConfig.from_dict(r.arch, check_build=False).name
        extra = f" ({r.reason})" if r.status in ("failed", "diverged", "duplicate") else ""
        print(f"  {r.trial_id:<18} {r.status:<9} {name:<36} "
              f"top-1 {'-' if acc is None else f'{100 * acc:5.1f}%'}  "
              f"MACs {'-' if macs is None else f'{macs / 1e6:6.2f}M'}  epochs {r.metrics.get('epochs', 0)}{extra}",
              file=self.out, flush=True)

    def print_progress(self) -> None:
        recs = self.study.records
        counts = {s: sum(r.status == s for r in recs) for s in ("finished", "pruned", "diverged", "failed", "duplicate")}
        accs = [r.metric("val_top1") for r in recs if r.status == "finished" and r.metric("val_top1") is not None]
        front = len(pareto_records(recs, list(self.study.cfg.objectives)))
        best = f"{100 * max(accs):.1f}%" if accs else "-"
        rejected = self.study.searcher.rejected if self.study.searcher else 0
        print(f"[{self.elapsed():6.0f}s] trials {len(recs)}/{self.study.cfg.trials} done, {len(self.running)} running"
              f" | finished {counts['finished']} pruned {counts['pruned']} failed {counts['failed'] + counts['diverged']}"
              f" dup {counts['duplicate']}{f' rejected {rejected}' if rejected else ''}"
              f" | best top-1 {best} | front {front}", file=self.out, flush=True)


class ReferenceExemptASHA(AsyncHyperBandScheduler):
    """ASHA that never stops a warm-start reference preset: references are trained to full fidelity so they
    stand as reference points on the front, and their results do not enter the rungs."""

    def on_trial_result(self, tune_controller, trial, result):
        if trial.config.get("reference"):
            return TrialScheduler.CONTINUE
        return super().on_trial_result(tune_controller, trial, result)


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast on an explicit HOST:PORT that nothing answers (Ray itself retries for minutes)."""
    if address == "auto":
        return
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    if not host or not port.isdigit():
        raise AttnasError(f"--address: {address!r} is not allowed; allowed: 'auto', HOST:PORT or ray://HOST:PORT")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as e:
        raise AttnasError(f"--address: nothing answers at {host}:{port} ({e.strerror or e}); allowed: the address "
                          f"of a running Ray head node (`ray start --head` prints it), or 'auto' on that node") from None


def init_ray(address: str | None, num_cpus: int | None = None) -> bool:
    """Start (or join, with ``address``) Ray; returns True when this call started it."""
    quiet_ray_logs()
    if ray.is_initialized():
        return False
    import logging

    kwargs = dict(include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False,
                  configure_logging=True)
    if address:
        check_reachable(address)
        try:
            ray.init(address=address, **kwargs)
        except ConnectionError as e:
            raise AttnasError(f"--address: {address!r} has no running Ray cluster ({str(e).splitlines()[0]}); "
                              f"allowed: 'auto' after `ray start --head`, HOST:PORT of a head node, "
                              f"or ray://HOST:10001") from None
    else:
        ray.init(num_cpus=num_cpus or os.cpu_count(), **kwargs)
    return True


def run_study(study: Study, *, address: str | None = None, reuse_actors: bool = True, out=sys.stdout,
              progress_every_s: float = 2.0, trainable=train_trial) -> Study:
    """Run (or continue) ``study`` until its budget is spent; returns the study with its records.

    ``trainable(config, settings)`` is :func:`~studies.trainable.train_trial` unless a caller (the overhead
    benchmark, tests) swaps in another function with the same reporting contract."""
    cfg = study.cfg
    quiet_ray_logs()
    study.lock()
    started_ray = False
    try:
        from trainers import load_dataset

        data = load_dataset(cfg.data_config(), device="cpu")
        space = cfg.search_space(num_classes=data.num_classes, input_size=list(data.input_size))
        from .tracking import MlflowTracker

        study.tracker = MlflowTracker(study.tracking_uri, study.dir)
        study.tracker.start_study(study.dir.name, cfg.to_dict(), {
            "sampler": cfg.sampler, "space_hash": space.hash, "objectives": ",".join(cfg.metrics)})
        ot_study = study.open_optuna()
        fixed = study.reconcile(ot_study)
        if any(fixed.values()):
            print(f"resume: repaired {', '.join(f'{k} {v}' for k, v in fixed.items() if v)}", file=out)
        remaining = study.remaining()
        callback = StudyCallback(study, out=out, progress_every_s=progress_every_s)
        if remaining > 0:
            started_ray = init_ray(address)
            searcher = StudySearcher(cfg, space, study.optuna_storage, study.pending_references(),
                                     study.completed_by_hash(), data.num_classes, data.input_size)
            study.searcher = searcher
            scheduler = FIFOScheduler() if cfg.scheduler == "none" else ReferenceExemptASHA(
                time_attr="epoch", metric=cfg.metrics[0], mode="max", max_t=cfg.epochs,
                grace_period=cfg.grace_period, reduction_factor=cfg.reduction_factor)
            settings = {"data": cfg.data_config().to_dict(), "train": cfg.train_config().to_dict(),
                        "threads": max(1, int(cfg.cpus)), "latency": True}
            wrapped = tune.with_resources(tune.with_parameters(trainable, settings=settings),
                                            {"cpu": cfg.cpus, "gpu": cfg.gpu})
            time_left = None
            if cfg.time_limit_s is not None:
                time_left = max(1.0, cfg.time_limit_s - float(study.state.get("elapsed_s", 0.0)))
            run_index = int(study.state.get("tune_runs", 0)) + 1
            study.save_state(tune_runs=run_index)
            tuner = tune.Tuner(wrapped, tune_config=tune.TuneConfig(
                search_alg=ConcurrencyLimiter(searcher, max_concurrent=cfg.concurrency), scheduler=scheduler,
                num_samples=remaining, reuse_actors=reuse_actors, time_budget_s=time_left),
                run_config=tune.RunConfig(name=f"run-{run_index}", storage_path=str(study.dir / "ray"), verbose=0,
                                          callbacks=[callback], log_to_file=False))
            print(f"study {study.dir.name}: {remaining} trial(s) to run, {cfg.concurrency} at a time, "
                  f"sampler {cfg.sampler}, scheduler {cfg.scheduler}", file=out, flush=True)
            tuner.fit()
            searcher.close("not run: the study's budget ended while it waited for its twin")
        callback.print_progress()
        study.publish(force=True)          # also waits for every queued MLflow call
        study.tracker.end_study("FINISHED")
        return study
    finally:
        study.unlock()
        if started_ray:
            ray.shutdown()
