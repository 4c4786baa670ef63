"""Every shipped preset: in the export format, listed by `attnas presets`, builds and trains a step, and its
estimate_cost equals the counters of the built model (at a small input here, at its native input under slow).
The small-input step runs at real batch sizes (conftest.real_batches) on a non-square input."""
import re

import pytest
import torch

from search_space import AttnasError, build_model, load_arch
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


LARGE = 100e6
"""Presets above this many parameters skip the small-input step: an optimiser step holds weights, gradients
and AdamW state (4 x 4 bytes a parameter, over 1.6 GB), too much for the default run on the dev box; their
building, cost and fit are still checked here and their step at native input under ``-m slow``."""


def _small_arch(name):
    """The preset at a small non-square input (32x48, or 64x96 where FFT's patch grids need it; the square one
    where neither fits)."""
    for size in ("3x32x48", "3x64x96", "3x32x32", "3x64x64"):
        try:
            return load_arch(name, input_size=size)
        except AttnasError:
            continue
    raise AssertionError(f"{name} takes none of the small inputs")


def _kinds(name: str) -> tuple:
    """What a preset's step exercises beyond its depth and width: its backbone, and its attention with its
    connection and gating."""
    arch = load_arch(name)
    return (("backbone", arch.backbone.type),
            ("modules", arch.attention.type, arch.connection.type, arch.gating.type))


def _step_params() -> list:
    """Every preset: in the default run each one that brings a backbone or a module combination not stepped
    yet; the others (deeper or wider siblings of what is already stepped: ~3 of the default run's minutes)
    under ``-m slow``. The contract tests step every attention x backbone pair at real shapes besides."""
    seen, params = set(), []
    for name in NAMES:
        new = set(_kinds(name)) - seen
        params.append(name if new else pytest.param(name, marks=pytest.mark.slow))
        seen |= set(_kinds(name))
    return params


@pytest.mark.parametrize("name", _step_params())
def test_preset_takes_an_optimiser_step_at_real_batches(name, real_shapes):
    """Train-mode forward, backward and one AdamW step at a batch of at least 3 (the first of 3, 5, 7, ... that
    equals no channel or spatial size of the model), eval-mode forward at another such batch with each image's
    output the one it gets alone, on a small non-square input."""
    torch.set_num_threads(1)
    arch = _small_arch(name)
    params = estimate_cost(arch)[0]
    if params > LARGE:
        pytest.skip(f"{name}: {params / 1e6:.0f} M parameters > 100 M (an optimiser step needs > 1.6 GB; "
                    f"stepped at native input under -m slow)")
    assert arch.input_size[1] != arch.input_size[2] or name.startswith("fft")
    torch.manual_seed(0)
    model = build_model(arch)
    assert estimate_cost(arch) == (count_params(model), count_macs(model, arch.input_size))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    before = [p.detach().clone() for p in model.parameters()]
    train_b, eval_b = real_shapes.run(model, arch.input_size, arch.num_classes, loss=lambda o: o.logsumexp(1).mean())
    assert train_b >= 3 and eval_b >= 3
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    optimizer.step()
    after = list(model.parameters())
    assert all(torch.isfinite(p).all() for p in after)
    assert sum(not torch.equal(a, b) for a, b in zip(before, after)) == len(after), "every parameter moves"


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_preset_trains_a_step_at_native_input(name):
    arch = load_arch(name)
    model = build_model(arch)
    assert estimate_cost(arch) == (count_params(model), count_macs(model, arch.input_size))
    out = model(torch.randn(3, *arch.input_size))
    assert out.shape == (3, arch.num_classes)
    out.logsumexp(1).mean().backward()
    torch.optim.SGD(model.parameters(), lr=1e-3).step()
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_migrate_renames_and_drops_removed_parameters():
    from search_space.presets import migrate

    old = {"attention": {"type": "triplet_lkn", "zpool_stats": ["max", "avg"], "conv_act": "none",
                         "local_kernel": 3}}
    assert migrate(old)["attention"] == {"type": "triplet_lkn", "act": "identity", "local_kernel_size": 3}
    load_arch({"backbone": {"type": "resnet_cifar", "depth": 8}, **migrate(old)})
