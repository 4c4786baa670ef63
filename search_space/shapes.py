"""The backbone shape contract: every backbone declares, in a classmethod ``walk(net, **params)`` that mirrors its
``__init__`` and ``forward`` op for op, the shape of every tensor on its way through the network, on a
:class:`Net` (the same calls a BuildContext gets, on shapes instead of modules). One walk gives

* the stage shapes -- channels and spatial size at every insertion point of every block (``sites``), and each
  stage's blocks with their input/output shapes and strides (what a gating such as FA builds from);
* the fit checks that used to need a dry-run build: a map that falls below 1x1 ("input too small"), FFT's patch
  tiling, FA projections that cannot match a block (:func:`check_fits`);
* with a config (``Net(..., arch)``), the exact parameters and MACs of the built model: each layer adds its
  cost by trainers.count_macs's rules (search_space/tally.py) and each attention, connection and gating its
  declared cost (search_space/cost.py).

Everything here is a pure function of the config; :func:`backbone_shapes` is memoised on (backbone, input size).
"""
from __future__ import annotations

import functools
from typing import NamedTuple

from .errors import AttnasError
from .attention.base import Attention
from .registry import ATTENTION, BACKBONES, CONNECTIONS, GATINGS
from .tally import ACT_MACS, Tally, TooSmall


class Site(NamedTuple):
    """One place where a block asks for attention: ``ctx.attention(stage, point, C)`` (``out_shape == shape``,
    stride 1), or ``ctx.conv`` at a conv point (the conv's input and output shapes, stride and groups)."""

    stage: int
    point: str
    shape: tuple
    out_shape: tuple
    stride: int = 1
    groups: int = 1


class BlockShape(NamedTuple):
    """A module of a sequence a gating wraps: its input and output shape and its stride (FA projects
    the input with a strided 1x1 conv where they differ)."""

    in_shape: tuple
    out_shape: tuple
    stride: int


class StageShape(NamedTuple):
    in_shape: tuple
    out_shape: tuple
    stride: int
    blocks: tuple


class BackboneShapes(NamedTuple):
    input_size: tuple
    sites: tuple
    stages: tuple

    def points(self, stage: int) -> set:
        """The insertion points with at least one site in ``stage``."""
        return {s.point for s in self.sites if s.stage == stage}


class Net(Tally):
    """What a backbone's ``walk`` calls, mirroring :class:`search_space.build.BuildContext` and the layers in
    search_space/layers.py. Shapes are (C, H, W) tuples for one image.

    With ``arch`` None it records the shapes only; with an ArchConfig it also adds the cost of the attention,
    connection and gating each call stands for, so the tally is the built model's cost.
    """

    def __init__(self, input_size: tuple, arch=None):
        super().__init__()
        self.input_size = tuple(input_size)
        self.in_channels = self.input_size[0]
        self.arch = arch
        self.sites: list = []
        self.stage_blocks: dict = {}
        self.stage_list: tuple = ()
        self._mask: tuple = ()
        self._points: dict = {}
        if arch is not None:
            self.num_classes = arch.num_classes
            self.activation = arch.activation
            self.act_macs = ACT_MACS.get(arch.activation, 1)
            self.dca_last: dict = {}
            gating = arch.gating
            self._gating = None if gating.type == "none" else (GATINGS.get(gating.type).cost, gating.params)
            self._mask = tuple(arch.stage_mask)
            self._points = {p: (c, False) for p, c in arch.extra_attention.items()}   # as BuildContext._spec
            if arch.attention.type != "none":
                self._points[arch.insertion_point] = (arch.attention, True)
        else:
            self.num_classes, self.activation, self.act_macs, self._gating = 1, "relu", 1, None

    # ---- the backbone's own layers ------------------------------------------------------------------------
    def activate(self, s: tuple) -> tuple:
        """The backbone activation (``ctx.act()``) on a tensor of shape ``s`` (C, H, W)."""
        self.macs += s[0] * s[1] * s[2] * self.act_macs
        return s

    def conv_bn(self, s: tuple, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1, dilation: int = 1,
                act: bool = True) -> tuple:
        """layers.conv_bn with the backbone activation (or none)."""
        s = self.bn(self.conv(s, cout, kernel, stride, dilation * (kernel - 1) // 2, dilation, groups, bias=False))
        return self.activate(s) if act else s

    def classifier(self, s: tuple) -> None:
        """backbones.base.classifier: global average pool, (dropout), linear to num_classes."""
        self.adaptive_avg_pool(s, 1)
        self.linear(1, s[0], self.num_classes)

    # ---- what the BuildContext hands out ------------------------------------------------------------------
    def _spec(self, stage: int, point: str):
        """(component, is_main) of the attention at (stage, point), or (None, False); as BuildContext._spec."""
        if stage >= len(self._mask) or not self._mask[stage]:
            return None, False
        return self._points.get(point, (None, False))

    def _connect(self, cls, spec, out_shape: tuple, main: bool) -> None:
        conn = self.arch.connection
        if main and conn.type != "none":
            CONNECTIONS.get(conn.type).cost(self, conn.params, spec.type, cls.dims,
                                            cls.dca_shapes(out_shape, spec.params), self.dca_last)

    def attention(self, stage: int, point: str, s: tuple) -> tuple:
        """``ctx.attention(stage, point, C)`` on a map of shape ``s``."""
        self.sites.append(Site(stage, point, s, s))
        spec, main = self._spec(stage, point)
        if spec is not None:
            cls = ATTENTION.get(spec.type)
            if not cls.replaces_conv:
                cls.cost(self, s, spec.params)
                self._connect(cls, spec, s, main)
        return s

    def block_conv(self, stage: int, s: tuple, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1,
                   point: str = "conv") -> tuple:
        """``ctx.conv(stage, cin, cout, kernel, stride, groups)``: conv-BN-activation, or the attention that
        replaces it."""
        spec, main = self._spec(stage, point)
        cls = ATTENTION.get(spec.type) if spec is not None else None
        if cls is not None and cls.replaces_conv:
            out = cls.cost(self, s, spec.params, cout, stride, groups)
            self._connect(cls, spec, out, main)
        else:
            out = self.conv_bn(s, cout, kernel, stride, groups)
        self.sites.append(Site(stage, point, s, out, stride, groups))
        return out

    def attention_class(self, stage: int, point: str):
        """The attention class at (stage, point), or None (BuildContext.attention_class)."""
        spec, _ = self._spec(stage, point)
        return ATTENTION.get(spec.type) if spec is not None else None

    def stage(self, index: int, blocks: list) -> None:
        """``ctx.stage(blocks, index)``; ``blocks`` are their BlockShapes."""
        self.stage_blocks[index] = tuple(blocks)
        if self._gating is not None:
            self._gating[0](self, "blocks", blocks, self._gating[1])

    def body(self, stages: list) -> None:
        """``ctx.body(stages)``; ``stages`` are their BlockShapes."""
        self.stage_list = tuple(stages)
        if self._gating is not None:
            self._gating[0](self, "stages", stages, self._gating[1])


def walk(net: Net, backbone) -> Net:
    """Run ``backbone``'s walk on ``net``; a map that falls below 1x1 becomes the user error it is."""
    cls = BACKBONES.get(backbone.type)
    try:
        cls.walk(net, **backbone.params)
    except TooSmall as e:
        shape = "x".join(map(str, net.input_size))
        raise AttnasError(f"input_size: {shape} is too small for backbone {backbone.type} ({e}); allowed: "
                          f"{_minimum_input(backbone, net.input_size)}") from None
    return net


def _minimum_input(backbone, input_size: tuple) -> str:
    """'an input of at least CxNxN' for the smallest square size that walks (only on the error path)."""
    cls = BACKBONES.get(backbone.type)
    for side in range(1, 4097):
        try:
            cls.walk(Net((input_size[0], side, side)), **backbone.params)
        except (TooSmall, AttnasError):
            continue
        return f"an input of at least {input_size[0]}x{side}x{side}"
    return "a larger input"


@functools.lru_cache(maxsize=4096)
def backbone_shapes(backbone, input_size: tuple) -> BackboneShapes:
    """The shapes of ``backbone`` (a Component) at ``input_size``; AttnasError if it cannot run there."""
    net = walk(Net(input_size), backbone)
    stages = tuple(StageShape(s.in_shape, s.out_shape, s.stride, net.stage_blocks.get(i, ()))
                   for i, s in enumerate(net.stage_list))
    return BackboneShapes(tuple(input_size), tuple(net.sites), stages)


# ---- fit checks ------------------------------------------------------------------------------------------------
def attention_can_fold(attention_type: str) -> bool:
    """Whether the attention declares a shape-aware fold (``Attention.canonical_at``)."""
    cls = ATTENTION.get(attention_type)
    return bool(cls.reduced_widths) or cls.canonical_at.__func__ is not Attention.canonical_at.__func__


def fold_attention_at(attention, sites):
    """``attention`` (a Component) with its parameters folded at ``sites`` (Attention.canonical_at)."""
    if attention.type == "none" or not attention_can_fold(attention.type):
        return attention
    params = ATTENTION.get(attention.type).canonical_at(dict(attention.params), tuple(sites))
    return attention if params == dict(attention.params) else type(attention)(attention.type, params)


def attention_can_misfit(attention_type: str) -> bool:
    """Whether ``check_attention_fits`` can ever reject this type (it declares a fit rule)."""
    return ATTENTION.get(attention_type).check_fits.__func__ is not Attention.check_fits.__func__


def connection_can_misfit(connection_type: str) -> bool:
    return CONNECTIONS.get(connection_type).check_fits is not None


def gating_can_misfit(gating_type: str) -> bool:
    return GATINGS.get(gating_type).check_fits is not None


def check_attention_fits(attention, sites, field: str = "attention") -> None:
    """Raise AttnasError where ``attention`` (a Component) cannot run at one of ``sites``: the module's own
    ``check_fits`` rule. With the reduction rounding (layers.reduced_width) and 'same' padding no registered
    module has one today (each runs at every C >= 1, H, W >= 1: tests/search_space/test_contract.py)."""
    cls = ATTENTION.get(attention.type, f"{field}.type")
    if attention_can_misfit(attention.type):
        for site in sites:
            cls.check_fits(site, attention.params, field)


def check_connection_fits(attention, connection) -> None:
    """E.g. DCA's ``dims`` must name a dimension the connected attention has."""
    if connection.type == "none" or attention.type == "none":
        return
    rule = CONNECTIONS.get(connection.type).check_fits
    if rule is not None:
        rule(attention, connection.params)


def check_gating_fits(gating, shapes: BackboneShapes) -> None:
    """E.g. FA's projections must give each gated block's output size."""
    rule = GATINGS.get(gating.type).check_fits
    if rule is not None:
        rule(shapes, gating.params)


def check_fits(arch) -> None:
    """Every check a build would otherwise discover, from the config alone; raises AttnasError naming the field.
    After it passes, build_model(arch) raises no AttnasError."""
    shapes = backbone_shapes(arch.backbone, tuple(arch.input_size))
    sites = [s for s in shapes.sites if s.stage < len(arch.stage_mask) and arch.stage_mask[s.stage]]
    if arch.attention.type != "none":
        check_attention_fits(arch.attention, [s for s in sites if s.point == arch.insertion_point])
    for point, comp in arch.extra_attention.items():
        check_attention_fits(comp, [s for s in sites if s.point == point], f"extra_attention.{point}")
    check_connection_fits(arch.attention, arch.connection)
    check_gating_fits(arch.gating, shapes)


__all__ = ["attention_can_fold", "fold_attention_at", "Site", "BlockShape", "StageShape", "BackboneShapes", "Net", "walk", "backbone_shapes", "check_fits",
           "check_attention_fits", "check_connection_fits", "check_gating_fits", "attention_can_misfit",
           "connection_can_misfit", "gating_can_misfit"]
