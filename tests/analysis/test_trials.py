"""TrialRecord and trials.jsonl: round trip, truncated lines from a killed writer, de-duplication."""
import json
import math
import warnings

import pytest

from analysis.trials import (TrialRecord, append_trial, front_candidates, parse_objectives, read_trials,
                             write_trials)
from search_space.errors import AttnasError

ARCH = {"backbone": {"type": "resnet_cifar", "depth": 8}, "num_classes": 10}


def rec(tid, number, status="finished", **metrics):
    return TrialRecord(tid, number, ARCH, "abc123", status, metrics=metrics,
                       history=[{"epoch": 1, "val_top1": metrics.get("val_top1")}])


def test_dict_round_trip():
    r = TrialRecord("t1", 3, ARCH, "abc", "stopped", "asha rung 1", {"val_top1": 0.5}, [{"epoch": 1}], True, "resnet20")
    assert TrialRecord.from_dict(json.loads(json.dumps(r.to_dict()))) == r


def test_append_and_read(tmp_path):
    path = tmp_path / "study" / "trials.jsonl"
    append_trial(path, rec("b", 1, val_top1=0.8, macs=50))
    append_trial(path, rec("a", 0, val_top1=0.7, macs=40))
    assert [r.trial_id for r in read_trials(path)] == ["a", "b"]       # sorted by number
    assert read_trials(path)[1].metrics == {"val_top1": 0.8, "macs": 50}


def test_truncated_last_line_is_skipped(tmp_path):
    path = tmp_path / "trials.jsonl"
    append_trial(path, rec("a", 0, val_top1=0.7))
    with open(path, "a") as f:
        f.write(json.dumps(rec("b", 1).to_dict())[:40])              # killed mid-write
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [r.trial_id for r in read_trials(path)] == ["a"]
    # a resumed study appends after the cut line: the new record keeps a line of its own
    append_trial(path, rec("b", 1, val_top1=0.9))
    with pytest.warns(UserWarning, match=r"trials.jsonl:2: skipped a truncated trial record"):
        records = read_trials(path)
    assert [(r.trial_id, r.metrics["val_top1"]) for r in records] == [("a", 0.7), ("b", 0.9)]


def test_dedup_keeps_last(tmp_path):
    path = tmp_path / "trials.jsonl"
    append_trial(path, rec("a", 0, "failed"))
    append_trial(path, rec("b", 1, val_top1=0.6))
    append_trial(path, rec("a", 0, val_top1=0.75))
    records = read_trials(path)
    assert [(r.trial_id, r.status) for r in records] == [("a", "finished"), ("b", "finished")]


def test_non_finite_values_are_written_as_null(tmp_path):
    path = tmp_path / "trials.jsonl"
    write_trials(path, [rec("a", 0, "diverged", val_loss=math.nan, val_top1=0.1)])
    line = path.read_text()
    assert "NaN" not in line and json.loads(line)["metrics"]["val_loss"] is None
    (r,) = read_trials(path)
    assert r.metric("val_loss") is None and r.metric("val_top1") == 0.1 and r.metric("absent") is None


def test_bad_records(tmp_path):
    with pytest.raises(AttnasError, match=r"status: 'done' is not allowed; allowed: finished, stopped"):
        rec("a", 0, "done")
    with pytest.raises(AttnasError, match=r"trial.colour: unknown field"):
        TrialRecord.from_dict({**rec("a", 0).to_dict(), "colour": "red"})
    with pytest.raises(AttnasError, match=r"trial.number: '3' is not allowed; allowed: an integer"):
        TrialRecord.from_dict({**rec("a", 0).to_dict(), "number": "3"})
    path = tmp_path / "trials.jsonl"
    path.write_text('{"trial_id": "a", "number": 0}\n')
    with pytest.raises(AttnasError, match=r"trials.jsonl:1: trial.arch: missing"):
        read_trials(path)
    with pytest.raises(AttnasError, match=r"does not exist"):
        read_trials(tmp_path / "nope.jsonl")


def test_parse_objectives():
    assert parse_objectives(None) == [("val_top1", "max"), ("macs", "min")]
    assert parse_objectives([{"metric": "val_top1", "direction": "max"}, {"metric": "latency_ms", "direction": "min"}]) \
        == [("val_top1", "max"), ("latency_ms", "min")]
    assert parse_objectives([("params", "min")]) == [("params", "min")]
    with pytest.raises(AttnasError, match=r"objectives\[0\].direction: 'up' is not allowed; allowed: max, min"):
        parse_objectives([{"metric": "macs", "direction": "up"}])
    with pytest.raises(AttnasError, match=r"objectives: .* repeats a metric"):
        parse_objectives([("macs", "min"), ("macs", "min")])
    with pytest.raises(AttnasError, match=r"objectives: \[\] is not allowed"):
        parse_objectives([])


def test_front_candidates_need_finished_and_every_objective():
    records = [rec("a", 0, val_top1=0.7, macs=1), rec("b", 1, "stopped", val_top1=0.9, macs=1),
               rec("c", 2, val_top1=0.8), rec("d", 3, val_top1=math.inf, macs=2)]
    assert [r.trial_id for r in front_candidates(records, [("val_top1", "max"), ("macs", "min")])] == ["a"]
