"""A study's effects report (analysis.effects) with what only ``studies`` knows: the searched dimensions and
their order (the baseline is each one's first choice), Optuna's parameter importance for accuracy from the
study's journal, and an ablation's arms."""
from __future__ import annotations

from pathlib import Path


IMPORTANCE_TRIALS = 2000
"""The most trials the importance forest is fitted on (a seeded sample of the distinct architectures beyond it).
Optuna's fANOVA was dropped: its marginal variances cost 10 s at 50 trials of the cifar-attention space and
over 15 minutes at a 1,000-trial study's final publish; mean decrease in impurity over the same seeded forest
ranks that study's dimensions as fANOVA did at 100 trials (stem, width, activation, attention) in 0.4 s."""


def importance_trials(trials: list, limit: int = IMPORTANCE_TRIALS, seed: int = 0) -> list:
    """The complete trials the importance is fitted on: one per architecture (a duplicate answered from an earlier
    trial repeats its point and would weigh it twice; the first trial of a hash stands for it), then a seeded
    sample of ``limit`` of them where there are more, kept in trial order."""
    import random

    seen, distinct = set(), []
    for t in trials:
        key = t.user_attrs.get("arch_hash", t.number)
        if key not in seen:
            seen.add(key)
            distinct.append(t)
    if len(distinct) <= limit:
        return distinct
    keep = set(random.Random(seed).sample(range(len(distinct)), limit))
    return [t for i, t in enumerate(distinct) if i in keep]


def optuna_importance(storage, study_name: str, metric_index: int = 0, seed: int = 0,
                      limit: int = IMPORTANCE_TRIALS) -> dict:
    """Optuna's parameter importance (mean decrease in impurity of a seeded random forest) for objective ``metric_index`` over the study's distinct
    architectures (at most ``limit``, ``importance_trials``), summed per dimension path (a parameter asked as
    ``path|choices`` where only some choices were open counts for ``path``); {} with fewer than two such trials
    or no parameter shared by all of them."""
    import optuna

    study = optuna.load_study(study_name=study_name, storage=storage)
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    fitted = importance_trials(complete, limit, seed)
    if len(fitted) < 2 or not set.intersection(*(set(t.params) for t in fitted)):
        return {}
    sample = optuna.create_study(directions=study.directions)        # in memory: the journal is not touched
    sample.add_trials(fitted)
    evaluator = optuna.importance.MeanDecreaseImpurityImportanceEvaluator(seed=seed)   # direction-free, seeded
    raw = optuna.importance.get_param_importances(sample, evaluator=evaluator,
                                                  target=lambda t: t.values[metric_index])
    out: dict = {}
    for name, value in raw.items():
        path = name.split("|")[0]
        out[path] = out.get(path, 0.0) + float(value)
    return out


def study_effects(cfg, records, storage=None) -> tuple[list[dict], dict]:
    """(effect rows, importance) of a study: dimension effects over its space, or the arms' differences."""
    from analysis.effects import arm_effects, dimension_effects

    metric = cfg.metrics[0]
    if cfg.space is None:
        return arm_effects(records, [a.name for a in cfg.arms], metric=metric, seed=cfg.seed), {}
    dims = {}
    for path, spec in (cfg.space.get("dimensions") or {}).items():
        if isinstance(spec, list):
            dims[path] = spec
        elif isinstance(spec, dict) and isinstance(spec.get("choices"), list):
            dims[path] = spec["choices"]
        elif isinstance(spec, dict) and isinstance(spec.get("choices"), dict):      # `by`: per parent value
            dims[path] = [v for vs in spec["choices"].values() for v in vs]
    importance = optuna_importance(storage, cfg.name, 0, cfg.seed) if storage is not None else {}
    rows = dimension_effects(records, dims, metric=metric, seed=cfg.seed, importance=importance)
    return rows, importance


def write_study_effects(cfg, records, report_dir: Path, storage=None) -> tuple[list[Path], list[dict]]:
    """``report/effects.csv`` and ``effects.png``; returns their paths and the rows."""
    from analysis.effects import write_effects

    rows, importance = study_effects(cfg, records, storage)
    return write_effects(rows, report_dir, title=cfg.name, metric=cfg.metrics[0], importance=importance), rows
