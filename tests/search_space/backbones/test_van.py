"""VAN (Guo et al. 2022) and report 003's variants: counts against the papers, the attention slot, presets.

Counts are at 1000 classes and 3x224x224, where the VAN paper and report 003 (Tables 4, 5, 7) give them,
even though the report trains on CIFAR-100. Its VAN-BN-B0 row (13.873M) repeats the VAN-BN-B1 count and is not
checked; VAN-BN-B0 is VAN-B0 + 6 params per block channel (4.1154M). Its VAN-RepLK-B1 row (213.874M, 58 GMACs)
fits no 31x31 RepLK block in VAN-B1 (that is 17.31M) and is not checked either.
"""
import pytest
import torch
from torch import nn

from search_space import ArchConfig, build_model
from search_space.errors import AttnasError
from search_space.presets import preset_names, preset_path
from search_space.registry import ATTENTION



B0, B1 = {"type": "van", "variant": "b0"}, {"type": "van", "variant": "b1"}
TINY = {"type": "van", "variant": "custom", "dims": [8, 16, 24, 32], "depths": [1, 2, 1, 1],
        "mlp_ratios": [2, 2, 2, 2]}


def arch(backbone, attention=None, size=224, classes=1000, **more):
    return ArchConfig.from_dict({"backbone": backbone, "attention": attention or {"type": "lka"},
                                 "num_classes": classes, "input_size": [3, size, size], "activation": "gelu",
                                 **more}, check_fits=False)


def meta_params(a: ArchConfig) -> int:
    with torch.device("meta"):
        model = build_model(a)
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("backbone, attention, published, tol", [
    (B0, None, 4.1e6, 0.01), (B1, None, 13.9e6, 0.01),                     # VAN paper, Table 2
    (B0, None, 4.103e6, 0.002), (B1, None, 13.856e6, 0.002),                 # report 003, Table 4
    (B0, {"type": "lka", "variant": "lk"}, 4.256e6, 0.002),
    (B1, {"type": "lka", "variant": "lk"}, 14.114e6, 0.002),
    (B1, {"type": "lka", "bn": True}, 13.873e6, 0.002),
    (B0, {"type": "lka", "act": "elu"}, 4.103e6, 0.002),
    (B0, {"type": "lka_mb", "dilated_kernel_sizes": [3, 5, 7]}, 5.344e6, 0.002),   # Table 5
    (B0, {"type": "lka_mb", "dilated_kernel_sizes": [5, 7, 9]}, 5.46e6, 0.002),
    (B0, {"type": "lka_mb", "dilated_kernel_sizes": [7, 9, 11]}, 5.613e6, 0.002),
    (B1, {"type": "lka_mb"}, 18.191e6, 0.002),
    ({**B0, "mlp": "res2net"}, None, 62.459e6, 0.002),                      # Table 7
    ({**B0, "mlp": "res2net"}, {"type": "replk"}, 64.204e6, 0.002),
    (B0, {"type": "replk"}, 5.803e6, 0.01),                                 # training form, 5.851M
], ids=["b0-paper", "b1-paper", "b0", "b1", "lk-b0", "lk-b1", "bn-b1", "act-b0", "mb357", "mb579", "mb7911",
        "mb-b1", "res2net-b0", "res2net-replk-b0", "replk-b0"])
def test_param_counts_match_published(backbone, attention, published, tol):
    assert meta_params(arch(backbone, attention)) == pytest.approx(published, rel=tol)


def test_replk_merged_count_is_the_reports():
    # the report's 5.803M is the inference form: one biased 31x31 conv per block
    model = build_model(arch(B0, {"type": "replk"})).eval()
    merged = [m.reparameterize() for m in model.modules() if isinstance(m, ATTENTION.get("replk"))]
    assert len(merged) == 13
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(5.803e6, rel=0.001)


@pytest.mark.slow
@pytest.mark.parametrize("backbone, attention, published", [
    (B0, None, 0.87e9), (B1, None, 2.506e9), (B0, None, 0.88e9), (B1, None, 2.5e9),
    (B0, {"type": "lka", "variant": "lk"}, 0.931e9), (B0, {"type": "lka_mb"}, 1.173e9),
    (B0, {"type": "replk"}, 1.491e9), ({**B0, "mlp": "res2net"}, None, 20.409e9),
])
def test_macs_match_published(backbone, attention, published):
    thop = pytest.importorskip("thop")
    model = build_model(arch(backbone, attention)).eval()
    macs, _ = thop.profile(model, inputs=(torch.zeros(1, 3, 224, 224),), verbose=False)
    assert macs == pytest.approx(published, rel=0.02)


def count(model: nn.Module, name: str) -> int:
    return sum(isinstance(m, ATTENTION.get(name)) for m in model.modules())


def test_attention_slot_comes_from_the_config():
    lka = build_model(arch(TINY, size=32))
    se = build_model(arch(TINY, {"type": "se", "reduction": 4}, size=32))
    assert count(lka, "lka") == 5 and count(lka, "se") == 0
    assert count(se, "se") == 5 and count(se, "lka") == 0
    assert all(isinstance(b.mixer.sgu, ATTENTION.get("se")) for b in se.modules() if hasattr(b, "mixer"))


def test_without_attention_the_mixer_is_pointwise_and_masked_stages_have_none():
    plain = build_model(arch(TINY, {"type": "none"}, size=32))
    mixers = [m for m in plain.modules() if type(m).__name__ == "TokenMixer"]
    assert len(mixers) == 5 and all(isinstance(m.sgu, nn.Identity) and isinstance(m.proj_2, nn.Conv2d)
                                    for m in mixers)
    x = torch.randn(1, 8, 4, 4)
    m = mixers[0]
    torch.testing.assert_close(m(x), x + m.proj_2(m.act(m.proj_1(x))))
    masked = build_model(arch(TINY, size=32, stage_mask=[True, False, True, False]))
    assert count(masked, "lka") == 2
    assert [count(s, "lka") for s in masked.backbone.stages] == [1, 0, 1, 0]


def test_post_block_point_and_output_projection():
    post = build_model(arch(TINY, {"type": "se", "reduction": 4}, size=32, insertion_point="post_block"))
    blocks = [m for m in post.modules() if type(m).__name__ == "VANBlock"]
    assert all(isinstance(b.post, ATTENTION.get("se")) and isinstance(b.mixer.sgu, nn.Identity) for b in blocks)
    mb = build_model(arch(TINY, {"type": "lka_mb"}, size=32))
    assert all(isinstance(b.mixer.proj_2, nn.Identity) for b in mb.modules() if type(b).__name__ == "VANBlock")


def test_res2net_mlp_splits_hierarchically():
    from search_space.backbones.van import Res2NetUnit
    torch.manual_seed(0)
    unit = Res2NetUnit(8, 4).eval()
    x = torch.randn(1, 8, 5, 5)
    g = torch.split(unit.reduce(x), 2, dim=1)
    y1 = unit.convs[0](g[0])
    y2 = unit.convs[1](g[1] + y1)
    y3 = unit.convs[2](g[2] + y2)
    expected = torch.relu(unit.expand(torch.cat([y1, y2, y3, g[3]], 1)) + unit.shortcut(x))
    torch.testing.assert_close(unit(x), expected)
    assert unit(x).shape == (1, 32, 5, 5)


def test_custom_lists_equal_to_a_variant_take_its_name_and_bad_lists_are_rejected():
    a = arch({"type": "van", "variant": "custom", "dims": [32, 64, 160, 256], "depths": [3, 3, 5, 2],
              "mlp_ratios": [8, 8, 4, 4]})
    assert a.backbone.params["variant"] == "b0"
    with pytest.raises(AttnasError, match=r"backbone.dims: \[8, 16\] with depths \[1\] .* not allowed"):
        arch({"type": "van", "variant": "custom", "dims": [8, 16], "depths": [1], "mlp_ratios": [2, 2]})
    with pytest.raises(AttnasError, match=r"backbone.res2net_scale: 1 is not allowed; allowed: an integer >= 2"):
        arch({**B0, "mlp": "res2net", "res2net_scale": 1})


VAN_PRESETS = [n for n in preset_names() if n.startswith("van-")]


def test_named_presets_exist():
    assert {"van-b0", "van-b1", "van-lk-b0", "van-mb-b0", "van-replk-b0", "van-res2net-b0"} <= set(VAN_PRESETS)


def test_presets_are_native_cifar100():
    # the training step of every preset is in test_presets.py; here: the report's CIFAR-100 setting
    for name in VAN_PRESETS:
        a = ArchConfig.from_yaml(preset_path(name).read_text(), check_fits=False)
        assert (a.num_classes, a.input_size) == (100, (3, 32, 32))
