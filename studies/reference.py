"""The study's hypervolume reference point, fixed once at the study's start and written into ``study.yaml``.

Every figure that reports a hypervolume (the printed summary, ``report/hypervolume.csv``, ``export/front.json``
and the MLflow parent run's ``hypervolume`` series) measures it against this one point, so hypervolumes from
any two moments of a study (or of two runs of one study) compare.

Rule, per objective: a maximised one (accuracy, a fraction) uses 0, its worst possible value; ``macs`` uses
``macs_budget`` when the study has one, else 1.1 x the largest MACs in the space; ``params`` 1.1 x the
largest parameter count seen; ``latency_ms`` twice the latency measured on the largest-MACs architecture.
The largest point is found by one pass of coordinate ascent over the space's dimensions, starting from every
dimension at its last choice (each dimension in turn set to the choice that maximises MACs), which costs
one MAC count per choice instead of one per architecture; it is exact for spaces whose MACs grow dimension
by dimension, as backbone depth, width and attention placement do (a test checks it against enumeration).
"""
from __future__ import annotations

import optuna

from search_space import ArchConfig
from search_space.errors import AttnasError

MARGIN = 1.1
LATENCY_MARGIN = 2.0


def _candidates(distribution) -> list:
    from optuna.distributions import CategoricalDistribution

    if isinstance(distribution, CategoricalDistribution):
        return list(distribution.choices)
    return [distribution.low, distribution.high]


def largest_architecture(space, flat: bool = True) -> tuple[ArchConfig, float, float]:
    """(architecture, its MACs, the largest parameter count seen) by coordinate ascent on MACs."""
    from .search import estimate_cost

    probe = optuna.create_study(storage=optuna.storages.InMemoryStorage()).ask()
    space.suggest(probe, flat=flat)
    choices = {name: _candidates(d) for name, d in probe.distributions.items()}
    params = {name: values[-1] for name, values in choices.items()}
    cache: dict[str, tuple[float, float]] = {}

    def measure(p: dict):
        try:
            arch = space.suggest(optuna.trial.FixedTrial(p), flat=flat)
        except AttnasError:
            return None, -1.0
        if arch.hash not in cache:
            cache[arch.hash] = estimate_cost(arch)
        return arch, cache[arch.hash][0]

    best_arch, best = measure(params)
    for name, values in choices.items():
        for v in values:
            if v == params[name]:
                continue
            arch, macs = measure({**params, name: v})
            if arch is not None and macs > best:
                best_arch, best, params = arch, macs, {**params, name: v}
    if best_arch is None:
        raise AttnasError("space: no architecture found to fix the hypervolume reference point; allowed: a space "
                          "with buildable points")
    return best_arch, best, max(p for _, p in cache.values())


def largest_arm(archs) -> tuple[ArchConfig, float, float]:
    """(architecture, its MACs, the largest parameter count) among a study's arms (a study without a space)."""
    from .search import estimate_cost

    costs = [(estimate_cost(a), a) for a in archs]
    (macs, _), arch = max(costs, key=lambda c: c[0][0])
    return arch, macs, max(c[0][1] for c in costs)


def fixed_reference(cfg, space, archs=()) -> tuple[dict, str]:
    """({metric: reference value}, the rule as one line) for ``cfg``'s objectives over ``space`` (over the
    arms ``archs`` when the study has no space: "the space" below reads "the arms")."""
    needs_space = [m for m, d in cfg.objectives if d == "min" and not (m == "macs" and cfg.macs_budget is not None)]
    arch = macs = params = None
    if needs_space:
        arch, macs, params = largest_architecture(space, flat=True) if space is not None else largest_arm(archs)
    ref, rule = {}, []
    of = "the space's" if space is not None else "the arms'"
    for metric, direction in cfg.objectives:
        if direction == "max":
            ref[metric] = 0.0
            rule.append(f"{metric} 0")
        elif metric == "macs" and cfg.macs_budget is not None:
            ref[metric] = float(cfg.macs_budget)
            rule.append("macs = macs_budget")
        elif metric == "macs":
            ref[metric] = MARGIN * macs
            rule.append(f"macs = {MARGIN} x {of} largest ({macs:.4g}, {arch.name})")
        elif metric == "params":
            ref[metric] = MARGIN * params
            rule.append(f"params = {MARGIN} x {of} largest ({params:.4g})")
        elif metric == "latency_ms":
            from search_space import build_model
            from trainers import profile_model

            latency = profile_model(build_model(arch), arch.input_size, device="cpu", latency=True)["latency_ms"]
            ref[metric] = LATENCY_MARGIN * float(latency)
            rule.append(f"latency_ms = {LATENCY_MARGIN} x the largest architecture's ({latency:.3g} ms)")
        else:
            raise AttnasError(f"objectives: {metric!r} has no reference rule; allowed: set hypervolume_reference")
    return ref, "; ".join(rule)
