"""The grid sampler: every distinct point of a small conditional space exactly once, in walk order, the study
ending when the grid is exhausted; too large or continuous spaces are one clear line."""
import io

import optuna
import pytest

from search_space.errors import AttnasError
from search_space.space import SearchSpace
from studies.config import StudyConfig
from studies.grid import GridSampler, grid_points
from studies import lifecycle
from studies.search import StudySearcher

# conditional: reduction only for se/cbam, stage_mask only with attention; "000"-like folds are canonical
SPACE = {"fixed": {"backbone.type": "resnet_cifar", "backbone.width": 0.25, "num_classes": 4, "input_size": [1, 8, 8]},
         "dimensions": {"backbone.depth": [8, 14], "attention.type": ["none", "se", "eca", "cbam"],
                        "attention.reduction": [2, 4], "stage_mask": ["111", "011"]}}


def test_points_are_every_distinct_architecture_once_in_walk_order():
    space = SearchSpace.from_dict(SPACE)
    points = grid_points(space)
    archs = [space.suggest(optuna.trial.FixedTrial(p)) for p in points]
    hashes = [a.hash for a in archs]
    assert len(points) == space.size() == len(set(hashes))
    assert set(hashes) == {a.hash for a in space.configs()}
    # stated order: the first dimension outermost, each dimension's choices in the order listed
    assert [a.backbone.params["depth"] for a in archs] == sorted(a.backbone.params["depth"] for a in archs)
    assert points[0] == {"backbone.depth": 8, "attention.type": "none"}
    types = [p["attention.type"] for p in points if p["backbone.depth"] == 8]
    assert types == ["none"] + ["se"] * 4 + ["eca"] * 2 + ["cbam"] * 4


def test_a_continuous_or_too_large_space_is_one_line(monkeypatch):
    fixed = {k: v for k, v in SPACE["fixed"].items() if k != "backbone.width"}
    cont = SearchSpace.from_dict({"fixed": fixed, "dimensions": {"backbone.width": {"low": 0.25, "high": 1.0}}})
    with pytest.raises(AttnasError, match="continuous"):
        grid_points(cont)
    monkeypatch.setattr("studies.grid.GRID_MAX_POINTS", 10)
    size = SearchSpace.from_dict(SPACE).size()
    with pytest.raises(AttnasError, match=rf"sampler.type: 'grid' enumerates every point, and this space has {size} "
                                          rf"architectures; allowed: a space of at most 10 for grid"):
        StudyConfig.from_dict({"name": "g", "space": SPACE, "sampler": "grid"})
    with pytest.raises(AttnasError, match="sampler.seed: grid takes no options"):
        StudyConfig.from_dict({"name": "g", "space": SPACE, "sampler": {"type": "grid", "seed": 1}})


def test_budget_defaults_to_the_grid_and_the_study_ends_when_it_is_exhausted(tmp_path):
    cfg = StudyConfig.from_dict({"name": "g", "space": SPACE, "sampler": "grid", "warm_start": ["resnet20"],
                                 "storage": {"root": str(tmp_path)},
                                 "hypervolume_reference": {"val_top1": 0.0, "macs": 1e9}})
    space = SearchSpace.from_dict(cfg.space)
    assert cfg.trials == space.size() + 1

    class FakeStudy:
        def __init__(self):
            self.cfg, self.trials_path, self.records, self.state = cfg, tmp_path / "trials.jsonl", [], {}
            self.dir = tmp_path

    class Lifecycle(lifecycle.Lifecycle):
        def end_run(self, record):
            pass              # no MLflow here

        def publish(self, force):
            pass              # nor a report

    storage = optuna.storages.InMemoryStorage()
    optuna.create_study(storage=storage, study_name="g", directions=["maximize", "minimize"])
    life = Lifecycle(FakeStudy(), out=io.StringIO())
    s = StudySearcher(cfg, space, storage, life, list(cfg.warm_start), [], 4, (1, 8, 8))
    life.attach(s)
    seen = []
    while True:
        c = s.suggest(f"x{len(seen)}")
        if c == StudySearcher.FINISHED:
            break
        seen.append(c["arch_hash"])
        life.ended(c, {"status": "finished", "epoch": 2, "val_top1": 0.5, "macs": 1000.0})
    assert len(seen) == len(set(seen)) == space.size() + 1          # each point once, plus the reference
    assert not [r for r in life.study.records if r.status == "duplicate"]
    assert "space exhausted" in s.finished_reason


def test_a_new_sampler_continues_after_the_points_the_study_holds():
    """Resume: a fresh GridSampler on the same storage hands out the next untaken point."""
    space = SearchSpace.from_dict(SPACE)
    points = grid_points(space)
    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(storage=storage, study_name="g", sampler=GridSampler(points))
    for _ in range(3):
        t = study.ask()
        space.suggest(t)
        study.tell(t, 1.0)
    resumed = optuna.load_study(study_name="g", storage=storage, sampler=GridSampler(points))
    t = resumed.ask()
    space.suggest(t)
    assert [tr.params for tr in resumed.get_trials()] == points[:4]
