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
    assert last == TrialScheduler.STOP and "validation accuracy" in asha.stopped["t0005"].reason("asha")


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
