"""Counting helpers for the backbone tests: parameters and MACs of a config built on the meta device
(shapes without storage, so even VGG-19's 143M parameters count in well under a second)."""
import pytest
import torch
from torch import nn

from search_space import ArchConfig, build_model


def _meta_model(data):
    arch = ArchConfig.from_dict(data, check_fits=False)
    with torch.device("meta"):
        return arch, build_model(arch)


def _n_params(data) -> int:
    return sum(p.numel() for p in _meta_model(data)[1].parameters())


def _macs(data) -> float:
    """Multiply-accumulates of conv and linear layers for one image (thop, BatchNorm not counted, as in
    the published counts)."""
    import thop
    from thop.vision.basic_hooks import zero_ops

    arch, model = _meta_model(data)
    with torch.device("meta"):
        x = torch.empty(1, *arch.input_size)
    macs, _ = thop.profile(model, inputs=(x,), verbose=False, custom_ops={nn.BatchNorm2d: zero_ops})
    return float(macs)


def _modules(data, cls) -> list:
    return [m for m in _meta_model(data)[1].modules() if isinstance(m, cls)]


@pytest.fixture
def n_params():
    return _n_params


@pytest.fixture
def macs():
    return _macs


@pytest.fixture
def modules():
    return _modules
