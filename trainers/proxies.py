"""Zero-cost proxies: scores of an untrained network from one minibatch, meant to rank architectures before
any training (Abdelfattah et al. 2021, "Zero-Cost Proxies for Lightweight NAS"; Mellor et al. 2021).

``score_proxies(model, x, y)`` returns every registered proxy's score (``PROXIES``, filled by ``@proxy``):

* ``synflow`` (Tanaka et al. 2020, Eq. 4 and Sec. 6): with every parameter replaced by its absolute value,
  BatchNorm removed and an all-ones input, R = sum of the outputs; score = sum over weights of |theta * dR/dtheta|.
  In float64, so deep networks do not overflow.
* ``naswot`` (Mellor et al. 2021, Eq. 2): each input's binary code is the sign of every activation unit's input
  (positive or not), on every activation module, not only ``nn.ReLU`` (``ACTIVATION_TYPES``: for each of them the
  output is positive exactly where the input is, so the code is which side of the kink a unit is on);
  K_ij = number of units where inputs i and j agree; score = log |det K|. An activation that a module runs on a
  regrouped batch (leading dimension other than the batch's) is left out, since its rows are not the inputs.
* ``grad_norm`` (Abdelfattah et al., Sec. 3): the sum over weights of the L2 norm of the cross-entropy gradient.
* ``snip`` (Lee et al. 2019, Eq. 6 summed over weights): sum of |theta * dL/dtheta| for the cross-entropy L.
* ``jacob_cov`` (Mellor et al. 2020 v1, Sec. 3): J_i = d(sum of outputs)/d(input i); with C the correlation
  matrix of the J_i and lambda its eigenvalues, score = -sum(log(lambda + k) + 1 / (lambda + k)), k = 1e-5.
* ``params`` and ``macs``: the baselines every proxy must beat (``trainers.profile``).

"Weights" are those of the convolution and linear layers (the convention of Abdelfattah et al.). Every proxy
works on its own deep copy of the model in training mode (BatchNorm on batch statistics, as the reference
implementations), so the caller's model, its gradients and its BatchNorm statistics are left as they were. No
Ray or MLflow: a trainer-side pre-screen or a benchmark calls this directly.
"""
from __future__ import annotations

import copy
import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

PROXIES: dict[str, Callable[[nn.Module, torch.Tensor, torch.Tensor], float]] = {}
"""Proxy name -> ``fn(model, x, y) -> float`` (higher = predicted better, except ``params`` and ``macs``,
which are costs)."""

WEIGHT_LAYERS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)
"""Layers whose ``weight`` the parameter-wise proxies sum over."""

BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)
"""Layers synflow removes (Tanaka et al. score a network without them)."""

ACTIVATION_TYPES = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.CELU, nn.SELU, nn.GELU, nn.SiLU,
                    nn.Mish, nn.Hardswish)
"""Activation modules NASWOT reads a unit's code from: each is positive exactly where its input is (ReLU6's
and Hardswish's too, below their upper kink), so the code "input > 0" is the ReLU paper's on/off state."""

JACOB_COV_K = 1e-5


def proxy(name: str):
    """Register ``fn(model, x, y) -> float`` as proxy ``name``."""
    def register(fn):
        if name in PROXIES:
            raise ValueError(f"proxy {name!r} registered twice")
        PROXIES[name] = fn
        return fn
    return register


def score_proxies(model: nn.Module, x: torch.Tensor, y: torch.Tensor, names=None) -> dict[str, float]:
    """``{name: score}`` of ``names`` (default: every registered proxy) for ``model`` on the minibatch ``x, y``
    (images N x C x H x W and class labels). The model is not changed."""
    names = list(PROXIES) if names is None else list(names)
    unknown = [n for n in names if n not in PROXIES]
    if unknown:
        raise KeyError(f"unknown proxy {unknown[0]!r}; registered: {', '.join(PROXIES)}")
    return {n: float(PROXIES[n](model, x, y)) for n in names}


def _copy(model: nn.Module) -> nn.Module:
    net = copy.deepcopy(model)
    net.train()
    net.zero_grad(set_to_none=True)
    return net


def _weights(net: nn.Module) -> list[torch.Tensor]:
    return [m.weight for m in net.modules() if isinstance(m, WEIGHT_LAYERS) and m.weight is not None]


def _loss_gradients(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(weight, dL/dweight) of a copy of ``model`` for the cross-entropy L of one forward/backward pass."""
    net = _copy(model)
    F.cross_entropy(net(x), y).backward()
    return [(w.detach(), w.grad.detach() if w.grad is not None else torch.zeros_like(w)) for w in _weights(net)]


@proxy("synflow")
def synflow(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    net = _copy(model).double()
    for parent in list(net.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, BATCH_NORMS):
                setattr(parent, name, nn.Identity())
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    out = net(torch.ones((1, *x.shape[1:]), dtype=torch.float64, device=x.device))
    out.sum().backward()
    return float(sum((w.detach() * w.grad).abs().sum() for w in _weights(net) if w.grad is not None))


@proxy("naswot")
def naswot(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    net = _copy(model)
    codes: list[torch.Tensor] = []

    def record(module, inputs):
        if inputs[0].shape[0] == len(x):         # not an activation run on a regrouped batch (e.g. stacked branches)
            codes.append((inputs[0].detach() > 0).flatten(1).to(torch.float64))

    handles = [m.register_forward_pre_hook(record) for m in net.modules() if isinstance(m, ACTIVATION_TYPES)]
    try:
        with torch.no_grad():
            net(x)
    finally:
        for h in handles:
            h.remove()
    if not codes:
        return float("nan")
    c = torch.cat(codes, dim=1)
    k = c @ c.T + (1 - c) @ (1 - c).T
    return float(torch.linalg.slogdet(k).logabsdet)


@proxy("grad_norm")
def grad_norm(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    return float(sum(g.norm() for _, g in _loss_gradients(model, x, y)))


@proxy("snip")
def snip(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    return float(sum((w * g).abs().sum() for w, g in _loss_gradients(model, x, y)))


@proxy("jacob_cov")
def jacob_cov(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    net = _copy(model)
    xg = x.detach().clone().requires_grad_(True)
    out = net(xg)
    out.backward(torch.ones_like(out))
    jac = xg.grad.detach().flatten(1).to(torch.float64)
    corr = torch.corrcoef(jac)
    if not torch.isfinite(corr).all():
        return float("nan")               # an input whose Jacobian is constant has no correlation
    lam = torch.linalg.eigvalsh(corr)
    return float(-(torch.log(lam + JACOB_COV_K) + 1.0 / (lam + JACOB_COV_K)).sum())


@proxy("params")
def params(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    from .profile import count_params

    return float(count_params(model))


@proxy("macs")
def macs(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    from .profile import count_macs

    return float(count_macs(copy.deepcopy(model), tuple(x.shape[1:]), device=x.device))


def finite(score: float) -> bool:
    """Whether a proxy score can be ranked (NASWOT's log-determinant is -inf for a singular kernel)."""
    return score is not None and math.isfinite(score)
