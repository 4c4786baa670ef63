"""A whole tiny study through Ray Tune + Optuna + MLflow: records, dedup, failures, MLflow structure."""
import io
import json
import sys

import optuna
import torch
import pytest
from mlflow.tracking import MlflowClient
from ray import cloudpickle

from analysis import read_trials
from studies.config import StudyConfig
from studies.run import run_study
from studies.study import Study
from studies.trainable import train_trial

cloudpickle.register_pickle_by_value(sys.modules[__name__])


def failing_first(config, settings):
    """The real trainable, except that the study's first sampled trial raises."""
    if config["number"] == 0:
        raise ValueError("injected failure")
    train_trial(config, settings)


@pytest.fixture(scope="module")
def finished_study(ray_session, tmp_path_factory, tiny_study):
    root = tmp_path_factory.mktemp("runs")
    cfg = StudyConfig.from_dict(tiny_study("tiny", root, warm_start=["resnet20"]))
    out = io.StringIO()
    study = run_study(Study.create(cfg), out=out, trainable=failing_first, progress_every_s=60)
    return study, out.getvalue()


def test_every_trial_recorded_once_and_failure_does_not_stop_the_study(finished_study):
    study, out = finished_study
    records = read_trials(study.trials_path)
    assert len({r.trial_id for r in records}) == len(records)
    # budget 6, but the space has 4 architectures (+1 reference): the study ends when the space is exhausted
    assert sum(r.counts for r in records) == 5
    assert "search ended: space exhausted: the sampler has suggested all 4 of its architectures" in out
    by_id = {r.trial_id: r for r in records}
    assert by_id["t0000"].status == "failed" and "injected failure" in by_id["t0000"].reason
    assert by_id["ref-resnet20"].is_reference and by_id["ref-resnet20"].status == "finished"   # never stopped
    assert any(r.status in ("finished", "stopped") and not r.is_reference for r in records)
    assert "t0000" in out and "failed" in out


def test_no_architecture_is_trained_twice(finished_study):
    study, _ = finished_study
    records = read_trials(study.trials_path)
    trained = [r.arch_hash for r in records if r.counts]
    assert len(trained) == len(set(trained))
    # every repeated suggestion is answered from its twin's record and told what the twin was told
    original = {r.arch_hash: r for r in records if r.counts}
    for d in (r for r in records if r.status == "duplicate"):
        twin = original[d.arch_hash]
        assert twin.trial_id in d.reason and d.told == twin.told


def test_optuna_holds_each_sampled_trial_once_with_its_state(finished_study):
    study, _ = finished_study
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(study.dir / "optuna.journal")))
    ot = optuna.load_study(study_name="tiny", storage=storage)
    assert ot.metric_names == ["val_top1", "macs"]
    trials = ot.get_trials()
    records = {r.number: r for r in read_trials(study.trials_path) if not r.is_reference}
    assert sorted(t.number for t in trials) == sorted(records)
    for t in trials:
        rec = records[t.number]
        expected = "COMPLETE" if rec.told is not None else "FAIL"
        assert t.state.name == expected, (rec.trial_id, rec.status, t.state)
        assert t.user_attrs["arch_hash"] == rec.arch_hash and t.user_attrs["status"] == rec.status
        if rec.status == "finished":
            assert t.values == [rec.metrics["val_top1"], rec.metrics["macs"]]
        if t.state.name == "COMPLETE":
            assert t.values == rec.told


def test_stopped_trials_are_told_complete_on_the_full_fidelity_scale(finished_study):
    study, _ = finished_study
    for rec in read_trials(study.trials_path):
        if rec.status == "stopped":
            assert rec.metrics["epochs"] < 2 and "stopped at epoch" in rec.reason
            assert rec.told is not None and rec.told[1] == rec.metrics["macs"]


def test_mlflow_has_one_parent_and_a_nested_child_per_trial(finished_study):
    study, _ = finished_study
    client = MlflowClient(study.tracking_uri)
    exp = client.get_experiment_by_name("tiny")
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    parents = [r for r in runs if r.data.tags.get("attnas.kind") == "study"]
    children = [r for r in runs if r.data.tags.get("attnas.kind") == "trial"]
    assert len(parents) == 1 and len(children) == 5     # trained trials only: answered ones trained nothing
    parent = parents[0]
    assert parent.data.tags["sampler"] == "random" and parent.data.tags["space_hash"]
    assert parent.data.params["budget.trials"] == "6"
    assert float(parent.data.params["hypervolume_reference.macs"]) == study.cfg.hypervolume_reference["macs"]
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parent.info.run_id}
    assert json.loads((study.dir / "mlflow_runs.json").read_text())["_study"] == parent.info.run_id
    records = {r.trial_id: r for r in read_trials(study.trials_path)}
    assert {c.data.tags["attnas.trial_id"] for c in children} == {k for k, r in records.items() if r.counts}
    for child in children:
        rec = records[child.data.tags["attnas.trial_id"]]
        assert child.data.tags["status"] == rec.status
        assert child.data.params["backbone.type"] == "resnet_cifar"
        assert "arch.yaml" in {a.path for a in client.list_artifacts(child.info.run_id)}
        if rec.status == "finished":
            hist = client.get_metric_history(child.info.run_id, "val_top1")
            assert [m.step for m in hist if m.step > 0] == [1, 2]
            assert child.data.metrics["macs"] == rec.metrics["macs"]
    names = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"trials.jsonl", "front.csv", "front.png", "study.yaml", "export"} <= names
    hv = client.get_metric_history(parent.info.run_id, "hypervolume")
    assert hv[-1].step == 5 and hv[-1].value == pytest.approx(study.report.hypervolume())
    assert [m.value for m in hv] == sorted(m.value for m in hv)      # one fixed reference: never decreases


def test_every_trained_record_says_where_how_and_when(finished_study):
    study, out = finished_study
    records = read_trials(study.trials_path)
    fidelity = {"epochs": 2, "train_subset": None, "data": "synthetic", "image_size": 8}
    assert all(r.fidelity == fidelity for r in records)
    trained = [r for r in records if r.status in ("finished", "stopped")]
    assert trained
    for r in trained:
        p = r.provenance
        assert p["device"] == "cpu" and p["precision"] == "fp32" and p["node"]
        assert p["torch"] == torch.__version__                # a CPU build has no CUDA version; a CUDA build's
        assert p.get("cuda", "") == (torch.version.cuda or "")  # is recorded even for a trial on the CPU
        assert p["started_at"].endswith("+00:00") and p["started_at"] <= p["ended_at"]
    client = MlflowClient(study.tracking_uri)
    runs = json.loads((study.dir / "mlflow_runs.json").read_text())
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(study.dir / "optuna.journal")))
    attrs = {t.number: t.user_attrs for t in optuna.load_study(study_name="tiny", storage=storage).get_trials()}
    for r in trained:
        run = client.get_run(runs[r.trial_id])
        assert run.data.tags["attnas.device"] == "cpu" and run.data.tags["attnas.precision"] == "fp32"
        assert run.data.tags["attnas.started_at"] == r.provenance["started_at"]
        assert run.data.params["fidelity.epochs"] == "2" and run.data.params["fidelity.data"] == "synthetic"
        if not r.is_reference:
            assert attrs[r.number]["provenance"] == r.provenance and attrs[r.number]["fidelity"] == fidelity
    summary = study.report.summary()
    assert f"trained on: cpu fp32 ({len([r for r in records if r.provenance])} trial(s)); 1 node(s); " \
           f"torch {torch.__version__}, CUDA {torch.version.cuda or '-'}" in summary
    assert "warning:" not in summary                     # resources.gpu 0: the CPU was asked for


def test_a_failed_trials_traceback_is_on_disk_linked_and_in_its_run(finished_study):
    study, out = finished_study
    failed = {r.trial_id: r for r in read_trials(study.trials_path)}["t0000"]
    assert failed.status == "failed" and failed.log == str(study.dir / "logs" / "t0000.log")
    text = open(failed.log).read()
    assert 'in failing_first\n    raise ValueError("injected failure")' in text    # the full stack, not a line
    assert text.rstrip().endswith("ValueError: injected failure")
    line = [ln for ln in out.splitlines() if ln.strip().startswith("t0000")][-1]     # its record's line
    assert line.endswith(f"traceback: {failed.log}") and "Traceback" not in out
    client = MlflowClient(study.tracking_uri)
    run_id = json.loads((study.dir / "mlflow_runs.json").read_text())["t0000"]
    assert client.get_run(run_id).data.tags["attnas.log"] == failed.log
    assert [a.path for a in client.list_artifacts(run_id, "logs")] == ["logs/t0000.log"]
