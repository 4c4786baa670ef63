"""The trial status vocabulary: every way a trial of a study can end, declared once.

Each :class:`Status` says what Optuna is told (``optuna_state``), what its MLflow child run ends as
(``run_status``; None: the trial gets no run of its own because nothing was trained), whether it spends the
study's ``budget.trials`` (``counts``) and whether it may be on the Pareto front (``front``). ``trials.jsonl``,
Optuna's user attribute ``status`` and MLflow's ``status`` tag all use these names; ``studies.lifecycle`` is
the one place that acts on them.

Statuses that never trained (``duplicate``, ``rejected``, ``invalid``, ``not_run``) cost no budget;
``interrupted`` is a trial the study process lost while it ran (kill, Ctrl-C, SIGTERM, the time limit): it costs no budget
either, because a resumed study runs it again under the same Optuna trial.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Status:
    name: str
    optuna_state: str | None
    """``COMPLETE`` or ``FAIL``; ``twin``: as the trial it duplicates was told; None: left RUNNING (re-run)."""
    run_status: str | None
    """The MLflow run status (``FINISHED``, ``FAILED``, ``KILLED``); None: no MLflow run."""
    counts: bool
    front: bool
    meaning: str


VOCABULARY = (
    Status("finished", "COMPLETE", "FINISHED", True, True, "trained for every epoch of the study's fidelity"),
    Status("stopped", "COMPLETE", "FINISHED", True, False,
           "stopped early by the scheduler (at a rung); told with its accuracy mapped to the "
           "full-fidelity scale (analysis.fidelity)"),
    Status("duplicate", "twin", None, False, False,
           "the architecture was already evaluated in this study: answered from that trial's record, not trained"),
    Status("rejected", "COMPLETE", None, False, False,
           "over the study's macs_budget before training; told with accuracy 0 and a violated constraint"),
    Status("invalid", "FAIL", None, False, False, "the space produced a configuration that does not build"),
    Status("diverged", "FAIL", "FAILED", True, False, "the training loss became NaN or infinite"),
    Status("oom", "FAIL", "FAILED", True, False, "out of memory while training"),
    Status("failed", "FAIL", "FAILED", True, False, "an exception while building, profiling or training"),
    Status("interrupted", None, "KILLED", False, False,
           "Ctrl-C, SIGTERM, the time limit or a kill ended the study while the trial ran; a resumed study "
           "continues it from its checkpoint (from epoch 0 without one)"),
    Status("not_run", "FAIL", None, False, False, "suggested, but the study ended before it could run"),
)
STATUS = {s.name: s for s in VOCABULARY}
STATUSES = tuple(STATUS)
ALIASES = {"pruned": "stopped", "not run": "not_run"}
"""Names written by earlier versions of attnas, read as today's."""


def status(name: str) -> Status:
    """The :class:`Status` called ``name`` (KeyError for an unknown name: a programming error)."""
    return STATUS[ALIASES.get(name, name)]
