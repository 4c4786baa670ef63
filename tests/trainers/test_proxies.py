"""Each zero-cost proxy against its definition, computed independently on tiny networks."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from trainers.proxies import JACOB_COV_K, PROXIES, proxy, score_proxies


def _batch(n=5, shape=(1, 6, 6), classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, *shape, generator=g), torch.randint(0, classes, (n,), generator=g)


def _conv_net(act=nn.ReLU, bn=True):
    torch.manual_seed(0)
    layers = [nn.Conv2d(1, 4, 3, padding=1)]
    layers += [nn.BatchNorm2d(4)] if bn else []
    layers += [act(), nn.Conv2d(4, 7, 3, stride=2, padding=1), act(), nn.Flatten(), nn.Linear(7 * 3 * 3, 3)]
    return nn.Sequential(*layers)


def test_registry_holds_the_issue_proxies_and_scores_are_finite_floats():
    assert {"synflow", "naswot", "grad_norm", "snip", "jacob_cov", "params", "macs"} <= set(PROXIES)
    x, y = _batch()
    scores = score_proxies(_conv_net(), x, y)
    assert set(scores) == set(PROXIES)
    assert all(isinstance(v, float) and math.isfinite(v) for v in scores.values()), scores


def test_unknown_proxy_and_double_registration_are_errors():
    x, y = _batch()
    with pytest.raises(KeyError, match="nope"):
        score_proxies(_conv_net(), x, y, names=["nope"])
    with pytest.raises(ValueError, match="synflow"):
        proxy("synflow")(lambda m, x, y: 0.0)


def test_model_is_left_unchanged():
    net, (x, y) = _conv_net(), _batch()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    net.eval()
    score_proxies(net, x, y)
    assert not net.training
    assert all(p.grad is None for p in net.parameters())
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_synflow_is_layers_times_R_for_a_homogeneous_chain():
    """Bias-free conv -> ReLU -> linear with |weights| and an all-ones input: R is linear in each layer's
    weights, so sum |theta dR/dtheta| over one layer is R and synflow = 2 R; BatchNorm is removed first."""
    torch.manual_seed(1)
    conv, lin = nn.Conv2d(1, 3, 3, padding=1, bias=False), nn.Linear(3 * 4 * 4, 2, bias=False)
    with_bn = nn.Sequential(conv, nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), lin)
    ones = torch.ones(1, 1, 4, 4, dtype=torch.float64)
    with torch.no_grad():
        r = F.linear(F.conv2d(ones, conv.weight.double().abs(), padding=1).flatten(1), lin.weight.double().abs()).sum()
    x, y = _batch(3, (1, 4, 4), 2)
    assert score_proxies(with_bn, x, y, ["synflow"])["synflow"] == pytest.approx(2 * float(r), rel=1e-9)
    assert (conv.weight < 0).any()                     # the caller's signs survive


def _codes(pre: torch.Tensor) -> np.ndarray:
    return (pre.detach().numpy() > 0).astype(float)


@pytest.mark.parametrize("act", [nn.ReLU, nn.SiLU, nn.GELU, nn.ELU, nn.LeakyReLU])
def test_naswot_is_log_det_of_the_hamming_kernel_on_any_activation(act):
    torch.manual_seed(2)
    net = nn.Sequential(nn.Linear(3, 9), act(), nn.Linear(9, 8), act(), nn.Linear(8, 2))
    x = torch.randn(5, 3)
    h1 = net[0](x)
    c = np.concatenate([_codes(h1), _codes(net[2](net[1](h1)))], axis=1)
    k = c @ c.T + (1 - c) @ (1 - c).T                   # units where two inputs agree
    assert k.diagonal().tolist() == [17.0] * 5
    sign, logdet = np.linalg.slogdet(k)
    assert sign != 0
    assert score_proxies(net, x, torch.zeros(5, dtype=torch.long), ["naswot"])["naswot"] == pytest.approx(logdet)


def test_naswot_reads_codes_before_an_inplace_activation_and_equally_for_relu_and_silu():
    """One activation layer: the codes are the signs of its input, so an in-place ReLU (which overwrites its
    input) and a SiLU on the same weights give the same score."""
    torch.manual_seed(5)
    relu = nn.Sequential(nn.Linear(4, 11), nn.ReLU(inplace=True), nn.Linear(11, 3))
    silu = nn.Sequential(relu[0], nn.SiLU(), relu[2])
    x = torch.randn(5, 4)
    c = _codes(relu[0](x))
    expect = np.linalg.slogdet(c @ c.T + (1 - c) @ (1 - c).T)[1]
    y = torch.zeros(5, dtype=torch.long)
    assert score_proxies(relu, x, y, ["naswot"])["naswot"] == pytest.approx(expect)
    assert score_proxies(silu, x, y, ["naswot"])["naswot"] == pytest.approx(expect)


def test_grad_norm_and_snip_follow_their_definitions():
    net, (x, y) = _conv_net(bn=False), _batch()
    net.train()
    weights = [net[0].weight, net[2].weight, net[5].weight]
    grads = torch.autograd.grad(F.cross_entropy(net(x), y), weights)
    expect_gn = sum(float(g.norm()) for g in grads)
    expect_snip = sum(float((w.detach() * g).abs().sum()) for w, g in zip(weights, grads))
    got = score_proxies(net, x, y, ["grad_norm", "snip"])
    assert got["grad_norm"] == pytest.approx(expect_gn, rel=1e-5)
    assert got["snip"] == pytest.approx(expect_snip, rel=1e-5)


def test_jacob_cov_closed_form_for_a_linear_map():
    """f(x) = W x: every input's Jacobian of sum(f) is W^T 1, so the correlation matrix is all ones with
    eigenvalues N, 0, ..., 0."""
    torch.manual_seed(3)
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 4, bias=False))
    x, y = _batch(5, (3, 2, 2), 4)
    n, k = 5, JACOB_COV_K
    expect = -((math.log(n + k) + 1 / (n + k)) + (n - 1) * (math.log(k) + 1 / k))
    got = score_proxies(net, x, y, ["jacob_cov"])["jacob_cov"]
    assert got == pytest.approx(expect, rel=1e-4)


def test_jacob_cov_matches_finite_difference_jacobians():
    torch.manual_seed(4)
    net = nn.Sequential(nn.Flatten(), nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 3)).double()
    x = torch.randn(3, 1, 2, 3, dtype=torch.float64)
    eps, jac = 1e-6, np.zeros((3, 6))
    with torch.no_grad():
        for i in range(3):
            for d in range(6):
                e = torch.zeros(6, dtype=torch.float64)
                e[d] = eps
                up, down = x[i].flatten() + e, x[i].flatten() - e
                jac[i, d] = float(net(up.view(1, 1, 2, 3)).sum() - net(down.view(1, 1, 2, 3)).sum()) / (2 * eps)
    lam = np.linalg.eigvalsh(np.corrcoef(jac))
    expect = -np.sum(np.log(lam + JACOB_COV_K) + 1 / (lam + JACOB_COV_K))
    got = score_proxies(net, x, torch.zeros(3, dtype=torch.long), ["jacob_cov"])["jacob_cov"]
    assert got == pytest.approx(expect, rel=1e-4)


def test_params_and_macs_baselines():
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 4), nn.ReLU(), nn.Linear(4, 3, bias=False))
    x, y = _batch(5, (3, 2, 2), 3)
    got = score_proxies(net, x, y, ["params", "macs"])
    assert got["params"] == 12 * 4 + 4 + 4 * 3
    assert got["macs"] == pytest.approx(12 * 4 + 4 * 3, abs=4)     # the bias add and ReLU may count as ops
