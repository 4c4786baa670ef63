"""Helpers for the attention tests: a recording DCA link and eval-mode module construction."""
import pytest
import torch

from search_space.registry import ATTENTION


class RecordingLink:
    """A stand-in for a DCA connection: merge adds ``shift`` to g, record keeps every call."""

    def __init__(self, shift: float = 0.0):
        self.shift = shift
        self.records = []

    def merge(self, dim, g):
        return g + self.shift

    def record(self, dim, g, t, scaled):
        self.records.append((dim, g, t, scaled))


@pytest.fixture
def link():
    return RecordingLink


@pytest.fixture
def make():
    """``make(name, *args, **params)``: a registered attention module in eval mode with a fixed seed."""

    def build(name, *args, **params):
        torch.manual_seed(0)
        full = ATTENTION.params(name, params, "attention")
        return ATTENTION.get(name)(*args, **full).eval()

    return build
