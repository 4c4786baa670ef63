"""Coordinate attention (Hou et al. 2021, Eq. 4-9)."""
import torch
import torch.nn.functional as F


def test_ca_equals_its_equations(make):
    m = make("ca", 16, reduction=4, act="relu")
    enc = m.encoder
    x = torch.randn(2, 16, 5, 7)
    z_h, z_w = x.mean(3, keepdim=True), x.mean(2, keepdim=True)                # (B,C,H,1), (B,C,1,W)
    conv, bn, _ = enc.squeeze
    f = torch.relu(bn(conv(torch.cat([z_h, z_w.transpose(2, 3)], 2))))       # Eq. 6
    f_h, f_w = f[:, :, :5], f[:, :, 5:].transpose(2, 3)
    g_h = torch.sigmoid(F.conv2d(f_h, enc.to_p.weight, enc.to_p.bias))          # Eq. 7
    g_w = torch.sigmoid(F.conv2d(f_w, enc.to_q.weight, enc.to_q.bias))          # Eq. 8
    torch.testing.assert_close(m(x), x * g_h * g_w)                             # Eq. 9


def test_ca_hidden_width_floors_at_8(make):
    assert make("ca", 16).encoder.squeeze[0].out_channels == 8                  # 16 // 32 -> floor 8
    assert make("ca", 512).encoder.squeeze[0].out_channels == 16                # 512 // 32
    assert isinstance(make("ca", 16).encoder.squeeze[2], torch.nn.Hardswish)    # the paper's h-swish default
