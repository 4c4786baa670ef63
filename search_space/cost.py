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


def thop_cost(arch) -> Cost:
    """(parameters, MACs) of ``build_model(arch)`` as plain thop counts them (``thop.profile`` with its own
    module rules: BatchNorm at 2 per element, and nothing done with functions or tensor methods in a forward,
    so attention's pools, products and matmuls go uncounted). Not our cost model (:func:`estimate_cost` is):
    it is the counter some seed papers printed, and reproduces their numbers (report 003's MACs: Res2Net-50
    16w4s 2.630 G, VAN-B0 0.870 G, Res2Net_cCD_ST 3.513 G). Builds on the meta device; needs thop installed."""
    import thop
    import torch

    from .build import build_model

    with torch.device("meta"):
        model = build_model(arch).eval()
        x = torch.empty(1, *arch.input_size)
    macs, params = thop.profile(model, inputs=(x,), verbose=False)
    return Cost(int(params), int(macs))
