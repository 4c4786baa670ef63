"""Run a study on Ray Tune: ``run_study(study)`` wires the searcher (Optuna ask/tell), the scheduler (Pareto-rank
or accuracy-only successive halving), the trainable and the trial lifecycle (records, Optuna, MLflow,
progress), and prints what the study is about to do.
"""
from __future__ import annotations

import os
import socket
import sys

import ray
from ray import tune
from ray.tune.schedulers import FIFOScheduler
from ray.tune.search import ConcurrencyLimiter

from search_space import AttnasError

from .lifecycle import Lifecycle, TuneEvents
from .scheduler import SuccessiveHalving, milestones
from .search import StudySearcher
from .study import Study, quiet_ray_logs
from .trainable import train_trial


def nsga2_generations_note(cfg) -> str | None:
    """A line when NSGA-II cannot complete two generations within the budget (it counts only COMPLETE trials
    towards a generation; every trained trial the study tells is COMPLETE, failures are not)."""
    if cfg.sampler != "nsga2" or cfg.space is None:
        return None
    pop = int(cfg.sampler_options.get("population_size", 50))
    searched = cfg.trials - len(cfg.reference_names)
    if searched >= 2 * pop:
        return None
    suggest = max(2, searched // 3)
    return (f"note: sampler.population_size {pop} with {searched} searched trials (budget.trials {cfg.trials} "
            f"minus {len(cfg.reference_names)} warm-start references) completes {searched / pop:.1f} NSGA-II "
            f"generation(s): below 2, NSGA-II never breeds from what it learnt; population_size {suggest} "
            f"gives 3 generations")


def make_scheduler(cfg):
    if cfg.scheduler == "none":
        return FIFOScheduler()
    return SuccessiveHalving(cfg.scheduler, cfg.objectives, max_t=cfg.epochs, grace_period=cfg.grace_period,
                             eta=cfg.reduction_factor)


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
        # warm-start references and arms must build at the data's size: one line now, not failed trials
        arms = [cfg.reference_arm(n).config(num_classes=data.num_classes, input_size=list(data.input_size))
                for n in cfg.reference_names]
        print(study.fix_reference(space, arms), file=out, flush=True)
        cfg = study.cfg
        note = nsga2_generations_note(cfg)
        if note:
            print(note, file=out, flush=True)
        from .tracking import MlflowTracker

        study.tracker = MlflowTracker(study.tracking_uri, study.dir)
        study.tracker.start_study(study.dir.name, cfg.to_dict(), {
            "sampler": cfg.sampler, "space_hash": space.hash if space is not None else "arms", "objectives": ",".join(cfg.metrics)})
        ot_study = study.open_optuna()
        lifecycle = Lifecycle(study, out=out)
        searcher = StudySearcher(cfg, space, study.optuna_storage, lifecycle, study.pending_references(),
                                 study.completed_by_hash(), study.suggested_hashes(), data.num_classes,
                                 data.input_size)
        lifecycle.searcher = study.searcher = searcher
        lifecycle.repair(ot_study)
        scheduler = make_scheduler(cfg)
        if isinstance(scheduler, SuccessiveHalving):
            lifecycle.scheduler = scheduler
            scheduler.rebuild(study.records)
        remaining = study.remaining()
        events = TuneEvents(lifecycle, progress_every_s=progress_every_s)
        if remaining > 0:
            started_ray = init_ray(address)
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
                                          callbacks=[events], log_to_file=False))
            rungs = "" if cfg.scheduler == "none" else \
                f" (rungs at epochs {milestones(cfg.grace_period, cfg.reduction_factor, cfg.epochs)}, eta {cfg.reduction_factor:g})"
            print(f"study {study.dir.name}: {remaining} trial(s) to train, {cfg.concurrency} at a time, "
                  f"sampler {cfg.sampler if space is not None else 'none (arms only)'}, scheduler {cfg.scheduler}{rungs}", file=out, flush=True)
            tuner.fit()
        for record in searcher.close("not run: the study's budget ended first"):
            lifecycle.answered(record)
        events.print_progress()
        study.publish(force=True)          # also waits for every queued MLflow call
        study.tracker.end_study("FINISHED")
        return study
    finally:
        study.unlock()
        if started_ray:
            ray.shutdown()
