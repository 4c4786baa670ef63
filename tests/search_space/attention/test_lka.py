"""LKA (VAN, Eq. 2-3) and report 003's variants: equation, receptive fields, BN/act placement, multi-branch."""
import pytest
import torch
from torch import nn

from search_space import ArchConfig
from search_space.errors import AttnasError
from search_space.registry import ATTENTION




def test_lka_is_input_times_pointwise_of_dilated_of_local(make):
    m = make("lka", 6)
    x = torch.randn(2, 6, 11, 11)
    conv0, conv_dil, conv1 = (c for c in m.attn if isinstance(c, nn.Conv2d))
    assert (conv0.kernel_size, conv0.groups, conv0.dilation) == ((5, 5), 6, (1, 1))
    assert (conv_dil.kernel_size, conv_dil.groups, conv_dil.dilation) == ((7, 7), 6, (3, 3))
    assert conv1.kernel_size == (1, 1) and conv1.groups == 1
    dw = nn.functional.conv2d(x, conv0.weight, conv0.bias, padding=2, groups=6)
    dwd = nn.functional.conv2d(dw, conv_dil.weight, conv_dil.bias, padding=9, dilation=3, groups=6)
    attn = nn.functional.conv2d(dwd, conv1.weight, conv1.bias)
    torch.testing.assert_close(m(x), x * attn)


def gradient_extent(module: nn.Module, size: int) -> tuple[int, int]:
    """Rows and columns of the input that one centre output pixel depends on (all-positive weights)."""
    for conv in module.modules():
        if isinstance(conv, nn.Conv2d):
            nn.init.constant_(conv.weight, 0.1)
            nn.init.constant_(conv.bias, 0.1)
    x = torch.ones(1, module.attn[0].in_channels, size, size, requires_grad=True)
    module(x)[0, 0, size // 2, size // 2].backward()
    touched = x.grad[0].abs().sum(0) > 0
    rows, cols = touched.any(1).nonzero(), touched.any(0).nonzero()
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


@pytest.mark.parametrize("variant, extent", [("van", 23), ("lk", 37)])
def test_receptive_field_of_van_and_lk(make, variant, extent):
    # van: 5x5 then 7x7 dil 3 (span 19) -> 23 wide; lk: 7x7 then 11x11 dil 3 (span 31) -> 37 wide.
    m = make("lka", 2, variant=variant)
    assert m.receptive_field == extent
    assert gradient_extent(m, 45) == (extent, extent)


def test_lk_dilated_conv_spans_31():
    params = ATTENTION.params("lka", {"variant": "lk"}, "attention")
    assert (params["local_kernel_size"], params["dilated_kernel_size"], params["dilation"]) == (7, 11, 3)
    assert (params["dilated_kernel_size"] - 1) * params["dilation"] + 1 == 31


def test_custom_kernels_equal_to_a_variant_take_its_name_and_bad_kernels_are_rejected():
    same = ATTENTION.params("lka", {"variant": "custom", "local_kernel_size": 7, "dilated_kernel_size": 11}, "attention")
    assert same["variant"] == "lk"
    with pytest.raises(AttnasError, match=r"attention.dilated_kernel_size: 8 is not allowed; allowed: an odd"):
        ATTENTION.params("lka", {"variant": "custom", "dilated_kernel_size": 8}, "attention")
    with pytest.raises(AttnasError, match=r"attention.act: 'swish' is not allowed; allowed: celu, elu, gelu, hard_swish, identity"):
        ATTENTION.params("lka", {"act": "swish"}, "attention")


def test_bn_after_each_conv_and_act_after_the_first_two(make):
    m = make("lka", 4, bn=True, act="relu")
    kinds = [type(c).__name__ for c in m.attn if not isinstance(c, nn.Identity)]
    assert kinds == ["Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "BatchNorm2d"]
    plain = make("lka", 4)
    extra = sum(p.numel() for p in m.parameters()) - sum(p.numel() for p in plain.parameters())
    assert extra == 6 * 4                   # three BNs, the report's +6C per block


def test_activation_changes_the_output_without_parameters(make):
    x = torch.randn(2, 4, 9, 9)
    assert not torch.allclose(make("lka", 4, act="relu")(x), make("lka", 4)(x))


def test_multi_branch_is_projection_of_concatenated_lka_products(make):
    m = make("lka_mb", 4, dilated_kernel_sizes=(3, 5, 7))
    x = torch.randn(2, 4, 12, 12)
    expected = m.fuse(torch.cat([x * branch(x) for branch in m.branches], 1))
    torch.testing.assert_close(m(x), expected)
    assert m(x).shape == x.shape
    dilated = [b[3] for b in m.branches]
    assert [c.kernel_size[0] for c in dilated] == [3, 5, 7] and all(c.dilation == (3, 3) for c in dilated)
    assert all(b[0].kernel_size == (5, 5) for b in m.branches)
    assert m.fuse.in_channels == 12 and m.output_projection


def test_multi_branch_kernels_are_a_sorted_multiset_and_must_be_odd():
    assert ATTENTION.params("lka_mb", {"dilated_kernel_sizes": [9, 5, 7]}, "attention")["dilated_kernel_sizes"] == (5, 7, 9)
    with pytest.raises(AttnasError, match=r"attention.dilated_kernel_sizes\[1\]: 6 is not allowed"):
        ATTENTION.params("lka_mb", {"dilated_kernel_sizes": [5, 6]}, "attention")


def test_lka_family_in_a_resnet_keeps_shapes():
    from search_space import build_model
    attention = {"type": "lka_mb", "dilated_kernel_sizes": [3, 5]}
    arch = ArchConfig.from_dict({"backbone": {"type": "resnet_cifar", "depth": 8, "width": 0.25},
                                 "num_classes": 5, "input_size": [3, 8, 8], "attention": attention},
                                check_fits=False)
    model = build_model(arch)
    assert sum(isinstance(m, ATTENTION.get("lka_mb")) for m in model.modules()) == 3
    model(torch.randn(2, 3, 8, 8)).sum().backward()
