import os

import pytest
import torch

torch.set_num_threads(int(os.environ.get("ATTNAS_TEST_THREADS", "1")))


@pytest.fixture
def cifar_arch():
    """A tiny valid CIFAR ResNet config mapping to start variations from."""
    return {"backbone": {"type": "resnet_cifar", "depth": 8, "width": 0.5}, "num_classes": 10,
            "input_size": [3, 16, 16]}
