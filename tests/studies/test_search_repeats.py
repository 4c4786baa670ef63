"""Repeated suggestions cost nothing and never end a search early: a sampler that only repeats itself gets
random unseen points instead (said once), a small space is trained to its last point, the share is summed up."""
from ray.tune.search import Searcher

from studies.search import REPEATS_BEFORE_FALLBACK

from .test_searcher import SPACE, finish, make

SMALL = {**SPACE, "dimensions": {**SPACE["dimensions"], "activation": ["relu", "silu", "gelu", "elu", "celu", "relu6", "leaky_relu", "hard_swish"],
                                     "insertion_point": ["pre_add", "post_add"]}}
"""42 points: 8 activation names, celu and elu one (layers.ACTIVATION_ALIASES)."""


def test_a_repeating_sampler_falls_back_and_trains_every_point_of_a_small_space(tmp_path):
    s, life, ot = make(tmp_path, space=SMALL, sampler={"type": "tpe", "n_startup_trials": 2})
    trained = []
    while True:
        c = s.suggest(f"x{len(trained)}")
        if c == Searcher.FINISHED:
            break
        assert c is not None
        trained.append(c["arch_hash"])
        finish(life, c, acc=0.9 if c["arch"]["backbone"]["depth"] == 8 else 0.1)   # TPE keeps asking depth 8
    out = life.out.getvalue()
    assert len(set(trained)) == len(trained) == s.size == 42
    assert "the sampler has suggested all 42" in out
    assert out.count("random unseen points are asked instead") == 1
    line = s.repeat_line(life.study.records)
    repeats = sum(r.status == "duplicate" for r in life.study.records)
    assert repeats >= REPEATS_BEFORE_FALLBACK and f"of which {repeats} (" in line
    assert len(ot.get_trials()) == len(life.study.records)       # every repeat is an Optuna trial, told


def test_the_fallback_modes_in_order(tmp_path):
    s, life, _ = make(tmp_path, space=SMALL)
    assert s.ask_mode(0) == s.ask_mode(REPEATS_BEFORE_FALLBACK - 1) == "sampler"
    assert s.ask_mode(REPEATS_BEFORE_FALLBACK) == "random"
    assert s.ask_mode(2 * REPEATS_BEFORE_FALLBACK) == "unseen"       # 42 points: small enough to enumerate
    assert len(s.unseen_points()) == 42
