import pytest
import torch
import yaml

from search_space import ArchConfig, AttnasError, build_model, load_arch


def test_yaml_round_trip_is_lossless(cifar_arch):
    arch = ArchConfig.from_dict({**cifar_arch, "attention": {"type": "se", "reduction": 4},
                                 "insertion_point": "post_add", "stage_mask": [False, True, True],
                                 "activation": "silu"})
    again = ArchConfig.from_yaml(arch.to_yaml())
    assert again == arch and again.hash == arch.hash
    assert again.to_dict() == arch.to_dict()


def test_flat_dict_for_mlflow(cifar_arch):
    flat = ArchConfig.from_dict({**cifar_arch, "attention": {"type": "se", "reduction": 4}}).to_flat_dict()
    assert flat["attention.reduction"] == 4 and flat["backbone.depth"] == 8
    assert flat["stage_mask"] == "True,True,True"


@pytest.mark.parametrize("variant", [
    {"attention": {"type": "none"}},
    {"attention": {"type": "se", "reduction": 4}, "stage_mask": [False, False, False]},
    {"attention": {"type": "se", "reduction": 8}, "stage_mask": "000", "insertion_point": "post_add"},
])
def test_equivalent_points_share_one_canonical_form(cifar_arch, variant):
    plain = ArchConfig.from_dict(cifar_arch)
    other = ArchConfig.from_dict({**cifar_arch, **variant})
    assert other == plain and other.hash == plain.hash


def test_distinct_points_have_distinct_hashes(cifar_arch):
    a = ArchConfig.from_dict({**cifar_arch, "attention": {"type": "se", "reduction": 4}})
    b = ArchConfig.from_dict({**cifar_arch, "attention": {"type": "se", "reduction": 8}})
    assert a.hash != b.hash


@pytest.mark.parametrize("change, field", [
    ({"colour": "red"}, "colour: unknown field"),
    ({"attention": {"type": "sse"}}, "attention.type: 'sse' is not a registered attention"),
    ({"attention": {"type": "se", "reduktion": 4}}, "attention.reduktion: unknown parameter"),
    ({"attention": {"type": "se", "reduction": "four"}}, "attention.reduction: 'four'"),
    ({"attention": {"type": "se", "reduction": 0}}, "attention.reduction: 0 is not allowed; allowed: an integer >= 1"),
    ({"backbone": {"type": "vgg", "depth": 11}, "input_size": [3, 16, 16]}, "input_size: 3x16x16"),
    ({"stage_mask": [True, False]}, "stage_mask: [True, False] has 2 entries; allowed: 3"),
    ({"insertion_point": "identity"}, "insertion_point: 'identity' is not an insertion point"),
    ({"activation": "swish2"}, "activation: 'swish2'"),
    ({"backbone": {"type": "resnet_cifar", "depth": 21}}, "backbone.depth: 21"),
    ({"backbone": {"type": "resnet", "depth": 19}}, "backbone.depth: 19"),
    ({"num_classes": 1}, "num_classes: 1"),
    ({"input_size": "3x32"}, "input_size: '3x32'"),
    ({"input_size": [3, 0, 16]}, "input_size: [3, 0, 16]"),
    ({"connection": {"type": "telepathy"}}, "connection.type: 'telepathy'"),
])
def test_bad_configs_fail_with_one_line_naming_the_field(cifar_arch, change, field):
    with pytest.raises(AttnasError) as err:
        ArchConfig.from_dict({**cifar_arch, **change})
    message = str(err.value)
    assert field in message and "\n" not in message


def test_a_reduction_larger_than_the_channels_builds(cifar_arch):
    # rounded like timm's (a floor on the reduced width), so the space never has to exclude it
    arch = ArchConfig.from_dict({**cifar_arch, "attention": {"type": "se", "reduction": 64}})
    assert build_model(arch)(torch.randn(1, 3, 16, 16)).shape == (1, 10)


def test_load_arch_overrides_classes_and_input():
    arch = load_arch("se-resnet50", num_classes=10, input_size="3x32x32")
    assert arch.num_classes == 10 and arch.input_size == (3, 32, 32)
    assert build_model(arch)(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_load_arch_unknown_name_lists_presets():
    with pytest.raises(AttnasError, match="neither a file nor a preset; allowed: .*resnet50"):
        load_arch("no-such-model")


def test_load_arch_reads_yaml_file(tmp_path, cifar_arch):
    path = tmp_path / "a.yaml"
    path.write_text(yaml.safe_dump(cifar_arch))
    assert load_arch(path).backbone.params["depth"] == 8
    path.write_text("backbone: [unclosed")
    with pytest.raises(AttnasError, match="not valid YAML"):
        load_arch(path)
