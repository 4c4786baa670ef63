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


def suggested_stream(folder, sampler: dict, n: int, disable: str | None = None):
    """The arch hashes a searcher with ``sampler`` suggests over ``n`` finished trials on a small space, with its
    attribute ``disable`` (``window``, ``shared_space``) set to None first; and the searcher."""
    from ray.tune.search import Searcher

    from .test_searcher import SPACE, finish, make

    space = {**SPACE, "dimensions": {**SPACE["dimensions"], "activation": ["relu", "silu", "gelu", "elu", "celu"],
                                     "insertion_point": ["pre_add", "post_add"]}}
    s, life, _ = make(folder, space=space, sampler=sampler)
    if disable:
        setattr(s, disable, None)
    asked = []
    for i in range(n):
        c = s.suggest(str(i))
        assert c not in (None, Searcher.FINISHED)
        asked.append(c["arch_hash"])
        finish(life, c, acc=0.05 * (i % 7), macs=1000.0 + 10 * (i % 3))
    return asked, s


def test_below_the_window_tpe_asks_what_unbounded_tpe_asks(tmp_path):
    """A searcher whose TPE asks through the window suggests the same stream as one asking the study itself,
    as long as the study holds fewer finished trials than the window."""
    tpe = {"type": "tpe", "n_startup_trials": 3}
    windowed, s = suggested_stream(tmp_path / "windowed", tpe, 14)
    unbounded, _ = suggested_stream(tmp_path / "unbounded", tpe, 14, disable="window")
    assert s.window is not None and s.window.refills == 2      # the empty window, then filled from the study
    assert windowed == unbounded


def test_nsga2_with_the_shared_search_space_asks_what_nsga2_asks(tmp_path):
    """The searcher's NSGA-II keeps one intersection search space across asks; its stream equals that of a
    fresh NSGA-II per ask (which recomputes the space from every trial), over several generations."""
    nsga2 = {"type": "nsga2", "population_size": 4}
    shared, _ = suggested_stream(tmp_path / "shared", nsga2, 16, disable="window")
    fresh, s = suggested_stream(tmp_path / "fresh", nsga2, 16, disable="window")
    s.shared_space = None
    assert shared == fresh


def test_below_the_window_nsga2_asks_what_unbounded_nsga2_asks(tmp_path):
    """NSGA-II through the window (its generations and search space in the window's study) suggests the same
    stream as NSGA-II asking the study itself, over several generations, while the study is under the window."""
    nsga2 = {"type": "nsga2", "population_size": 4}
    windowed, s = suggested_stream(tmp_path / "windowed", nsga2, 20)
    unbounded, _ = suggested_stream(tmp_path / "unbounded", nsga2, 20, disable="window")
    assert s.window is not None and s.window.refills == 2
    assert windowed == unbounded


def test_past_the_window_nsga2_keeps_its_generation(tmp_path):
    """A refill keeps each trial's NSGA-II generation: past several refills of a window of 8, the window study's
    generations go on from the study's instead of starting again at 0."""
    from ray.tune.search import Searcher

    from studies.sampling import ModelWindow

    from .test_searcher import SPACE, finish, make

    space = {**SPACE, "dimensions": {**SPACE["dimensions"], "activation": ["relu", "silu", "gelu", "elu", "celu"],
                                     "insertion_point": ["pre_add", "post_add"]}}
    s, life, _ = make(tmp_path, space=space, sampler={"type": "nsga2", "population_size": 2})
    s.window = ModelWindow(s.study.directions, window=8)
    for i in range(30):
        c = s.suggest(str(i))
        if c in (None, Searcher.FINISHED):
            break
        finish(life, c, acc=0.05 * (i % 7), macs=1000.0 + 10 * (i % 3))
    assert s.window.refills >= 2
    key = "SharedSpaceNSGAII:generation"
    gens = [t.system_attrs[key] for t in s.window.study.get_trials() if key in t.system_attrs]
    assert gens and min(gens) >= 4          # the oldest kept trial is of a later generation than the first
    # the study's own trials keep it too, for the window a resumed study starts from
    window = ModelWindow(s.study.directions, window=8)
    window.fill(s.study.get_trials(deepcopy=False))
    kept = [t.system_attrs.get(key) for t in window.study.get_trials()]
    noted = [t.user_attrs.get("window_sampler_attrs", {}).get(key)
             for t in s.study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"][-8:]
    assert kept == noted and max(g for g in kept if g is not None) >= 4   # (random fallback points have none)
