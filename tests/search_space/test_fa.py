"""Focus-and-Association gating (seed 001) against its equations, its deployment forms and published counts."""
import pytest
import torch
import yaml
from torch import nn

from search_space.arch_config import ArchConfig
from search_space.build import build_model
from search_space.errors import AttnasError
from search_space.gatings.fa import FocusAssociation, focus_and_association
from search_space.presets import preset_path
from search_space.shapes import BlockShape




def conv_block(cin, cout, stride=1):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.ReLU())


def blocks(n=4, c=8):
    torch.manual_seed(0)
    return [conv_block(c, c) for _ in range(n)]


def same_shapes(n=4, c=8, size=6):
    """What the backbone's shape walk hands FA for ``n`` shape-keeping blocks."""
    return [BlockShape((c, size, size), (c, size, size), 1)] * n


COUNTS = {}


def params(arch):
    """Parameter count of ``arch`` built on the meta device (cached: several tests share a model)."""
    if arch.hash not in COUNTS:
        with torch.device("meta"):
            COUNTS[arch.hash] = sum(p.numel() for p in build_model(arch).parameters())
    return COUNTS[arch.hash]


def preset(name):
    return ArchConfig.from_dict(yaml.safe_load(preset_path(name).read_text()), check_fits=False)


def cifar(depth, **extra):
    return ArchConfig.from_dict({"backbone": {"type": "resnet_cifar", "depth": depth}, **extra}, check_fits=False)


@pytest.mark.parametrize("k, expect", [(0.0, "x"), (1.0, "u")])
def test_forced_weight_gives_input_or_block_output(k, expect):
    """Eq. 12: k_i = 0 skips the block (X_i), k_i = 1 releases it fully (U_i)."""
    bs = blocks(3)
    fa = focus_and_association(bs, "blocks", same_shapes(3))
    fa.block_weight = lambda i, x, prev: torch.full((x.shape[0], 1), k)
    x = torch.randn(2, 8, 6, 6)
    with torch.no_grad():
        out = fa(x)
        x1 = bs[0](x)                                  # block 0 is never gated
        want = x1 if expect == "x" else bs[2](bs[1](x1))
    assert torch.allclose(out, want, atol=1e-6)


def test_forward_matches_equations_by_hand():
    """Eq. 5-9 recomputed from the module's own layers: focus on GAP(X_i), association from i = 2 over
    [k_1 .. k_{i-1}, k'_i], X_{i+1} = X_i + (U_i - X_i) k_i, with no gate on block 0."""
    fa = focus_and_association(blocks(4), "blocks", same_shapes(4), reduction=2, expansion=3)
    assert len(fa.focus) == 3 and len(fa.associate) == 2
    assert [a[0].in_features for a in fa.associate] == [2, 3]          # s'_i has i entries
    assert [a[0].out_features for a in fa.associate] == [6, 9]         # hidden width r2 * i
    assert fa.focus[0][0].out_features == 4                            # C / r1
    x = torch.randn(2, 8, 5, 5)
    with torch.no_grad():
        h = fa.blocks[0](x)
        ks = []
        for i in (1, 2, 3):
            u = fa.blocks[i](h)
            k_focus = torch.sigmoid(fa.focus[i - 1][2](torch.relu(fa.focus[i - 1][0](h.mean((2, 3))))))
            k = k_focus if i == 1 else fa.associate[i - 2](torch.cat(ks + [k_focus], 1))
            ks.append(k)
            h = h + (u - h) * k[:, :, None, None]
        assert torch.allclose(fa(x), h, atol=1e-6)


def test_first_gated_block_skips_association():
    fa = focus_and_association(blocks(3), "blocks", same_shapes(3))
    calls = []
    for j, a in enumerate(fa.associate):
        a.register_forward_hook(lambda m, inp, out, j=j: calls.append((j, inp[0].shape[1])))
    fa(torch.randn(2, 8, 4, 4))
    assert calls == [(0, 2)]                                           # only block 2, over [k_1, k'_2]


def test_weight_is_per_sample():
    fa = focus_and_association(blocks(3), "blocks", same_shapes(3))
    x = torch.randn(3, 8, 4, 4)
    k = fa.block_weight(2, x, [torch.rand(3, 1)])
    assert k.shape == (3, 1) and not torch.allclose(k[0], k[1])


def test_projection_where_shapes_differ():
    """Sec. III.B.3: X_i is projected by a strided 1x1 conv (+BN) when it does not match U_i."""
    torch.manual_seed(0)
    shapes = [BlockShape((3, 8, 8), (8, 8, 8), 1), BlockShape((8, 8, 8), (16, 4, 4), 2),
              BlockShape((16, 4, 4), (16, 4, 4), 1)]
    fa = focus_and_association([conv_block(3, 8), conv_block(8, 16, 2), conv_block(16, 16)], "stages", shapes)
    assert isinstance(fa.project[0], nn.Sequential) and fa.project[0][0].stride == (2, 2)
    assert (fa.project[0][0].in_channels, fa.project[0][0].out_channels) == (8, 16)
    assert isinstance(fa.project[1], nn.Identity)
    assert fa.focus[0][0].in_features == 8                             # focus pools the unprojected X_i
    fa.block_weight = lambda i, x, prev: torch.zeros(x.shape[0], 1)
    fa.eval()
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(fa(x), fa.project[1](fa.project[0](fa.blocks[0](x))), atol=1e-6)


@pytest.mark.parametrize("deploy, blocks_fa, stages_fa", [("both", True, True), ("blocks", True, False),
                                                          ("stages", False, True)])
def test_multi_stage_deployment(deploy, blocks_fa, stages_fa):
    """Fig. 4: FA over each stage's blocks, then over the stages as blocks; ``deploy`` picks the levels."""
    arch = cifar(14, gating={"type": "fa", "deploy": deploy})
    model = build_model(arch)
    body = model.backbone.stages
    assert isinstance(body, FocusAssociation) == stages_fa
    stages = body.blocks if stages_fa else list(body)
    assert all(isinstance(s, FocusAssociation) == blocks_fa for s in stages)
    if stages_fa:
        assert [p[0].out_channels for p in body.project] == [32, 64]   # stage-level projections 16->32->64
    out = model(torch.randn(2, 3, 16, 16))
    out.sum().backward()
    assert out.shape == (2, 10)


def test_fa_se_combines_attention_and_gating():
    model = build_model(cifar(14, attention={"type": "se", "reduction": 8}, gating={"type": "fa"}))
    assert isinstance(model.backbone.stages, FocusAssociation)
    assert type(model.backbone.stages.blocks[0].blocks[1].attn_pre).__name__ == "SqueezeExcite"
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 10)


def test_bad_ratios_are_rejected_and_every_reduction_builds():
    with pytest.raises(AttnasError, match="gating.reduction: 0 is not allowed; allowed: an integer >= 1"):
        cifar(14, gating={"type": "fa", "reduction": 0})
    with pytest.raises(AttnasError, match="gating.expansion: 0 is not allowed"):
        cifar(14, gating={"type": "fa", "expansion": 0})
    model = build_model(ArchConfig.from_dict({"backbone": {"type": "resnet_cifar", "depth": 14},
                                              "gating": {"type": "fa", "reduction": 32}}))
    assert model.backbone.stages.focus[0][0].out_features == 1               # 16 // 32 floors at 1
    with pytest.raises(AttnasError, match="gating.deploy"):
        cifar(14, gating={"type": "fa", "deploy": "all"})


# Parameter counts (Table I of 001). The paper's re-implemented baselines are 0.023M above the standard CIFAR
# ResNets at every depth (ResNet-20/56/110: 0.293/0.876/1.751M vs He et al.'s 0.270/0.853/1.728M): exactly the
# 23,232 parameters of 3x3 strided projection shortcuts at the two stage transitions (``downsample: conv3``,
# held below; every row of Tables I-V is in tests/search_space/seed_tables.yaml). The presets keep He et al.'s
# option A, and FA's published overhead (FANet - baseline) is held on them.
# FA-ResNeXt-29 is inconsistent with the paper's r1 = 4 (see its preset): the preset uses r1 = 8.
@pytest.mark.parametrize("depth, paper", [(20, 0.293e6), (32, 0.487e6), (44, 0.682e6), (56, 0.876e6), (110, 1.751e6)])
def test_paper_baselines_have_3x3_projection_shortcuts(depth, paper):
    conv3 = params(cifar(depth, backbone={"type": "resnet_cifar", "depth": depth, "downsample": "conv3"}))
    assert conv3 - params(cifar(depth)) == 16 * 32 * 9 + 32 * 64 * 9 + 2 * (32 + 64)
    assert abs(conv3 - paper) <= 0.5e3                                    # printed to 1e3
@pytest.mark.parametrize("depth, paper_overhead", [(56, 0.892e6 - 0.876e6), (110, 1.802e6 - 1.751e6)])
def test_fa_resnet_counts(depth, paper_overhead):
    base = params(cifar(depth))
    total = params(preset(f"fa-resnet{depth}"))
    assert abs(total - (base + paper_overhead)) / (base + paper_overhead) < 0.01
    # the overhead grows with depth as the paper's does: 110 vs 56 adds 0.035M there (r2 * i hidden widths;
    # a fixed width r2 would add only 0.014M); each published overhead is rounded to 1e3, hence +-2e3
    if depth == 110:
        growth = (total - base) - (params(preset("fa-resnet56")) - params(cifar(56)))
        assert abs(growth - (0.051e6 - 0.016e6)) <= 2e3


@pytest.mark.parametrize("name, published", [("fa-vgg19", 20.56e6), ("fa-resnext29", 6.665e6)])
def test_fa_published_totals(name, published):
    assert abs(params(preset(name)) - published) / published < 0.01


def test_fa_se_overhead_equals_fa_overhead():
    """Tables IV-V: FA-SE-ResNet-110 adds 0.050M over SE-ResNet-110, as FA adds over ResNet-110 (0.051M)."""
    se = params(cifar(110, attention={"type": "se", "reduction": 8}))
    assert abs(params(preset("fa-se-resnet110")) - se - 0.050e6) <= 2.5e3
