"""BAM (Park et al. 2018, Eq. 1-4)."""
import torch


def test_bam_residual_form(make):
    m = make("bam", 16, reduction=4, dilation=2)
    for p in m.parameters():
        torch.nn.init.normal_(p, std=0.3)
    x = torch.randn(2, 16, 6, 6)
    mc = m.channel(x.mean((2, 3), keepdim=True))                                  # (B, C, 1, 1), Eq. 3
    ms = m.spatial(x)                                                             # (B, 1, H, W), Eq. 4
    assert mc.shape == (2, 16, 1, 1) and ms.shape == (2, 1, 6, 6)
    att = torch.sigmoid(mc + ms)                                                  # Eq. 2
    torch.testing.assert_close(m(x), x + x * att)                                 # Eq. 1
    dilated = [l for l in m.spatial if isinstance(l, torch.nn.Conv2d) and l.kernel_size == (3, 3)]
    assert len(dilated) == 2 and all(l.dilation == (2, 2) for l in dilated)
