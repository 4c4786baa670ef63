"""TripletCA (report 003, Sec. 3.2): triplet branches encoded coordinate-attention style."""
import torch

from search_space.attention.triplet import zpool


def test_triplet_ca_branch_is_coordinate_attention_of_the_zpool(make):
    m = make("triplet_ca", 6, zpool_stats=["avg", "l2", "max"], act="relu")
    x = torch.randn(2, 6, 5, 4)
    branch = m.branches[2]                                                # the C-collapsing (H x W) branch
    z = zpool(x, ("max", "avg", "l2"))
    a_h, a_w = branch.encoder(z)
    assert a_h.shape == (2, 1, 5, 1) and a_w.shape == (2, 1, 1, 4)
    conv, bn, _ = branch.encoder.squeeze
    f = torch.relu(bn(conv(torch.cat([z.mean(3, keepdim=True), z.mean(2, keepdim=True).transpose(2, 3)], 2))))
    torch.testing.assert_close(a_h, torch.sigmoid(branch.encoder.to_p(f[:, :, :5])))
    torch.testing.assert_close(branch(x), a_h * a_w)
    x1 = x.permute(0, 2, 1, 3)
    x2 = x.permute(0, 3, 2, 1)
    expected = ((x1 * m.branches[0](x1)).permute(0, 2, 1, 3) + (x2 * m.branches[1](x2)).permute(0, 3, 2, 1)
                + x * branch(x)) / 3
    torch.testing.assert_close(m(x), expected)


def test_triplet_ca_is_light(make):
    # per branch: S*h + h (1x1) + 2h (BN) + 2 (h + 1) (two 1x1 to one map); h = 8, S = 2 -> 58
    assert sum(p.numel() for p in make("triplet_ca", 2048).parameters()) == 3 * 58
