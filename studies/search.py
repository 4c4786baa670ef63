"""The search side of a study: ``StudySearcher``, a Ray Tune ``Searcher`` that drives an ``optuna.Study``
through its own ask/tell (public API only: ``Study.ask``/``Study.tell`` by trial number, storage user
attributes by the storage's public lookups).

What it hands Tune, in order: the warm-start references and an ablation's arms (reference trials, never told to the sampler), trials a
killed study left unfinished (re-run under their own Optuna trial), then new suggestions. A reference or arm
equal by hash to one already evaluated (or training) is answered from it like a suggestion, unless the arm is
a seed replicate (``replicate: N``: trained again with training seed ``seed + N``). A suggestion is
screened before it becomes a Tune trial, and whatever needs no training is answered on the spot, without
taking a slot or any of ``budget.trials``:

* an architecture (``ArchConfig.hash``) already evaluated in the study at its current fidelity, with an outcome
  that belongs to the architecture (:func:`analysis.status.answers`: not ``oom`` or ``lost``), is a
  ``duplicate``: recorded from its twin's record and told to the sampler with the same values the twin was told;
* one whose twin is still training waits (its Optuna trial stays RUNNING; TPE's constant liar sees it as
  running) and is answered when the twin ends; the other slots keep getting new suggestions;
* one over ``macs_budget`` is ``rejected`` (told accuracy 0 with a violated ``macs_budget`` constraint, which
  NSGA-II and TPE treat as infeasible); one that does not build is ``invalid`` (told FAIL).

The sampler asks again until it yields something new to train, within the same call (a repeat costs an ask and
a record, never a Tune round trip or a slot). After ``REPEATS_BEFORE_FALLBACK`` suggestions in a row with
nothing new, random points are asked instead while the sampler repeats itself (a note says so once per study),
and on a space small enough to enumerate (``GRID_MAX_POINTS``) a random one of the points not suggested yet, so
the search does not end while a buildable point is unseen. It ends, with a line saying the space is exhausted,
once every architecture of a finite space has been suggested, or (on a space too large to enumerate) after
``MAX_IDLE_ASKS`` suggestions in a row with nothing new. The closing lines give the share of repeats.

TPE and NSGA-II ask through a window of the study's latest trials (:mod:`studies.sampling`), so their cost per ask
stays bounded as the study grows.

Seeding: each ask uses a sampler seeded from the study seed and the number of the trial being asked
(:func:`derive_seed`), so the stream is a function of the study's history: a resumed study asks what an
uninterrupted one would have, instead of replaying its first suggestions. QMC is the exception: its
scrambled sequence needs one seed, and it keeps its position in the study's storage itself.

Encoding per sampler (``space.suggest(trial, flat=...)``): ``nsga2`` and ``qmc`` ask every dimension on every
trial (a static vector: NSGA-II evolves only the intersection of completed trials' parameters and QMC fixes
its space from the first trial); ``tpe`` (multivariate, grouped; constant liar when trials run in parallel)
and ``random`` ask a dimension only where it applies; ``grid`` (:mod:`studies.grid`) asks define-by-run and hands
out every distinct architecture once, in the space's walk order. A study of ``arms`` only has no space: the
searcher hands out the arms and ends.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import optuna
from optuna.trial import TrialState
from ray.tune.search import Searcher

from analysis import TrialRecord
from analysis.status import answering, answers, suggested, trial_key
from search_space import ArchConfig
from search_space.errors import AttnasError
from search_space.flat import flat_params

from .config import StudyConfig, sampler_class
from .grid import GRID_MAX_POINTS
from .sampling import WINDOW_ATTRS, ModelWindow, SharedSpaceNSGAII, windowed

FLAT_SAMPLERS = ("nsga2", "qmc")
MAX_IDLE_ASKS = 200
"""Suggestions in a row with nothing new to train (duplicates, rejections) before the space counts as exhausted."""
REPEATS_BEFORE_FALLBACK = 3
"""Suggestions in a row with nothing new, for one free slot, before random points are asked instead of the
sampler's. It bounds what a free slot costs the driver once the sampler has converged (each repeat is an ask
and a record): at 20, NSGA-II's repeats took 54 % of a 1,000-trial study's suggestions, 5 per trained trial
at its end, and cut the driver's throughput 6-fold (``benchmarks/bench_driver.py``)."""


def derive_seed(seed: int, number: int) -> int:
    """The sampler seed for Optuna trial ``number`` of a study seeded ``seed``."""
    return int(np.random.SeedSequence([seed, number]).generate_state(1)[0])


def sampler_options(cfg: StudyConfig) -> dict:
    """The sampler's keyword options: the study's, plus the study's defaults (TPE multivariate and grouped,
    with the constant liar when trials run in parallel, so that free slots do not all get the same point)."""
    options = dict(cfg.sampler_options)
    if cfg.sampler == "tpe":
        options.setdefault("multivariate", True)
        options.setdefault("group", True)
        options.setdefault("constant_liar", cfg.concurrency > 1)
    if cfg.sampler == "qmc":
        options.setdefault("warn_independent_sampling", False)
    return options


def make_sampler(cfg: StudyConfig, number: int = 0, grid: list | None = None,
                 shared_space=None) -> optuna.samplers.BaseSampler:
    """The configured Optuna sampler for asking trial ``number`` (see the module docstring on seeding);
    ``grid`` is the point list of :func:`studies.grid.grid_points` for ``sampler: grid``; ``shared_space``, an
    ``optuna.search_space.IntersectionSearchSpace`` the caller keeps across asks, is NSGA-II's search space
    (:class:`studies.sampling.SharedSpaceNSGAII`)."""
    if cfg.sampler == "grid":
        return sampler_class("grid")(grid or [])
    seed = cfg.seed if cfg.sampler == "qmc" else derive_seed(cfg.seed, number)
    if cfg.sampler == "nsga2" and shared_space is not None:
        return SharedSpaceNSGAII(search_space=shared_space, seed=seed, **sampler_options(cfg))
    return sampler_class(cfg.sampler)(seed=seed, **sampler_options(cfg))


def estimate_cost(arch: ArchConfig) -> tuple[float, float]:
    """(MACs for one input, parameter count) of ``arch``, from the config alone
    (:func:`search_space.cost.estimate_cost`, analytic and equal to ``trainers.count_macs`` / ``count_params`` of
    the built model: thousands of candidates a second, nothing built)."""
    from search_space.cost import estimate_cost as analytic_cost

    cost = analytic_cost(arch)
    return float(cost.macs), float(cost.params)


def estimate_macs(arch: ArchConfig) -> float:
    """MACs of ``arch`` for one input (see :func:`estimate_cost`)."""
    return estimate_cost(arch)[0]


@dataclass
class Suggestion:
    """An Optuna trial the searcher holds: its number and architecture (None: it did not build)."""

    number: int | None
    arch: ArchConfig | None
    error: str = ""
    reference: str | None = None
    """The warm-start reference or arm this is (number None), else None."""

    @property
    def key(self) -> str:
        return trial_key(self.number, self.reference)


class StudySearcher(Searcher):
    """Ray Tune Searcher over one ``optuna.Study`` (see the module docstring).

    ``lifecycle`` (:class:`studies.lifecycle.Lifecycle`) records what the searcher answers itself, tells
    Optuna how every trial ended (then :meth:`told` and :meth:`trial_ended`); ``records`` (the study's, read once) seed the searcher's own index of
    what answers a duplicate (:func:`analysis.status.answering`) and of what the sampler has suggested.
    """

    def __init__(self, cfg: StudyConfig, space, storage, lifecycle, references: list[str], records,
                 num_classes: int, input_size: tuple):
        super().__init__(metric=cfg.metrics, mode=cfg.modes)
        self.cfg, self.space, self.storage, self.lifecycle = cfg, space, storage, lifecycle
        self.flat = cfg.sampler in FLAT_SAMPLERS
        self.study = optuna.load_study(study_name=cfg.name, storage=storage)
        self.study_id = storage.get_study_id_from_name(cfg.name)
        self.next_number = len(self.study.get_trials(deepcopy=False))    # the searcher alone creates trials
        self.references = list(references)
        self.reruns: list[Suggestion] = []                 # trials a killed study left unfinished (repair)
        self.completed: dict = answering(records, cfg.fidelity())   # arch hash -> the record that evaluated it
        self.num_classes, self.input_size = num_classes, tuple(input_size)
        self.running: dict[str, str] = {}                  # arch hash -> key of the trial training it
        self.waiting: dict[str, list[Suggestion]] = {}     # arch hash -> suggestions waiting for that twin
        self.covered: set[str] = suggested(records, cfg.fidelity())   # hashes the sampler has suggested
        self.size = 0 if space is None else space.size()
        self.grid = None
        if cfg.sampler == "grid" and space is not None:
            from .grid import grid_points
            self.grid = grid_points(space)
        self.macs_cache: dict[str, float] = {}
        self.answered = 0
        self.finished_reason: str | None = None
        self.fallback_said = False                         # the note on random fallback points, once
        self._points = None                                # (params, hash) of a small space's points, on demand
        self.shared_space = optuna.search_space.IntersectionSearchSpace()   # NSGA-II's, across asks
        self.window = None                                 # what a windowed sampler models (studies.sampling)
        if space is not None and windowed(cfg):
            self.window = ModelWindow(self.study.directions)
            self.window.fill(self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))

    # ---- Optuna I/O ----------------------------------------------------------------------------------
    def _ask(self, how: str = "sampler") -> tuple[Suggestion, optuna.Trial]:
        """Ask the next trial: from the sampler (through the window, if any), a random point, or a random one of
        the points not suggested yet (``how``, see :meth:`ask_mode`)."""
        number = self.next_number
        flat = self.flat
        if how == "sampler" and self.window is not None:
            trial = self._ask_window(number)
        elif how == "random" and self.flat:
            encoding = flat_params(self.space)
            vector = encoding.draw(np.random.default_rng(derive_seed(self.cfg.seed, number)))
            trial = self._create_trial(vector, encoding.distributions())
        else:
            sampler = make_sampler(self.cfg, number, self.grid, self.shared_space)
            if how != "sampler":
                rng = np.random.default_rng(derive_seed(self.cfg.seed, number))
                sampler = optuna.samplers.RandomSampler(seed=int(rng.integers(2 ** 31)))
            if how == "unseen":
                unseen = self.unseen_points()
                self.study.enqueue_trial(unseen[int(rng.integers(len(unseen)))])
                flat = False
            asker = optuna.load_study(study_name=self.cfg.name, storage=self.storage, sampler=sampler)
            trial = asker.ask()
        self.next_number = trial.number + 1
        try:
            arch = self.space.suggest(trial, flat=flat)
        except AttnasError as e:
            return Suggestion(trial.number, None, str(e)), trial
        trial.set_user_attr("arch_hash", arch.hash)
        trial.set_user_attr("arch", arch.to_dict())
        return Suggestion(trial.number, arch), trial

    def _create_trial(self, params: dict, distributions: dict) -> optuna.Trial:
        """The study's next trial, RUNNING, created with ``params`` already set (one journal line, through the
        storage's public ``create_new_trial``). ``Study.ask`` would first look for a WAITING trial by scanning
        every trial of the study: 20 ms per ask at 21,000 trials, 60 ms with ``enqueue_trial``
        (``benchmarks/bench_driver.py``)."""
        template = optuna.trial.create_trial(state=TrialState.RUNNING, params=params,
                                             distributions={k: distributions[k] for k in params})
        return optuna.trial.Trial(self.study, self.storage.create_new_trial(self.study_id, template_trial=template))

    def _ask_window(self, number: int) -> optuna.Trial:
        """Ask the window (:mod:`studies.sampling`) and create its suggestion as the study's trial ``number``."""
        inner = self.window.ask(make_sampler(self.cfg, number, shared_space=self.window.search_space))
        try:
            self.space.suggest(inner, flat=self.flat)
        except AttnasError:
            pass                       # the study's trial fails the same way below, and is recorded invalid
        trial = self._create_trial(inner.params, inner.distributions)
        self.window.asked_as(trial.number, inner)
        attrs = self.window.sampler_attrs(inner)
        if attrs:
            trial.set_user_attr(WINDOW_ATTRS, attrs)
        return trial

    def arch_of(self, trial: optuna.trial.FrozenTrial) -> ArchConfig | None:
        """The architecture of a stored trial: from its ``arch`` attribute, else re-derived from its
        parameters (a kill can come between the ask and the attribute); None if neither is complete."""
        if "arch" in trial.user_attrs:
            return ArchConfig.from_dict(trial.user_attrs["arch"], check_fits=False)
        try:
            return self.space.suggest(optuna.trial.FixedTrial(trial.params), flat=self.flat)
        except (ValueError, KeyError, AttnasError):
            return None

    def told(self, number: int, values, state: TrialState, params: dict, distributions: dict) -> None:
        """How the lifecycle told Optuna trial ``number`` ended (:meth:`studies.lifecycle.Lifecycle.tell`): a
        windowed sampler's model (:mod:`studies.sampling`) hears it too."""
        if self.window is not None:
            self.window.tell(number, values, state, params, distributions)

    # ---- Searcher API -------------------------------------------------------------------------------
    def suggest(self, trial_id: str):
        if self.finished_reason is not None:
            return Searcher.FINISHED
        while self.references:
            name = self.references.pop(0)
            arm = self.cfg.reference_arm(name)
            s = Suggestion(None, arm.config(num_classes=self.num_classes, input_size=list(self.input_size)),
                           reference=name)
            if arm.replicate:               # a seed replicate trains whatever trained before
                return self._dispatch(s.key, None, s.arch, reference=name, replicate=arm.replicate)
            h = s.arch.hash
            if h in self.completed:
                self.lifecycle.answered(self.duplicate(s, self.completed[h]))
            elif h in self.running:
                self.waiting.setdefault(h, []).append(s)
            else:
                return self._dispatch(s.key, None, s.arch, reference=name)
        if self.reruns:
            s = self.reruns.pop(0)
            return self._dispatch(s.key, s.number, s.arch)
        if self.space is None:
            return self.finish("every arm has been trained")
        for idle in range(MAX_IDLE_ASKS):
            if self.size is not None and len(self.covered) >= self.size:
                return self.finish(f"space exhausted: the sampler has suggested all {self.size} of its architectures")
            how = self.ask_mode(idle)
            if how == "unseen" and not self.unseen_points():
                return self.finish(f"space exhausted: every buildable architecture of the space has been suggested "
                                   f"({len(self.covered)} distinct)")
            s, trial = self._ask(how)
            if s.arch is None:
                self.lifecycle.answered(self._record(s, "invalid", f"does not build: {s.error}"))
                continue
            h = s.arch.hash
            self.covered.add(h)
            if self.cfg.macs_budget is not None and h not in self.completed:
                macs = self.macs_cache.get(h)
                if macs is None:
                    macs = self.macs_cache[h] = estimate_macs(s.arch)
                if macs > self.cfg.macs_budget:
                    trial.set_constraint("macs_budget", macs - self.cfg.macs_budget)
                    if self.window is not None:
                        self.window.set_constraint(trial.number, "macs_budget", macs - self.cfg.macs_budget)
                    self.lifecycle.answered(self._record(
                        s, "rejected", f"rejected before training: {macs:.4g} MACs > macs_budget "
                                       f"{self.cfg.macs_budget:.4g}", metrics={"macs": macs}))
                    continue
            if h in self.completed:
                self.lifecycle.answered(self.duplicate(s, self.completed[h]))
                continue
            if h in self.running:
                self.waiting.setdefault(h, []).append(s)
                continue
            return self._dispatch(s.key, s.number, s.arch)
        return self.finish(f"space exhausted: {MAX_IDLE_ASKS} suggestions in a row, the last "
                           f"{MAX_IDLE_ASKS - REPEATS_BEFORE_FALLBACK} of them random, were already evaluated "
                           f"({len(self.covered)} distinct so far)")

    def ask_mode(self, idle: int) -> str:
        """Who picks the next point after ``idle`` suggestions in a row with nothing new to train: the sampler;
        past ``REPEATS_BEFORE_FALLBACK``, a random point (said once per study); past twice that, on a space small
        enough to enumerate (``GRID_MAX_POINTS``), a random one of the points not suggested yet."""
        if idle < REPEATS_BEFORE_FALLBACK or self.grid is not None:
            return "sampler"
        if not self.fallback_said:
            self.fallback_said = True
            self.lifecycle.say(f"note: the {self.cfg.sampler} sampler suggested {idle} architectures in a row that "
                               f"were already evaluated; while it repeats itself, random unseen points are asked "
                               f"instead (said once)")
        if idle >= 2 * REPEATS_BEFORE_FALLBACK and self.size is not None and self.size <= GRID_MAX_POINTS:
            return "unseen"
        return "random"

    def unseen_points(self) -> list[dict]:
        """Parameters of the enumerated points (:func:`studies.grid.grid_points`) not suggested yet."""
        if self._points is None:
            from .grid import grid_points
            self._points = []
            for params in grid_points(self.space):
                arch = self.space.suggest(optuna.trial.FixedTrial(params), flat=False)
                self._points.append((params, arch.hash))
        return [p for p, h in self._points if h not in self.covered]

    def repeat_line(self, records) -> str:
        """The summary's line on repeated suggestions (answered from their twin, without training)."""
        asked = [r for r in records if not r.is_reference]
        repeats = sum(r.status == "duplicate" for r in asked)
        share = 100 * repeats / len(asked) if asked else 0.0
        return (f"suggestions: {len(asked)}, of which {repeats} ({share:.1f} %) repeated an architecture already "
                f"evaluated and were answered without training")

    def finish(self, reason: str):
        """End the search (Tune stops asking; running trials complete)."""
        self.finished_reason = reason
        self.lifecycle.say(f"search ended: {reason}")
        return Searcher.FINISHED

    def _dispatch(self, key: str, number: int | None, arch: ArchConfig, reference: str | None = None,
                  replicate: int = 0) -> dict:
        self.running.setdefault(arch.hash, key)
        resume = self.lifecycle.resume_from(key, arch.hash)     # a resumed interrupted trial's checkpoint
        return {"key": key, "number": number, "reference": reference, "arch": arch.to_dict(),
                "arch_hash": arch.hash, "resume_from": resume, "replicate": replicate}

    def _record(self, s: Suggestion, status_name: str, reason: str, metrics: dict | None = None) -> TrialRecord:
        arch = s.arch.to_dict() if s.arch is not None else {}
        number = s.number if s.reference is None else self.cfg.reference_number(s.reference)
        return TrialRecord(trial_id=s.key, number=number, arch=arch, arch_hash=s.arch.hash if s.arch else "",
                           status=status_name, reason=reason, metrics=dict(metrics or {}),
                           is_reference=s.reference is not None, reference_name=s.reference)

    def duplicate(self, s: Suggestion, twin: TrialRecord) -> TrialRecord:
        """The record answering suggestion ``s`` from its ``twin``'s."""
        rec = self._record(s, "duplicate", f"same architecture as trial {twin.trial_id} ({twin.status}): "
                                           f"not trained again", metrics=twin.metrics)
        rec.told = None if twin.told is None else list(twin.told)
        rec.twin = twin.trial_id
        return rec

    def trial_ended(self, record: TrialRecord) -> list[TrialRecord]:
        """Bookkeeping once ``record``'s trial has ended (called by the lifecycle after it is on disk):
        the duplicates that waited for it, as records to answer."""
        if self.running.get(record.arch_hash) == record.trial_id:
            del self.running[record.arch_hash]
        if answers(record, self.cfg.fidelity()) and record.arch_hash not in self.completed:
            self.completed[record.arch_hash] = record      # a transient ending answers nothing (analysis.status)
        elif record.counts and record.arch_hash not in self.completed:
            self.covered.discard(record.arch_hash)         # ... and leaves it to be suggested again
        twin = self.completed.get(record.arch_hash)
        if twin is None:
            if record.counts and self.waiting.get(record.arch_hash):
                s = self.waiting[record.arch_hash].pop(0)   # the first twin trains it again
                if s.reference is not None:
                    self.references.insert(0, s.reference)
                else:
                    self.reruns.append(s)
            return []
        return [self.duplicate(s, twin) for s in self.waiting.pop(record.arch_hash, [])]

    def requeue(self, suggestions: list[Suggestion]) -> list[TrialRecord]:
        """Trials a killed study left unfinished (handed over by :meth:`studies.lifecycle.Lifecycle.repair`), in
        order: each is answered from a twin evaluated meanwhile (the ``duplicate`` records returned, for the
        lifecycle to write), waits for an earlier one of them with its architecture, or runs again under its own
        Optuna trial."""
        duplicates, rerun = [], set()
        for s in suggestions:
            h = s.arch.hash
            if h in self.completed:
                duplicates.append(self.duplicate(s, self.completed[h]))
            elif h in rerun:
                self.waiting.setdefault(h, []).append(s)
            else:
                rerun.add(h)
                self.reruns.append(s)
        return duplicates

    def close(self, reason: str) -> list[TrialRecord]:
        """Suggestions still waiting or to re-run when the study ends: records with status ``not_run``."""
        left = [s for group in self.waiting.values() for s in group if s.reference is None] + self.reruns
        self.waiting, self.reruns = {}, []
        return [self._record(s, "not_run", reason) for s in sorted(left, key=lambda s: s.number)]

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        """Nothing: the sampler is told once per trial, when it ends."""

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        """Nothing here: the lifecycle tells Optuna (:meth:`tell`) once the trial's record is on disk."""

    def __getstate__(self):
        """Tune pickles its searcher into its run folder; a study never restores it (see :meth:`save`)."""
        return {"cfg": self.cfg}

    def __setstate__(self, state):
        self.cfg = state["cfg"]

    def save(self, checkpoint_path: str):
        """Nothing to save: a study resumes from its Optuna journal and trials.jsonl, not Tune's state."""

    def restore(self, checkpoint_path: str):
        """See :meth:`save`."""
