"""A sampler's cost bounded as a study grows: what TPE models is a window of the study's latest trials.

TPE fits its Parzen estimators to every finished trial on every ask (and, with several objectives, sorts them
into fronts first), so one ask costs time in proportion to the study: at thousands of trials it is what limits
a study's throughput. :class:`ModelWindow` keeps an in-memory Optuna study that holds the latest
``MODEL_WINDOW`` finished trials (refilled from the study once it holds twice as many, so a refill costs
O(window) every ``window`` tells) plus the trials asked from it and still running (the constant liar sees
them). The searcher asks the window; the suggestion is then written into the study's own journal as an
enqueued trial (``enqueue_trial`` + ``ask``: the same parameters, the study's number, its records and resume
unchanged). Each ask is seeded as before (:func:`studies.search.derive_seed` of the study's trial number).

What it costs in search quality: past the window, TPE's model forgets the oldest trials, so a region explored
early and left is modelled from the recent trials only; with ``MODEL_WINDOW`` = 1000 trials it models about 30
times Optuna's default 10 start-up trials and far more than a study of the default budget ever holds (every
study under 1,000 trials asks exactly what unbounded TPE would). A repeat of an architecture evaluated
before the window is answered as a duplicate without training (:mod:`studies.search`). NSGA-II, random and QMC
keep their own bounded state (a generation, nothing, a sequence position) and are not windowed; NSGA-II's search
space is kept across asks (:class:`SharedSpaceNSGAII`).
"""
from __future__ import annotations

import optuna
from optuna.search_space import IntersectionSearchSpace
from optuna.trial import TrialState

MODEL_WINDOW = 1000
"""Finished trials TPE models at most (the latest ones)."""
WINDOWED_SAMPLERS = ("tpe",)


class ModelWindow:
    """An in-memory study of the latest finished trials for the sampler to model (see the module docstring)."""

    def __init__(self, directions: list, window: int = MODEL_WINDOW):
        self.directions, self.window = list(directions), int(window)
        self.asked: dict[int, int] = {}     # study trial number -> window trial number (running in the window)
        self.finished = 0
        self.refills = 0
        self.storage = None
        self.fill([])

    def fill(self, trials: list) -> None:
        """A new window holding the last ``window`` COMPLETE trials of ``trials`` (FrozenTrials)."""
        self.storage = optuna.storages.InMemoryStorage()
        study = optuna.create_study(storage=self.storage, study_name="window", directions=self.directions)
        kept = [t for t in trials if t.state == TrialState.COMPLETE][-self.window:]
        for t in kept:
            study.add_trial(optuna.trial.create_trial(params=t.params, distributions=t.distributions,
                                                      values=t.values, state=TrialState.COMPLETE))
        self.finished, self.asked = len(kept), {}
        self.refills += 1
        self.study = study

    def ask(self, sampler) -> optuna.Trial:
        """A new trial of the window, asked with ``sampler``."""
        return optuna.load_study(study_name="window", storage=self.storage, sampler=sampler).ask()

    def asked_as(self, number: int, trial: optuna.Trial) -> None:
        """Window trial ``trial`` became the study's trial ``number``."""
        self.asked[number] = trial.number

    def tell(self, number: int, values, state: TrialState, params: dict, distributions: dict) -> None:
        """Study trial ``number`` ended: told in the window (or added, if the window did not ask it); the
        window is refilled from its own latest trials once it holds twice ``window``."""
        inner = self.asked.pop(number, None)
        if inner is not None:
            self.study.tell(inner, values, state=state, skip_if_finished=True)
        elif state == TrialState.COMPLETE and params:
            self.study.add_trial(optuna.trial.create_trial(params=params, distributions=distributions,
                                                           values=values, state=state))
        else:
            return
        self.finished += state == TrialState.COMPLETE
        if self.finished >= 2 * self.window:       # trials still running are added when they end
            self.fill(self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))


class SharedSpaceNSGAII(optuna.samplers.NSGAIISampler):
    """NSGA-II whose search space (the intersection of the finished trials' distributions) is one
    ``IntersectionSearchSpace`` kept by the searcher across asks. The searcher makes a new sampler for every
    ask (seeded from the trial's number), and NSGA-II's own intersection starts empty in each: a pass over
    every trial of the study, comparing every distribution, per ask (70 % of the driver's time at 600 trials,
    measured with py-spy by ``benchmarks/bench_driver.py``). The shared one goes on from the oldest trial
    still running, so an ask costs the same at 10 trials and at 10,000. The space is the same NSGA-II would
    compute itself, so the suggestions are too."""

    def __init__(self, *, search_space: IntersectionSearchSpace, **kwargs):
        super().__init__(**kwargs)
        self.shared_space = search_space

    def infer_relative_search_space(self, study, trial):
        # as NSGAIISampler's: single-valued distributions are sampled independently
        return {name: d for name, d in self.shared_space.calculate(study).items() if not d.single()}
