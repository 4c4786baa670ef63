"""SuccessiveHalving (pareto_sh / asha) through Tune's scheduler hooks, with stand-in trials: rungs, decisions on
arrival, references and final results kept out of rungs, and rungs rebuilt from records on resume."""
from dataclasses import dataclass, field

from ray.tune.schedulers import TrialScheduler

from analysis import TrialRecord
from analysis.rungs import promote
from studies.scheduler import SuccessiveHalving, front_of_first, milestones

OBJ = [("val_top1", "max"), ("macs", "min")]


@dataclass
class FakeTrial:
    number: int | None
    reference: str | None = None
    config: dict = field(default_factory=dict)

    def __post_init__(self):
        key = f"ref-{self.reference}" if self.reference else f"t{self.number:04d}"
        self.config = {"key": key, "number": self.number, "reference": self.reference}


def report(s, trial, epoch, acc, macs, status="running"):
    return s.on_trial_result(None, trial, {"epoch": epoch, "status": status, "val_top1": acc, "macs": macs})


def test_front_of_first_is_its_pareto_rank():
    import numpy as np

    from analysis.pareto import pareto_ranks

    rng = np.random.default_rng(0)
    for n in (1, 3, 5, 40):
        for _ in range(25):
            pts = rng.integers(0, 6, size=(n, 2)).astype(float)       # ties and copies included
            assert front_of_first(pts, ["max", "min"]) == pareto_ranks(pts, ["max", "min"])[0]


def test_milestones():
    assert milestones(1, 3, 9) == [1, 3]
    assert milestones(2, 3, 8) == [2, 6]
    assert milestones(1, 2, 5) == [1, 2, 4]
    assert milestones(3, 3, 3) == []
    assert milestones(1, 1.5, 4) == [1, 2, 3]


def test_decision_on_arrival_is_the_ranking_of_the_rung_so_far():
    s = SuccessiveHalving("pareto_sh", OBJ, max_t=6, grace_period=2, eta=3)
    arrivals = [(0.50, 3e6), (0.30, 1e6), (0.45, 4e6), (0.20, 2e6), (0.60, 9e6), (0.10, 0.5e6)]
    for n, (acc, macs) in enumerate(arrivals):
        got = report(s, FakeTrial(n), 2, acc, macs)
        rows = [arrivals[n]] + arrivals[:n]                   # the newcomer first: it wins ties
        expected = promote(rows, ["max", "min"], eta=3)[0]
        assert got == (TrialScheduler.CONTINUE if expected else TrialScheduler.STOP), n
    # n=2 quota 1: the second is a new extreme (cheapest) and wins the tie; n=3: (.45, 4M) is dominated by
    # (.5, 3M); n=4 quota 2: (.2, 2M) is in the middle of the front, behind both extremes; n=5, 6: new extremes
    assert [d.promoted for d in s.decisions] == [True, True, False, False, True, True]
    # the cheap slow learner (0.10 at 0.5M) goes on under pareto_sh; accuracy-only ASHA stops it
    asha = SuccessiveHalving("asha", OBJ, max_t=6, grace_period=2, eta=3)
    for n, (acc, macs) in enumerate(arrivals):
        last = report(asha, FakeTrial(n), 2, acc, macs)
    assert last == TrialScheduler.STOP and asha.decisions[-1].trial == "t0005"
    assert "validation accuracy" in asha.decisions[-1].reason("asha")


def test_epochs_off_the_rungs_and_results_twice_change_nothing():
    s = SuccessiveHalving("pareto_sh", OBJ, max_t=6, grace_period=2, eta=3)
    t = FakeTrial(0)
    assert report(s, t, 1, 0.1, 1e6) == TrialScheduler.CONTINUE
    assert report(s, t, 2, 0.1, 1e6) == TrialScheduler.CONTINUE
    assert report(s, t, 2, 0.1, 1e6) == TrialScheduler.CONTINUE      # already recorded: no second entry
    assert report(s, t, 6, 0.9, 1e6, status="finished") == TrialScheduler.CONTINUE
    assert {k: len(v) for k, v in s.rungs.items()} == {2: 1}


def test_references_and_final_results_never_enter_a_rung():
    s = SuccessiveHalving("pareto_sh", OBJ, max_t=6, grace_period=2, eta=3)
    ref = FakeTrial(None, reference="resnet20")
    assert report(s, ref, 2, 0.99, 1e5) == TrialScheduler.CONTINUE
    s.on_trial_complete(None, ref, {"epoch": 6, "status": "finished", "val_top1": 0.99, "macs": 1e5})
    s.on_trial_complete(None, FakeTrial(7), {"epoch": 2, "status": "running", "val_top1": 0.99, "macs": 1e5})
    assert s.rungs == {2: {}}
    # so the first searched trial is not cut against a fully trained preset
    assert report(s, FakeTrial(0), 2, 0.2, 1e6) == TrialScheduler.CONTINUE


def test_rungs_rebuilt_from_records_decide_as_the_live_ones():
    live = SuccessiveHalving("pareto_sh", OBJ, max_t=9, grace_period=1, eta=3)
    records = []
    for n, (a1, a3, macs) in enumerate([(0.3, 0.6, 2e6), (0.2, 0.7, 5e6), (0.4, 0.5, 1e6), (0.1, 0.2, 3e6)]):
        t = FakeTrial(n)
        went_on = report(live, t, 1, a1, macs) == TrialScheduler.CONTINUE
        history = [{"epoch": 1, "val_top1": a1}]
        if went_on:
            report(live, t, 3, a3, macs)
            history.append({"epoch": 3, "val_top1": a3})
        records.append(TrialRecord(f"t{n:04d}", n, {}, f"h{n}", "finished" if went_on else "stopped",
                                   metrics={"macs": macs}, history=history))
    records.append(TrialRecord("ref-x", -1, {}, "hr", "finished", metrics={"macs": 1.0},
                               history=[{"epoch": 1, "val_top1": 0.99}], is_reference=True, reference_name="x"))
    rebuilt = SuccessiveHalving("pareto_sh", OBJ, max_t=9, grace_period=1, eta=3)
    assert rebuilt.rebuild(records) == sum(len(r) for r in live.rungs.values())
    assert rebuilt.rungs == live.rungs
    nxt = FakeTrial(4)
    assert report(rebuilt, nxt, 1, 0.25, 2.5e6) == report(live, FakeTrial(4), 1, 0.25, 2.5e6)


# ---- what the asynchronous scheduler guarantees (docs/STUDIES.md, "Early stopping"), one test per sentence ----
OBJ3 = [("val_top1", "max"), ("macs", "min"), ("params", "min")]


def _decide(points, objectives=OBJ3, eta=2):
    """Record ``points`` at the rung of epoch 1 in arrival order; the decisions, one per point."""
    s = SuccessiveHalving("pareto_sh", objectives, max_t=4, grace_period=1, eta=eta)
    return [s.record(f"t{i:04d}", i, 1, p) for i, p in enumerate(points)]


def _dominates(a, b, objectives=OBJ3):
    better = [x >= y if d == "max" else x <= y for x, y, (_, d) in zip(a, b, objectives)]
    return all(better) and a != b


def _random_rungs(seed, count=3000):
    import random

    rng = random.Random(seed)
    for _ in range(count):
        n = rng.randint(1, 9)
        yield [[rng.choice([0.1, 0.2, 0.3, 0.4]), rng.choice([1, 2, 3, 4]), rng.choice([1, 2, 3])] for _ in range(n)]


def test_each_decision_only_decides_the_newcomer():
    """"Each decision ranks the newcomer against the trials at its rung at that moment and decides its fate only.\""""
    s = SuccessiveHalving("pareto_sh", OBJ3, max_t=4, grace_period=1, eta=2)
    first = s.record("t0000", 0, 1, [0.1, 4, 3])
    s.record("t0001", 1, 1, [0.4, 1, 1])                 # dominates t0000 ...
    assert first.promoted and [d.promoted for d in s.decisions if d.trial == "t0000"] == [True]   # ... stands


def test_per_decision_a_newcomer_that_dominates_its_rung_goes_on():
    for rung in _random_rungs(1):
        new = rung[-1]
        if all(_dominates(new, p) for p in rung[:-1]):
            assert _decide(rung)[-1].promoted


def test_per_decision_a_newcomer_dominated_by_quota_trials_is_stopped():
    for rung in _random_rungs(2):
        last = _decide(rung)[-1]
        if sum(_dominates(p, rung[-1]) for p in rung[:-1]) >= last.quota:
            assert not last.promoted


def test_per_decision_a_newcomer_in_a_first_front_within_the_quota_goes_on():
    for rung in _random_rungs(3):
        last = _decide(rung)[-1]
        first_front = [p for p in rung if not any(_dominates(q, p) for q in rung)]
        if rung[-1] in first_front and len(first_front) <= last.quota:
            assert last.promoted


def test_per_rung_a_stopped_trial_can_dominate_a_later_trial_that_goes_on():
    """"Not per rung: a trial stopped early can dominate one that arrives later and goes on.\""""
    a, b = [0.4, 1, 1], [0.3, 2, 2]               # b: dominated by a, stopped at n=2 (quota 1)
    worse = [[0.1, 4, 3], [0.1, 4, 2], [0.1, 3, 3]]    # each dominated by ``late``
    late = [0.2, 3, 2]                            # dominated by b (and a); at n=6 the quota is 3
    decisions = _decide([a, b, *worse, late])
    assert not decisions[1].promoted and _dominates(b, late)
    assert decisions[-1].promoted and decisions[-1].quota == 3
    whole = promote([a, b, *worse, late], ["max", "min", "min"], quota=3)    # the rung ranked at once
    assert whole[1] and [d.promoted for d in decisions] != list(whole)


def test_ties_at_the_best_end_go_to_the_newcomer_and_at_the_worst_end_to_the_older_trial():
    """"A newcomer tied with an older trial at the best value of an objective takes that extreme; tied at the
    worst value, the older trial takes it.\""""
    older = [[0.3, 4, 3], [0.2, 1, 4], [0.2, 3, 1]]
    tied_worst = _decide(older + [[0.2, 2, 2]])[-1]        # ties the worst accuracy, 0.2, in the first front
    strictly_worst = _decide(older + [[0.15, 2, 2]])[-1]  # the same point, strictly the worst: an extreme
    assert tied_worst.front == strictly_worst.front == 0 and tied_worst.quota == 2
    assert strictly_worst.promoted and not tied_worst.promoted
    older = [[0.4, 1, 4], [0.2, 1, 2], [0.4, 3, 2]]
    tied_best = _decide(older + [[0.4, 2, 3]])[-1]         # ties the best accuracy, 0.4, in the first front
    inside = _decide(older + [[0.35, 2, 3]])[-1]          # the same point, not at an extreme
    assert tied_best.front == inside.front == 0 and tied_best.quota == 2
    assert tied_best.promoted and not inside.promoted


def test_a_large_rung_ranks_a_newcomer_against_its_latest_trials_only():
    """Past RUNG_WINDOW trials, a decision ranks the newcomer against the latest RUNG_WINDOW of the rung by
    trial number (bounded cost), exactly as promote() over those; the reason says so."""
    import numpy as np

    from studies.scheduler import RUNG_WINDOW

    s = SuccessiveHalving("pareto_sh", OBJ, max_t=4, grace_period=1, eta=3)
    rng = np.random.default_rng(5)
    points = {n: [float(rng.uniform(0.1, 0.9)), float(rng.uniform(1e5, 1e6))] for n in range(RUNG_WINDOW + 40)}
    for n in sorted(points, reverse=True):              # arrive in reverse: "latest" is by number, not arrival
        s.record(f"t{n:04d}", n, 1, points[n])
    d = s.record("t9999", 9999, 1, [0.5, 5e5])
    latest = sorted(points)[-RUNG_WINDOW:]
    expected = promote([[0.5, 5e5]] + [points[n] for n in latest], ["max", "min"], eta=3)[0]
    assert d.n == RUNG_WINDOW + 1 and d.windowed and d.promoted == bool(expected)
    assert "latest" in d.reason("pareto_sh") and len(s.rungs[1]) == RUNG_WINDOW + 41
    early = s.decisions[RUNG_WINDOW - 2]                    # a rung still small: every trial, not "latest"
    assert not early.windowed and early.n == RUNG_WINDOW - 1
