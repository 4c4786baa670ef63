"""What of Ray's, Tune's and Optuna's output a study drops, and why: progress tables (the study prints its own)
and a few messages known to be harmless, each matched by its text with a comment saying why. No library logger
is muted wholesale; every other record and warning reaches the console whole."""
from __future__ import annotations

import logging
import os
import warnings

import optuna


HARMLESS_TUNE_MESSAGES = (
    "Trial task failed for trial",       # the study writes the trial's traceback to <study>/logs/<trial>.log
    "Trials did not complete",           # after a stop: the study records the in-flight trials as interrupted
    "Experiment has been interrupted",   # Tune's resume hint: a study resumes with attnas search --resume
    "Tune detects GPUs, but no trials are using GPUs",   # resources.gpu: 0 is the study's choice
    "Failed to fetch metrics for",       # Tune's ResultGrid after a stop: the study does not use it
)
HARMLESS_SOURCES = ("ray.tune.tune", "ray.tune.execution.tune_controller", "ray.tune.analysis.experiment_analysis")
"""The Tune modules whose loggers write the messages above."""
HARMLESS_WORKER_MESSAGES = (
    # every epoch of every trial, in the worker, forwarded to the console: the study records what a trial
    # resumes from itself (checkpoints.json, the records' epochs)
    "Checkpoint successfully created at",
)
HARMLESS_WORKER_SOURCES = ("ray.train._internal.storage", "ray.train.v2._internal.execution.storage")
"""Ray Train's checkpoint-persisting modules (Tune's function trainables report through them)."""
HARMLESS_WARNINGS = (
    # the study sets TPE's group option itself (sampler_options), knowing it is experimental
    r"Argument ``group`` is an experimental feature",
    # sampler: qmc is a documented choice of the study file
    r"QMCSampler is experimental",
    # the study names its objectives (Study.set_metric_names) for optuna-dashboard
    r"optuna\.study\.study\.Study\.set_metric_names is experimental",
)


class Harmless(logging.Filter):
    """Drops Ray Tune log records known to be harmless for a study, by their text
    (:data:`HARMLESS_TUNE_MESSAGES`, each with why); every other record passes whole, traceback included."""

    messages = HARMLESS_TUNE_MESSAGES

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        return not any(m in text for m in self.messages)


class HarmlessInWorker(Harmless):
    """The same, in a trial's worker process, for :data:`HARMLESS_WORKER_MESSAGES`."""

    messages = HARMLESS_WORKER_MESSAGES


def _add_filter(names, kind) -> None:
    for name in names:     # a logger's filters see the records made at it, so each module's own
        log = logging.getLogger(name)
        if not any(isinstance(f, kind) for f in log.filters):
            log.addFilter(kind())


def quiet_worker_logs() -> None:
    """In a trial's worker: drop Ray Train's per-epoch checkpoint line by its text (:class:`HarmlessInWorker`);
    everything else the worker logs or prints reaches the driver's console."""
    _add_filter(HARMLESS_WORKER_SOURCES, HarmlessInWorker)


def quiet_ray_logs() -> None:
    """Ray's and Tune's progress tables off (the study prints its own progress). No library logger is muted:
    Ray's and Tune's warnings and errors reach the console whole; the few known to be harmless are dropped by
    their text (:class:`Harmless`, :data:`HARMLESS_WARNINGS`), each with why."""
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    os.environ.setdefault("TUNE_WARN_SLOW_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "1000")
    _add_filter(HARMLESS_SOURCES, Harmless)
    optuna.logging.set_verbosity(optuna.logging.WARNING)    # Optuna's per-trial INFO lines; warnings stay
    for message in HARMLESS_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=optuna.exceptions.ExperimentalWarning)
