"""A study in MLflow's own terms (public MLflow client API only): the entry point as every run's source, the
data set as a dataset input of every child run, and front members as LoggedModels (see
:class:`studies.tracking.FrontModels`)."""
from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path

DATA_SOURCES = {"digits": "sklearn.datasets.load_digits", "synthetic": "synthetic (seeded random tensors)"}
"""Where a data set without a folder comes from, as the dataset input's source."""
MODEL_METRICS = ("val_top1", "val_top5", "macs", "params", "latency_ms", "epochs", "wall_time_s")


def entry_point(argv: list[str] | None = None) -> str:
    """The command that started the study: ``attnas search ...`` for the CLI (``attnas`` or ``python -m
    studies``), else the script or notebook kernel that called :func:`studies.run_study`."""
    argv = list(sys.argv if argv is None else argv)
    if not argv:
        return "studies.run_study"
    first = argv[0].replace("\\", "/")
    if Path(first).name == "attnas" or first.endswith("studies/__main__.py"):
        return " ".join(["attnas", *argv[1:]])
    return f"{Path(first).name or 'python'} (studies.run_study)"


def source_tags() -> dict:
    """MLflow's source tags (what the run page's *Source* shows)."""
    return {"mlflow.source.name": entry_point(), "mlflow.source.type": "LOCAL"}


class DataInputs:
    """The study's data set as an MLflow dataset input: name, source (its folder or loader), a digest of the
    split tensors' bytes, and a profile with the split sizes, image size, class count and split seed. Described
    once per study, on first use (it loads the data set once, on the driver's MLflow thread)."""

    def __init__(self, study_config: dict):
        from .config import StudyConfig

        self.cfg = StudyConfig.from_dict(study_config).data_config()
        self._dataset = None

    def describe(self) -> dict:
        """name, source, digest and profile (split sizes, image size, classes, split seed, val fraction)."""
        from trainers import load_dataset

        data = load_dataset(self.cfg, "cpu", uint8=True)
        h = hashlib.sha256()
        for t in (data.train_x, data.train_y, data.val_x, data.val_y, data.test_x, data.test_y):
            h.update(t.contiguous().numpy().tobytes())
        source = str(Path(self.cfg.data_dir).resolve()) if self.cfg.data_dir else DATA_SOURCES.get(self.cfg.name,
                                                                                                   self.cfg.name)
        profile = {"train": len(data.train_y), "val": len(data.val_y), "test": len(data.test_y),
                   "image_size": "x".join(map(str, data.input_size)), "classes": data.num_classes,
                   "split_seed": self.cfg.seed, "val_fraction": self.cfg.val_fraction,
                   "train_subset": self.cfg.train_subset}
        return {"name": self.cfg.name, "source": source, "digest": h.hexdigest()[:12], "profile": profile}

    def dataset(self):
        from mlflow.entities import Dataset

        if self._dataset is None:
            d = self.describe()
            self._dataset = Dataset(name=d["name"], digest=d["digest"], source_type="local",
                                    source=json.dumps({"uri": d["source"]}), profile=json.dumps(d["profile"]))
        return self._dataset

    def input(self):
        from mlflow.entities import DatasetInput, InputTag

        return DatasetInput(self.dataset(), tags=[InputTag("mlflow.data.context", "train")])


def model_name(arch_name: str) -> str:
    """A LoggedModel name for an architecture (MLflow allows no ``/ : . % " '``): ``resnet_cifar8x0.25+se@pre_add``
    -> ``resnet_cifar8x0_25-se-pre_add``."""
    from analysis.export import sanitise

    return sanitise(arch_name).replace(".", "_")


def create_front_model(client, experiment_id: str, run_id: str, trial_id: str, arch_yaml: str, name: str,
                       arch_hash: str, metrics: dict, recipe: dict, rank: int,
                       dataset=None) -> str:
    """A READY LoggedModel for one front member: ``arch.yaml`` (loadable by ``attnas train``) and
    ``recipe.json`` as its artifacts, the architecture as its params, its final metrics logged to the model and
    the run, the run as its source and output. Returns the model id."""
    from mlflow.entities import LoggedModelOutput

    from search_space import ArchConfig

    arch = ArchConfig.from_yaml(arch_yaml, check_fits=False)
    params = {k: str(v) for k, v in arch.to_flat_dict().items()}
    model = client.create_logged_model(experiment_id, name=model_name(name), source_run_id=run_id,
                                       tags={"attnas.front": "true", "attnas.rank": str(rank),
                                             "attnas.trial_id": trial_id, "arch_hash": arch_hash,
                                             "arch_name": name},
                                       params=params, model_type="attnas.ArchConfig")
    with tempfile.TemporaryDirectory(prefix="attnas-model-") as tmp:
        (Path(tmp) / "arch.yaml").write_text(arch_yaml)
        (Path(tmp) / "recipe.json").write_text(json.dumps(recipe, indent=2) + "\n")
        client.log_model_artifacts(model.model_id, tmp)
    extra = {"dataset_name": dataset.name, "dataset_digest": dataset.digest} if dataset is not None else {}
    for key in MODEL_METRICS:
        value = metrics.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value:
            client.log_metric(run_id, key, float(value), step=0, model_id=model.model_id, **extra)
    client.log_outputs(run_id, [LoggedModelOutput(model.model_id, 0)])
    client.finalize_logged_model(model.model_id, "READY")
    return model.model_id
