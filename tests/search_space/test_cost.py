"""estimate_cost (search_space/cost.py) equals trainers.count_params / count_macs of the built model: on configs
sampled from every shipped space (a few here, 1,000 under slow), on random variants of every backbone with random
attention, connection and gating and random values of all their parameters (a few here, many under slow), and
for each counting rule of search_space/tally.py. Every preset is
checked in test_presets.py, every registered module crossed with every backbone in test_contract.py."""
import random
from pathlib import Path

import pytest
import torch
from torch import nn

from search_space import ArchConfig, AttnasError, SearchSpace, build_model
from search_space.arch_config import allowed_points, load_arch
from search_space.cost import estimate_cost
from search_space.layers import ACTIVATION_NAMES, GATE_NAMES, make_act, make_gate
from search_space.registry import ATTENTION, BACKBONES, CONNECTIONS, GATINGS
from search_space.shapes import check_fits
from search_space.tally import Tally
from trainers import count_macs, count_params

from .conftest import valid_values

SPACES = sorted((Path(__file__).parents[2] / "search_space" / "spaces").glob("*.yaml"))


def assert_counts_equal(arch: ArchConfig) -> None:
    torch.manual_seed(0)
    model = build_model(arch)
    assert tuple(estimate_cost(arch)) == (count_params(model), count_macs(model, arch.input_size)), arch.to_dict()


def sampled(n: int, start: int = 0):
    """``n`` configs from each shipped space, seeds start..start+n-1."""
    for path in SPACES:
        space = SearchSpace.from_yaml(str(path))
        for seed in range(start, start + n):
            yield pytest.param(space, seed, id=f"{path.stem}-{seed}")


@pytest.mark.parametrize("space, seed", list(sampled(6)))
def test_equal_on_configs_sampled_from_the_shipped_spaces(space, seed):
    assert_counts_equal(space.sample(seed))


@pytest.mark.slow
@pytest.mark.parametrize("space, seed", list(sampled(500, start=6)))
def test_equal_on_1000_configs_sampled_from_the_shipped_spaces(space, seed):
    assert_counts_equal(space.sample(seed))


def random_params(registry, name: str, rng: random.Random, keep=()) -> dict:
    """A random valid value for every parameter of ``name`` but ``keep`` (each valid on its own)."""
    return {p: rng.choice(valid_values(registry, name, p)) for p in registry.param_specs(name) if p not in keep}


def random_variant(backbone: str, rng: random.Random) -> ArchConfig:
    """The backbone's test config (its categorical and boolean parameters drawn at random), with a random
    attention at a random legal point and stage mask, random connection and gating, every component parameter
    drawn at random, a random activation and input size."""
    cls = BACKBONES.get(backbone)
    points = tuple(cls.insertion_points)
    cheap = {p: v for p, v in random_params(BACKBONES, backbone, rng, keep=cls.test_params).items()
             if isinstance(v, (str, bool))}
    c, h, w = cls.test_input_size
    while True:
        attention = rng.choice([a for a in ATTENTION.names() if allowed_points(a, points)])
        point = rng.choice(allowed_points(attention, points)) if attention != "none" else points[0]
        connection = rng.choice(CONNECTIONS.names()) if ATTENTION.get(attention).connectable else "none"
        gating = rng.choice(GATINGS.names())
        side = h + rng.choice([0, 1, 3, h])
        backbone_params = {**cls.test_params, **cheap}
        n_stages = cls.stage_count(BACKBONES.params(backbone, backbone_params, "backbone"))
        data = {"backbone": {"type": backbone, **backbone_params}, "num_classes": 3, "input_size": [c, side, side],
                "activation": rng.choice(ACTIVATION_NAMES), "insertion_point": point,
                "attention": {"type": attention, **random_params(ATTENTION, attention, rng)},
                "stage_mask": [rng.random() < 0.7 for _ in range(n_stages)],
                "connection": {"type": connection, **random_params(CONNECTIONS, connection, rng)},
                "gating": {"type": gating, **random_params(GATINGS, gating, rng)}}
        try:
            return ArchConfig.from_dict(data, check_fits=False)
        except AttnasError:          # a rule between parameters (e.g. replk's small kernel below its kernel)
            continue


def equal_on_random_variants(backbone: str, n: int, seed: int) -> None:
    rng = random.Random(f"{backbone}-{seed}")
    checked = 0
    while checked < n:
        arch = random_variant(backbone, rng)
        try:
            check_fits(arch)
        except AttnasError:          # an unfit draw (e.g. FA at an input VGG's pools do not halve): skip it
            continue
        assert_counts_equal(arch)
        checked += 1


@pytest.mark.parametrize("backbone", BACKBONES.names())
def test_equal_on_random_variants_of_every_backbone(backbone):
    equal_on_random_variants(backbone, 2, 0)


@pytest.mark.slow
@pytest.mark.parametrize("backbone", BACKBONES.names())
def test_equal_on_many_random_variants_of_every_backbone(backbone):
    equal_on_random_variants(backbone, 40, 1)


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_activation_rule(name):
    t = Tally()
    t.act(4 * 5 * 6, name)
    assert t.macs == count_macs(nn.Sequential(nn.Identity(), make_act(name)), (4, 5, 6))


@pytest.mark.parametrize("name", GATE_NAMES)
def test_gate_rule(name):
    t = Tally()
    t.gate(4 * 5 * 6, name)
    assert t.macs == count_macs(nn.Sequential(nn.Identity(), make_gate(name)), (4, 5, 6))


@pytest.mark.parametrize("layer, shape, cost", [
    (nn.Conv2d(4, 6, 3, 2, 1, groups=2), (4, 9, 7), lambda t, s: t.conv(s, 6, 3, 2, 1, groups=2)),
    (nn.Conv2d(4, 6, (1, 5), 1, (0, 2), bias=False), (4, 5, 6), lambda t, s: t.conv(s, 6, (1, 5), 1, (0, 2), bias=False)),
    (nn.Conv2d(4, 4, 3, 1, 2, dilation=2), (4, 5, 6), lambda t, s: t.conv(s, 4, 3, 1, 2, dilation=2)),
    (nn.BatchNorm2d(4), (4, 5, 6), lambda t, s: t.bn(s)),
    (nn.MaxPool2d(3, 2, 1), (4, 7, 6), lambda t, s: t.max_pool(s, 3, 2, 1)),
    (nn.AvgPool2d(3, 2, 1), (4, 7, 6), lambda t, s: t.avg_pool(s, 3, 2, 1)),
    (nn.AvgPool2d(2, 2, ceil_mode=True, count_include_pad=False), (4, 7, 5),
     lambda t, s: t.avg_pool(s, 2, 2, ceil_mode=True)),
    (nn.AdaptiveAvgPool2d(7), (4, 8, 9), lambda t, s: t.adaptive_avg_pool(s, 7)),
    (nn.AdaptiveAvgPool2d(1), (4, 5, 6), lambda t, s: t.adaptive_avg_pool(s, 1)),
])
def test_layer_rules(layer, shape, cost):
    t = Tally()
    out = cost(t, shape)
    model = nn.Sequential(layer)
    assert (t.params, t.macs) == (count_params(model), count_macs(model, shape))
    assert out == tuple(model(torch.zeros(1, *shape)).shape[1:])


def test_thop_cost_is_plain_thop_on_the_built_model():
    """thop_cost: the counter report 003 printed (module rules only); same parameters as estimate_cost, and on a
    network without functional ops its MACs differ from ours only by the rules for BN, activations and adds."""
    import thop
    from search_space.cost import thop_cost

    arch = load_arch("resnet20")
    model = build_model(arch).eval()
    macs, params = thop.profile(model, inputs=(torch.randn(1, *arch.input_size),), verbose=False)
    assert thop_cost(arch) == (int(params), int(macs))
    assert thop_cost(arch).params == estimate_cost(arch).params
