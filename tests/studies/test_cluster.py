"""Cluster checks that run on one machine: the node probe's one-line failures, the study fields behind them
(storage.path, failures.max_retries, a relative data_dir) and Ray Client refused."""
import pytest

from search_space.errors import AttnasError
from studies.cluster import check_address, code_fingerprint, probe_nodes, trial_nodes
from studies.config import StudyConfig

DIGITS = {"name": "digits", "image_size": 8}


def test_probe_passes_on_this_node(ray_session, tmp_path):
    assert probe_nodes(DIGITS, tmp_path / "ray") == len(trial_nodes()) >= 1
    assert not list((tmp_path / "ray").iterdir())          # the shared-storage mark is removed


def test_probe_names_the_node_whose_code_differs(ray_session, tmp_path):
    with pytest.raises(AttnasError) as e:
        probe_nodes(DIGITS, tmp_path, fingerprint="0123456789ab")
    msg = str(e.value)
    node = trial_nodes()[0]
    assert msg.startswith(f"node {node['NodeManagerAddress']} ({node['NodeID'][:8]}): attnas at ")
    assert "0123456789ab" in msg and code_fingerprint() in msg and "\n" not in msg


def test_probe_names_the_node_and_the_missing_data_path(ray_session, tmp_path):
    missing = tmp_path / "no-cifar"
    with pytest.raises(AttnasError) as e:
        probe_nodes({"name": "cifar10", "data_dir": str(missing)}, tmp_path / "ray")
    msg = str(e.value)
    assert msg.startswith("node ") and "data does not load there" in msg and str(missing) in msg and "\n" not in msg


def test_probe_refuses_storage_a_node_does_not_see(ray_session, tmp_path, monkeypatch):
    import studies.cluster as cluster

    monkeypatch.setattr(cluster, "SHARED_MARK", "../elsewhere/.mark")    # the node looks where the driver did not write
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "ray").mkdir()
    real = cluster.Path.write_text

    def write_elsewhere(self, text):   # the driver's mark lands where no node looks
        return real(self.with_name(self.name + ".driver-only"), text)
    monkeypatch.setattr(cluster.Path, "write_text", write_elsewhere)
    with pytest.raises(AttnasError) as e:
        probe_nodes(DIGITS, tmp_path / "ray")
    assert str(e.value).startswith(f"storage.path: {str(tmp_path / 'ray')!r} is not shared: node ")


def test_ray_client_is_refused_with_the_jobs_api_named():
    with pytest.raises(AttnasError) as e:
        check_address("ray://head:10001")
    assert "ray job submit --working-dir . -- attnas search" in str(e.value)


def study(tmp_path, **over):
    base = {"name": "c", "space": {"fixed": {"backbone.type": "resnet_cifar"}, "dimensions": {"backbone.depth": [8, 14]}}}
    return {**base, **over}


def test_relative_data_dir_is_resolved_against_the_study_file(tmp_path, monkeypatch):
    (tmp_path / "studies").mkdir()
    path = tmp_path / "studies" / "s.yaml"
    import yaml
    path.write_text(yaml.safe_dump(study(tmp_path, data={"name": "imagefolder", "data_dir": "./flowers"})))
    monkeypatch.chdir(tmp_path)
    cfg = StudyConfig.from_yaml(path)
    assert cfg.data["data_dir"] == str(tmp_path / "studies" / "flowers")
    assert StudyConfig.from_dict(cfg.to_dict()).data["data_dir"] == str(tmp_path / "studies" / "flowers")


def test_storage_path_and_max_retries(tmp_path):
    cfg = StudyConfig.from_dict(study(tmp_path, storage={"path": "shared/ray"}, failures={"max_retries": 5}),
                                base_dir=tmp_path)
    assert (cfg.storage_path, cfg.max_retries) == (str(tmp_path / "shared" / "ray"), 5)
    again = StudyConfig.from_dict(cfg.to_dict())
    assert (again.storage_path, again.max_retries) == (cfg.storage_path, 5)
    assert StudyConfig.from_dict(study(tmp_path)).max_retries == 2


def test_checkpoint_every_s_defaults_to_10_and_round_trips(tmp_path):
    assert StudyConfig.from_dict(study(tmp_path)).checkpoint_every_s == 10.0
    cfg = StudyConfig.from_dict(study(tmp_path, failures={"checkpoint_every_s": 0}))
    assert cfg.checkpoint_every_s == 0.0 and StudyConfig.from_dict(cfg.to_dict()).checkpoint_every_s == 0.0


@pytest.mark.parametrize("field, value, message", [
    ("storage", {"path": "s3://bucket/ray"}, "storage.path: 's3://bucket/ray' is not allowed"),
    ("failures", {"max_retries": -1}, "failures.max_retries: -1 is not allowed"),
    ("failures", {"checkpoint_every_s": -1}, "failures.checkpoint_every_s: -1 is not allowed"),
    ("failures", {"checkpoint_every_s": "often"}, "failures.checkpoint_every_s: 'often' is not allowed"),
    ("failures", {"retries": 1}, "failures.retries: unknown field; allowed: max_retries, checkpoint_every_s"),
])
def test_bad_cluster_fields_are_one_line(tmp_path, field, value, message):
    with pytest.raises(AttnasError) as e:
        StudyConfig.from_dict(study(tmp_path, **{field: value}))
    assert str(e.value).startswith(message) and "\n" not in str(e.value)
