"""The trial status vocabulary: every way a trial of a study can end, declared once.

Each :class:`Status` says what Optuna is told (``optuna_state``), what its MLflow child run ends as
(``run_status``; None: the trial gets no run of its own because nothing was trained), whether it spends the
study's ``budget.trials`` (``counts``), whether it may be on the Pareto front (``front``) and whether it answers
a later suggestion of the same architecture at the same fidelity (``answers``: an outcome that belongs to the
architecture, not to the machine; ``oom`` and ``lost`` are transient and do not). The rules written on top of
the vocabulary live here too: the trial key (:func:`trial_key`), the finite check (:func:`finite`), the dedup
predicate (:func:`answers`, on :func:`at_fidelity`) and the indexes built on it (:func:`answering`, :func:`suggested`). ``trials.jsonl``,
Optuna's user attribute ``status`` and MLflow's ``status`` tag all use these names; ``studies.lifecycle`` is
the one place that acts on them.

Statuses that never trained (``duplicate``, ``rejected``, ``invalid``, ``not_run``) cost no budget;
``interrupted`` is a trial the study process lost while it ran (kill, Ctrl-C, SIGTERM, the time limit): it costs no budget
either, because a resumed study runs it again under the same Optuna trial.
"""
from __future__ import annotations

import math
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
    answers: bool
    meaning: str


VOCABULARY = (
    Status("finished", "COMPLETE", "FINISHED", True, True, True, "trained for every epoch of the study's fidelity"),
    Status("stopped", "COMPLETE", "FINISHED", True, False, True,
           "stopped early by the scheduler (at a rung); told with its accuracy mapped to the "
           "full-fidelity scale (analysis.fidelity)"),
    Status("duplicate", "twin", None, False, False, False,
           "the architecture was already evaluated in this study at this fidelity: answered from that trial's "
           "record, not trained"),
    Status("rejected", "COMPLETE", None, False, False, False,
           "over the study's macs_budget before training; told with accuracy 0 and a violated constraint"),
    Status("invalid", "FAIL", None, False, False, False, "the space produced a configuration that does not build"),
    Status("diverged", "FAIL", "FAILED", True, False, True, "the training loss became NaN or infinite"),
    Status("oom", "FAIL", "FAILED", True, False, False,
           "out of memory while training (transient: what shared the device matters as much as the architecture)"),
    Status("failed", "FAIL", "FAILED", True, False, True,
           "an exception while building, profiling or training (deterministic: the architecture's own)"),
    Status("lost", "FAIL", "FAILED", True, False, False,
           "transient: its worker or node was lost, or the device failed (CUDA initialisation or driver error), "
           "on every one of Tune's tries (1 + failures.max_retries); a later suggestion trains it again"),
    Status("interrupted", None, "KILLED", False, False, False,
           "Ctrl-C, SIGTERM, the time limit or a kill ended the study while the trial ran; a resumed study "
           "continues it from its checkpoint (from epoch 0 without one)"),
    Status("not_run", "FAIL", None, False, False, False, "suggested, but the study ended before it could run"),
)
STATUS = {s.name: s for s in VOCABULARY}
STATUSES = tuple(STATUS)
ALIASES = {"pruned": "stopped", "not run": "not_run"}
"""Names written by earlier versions of attnas, read as today's."""


def status(name: str) -> Status:
    """The :class:`Status` called ``name`` (KeyError for an unknown name: a programming error)."""
    return STATUS[ALIASES.get(name, name)]


def trial_key(number: int | None, reference: str | None = None) -> str:
    """A trial's id in trials.jsonl, MLflow and Tune: ``t0007`` for Optuna trial 7, ``ref-<name>`` for a
    warm-start reference or an arm."""
    return f"ref-{reference}" if reference else f"t{number:04d}"


def finite(value) -> bool:
    """A real number (not bool) that is neither NaN nor infinite: what a record, a rung or Optuna may use."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def at_fidelity(record, fidelity: dict | None) -> bool:
    """Whether ``record`` was trained at ``fidelity`` (a record written before attnas recorded fidelities has
    none and is taken as the study's): what the front, hypervolume, exports, rungs and ``budget.trials`` count."""
    return not record.fidelity or not fidelity or record.fidelity == fidelity


def answers(record, fidelity: dict | None) -> bool:
    """Whether ``record`` answers a later suggestion of its architecture at ``fidelity`` (the dedup predicate):
    its status answers (see :class:`Status`), and it was trained at that fidelity (:func:`at_fidelity`)."""
    return status(record.status).answers and at_fidelity(record, fidelity)


def answering(records, fidelity: dict | None) -> dict:
    """Arch hash -> the first of ``records`` that answers a later suggestion of it at ``fidelity`` (:func:`answers`;
    references included): the index duplicates are answered from."""
    out: dict = {}
    for r in records:
        if answers(r, fidelity):
            out.setdefault(r.arch_hash, r)
    return out


def suggested(records, fidelity: dict | None) -> set:
    """Hashes of the architectures the sampler has suggested (references left out), but for those whose only
    trained outcomes were transient (``oom``, ``lost``) or at another fidelity: still to be evaluated."""
    answered = answering(records, fidelity)
    return {r.arch_hash for r in records if not r.is_reference and r.arch_hash
            and (r.arch_hash in answered or not r.counts)}
