"""Shared tiny fixtures: a small synthetic dataset and a small conv net, so loop tests take milliseconds."""
import pytest
import torch
from torch import nn

from trainers import DataConfig, load_dataset


@pytest.fixture(autouse=True)
def _one_thread():
    """The CI/dev box is small and shared: one intra-op thread avoids oversubscription stalls."""
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(prev)


@pytest.fixture(scope="session")
def tiny_data():
    return load_dataset(DataConfig(name="synthetic", image_size=8, classes=4, num_train=160, num_test=40,
                                   val_fraction=0.25))


def tiny_net(channels: int = 3, classes: int = 4, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(channels, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.AvgPool2d(2), nn.Flatten(), nn.Dropout(0.1), nn.Linear(8 * 4 * 4, classes))
