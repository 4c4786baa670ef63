"""The study in MLflow's own terms: dataset inputs and source on the runs, front tags kept current, one
LoggedModel per front member with its ArchConfig YAML, recipe, metrics and run."""
import json
from pathlib import Path

import pytest
import yaml
from mlflow.entities import LoggedModelStatus
from mlflow.tracking import MlflowClient

from search_space import ArchConfig
from studies import run_study
from studies.mlflow_terms import entry_point
from studies.tracking import FrontModels


@pytest.fixture(scope="module")
def study(ray_session, tmp_path_factory, tiny_study):
    root = tmp_path_factory.mktemp("terms")
    path = root / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_study("tiny-terms", root / "runs", tracking={"log_weights": "front"})))
    result = run_study(str(path), trials=4, quiet=True)
    return result, MlflowClient(result.tracking_uri)


def children(client, result):
    exp = client.get_run(result.parent_run_id).info.experiment_id
    return exp, client.search_runs([exp], f"tags.`mlflow.parentRunId` = '{result.parent_run_id}'")


def test_every_child_run_has_the_data_set_and_the_source(study):
    result, client = study
    _, runs = children(client, result)
    assert runs
    digests = set()
    for run in runs:
        (inp,) = run.inputs.dataset_inputs
        profile = json.loads(inp.dataset.profile)
        # synthetic: 96 training images, a quarter for validation; 16 test images; 1x8x8
        assert inp.dataset.name == "synthetic" and profile == {
            "train": 72, "val": 24, "test": 16, "image_size": "1x8x8", "classes": 4, "split_seed": 0,
            "val_fraction": 0.25, "train_subset": None}
        assert json.loads(inp.dataset.source)["uri"].startswith("synthetic")
        digests.add(inp.dataset.digest)
        assert run.data.tags["mlflow.source.name"] == entry_point()
    assert len(digests) == 1 and len(digests.pop()) == 12
    assert client.get_run(result.parent_run_id).data.tags["mlflow.source.name"] == entry_point()


def test_front_tags_and_logged_models_match_the_front(study):
    result, client = study
    exp, runs = children(client, result)
    tagged = client.search_runs([exp], "tags.`attnas.front` = 'true'")
    by_trial = {r.data.tags["attnas.trial_id"]: r for r in tagged}
    assert list(by_trial) and sorted(by_trial) == sorted(r.trial_id for r in result.front)
    for rank, rec in enumerate(result.front, start=1):
        assert by_trial[rec.trial_id].data.tags["attnas.rank"] == str(rank)
    models = client.search_logged_models([exp])
    assert sorted(m.tags["attnas.trial_id"] for m in models) == sorted(by_trial)
    for m in models:
        run = by_trial[m.tags["attnas.trial_id"]]
        assert m.source_run_id == run.info.run_id and m.status == LoggedModelStatus.READY
        names = {f.path for f in client.list_logged_model_artifacts(m.model_id)}
        assert names == {"arch.yaml", "recipe.json", "checkpoint"}          # tracking.log_weights: front
        weights = {f.path for f in client.list_logged_model_artifacts(m.model_id, "checkpoint")}
        assert "checkpoint/fit.pt" in weights
        metrics = {x.key: x.value for x in m.metrics}
        assert metrics["val_top1"] == pytest.approx(run.data.metrics["val_top1"])
        assert m.params["attention.type"] == run.data.params["attention.type"]
        assert m.model_id in [o.model_id for o in client.get_run(run.info.run_id).outputs.model_outputs]


def test_front_sync_follows_a_changing_front(tmp_path):
    """A member that leaves the front loses its tags and its LoggedModel; a new rank is set on what stays."""
    client = MlflowClient(f"sqlite:///{tmp_path / 'm.db'}")
    exp = client.create_experiment("e", artifact_location=(tmp_path / "art").as_uri())
    runs = {k: client.create_run(exp).info.run_id for k in ("a", "b", "c")}
    arch = ArchConfig.from_dict({"backbone": {"type": "resnet_cifar", "depth": 8, "width": 0.25}, "num_classes": 3,
                                 "input_size": [1, 8, 8]})
    entry = lambda k, acc: (k, arch.to_yaml(), arch.name, arch.hash, {"val_top1": acc, "macs": 1e6})  # noqa: E731
    front = FrontModels(client, tmp_path)
    front.experiment_id = exp
    front.sync([entry("a", 0.9), entry("b", 0.8)], runs, {"data": {}})
    assert {m.tags["attnas.trial_id"] for m in client.search_logged_models([exp])} == {"a", "b"}
    front.sync([entry("c", 0.95), entry("b", 0.8)], runs, {"data": {}})
    tags = {k: client.get_run(r).data.tags for k, r in runs.items()}
    assert tags["a"]["attnas.front"] == "false" and "attnas.rank" not in tags["a"]
    assert (tags["c"]["attnas.rank"], tags["b"]["attnas.rank"]) == ("1", "2")
    models = {m.tags["attnas.trial_id"]: m for m in client.search_logged_models([exp])}
    assert set(models) == {"b", "c"} and models["b"].tags["attnas.rank"] == "2"
    assert models["b"].name == "resnet_cifar8x0_25-1x8x8-3cls"   # MLflow refuses dots (and ~) in model names
    assert json.loads((Path(tmp_path) / FrontModels.FILE).read_text())["c"]["rank"] == 1


@pytest.mark.parametrize("argv,expected", [
    (["/x/.venv/bin/attnas", "search", "s.yaml"], "attnas search s.yaml"),
    (["/w/studies/__main__.py", "search"], "attnas search"),
    (["/w/notebook.py"], "notebook.py (studies.run_study)"),
])
def test_entry_point(argv, expected):
    assert entry_point(argv) == expected


def test_effects_report_written_logged_and_summarised(study):
    result, client = study
    report = result.paths["report"]
    assert (report / "effects.csv").is_file() and (report / "effects.png").is_file()
    logged = {f.path for f in client.list_artifacts(result.parent_run_id)}
    assert {"effects.csv", "effects.png"} <= logged
    import csv
    rows = list(csv.DictReader(open(report / "effects.csv")))
    dims = {r["dimension"] for r in rows}
    assert dims <= {"attention.type", "attention.reduction"}
    effects = [r for r in rows if r["effect"]]
    if effects:                                  # the three largest are printed in the summary
        assert "largest effects" in result.summary and effects[0]["dimension"] in result.summary


def test_final_checkpoints_are_not_left_behind(study):
    """Kept only until the front's models logged them: no trial's final checkpoint stays on disk."""
    result, _ = study
    assert json.loads((result.dir / "checkpoints.json").read_text()) == {}
    leftover = [p for p in (result.dir / "ray").rglob("fit.pt")]
    assert leftover == []


def test_log_weights_is_validated(tiny_study, tmp_path):
    from search_space.errors import AttnasError
    from studies.config import StudyConfig

    assert StudyConfig.from_dict(tiny_study("x", tmp_path)).log_weights == "none"
    with pytest.raises(AttnasError, match=r"tracking.log_weights: 'all' is not allowed; allowed: none, front"):
        StudyConfig.from_dict(tiny_study("x", tmp_path, tracking={"log_weights": "all"}))
