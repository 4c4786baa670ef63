"""StudySearcher without Ray: references first, the MACs budget, and waiting for a twin in training."""
import optuna
import pytest

from search_space.space import SearchSpace
from studies.config import StudyConfig
from studies.search import StudySearcher, estimate_macs


def make(tmp_path, **over):
    data = {"name": "s", "space": {"fixed": {"backbone.type": "resnet_cifar", "backbone.width": 0.25,
                                             "num_classes": 4, "input_size": [1, 8, 8]},
                                   "dimensions": {"backbone.depth": [8, 20], "attention.type": ["none", "se"],
                                                  "attention.reduction": [2]}},
            "sampler": {"type": "random"}, "storage": {"root": str(tmp_path)}, **over}
    cfg = StudyConfig.from_dict(data)
    space = SearchSpace.from_dict(cfg.space)
    return StudySearcher(cfg, space, optuna.storages.InMemoryStorage(), list(cfg.warm_start), {}, 4, (1, 8, 8))


def test_references_come_first_and_are_not_optuna_trials(tmp_path):
    s = make(tmp_path, warm_start=["resnet20"])
    first = s.suggest("a")
    assert first["reference"] == "resnet20" and first["number"] is None
    assert first["arch"]["input_size"] == [1, 8, 8] and first["arch"]["num_classes"] == 4
    second = s.suggest("b")
    assert second["reference"] is None and second["number"] == 0


def test_macs_budget_rejects_before_training(tmp_path):
    small = SearchSpace.from_dict({"fixed": {"backbone.type": "resnet_cifar", "backbone.width": 0.25,
                                             "num_classes": 4, "input_size": [1, 8, 8], "backbone.depth": 8}})
    budget = estimate_macs(small.sample(0)) * 1.5          # depth 8 fits, depth 20 does not
    s = make(tmp_path, macs_budget=budget)
    configs = [s.suggest(f"t{i}") for i in range(4)]
    configs = [c for c in configs if c]
    assert all(c["arch"]["backbone"]["depth"] == 8 for c in configs)
    assert s.rejected > 0
    pruned = s.inner._ot_study.get_trials(states=(optuna.trial.TrialState.PRUNED,))
    assert len(pruned) == s.rejected and all("macs_budget" in t.user_attrs["reason"] for t in pruned)


def test_twin_in_training_waits_then_comes_as_duplicate(tmp_path):
    s = make(tmp_path, space={"fixed": {"backbone.type": "resnet_cifar", "backbone.width": 0.25, "num_classes": 4,
                                        "input_size": [1, 8, 8], "backbone.depth": 8},
                              "dimensions": {"activation": ["relu"]}})
    first = s.suggest("a")
    assert first["duplicate_of"] is None
    assert s.suggest("b") is None            # same architecture still training: wait
    assert s.suggest("c") is None
    from analysis import TrialRecord
    rec = TrialRecord("t0000", 0, first["arch"], first["arch_hash"], "finished", metrics={"val_top1": 0.5, "macs": 9.0})
    s.completed[rec.arch_hash] = rec
    s.tell("a", rec.arch_hash, [0.5, 9.0], "COMPLETE", "finished", "")
    again = s.suggest("d")
    assert again["duplicate_of"]["trial_id"] == "t0000" and again["number"] == 1
    with pytest.raises(KeyError):
        s.running[again["arch_hash"]]
