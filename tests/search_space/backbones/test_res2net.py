"""Res2Net: the paper's counts and MACs, the v1b (ResNet-C/D) variant, and the report's attention positions."""
import pytest
import torch

from search_space import ArchConfig, build_model
from search_space.attention.se import SqueezeExcite
from search_space.backbones.res2net import HierarchicalBranches
from search_space.errors import AttnasError
from search_space.registry import ATTENTION

IMAGENET = {"num_classes": 1000, "input_size": [3, 224, 224]}
R50 = {"backbone": {"type": "res2net", "depth": 50}, **IMAGENET}


@pytest.mark.parametrize("backbone, published", [({"depth": 50}, 25.70e6), ({"depth": 101}, 45.21e6),
                                                  ({"depth": 50, "stem": "deep", "downsample": "avg"}, 25.72e6)])
def test_counts_match_gao_et_al(n_params, backbone, published):
    # Res2Net-50/101 26w4s (paper Tables 1/6 and the official res2net*_26w_4s); v1b-50 is 25.72M
    assert n_params({"backbone": {"type": "res2net", **backbone}, **IMAGENET}) == pytest.approx(published, rel=0.001)


def test_macs_match_gao_et_al(macs):
    assert macs(R50) == pytest.approx(4.2e9, rel=0.02)


def test_branch_attention_has_sub_branch_widths(modules):
    data = {**R50, "attention": {"type": "se"}, "insertion_point": "branch"}
    # shared (default): one module per block, of the sub-branch width 26 * planes / 64
    widths = [m.fc1.in_channels for m in modules(data, SqueezeExcite)]
    assert widths == [26] * 3 + [52] * 4 + [104] * 6 + [208] * 3
    # per_branch: one per sub-network, all 4 of them (x1..x4, 方案二)
    per = {**data, "backbone": {**R50["backbone"], "branch_attention": "per_branch"}}
    widths = [m.fc1.in_channels for m in modules(per, SqueezeExcite)]
    assert widths == [26] * 12 + [52] * 16 + [104] * 24 + [208] * 12


REPORT = {"backbone": {"type": "res2net", "depth": 50, "base_width": 16}, **IMAGENET}


@pytest.mark.parametrize("attention, added", [({"type": "se"}, 0.011e6), ({"type": "triplet", "act": "relu"}, 0.005e6)])
def test_report_sub_network_attention_is_one_module_per_block(n_params, attention, added):
    """003 表9: Res2Net_S1 and _T1 add 0.011M and 0.005M to 16.360M (printed to 1e-3 M): one module per
    block shared by its 4 sub-networks (4 per block would add 0.043M for SE)."""
    base = n_params(REPORT)
    got = n_params({**REPORT, "attention": attention, "insertion_point": "branch"}) - base
    assert abs(got - added) <= 0.001e6


def test_every_sub_network_is_attended_including_the_passed_through_split():
    torch.manual_seed(0)
    arch = ArchConfig.from_dict({"backbone": {"type": "res2net", "base_width": 32, "scale": 3, "width": 0.125},
                                 "attention": {"type": "se", "reduction": 1}, "insertion_point": "branch"},
                                check_fits=False)
    block = [m for m in build_model(arch).modules() if isinstance(m, HierarchicalBranches)][1]
    calls = []
    block.attns[0].register_forward_hook(lambda m, i, o: calls.append(i[0].shape))
    block(torch.randn(1, block.reduce[0].in_channels, 4, 4))
    assert len(calls) == 3                                                # scale 3: x1, x2 and the passed-through x3


def test_report_res2net_c_stem_is_64_wide(n_params, macs):
    """003 表10: Res2Net_C adds 0.061M / 0.834 GMACs to Res2Net (16.360M / 2.630G): three 3x3 convs at 64-64-64
    (+0.066M / +0.832G); ResNet-C's 32-32-64 adds 0.019M / 0.24G."""
    c = {**REPORT, "backbone": {**REPORT["backbone"], "stem": "deep_wide"}}
    assert abs(n_params(c) - n_params(REPORT) - 0.061e6) < 0.006e6
    assert macs(c) - macs(REPORT) == pytest.approx(0.834e9, rel=0.01)


def test_activation_swap_keeps_the_stem_relu():
    """003 表8 swaps the activation of the Res2Net modules (图21), not the stem's."""
    arch = ArchConfig.from_dict({**REPORT, "activation": "celu"})      # CELU at alpha 1 is ELU: kept as elu
    model = build_model(arch)
    assert isinstance(model.backbone.stem[2], torch.nn.ReLU)
    assert any(isinstance(m, torch.nn.ELU) for m in model.backbone.stages.modules())


def test_position_two_and_mask(modules):
    data = {**R50, "attention": {"type": "se"}, "stage_mask": [0, 0, 1, 1]}
    assert [m.fc1.in_channels for m in modules(data, SqueezeExcite)] == [1024] * 6 + [2048] * 3


def test_st_is_se_in_branches_and_triplet_after_last_1x1(modules):
    triplet = ATTENTION.get("triplet")
    data = {**R50, "attention": {"type": "triplet"}, "insertion_point": "pre_add",
            "extra_attention": {"branch": {"type": "se"}}}
    assert len(modules(data, SqueezeExcite)) == 16                       # one per block, shared by its 4 sub-networks
    assert len(modules(data, triplet)) == 16
    # the other orders (TS, TT, SS) are the same two fields swapped
    ts = {**data, "attention": {"type": "se"}, "extra_attention": {"branch": {"type": "triplet"}}}
    assert len(modules(ts, SqueezeExcite)) == 16 and len(modules(ts, triplet)) == 16


def test_first_block_of_a_stage_is_not_hierarchical():
    # 'stage' blocks give each 3x3 its own split; later blocks add the previous sub-branch output
    torch.manual_seed(0)
    arch = ArchConfig.from_dict({"backbone": {"type": "res2net", "base_width": 32, "scale": 3, "width": 0.125}},
                                check_fits=False)   # one shared (identity) module per block: hooked, it sees every branch
    model = build_model(arch).eval()
    firsts = [m for m in model.modules() if isinstance(m, HierarchicalBranches)]
    for block, hierarchical in ((firsts[0], False), (firsts[1], True)):
        x = torch.randn(1, block.reduce[0].in_channels, 4, 4)
        w = block.width
        y = block.reduce(x)
        base = block.convs[1](y[:, w:2 * w])
        full = block.convs[1](y[:, w:2 * w] + block.convs[0](y[:, :w]))
        outs = []
        block.attns[0].register_forward_hook(lambda m, i, o: outs.append(o))
        block(x)
        expected = full if hierarchical else base
        assert torch.allclose(outs[1], expected, atol=1e-6)            # the second sub-branch's output


def test_forward_shapes_small():
    base = {"backbone": {"type": "res2net", "base_width": 32, "scale": 2, "width": 0.125, "stem": "deep",
                         "downsample": "avg"}, "activation": "celu", "num_classes": 6, "input_size": [3, 32, 32]}
    assert build_model(ArchConfig.from_dict(base))(torch.randn(2, 3, 32, 32)).shape == (2, 6)
    for stem in ("conv7", "cifar"):  # from_dict checks that each fits (shape walk, no build)
        ArchConfig.from_dict({**base, "backbone": {**base["backbone"], "stem": stem}})


def test_bad_scale_and_width_teach():
    with pytest.raises(AttnasError, match="backbone.scale: 1"):
        ArchConfig.from_dict({"backbone": {"type": "res2net", "scale": 1}})
    with pytest.raises(AttnasError, match="backbone.base_width"):
        ArchConfig.from_dict({"backbone": {"type": "res2net", "base_width": 4, "width": 0.125}})
