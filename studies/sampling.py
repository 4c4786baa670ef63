"""A sampler's cost bounded as a study grows: what TPE and NSGA-II model is a window of the study's latest trials.

TPE fits its Parzen estimators to every finished trial on every ask (and, with several objectives, sorts them
into fronts first), and NSGA-II scans every trial of the study for its generations on every ask (the searcher
makes a sampler per ask, so Optuna's per-sampler generation cache starts empty each time), so one ask costs
time in proportion to the study: at thousands of trials it is what limits a study's throughput.
:class:`ModelWindow` keeps an in-memory Optuna study that holds the latest ``MODEL_WINDOW`` finished trials
(refilled from the study once it holds twice as many, so a refill costs O(window) every ``window`` tells) plus
the trials asked from it and still running (the constant liar sees them). The searcher asks the window; the
suggestion then becomes the study's own trial, created with the same parameters
(:meth:`studies.search.StudySearcher._create_trial`: the study's number, its records and resume unchanged). Each ask is seeded as before (:func:`studies.search.derive_seed` of the study's trial number).

What it costs in search quality: past the window, TPE's model forgets the oldest trials, so a region explored
early and left is modelled from the recent trials only; with ``MODEL_WINDOW`` = 1000 trials it models about 30
times Optuna's default 10 start-up trials and far more than a study of the default budget ever holds (every
study under 1,000 trials asks exactly what unbounded TPE and NSGA-II would). NSGA-II only ever uses its latest
generation and that generation's parents (a population of 50 by default); the window keeps each trial's
generation (its system attributes), so past the window it goes on from the same generation, and only the
cached parent selection of the generation in progress is made again at a refill (every ``window`` tells). A
repeat of an architecture evaluated before the window is answered as a duplicate without training
(:mod:`studies.search`). Random and QMC keep their own bounded state (nothing, a sequence position) and are not
windowed. NSGA-II's search space (the intersection of the window's finished trials' distributions) is kept across
asks, one per window fill (:class:`SharedSpaceNSGAII`).
"""
from __future__ import annotations

import optuna
from optuna.search_space import IntersectionSearchSpace
from optuna.trial import TrialState

MODEL_WINDOW = 1000
"""Finished trials TPE and NSGA-II model at most (the latest ones)."""
WINDOWED_SAMPLERS = ("tpe", "nsga2")
WINDOW_ATTRS = "window_sampler_attrs"
"""The study trial's user attribute holding what the window's sampler noted on it
(:meth:`ModelWindow.sampler_attrs`)."""


def windowed(cfg) -> bool:
    """Whether ``cfg``'s sampler asks through the window: TPE always; NSGA-II while the window holds at least 4
    of its generations (``population_size`` <= ``MODEL_WINDOW`` / 4), so that a refill keeps whole generations
    to select the current one's parents from."""
    if cfg.sampler == "nsga2":
        return 4 * int(cfg.sampler_options.get("population_size", 50)) <= MODEL_WINDOW
    return cfg.sampler in WINDOWED_SAMPLERS


class ModelWindow:
    """An in-memory study of the latest finished trials for the sampler to model (see the module docstring)."""

    def __init__(self, directions: list, window: int = MODEL_WINDOW):
        self.directions, self.window = list(directions), int(window)
        self.asked: dict[int, optuna.Trial] = {}     # study trial number -> window trial (running in the window)
        self.finished = 0
        self.refills = 0
        self.storage = None
        self.fill([])

    def fill(self, trials: list) -> None:
        """A new window holding the last ``window`` COMPLETE trials of ``trials`` (FrozenTrials)."""
        self.storage = optuna.storages.InMemoryStorage()
        study = optuna.create_study(storage=self.storage, study_name="window", directions=self.directions)
        kept = [t for t in trials if t.state == TrialState.COMPLETE][-self.window:]
        for t in kept:          # NSGA-II's generation and the constraints go on with each trial
            attrs = {**t.system_attrs, **t.user_attrs.get(WINDOW_ATTRS, {})}
            study.add_trial(optuna.trial.create_trial(params=t.params, distributions=t.distributions,
                                                      values=t.values, state=TrialState.COMPLETE,
                                                      system_attrs=attrs))
        self.finished, self.asked = len(kept), {}
        self.refills += 1
        self.study = study
        self.search_space = IntersectionSearchSpace()    # NSGA-II's, for this window study

    def ask(self, sampler) -> optuna.Trial:
        """A new trial of the window, asked with ``sampler``."""
        return optuna.load_study(study_name="window", storage=self.storage, sampler=sampler).ask()

    def asked_as(self, number: int, trial: optuna.Trial) -> None:
        """Window trial ``trial`` became the study's trial ``number``."""
        self.asked[number] = trial

    def sampler_attrs(self, trial: optuna.Trial) -> dict:
        """What the window's sampler noted on its trial ``trial`` (NSGA-II's generation), for the study's trial
        to keep as the user attribute :data:`WINDOW_ATTRS`: a refill, or the window a resumed study starts
        from, puts it back, so NSGA-II goes on from its generation instead of starting again at 0."""
        frozen = self.study.get_trials(deepcopy=False)[trial.number]
        return {k: v for k, v in frozen.system_attrs.items() if k.endswith(":generation")}

    def set_constraint(self, number: int, key: str, value: float) -> None:
        """Study trial ``number``'s constraint (``macs_budget``), on its window trial too, so that the window's
        sampler sees it infeasible as the study's trial is."""
        if number in self.asked:
            self.asked[number].set_constraint(key, value)

    def tell(self, number: int, values, state: TrialState, params: dict, distributions: dict) -> None:
        """Study trial ``number`` ended: told in the window (or added, if the window did not ask it); the
        window is refilled from its own latest trials once it holds twice ``window``."""
        inner = self.asked.pop(number, None)
        if inner is not None:
            self.study.tell(inner.number, values, state=state, skip_if_finished=True)
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
