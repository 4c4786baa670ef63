"""Arms and warm-start references as presets, ArchConfig paths or inline configs (studies/arms.py): validated once
at load, self-contained in study.yaml, with `set` overrides and the paper's numbers attached."""
import pytest
import yaml

from search_space import load_arch
from search_space.errors import AttnasError
from studies.config import StudyConfig

TINY = {"backbone": {"type": "resnet_cifar", "depth": 8, "width": 0.25}, "num_classes": 4, "input_size": [1, 8, 8]}


def study(**over):
    return {"name": "abl", "storage": {"root": "/tmp/unused"}, **over}


def test_warm_start_takes_presets_paths_and_inline_configs(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(load_arch("resnet20").to_yaml())
    cfg = StudyConfig.from_dict(study(space="quick", warm_start=[
        "resnet20", "mine.yaml", {"name": "inline", "arch": TINY}, {"name": "se8", "arch": "resnet20",
                                                                      "set": {"attention": {"type": "se"}, "stage_mask": "111"}}]),
        base_dir=tmp_path)
    assert cfg.warm_start == ("resnet20", "mine", "inline", "se8") and cfg.reference_names == list(cfg.warm_start)
    assert cfg.reference_arm("se8").config(num_classes=4, input_size=[1, 8, 8]).attention.type == "se"
    # study.yaml is self-contained: the path is inlined, the preset stays a name; it reloads from anywhere
    saved = yaml.safe_load(cfg.to_yaml())
    assert saved["warm_start"][0] == "resnet20" and isinstance(saved["warm_start"][1]["arch"], dict)
    renamed = StudyConfig.from_dict(study(space="quick", warm_start=[{"name": "base", "arch": "resnet20"}]))
    assert StudyConfig.from_dict(renamed.to_dict()).warm_start == ("base",)
    again = StudyConfig.from_dict(saved, base_dir="/")
    assert again == cfg


def test_arms_make_a_study_without_a_space_and_set_the_budget():
    cfg = StudyConfig.from_dict(study(arms=[
        {"name": "a", "arch": TINY, "reported": {"top1_pct": 70.0, "params_m": 0.07, "dataset": "cifar10"}},
        {"name": "b", "arch": TINY, "set": {"attention.type": "se", "attention.reduction": 2}}]))
    assert cfg.space is None and cfg.search_space() is None and cfg.trials == 2
    assert cfg.reference_names == ["a", "b"]
    b = cfg.reference_arm("b").config()
    assert b.attention.type == "se" and b.attention.params["reduction"] == 2
    with_space = StudyConfig.from_dict(study(space="quick", sampler="grid", warm_start=["resnet20"],
                                             arms=[{"name": "a", "arch": TINY}]))
    from search_space.space import SearchSpace
    assert with_space.trials == SearchSpace.load("quick").size() + 2          # the grid, the reference, the arm


@pytest.mark.parametrize("changes, message", [
    ({"arms": [{"arch": TINY}]}, "arms[0].name: missing"),
    ({"arms": [{"name": "a b", "arch": "resnet20"}]}, "arms[0].name: 'a b' is not allowed"),
    ({"arms": [{"name": "a", "arch": "resnet21"}]}, "arms[0].arch: 'resnet21' is neither a file nor a preset"),
    ({"arms": [{"name": "a", "arch": "missing.yaml"}]}, "arms[0].arch: 'missing.yaml' does not exist"),
    ({"arms": [{"name": "a", "arch": "resnet20", "colour": 1}]}, "arms[0].colour: unknown field"),
    ({"arms": [{"name": "a", "arch": "resnet20", "reported": {"top1": 70}}]}, "arms[0].reported.top1: unknown field"),
    ({"arms": [{"name": "a", "arch": "resnet20", "reported": {"top1_pct": "70%"}}]}, "arms[0].reported.top1_pct:"),
    ({"arms": [{"name": "a", "arch": "resnet20", "reported": {"top1_pct": 70, "error_pct": 20}}]},
     "do not add to 100"),
    ({"arms": [{"name": "a", "arch": "resnet20", "reported": [{"top1_pct": 70}]}]}, "one distinct dataset each"),
    ({"arms": [{"name": "a", "arch": "resnet20", "set": {"attention.type": "sse"}}]}, "arms[0]: attention.type"),
    ({"arms": [{"name": "a", "arch": "resnet20"}, {"name": "a", "arch": "resnet32"}]}, "'a' appears twice"),
    ({"warm_start": ["resnet20"], "arms": [{"name": "resnet20", "arch": "resnet32"}]}, "also a warm_start name"),
    ({"space": "quick", "warm_start": "resnet20"}, "warm_start: 'resnet20' is not allowed"),
    ({}, "space: missing; allowed: an inline search space, a path to one, a shipped space (cifar-attention"),
    ({"arms": [{"name": "a", "arch": 3}]}, "arms[0].arch: 3 is not allowed"),
])
def test_bad_arms_are_one_line_naming_the_field(changes, message):
    with pytest.raises(AttnasError) as e:
        StudyConfig.from_dict(study(**changes))
    assert "\n" not in str(e.value) and message in str(e.value), str(e.value)


def test_reported_per_data_set_picks_the_studys_data():
    cfg = StudyConfig.from_dict(study(arms=[{"name": "a", "arch": "fft-tiny", "reported": [
        {"top1_pct": 80.0, "dataset": "cifar10"}, {"top1_pct": 50.0, "dataset": "tinyimagenet"}]}]))
    arm = cfg.arms[0]
    assert arm.reported_for("tinyimagenet")["top1_pct"] == 50.0
    assert arm.reported_for("digits")["top1_pct"] == 80.0           # not the paper's data: the first entry


def test_an_arm_may_be_a_seed_replicate_and_nothing_else_is_allowed_there():
    cfg = StudyConfig.from_dict(study(arms=[{"name": "a", "arch": TINY}, {"name": "b", "arch": TINY, "replicate": 1}]))
    assert [cfg.reference_arm(n).replicate for n in ("a", "b")] == [0, 1]
    assert StudyConfig.from_dict(cfg.to_dict()).reference_arm("b").replicate == 1      # study.yaml keeps it
    assert [cfg.reference_number(n) for n in ("a", "b")] == [-1, -2]
    for bad in (-1, 1.5, True, "1"):
        with pytest.raises(AttnasError, match=r"^arms\[0\]\.replicate: .* allowed: an integer >= 1"):
            StudyConfig.from_dict(study(arms=[{"name": "a", "arch": TINY, "replicate": bad}]))


def test_the_shipped_triplet_ablation_trains_its_baseline_once():
    """7x7conv-relu and batchnorm-sigmoid are one network (the report ran it twice), and so are 7x7conv-celu and
    7x7conv-elu (CELU at alpha 1 is ELU): equal by hash, so the study answers the second of each from the first."""
    from studies.commands.search import resolve_study

    cfg = StudyConfig.from_yaml(resolve_study("triplet-activation"))
    hashes = {n: cfg.reference_arm(n).config(num_classes=10, input_size=[3, 32, 32]).hash for n in cfg.reference_names}
    assert hashes["7x7conv-relu"] == hashes["batchnorm-sigmoid"]
    assert hashes["7x7conv-celu"] == hashes["7x7conv-elu"]
    assert len(set(hashes.values())) == len(hashes) - 2
    assert not any(cfg.reference_arm(n).replicate for n in cfg.reference_names)
