"""Shape-aware canonical form and names that identify.

* A parameter whose effect vanishes at the shapes a config meets folds to one value (Attention.canonical_at)
  in the hash, in ``size()`` and in the enumeration alike; the property test builds every config of small
  enumerated spaces (one attention parameter at a time, at maps of 8, 4 and 2) and finds no two distinct hashes
  whose models have identical state-dict shapes and compute identical outputs from identical (random) weights
  (activation names included: celu is elu, layers.ACTIVATION_ALIASES).
* An architecture's display name, and the export file name made from it, differ whenever the hashes differ.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from analysis.export import sanitise
from search_space import ArchConfig, SearchSpace, build_model, load_arch
from search_space.presets import preset_names
from search_space.layers import ACTIVATION_ALIASES, ACTIVATION_NAMES, ACTIVATIONS, GATE_NAMES, GATES
from search_space.registry import ATTENTION
from search_space.space import shipped_spaces

SMALL = {"backbone.type": "resnet_cifar", "backbone.depth": 8, "backbone.width": 0.5, "num_classes": 3,
         "input_size": [3, 8, 8]}                      # stage maps 8x8, 4x4, 2x2
MASKS = ["001", "011", "111"]


def test_ge_extent_at_or_above_the_map_is_the_global_mean():
    """The issue's case: GE-theta-minus with extent 2, 4 and 0 on a 2x2 map is one network, one hash, one count;
    on the 4x4 and 2x2 maps extent 4 and 0 are, extent 2 is not; the parametric variants never fold."""
    def arch(variant, extent, mask):
        return ArchConfig.from_dict({"backbone": {"type": "resnet_cifar", "depth": 8}, "input_size": [3, 8, 8],
                                     "stage_mask": mask, "attention": {"type": "ge", "variant": variant,
                                                                        "extent": extent}})
    assert len({arch("theta_minus", e, "001").hash for e in (0, 2, 4)}) == 1
    assert arch("theta_minus", 4, "001").attention.params["extent"] == 0
    assert len({arch("theta_minus", e, "011").hash for e in (0, 2, 4)}) == 2
    assert len({arch("theta_minus", e, "111").hash for e in (0, 2, 4)}) == 3
    assert len({arch("theta", e, "001").hash for e in (0, 2, 4)}) == 3
    space = SearchSpace.from_dict({"fixed": {k: v for k, v in SMALL.items() if k != "backbone.width"},
                                   "dimensions": {"attention.type": ["ge"],
                                                  "attention.variant": ["theta_minus", "theta"],
                                                  "attention.extent": [0, 2, 4], "stage_mask": MASKS}})
    listed = [a.hash for a in space.configs()]
    brute = {ArchConfig.from_dict({**space.config_of({}), "attention": {"type": "ge", "variant": v, "extent": e},
                                   "stage_mask": m}).hash
             for v, e, m in itertools.product(["theta_minus", "theta"], [0, 2, 4], MASKS)}
    assert space.size() == len(listed) == len(set(listed)) == len(brute) == 1 + 2 + 3 + 3 * 3
    assert set(listed) == brute


def one_param_spaces(module_values):
    """For each attention, each parameter with several values alone (the others at their defaults), at every
    mask (an ``act`` gets its default and the first two other names: celu and elu, one function); plus the
    top-level activation over every name, and GE's variant x extent."""
    for att in ATTENTION.names():
        if att == "none":
            continue
        for param, values in module_values(ATTENTION, att).items():
            yield pytest.param(att, {f"attention.{param}": values}, id=f"{att}-{param}")
    yield pytest.param("se", {"activation": list(ACTIVATION_NAMES)}, id="activation")   # every name, aliases too
    yield pytest.param("ge", {"attention.variant": ["theta_minus", "theta", "theta_plus"],
                              "attention.extent": [0, 2, 4, 8]}, id="ge-variant-extent")


def random_state(model, seed: int) -> dict:
    """The model's (seeded) initial state plus noise (variances kept positive, counters kept), so no zero-initialised
    weight hides a parameter's effect and no gate saturates (which would make different functions agree)."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for k, v in model.state_dict().items():
        if not v.is_floating_point():
            out[k] = v.clone()
        elif k.endswith("running_var"):
            out[k] = v + 0.2 * torch.rand(v.shape, generator=gen)
        elif k.endswith("bias"):      # positive, so a ReLU after a 1-channel bottleneck does not zero the branch
            out[k] = 0.2 + 0.2 * torch.rand(v.shape, generator=gen)
        else:
            out[k] = v + 0.1 * torch.randn(v.shape, generator=gen)
    return out


WIDE = {"activation": 10.0}
"""Input scale per case: relu6 is relu below 6, so the activation case needs inputs that reach past it."""


def test_no_two_hashes_are_one_network(module_values):
    torch.set_num_threads(1)
    x = torch.randn(3, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    checked = 0
    for case in one_param_spaces(module_values):
        att, dims = case.values
        space = SearchSpace.from_dict({"fixed": {**SMALL, "attention.type": att},
                                       "dimensions": {**dims, "stage_mask": MASKS}})
        configs = list(space.configs())
        assert space.size() == len(configs) == len({a.hash for a in configs})
        groups: dict = {}
        for arch in configs:
            torch.manual_seed(0)
            model = build_model(arch).eval()
            signature = tuple((k, tuple(v.shape)) for k, v in model.state_dict().items())
            groups.setdefault(signature, []).append((arch, model))
        for members in groups.values():
            if len(members) < 2:
                continue
            state = random_state(members[0][1], seed=1)
            outputs = []
            with torch.no_grad():
                for arch, model in members:
                    model.load_state_dict(state)
                    outputs.append((arch, model(x * WIDE.get(case.id, 1.0))))
            for (a, ya), (b, yb) in itertools.combinations(outputs, 2):
                checked += 1
                assert not torch.allclose(ya, yb, rtol=1e-5, atol=1e-6), \
                    f"{case.id}: {a.name} and {b.name} are one network under two hashes"
    assert checked > 100


@pytest.mark.parametrize("name", shipped_spaces())
def test_names_differ_whenever_hashes_differ(name):
    space = SearchSpace.load(name)
    rng = np.random.default_rng(3)
    by_hash = {}
    for _ in range(3000):
        arch = space.sample(rng)
        by_hash[arch.hash] = arch
    for preset in preset_names():
        arch = load_arch(preset)
        by_hash[arch.hash] = arch
    names = [a.name for a in by_hash.values()]
    assert len(set(names)) == len(names) == len(by_hash)
    assert len({sanitise(n) for n in names}) == len(names)          # export file names too


def test_the_issues_colliding_names_now_differ():
    """``resnet_cifar20-celu+eca@post_add`` named both (ECA kernel 5, avg downsample) and (adaptive kernel,
    conv downsample)."""
    def arch(kernel, downsample):
        return ArchConfig.from_dict({"backbone": {"type": "resnet_cifar", "depth": 20, "downsample": downsample},
                                     "activation": "celu", "attention": {"type": "eca", "kernel_size": kernel},
                                     "insertion_point": "post_add"})
    a, b = arch(5, "avg"), arch(None, "conv")
    assert a.hash != b.hash and a.name != b.name
    assert a.name == "resnet_cifar20[downsample=avg]-elu+eca[kernel_size=5]@post_add"     # celu is elu
    plain = ArchConfig.from_dict({"backbone": {"type": "resnet_cifar", "depth": 20}, "attention": {"type": "se"}})
    assert plain.name == "resnet_cifar20+se@pre_add"                    # defaults stay implicit


def test_activation_aliases_are_one_function_and_no_other_names_are():
    """Each alias of layers.ACTIVATION_ALIASES computes bit for bit what the name it folds to computes (forward
    and gradient), so folding it is safe; any two other activation names, and any two gates, differ on [-8, 8],
    so no other name may fold. Then the fold itself: one config, hash, name and count for celu and elu, at the
    top level and in an attention's ``act``."""
    x = torch.linspace(-8, 8, 4001, dtype=torch.float64).view(1, -1)     # one sample (softmax gates over it)

    def run(table, name):
        t = x.clone().requires_grad_()
        y = table[name]()(t.clone())                 # a clone: relu and friends work in place
        return y.detach(), torch.autograd.grad(y.sum(), t)[0]

    assert ACTIVATION_ALIASES == {"celu": "elu"}
    for alias, name in ACTIVATION_ALIASES.items():
        assert name in ACTIVATIONS and name not in ACTIVATION_ALIASES
        (ya, ga), (yn, gn) = run(ACTIVATIONS, alias), run(ACTIVATIONS, name)
        assert torch.equal(ya, yn) and torch.equal(ga, gn)
    names = [n for n in ACTIVATION_NAMES if n not in ACTIVATION_ALIASES]
    for table, group in ((ACTIVATIONS, names), (GATES, GATE_NAMES)):
        for a, b in itertools.combinations(group, 2):
            assert not torch.allclose(run(table, a)[0], run(table, b)[0]), f"{a} and {b} are one function"

    def arch(act):
        return ArchConfig.from_dict({"backbone": {"type": "resnet_cifar", "depth": 8}, "activation": act,
                                     "attention": {"type": "se", "act": act}})
    assert arch("celu") == arch("elu") and arch("celu").hash == arch("elu").hash
    assert arch("celu").to_dict()["activation"] == "elu" == arch("celu").attention.params["act"]
    space = SearchSpace.from_dict({"fixed": SMALL, "dimensions": {"activation": ["celu", "elu", "relu"],
                                                                  "attention.type": ["se"],
                                                                  "attention.act": ["celu", "elu"]}})
    assert space.size() == len(list(space.configs())) == 2
