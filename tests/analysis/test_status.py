"""The status vocabulary: declared once, each with its Optuna state and MLflow run status."""
import pytest

from analysis.status import ALIASES, STATUS, STATUSES, VOCABULARY, answers, finite, status, trial_key
from analysis.trials import TrialRecord


def test_every_status_is_declared_once_with_valid_states():
    assert len(STATUSES) == len(set(STATUSES)) == len(VOCABULARY)
    for s in VOCABULARY:
        assert s.optuna_state in ("COMPLETE", "FAIL", "twin", None)
        assert s.run_status in ("FINISHED", "FAILED", "KILLED", None)
        assert s.meaning
    # what spends the budget is what trains; only finished trials may be on the front
    assert {s.name for s in VOCABULARY if s.counts} == {"finished", "stopped", "diverged", "oom", "failed", "lost"}
    assert [s.name for s in VOCABULARY if s.front] == ["finished"]
    assert status("interrupted").optuna_state is None and status("interrupted").run_status == "KILLED"


def test_names_of_earlier_versions_read_as_todays():
    assert status("pruned") is STATUS["stopped"] and set(ALIASES.values()) <= set(STATUSES)
    rec = TrialRecord.from_dict({"trial_id": "t0001", "number": 1, "arch": {}, "arch_hash": "h", "status": "pruned"})
    assert rec.status == "stopped" and rec.counts
    with pytest.raises(KeyError):
        status("done")


def test_only_outcomes_of_the_architecture_answer_its_duplicates_at_the_same_fidelity():
    assert {s.name for s in VOCABULARY if s.answers} == {"finished", "stopped", "diverged", "failed"}
    at = {"epochs": 4, "train_subset": None, "data": "digits", "image_size": 16}

    def rec(name, fidelity):
        return TrialRecord(trial_id="t0001", number=1, arch={}, arch_hash="h", status=name, fidelity=fidelity)

    assert answers(rec("failed", at), at) and not answers(rec("lost", at), at) and not answers(rec("oom", at), at)
    assert not answers(rec("finished", at), {**at, "epochs": 8})       # another fidelity answers nothing
    assert answers(rec("finished", {}), at)                             # written before fidelities were recorded


def test_the_trial_key_and_the_finite_check_are_written_once():
    assert trial_key(7) == "t0007" and trial_key(None, "resnet20") == "ref-resnet20"
    assert [finite(v) for v in (1, 0.5, float("nan"), float("inf"), True, None, "1")] == \
        [True, True, False, False, False, False, False]
