"""One local Ray session for every study test in this folder (starting Ray costs seconds), and helpers the
study tests share."""
import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def repo_env() -> dict:
    """The environment for an ``attnas`` subprocess started in another folder: this checkout's code first on
    the path (not whichever attnas the virtual environment has installed)."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)}


@pytest.fixture(scope="session")
def ray_session():
    from studies.run import init_ray

    import ray
    started = init_ray(None, num_cpus=2)
    yield
    if started:
        ray.shutdown()


@pytest.fixture(scope="session")
def tiny_study():
    return make_tiny_study


def make_tiny_study(name: str, root, **over) -> dict:
    """A study small enough for a test: 8x8 synthetic data, a depth-8 quarter-width CIFAR ResNet."""
    data = {
        "name": name,
        "space": {"fixed": {"backbone.type": "resnet_cifar", "backbone.depth": 8, "backbone.width": 0.25},
                  "dimensions": {"attention.type": ["none", "se", "eca"], "attention.reduction": [2, 4]}},
        "data": {"name": "synthetic", "image_size": 8, "classes": 4, "channels": 1, "num_train": 96,
                 "num_test": 16, "val_fraction": 0.25},
        "fidelity": {"epochs": 2},
        "training": {"batch_size": 32, "lr": 0.05, "augment": False},
        "sampler": {"type": "random"},
        "scheduler": {"type": "pareto_sh", "grace_period": 1, "reduction_factor": 2},
        "budget": {"trials": 6},
        "concurrency": 2,
        "seed": 0,
        "storage": {"root": str(root)},
        "failures": {"checkpoint_every_s": 0},     # tiny epochs: a checkpoint after each, as the tests expect
    }
    data.update(over)
    return data


def checkpointed(study_dir) -> dict:
    """The study's remembered checkpoints (trial key -> entry); {} before the first or while it is rewritten."""
    try:
        return json.loads((study_dir / "checkpoints.json").read_text())
    except (OSError, json.JSONDecodeError):
        return {}
