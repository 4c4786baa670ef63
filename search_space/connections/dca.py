"""Deep Connected Attention (DCA, seed paper 002): each connectable attention block's transformation sees its
own extraction output G merged with the previous attention block's map (Eq. 3):

    X' = X (.) t(f(G, alpha T~), w_t)

registered as connections ``direct`` (Eq. 4), ``weighted`` (Eq. 5) and ``softmax`` (Eq. 6). The wrapper is the
``link`` the attention module's hooks call (docs/ARCHITECTURE.md): ``merge(d, g)`` before the transformation of
dimension ``d`` and ``record(d, g, t, scaled)`` after it. How the paper is read here:

  * T~ is the previous connected block's transformation output; where it is scaled to (0, 1) it is first
    multiplied by that block's extraction output E~ (Sec. 3.2). Where that product has more axes than G
    (SK's per-branch weights), the extra axes are summed, as SK sums its branches.
  * Size matching (Sec. 3.3) acts on T~ (after the product): channels (axis -3 of G's layout) by one FC
    C' -> C (``fc1``, the paper's default) or two FC with a ReLU between, C' -> C / r -> C (``fc2``; the
    text says C'/r, the authors' code and the published 28.65M of 2FC (r=16) SE-ResNet50 and 28.63M of
    DCA-GC-ResNet50 fit C / r); resolution by average (or max) pooling to G's size, done at run time with
    adaptive pooling (kernel = stride = the reduction scale when it divides).
  * alpha is one learnable scalar per connection and per attention dimension; dimensions are connected
    independently (Sec. 3.4): ``dims`` channel / spatial / all gives DCA-C / DCA-S / DCA-All for CBAM.
  * The first connected block has no predecessor: merge returns G unchanged and it has no alpha.
With alpha = 0 the direct and weighted connections give back the vanilla block (the paper's remark after Eq. 3).
"""
from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import AttnasError
from ..gatings.fa import probe_forward
from ..layers import reduced
from ..registry import CONNECTIONS
from .functions import CONNECTION_FUNCTIONS

PROBE_SIZE = 16
"""Side of the input used to trace an attention module's G and T shapes at build time."""


class ChannelMatch(nn.Module):
    """FC layers over the channel axis (-3) of a (B, ..., C', h, w) map: C' -> C, or C' -> C / r -> C."""

    def __init__(self, cin: int, cout: int, kind: str, reduction: int):
        super().__init__()
        if kind == "fc1":
            self.fc = nn.Linear(cin, cout)
        else:
            hidden = reduced(cout, reduction, "connection.match_reduction")
            self.fc = nn.Sequential(nn.Linear(cin, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, cout))

    def forward(self, p: torch.Tensor) -> torch.Tensor:
        return self.fc(p.movedim(-3, -1)).movedim(-1, -3)


class ConnectedAttention(nn.Module):
    """An attention module plus its DCA link to the previous connected block (through the model's ForwardState)."""

    def __init__(self, attention: nn.Module, state: dict, function: str, dims: tuple[str, ...],
                 spatial_match: str):
        super().__init__()
        self.attention = attention
        self.state = state
        self.function = function
        self.dims = dims
        self.spatial_match = spatial_match
        self.alpha = nn.ParameterDict()
        self.match = nn.ModuleDict()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attention(x, link=self)

    def prior(self, dim: str, g: torch.Tensor) -> torch.Tensor | None:
        """T~ (times E~ where scaled), size-matched to ``g``; None when there is no predecessor."""
        prev = self.state.get(("dca", dim)) if dim in self.alpha else None
        if prev is None:
            return None
        t, e, scaled = prev
        p = t * e if scaled else t
        while p.dim() > g.dim():
            p = p.sum(1)
        if dim in self.match:
            p = self.match[dim](p)
        if p.shape[-2:] != g.shape[-2:]:
            pool = F.adaptive_avg_pool2d if self.spatial_match == "avg" else F.adaptive_max_pool2d
            lead = p.shape[:-3]
            p = pool(p.reshape(-1, *p.shape[-3:]), g.shape[-2:]).reshape(*lead, *p.shape[-3:-2], *g.shape[-2:])
        return p

    def merge(self, dim: str, g: torch.Tensor) -> torch.Tensor:
        p = self.prior(dim, g)
        if p is None:
            return g
        return CONNECTION_FUNCTIONS[self.function](g, self.alpha[dim] * p)

    def record(self, dim: str, g: torch.Tensor, t: torch.Tensor, scaled: bool) -> None:
        if dim in self.dims:
            self.state[("dca", dim)] = (t, g, scaled)


class _ShapeTracer:
    """A link that merges nothing and notes, per dimension, the shapes of G and T and whether T is scaled."""

    def __init__(self):
        self.seen: dict[str, tuple] = {}

    def merge(self, dim, g):
        return g

    def record(self, dim, g, t, scaled):
        self.seen[dim] = (tuple(g.shape), tuple(t.shape), bool(scaled))


def traced_prior_channels(module: nn.Module) -> dict[str, tuple[int, int]]:
    """dim -> (channels of G, channels of the map a successor receives (T, or T * E where scaled)), from one
    probe forward of ``module`` (its weights and BN statistics are not touched)."""
    cin = getattr(module, "input_channels", None)
    if cin is None:
        raise AttnasError(f"connection.type: attention {type(module).__name__} was not built by the BuildContext "
                          f"(no input_channels); allowed: modules from ctx.attention / ctx.conv")
    tracer = _ShapeTracer()
    probe_forward(module, torch.zeros(2, cin, PROBE_SIZE, PROBE_SIZE, device="cpu"), link=tracer)
    out = {}
    for dim, (g_shape, t_shape, scaled) in tracer.seen.items():
        p_shape = torch.broadcast_shapes(g_shape, t_shape) if scaled else t_shape
        out[dim] = (g_shape[-3], p_shape[-3])
    return out


def connect(module: nn.Module, state, function: str, *, channel_match: str, match_reduction: int,
            spatial_match: str, dims: str, alpha_init: float) -> ConnectedAttention:
    """Wrap ``module``; link each chosen dimension to the previous block built on ``state`` (build order is
    forward order), adding alpha and, where channels differ, the channel-matching FC."""
    own = tuple(getattr(module, "dims", ()))
    chosen = own if dims == "all" else tuple(d for d in own if d == dims)
    if not chosen:
        name = getattr(module, "registry_name", type(module).__name__)
        raise AttnasError(f"connection.dims: {dims!r} is not allowed for attention {name!r} (dimensions: "
                          f"{', '.join(own) or 'none'}); allowed: all, {', '.join(own)}")
    wrapper = ConnectedAttention(module, state, function, chosen, spatial_match)
    channels = traced_prior_channels(module)
    last = getattr(state, "dca_prior_channels", None)
    if last is None:
        last = state.dca_prior_channels = {}
    for dim in chosen:
        g_channels, p_channels = channels[dim]
        if dim in last:
            wrapper.alpha[dim] = nn.Parameter(torch.tensor(float(alpha_init)))
            if last[dim] != g_channels:
                wrapper.match[dim] = ChannelMatch(last[dim], g_channels, channel_match, match_reduction)
        last[dim] = p_channels
    return wrapper


def _canonical(params: dict, field: str) -> dict:
    if params["match_reduction"] < 1:
        raise AttnasError(f"{field}.match_reduction: {params['match_reduction']} is not allowed; "
                          f"allowed: an integer >= 1")
    out = dict(params)
    if params["channel_match"] == "fc1":  # one FC has no reduction: fold it to its default
        out["match_reduction"] = 16
    return out


def _register(function: str, equation: str) -> None:
    def factory(attention_module, state, *, channel_match: Literal["fc1", "fc2"] = "fc1", match_reduction: int = 16,
                spatial_match: Literal["avg", "max"] = "avg", dims: Literal["all", "channel", "spatial"] = "all",
                alpha_init: float = 1.0) -> ConnectedAttention:
        return connect(attention_module, state, function, channel_match=channel_match,
                       match_reduction=match_reduction, spatial_match=spatial_match, dims=dims, alpha_init=alpha_init)

    factory.__name__ = factory.__qualname__ = f"dca_{function}"
    factory.__doc__ = f"DCA with the {function} connection function ({equation} of the DCA paper)."
    factory.canonical_params = _canonical
    CONNECTIONS.register(function)(factory)


for _function, _equation in (("direct", "Eq. 4"), ("weighted", "Eq. 5"), ("softmax", "Eq. 6")):
    _register(_function, _equation)
