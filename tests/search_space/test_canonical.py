"""The canonical form is a fixed point, and configs are deeply immutable and hashable.

Property test over 10,000+ configs: samples of every shipped space, and every preset under random legal
overrides (attention type and parameters, insertion point, stage mask, extra attention, connection, gating,
input size, classes): ``from_dict(to_dict(a)) == a`` with the same hash, ``from_yaml(to_yaml(a)) == a`` with the
same YAML, and ``hash(a)`` agreeing with equality.
"""
from __future__ import annotations

import dataclasses
import zlib

import numpy as np
import pytest

from search_space import ArchConfig, AttnasError, SearchSpace, load_arch
from search_space.arch_config import allowed_points
from search_space.presets import preset_names
from search_space.registry import ATTENTION, BACKBONES, CONNECTIONS, GATINGS
from search_space.space import shipped_spaces
from search_space.yaml_io import parse_yaml

PER_SPACE = 2500
CHUNKS = 5
PER_PRESET = 85
INPUTS = ([3, 32, 32], [3, 64, 64], [1, 28, 28], [3, 96, 96])


def assert_fixed_point(arch: ArchConfig) -> None:
    data = arch.to_dict()
    assert parse_yaml(arch.to_yaml(), "t") == data      # YAML loses nothing: from_yaml(to_yaml(a)) is from_dict(data)
    again = ArchConfig.from_dict(data)
    assert again == arch and again.hash == arch.hash and hash(again) == hash(arch), data
    assert again.to_dict() == data          # so its YAML (the hash line, then the dump of to_dict) is the same text


@pytest.mark.parametrize("chunk", range(CHUNKS))
@pytest.mark.parametrize("name", shipped_spaces())
def test_samples_of_every_shipped_space_are_fixed_points(name, chunk):
    space = SearchSpace.load(name)
    rng = np.random.default_rng(chunk)
    archs = [space.sample(rng) for _ in range(PER_SPACE // CHUNKS)]
    for arch in archs:
        assert_fixed_point(arch)
    assert len({*archs}) == len({a.hash for a in archs})     # hash() and .hash agree on distinctness


def _random_params(registry, name: str, rng, param_values) -> dict:
    out = {}
    for param in registry.param_specs(name):
        values = param_values(registry, name, param)
        if values and rng.random() < 0.6:
            out[param] = values[int(rng.integers(len(values)))]
    return out


def _pick(rng, seq):
    return seq[int(rng.integers(len(seq)))]


def mutate(arch: ArchConfig, rng, param_values) -> dict:
    """A random legal variation of ``arch`` (each field changed with probability 1/2)."""
    data = arch.to_dict()
    bb = BACKBONES.get(arch.backbone.type)
    points = tuple(bb.insertion_points)
    if rng.random() < 0.5:
        t = _pick(rng, ATTENTION.names())
        data["attention"] = {"type": t, **_random_params(ATTENTION, t, rng, param_values)}
    att = data["attention"]["type"]
    legal = allowed_points(att, points) or points
    if rng.random() < 0.5 or data["insertion_point"] not in legal:
        data["insertion_point"] = _pick(rng, legal)
    if rng.random() < 0.5:
        data["stage_mask"] = [bool(b) for b in rng.integers(0, 2, len(arch.stage_mask))]
    if rng.random() < 0.5:
        extra_points = [p for p in points if p != data["insertion_point"] or att == "none"]
        data["extra_attention"] = {}
        if extra_points:
            p = _pick(rng, extra_points)
            t = _pick(rng, [n for n in ATTENTION.names() if p in allowed_points(n, points)] or ["none"])
            data["extra_attention"] = {p: {"type": t, **_random_params(ATTENTION, t, rng, param_values)}}
    if rng.random() < 0.5:
        t = _pick(rng, CONNECTIONS.names()) if att != "none" and ATTENTION.get(att).connectable else "none"
        data["connection"] = {"type": t, **_random_params(CONNECTIONS, t, rng, param_values)}
    if rng.random() < 0.5:
        t = _pick(rng, GATINGS.names())
        data["gating"] = {"type": t, **_random_params(GATINGS, t, rng, param_values)}
    if rng.random() < 0.5:
        data["input_size"] = _pick(rng, INPUTS)
    if rng.random() < 0.5:
        data["num_classes"] = int(rng.integers(2, 1001))
    return data


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_under_random_overrides_is_a_fixed_point(name, param_values):
    base = load_arch(name)
    assert_fixed_point(base)
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    built, tries = 0, 0
    while built < PER_PRESET and tries < 20 * PER_PRESET:
        tries += 1
        try:
            arch = ArchConfig.from_dict(mutate(base, rng, param_values))
        except AttnasError:
            continue      # an override this backbone cannot take (e.g. an input too small): not a config
        assert_fixed_point(arch)
        built += 1
    assert built == PER_PRESET, f"only {built} of {tries} random overrides of {name} were valid configs"


def test_the_property_test_covers_ten_thousand_configs():
    assert PER_SPACE * len(shipped_spaces()) + PER_PRESET * len(preset_names()) >= 10_000


# ---- the folds that used to break the fixed point --------------------------------------------------------------
BASE = {"backbone": {"type": "resnet_cifar", "depth": 8, "width": 0.5}, "input_size": [3, 16, 16]}


def test_attention_none_with_extra_attention_at_the_first_point():
    arch = ArchConfig.from_dict({**BASE, "attention": "none", "extra_attention": {"pre_add": {"type": "se"}}})
    assert arch.attention.type == "se" and arch.insertion_point == "pre_add" and not arch.extra_attention
    assert_fixed_point(arch)
    assert arch == ArchConfig.from_dict({**BASE, "attention": {"type": "se"}})


def test_main_attention_is_a_label_without_a_connection():
    a = ArchConfig.from_dict({**BASE, "attention": {"type": "eca"}, "insertion_point": "post_add",
                              "extra_attention": {"pre_add": {"type": "se"}}})
    b = ArchConfig.from_dict({**BASE, "attention": {"type": "se"}, "insertion_point": "pre_add",
                              "extra_attention": {"post_add": {"type": "eca"}}})
    assert a == b and a.hash == b.hash
    connected = dict(a.to_dict(), attention={"type": "eca"}, insertion_point="post_add",
                     extra_attention={"pre_add": {"type": "se"}}, connection={"type": "direct"})
    with pytest.raises(AttnasError, match="needs a connectable attention"):
        ArchConfig.from_dict(connected)        # eca cannot be connected: the main one is no label then
    c = ArchConfig.from_dict({**connected, "attention": {"type": "se"}, "extra_attention": {"pre_add": {"type": "eca"}}})
    assert c.attention.type == "se" and c.insertion_point == "post_add"   # the connected one stays main
    assert_fixed_point(c)


# ---- immutability -----------------------------------------------------------------------------------------------
def test_configs_are_deeply_immutable_and_hashable():
    arch = ArchConfig.from_dict({**BASE, "attention": {"type": "triplet", "zpool_stats": ["avg", "max"]},
                                 "extra_attention": {"post_add": {"type": "se", "reduction": 4}}})
    with pytest.raises(TypeError):
        arch.attention.params["reduction"] = 2
    with pytest.raises(TypeError):
        arch.extra_attention["pre_add"] = arch.attention
    with pytest.raises(TypeError):
        del arch.backbone.params["depth"]
    with pytest.raises(AttributeError):
        arch.attention.params.update({"kernel_size": 3})
    with pytest.raises(dataclasses.FrozenInstanceError):
        arch.num_classes = 3
    assert isinstance(arch.stage_mask, tuple) and isinstance(arch.input_size, tuple)
    assert isinstance(arch.attention.params["zpool_stats"], tuple)
    same = ArchConfig.from_yaml(arch.to_yaml())
    assert same == arch and hash(same) == hash(arch) and len({arch, same}) == 1
    assert {arch: 1}[same] == 1
    other = arch.replace(num_classes=3)
    assert other != arch and len({arch, other}) == 2
