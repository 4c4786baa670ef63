"""RAM, the residual attention module of the FFT paper (Zhu et al., Eq. 1-2), with CBAM's CA and SA maps."""
import pytest
import torch
import torch.nn.functional as F

from search_space import ArchConfig, AttnasError, build_model


def reference_ram(m, x):
    w1, b1 = m.mlp[0].weight.flatten(1), m.mlp[0].bias
    w2, b2 = m.mlp[2].weight.flatten(1), m.mlp[2].bias
    mlp = lambda v: F.linear(F.relu(F.linear(v, w1, b1)), w2, b2)
    ca = torch.sigmoid(mlp(x.mean((2, 3))) + mlp(x.amax((2, 3))))[:, :, None, None]
    f1 = ca * x                                                                        # Eq. 1
    pooled = torch.cat([f1.mean(1, keepdim=True), f1.amax(1, keepdim=True)], 1)
    k = m.spatial.weight.shape[-1]
    sa = torch.sigmoid(F.conv2d(pooled, m.spatial.weight, padding=k // 2))
    return sa * f1 + x                                                                 # Eq. 2


@pytest.mark.parametrize("kernel_size", [3, 7])
def test_ram_equals_its_equations(make, kernel_size):
    m = make("ram", 16, reduction=4, kernel_size=kernel_size)
    x = torch.randn(2, 16, 6, 7)
    out = m(x)
    assert out.shape == x.shape
    torch.testing.assert_close(out, reference_ram(m, x))
    assert m.mlp[0].out_channels == 4 and m.spatial.kernel_size == (kernel_size, kernel_size)


def test_ram_is_the_identity_when_its_attention_maps_are_zero(make):
    m = make("ram", 16, reduction=4)
    x = torch.randn(2, 16, 5, 5)
    m.spatial_map = lambda f: torch.zeros(f.shape[0], 1, *f.shape[2:])
    torch.testing.assert_close(m(x), x)
    m = make("ram", 16, reduction=4)
    m.channel_map = lambda f: torch.zeros(f.shape[0], f.shape[1], 1, 1)
    torch.testing.assert_close(m(x), x)


def test_ram_differs_from_cbam_by_the_residual(make):
    ram, cbam = make("ram", 16, reduction=4), make("cbam", 16, reduction=4)
    x = torch.randn(2, 16, 5, 5)
    f1 = ram.channel_map(x) * x
    torch.testing.assert_close(ram(x) - x, ram.spatial_map(f1) * f1)
    assert sum(p.numel() for p in ram.parameters()) == 16 * 4 + 4 + 4 * 16 + 16 + 2 * 7 * 7
    assert sum(p.numel() for p in cbam.parameters()) > sum(p.numel() for p in ram.parameters())  # CBAM's BN


def test_ram_in_a_resnet_keeps_shapes_and_trains():
    arch = ArchConfig.from_dict({"backbone": {"type": "resnet_cifar", "depth": 8, "width": 0.5},
                                 "attention": {"type": "ram", "reduction": 4, "kernel_size": 3},
                                 "insertion_point": "post_add", "num_classes": 10, "input_size": [3, 16, 16]})
    model = build_model(arch)
    model(torch.randn(2, 3, 16, 16)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("params, field", [({"reduction": 0}, "attention.reduction"),
                                           ({"kernel_size": 4}, "attention.kernel_size")])
def test_ram_bad_params_name_the_field(params, field):
    with pytest.raises(AttnasError, match=field):
        ArchConfig.from_dict({"backbone": {"type": "resnet_cifar", "depth": 8, "width": 0.5},
                              "attention": {"type": "ram", **params}, "input_size": [3, 16, 16]})
