import numpy as np
import optuna
import pytest

from search_space import ArchConfig, AttnasError, SearchSpace

optuna.logging.set_verbosity(optuna.logging.WARNING)

SPACE = """
name: t
fixed: {num_classes: 10, input_size: [1, 16, 16], backbone.type: resnet_cifar}
dimensions:
  backbone.depth: [8, 14]
  activation: [relu, silu]
  attention.type: [none, se]
  attention.reduction: [4, 8]
  insertion_point: [pre_add, post_add]
  stage_mask: ["111", "011", "000"]
"""


@pytest.fixture(scope="module")
def space():
    return SearchSpace.from_yaml(SPACE)


def test_size_counts_distinct_canonical_points(space):
    # depth 2 x activation 2 x (none: 1 + se: reduction 2 x point 2 x non-empty masks 2); "000" folds into none.
    assert space.size() == 2 * 2 * (1 + 2 * 2 * 2)
    hashes = {ArchConfig.from_dict(c, check_fits=False).hash for c in space.configs()}
    assert len(hashes) == space.size()


def test_size_is_none_for_a_continuous_space():
    sp = SearchSpace.from_dict({"fixed": {"backbone": {"type": "resnet_cifar", "depth": 8}, "input_size": [1, 16, 16]},
                                "dimensions": {"backbone.width": {"low": 0.5, "high": 1.0}}})
    assert sp.size() is None
    assert 0.5 <= sp.sample(3).backbone.params["width"] <= 1.0


def test_stepped_range_is_finite_and_stays_within_its_bounds():
    def widths(spec):
        sp = SearchSpace.from_dict({"fixed": {"backbone": {"type": "resnet_cifar", "depth": 8}, "input_size": [1, 16, 16]},
                                    "dimensions": {"backbone.width": spec}})
        seen = {a.backbone.params["width"] for a in sp.configs()}
        assert seen == {sp.sample(s).backbone.params["width"] for s in range(40)} and sp.size() == len(seen)
        return seen
    assert widths({"low": 0.5, "high": 1.0, "step": 0.25}) == {0.5, 0.75, 1.0}
    assert widths({"low": 0.5, "high": 1.0, "step": 0.3}) == {0.5, 0.8}          # not 1.1
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    sp = SearchSpace.from_dict({"fixed": {"backbone": {"type": "resnet_cifar", "depth": 8}, "input_size": [1, 16, 16]},
                                "dimensions": {"backbone.width": {"low": 0.5, "high": 1.0, "step": 0.3},
                                               "backbone.depth": {"low": 8, "high": 22, "step": 6}}})
    for _ in range(20):
        trial = study.ask()
        arch = sp.suggest(trial)
        assert 0.5 <= arch.backbone.params["width"] <= 1.0 and arch.backbone.params["depth"] in (8, 14, 20)
        study.tell(trial, 0.0)


def test_seeded_sampling_is_reproducible_and_covers_the_space(space):
    assert [space.sample(s).hash for s in range(10)] == [space.sample(s).hash for s in range(10)]
    rng = np.random.default_rng(0)
    seen = {space.sample(rng).hash for _ in range(200)}
    every = {ArchConfig.from_dict(c, check_fits=False).hash for c in space.configs()}
    assert seen <= every and len(seen) > len(every) // 2


def test_conditional_suggest_asks_only_what_applies(space):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    kinds = set()
    for _ in range(30):
        trial = study.ask()
        arch = space.suggest(trial)
        kinds.add(arch.attention.type)
        if trial.params["attention.type"] == "none":
            assert "attention.reduction" not in trial.params and "insertion_point" not in trial.params
        elif arch.attention.type == "se":  # (se with mask "000" folds into none)
            assert arch.attention.params["reduction"] == trial.params["attention.reduction"]
        study.tell(trial, 0.0)
    assert kinds == {"none", "se"}


def test_flat_suggest_gives_nsga2_a_static_space(space):
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=optuna.samplers.NSGAIISampler(seed=0, population_size=4))
    names = set()
    for i in range(12):
        trial = study.ask()
        space.suggest(trial, flat=True)
        names.add(frozenset(trial.params))
        study.tell(trial, [i % 3, i % 5])
    assert len(names) == 1  # every trial asks the same parameters: NSGA-II's crossover sees them all
    assert {"attention.reduction", "insertion_point", "stage_mask"} <= set(next(iter(names)))


def test_by_parent_choices():
    sp = SearchSpace.from_dict({
        "fixed": {"num_classes": 10, "input_size": [3, 16, 16]},
        "dimensions": {"backbone.type": ["resnet_cifar", "resnet"],
                       "backbone.depth": {"by": "backbone.type", "choices": {"resnet_cifar": [8], "resnet": [18]}},
                       "backbone.width": [0.25]}})
    archs = {sp.sample(s).name for s in range(20)}
    assert archs == {"resnet_cifar8x0.25~3x16x16", "resnet18x0.25~3x16x16"}   # a width other than 1, the input size
    assert sp.size() == 2


def test_explicit_when_condition():
    sp = SearchSpace.from_dict({
        "fixed": {"backbone": {"type": "resnet_cifar", "depth": 8}, "input_size": [1, 16, 16]},
        "dimensions": {"activation": ["relu", "gelu"],
                       "attention.type": ["se"],
                       "attention.reduction": {"choices": [2, 4], "when": {"activation": ["gelu"]}}}})
    for s in range(20):
        arch = sp.sample(s)
        if arch.activation == "relu":
            assert arch.attention.params["reduction"] == 16 // 4 * 4  # the default, 16
    assert sp.size() == 1 + 2


def test_stage_mask_with_wrong_length_is_filtered_and_empty_filter_is_an_error():
    sp = SearchSpace.from_dict({
        "fixed": {"backbone": {"type": "resnet_cifar", "depth": 8}, "input_size": [1, 16, 16], "attention": {"type": "se", "reduction": 4}},
        "dimensions": {"stage_mask": ["111", "0111"]}})
    assert {sp.sample(s).stage_mask for s in range(10)} == {(True, True, True)}
    with pytest.raises(AttnasError, match="stage_mask: no choice applies"):
        SearchSpace.from_dict({
            "fixed": {"backbone": {"type": "resnet_cifar", "depth": 8}, "attention": {"type": "se", "reduction": 4}},
            "dimensions": {"stage_mask": ["0111"]}})


@pytest.mark.parametrize("dims, message", [
    ({"colour": ["red"]}, "dimensions.colour: unknown field"),
    ({"attention.type": ["none", "sse"]}, "dimensions.attention.type: 'sse' is not a registered attention"),
    ({"attention.type": ["se"], "attention.reduktion": [4]}, "dimensions.attention.reduktion: no attention in this space has a parameter 'reduktion'"),
    ({"attention.type": ["se"], "attention.reduction": ["four"]}, "dimensions.attention.reduction: 'four'"),
    ({"activation": ["relu", "swish2"]}, "dimensions.activation: 'swish2'"),
    ({"activation": []}, "dimensions.activation.choices: [] is not allowed"),
    ({"activation": ["relu", "relu"]}, "duplicate choices"),
    ({"backbone.width": {"low": 2, "high": 1}}, "dimensions.backbone.width: low=2, high=1"),
    ({"activation": {"choices": ["relu"], "if": {}}}, "dimensions.activation.if: unknown key"),
])
def test_bad_spaces_fail_before_any_training(dims, message):
    with pytest.raises(AttnasError) as err:
        SearchSpace.from_dict({"fixed": {"backbone": {"type": "resnet_cifar", "depth": 8, "width": 0.5}, "input_size": [1, 16, 16]},
                               "dimensions": dims})
    assert message in str(err.value) and "\n" not in str(err.value)


def test_bad_yaml_and_missing_file():
    with pytest.raises(AttnasError, match="not valid YAML"):
        SearchSpace.from_yaml("fixed: [\n")
    with pytest.raises(AttnasError, match="'no/such/space.yaml' is neither a file nor a shipped space; allowed: "
                                          "cifar-attention, quick, or the path"):
        SearchSpace.from_yaml("no/such/space.yaml")


def test_to_dict_round_trips(space):
    again = SearchSpace.from_dict(space.to_dict())
    assert again.hash == space.hash and again.size() == space.size()


def test_size_agrees_with_brute_force_on_a_conditional_space():
    sp = SearchSpace.from_dict({
        "fixed": {"backbone": {"type": "resnet_cifar", "depth": 8}, "input_size": [3, 16, 16]},
        "dimensions": {"activation": ["relu", "gelu"],
                       "attention.type": ["none", "se", "cbam", "sk"],
                       "attention.reduction": [4, 8],
                       "attention.kernel_size": {"by": "attention.type", "choices": {"cbam": [3, 7]}},
                       "insertion_point": ["pre_add", "post_add", "conv"],
                       "stage_mask": ["111", "000", "011"],
                       "connection.type": ["none", "direct"]}})
    brute = {ArchConfig.from_dict(c, check_fits=False).hash for c in sp.configs()}
    assert sp.size() == len(brute)


@pytest.mark.parametrize("name", ["quick", "cifar-attention"])
def test_shipped_spaces_load_and_sample(name):
    from pathlib import Path

    import search_space
    path = Path(search_space.__file__).parent / "spaces" / f"{name}.yaml"
    sp = SearchSpace.from_yaml(path, num_classes=10, input_size=[3, 16, 16])
    assert sp.sample(1).num_classes == 10 and sp.sample(2).input_size == (3, 16, 16)


# ---- spaces by name ------------------------------------------------------------------------------------------
def test_a_shipped_space_is_found_by_name_with_hyphens_or_underscores():
    from search_space.space import resolve_space, shipped_spaces
    assert {"cifar-attention", "quick"} <= set(shipped_spaces())
    ref = resolve_space("cifar-attention")
    for name in ("cifar_attention", "cifar-attention.yaml", "Cifar_Attention"):
        assert resolve_space(name) == ref
    assert SearchSpace.load("cifar_attention").hash == SearchSpace.from_dict(ref).hash
    assert SearchSpace.from_yaml("quick").size() == SearchSpace.load("quick").size()


def test_a_path_is_read_relative_to_the_study_and_wins_over_a_name(tmp_path):
    from search_space.space import resolve_space
    mine = {"name": "mine", "fixed": {"backbone": {"type": "resnet_cifar", "depth": 8}},
            "dimensions": {"activation": ["relu", "gelu"]}}
    (tmp_path / "quick.yaml").write_text(__import__("yaml").safe_dump(mine))
    assert resolve_space("quick.yaml", tmp_path)["name"] == "mine"      # the file next to the study
    assert resolve_space("quick", tmp_path)["name"] == "quick"          # no such file: the shipped space
    assert resolve_space(str(tmp_path / "quick.yaml"))["name"] == "mine"
    assert SearchSpace.load("quick.yaml", tmp_path).size() == 2
    assert resolve_space(mine) == mine                                   # inline


@pytest.mark.parametrize("ref", ["cifar-atention", "spaces/cifar_attention.yaml", "no/such.yaml"])
def test_an_unknown_space_is_one_line_listing_the_shipped_names(ref):
    from search_space.space import resolve_space
    with pytest.raises(AttnasError) as err:
        resolve_space(ref, ".")
    assert str(err.value).startswith(f"space: {ref!r} is neither a file nor a shipped space; allowed: "
                                     f"cifar-attention, quick") and "\n" not in str(err.value)


def test_the_shipped_spaces_sizes_are_exact_and_fast():
    import time
    sizes = {}
    for name in ("quick", "cifar-attention"):
        space = SearchSpace.load(name)
        start = time.process_time()
        sizes[name] = space.size()
        assert time.process_time() - start < 20
    assert sizes["quick"] == 804      # 828 before reductions giving the same hidden widths folded (issue 19)
    assert sizes["cifar-attention"] > 10 ** 8
