"""Contract over the registries: every attention x every legal insertion point x every backbone, every
connection and every gating x every backbone, builds at the backbone's own tiny test configuration
(``Backbone.test_params``) on a non-square input (``test_input_size`` with the width 1.5x or 2x, where the
backbone takes it), runs forward + backward in train mode and forward in eval mode at batch sizes that equal no channel
or spatial size of the model (conftest.real_batches: 5 and 7 where the input's 3 channels and a 2x3 map rule
out 3), each image's eval output is the one it gets alone, every parameter of every attention module receives a gradient, and the declared costs
(estimate_cost) equal trainers.count_params / count_macs of the built model: for every connection and gating
case, and for each attention in one backbone and each backbone with one attention (a module's cost depends on
its shape only, a backbone's on which module replaces its conv), every pair under ``-m slow``. A new attention,
backbone, connection or gating is covered without editing this file.

To keep the cross product fast, one model per (backbone, attention) carries the attention at every legal
insertion point at once (the main point plus ``extra_attention`` at the others). ``TINY_ATTENTION`` shrinks
attention widths generically by parameter name.
"""
import pytest
import torch
from torch import nn

from search_space import ArchConfig, build_model
from search_space.arch_config import allowed_points
from search_space.attention.base import Attention, check_attention
from search_space.cost import estimate_cost
from search_space.errors import AttnasError
from search_space.registry import ATTENTION, BACKBONES, CONNECTIONS, GATINGS, check_signature, keyword_params
from trainers import count_macs, count_params

TINY_ATTENTION = {"reduction": 2, "qk_reduction": 2, "min_width": 4}
NUM_CLASSES = 3
CONNECTABLE = [n for n in ATTENTION.names() if ATTENTION.get(n).connectable]


def attention_params(name: str) -> dict:
    specs = keyword_params(ATTENTION.get(name))
    return {k: v for k, v in TINY_ATTENTION.items() if k in specs}


def tiny(backbone: str, **fields) -> dict:
    """The backbone's test configuration with ``fields`` on a non-square input: ``test_input_size`` with the
    width 1.5x, or 2x, whichever the config takes first (FFT's token grids must nest, FA's maps must halve
    exactly), else the square test input."""
    cls = BACKBONES.get(backbone)
    c, h, w = cls.test_input_size
    data = {"backbone": {"type": backbone, **cls.test_params}, "num_classes": NUM_CLASSES, **fields}
    for wide in (w + w // 2, 2 * w):
        try:
            ArchConfig.from_dict({**data, "input_size": [c, h, wide]})
        except AttnasError:
            continue
        return {**data, "input_size": [c, h, wide]}
    return {**data, "input_size": [c, h, w]}


def test_every_backbone_takes_a_non_square_input():
    """So the contract below runs every backbone with H != W (a swapped H and W cannot pass)."""
    square = [bb for bb in BACKBONES.names() if len(set(tiny(bb)["input_size"][1:])) == 1]
    assert square == []


def assert_cost_declared(arch: ArchConfig, model: nn.Module) -> None:
    assert estimate_cost(arch) == (count_params(model), count_macs(model, arch.input_size)), "declared cost"


def train_step(arch: ArchConfig, real_shapes, count: bool = True) -> nn.Module:
    torch.manual_seed(0)
    model = build_model(arch).train()
    if count:
        assert_cost_declared(arch, model)
    real_shapes.run(model, arch.input_size, NUM_CLASSES)
    return model


def attention_cases():
    for bb in BACKBONES.names():
        points = tuple(BACKBONES.get(bb).insertion_points)
        for att in ATTENTION.names():
            ok = allowed_points(att, points)
            if att != "none" and ok:
                yield pytest.param(bb, att, ok, id=f"{bb}-{att}@{'+'.join(ok)}")


def counted_pairs() -> set:
    """Each attention with one backbone and each backbone with one attention, rotating through the legal pairs."""
    pairs = [tuple(p.values[:2]) for p in attention_cases()]
    chosen = set()
    for axis, names in ((1, ATTENTION.names()), (0, BACKBONES.names())):
        for j, name in enumerate(names):
            legal = [p for p in pairs if p[axis] == name]
            if legal:
                chosen.add(legal[j % len(legal)])
    return chosen


COUNTED = counted_pairs()


def attention_arch(backbone: str, attention: str, points: tuple) -> ArchConfig:
    """``attention`` at every legal point of ``backbone`` at once (main point + extra_attention)."""
    spec = {"type": attention, **attention_params(attention)}
    return ArchConfig.from_dict(tiny(backbone, attention=spec, insertion_point=points[0],
                                     extra_attention={p: spec for p in points[1:]}))


@pytest.mark.parametrize("backbone, attention, points", list(attention_cases()))
def test_attention_backbone_contract(backbone, attention, points, real_shapes):
    model = train_step(attention_arch(backbone, attention, points), real_shapes, count=(backbone, attention) in COUNTED)
    cls = ATTENTION.get(attention)
    modules = [m for m in model.modules() if isinstance(m, cls)]
    assert len(modules) >= len(points), f"{backbone} built {len(modules)} {attention} modules for {points}"
    for m in modules:
        for name, p in m.named_parameters():
            assert p.grad is not None, f"{attention}.{name} got no gradient"
            assert torch.isfinite(p.grad).all(), f"{attention}.{name} has a non-finite gradient"


def connection_cases():
    """Every connection x every backbone; the connected attention rotates through the connectable ones that can
    sit in the backbone, so each is crossed with several backbones."""
    i = 0
    for bb in BACKBONES.names():
        points = tuple(BACKBONES.get(bb).insertion_points)
        for conn in CONNECTIONS.names():
            if conn == "none":
                continue
            usable = [a for a in CONNECTABLE if allowed_points(a, points)]
            att = usable[i % len(usable)]
            i += 1
            yield pytest.param(bb, conn, att, allowed_points(att, points)[0], id=f"{bb}-{conn}-{att}")


@pytest.mark.slow
@pytest.mark.parametrize("backbone, attention, points", list(attention_cases()))
def test_declared_cost_of_every_attention_in_every_backbone(backbone, attention, points):
    arch = attention_arch(backbone, attention, points)
    assert_cost_declared(arch, build_model(arch))


@pytest.mark.parametrize("backbone, connection, attention, point", list(connection_cases()))
def test_connection_backbone_contract(backbone, connection, attention, point, real_shapes):
    arch = ArchConfig.from_dict(tiny(backbone, attention={"type": attention, **attention_params(attention)},
                                     insertion_point=point, connection={"type": connection}))
    model = train_step(arch, real_shapes)
    alphas = [p for n, p in model.named_parameters() if ".alpha." in n]
    assert alphas and all(p.grad is not None for p in alphas)


@pytest.mark.parametrize("backbone", BACKBONES.names())
@pytest.mark.parametrize("gating", [g for g in GATINGS.names() if g != "none"])
def test_gating_backbone_contract(backbone, gating, real_shapes):
    model = train_step(ArchConfig.from_dict(tiny(backbone, gating={"type": gating})), real_shapes)
    gated = [p for n, p in model.named_parameters() if ".focus." in n or ".associate." in n]
    assert all(p.grad is not None for p in gated)


@pytest.mark.parametrize("attention", [n for n in ATTENTION.names() if n != "none"])
def test_every_attention_runs_at_one_channel_and_a_1x1_map(attention):
    """Why check_attention_fits rejects nothing: every module builds and runs at C = 1..3 on a 1x1 map, even with
    reductions and kernels far larger than the layer."""
    cls = ATTENTION.get(attention)
    params = ATTENTION.params(attention, {}, "attention")
    for c in (1, 3):
        module = cls(c, c, 2, 1, **params) if cls.replaces_conv else cls(c, 1, 1, **params) if cls.spatial_args \
            else cls(c, **params)
        assert module.eval()(torch.randn(2, c, 1, 1)).shape == (2, c, 1, 1)


class _Tracer:
    """A DCA link that merges nothing and notes, per dimension, the shapes of G and T and whether T is scaled."""

    def __init__(self):
        self.seen = {}

    def merge(self, dim, g):
        return g

    def record(self, dim, g, t, scaled):
        self.seen[dim] = (tuple(g.shape[1:]), tuple(t.shape[1:]), bool(scaled))


@pytest.mark.parametrize("attention", CONNECTABLE)
@pytest.mark.parametrize("shape", [(8, 9, 7), (16, 1, 1), (4, 16, 16)])
def test_declared_dca_shapes_are_the_traced_ones(attention, shape):
    cls = ATTENTION.get(attention)
    for given in ({}, {"gate": "tanh"}, {"variant": "theta", "extent": 4}, {"variant": "theta_minus", "extent": 2}):
        given = {k: v for k, v in given.items() if k in keyword_params(cls)}
        params = ATTENTION.params(attention, given, "attention")
        c, h, w = shape
        module = (cls(c, c, 1, 1, **params) if cls.replaces_conv else cls(c, h, w, **params) if cls.spatial_args
                  else cls(c, **params)).eval()
        tracer = _Tracer()
        with torch.no_grad():
            module(torch.randn(1, c, h, w), link=tracer)
        assert tracer.seen == cls.dca_shapes(shape, params)


def test_registration_rejects_modules_that_break_the_contract():
    class NotAttention(nn.Module):
        def __init__(self, channels: int):
            super().__init__()

    class NoDims(Attention):
        connectable = True

        def __init__(self, channels: int):
            super().__init__()

        def forward(self, x, link=None):
            return x

        @classmethod
        def cost(cls, t, shape, p):
            return shape

    class ConvWithoutPoint(NoDims):
        connectable, dims, replaces_conv = False, ("channel",), True

    class Untyped(NoDims):
        connectable, dims = False, ("channel",)

        def __init__(self, channels: int, *, reduction=16):
            super().__init__(channels)

    def register(cls):            # what ATTENTION.register runs, without adding to the shared registry
        check_signature("attention", "bad", cls)
        check_attention("bad", cls)

    for bad, message in ((NotAttention, "not a subclass"), (NoDims, "must name its dims"),
                         (ConvWithoutPoint, "replaces_conv and insertion_points"), (Untyped, "no annotation")):
        with pytest.raises(TypeError, match=message):
            register(bad)

