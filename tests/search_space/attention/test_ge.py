"""Gather-excite (Hu et al. 2018): the three variants, extents and DCA hooks."""
import pytest
import torch
import torch.nn.functional as F

from search_space.errors import AttnasError


def test_theta_minus_global_is_sigmoid_of_the_mean(make):
    m = make("ge", 8, variant="theta_minus", extent=0)
    x = torch.randn(2, 8, 6, 6)
    torch.testing.assert_close(m(x), x * torch.sigmoid(x.mean((2, 3), keepdim=True)))
    assert sum(p.numel() for p in m.parameters()) == 0


def test_theta_minus_extent_pools_cells_and_interpolates(make):
    m = make("ge", 4, variant="theta_minus", extent=2)
    x = torch.randn(2, 4, 6, 4)
    cells = F.avg_pool2d(x, 2)                                              # (B, C, 3, 2)
    up = cells.repeat_interleave(2, 2).repeat_interleave(2, 3)              # nearest neighbour back to 6 x 4
    torch.testing.assert_close(m(x), x * torch.sigmoid(up))


def test_theta_gathers_with_strided_depthwise_convs(make):
    m = make("ge", 4, variant="theta", extent=4)
    convs = [l for l in m.gather if isinstance(l, torch.nn.Conv2d)]
    assert len(convs) == 2 and all(c.stride == (2, 2) and c.groups == 4 for c in convs)
    x = torch.randn(2, 4, 8, 8)
    g = m.gather(x)
    assert g.shape == (2, 4, 2, 2)
    torch.testing.assert_close(m(x), x * F.interpolate(torch.sigmoid(g), size=(8, 8), mode="nearest"))


def test_theta_plus_adds_the_se_excite(make, link):
    m = make("ge", 16, variant="theta_plus", extent=0, reduction=4)
    x = torch.randn(2, 16, 9, 9)
    g = m.gather(x)
    assert g.shape == (2, 16, 1, 1)
    c1, act, c2 = m.excite
    torch.testing.assert_close(m(x), x * torch.sigmoid(c2(torch.relu(c1(g)))))
    rec = link()
    torch.testing.assert_close(m(x, rec), m(x))
    assert rec.records[0][0] == "channel" and rec.records[0][3] is True
    torch.testing.assert_close(rec.records[0][1], g)


def test_ge_canonical_and_bad_extent(make):
    from search_space.registry import ATTENTION
    p = ATTENTION.params("ge", {"variant": "theta_minus", "reduction": 4}, "attention")
    assert p["reduction"] == 16                                             # unused by theta_minus: folded
    with pytest.raises(AttnasError, match=r"^attention\.extent: 3 .*power of two"):
        make("ge", 8, extent=3)
