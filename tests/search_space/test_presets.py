"""Every shipped preset: in the export format, listed by `attnas presets`, builds and trains a step, and its
estimate_cost equals the counters of the built model (at a small input here, at its native input under slow)."""
import re

import pytest
import torch

from search_space import build_model, load_arch
from search_space.cost import estimate_cost
from search_space.presets import preset_description, preset_names, preset_path
from studies.cli import main
from trainers import count_macs, count_params

REQUIRED = (
    # issue 2
    "resnet18 resnet34 resnet50 resnet101 se-resnet50 cbam-resnet50 eca-resnet50 triplet-resnet50 ca-resnet50 "
    "gc-resnet50 sk-resnet50 csm-resnet50 resnet20 resnet56 resnet110 se-resnet56 wrn18-1.5 "
    # issue 5
    "fa-resnet20 fa-resnet56 fa-resnet110 fa-se-resnet56 fa-se-resnet110 fa-vgg19 fa-resnext29 dca-se-resnet50 "
    "dca-cbam-resnet50 dca-sk-resnet50 dca-ge-resnet50 dca-gc-resnet50 mobilenetv2 se-mobilenetv2 "
    "dca-se-mobilenetv2 mnasnet1.0 se-mnasnet1.0 dca-se-mnasnet1.0 ram-resnet18 fft-tiny fft-base fft-large "
    "van-b0 van-b1 van-lk-b0 van-mb-b0 van-replk-b0 van-res2net-b0 res2net50 res2net50-cCD-ST "
    "triplet-ca-resnet50 triplet-lkn-resnet50 vgg19 resnext29 inception-v4 csm-resnet18 wrn18-1.5-csm"
).split()
NAMES = preset_names()


def test_every_required_preset_is_shipped():
    assert sorted(set(REQUIRED) - set(NAMES)) == []


def test_attnas_presets_lists_names_with_descriptions(capsys):
    assert main(["presets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [l.split()[0] for l in lines] == NAMES
    assert all(len(l.split(None, 1)) == 2 for l in lines)  # every line has a description


@pytest.mark.parametrize("name", NAMES)
def test_preset_is_in_export_format(name):
    arch = load_arch(name)
    text = preset_path(name).read_text()
    assert re.match(rf"# attnas ArchConfig {arch.hash}\n", text), "header hash must be the canonical hash"
    assert text == arch.to_yaml(header=preset_description(name)), "preset must be exactly what export writes"
    imagenet = arch.num_classes == 1000
    assert arch.input_size == ((3, 224, 224) if imagenet else arch.input_size)


def _small_input(name):
    return "3x64x64" if name.startswith("fft") else "3x32x32"


@pytest.mark.parametrize("name", NAMES)
def test_preset_trains_a_step_at_small_input(name):
    torch.set_num_threads(1)
    arch = load_arch(name, input_size=_small_input(name))
    model = build_model(arch)
    assert estimate_cost(arch) == (count_params(model), count_macs(model, arch.input_size))
    x = torch.randn(2, *arch.input_size)
    out = model(x)
    assert out.shape == (2, arch.num_classes)
    out.logsumexp(1).mean().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_preset_trains_a_step_at_native_input(name):
    arch = load_arch(name)
    model = build_model(arch)
    assert estimate_cost(arch) == (count_params(model), count_macs(model, arch.input_size))
    out = model(torch.randn(2, *arch.input_size))
    assert out.shape == (2, arch.num_classes)
    out.logsumexp(1).mean().backward()


def test_migrate_renames_and_drops_removed_parameters():
    from search_space.presets import migrate

    old = {"attention": {"type": "triplet_lkn", "zpool_stats": ["max", "avg"], "conv_act": "none",
                         "local_kernel": 3}}
    assert migrate(old)["attention"] == {"type": "triplet_lkn", "act": "identity", "local_kernel_size": 3}
    load_arch({"backbone": {"type": "resnet_cifar", "depth": 8}, **migrate(old)})
