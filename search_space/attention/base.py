"""The attention module contract: one base class whose class attributes are the metadata the config, the
space and the builder read, and the registration check that holds every registered module to it.

    @ATTENTION.register("se")
    class SqueezeExcite(Attention):
        connectable = True
        dims = ("channel",)
        def __init__(self, channels: int, *, reduction: Annotated[int, Positive] = 16, act: Act = "relu",
                     gate: Gate = "sigmoid"): ...
        def forward(self, x, link=None): ...
        @classmethod
        def cost(cls, t, shape, p): ...           # adds its parameters and MACs at ``shape`` to the tally ``t``
        @classmethod
        def dca_shapes(cls, shape, p): ...        # connectable only: per dimension, G's and T's shapes

Metadata (defaults below):
  connectable        takes part in DCA connections: ``forward(x, link=None)`` runs the DCA hooks, ``dims`` names
                     its attention dimensions, ``dca_shapes`` declares the shapes of its extraction G and
                     transformation T per dimension.
  dims               its attention dimensions, a subset of ("channel", "spatial").
  insertion_points   None: any insertion point but "conv"; ("conv",): it replaces the block's conv and must set
                     ``replaces_conv``.
  replaces_conv      constructor ``(in_channels, out_channels, stride, groups, *, params)``, output is the conv-BN-
                     activation's (SK); otherwise ``(channels, *, params)`` and the output has the input's shape.
  output_projection  it ends with its own 1x1 projection, so a host with one (VAN's proj_2) drops its own.
  canonical_at       (a classmethod, optional) folds parameters whose effect vanishes at the sites' shapes.
  reduced_widths     ``{param: width(p, site)}`` for reductions that act only through the hidden width they give
                     at a site: the default canonical_at folds reductions that give the same widths (CA's floor
                     of 8 makes r = 8 and 16 one network on 64 channels).
  spatial_args       its constructor is ``(channels, height, width, *, params)``: it has weights over a spatial
                     dimension (TripletLKN's learned compression of the collapsed H or W); the builder passes
                     the site's size (shapes.py walks every site).
"""
from __future__ import annotations

import inspect
from typing import ClassVar

from torch import nn

from ..registry import ATTENTION

DIMS = ("channel", "spatial")
CONV_ARGS = ("in_channels", "out_channels", "stride", "groups")


class Attention(nn.Module):
    """Base of every registered attention module (see the module docstring for the metadata)."""

    connectable: ClassVar[bool] = False
    dims: ClassVar[tuple] = ()
    insertion_points: ClassVar[tuple | None] = None
    replaces_conv: ClassVar[bool] = False
    output_projection: ClassVar[bool] = False
    spatial_args: ClassVar[bool] = False
    reduced_widths: ClassVar[dict] = {}

    @classmethod
    def cost(cls, t, shape: tuple, p: dict, *conv_args) -> tuple:
        """Add this module's parameters and MACs for one image of ``shape`` (C, H, W) to the tally ``t``
        (:class:`search_space.tally.Tally`), counted by the rules of ``trainers.count_macs``; return the output
        shape. Conv-replacing modules get ``(out_channels, stride, groups)`` as ``conv_args``."""
        raise NotImplementedError

    @classmethod
    def check_fits(cls, site, p: dict, field: str) -> None:
        """Raise AttnasError (naming ``field``) if the module cannot run at ``site`` (a shapes.Site). No module
        needs a rule today (every one runs at any C, H, W >= 1, see the contract test); one that does overrides
        this, and shapes.attention_can_misfit reports it."""

    @classmethod
    def canonical_at(cls, p: dict, sites: tuple) -> dict:
        """``p`` with every parameter whose effect vanishes at ``sites`` (the shapes.Site list where the module
        is built) folded to one value, only where the networks are provably the same function with the same
        weights (e.g. GE-theta-minus's extent at or above every map size is the global mean). The config, the
        space's count and its enumeration all fold through this one rule. The default folds each parameter of
        ``reduced_widths`` to one value per class that gives the same hidden widths at every site."""
        if not cls.reduced_widths or not sites:
            return p
        from ..registry import keyword_params
        return fold_reductions(cls.reduced_widths, p, sites, {k: v.default for k, v in keyword_params(cls).items()})

    @classmethod
    def dca_shapes(cls, shape: tuple, p: dict) -> dict:
        """Connectable modules: ``{dim: (g_shape, t_shape, scaled)}`` for one image, where ``shape`` is the
        module's output shape (its input's, except for conv-replacing modules), g the extraction output, t the
        transformation output and ``scaled`` whether t lies in (0, 1) (DCA rescales it by g)."""
        raise NotImplementedError


def fold_reductions(widths: dict, p: dict, sites: tuple, defaults: dict) -> dict:
    """For each ``param -> width(p, site)`` of ``widths`` (a reduction acting only through the hidden width it
    gives, e.g. ``reduced_width(C, r)``, floored at a minimum width): one value per class of values with the
    same widths at every site, since they build the same layers (the same network): the default where it is
    in the class, else the smallest value in it."""
    out = p
    for param, width in widths.items():
        want = tuple(width(out, s) for s in sites)
        same = lambda r: tuple(width({**out, param: r}, s) for s in sites) == want
        if out[param] != defaults[param] and same(defaults[param]):
            out = {**out, param: defaults[param]}
            continue
        for r in range(1, out[param]):
            if out[param] != defaults[param] and same(r):
                out = {**out, param: r}
                break
    return out


def fold_dilation(p: dict, param: str, reach: int, default: int) -> dict:
    """A dilated conv (padding dilation * (k // 2)) whose dilation is at least every extent it slides over
    (``reach``) sees only its centre tap: every such dilation is one function; fold to the default where it is
    one of them, else to ``reach``."""
    if not reach or p[param] < reach:
        return p
    return {**p, param: default if default >= reach else reach}


def check_attention(name: str, cls) -> None:
    """The registration check: raise TypeError for a module that breaks the contract."""
    where = f"attention {name!r} ({getattr(cls, '__qualname__', cls)})"
    if not (inspect.isclass(cls) and issubclass(cls, Attention)):
        raise TypeError(f"{where} is not a subclass of search_space.attention.base.Attention")
    for attr in ("connectable", "replaces_conv", "output_projection", "spatial_args"):
        if not isinstance(getattr(cls, attr), bool):
            raise TypeError(f"{where}: {attr} must be a bool")
    if not isinstance(cls.dims, tuple) or not set(cls.dims) <= set(DIMS) or len(set(cls.dims)) != len(cls.dims):
        raise TypeError(f"{where}: dims {cls.dims!r} must be a tuple of distinct names from {DIMS}")
    points = cls.insertion_points
    if points is not None and (not isinstance(points, tuple) or not points
                               or not all(isinstance(p, str) for p in points)):
        raise TypeError(f"{where}: insertion_points must be None or a non-empty tuple of point names")
    if cls.replaces_conv != (points == ("conv",)):
        raise TypeError(f"{where}: replaces_conv and insertion_points == ('conv',) must go together")
    positional = [p.name for p in inspect.signature(cls.__init__).parameters.values()
                  if p.kind is p.POSITIONAL_OR_KEYWORD][1:]
    if cls.replaces_conv and cls.spatial_args:
        raise TypeError(f"{where}: a conv-replacing module takes no spatial_args")
    expected = list(CONV_ARGS) if cls.replaces_conv else ["channels", "height", "width"] if cls.spatial_args \
        else ["channels"]
    if positional != expected:
        raise TypeError(f"{where}: positional arguments {positional} must be {expected}")
    if cls.cost.__func__ is Attention.cost.__func__:
        raise TypeError(f"{where}: declares no cost(t, shape, p) (needed for estimate_cost)")
    forward = inspect.signature(cls.forward).parameters
    if cls.connectable:
        if not cls.dims:
            raise TypeError(f"{where}: a connectable module must name its dims")
        if "link" not in forward:
            raise TypeError(f"{where}: a connectable module's forward must take link=None (the DCA hooks)")
        if cls.dca_shapes.__func__ is Attention.dca_shapes.__func__:
            raise TypeError(f"{where}: a connectable module must declare dca_shapes(shape, p)")


ATTENTION.contract(check_attention)
