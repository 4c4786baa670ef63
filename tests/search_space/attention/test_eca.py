"""ECA (Wang et al. 2020): adaptive kernel (Eq. 12) and the 1-D conv over the GAP vector."""
import pytest
import torch
import torch.nn.functional as F

from search_space.attention.eca import adaptive_kernel
from search_space.errors import AttnasError


@pytest.mark.parametrize("channels, k", [(16, 3), (64, 3), (128, 5), (256, 5), (512, 5), (1024, 5), (2048, 7)])
def test_adaptive_kernel(channels, k, make):
    # k = |log2(C)/2 + 1/2|_odd: e.g. C = 2048 -> 6 -> 7, C = 128 -> 4 -> 5
    assert adaptive_kernel(channels) == k
    assert make("eca", channels).conv.kernel_size == (k,)


def test_eca_equals_its_equation(make):
    m = make("eca", 32, kernel_size=5)
    x = torch.randn(2, 32, 4, 5)
    y = F.conv1d(x.mean((2, 3)).unsqueeze(1), m.conv.weight, padding=2).squeeze(1)
    torch.testing.assert_close(m(x), x * torch.sigmoid(y)[:, :, None, None])
    assert sum(p.numel() for p in m.parameters()) == 5


def test_eca_rejects_even_kernel(make):
    with pytest.raises(AttnasError, match=r"^attention\.kernel_size: 4 is not allowed; allowed: null or an odd integer >= 1"):
        make("eca", 32, kernel_size=4)
