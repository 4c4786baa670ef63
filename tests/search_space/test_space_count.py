"""SearchSpace.size() and configs() against brute force: every raw assignment of a small space's dimensions,
built through ArchConfig.from_dict (with its fit checks), deduplicated by hash.

The oracle below re-states the space's rules independently of search_space.enumeration (which dimension
applies where); the spaces cover every folding rule of the canonical form (parameters that fold in
``canonical_params``, stage masks per backbone and point, main/extra attention, attention ``none``, connections)
and, generated from the registries, every parameter of every registered module, so a new module or a new fold
is covered without a test edit.
"""
from __future__ import annotations

import itertools

import re

import pytest

from search_space import ArchConfig, AttnasError, SearchSpace
from search_space.dimensions import decode
from search_space.registry import ATTENTION, BACKBONES, CONNECTIONS, GATINGS

COMPONENTS = {"backbone": BACKBONES, "attention": ATTENTION, "connection": CONNECTIONS, "gating": GATINGS}


# ---- the oracle --------------------------------------------------------------------------------------------
def _get(config: dict, path: str, default=None):
    node = config
    for part in path.split("."):
        if isinstance(node, str) and part == "type":
            return node
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def _set(config: dict, path: str, value) -> None:
    parts = path.split(".")
    node = config
    for p in parts[:-1]:
        if isinstance(node.get(p), str):
            node[p] = {"type": node[p]}
        node = node.setdefault(p, {})
    node[parts[-1]] = value


def _applies(path: str, dim, config: dict) -> bool:
    """The rules of the space's module docstring, restated."""
    for parent, allowed in dim.when.items():
        if _get(config, parent, DEFAULTS.get(parent)) not in allowed:
            return False
    if dim.by is not None and _get(config, dim.by, DEFAULTS.get(dim.by)) not in dim.choices_by:
        return False
    att = _get(config, "attention.type", "none")
    if path in ("insertion_point", "stage_mask"):
        return att != "none"
    if path == "connection.type":
        return att != "none" and ATTENTION.get(att).connectable
    head, _, rest = path.partition(".")
    if head == "extra_attention":
        point, _, param = rest.partition(".")
        t = _get(config, f"extra_attention.{point}.type", "none")
        return param == "type" or (t != "none" and param in ATTENTION.param_specs(t))
    if head in COMPONENTS and rest != "type":
        t = _get(config, f"{head}.type", "none")
        if head == "connection" and not (att != "none" and ATTENTION.get(att).connectable):
            return False
        return (head == "backbone" or t != "none") and rest in COMPONENTS[head].param_specs(t)
    return True


DEFAULTS = {"attention.type": "none", "connection.type": "none", "gating.type": "none"}


def brute_force(space: SearchSpace) -> set[str]:
    """Hashes of every buildable architecture reachable by some assignment of the dimensions."""
    dims = space.dimensions
    domains = [sorted({v for vs in d.choices_by.values() for v in vs}, key=repr) if d.by else list(d.values())
               for d in dims]
    hashes = set()
    for combo in itertools.product(*domains):
        config: dict = {}
        for path, value in space.fixed.items():
            _set(config, path, dict(value) if isinstance(value, dict) else value)
        for d, v in zip(dims, combo):   # the walk order: a dimension's conditions are decided before it
            if not _applies(d.path, d, config):
                continue
            if d.by is not None and v not in d.choices_by[_get(config, d.by, DEFAULTS.get(d.by))]:
                break
            _set(config, d.path, decode(v, d))
        else:
            try:
                hashes.add(ArchConfig.from_dict(config).hash)
            except AttnasError:
                pass
    return hashes


def check_exact(space: SearchSpace) -> int:
    brute = brute_force(space)
    listed = [a.hash for a in space.configs()]
    assert len(listed) == len(set(listed)), "configs() repeats an architecture"
    assert set(listed) == brute
    assert space.size() == len(brute)
    return len(brute)


# ---- hand-written spaces: one per folding rule ---------------------------------------------------------------
R8 = {"type": "resnet_cifar", "depth": 8, "width": 0.25}
SPACES = {
    "points-masks-connections": {
        "fixed": {"backbone": R8, "input_size": [3, 16, 16]},
        "dimensions": {"activation": ["relu", "gelu"],
                       "attention.type": ["none", "se", "cbam", "sk"],
                       "attention.reduction": [4, 8],
                       "attention.kernel_size": {"by": "attention.type", "choices": {"cbam": [3, 7]}},
                       "insertion_point": ["pre_add", "post_add", "conv"],
                       "stage_mask": ["111", "000", "011", "100"],
                       "connection.type": ["none", "direct", "softmax"]}},
    "extra-attention": {   # none + extra, main/extra as labels, clashes, extra parameters, a connected main
        "fixed": {"backbone": R8, "input_size": [3, 16, 16]},
        "dimensions": {"attention.type": ["none", "se", "eca", "sk"],
                       "attention.reduction": [4, 16],
                       "insertion_point": ["pre_add", "post_add", "conv"],
                       "stage_mask": ["111", "001"],
                       "extra_attention.pre_add.type": ["none", "se", "cbam"],
                       "extra_attention.post_add.type": ["none", "se", "eca"],
                       "extra_attention.post_add.reduction": [4, 16],
                       "connection.type": ["none", "weighted"]}},
    "ge-folds": {          # reduction and act unused by some variants
        "fixed": {"backbone": R8, "input_size": [3, 16, 16], "attention.type": "ge"},
        "dimensions": {"attention.variant": ["theta_minus", "theta", "theta_plus"],
                       "attention.extent": [0, 2, 4],
                       "attention.reduction": [4, 16],
                       "attention.act": ["relu", "gelu"],
                       "stage_mask": ["111", "011"]}},
    "fft-stream-folds": {   # at `stream` only stages 1-3 feed a stream: masks differing in stage 0 fold
        "fixed": {"backbone": {"type": "fft", **BACKBONES.get("fft").test_params}, "input_size": [3, 32, 32]},
        "dimensions": {"attention.type": ["none", "se", "sk"],
                       "insertion_point": ["stream", "pre_add", "conv"],
                       "stage_mask": ["1111", "0111", "1000", "0011"],
                       "extra_attention.post_add.type": ["none", "eca"]}},
    "van-stage-counts": {   # the stage count follows the backbone parameters; masks of other lengths drop out
        "fixed": {"backbone.type": "van", "input_size": [3, 32, 32]},
        "dimensions": {"backbone.variant": ["b0", "custom"],
                       "backbone.dims": [[32, 64, 160, 256], [8, 16, 24]],
                       "backbone.depths": [[3, 3, 5, 2], [1, 1, 1]],
                       "backbone.mlp_ratios": [[8, 8, 4, 4], [2, 2, 2]],
                       "attention.type": ["none", "se"],
                       "stage_mask": ["1111", "0011", "111", "001"]}},
    "res2net-branch-folds": {   # branch_attention applies only with attention at `branch` (main or extra)
        "fixed": {"backbone": {"type": "res2net", **{k: v for k, v in BACKBONES.get("res2net").test_params.items()
                                                     if k != "branch_attention"}},
                  "input_size": [3, 32, 32]},
        "dimensions": {"backbone.branch_attention": ["shared", "per_branch"],
                       "attention.type": ["none", "se", "eca"],
                       "insertion_point": ["pre_add", "branch"],
                       "stage_mask": ["1111", "0000", "0011"],
                       "extra_attention.branch.type": ["none", "se"]}},
    "when-and-by": {
        "fixed": {"backbone": {"type": "resnet_cifar"}, "input_size": [3, 16, 16]},
        "dimensions": {"backbone.depth": [8, 14],
                       "activation": ["relu", "gelu"],
                       "attention.type": ["se", "cbam", "triplet"],
                       "attention.reduction": {"choices": [2, 4], "when": {"activation": ["gelu"]}},
                       "attention.kernel_size": {"by": "attention.type", "choices": {"cbam": [3, 7], "triplet": [5]}},
                       "attention.zpool_stats": {"subsets_of": ["avg", "max", "std"], "max_size": 2}}},
}


@pytest.mark.parametrize("name", sorted(SPACES))
def test_size_is_exact_on_hand_written_spaces(name):
    assert check_exact(SearchSpace.from_dict(SPACES[name])) > 1


def test_the_extra_attention_space_holds_what_it_should():
    # guards the oracle too: both sides once agreed on excluding SE at post_add (an extra of type none there
    # was taken for a clash)
    names = {re.sub(r"\[[^]]*\]", "", a.name.split("~")[0].replace("x0.25", ""))   # types and points only
             for a in SearchSpace.from_dict(SPACES["extra-attention"]).configs()}
    assert {"resnet_cifar8", "resnet_cifar8+se@pre_add", "resnet_cifar8+se@post_add", "resnet_cifar8+sk@conv",
            "resnet_cifar8+se@pre_add+eca@post_add", "resnet_cifar8+cbam@pre_add+se@post_add",
            "resnet_cifar8+se@post_add+sk@conv", "resnet_cifar8+sk@conv+dca-weighted"} <= names
    assert "resnet_cifar8+eca@pre_add+dca-weighted" not in names          # eca is not connectable


def test_a_space_where_every_point_folds_to_one():
    sp = SearchSpace.from_dict({"fixed": {"backbone": R8, "input_size": [3, 16, 16]},
                                "dimensions": {"attention.type": ["none", "se"], "stage_mask": ["000"],
                                               "attention.reduction": [2, 4]}})
    assert sp.size() == 1 == check_exact(sp)


# ---- generated from the registries: every parameter of every module, each at two or three values --------------
# (``module_values`` is the fixture of tests/search_space/conftest.py)
@pytest.mark.parametrize("name", [n for n in ATTENTION.names() if n != "none"])
def test_size_is_exact_for_every_attention_parameter(name, module_values):
    dims = {"attention.type": ["none", name], "insertion_point": ["pre_add", "post_add", "conv"],
            "stage_mask": ["111", "010"]}
    dims.update({f"attention.{p}": v for p, v in module_values(ATTENTION, name).items()})
    space = SearchSpace.from_dict({"fixed": {"backbone": R8, "input_size": [3, 16, 16]}, "dimensions": dims})
    assert check_exact(space) > 1


@pytest.mark.parametrize("name", [n for n in CONNECTIONS.names() if n != "none"])
def test_size_is_exact_for_every_connection_parameter(name, module_values):
    dims = {"attention.type": ["none", "se", "cbam"], "stage_mask": ["111", "001"],
            "connection.type": ["none", name]}
    dims.update({f"connection.{p}": v for p, v in module_values(CONNECTIONS, name).items()})
    check_exact(SearchSpace.from_dict({"fixed": {"backbone": R8, "input_size": [3, 16, 16]}, "dimensions": dims}))


@pytest.mark.parametrize("name", [n for n in GATINGS.names() if n != "none"])
def test_size_is_exact_for_every_gating_parameter(name, module_values):
    dims = {"attention.type": ["none", "se"], "gating.type": ["none", name]}
    dims.update({f"gating.{p}": v for p, v in module_values(GATINGS, name).items()})
    check_exact(SearchSpace.from_dict({"fixed": {"backbone": R8, "input_size": [3, 16, 16]}, "dimensions": dims}))


@pytest.mark.parametrize("name", BACKBONES.names())
def test_size_is_exact_for_every_backbone_parameter(name, module_values):
    """Each backbone at its own test configuration, every parameter at two values, attention at every point."""
    cls = BACKBONES.get(name)
    specs = BACKBONES.param_specs(name)
    dims = {}
    for param, values in module_values(BACKBONES, name).items():
        base = cls.test_params.get(param, specs[param].default)
        base = list(base) if isinstance(base, tuple) else base
        dims[f"backbone.{param}"] = [base] + [v for v in values if v != base][:1]
    fixed = {f"backbone.{k}": list(v) if isinstance(v, tuple) else v
             for k, v in cls.test_params.items() if f"backbone.{k}" not in dims}
    n = cls.num_stages
    masks = ["1" * n, "0" + "1" * (n - 1), "1" + "0" * (n - 1)]
    dims.update({"attention.type": ["none", "se"], "insertion_point": list(cls.insertion_points),
                 "stage_mask": masks})
    space = SearchSpace.from_dict({"fixed": {"backbone.type": name, "input_size": list(cls.test_input_size),
                                             **fixed}, "dimensions": dims})
    assert check_exact(space) > 1


def test_res2net_branch_attention_folds_without_attention_at_branch():
    from search_space import ArchConfig
    bb = {"type": "res2net", **BACKBONES.get("res2net").test_params}
    def arch(how, point):
        return ArchConfig.from_dict({"backbone": {**bb, "branch_attention": how}, "input_size": [3, 32, 32],
                                     "attention": {"type": "se"}, "insertion_point": point}, check_fits=False)
    assert arch("shared", "pre_add").hash == arch("per_branch", "pre_add").hash      # one architecture
    assert arch("shared", "branch").hash != arch("per_branch", "branch").hash        # two
    assert SearchSpace.from_dict(SPACES["res2net-branch-folds"]).size() == 21
