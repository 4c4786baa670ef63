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
  * Shapes are declared per image (``dca_shapes``) and broadcast per image: every link keeps the batch on axis 0
    and aligns the per-image axes from the right (``per_image``), so each image's map meets only its own G.
    The link shapes that occur, each merged by Eq. 3 with f of Eq. 4-6:
      - channel vector (B, C, 1, 1), T~ (B, C, 1, 1): SE, GC (Sec. 3.2's G in R^C);
      - stacked channel descriptors (B, k, C, 1, 1) with T~ (B, C, 1, 1): CBAM's avg and max pools share Mc,
        so T~ * E~ and f broadcast T~ over the k descriptors (per image, never over the batch);
      - per-branch channel weights (B, M, C, 1, 1), T~ of the same shape: SK (extra axes summed for a
        successor of lower rank, as above);
      - spatial map (B, k, H, W) with T~ (B, 1, H, W): CBAM's spatial attention (Sec. 3.2's G in R^{W x H}),
        pooled to the successor's H x W (Sec. 3.3);
      - gathered map (B, C, h, w), T~ of the same shape: GE (channel matched by FC, resolution by pooling).
With alpha = 0 the direct and weighted connections give back the vanilla block (the paper's remark after Eq. 3).
"""
from __future__ import annotations

from typing import Annotated, Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..constraints import AnyFinite, Positive
from ..errors import AttnasError
from ..layers import reduced_width
from ..registry import ATTENTION, CONNECTIONS
from ..tally import broadcast, numel
from . import base  # noqa: F401  (installs the connection contract)
from .functions import CONNECTION_FUNCTIONS


class ChannelMatch(nn.Module):
    """FC layers over the channel axis (-3) of a (B, ..., C', h, w) map: C' -> C, or C' -> C / r -> C."""

    def __init__(self, cin: int, cout: int, kind: str, reduction: int):
        super().__init__()
        if kind == "fc1":
            self.fc = nn.Linear(cin, cout)
        else:
            hidden = reduced_width(cout, reduction)
            self.fc = nn.Sequential(nn.Linear(cin, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, cout))

    def forward(self, p: torch.Tensor) -> torch.Tensor:
        return self.fc(p.movedim(-3, -1)).movedim(-1, -3)


def per_image(x: torch.Tensor, dims: int) -> torch.Tensor:
    """``x`` (B, *s) viewed as (B, 1, ..., 1, *s) with ``dims`` axes in all, so per-image shapes broadcast from
    the right without ever meeting the batch axis."""
    missing = dims - x.dim()
    return x if missing <= 0 else x.reshape(x.shape[0], *(1,) * missing, *x.shape[1:])


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
        p = per_image(t, e.dim()) * e if scaled else t
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
        return CONNECTION_FUNCTIONS[self.function](g, self.alpha[dim] * per_image(p, g.dim()))

    def record(self, dim: str, g: torch.Tensor, t: torch.Tensor, scaled: bool) -> None:
        if dim in self.dims:
            self.state[("dca", dim)] = (t, g, scaled)


def prior_shape(g_shape: tuple, t_shape: tuple, scaled: bool) -> tuple:
    """The shape of the map a successor receives: T, or T * E (broadcast) where T is scaled."""
    return broadcast(g_shape, t_shape) if scaled else tuple(t_shape)


def chosen_dims(attention_type: str, own: tuple, dims: str) -> tuple:
    """The attention dimensions a connection with ``dims`` links; AttnasError if none."""
    chosen = own if dims == "all" else tuple(d for d in own if d == dims)
    if not chosen:
        raise AttnasError(f"connection.dims: {dims!r} is not allowed for attention {attention_type!r} (dimensions: "
                          f"{', '.join(own) or 'none'}); allowed: all, {', '.join(own)}")
    return chosen


def check_dims(attention, params: dict) -> None:
    """The connection's ``dims`` must name a dimension of the connected attention (a Component)."""
    cls = ATTENTION.get(attention.type)
    chosen_dims(attention.type, cls.dims, params["dims"])


def connect(module: nn.Module, state, shapes: dict, function: str, *, channel_match: str, reduction: int,
            spatial_match: str, dims: str, alpha_init: float) -> ConnectedAttention:
    """Wrap ``module``; link each chosen dimension to the previous block built on ``state`` (build order is
    forward order), adding alpha and, where channels differ, the channel-matching FC. ``shapes`` is the
    module's ``dca_shapes`` at its site (only the channel axes are used here). The channels of the last
    connected block are build-time bookkeeping in an attribute of ``state`` (attributes survive the
    per-forward clear of its items)."""
    chosen = chosen_dims(module.registry_name, module.dims, dims)
    wrapper = ConnectedAttention(module, state, function, chosen, spatial_match)
    last = vars(state).setdefault("dca_prior_channels", {})
    for dim in chosen:
        g_shape, t_shape, scaled = shapes[dim]
        g_channels, p_channels = g_shape[-3], prior_shape(g_shape, t_shape, scaled)[-3]
        if dim in last:
            wrapper.alpha[dim] = nn.Parameter(torch.tensor(float(alpha_init)))
            if last[dim] != g_channels:
                wrapper.match[dim] = ChannelMatch(last[dim], g_channels, channel_match, reduction)
        last[dim] = p_channels
    return wrapper


def _merge_cost(t, function: str, g: tuple, p: tuple) -> None:
    """Cost of ``alpha * p`` and of the connection function f(G, alpha T~) (functions.py)."""
    both, ng, np_ = numel(broadcast(g, p)), numel(g), numel(p)
    t.ew(np_)                                                     # alpha * p
    if function == "direct":
        t.ew(both)
    elif function == "weighted":
        t.ew(ng + np_, 2)                                         # |g|, |p|; |g| * g, |p| * p
        t.ew(both, 4)                                             # |g| + |p|, clamp_min, +, /
    else:                                                         # on the broadcast G and p:
        t.ew(both, 5)                                             # -g, -p; w0 * g, w1 * p, +
        t.softmax(2 * both)


def link_cost(t, params: dict, function: str, attention_type: str, own: tuple, shapes: dict,
              last: dict) -> None:
    """Add the cost of one connected block (its alpha, channel match, prior and merge) to the tally ``t``.
    ``shapes`` is its ``dca_shapes`` at its site; ``last`` maps dim -> the previous connected block's
    ``(g_shape, t_shape, scaled)`` and is updated (call in build order)."""
    for dim in chosen_dims(attention_type, own, params["dims"]):
        g, t_shape, scaled = shapes[dim]
        prev = last.get(dim)
        last[dim] = shapes[dim]
        if prev is None:
            continue
        t.params += 1                                             # alpha
        p = prior_shape(*prev)
        if prev[2]:
            t.ew(numel(p))                                        # T~ * E~
        while len(p) > len(g):
            t.reduce(numel(p))
            p = p[1:]
        if p[-3] != g[-3]:
            rows, cin, cout = numel(p) // p[-3], p[-3], g[-3]
            if params["channel_match"] == "fc1":
                t.linear(rows, cin, cout)
            else:
                hidden = reduced_width(cout, params["reduction"])
                t.linear(rows, cin, hidden)
                t.ew(rows * hidden)
                t.linear(rows, hidden, cout)
            p = p[:-3] + (cout,) + p[-2:]
        if p[-2:] != g[-2:]:
            t.reduce(numel(p))                                    # adaptive pooling to G's size
            p = p[:-2] + g[-2:]
        _merge_cost(t, function, g, p)


def _canonical(params: dict, field: str) -> dict:
    out = dict(params)
    if params["channel_match"] == "fc1":  # one FC has no reduction: fold it to its default
        out["reduction"] = 16
    return out


def _register(function: str, equation: str) -> None:
    def factory(attention_module, state, shapes, *, channel_match: Literal["fc1", "fc2"] = "fc1",
                reduction: Annotated[int, Positive] = 16, spatial_match: Literal["avg", "max"] = "avg",
                dims: Literal["all", "channel", "spatial"] = "all", alpha_init: Annotated[float, AnyFinite] = 1.0) -> ConnectedAttention:
        return connect(attention_module, state, shapes, function, channel_match=channel_match, reduction=reduction,
                       spatial_match=spatial_match, dims=dims, alpha_init=alpha_init)

    def cost(t, params, attention_type, own, shapes, last):
        link_cost(t, params, function, attention_type, own, shapes, last)

    factory.__name__ = factory.__qualname__ = f"dca_{function}"
    factory.__doc__ = f"DCA with the {function} connection function ({equation} of the DCA paper)."
    factory.canonical_params = _canonical
    factory.cost = cost
    factory.check_fits = check_dims
    CONNECTIONS.register(function)(factory)


for _function, _equation in (("direct", "Eq. 4"), ("weighted", "Eq. 5"), ("softmax", "Eq. 6")):
    _register(_function, _equation)
