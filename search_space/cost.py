"""A candidate's parameters and MACs from its config alone, equal to ``trainers.count_params`` and
``trainers.count_macs`` of the built model (one image; count_macs's rules), for ``macs_budget`` and tables.

How: the backbone's shape walk (search_space/shapes.py) on a :class:`~search_space.shapes.Net` that counts:
every backbone layer adds its analytic cost (search_space/tally.py mirrors count_macs's rules), each attention
site adds its module's declared ``cost`` (attention/base.py), each connected block its connection's and each
gated sequence its gating's. Nothing is built and nothing is memoised: a call walks the whole network
(benchmarks/bench_cost.py measures the rate). tests/search_space/test_cost.py holds it equal to the counters on
every preset and on configs sampled from the shipped spaces.
"""
from __future__ import annotations

from typing import NamedTuple

from .shapes import Net, walk


class Cost(NamedTuple):
    params: int
    macs: int


def estimate_cost(arch) -> Cost:
    """(parameters, MACs for one image of arch.input_size) of ``build_model(arch)``, without building it.
    Raises AttnasError where the input is too small for the backbone (as check_fits does)."""
    net = walk(Net(tuple(arch.input_size), arch), arch.backbone)
    return Cost(net.params, net.macs)
