"""Selective kernel convolution (Li et al. 2019, Eq. 1-6), replacing the block's 3x3 conv."""
import torch

from search_space.attention.sk import SelectiveKernel


def test_sk_shape_with_stride_2_and_groups(make):
    m = make("sk", 16, 32, 2, 4, branches=3)
    assert [b[0].dilation for b in m.branches] == [(1, 1), (2, 2), (3, 3)]        # receptive fields 3, 5, 7
    assert all(b[0].groups == 4 and b[0].stride == (2, 2) for b in m.branches)
    assert m(torch.randn(2, 16, 9, 8)).shape == (2, 32, 5, 4)
    assert SelectiveKernel.replaces_conv and SelectiveKernel.insertion_points == ("conv",)


def test_sk_equals_its_equations(make, link):
    m = make("sk", 8, 8, 1, 1, reduction=2, min_width=3)
    x = torch.randn(2, 8, 5, 5)
    u1, u2 = m.branches[0](x), m.branches[1](x)                                    # split
    s = (u1 + u2).mean((2, 3), keepdim=True)                                       # fuse, Eq. 1-2
    conv, bn, act = m.fc
    assert conv.out_channels == 4                                                 # d = max(8 / 2, 3)
    z = torch.relu(bn(conv(s)))                                                   # Eq. 3-4
    logits = m.select(z).view(2, 2, 8, 1, 1)
    a = torch.exp(logits) / torch.exp(logits).sum(1, keepdim=True)                # Eq. 5
    torch.testing.assert_close(m(x), a[:, 0] * u1 + a[:, 1] * u2)                 # Eq. 6
    rec = link()
    torch.testing.assert_close(m(x, rec), m(x))
    (dim, g, t, scaled), = rec.records
    assert dim == "channel" and scaled and g.shape == (2, 2, 8, 1, 1) and t.shape == (2, 2, 8, 1, 1)
    torch.testing.assert_close(g.sum(1), s)                                       # per-branch GAPs sum to s
    assert make("sk", 64, 64, 1, 1).fc[0].out_channels == 32                      # d floors at L = 32
