"""SE (Hu et al. 2018, Eq. 2-4) and its DCA hooks."""
import pytest
import torch

from search_space.errors import AttnasError


def test_se_equals_its_equation(make):
    m = make("se", 16, reduction=4)
    x = torch.randn(2, 16, 5, 6)
    z = x.mean((2, 3))                                                     # squeeze, Eq. 2
    w1, b1 = m.fc1.weight.view(4, 16), m.fc1.bias
    w2, b2 = m.fc2.weight.view(16, 4), m.fc2.bias
    s = torch.sigmoid(torch.relu(z @ w1.T + b1) @ w2.T + b2)               # excitation, Eq. 3
    torch.testing.assert_close(m(x), x * s[:, :, None, None])              # scale, Eq. 4


def test_se_link_hooks(make, link):
    m = make("se", 16, reduction=4)
    x = torch.randn(2, 16, 4, 4)
    rec = link()
    torch.testing.assert_close(m(x, rec), m(x))                            # identity merge = vanilla
    (dim, g, t, scaled), = rec.records
    assert dim == "channel" and scaled is True
    assert g.shape == t.shape == (2, 16, 1, 1)
    torch.testing.assert_close(g, x.mean((2, 3), keepdim=True))
    assert not torch.allclose(m(x, link(shift=1.0)), m(x))                  # the merged g is what is transformed


def test_se_tanh_gate_is_not_scaled(make, link):
    rec = link()
    make("se", 8, reduction=2, gate="tanh")(torch.randn(2, 8, 3, 3), rec)
    assert rec.records[0][3] is False


def test_se_reduction_larger_than_channels_floors_at_one(make):
    assert make("se", 16, reduction=32).fc1.out_channels == 1
    with pytest.raises(AttnasError, match=r"^attention\.reduction: 0 is not allowed; allowed: an integer >= 1"):
        make("se", 16, reduction=0)
