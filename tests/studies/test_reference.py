"""The hypervolume reference point fixed at a study's start, and the start-of-study notes."""
import pytest

from search_space.arch_config import ArchConfig
from search_space.space import SearchSpace
from studies.config import StudyConfig
from studies.reference import fixed_reference, largest_architecture
from studies.run import nsga2_generations_note
from studies.search import estimate_macs, sampler_options

SPACE = {"fixed": {"backbone.type": "resnet_cifar", "num_classes": 4, "input_size": [1, 8, 8]},
         "dimensions": {"backbone.depth": [8, 14], "backbone.width": [0.25, 0.5], "attention.type": ["none", "se", "eca"],
                        "attention.reduction": [2], "insertion_point": ["pre_add", "post_add"]}}


def cfg(**over):
    return StudyConfig.from_dict({"name": "r", "space": SPACE, **over})


def test_coordinate_ascent_finds_the_largest_architecture_of_the_space():
    space = SearchSpace.from_dict(SPACE)
    archs = {a.hash: a for a in (ArchConfig.from_dict(c, check_fits=False) for c in space.configs())}
    brute = max(estimate_macs(a) for a in archs.values())
    arch, macs, params = largest_architecture(space)
    assert macs == brute and params > 0


def test_reference_rule_per_objective():
    space = SearchSpace.from_dict(SPACE)
    ref, rule = fixed_reference(cfg(), space)
    _, macs, _ = largest_architecture(space)
    assert ref == {"val_top1": 0.0, "macs": pytest.approx(1.1 * macs)} and "largest" in rule
    ref, rule = fixed_reference(cfg(macs_budget=5e5), space)
    assert ref == {"val_top1": 0.0, "macs": 5e5} and rule == "val_top1 0; macs = macs_budget"
    c = cfg(objectives=[{"metric": "val_top1", "direction": "max"}, {"metric": "params", "direction": "min"}])
    ref, _ = fixed_reference(c, space)
    assert set(ref) == {"val_top1", "params"} and ref["params"] > 0


def test_nsga2_budget_note_and_tpe_constant_liar():
    note = nsga2_generations_note(cfg(sampler={"type": "nsga2", "population_size": 16}, budget={"trials": 20},
                                      warm_start=["resnet20"]))
    assert "completes 1.2 NSGA-II generation(s)" in note and "population_size 6 gives 3 generations" in note
    assert nsga2_generations_note(cfg(sampler={"type": "nsga2", "population_size": 8}, budget={"trials": 20})) is None
    assert sampler_options(cfg(sampler="tpe", concurrency=2))["constant_liar"] is True
    assert sampler_options(cfg(sampler="tpe", concurrency=1))["constant_liar"] is False
