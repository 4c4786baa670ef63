"""Successive halving for a study, as a Ray Tune ``TrialScheduler``: Pareto-rank (``pareto_sh``, the default)
or accuracy-only (``asha``), around :func:`analysis.rungs.promote`.

Rungs sit at ``grace_period * eta**k`` epochs below ``fidelity.epochs``. Decisions are asynchronous, as in
ASHA (Li et al. 2020): when a trial reports a rung's epoch it joins that rung and is ranked at once against
every trial recorded there so far (itself included); it goes on iff it is among the best
``ceil(n / eta)`` of the ``n`` recorded (:func:`analysis.rungs.rung_quota`). Nothing waits and nothing is
paused, so a free slot never idles; the price is that an early decision cannot be revised when better
trials arrive later (ASHA's own trade-off).

What a rung ranks: ``pareto_sh`` the study's objectives at that rung (validation accuracy after the rung's
epochs; MACs/params/latency, which are measured before training and do not change), so a cheap
architecture that learns slowly is compared with architectures of its own cost, not with large ones;
``asha`` the accuracy alone. The arriving trial is listed first (then the others by trial number), so it
wins every tie: it goes on iff fewer than ``quota`` trials of the rung rank strictly ahead of it (an earlier
front, or the same front with a larger crowding distance). The older trials' decisions are already taken,
so a tie can only decide the newcomer's fate, and giving it the benefit keeps ASHA's leniency early in a
rung: a newcomer that is a strict new extreme of the front being split (the cheapest, or the most accurate)
goes on; tied with an older trial at an objective's worst value, the older one takes that extreme. Given the
newcomer, the decision depends only on the set of trials at the rung, not on the order they arrived in. What
holds per decision and what only for a rung ranked at once: docs/STUDIES.md, "Early stopping". A newcomer
is ranked against at most the latest ``RUNG_WINDOW`` trials of its rung by trial number (see there).

Warm-start references never enter a rung (they are trained to full fidelity as reference points) and
duplicates never become Tune trials (the searcher answers them), so only searched trials are ranked; a
trial's final result is never recorded into a rung (Ray's ASHA records it in ``on_trial_complete``, which
seeded low rungs with fully trained results). On resume the rungs are rebuilt from the histories in
``trials.jsonl`` (:meth:`SuccessiveHalving.rebuild`).
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np
from ray.tune.schedulers import FIFOScheduler, TrialScheduler

from analysis.pareto import as_minimisation, non_dominated_sort
from analysis.status import finite as _finite
from analysis.rungs import promote, rung_quota


RUNG_WINDOW = 255
"""A newcomer is ranked against at most this many trials of its rung, the latest by trial number: the ranking
is quadratic in the trials ranked (0.6 s a decision at 900 trials on the dev box, measured by
``benchmarks/bench_driver.py``), so a rung of thousands would stall the driver. Below 256 trials a rung
decides exactly as described above; past it, as ASHA over a sliding window of the rung."""


def milestones(grace_period: int, eta: float, max_t: int) -> list[int]:
    """The rung epochs: ``grace_period * eta**k`` (rounded), strictly below ``max_t``."""
    out, k = [], 0
    while True:
        t = int(round(grace_period * eta ** k))
        if t >= max_t:
            return out
        if not out or t > out[-1]:
            out.append(t)
        k += 1


@dataclass(frozen=True)
class Decision:
    """One rung decision: trial ``trial`` (its key) at ``epoch``, in non-dominated ``front`` (0 = first)
    among the ``n`` trials of the rung, of which ``quota`` go on."""

    trial: str
    epoch: int
    promoted: bool
    n: int
    quota: int
    front: int
    windowed: bool = False

    def reason(self, scheduler: str) -> str:
        what = "Pareto rank over the objectives" if scheduler == "pareto_sh" else "validation accuracy"
        latest = " latest" if self.windowed else ""
        return (f"stopped at epoch {self.epoch}: not among the best {self.quota} of the {self.n}{latest} trials at "
                f"this rung by {what} (front {self.front + 1})")


class SuccessiveHalving(FIFOScheduler):
    """Asynchronous successive halving over ``objectives`` ([(metric, "max"|"min")]; one for ``asha``)."""

    def __init__(self, kind: str, objectives, max_t: int, grace_period: int, eta: float, decided=None):
        super().__init__()
        self.decided = decided
        """Called with each :class:`Decision` as it is taken (the study's lifecycle, which records the reason of a
        stopped trial); None: decisions are only kept in :attr:`decisions`."""
        self.kind = kind
        self.objectives = list(objectives) if kind == "pareto_sh" else list(objectives)[:1]
        self.metrics = [m for m, _ in self.objectives]
        self.directions = [d for _, d in self.objectives]
        self.eta = eta
        self.rungs: dict[int, dict[str, tuple[int, list[float]]]] = {t: {} for t in milestones(grace_period, eta, max_t)}
        self.order: dict[int, list] = {}        # rung epoch -> sorted (trial number, key) of its entries
        self.decisions: list[Decision] = []

    # ---- the decision ------------------------------------------------------------------------------
    def record(self, key: str, number: int, epoch: int, point: list[float]) -> Decision | None:
        """Add trial ``key`` (Optuna ``number``) to the rung at ``epoch`` with ``point`` and decide; None
        when ``epoch`` is no rung or the trial is already recorded there."""
        rung = self.rungs.get(epoch)
        if rung is None or key in rung:
            return None
        rung[key] = (number, list(point))
        order = self.order.setdefault(epoch, [])
        bisect.insort(order, (number, key))
        others = [k for _, k in order if k != key][-RUNG_WINDOW:]      # the latest by trial number
        keys = [key] + others
        points = [rung[k][1] for k in keys]
        quota = rung_quota(len(keys), self.eta)
        promoted = bool(promote(points, self.directions, quota=quota)[0])
        decision = Decision(key, epoch, promoted, len(keys), quota, front_of_first(points, self.directions),
                            windowed=len(rung) > len(keys))
        self.decisions.append(decision)
        if self.decided is not None:
            self.decided(decision)
        return decision

    def rebuild(self, records) -> int:
        """Rebuild the rungs from ended trials (their per-epoch histories); returns the entries restored.
        References are left out, as in a live study; a record's costs are its final (constant) ones."""
        restored = 0
        for rec in records:
            if rec.is_reference or not rec.counts or not rec.history:
                continue
            by_epoch = {int(row.get("epoch", 0)): row for row in rec.history}
            for epoch, rung in self.rungs.items():
                row = by_epoch.get(epoch)
                if row is None:
                    continue
                point = [row.get(m) if m in ("val_top1", "val_top5") else rec.metrics.get(m) for m in self.metrics]
                if all(_finite(v) for v in point) and rec.trial_id not in rung:
                    rung[rec.trial_id] = (rec.number, [float(v) for v in point])
                    bisect.insort(self.order.setdefault(epoch, []), (rec.number, rec.trial_id))
                    restored += 1
        return restored

    # ---- Tune hooks --------------------------------------------------------------------------------
    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        config = trial.config
        if config.get("reference") or result.get("status") != "running":
            return TrialScheduler.CONTINUE
        point = [result.get(m) for m in self.metrics]
        if not all(_finite(v) for v in point):
            return TrialScheduler.CONTINUE
        decision = self.record(config["key"], config["number"], int(result.get("epoch", 0)), point)
        if decision is not None and not decision.promoted:
            return TrialScheduler.STOP
        return TrialScheduler.CONTINUE

    def on_trial_complete(self, tune_controller, trial, result):
        """Nothing: a final result never enters a rung."""

    def debug_string(self) -> str:
        return f"{self.kind}: rungs at epochs {sorted(self.rungs)} (eta {self.eta:g}), " + ", ".join(
            f"{t}: {len(r)}" for t, r in sorted(self.rungs.items()))

    def save(self, checkpoint_path: str):
        """Nothing to save: the rungs are rebuilt from trials.jsonl on resume (:meth:`rebuild`)."""

    def restore(self, checkpoint_path: str):
        """See :meth:`save`."""


def front_of_first(points, directions) -> int:
    """The non-dominated front (0 = first) of ``points[0]``. A point's front number is the longest chain of
    points dominating it, and every point of such a chain dominates it too, so only its dominators are sorted
    (a full sort of a rung of hundreds of trials per decision was most of a replay's time)."""
    pts = np.asarray(points, dtype=float)
    mins = as_minimisation(pts, directions)
    above = (mins <= mins[0]).all(axis=1) & (mins < mins[0]).any(axis=1)
    return len(non_dominated_sort(pts[above], directions)) if above.any() else 0

