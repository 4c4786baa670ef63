"""``attnas export`` on a fabricated study folder and on a fabricated MLflow parent run (sqlite store)."""
import json

import pytest
import yaml

from analysis.export import sanitise
from analysis.trials import TrialRecord, append_trial
from search_space import ArchConfig, load_arch
from studies.cli import main

BASE = {"backbone": {"type": "resnet_cifar", "depth": 8}, "num_classes": 10, "input_size": [1, 16, 16]}


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory):
    """A study folder: 4 trials, objectives val_top1 (max) and params (min). By hand the front over those
    is trial 0 (.70, 50k params) and trial 1 (.80, 60k); trial 2 (.75, 90k) is beaten by 1."""
    d = tmp_path_factory.mktemp("study")
    archs = [ArchConfig.from_dict(BASE), ArchConfig.from_dict({**BASE, "attention": {"type": "se", "reduction": 4}}),
             ArchConfig.from_dict({**BASE, "backbone": {"type": "resnet_cifar", "depth": 14}})]
    rows = [(archs[0], "finished", 0.70, 50e3), (archs[1], "finished", 0.80, 60e3),
            (archs[2], "finished", 0.75, 90e3), (archs[2], "failed", None, None)]
    for n, (arch, status, acc, params) in enumerate(rows):
        metrics = {} if acc is None else {"val_top1": acc, "params": params, "macs": 1e6 * (3 - n)}
        append_trial(d / "trials.jsonl", TrialRecord(f"t{n}", n, arch.to_dict(), arch.hash, status, metrics=metrics))
    (d / "study.yaml").write_text(yaml.safe_dump({"name": "unit-study", "objectives": [
        {"metric": "val_top1", "direction": "max"}, {"metric": "params", "direction": "min"}]}))
    return d, archs


def test_export_study_dir(study_dir, capsys):
    d, archs = study_dir
    assert main(["export", str(d)]) == 0
    out = capsys.readouterr().out
    files = sorted((d / "export").glob("*.yaml"))
    assert [f.name for f in files] == [f"01-{sanitise(archs[1].name)}-{archs[1].hash}.yaml",
                                       f"02-{sanitise(archs[0].name)}-{archs[0].hash}.yaml"]
    assert [load_arch(f) for f in files] == [archs[1], archs[0]]
    assert f"exported 2 Pareto-optimal architectures to {d / 'export'}/" in out and str(files[0]) in out
    assert "# source: study unit-study" in files[0].read_text()
    side = json.loads((d / "export" / "front.json").read_text())
    assert [o["metric"] for o in side["objectives"]] == ["val_top1", "params"]


def test_export_top_k_and_out(study_dir, tmp_path, capsys):
    d, archs = study_dir
    assert main(["export", str(d), "--top-k", "1", "--out", str(tmp_path / "x")]) == 0
    assert [f.name for f in (tmp_path / "x").glob("*.yaml")] == [f"01-{sanitise(archs[1].name)}-{archs[1].hash}.yaml"]
    assert "exported 1 Pareto-optimal architecture to" in capsys.readouterr().out


def test_default_objectives_without_study_yaml(study_dir, tmp_path):
    d, archs = study_dir
    (tmp_path / "trials.jsonl").write_text((d / "trials.jsonl").read_text())
    assert main(["export", str(tmp_path)]) == 0
    # over the default (val_top1 max, macs min): 1 (.80, 2M MACs) beats 0 (.70, 3M); 2 (.75, 1M) is the cheapest
    side = json.loads((tmp_path / "export" / "front.json").read_text())
    assert [a["trial"] for a in side["architectures"]] == [1, 2]


@pytest.mark.parametrize("args,message", [
    (["no/such/dir"], "study: 'no/such/dir' is neither a study folder nor an MLflow run id; allowed:"),
    (["{empty}"], "holds no trials.jsonl; allowed: a folder written by attnas search"),
    (["{blank}"], "has no recorded trials yet"),
    (["{badyaml}"], "study.yaml: objectives[0].direction: 'up' is not allowed; allowed: max, min"),
    (["{study}", "--top-k", "0"], "--top-k: 0 is not allowed; allowed: a positive integer"),
    (["{study}", "--tracking-uri", "sqlite:///x.db"], "--tracking-uri: 'sqlite:///x.db' is not allowed with a study folder"),
])
def test_errors_are_one_line(study_dir, tmp_path, capsys, args, message):
    d, _ = study_dir
    (tmp_path / "empty").mkdir()
    (tmp_path / "blank").mkdir()
    (tmp_path / "blank" / "trials.jsonl").write_text("")
    (tmp_path / "badyaml").mkdir()
    (tmp_path / "badyaml" / "trials.jsonl").write_text((d / "trials.jsonl").read_text())
    (tmp_path / "badyaml" / "study.yaml").write_text("objectives: [{metric: macs, direction: up}]\n")
    args = [a.format(study=d, **{k: tmp_path / k for k in ("empty", "blank", "badyaml")}) for a in args]
    assert main(["export", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("attnas export: error: ") and message in err and err.count("\n") == 1


@pytest.fixture(scope="module")
def mlflow_store(study_dir, tmp_path_factory):
    """A sqlite MLflow store with a study parent run (artifacts trials.jsonl, study.yaml) and one child run."""
    from mlflow.tracking import MlflowClient

    d, _ = study_dir
    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("unit", artifact_location=(root / "artifacts").as_uri())
    parent = client.create_run(exp, run_name="unit-study").info.run_id
    client.log_artifact(parent, str(d / "trials.jsonl"))
    client.log_artifact(parent, str(d / "study.yaml"))
    child = client.create_run(exp, tags={"mlflow.parentRunId": parent}).info.run_id
    return uri, parent, child


def test_export_mlflow_run(mlflow_store, tmp_path, capsys, monkeypatch):
    uri, parent, _ = mlflow_store
    monkeypatch.chdir(tmp_path)
    assert main(["export", parent, "--tracking-uri", uri]) == 0
    files = sorted((tmp_path / "attnas-export" / parent).glob("*.yaml"))
    assert len(files) == 2 and all(load_arch(f) for f in files)
    assert f"# source: study unit-study (MLflow run {parent})" in files[0].read_text()
    assert "exported 2 Pareto-optimal architectures" in capsys.readouterr().out


def test_mlflow_errors(mlflow_store, tmp_path, capsys):
    uri, parent, child = mlflow_store
    cases = [([child, "--tracking-uri", uri], f"has no trials.jsonl artifact; allowed: the study's parent run {parent}"),
             (["0" * 32, "--tracking-uri", uri], f"run: '{'0' * 32}' not found at"),
             ([parent, "--tracking-uri", f"sqlite:///{tmp_path}/none.db"], "names no existing database"),
             ([parent, "--tracking-uri", "bogus://nowhere"], "--tracking-uri: 'bogus://nowhere' cannot be opened")]
    for args, message in cases:
        assert main(["export", *args, "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
