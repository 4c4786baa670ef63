"""Run a study on Ray Tune: ``run_study(study)`` wires the searcher (Optuna ask/tell), the scheduler (Pareto-rank
or accuracy-only successive halving), the trainable and the trial lifecycle (records, Optuna, MLflow,
progress), and prints what the study is about to do.
"""
from __future__ import annotations

import sys

import ray
from ray import tune
from ray.tune.schedulers import FIFOScheduler
from ray.tune.search import ConcurrencyLimiter


from .cluster import alive_nodes, check_address, init_ray, probe_nodes  # noqa: F401  (re-exported)
from .events import TuneEvents
from .lifecycle import Lifecycle
from .scheduler import SuccessiveHalving, milestones
from .search import StudySearcher
from .signals import StudyInterrupted, StudyStopper
from .logs import quiet_ray_logs
from .study import Study
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


def make_scheduler(cfg, decided=None):
    """The study's Tune scheduler; ``decided`` is handed each rung decision (:class:`SuccessiveHalving`)."""
    if cfg.scheduler == "none":
        return FIFOScheduler()
    return SuccessiveHalving(cfg.scheduler, cfg.objectives, max_t=cfg.epochs, grace_period=cfg.grace_period,
                             eta=cfg.reduction_factor, decided=decided)


def run_study(study: Study, *, address: str | None = None, reuse_actors: bool = True, out=sys.stdout,
              progress_every_s: float = 2.0, trainable=train_trial, stopper: StudyStopper | None = None) -> Study:
    """Run (or continue) ``study`` until its budget is spent; returns the study with its records.

    Ctrl-C or SIGTERM end it early: every trial in flight is recorded ``interrupted`` (its checkpoint kept for
    ``--resume``), the parent MLflow run ends KILLED and :class:`~studies.signals.StudyInterrupted` is raised
    (exit 130 / 143). The time limit ends it the same way but counts as a spent budget (parent FINISHED). The
    MLflow queue is flushed on every way out, and calls that failed on it are reported and recorded on their
    trial (Optuna user attribute ``mlflow_errors``, ``mlflow_errors.json``).

    ``trainable(config, settings)`` is :func:`~studies.trainable.train_trial` unless a caller (the overhead
    benchmark, tests) swaps in another function with the same reporting contract. ``stopper`` (the CLI's, which
    it installs at its first line) handles the signals; one is made and installed here when none is given."""
    stopper = stopper if stopper is not None else StudyStopper(out=out)
    with stopper.installed():
        return _run_study(study, address, reuse_actors, out, progress_every_s, trainable, stopper)


def _run_study(study, address, reuse_actors, out, progress_every_s, trainable, stopper) -> Study:
    cfg = study.cfg
    quiet_ray_logs()
    study.lock()
    started_ray = False
    lifecycle = None
    parent = "KILLED"
    try:
        from trainers import describe_dataset

        num_classes, input_size = describe_dataset(cfg.data_config())   # shape only: the data is not loaded
        space = cfg.search_space(num_classes=num_classes, input_size=list(input_size))
        # warm-start references and arms must build at the data's size: one line now, not failed trials
        arms = [cfg.reference_arm(n).config(num_classes=num_classes, input_size=list(input_size))
                for n in cfg.reference_names]
        print(study.fix_reference(space, arms), file=out, flush=True)
        cfg = study.cfg
        note = study.fidelity_note()
        if note:
            print(note, file=out, flush=True)
        note = nsga2_generations_note(cfg)
        if note:
            print(note, file=out, flush=True)
        from .tracking import MlflowTracker

        study.tracker = MlflowTracker(study.tracking_uri, study.dir)
        study.background.batch_with(study.tracker)      # one log_batch per run for the calls queued together
        study.tracker.start_study(study.dir.name, cfg.to_dict(), {
            "sampler": cfg.sampler, "space_hash": space.hash if space is not None else "arms", "objectives": ",".join(cfg.metrics)})
        ot_study = study.open_optuna()
        lifecycle = Lifecycle(study, out=out)
        searcher = StudySearcher(cfg, space, study.optuna_storage, lifecycle, study.pending_references(),
                                 study.records, num_classes, input_size)
        lifecycle.attach(searcher)
        lifecycle.repair(ot_study)
        scheduler = make_scheduler(cfg, decided=lifecycle.decided)
        if isinstance(scheduler, SuccessiveHalving):
            scheduler.rebuild(study.current())
        remaining = study.remaining()
        events = TuneEvents(lifecycle, progress_every_s=progress_every_s)
        time_left = None
        if cfg.time_limit_s is not None:
            time_left = cfg.time_limit_s - float(study.state.get("elapsed_s", 0.0))
        stopper.start_clock(time_left)
        limit_spent = remaining > 0 and time_left is not None and time_left <= 0
        if limit_spent:
            interrupted = sum(r.status == "interrupted" for r in study.records)
            print(f"study {study.dir.name}: budget.time_limit_s ({cfg.time_limit_s:g} s) is spent; "
                  f"`attnas search --resume {study.dir} --time-limit SECONDS` (a larger limit, or none) trains the "
                  f"{remaining} trial(s) left; {interrupted} interrupted trial(s) keep their checkpoints",
                  file=out, flush=True)
        elif remaining > 0:
            started_ray = init_ray(address)
            stopper.reinstall()               # ray.init installs a SIGTERM handler of its own
            storage = study.storage_path()
            if alive_nodes() > 1:
                n = probe_nodes(cfg.data_config().to_dict(), storage)
                print(f"cluster: {n} node(s) can run trials; each has the data, the driver's attnas code and "
                      f"sees {storage}", file=out, flush=True)
            gpus = ray.cluster_resources().get("GPU", 0)
            if cfg.gpu > gpus:
                print(f"note: resources.gpu {cfg.gpu:g} per trial but the Ray cluster has {gpus:g} GPU(s) now: "
                      f"trials wait until a node with a GPU joins (Tune warns after 60 s)", file=out, flush=True)
            settings = {"data": cfg.data_config().to_dict(), "train": cfg.train_config().to_dict(),
                        "threads": max(1, int(cfg.cpus)), "gpu": cfg.gpu,
                        "latency": "latency_ms" in cfg.metrics, "keep_final": cfg.log_weights == "front",
                        "checkpoint_every_s": cfg.checkpoint_every_s}
            wrapped = tune.with_resources(tune.with_parameters(trainable, settings=settings),
                                          {"cpu": cfg.cpus, "gpu": cfg.gpu})
            run_index = int(study.state.get("tune_runs", 0)) + 1
            study.save_state(tune_runs=run_index)
            tuner = tune.Tuner(wrapped, tune_config=tune.TuneConfig(
                search_alg=ConcurrencyLimiter(searcher, max_concurrent=cfg.concurrency), scheduler=scheduler,
                num_samples=remaining, reuse_actors=reuse_actors),
                run_config=tune.RunConfig(
                    name=f"run-{run_index}", storage_path=str(storage), verbose=0, callbacks=[events],
                    log_to_file=False, stop=stopper, failure_config=tune.FailureConfig(max_failures=cfg.max_retries)))
            rungs = "" if cfg.scheduler == "none" else \
                f" (rungs at epochs {milestones(cfg.grace_period, cfg.reduction_factor, cfg.epochs)}, eta {cfg.reduction_factor:g})"
            print(f"study {study.dir.name}: {remaining} trial(s) to train, {cfg.concurrency} at a time, "
                  f"sampler {cfg.sampler if space is not None else 'none (arms only)'}, scheduler {cfg.scheduler}{rungs}",
                  file=out, flush=True)
            with stopper.catching():
                tuner.fit()
        reason = stopper.fired if stopper.signum is None else stopper.reason
        if limit_spent:
            pass        # nothing ran: interrupted trials stay interrupted (Optuna RUNNING, checkpoints kept)
        elif reason is not None:
            what = "the study's time limit (budget.time_limit_s)" if reason == "time_limit" else reason
            lifecycle.interrupt_running(what)
        else:
            lifecycle.interrupt_running("the end of the Tune run")   # none expected: Tune ended every trial
            # what still waits (a twin's answer, a re-run) is closed only when the budget ended the study; after
            # a stop it stays RUNNING in Optuna, for --resume
            for record in searcher.close("not run: the study's budget ended first"):
                lifecycle.answered(record)
        events.print_progress()
        if space is not None:
            lifecycle.say(searcher.repeat_line(study.records))
        lifecycle.publish(force=True)      # also waits for every queued MLflow call
        if stopper.signum is not None:
            raise StudyInterrupted(stopper.signum)
        parent = "FINISHED"
        return study
    except BaseException as e:
        with stopper.deferred():
            if lifecycle is not None and lifecycle.running:
                signal_name = stopper.reason if stopper.signum is not None else None
                lifecycle.interrupt_running(signal_name or f"an error in the study process ({type(e).__name__})")
        if isinstance(e, KeyboardInterrupt) and stopper.signum is not None:
            raise StudyInterrupted(stopper.signum) from None    # the second signal: stopped at once
        raise
    finally:
        with stopper.deferred():          # a signal now waits until every run is closed
            try:
                _close(study, lifecycle, "KILLED" if stopper.signum is not None else parent, out)
            finally:
                study.unlock()
                if started_ray:
                    ray.shutdown()
        if stopper.signum is not None and parent == "FINISHED":
            raise StudyInterrupted(stopper.signum)         # noted while the runs were being closed


def _close(study: Study, lifecycle, parent: str, out, timeout_s: float = 60.0) -> None:
    """Flush the MLflow queue, end the parent run as ``parent``, and report (and record on their trials, through
    ``lifecycle`` once it has the searcher) the MLflow calls that failed on the background thread."""
    if study.tracker is None:
        return
    if not study.background.flush(timeout_s):
        print(f"attnas: MLflow calls still queued after {timeout_s:g} s; the runs they belong to may be "
              f"incomplete", file=out, flush=True)
    try:
        study.tracker.end_study(parent)
    except Exception as e:  # noqa: BLE001  - reported with the others
        study.background.errors.append(("study", f"end_study: {type(e).__name__}: {e}"))
    failures = study.background.failures_by_label()
    if not failures:
        return
    import json

    (study.dir / "mlflow_errors.json").write_text(json.dumps(failures, indent=1))
    numbers = {r.trial_id: r.number for r in study.records if not r.is_reference}
    for label, messages in failures.items():
        if label in numbers and lifecycle is not None and lifecycle.searcher is not None:
            try:
                lifecycle.set_attrs(numbers[label], mlflow_errors="; ".join(messages)[:1000])
            except Exception:  # noqa: BLE001  - the file above still holds them
                pass
    total = sum(len(m) for m in failures.values())
    print(f"attnas: {total} MLflow call(s) failed on the background thread, for "
          f"{', '.join(sorted(failures))}; listed in {study.dir / 'mlflow_errors.json'}", file=out, flush=True)
