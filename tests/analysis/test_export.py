"""export_front: YAMLs that load unchanged with load_arch, ordered by accuracy, with a front.json sidecar."""
import json

import pytest

from analysis.export import export_front, sanitise
from analysis.trials import TrialRecord
from search_space import ArchConfig, load_arch

OBJ = [("val_top1", "max"), ("macs", "min")]
BASE = {"backbone": {"type": "resnet_cifar", "depth": 8}, "num_classes": 10, "input_size": [1, 16, 16]}


@pytest.fixture(scope="module")
def archs():
    return [ArchConfig.from_dict(BASE), ArchConfig.from_dict({**BASE, "attention": {"type": "se", "reduction": 4}}),
            ArchConfig.from_dict({**BASE, "backbone": {"type": "resnet_cifar", "depth": 14}})]


def rec(n, arch, acc, macs, status="finished", ref=None):
    return TrialRecord(f"id{n}", n, arch.to_dict(), arch.hash, status,
                       metrics={"val_top1": acc, "macs": macs, "params": 75e3, "latency_ms": 0.8},
                       is_reference=ref is not None, reference_name=ref)


def test_round_trip_through_load_arch(archs, tmp_path):
    # front: 1 (.8, 2M) and 0 (.7, 1M); 2 (.75, 3M) is beaten by 1; 3 is pruned
    records = [rec(0, archs[0], 0.70, 1e6), rec(1, archs[1], 0.80, 2e6, ref="se-resnet8"),
               rec(2, archs[2], 0.75, 3e6), rec(3, archs[2], 0.99, 1e5, "stopped")]
    paths = export_front(records, OBJ, tmp_path, source="study unit")
    assert [p.name for p in paths] == [f"01-{sanitise(archs[1].name)}-{archs[1].hash}.yaml",
                                       f"02-{sanitise(archs[0].name)}-{archs[0].hash}.yaml"]
    assert paths[0].name.startswith("01-resnet_cifar8-se-")
    assert [load_arch(p) for p in paths] == [archs[1], archs[0]]
    assert load_arch(str(paths[0])).hash == archs[1].hash
    text = paths[0].read_text()
    assert text.startswith(f"# attnas ArchConfig {archs[1].hash}\n")
    assert "# source: study unit, trial 1 (id id1), status finished, reference preset se-resnet8" in text
    assert "val_top1 80 %" in text and "macs 2 M" in text and "latency_ms 0.8" in text
    side = json.loads((tmp_path / "front.json").read_text())
    assert [a["file"] for a in side["architectures"]] == [p.name for p in paths]
    assert side["architectures"][0]["metrics"]["val_top1"] == 0.8
    # reference (0, 1.1 x 3M): .7 x (3.3 - 1)M + (.8 - .7) x (3.3 - 2)M
    assert side["hypervolume"] == pytest.approx(0.7 * 2.3e6 + 0.1 * 1.3e6)
    assert side["reference_point"] == {"val_top1": 0.0, "macs": pytest.approx(3.3e6)}
    assert side["objectives"] == [{"metric": "val_top1", "direction": "max"}, {"metric": "macs", "direction": "min"}]


def test_top_k_and_reexport_replaces_only_its_own_files(archs, tmp_path):
    records = [rec(0, archs[0], 0.70, 1e6), rec(1, archs[1], 0.80, 2e6)]
    assert len(export_front(records, OBJ, tmp_path)) == 2
    (tmp_path / "notes.yaml").write_text("mine: true\n")
    (only,) = export_front(records, OBJ, tmp_path, top_k=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([only.name, "front.json", "notes.yaml"])
    side = json.loads((tmp_path / "front.json").read_text())
    assert side["front_size"] == 2 and side["exported"] == 1


def test_nothing_to_export(tmp_path):
    assert export_front([], OBJ, tmp_path) == []
    assert json.loads((tmp_path / "front.json").read_text())["architectures"] == []
    with pytest.raises(ValueError, match="top_k"):
        export_front([], OBJ, tmp_path, top_k=0)


def test_sanitise():
    assert sanitise("resnet_cifar8+se@pre_add+dca-avg") == "resnet_cifar8-se-pre_add-dca-avg"
    assert sanitise("../x") == "x" and sanitise("+") == "arch"


def test_a_study_reference_point_is_used_as_given(archs, tmp_path):
    records = [rec(0, archs[0], 0.70, 1e6), rec(1, archs[1], 0.80, 2e6)]
    export_front(records, OBJ, tmp_path, reference=[0.0, 10e6])
    side = json.loads((tmp_path / "front.json").read_text())
    assert side["reference_point"] == {"val_top1": 0.0, "macs": 10e6}
    assert side["hypervolume"] == pytest.approx(0.7 * 9e6 + 0.1 * 8e6)
    assert "fixed at the study's start" in side["reference_rule"]
