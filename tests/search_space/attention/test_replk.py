"""RepLK block (RepLKNet, Sec. 4): residual structure, and the small-kernel + BN merge equal in eval mode."""
import pytest
import torch
from torch import nn

from search_space.errors import AttnasError
from search_space.registry import ATTENTION




def randomise_bn(module: nn.Module) -> None:
    """Non-trivial BN statistics and affine parameters, so the merge has something to fold."""
    g = torch.Generator().manual_seed(1)
    for bn in module.modules():
        if isinstance(bn, nn.BatchNorm2d):
            bn.running_mean.copy_(torch.randn(bn.num_features, generator=g))
            bn.running_var.copy_(torch.rand(bn.num_features, generator=g) + 0.5)
            bn.weight.data.copy_(torch.randn(bn.num_features, generator=g))
            bn.bias.data.copy_(torch.randn(bn.num_features, generator=g))


@pytest.mark.parametrize("kernel, small", [(31, 5), (13, 3), (7, 0)])
def test_reparameterize_gives_the_same_outputs_in_eval_mode(make, kernel, small):
    m = make("replk", 6, kernel_size=kernel, small_kernel_size=small)
    randomise_bn(m)
    x = torch.randn(2, 6, 17, 17)
    before = m(x)
    n_before = sum(p.numel() for p in m.parameters())
    m.reparameterize()
    lk = m.large_kernel
    assert lk.large is None and lk.small is None
    assert lk.merged.kernel_size == (kernel, kernel) and lk.merged.groups == 6 and lk.merged.bias is not None
    torch.testing.assert_close(m(x), before, atol=1e-5, rtol=1e-5)
    # merged: one bias instead of BN(2) and, with a small branch, its k*k conv and BN(2)
    assert n_before - sum(p.numel() for p in m.parameters()) == 6 * ((small * small + 2) if small else 0) + 6


def test_block_is_residual_around_pointwise_large_kernel_pointwise(make):
    m = make("replk", 4, kernel_size=7, small_kernel_size=3)
    randomise_bn(m)
    x = torch.randn(2, 4, 9, 9)
    u = m.pw1(m.pre_bn(x))
    lk = m.large_kernel.large(u) + m.large_kernel.small(u)
    torch.testing.assert_close(m(x), x + m.pw2(torch.relu(lk)))
    assert m.large_kernel.large[0].groups == 4


@pytest.mark.parametrize("given, message", [
    ({"kernel_size": 30}, r"attention.kernel_size: 30 is not allowed; allowed: an odd"),
    ({"kernel_size": 7, "small_kernel_size": 9},
     r"attention.small_kernel_size: 9 is not allowed; allowed: 0 .* below kernel_size \(7\)"),
    ({"small_kernel_size": 4}, r"attention.small_kernel_size: 4 is not allowed"),
])
def test_bad_kernels_are_rejected(given, message):
    with pytest.raises(AttnasError, match=message):
        ATTENTION.params("replk", given, "attention")
