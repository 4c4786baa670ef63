"""ModelWindow: TPE models at most the window's latest finished trials, asks of it run as the constant liar
expects, and a searcher with a window hands the same stream to a resumed study."""
import optuna
from optuna.trial import TrialState

from studies.sampling import ModelWindow


def test_the_window_keeps_the_latest_finished_trials_and_refills_in_bulk():
    w = ModelWindow(["maximize"], window=5)
    for number in range(13):
        t = w.ask(optuna.samplers.RandomSampler(seed=number))
        x = t.suggest_int("x", 0, 100)
        w.asked_as(number, t)
        w.tell(number, [float(x)], TrialState.COMPLETE, t.params, t.distributions)
    # refilled at 10 finished (2 x 5): the latest 5, then 3 more
    held = w.study.get_trials(states=(TrialState.COMPLETE,))
    assert len(held) == 8 and w.refills == 2
    assert not w.asked


def test_a_trial_the_window_did_not_ask_is_added_when_it_ends_and_a_running_one_is_seen():
    w = ModelWindow(["maximize", "minimize"], window=3)
    running = w.ask(optuna.samplers.RandomSampler(seed=0))
    running.suggest_categorical("a", ["x", "y"])
    w.asked_as(0, running)
    assert [t.state for t in w.study.get_trials()] == [TrialState.RUNNING]    # TPE's constant liar sees it
    dist = {"a": optuna.distributions.CategoricalDistribution(["x", "y"])}
    w.tell(7, [0.5, 2.0], TrialState.COMPLETE, {"a": "y"}, dist)                # asked elsewhere (a random fallback)
    w.tell(8, None, TrialState.FAIL, {}, {})                                    # nothing to model: ignored
    w.tell(0, None, TrialState.FAIL, running.params, running.distributions)
    assert [t.state for t in w.study.get_trials()] == [TrialState.FAIL, TrialState.COMPLETE]
    assert w.study.get_trials()[1].params == {"a": "y"}
