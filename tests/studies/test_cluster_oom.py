"""An out-of-memory trial does not blacklist its architecture: on a shared device memory depends on what ran
beside it, so a later suggestion of the same architecture trains again instead of being answered from the
OOM record (a finished twin still answers duplicates)."""
import optuna
import pytest

from analysis import TrialRecord
from search_space.space import SearchSpace
from studies.config import StudyConfig
from studies.search import StudySearcher, Suggestion
from studies.study import Study

SPACE = {"fixed": {"backbone.type": "resnet_cifar", "backbone.width": 0.25, "num_classes": 4, "input_size": [1, 8, 8]},
         "dimensions": {"backbone.depth": [8, 20]}}


def searcher(tmp_path, records=()):
    cfg = StudyConfig.from_dict({"name": "s", "space": SPACE, "storage": {"root": str(tmp_path)}})
    storage = optuna.storages.InMemoryStorage()
    optuna.create_study(storage=storage, study_name="s", directions=["maximize", "minimize"])
    return StudySearcher(cfg, SearchSpace.from_dict(SPACE), storage, None, [], list(records), 4, (1, 8, 8))


def record(status, arch, trial_id="t0000"):
    return TrialRecord(trial_id=trial_id, number=0, arch=arch.to_dict(), arch_hash=arch.hash, status=status,
                       reason="out of memory" if status == "oom" else "", metrics={"val_top1": 0.5, "macs": 1e6})


@pytest.mark.parametrize("transient", ["oom", "lost"])
def test_an_oom_answers_no_duplicate_and_a_waiting_twin_trains(tmp_path, transient):
    s = searcher(tmp_path)
    arch = SearchSpace.from_dict(SPACE).suggest(optuna.trial.FixedTrial({"backbone.depth": 8}))
    s.running[arch.hash] = "t0000"
    twin = Suggestion(1, arch)
    s.waiting[arch.hash] = [twin]
    assert s.trial_ended(record(transient, arch)) == []
    assert arch.hash not in s.completed and s.reruns == [twin]


def test_a_finished_twin_still_answers(tmp_path):
    s = searcher(tmp_path)
    arch = SearchSpace.from_dict(SPACE).suggest(optuna.trial.FixedTrial({"backbone.depth": 8}))
    s.waiting[arch.hash] = [Suggestion(1, arch)]
    (dup,) = s.trial_ended(record("finished", arch))
    assert dup.status == "duplicate" and s.completed[arch.hash].status == "finished"


def test_a_resumed_study_does_not_answer_from_an_oom_record(tmp_path):
    cfg = StudyConfig.from_dict({"name": "s", "space": SPACE, "storage": {"root": str(tmp_path)}})
    study = Study.create(cfg)
    arch = SearchSpace.from_dict(SPACE).suggest(optuna.trial.FixedTrial({"backbone.depth": 8}))
    study.records = [record("oom", arch)]
    assert searcher(tmp_path, study.records).completed == {}
    study.records.append(record("finished", arch, "t0001"))
    assert searcher(tmp_path, study.records).completed[arch.hash].trial_id == "t0001"
