"""Triplet attention (Misra et al. 2021) and the z-pool / activation variants of report 003."""
import pytest
import torch
import torch.nn.functional as F

from search_space.arch_config import ArchConfig
from search_space.attention.triplet import zpool
from search_space.errors import AttnasError


def paper_zpool(x):
    """The paper's ZPool: max and mean over dim 1, concatenated (max first)."""
    return torch.cat((torch.max(x, 1)[0].unsqueeze(1), torch.mean(x, 1).unsqueeze(1)), dim=1)


def test_avg_max_zpool_is_the_papers(make):
    x = torch.randn(2, 6, 5, 4)
    torch.testing.assert_close(zpool(x, ("max", "avg")), paper_zpool(x))
    m = make("triplet", 6, zpool_stats=["avg", "max"])                  # any order given: stored canonically
    assert m.branches[0].stats == ("max", "avg")


def reference_triplet(m, x):
    def gate(branch, z):
        return torch.sigmoid(branch.bn(F.conv2d(paper_zpool(z), branch.conv.weight, padding=3)))

    b_cw, b_hc, b_hw = m.branches
    x1 = x.permute(0, 2, 1, 3)                                            # (B, H, C, W): pool over H
    y1 = (x1 * gate(b_cw, x1)).permute(0, 2, 1, 3)
    x2 = x.permute(0, 3, 2, 1)                                            # (B, W, H, C): pool over W
    y2 = (x2 * gate(b_hc, x2)).permute(0, 3, 2, 1)
    y3 = x * gate(b_hw, x)                                                # pool over C
    return (y1 + y2 + y3) / 3


def test_triplet_equals_the_paper(make):
    m = make("triplet", 6)
    for p in m.parameters():                                              # make the BNs non-trivial
        torch.nn.init.normal_(p)
    x = torch.randn(2, 6, 5, 4)
    torch.testing.assert_close(m(x), reference_triplet(m, x))
    assert sum(p.numel() for p in m.parameters()) == 3 * (2 * 49 + 2)     # 300 per module, +4.8K on ResNet-50


def test_median_zpool_uses_the_median():
    x = torch.tensor([0.0, 1.0, 2.0, 100.0, 3.0]).view(1, 5, 1, 1)       # mean 21.2, median 2
    assert zpool(x, ("median",)).item() == 2.0
    x = torch.randn(2, 7, 3, 3)
    torch.testing.assert_close(zpool(x, ("median",)), x.median(1, keepdim=True).values)


def test_l1_l2_are_the_norms_the_report_names_and_std_the_population_std():
    """003 表1's {l1, max} and {l2, max}: the L1 norm sum|x| and the L2 norm sqrt(sum x^2) of the collapsed
    dimension (not their means)."""
    x = torch.tensor([3.0, -4.0, 0.0, 1.0]).view(1, 4, 1, 1)
    got = zpool(x, ("l1", "l2", "std")).flatten()
    torch.testing.assert_close(got, torch.tensor([8.0, 26.0 ** 0.5, x.flatten().std(unbiased=False).item()]))
    x = torch.randn(2, 6, 3, 5)
    torch.testing.assert_close(zpool(x, ("l1",)), x.norm(p=1, dim=1, keepdim=True))
    torch.testing.assert_close(zpool(x, ("l2",)), x.norm(p=2, dim=1, keepdim=True))


def test_all_stats_in_canonical_order_and_gradients_finite(make):
    m = make("triplet", 4, zpool_stats=["std", "l2", "l1", "median", "avg", "max"]).train()
    assert m.branches[2].stats == ("max", "avg", "median", "l1", "l2", "std")
    x = torch.zeros(2, 4, 3, 3, requires_grad=True)                       # all-zero slices: sqrt at 0
    m(x).sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in m.parameters()) and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("stats, match", [
    ([], r"zpool_stats: \[\] is not allowed; allowed: a non-empty list"),
    (["avg", "mode"], r"zpool_stats\[1\]: 'mode' is not allowed; allowed: max, avg, median, l1, l2, std"),
    (["avg", "avg"], r"zpool_stats: \['avg', 'avg'\] repeats a statistic; allowed: each of max, avg, median")])
def test_bad_zpool_rejected_naming_the_field(stats, match):
    data = {"backbone": {"type": "resnet_cifar", "depth": 8}, "attention": {"type": "triplet", "zpool_stats": stats}}
    with pytest.raises(AttnasError, match=rf"^attention\.{match}"):
        ArchConfig.from_dict(data, check_fits=False)


def test_act_sits_between_the_conv_and_bn(make):
    """003 图16: 7x7 conv -> activation -> BN -> gate (ReLU in the report's baseline)."""
    m = make("triplet", 6, act="relu").train()
    for p in m.parameters():
        torch.nn.init.normal_(p)
    x = torch.randn(2, 6, 5, 4)
    b = m.branches[2]
    want = x * torch.sigmoid(b.bn(torch.relu(F.conv2d(paper_zpool(x), b.conv.weight, padding=3))))
    torch.testing.assert_close(b(x) * x, want)


def test_act_and_gate_swaps(make):
    x = torch.randn(2, 4, 5, 5)
    base = make("triplet", 4)
    elu = make("triplet", 4, act="elu")
    assert isinstance(elu.branches[0].act, torch.nn.ELU) and isinstance(base.branches[0].act, torch.nn.Identity)
    assert not torch.allclose(elu(x), base(x))
    soft = make("triplet", 4, gate="softmax")
    att = soft.branches[2](x)                                             # the H x W map sums to 1 per sample
    torch.testing.assert_close(att.sum((1, 2, 3)), torch.ones(2))
    with pytest.raises(AttnasError, match=r"^attention\.kernel_size: 4 .*odd"):
        make("triplet", 4, kernel_size=4)
