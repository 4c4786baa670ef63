"""A tiny ablation end to end through Ray Tune + Optuna + MLflow (2 arms and a warm-start reference given as an
ArchConfig path, 1 epoch, synthetic data): every arm trained to the end, report/reported.csv, .png and .txt
written, logged to the MLflow parent run, and the measured-vs-reported table printed by `attnas search`."""
import csv
import io

import pytest
from mlflow.tracking import MlflowClient

from search_space import load_arch
from studies.config import StudyConfig
from studies.run import run_study
from studies.study import Study

TINY = {"backbone": {"type": "resnet_cifar", "depth": 8, "width": 0.25}, "num_classes": 10, "input_size": [3, 32, 32]}


@pytest.fixture(scope="module")
def ablation(ray_session, tmp_path_factory, tiny_study):
    root = tmp_path_factory.mktemp("runs")
    ref = root / "ref.yaml"
    ref.write_text(load_arch({**TINY, "activation": "silu"}).to_yaml())    # not an arm's network: all three train
    data = tiny_study("tiny-ablation", root, warm_start=["ref.yaml"], arms=[
        {"name": "plain", "arch": TINY, "reported": {"top1_pct": 91.0, "params_m": 0.02, "dataset": "cifar10",
                                                     "table": "T1"}},
        {"name": "se", "arch": TINY, "set": {"attention": {"type": "se", "reduction": 2}, "stage_mask": "111"},
         "reported": {"error_pct": 8.0, "params_m": 0.021, "macs_m": 1.0, "dataset": "cifar10", "table": "T1"}}],
        fidelity={"epochs": 1}, scheduler={"type": "none"})
    del data["space"], data["budget"]
    cfg = StudyConfig.from_dict(data, base_dir=root)
    out = io.StringIO()
    study = run_study(Study.create(cfg), out=out, progress_every_s=60)
    return study, out.getvalue()


def test_every_arm_is_trained_to_the_end_and_nothing_is_sampled(ablation):
    study, out = ablation
    assert study.cfg.trials == 3
    assert sorted((r.reference_name, r.status) for r in study.records) == [
        ("plain", "finished"), ("ref", "finished"), ("se", "finished")]
    assert all(r.is_reference and r.number < 0 for r in study.records)      # no Optuna trial was asked
    assert "epochs 1" in out


def test_reported_table_files_and_mlflow(ablation):
    study, _ = ablation
    report = study.dir / "report"
    with open(report / "reported.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["arm"] for r in rows] == ["plain", "se"]                # the warm-start reference has no numbers
    assert float(rows[0]["reported_top1"]) == pytest.approx(0.91) and float(rows[1]["reported_top1"]) == pytest.approx(0.92)
    assert float(rows[0]["measured_params"]) > 0 and rows[0]["delta_params_pct"] != ""
    assert (report / "reported.png").stat().st_size > 10_000
    table = (report / "reported.txt").read_text()
    assert table.splitlines()[2].startswith("plain ") and "params and MACs both counted" in table
    client = MlflowClient(tracking_uri=study.tracking_uri)
    names = {a.path for a in client.list_artifacts(study.tracker.parent_id)}
    assert {"reported.csv", "reported.png", "reported.txt"} <= names
