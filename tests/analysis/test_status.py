"""The status vocabulary: declared once, each with its Optuna state and MLflow run status."""
import pytest

from analysis.status import ALIASES, STATUS, STATUSES, VOCABULARY, status
from analysis.trials import TrialRecord


def test_every_status_is_declared_once_with_valid_states():
    assert len(STATUSES) == len(set(STATUSES)) == len(VOCABULARY)
    for s in VOCABULARY:
        assert s.optuna_state in ("COMPLETE", "FAIL", "twin", None)
        assert s.run_status in ("FINISHED", "FAILED", "KILLED", None)
        assert s.meaning
    # what spends the budget is what trains; only finished trials may be on the front
    assert {s.name for s in VOCABULARY if s.counts} == {"finished", "stopped", "diverged", "oom", "failed"}
    assert [s.name for s in VOCABULARY if s.front] == ["finished"]
    assert status("interrupted").optuna_state is None and status("interrupted").run_status == "KILLED"


def test_names_of_earlier_versions_read_as_todays():
    assert status("pruned") is STATUS["stopped"] and set(ALIASES.values()) <= set(STATUSES)
    rec = TrialRecord.from_dict({"trial_id": "t0001", "number": 1, "arch": {}, "arch_hash": "h", "status": "pruned"})
    assert rec.status == "stopped" and rec.counts
    with pytest.raises(KeyError):
        status("done")
