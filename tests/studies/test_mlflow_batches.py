"""The MLflow thread batches: the calls queued together are run in order while the tracker holds their metrics,
params and tags, then sent as one ``log_batch`` per run (studies.tracking.Background, MlflowTracker.collecting).
The runs hold what they hold when every call is sent alone, and a held write that fails is reported against the
trial of the call that made it."""
import io
import json
import threading

import pytest
from mlflow.entities import Metric, Param, RunTag
from mlflow.utils.validation import MAX_ENTITIES_PER_BATCH, MAX_METRICS_PER_BATCH, MAX_PARAMS_TAGS_PER_BATCH

from studies.config import StudyConfig
from studies.tracking import EPOCH_METRICS, FINAL_METRICS, Background, MlflowTracker, batches, merged


@pytest.fixture(scope="module")
def uri(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('store') / 'mlflow.db'}"


def drive(tracker: MlflowTracker, submit) -> None:
    """What a study logs for two trials, interleaved as their reports arrive: runs, epochs, endings, a log."""
    arch = {f"backbone.p{i}": i for i in range(120)}         # more params than one log_batch takes
    for key in ("t0000", "t0001"):
        submit(key, tracker.start_trial, key, f"{key} arch", arch, "a: 1\n", {"arch_hash": key})
    for epoch in (1, 2):
        for key in ("t0000", "t0001"):
            submit(key, tracker.log_epoch, key, epoch, {"train_loss": 1.0 / epoch, "val_top1": 0.1 * epoch,
                                                        "lr": float("nan")})
    submit("t0000", tracker.end_trial, "t0000", "finished", "", {"val_top1": 0.2, "epochs": 2},
           tags={"attnas.node": "n0", "status": "finished"})
    submit("t0001", tracker.end_trial, "t0001", "failed", "boom", {"epochs": 2}, tags={"attnas.node": "n1"})


def content(tracker: MlflowTracker) -> dict:
    """Each trial's run as MLflow has it, without ids and times."""
    out = {}
    for key in ("t0000", "t0001"):
        run = tracker.client.get_run(tracker.runs[key])
        tags = {k: v for k, v in run.data.tags.items() if k != "mlflow.parentRunId"}
        history = {k: sorted((m.step, m.value) for m in tracker.client.get_metric_history(run.info.run_id, k))
                   for k in run.data.metrics}
        out[key] = (run.info.status, run.data.params, tags, history,
                    [f.path for f in tracker.client.list_artifacts(run.info.run_id)])
    return out


def study(uri, tmp_path, name) -> MlflowTracker:
    (tmp_path / name).mkdir()
    tracker = MlflowTracker(uri, tmp_path / name)
    cfg = StudyConfig.from_dict({"name": name, "space": "quick", "data": {"name": "synthetic", "image_size": 8}})
    tracker.start_study(name, cfg.to_dict(), {})
    return tracker


def test_batched_runs_hold_what_unbatched_ones_do(uri, tmp_path, monkeypatch):
    alone = study(uri, tmp_path, "alone")
    drive(alone, lambda label, fn, *a, **k: fn(*a, **k))
    batched = study(uri, tmp_path, "batched")
    sent = []
    log_batch = batched.client.log_batch
    monkeypatch.setattr(batched.client, "log_batch",
                        lambda run_id, **kw: sent.append(run_id) or log_batch(run_id, **kw))
    background = Background(out=io.StringIO(), batcher=batched)
    go = threading.Event()
    background.submit("study", go.wait)           # holds the worker: the calls below are drained together
    drive(batched, background.submit)
    go.set()
    background.flush()
    assert background.errors == []
    assert sorted(sent) == sorted([batched.runs["t0000"], batched.runs["t0001"]] * 2)   # 120 params: 2 calls a run
    assert json.loads(batched.runs_file.read_text()) == batched.runs        # rewritten once, when the batch was sent
    expected = content(alone)
    assert expected["t0000"][0] == "FINISHED" and len(expected["t0000"][1]) == 120
    assert expected["t0001"][2]["status"] == "failed" and expected["t0000"][3]["train_loss"] == [(1, 1.0), (2, 0.5)]
    assert content(batched) == expected


def test_a_failed_batch_is_reported_against_its_trial(uri, tmp_path):
    tracker = study(uri, tmp_path, "failing")
    for key in ("t0000", "t0001"):
        tracker.start_trial(key, key, {"x": 1}, "a: 1\n", {})
    tracker.client.delete_run(tracker.runs["t0001"])           # its writes are refused from now on
    out = io.StringIO()
    background = Background(out=out, batcher=tracker)
    for epoch in (1, 2):
        for key in ("t0000", "t0001"):
            background.submit(key, tracker.log_epoch, key, epoch, {"val_top1": 0.1 * epoch})
    background.flush()
    assert [label for label, _ in background.errors] == ["t0001"] * len(background.errors) != []
    assert "MlflowException" in background.errors[0][1] and "attnas: MLflow call for t0001 failed" in out.getvalue()
    history = tracker.client.get_metric_history(tracker.runs["t0000"], "val_top1")
    assert sorted(m.step for m in history) == [1, 2]


def test_batches_keep_mlflow_limits_and_everything():
    metrics = [Metric(f"m{i % 7}", float(i), 0, i) for i in range(2500)]
    params = [Param(f"p{i}", "v") for i in range(250)]
    tags = [RunTag(f"t{i}", "x" * 4000) for i in range(150)]
    calls = list(batches(metrics, params, tags))
    for m, p, t in calls:
        assert len(m) <= MAX_METRICS_PER_BATCH and len(p) <= MAX_PARAMS_TAGS_PER_BATCH
        assert len(t) <= MAX_PARAMS_TAGS_PER_BATCH and len(m) + len(p) + len(t) <= MAX_ENTITIES_PER_BATCH
        assert 0 < sum(len(x.key) + len(str(x.value)) for x in (*m, *p, *t)) <= 500_000
    assert [x for c in calls for x in c[0]] == metrics
    assert [x for c in calls for x in c[1]] == params and [x for c in calls for x in c[2]] == tags
    assert list(batches([], [], [])) == []


def test_merged_keeps_the_last_tag_and_refuses_a_changed_param():
    one = merged([("a", [], [Param("p", "1")], [RunTag("status", "running")]),
                  ("a", [Metric("m", 1.0, 0, 1)], [Param("p", "1")], [RunTag("status", "finished")])])
    assert one == ([Metric("m", 1.0, 0, 1)], [Param("p", "1")], [RunTag("status", "finished")])
    assert merged([("a", [], [Param("p", "1")], []), ("a", [], [Param("p", "2")], [])]) is None


def test_the_store_is_analyzed_so_children_by_metric_are_not_scanned_per_child(uri, tmp_path):
    """SQLite plans MLflow's children-by-metric search (the UI's runs page) with a scan of every child's metric
    row per child unless the store has statistics (studies.tracking.analyze_store): 4.8 s at 10,000 children."""
    import sqlite3

    import sqlalchemy
    from sqlalchemy import event

    tracker = study(uri, tmp_path, "analyzed")
    background = Background(out=io.StringIO(), batcher=tracker)
    for number in range(24):        # children like a study's; from about 16 on, statistics change the plan
        key, acc = f"t{number:04d}", number / 100
        background.submit(key, tracker.start_trial, key, key, {f"p{i}": i for i in range(20)}, "a: 1\n",
                          {"arch_hash": key, "arch_name": key, "optuna_number": str(number)})
        background.submit(key, tracker.log_epoch, key, 1, {k: acc for k in EPOCH_METRICS})
        background.submit(key, tracker.end_trial, key, "finished", "", {k: acc for k in FINAL_METRICS},
                          tags={f"attnas.{k}": "x" for k in ("node", "device", "started_at", "ended_at")})
    background.flush()
    assert background.errors == []
    tracker.end_study("FINISHED")
    db = sqlite3.connect(uri[len("sqlite:///"):])
    assert {"tags", "latest_metrics", "runs"} <= {row[0] for row in db.execute("SELECT tbl FROM sqlite_stat1")}
    statements = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    event.listen(sqlalchemy.engine.Engine, "before_cursor_execute", seen)
    try:
        runs = tracker.client.search_runs([tracker.experiment_id], f"tags.`mlflow.parentRunId` = '{tracker.parent_id}'",
                                          order_by=["metrics.val_top1 DESC"], max_results=3)
    finally:
        event.remove(sqlalchemy.engine.Engine, "before_cursor_execute", seen)
    assert [r.data.tags["attnas.trial_id"] for r in runs] == ["t0023", "t0022", "t0021"]
    search = next((s, p) for s, p in statements if "ORDER BY" in s and "latest_metrics" in s)

    def plan(con):
        return [row[3] for row in con.execute("EXPLAIN QUERY PLAN " + search[0], search[1])]

    assert not [step for step in plan(db) if step.startswith("SCAN anon")], plan(db)
    db.execute("DELETE FROM sqlite_stat1")            # without statistics: the quadratic plan this prevents
    db.commit()
    assert [step for step in plan(sqlite3.connect(uri[len("sqlite:///"):])) if step.startswith("SCAN anon")]
