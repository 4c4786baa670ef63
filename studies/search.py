"""The search side of a study: the Optuna sampler, the define-by-run space, and ``StudySearcher``, a Ray Tune
Searcher that wraps ``OptunaSearch`` and adds what a study needs around it.

Encoding per sampler (``space.suggest(trial, flat=...)``):

* ``nsga2`` and ``qmc`` use ``flat=True``: every dimension is asked on every trial, with its full choices, and
  values that do not apply (a reduction when the attention is ``none``) are ignored when the ArchConfig is
  built. The reason is what the samplers really do in optuna 5: ``NSGAIISampler`` evolves only the
  *intersection* search space of completed trials (``IntersectionSearchSpace``) and samples every other
  parameter with an independent ``RandomSampler``, so a conditional dimension would never be crossed over or
  mutated; ``QMCSampler`` fixes its search space from the first trial and falls back to random sampling for
  anything else. A static vector of dimensions keeps every dimension under the sampler's control.
* ``tpe`` (``multivariate=True, group=True``: joint models per group of co-occurring dimensions) and
  ``random`` use the conditional encoding: a dimension is asked only where it applies.

``StudySearcher`` (driver side):

* warm start: the presets in ``warm_start`` run first as reference trials. They are not told to the sampler
  (a preset need not lie in the search space); they are reference points on the front.
* dedup: an architecture (``ArchConfig.hash``) is trained at most once per study. A repeated suggestion is
  sent to the trainable with the stored result, which it reports at once with status ``duplicate``; a
  suggestion whose twin is still training waits (``suggest`` returns None) until the twin has ended.
* MACs budget: a candidate over ``macs_budget`` is rejected before any trial starts (its Optuna trial is told
  PRUNED with the reason) and the sampler is asked again.
* Optuna is told by the study (:meth:`tell`) once a trial's record is safely on disk, never by Tune directly.
"""
from __future__ import annotations

import optuna
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from search_space import ArchConfig, load_arch
from search_space.errors import AttnasError

from .config import StudyConfig, sampler_class

FLAT_SAMPLERS = ("nsga2", "qmc")
MAX_REJECTIONS = 200
"""Consecutive candidates over the MACs budget (or unbuildable) before the study gives up."""


def make_sampler(cfg: StudyConfig) -> optuna.samplers.BaseSampler:
    """The configured Optuna sampler, seeded with the study seed."""
    options = dict(cfg.sampler_options)
    if cfg.sampler == "tpe":
        options.setdefault("multivariate", True)
        options.setdefault("group", True)
    if cfg.sampler == "qmc":
        options.setdefault("warn_independent_sampling", False)
    return sampler_class(cfg.sampler)(seed=cfg.seed, **options)


def estimate_macs(arch: ArchConfig) -> float:
    """MACs of ``arch`` for one input, counted by thop/ATen rules on a model built on the meta device (no
    memory, no weights), falling back to CPU for modules the meta device cannot run."""
    import torch

    from search_space import build_model
    from trainers import count_macs

    try:
        with torch.device("meta"):
            model = build_model(arch)
        return float(count_macs(model, arch.input_size, device="meta"))
    except (NotImplementedError, RuntimeError):
        return float(count_macs(build_model(arch), arch.input_size))


class StudySearcher(Searcher):
    """Ray Tune Searcher: references first, then OptunaSearch suggestions, deduplicated and budget-checked.

    ``completed`` maps arch hash -> the TrialRecord that evaluated it (filled by the study as trials end,
    and from ``trials.jsonl`` on resume); ``references`` are the warm-start presets still to run.
    """

    def __init__(self, cfg: StudyConfig, space, storage, references: list[str], completed: dict,
                 num_classes: int, input_size: tuple):
        super().__init__(metric=cfg.metrics, mode=cfg.modes)
        self.cfg, self.space = cfg, space
        self.flat = cfg.sampler in FLAT_SAMPLERS
        self.references = list(references)
        self.completed = completed
        self.num_classes, self.input_size = num_classes, tuple(input_size)
        self.inner = OptunaSearch(space=self._define, metric=cfg.metrics, mode=cfg.modes,
                                  sampler=make_sampler(cfg), study_name=cfg.name, storage=storage)
        self.running: dict[str, str] = {}        # arch hash -> Tune trial id training it
        self.parked: list[dict] = []             # configs whose twin is still training
        self.inner_key: dict[str, str] = {}      # Tune trial id -> key of its Optuna trial in self.inner
        self.ot_trials: dict[str, optuna.Trial] = {}   # inner key -> its (running) Optuna trial
        self._asking = ""
        self.rejected = 0
        self.macs_cache: dict[str, float] = {}
        self._asks = 0

    # ---- the define-by-run space -----------------------------------------------------------------
    def _define(self, trial) -> dict:
        ot_trial = getattr(trial, "ot_trial", trial)   # OptunaSearch hands us a value-capturing wrapper
        self.ot_trials[self._asking] = ot_trial
        arch = self.space.suggest(trial, flat=self.flat)
        ot_trial.set_user_attr("arch_hash", arch.hash)
        return {"_arch": arch.to_dict(), "_number": ot_trial.number}

    # ---- Searcher API ----------------------------------------------------------------------------
    def suggest(self, trial_id: str):
        if self.references:
            name = self.references.pop(0)
            arch = load_arch(name, num_classes=self.num_classes, input_size=list(self.input_size))
            return self._dispatch(trial_id, {"arch": arch.to_dict(), "arch_hash": arch.hash, "number": None,
                                             "reference": name})
        if self.parked:      # a suggestion waits for its twin: hand it out first, ask nothing new meanwhile
            if self.parked[0]["arch_hash"] in self.running:
                return None
            return self._dispatch(trial_id, self.parked.pop(0))
        for _ in range(MAX_REJECTIONS):
            self._asks += 1
            key = self._asking = f"{trial_id}#{self._asks}"
            try:
                raw = self.inner.suggest(key)
            except AttnasError as e:       # the space could not build this point: record it, ask again
                self._tell_inner(key, None, "FAIL", f"unbuildable: {e}")
                self.rejected += 1
                continue
            arch = ArchConfig.from_dict(raw["_arch"], check_build=False)
            config = {"arch": arch.to_dict(), "arch_hash": arch.hash, "number": raw["_number"], "reference": None,
                      "_key": key}
            if self.cfg.macs_budget is not None and arch.hash not in self.completed:
                macs = self.macs_cache.get(arch.hash)
                if macs is None:
                    macs = self.macs_cache[arch.hash] = estimate_macs(arch)
                if macs > self.cfg.macs_budget:
                    self._tell_inner(key, None, "PRUNED",
                                     f"rejected before training: {macs:.4g} MACs > macs_budget {self.cfg.macs_budget:.4g}")
                    self.rejected += 1
                    continue
            if arch.hash in self.running:
                self.parked.append(config)
                return None
            return self._dispatch(trial_id, config)
        raise AttnasError(f"macs_budget: {self.cfg.macs_budget!r} rejected {MAX_REJECTIONS} candidates in a row; "
                          f"allowed: a budget that some architectures of the space meet")

    def _dispatch(self, trial_id: str, config: dict) -> dict:
        key = config.pop("_key", None)
        if key is not None:
            self.inner_key[trial_id] = key
        twin = self.completed.get(config["arch_hash"])
        config["duplicate_of"] = None if twin is None else {
            "trial_id": twin.trial_id, "status": twin.status, "reason": twin.reason,
            "metrics": dict(twin.metrics), "history": list(twin.history)}
        if twin is None:
            self.running[config["arch_hash"]] = trial_id
        return config

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        """Nothing: with several objectives OptunaSearch passes no intermediate values to the sampler."""

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        """Nothing here: the study calls :meth:`tell` after the trial's record is written."""

    # ---- told by the study -----------------------------------------------------------------------
    def tell(self, trial_id: str, arch_hash: str, values: list | None, state: str, status: str, reason: str) -> None:
        """Close the Optuna trial behind Tune trial ``trial_id`` (references have none): ``values`` for
        COMPLETE, else ``state`` PRUNED or FAIL; ``status``/``reason`` are stored as user attributes."""
        if self.running.get(arch_hash) == trial_id:
            del self.running[arch_hash]
        key = self.inner_key.pop(trial_id, None)
        if key is not None:
            self._tell_inner(key, values, state, reason, status)

    def _tell_inner(self, key: str, values, state: str, reason: str, status: str | None = None) -> None:
        ot_trial = self.ot_trials.pop(key, None)
        if ot_trial is not None:
            ot_trial.set_user_attr("status", status or state.lower())
            ot_trial.set_user_attr("reason", reason)
        if state == "COMPLETE":
            result = dict(zip(self.cfg.metrics, values))
            self.inner.on_trial_complete(key, result=result)
        else:
            self.inner.on_trial_complete(key, result=None, error=state == "FAIL")

    def __getstate__(self):
        """Tune pickles its searcher into its run folder; a study never restores it (see :meth:`save`)."""
        return {"cfg": self.cfg}

    def __setstate__(self, state):
        self.cfg = state["cfg"]

    def close(self, reason: str) -> None:
        """Tell Optuna about suggestions that never ran (the budget or time ran out while they waited)."""
        while self.parked:
            config = self.parked.pop()
            self._tell_inner(config["_key"], None, "FAIL", reason, "not run")

    def save(self, checkpoint_path: str):
        """Nothing to save: a study resumes from its Optuna journal and trials.jsonl, not Tune's state."""

    def restore(self, checkpoint_path: str):
        """See :meth:`save`."""
