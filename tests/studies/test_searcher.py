"""StudySearcher and the trial lifecycle without Ray: references, answered suggestions (duplicates, MACs budget,
exhausted space), a waiting twin that stalls nothing, stream continuation on resume, told values, failed tells."""
import io

import optuna
import pytest
from ray.tune.search import Searcher

from analysis import TrialRecord
from search_space.space import SearchSpace
from studies.config import StudyConfig
from studies import lifecycle
from studies.search import StudySearcher, derive_seed, estimate_macs
from studies.study import Study

SPACE = {"fixed": {"backbone.type": "resnet_cifar", "backbone.width": 0.25, "num_classes": 4, "input_size": [1, 8, 8]},
         "dimensions": {"backbone.depth": [8, 20], "attention.type": ["none", "se"], "attention.reduction": [2]}}


class FakeStudy:
    """What the lifecycle needs of a Study, in memory (no MLflow, no report)."""

    def __init__(self, cfg, tmp_path):
        self.cfg, self.trials_path, self.records, self.state = cfg, tmp_path / "trials.jsonl", [], {}
        self.dir = tmp_path

    current = Study.current                 # the study's own rules on its records


class Lifecycle(lifecycle.Lifecycle):
    """The study's lifecycle without MLflow runs or the live report."""

    def end_run(self, record):
        pass

    def publish(self, force):
        pass


def make(tmp_path, storage=None, records=(), **over):
    data = {"name": "s", "space": SPACE, "sampler": {"type": "random"}, "storage": {"root": str(tmp_path)},
            "hypervolume_reference": {"val_top1": 0.0, "macs": 1e9}, "fidelity": {"epochs": 2}, **over}
    cfg = StudyConfig.from_dict(data)
    storage = storage or optuna.storages.InMemoryStorage()
    ot = optuna.create_study(storage=storage, study_name="s", directions=["maximize", "minimize"],
                             load_if_exists=True)
    study = FakeStudy(cfg, tmp_path)
    study.records = list(records)
    life = Lifecycle(study, out=io.StringIO())
    s = StudySearcher(cfg, SearchSpace.from_dict(cfg.space), storage, life, list(cfg.reference_names), study.records,
                      4, (1, 8, 8))
    life.attach(s)
    return s, life, ot


def finish(life, config, acc=0.5, macs=None, epochs=2):
    """End a dispatched trial as the trainable would have after its last epoch."""
    macs = macs if macs is not None else 1000.0 + config["arch"]["backbone"]["depth"]
    history = [{"epoch": e, "val_top1": acc * e / epochs} for e in range(1, epochs + 1)]
    life.histories[config["key"]] = history
    return life.ended(config, {"status": "finished", "epoch": epochs, "val_top1": acc, "macs": macs})


def test_references_come_first_and_are_not_optuna_trials(tmp_path):
    s, _, ot = make(tmp_path, warm_start=["resnet20"])
    first = s.suggest("a")
    assert first["reference"] == "resnet20" and first["number"] is None and first["key"] == "ref-resnet20"
    assert first["arch"]["input_size"] == [1, 8, 8] and first["arch"]["num_classes"] == 4
    assert not ot.get_trials()
    second = s.suggest("b")
    assert second["reference"] is None and second["number"] == 0 and second["key"] == "t0000"


def test_warm_starts_and_arms_equal_by_hash_are_answered_from_the_first_unless_a_seed_replicate(tmp_path):
    tiny = {"backbone": {"type": "resnet_cifar", "depth": 8, "width": 0.25}, "num_classes": 4, "input_size": [1, 8, 8]}
    s, life, _ = make(tmp_path, warm_start=["resnet20", {"name": "r20-again", "arch": "resnet20"}],
                      arms=[{"name": "base", "arch": tiny}, {"name": "again", "arch": tiny},
                            {"name": "seed1", "arch": tiny, "replicate": 1}])
    dispatched = []
    while True:
        c = s.suggest(str(len(dispatched)))
        if c["reference"] is None:
            break
        dispatched.append(c)
    # each of the two architectures trains once; the seed replicate trains again; the twins wait without a slot
    assert [c["key"] for c in dispatched] == ["ref-resnet20", "ref-base", "ref-seed1"]
    assert dispatched[2]["replicate"] == 1 and dispatched[2]["arch_hash"] == dispatched[1]["arch_hash"]
    for c in dispatched:
        finish(life, c, acc=0.5)
    by_key = {r.trial_id: r for r in life.study.records}
    assert by_key["ref-r20-again"].status == "duplicate" and by_key["ref-r20-again"].twin == "ref-resnet20"
    assert by_key["ref-again"].status == "duplicate" and by_key["ref-again"].twin == "ref-base"
    assert by_key["ref-seed1"].status == "finished" and not by_key["ref-again"].counts


def test_macs_budget_rejects_before_training_and_tells_an_infeasible_result(tmp_path):
    small = SearchSpace.from_dict({**SPACE, "fixed": {**SPACE["fixed"], "backbone.depth": 8}, "dimensions": {}})
    budget = estimate_macs(small.sample(0)) * 1.5          # depth 8 fits, depth 20 does not
    s, life, ot = make(tmp_path, macs_budget=budget)
    configs = [s.suggest(f"t{i}") for i in range(2)]
    assert all(c["arch"]["backbone"]["depth"] == 8 for c in configs)
    rejected = [r for r in life.study.records if r.status == "rejected"]
    assert rejected and all(not r.counts for r in rejected)
    for r in rejected:
        t = ot.get_trials()[r.number]
        assert t.state.name == "COMPLETE" and t.values == [0.0, r.metrics["macs"]]
        assert t.constraints["macs_budget"] > 0 and "macs_budget" in t.user_attrs["reason"]


def test_a_waiting_twin_stalls_nothing_and_is_answered_from_its_record(tmp_path):
    s, life, ot = make(tmp_path)
    first = s.suggest("a")
    # ask until the sampler repeats the running architecture: the repeat waits, another one is dispatched
    seen = [first]
    while not s.waiting:
        c = s.suggest(f"x{len(seen)}")
        assert c is not None and c != Searcher.FINISHED
        seen.append(c)
    waiting = [w for group in s.waiting.values() for w in group]
    twin_config = next(c for c in seen if c["arch_hash"] == waiting[0].arch.hash)
    rec = finish(life, twin_config, acc=0.75)
    dups = [r for r in life.study.records if r.status == "duplicate"]
    assert dups and all(d.told == rec.told and twin_config["key"] in d.reason for d in dups)
    for d in dups:
        assert ot.get_trials()[d.number].values == rec.told
    assert waiting[0].arch.hash not in s.waiting


def test_exhausted_space_ends_the_search_with_a_line(tmp_path):
    s, life, _ = make(tmp_path)
    configs = []
    while True:
        c = s.suggest(f"x{len(configs)}")
        if c == Searcher.FINISHED:
            break
        if c is not None:
            configs.append(c)
            finish(life, c)
    assert len(configs) == s.size == 4              # depth 8/20 x (none, se): each trained once
    assert "space exhausted" in life.out.getvalue()


def test_resumed_searcher_continues_the_sampler_stream(tmp_path):
    def run(split):
        storage = optuna.storages.InMemoryStorage()
        s, life, _ = make(tmp_path / f"r{split}", storage=storage, sampler={"type": "tpe", "n_startup_trials": 2},
                          space={**SPACE, "dimensions": {**SPACE["dimensions"],
                                                         "activation": ["relu", "silu", "gelu", "elu"]}})
        asked = []
        for i in range(8):
            if i == split:                           # a new process: a new searcher on the same storage
                s, life, _ = make(tmp_path / f"r{split}", storage=storage, records=life.study.records,
                                  sampler={"type": "tpe", "n_startup_trials": 2},
                                  space={**SPACE, "dimensions": {**SPACE["dimensions"],
                                                                 "activation": ["relu", "silu", "gelu", "elu"]}})
            c = s.suggest(str(i))
            if c in (None, Searcher.FINISHED):
                break
            asked.append((c["number"], c["arch_hash"]))
            finish(life, c, acc=0.1 * (i % 5))
        return asked

    whole = run(split=99)
    assert run(split=3) == whole and len(whole) >= 4
    assert derive_seed(0, 3) != derive_seed(0, 4) and derive_seed(0, 3) == derive_seed(0, 3)


def test_stopped_trial_is_told_its_fidelity_corrected_accuracy(tmp_path):
    s, life, ot = make(tmp_path)
    a = s.suggest("a")
    finish(life, a, acc=0.9, epochs=2)                       # calibration: epoch 1 at .45 -> .9 at epoch 2
    b = s.suggest("b")
    life.histories[b["key"]] = [{"epoch": 1, "val_top1": 0.2}]
    rec = life.ended(b, {"status": "running", "epoch": 1, "val_top1": 0.2, "macs": 50.0})
    assert rec.status == "stopped"
    ratio = (1 - 0.9) / (1 - 0.45)
    assert rec.told == pytest.approx([1 - 0.8 * ratio, 50.0])
    assert ot.get_trials()[rec.number].state.name == "COMPLETE"


def test_a_tell_optuna_refuses_is_an_error_on_the_trial(tmp_path):
    s, life, ot = make(tmp_path)
    a = s.suggest("a")
    life.histories[a["key"]] = [{"epoch": 2, "val_top1": 0.5}]
    rec = life.ended(a, {"status": "finished", "epoch": 2, "val_top1": 0.5})       # no MACs reported
    assert rec.status == "failed" and "Optuna did not take the result" in rec.reason
    assert ot.get_trials()[0].state.name == "FAIL"
    assert "Optuna did not take the result" in life.out.getvalue()
