"""CBAM (Woo et al. 2018, Eq. 1-3) and its two-dimensional DCA hooks."""
import torch
import torch.nn.functional as F


def reference_cbam(m, x):
    mlp = lambda v: m.mlp(v)
    mc = torch.sigmoid(mlp(x.mean((2, 3), keepdim=True)) + mlp(x.amax((2, 3), keepdim=True)))   # Eq. 2
    f1 = x * mc
    pooled = torch.cat([f1.mean(1, keepdim=True), f1.amax(1, keepdim=True)], 1)
    conv, bn = m.spatial
    ms = torch.sigmoid(bn(F.conv2d(pooled, conv.weight, padding=conv.padding)))                  # Eq. 3
    return f1 * ms


def test_cbam_equals_its_equations(make):
    m = make("cbam", 16, reduction=4, kernel_size=5)
    x = torch.randn(2, 16, 6, 7)
    torch.testing.assert_close(m(x), reference_cbam(m, x))
    assert m.spatial[0].kernel_size == (5, 5)


def test_cbam_link_hooks_channel_then_spatial(make, link):
    m = make("cbam", 16, reduction=4)
    x = torch.randn(2, 16, 6, 7)
    rec = link()
    torch.testing.assert_close(m(x, rec), m(x))
    assert [r[0] for r in rec.records] == ["channel", "spatial"]
    (_, g_c, t_c, s_c), (_, g_s, t_s, s_s) = rec.records
    assert g_c.shape == (2, 2, 16, 1, 1) and t_c.shape == (2, 16, 1, 1) and s_c
    torch.testing.assert_close(g_c[:, 1], x.amax((2, 3), keepdim=True))
    assert g_s.shape == (2, 2, 6, 7) and t_s.shape == (2, 1, 6, 7) and s_s
    assert not torch.allclose(m(x, link(shift=0.5)), m(x))
