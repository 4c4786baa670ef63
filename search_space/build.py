"""build_model: ArchConfig -> nn.Module. Backbones ask a BuildContext for attention, so no backbone or
block ever names an attention type, and the builder never samples.

Building raises only AttnasError for a config that check_fits (search_space/shapes.py) would have rejected;
anything else a build raises is a programming error and propagates as itself.
"""
from __future__ import annotations

from typing import Iterable

import torch
from torch import nn

from .arch_config import ArchConfig, Component
from .errors import AttnasError
from .layers import conv_bn, make_act
from .registry import ATTENTION, BACKBONES, CONNECTIONS, GATINGS
from .shapes import BlockShape, backbone_shapes


class ForwardState(dict):
    """Per-forward scratch shared by modules that look at earlier blocks (DCA connections, FA gating).

    The model clears it at the start of every forward, so nothing leaks between batches.
    """


class BuildContext:
    """What a backbone may ask of the config while it builds."""

    def __init__(self, arch: ArchConfig):
        self.arch = arch
        self.num_classes = arch.num_classes
        self.in_channels = arch.input_size[0]
        self.input_size = arch.input_size
        self.state = ForwardState()
        self._cursor = 0

    def act(self) -> nn.Module:
        """A fresh instance of the backbone activation."""
        return make_act(self.arch.activation)

    def _spec(self, stage: int, point: str) -> tuple[Component | None, str]:
        arch = self.arch
        if stage >= len(arch.stage_mask) or not arch.stage_mask[stage]:
            return None, ""
        if point == arch.insertion_point and arch.attention.type != "none":
            return arch.attention, "attention"
        if point in arch.extra_attention:
            return arch.extra_attention[point], f"extra_attention.{point}"
        return None, ""

    def attention_class(self, stage: int, point: str):
        """The class of the attention at ``point`` of ``stage``, or None (e.g. to read its output_projection)."""
        spec, _ = self._spec(stage, point)
        return ATTENTION.get(spec.type) if spec is not None else None

    def _make(self, spec: Component, field: str, *args):
        """Build attention ``spec`` from its structural ``args``."""
        try:
            return ATTENTION.get(spec.type)(*args, **spec.params)
        except AttnasError as e:
            msg = str(e)
            if field != "attention" and msg.startswith("attention."):
                msg = field + msg[len("attention"):]
            raise AttnasError(msg) from None

    def _site(self, stage: int, point: str, channels: int):
        """The shapes.Site of this request: the walk (shapes.py) lists the sites in build order, so the n-th
        request of a build is the n-th site; a backbone whose walk disagrees fails here."""
        sites = self._shapes().sites
        site = sites[self._cursor] if self._cursor < len(sites) else None
        self._cursor += 1
        if site is None or (site.stage, site.point, site.shape[0]) != (stage, point, channels):
            raise AssertionError(f"{self.arch.backbone.type}: request {self._cursor} ({stage}, {point}, {channels}) "
                                 f"is not the walk's site {site}")
        return site

    def attention(self, stage: int, point: str, channels: int) -> nn.Module | None:
        """The attention module for a block of ``stage`` (0-based) at ``point``, or None where there is none.

        Attention that replaces a convolution (SK) is not returned here but by :meth:`conv`. A module with
        ``spatial_args`` also gets the site's height and width.
        """
        site = self._site(stage, point, channels)
        spec, field = self._spec(stage, point)
        if spec is None or ATTENTION.get(spec.type).replaces_conv:
            return None
        args = (channels, *site.shape[1:]) if ATTENTION.get(spec.type).spatial_args else (channels,)
        return self._connect(self._make(spec, field, *args), spec, field, channels)

    def _connect(self, module: nn.Module, spec: Component, field: str, channels: int) -> nn.Module:
        """Wrap the main attention in the connection; ``channels``: those of the module's output."""
        conn = self.arch.connection
        if field == "attention" and conn.type != "none":
            shapes = ATTENTION.get(spec.type).dca_shapes((channels, 1, 1), spec.params)
            module = CONNECTIONS.get(conn.type)(module, self.state, shapes, **conn.params)
        return module

    def conv(self, stage: int, cin: int, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1,
             point: str = "conv") -> nn.Module:
        """The block's spatial conv-BN-activation, or the attention that replaces it (e.g. SK) at ``point``."""
        self._site(stage, point, cin)
        spec, field = self._spec(stage, point)
        if spec is not None and ATTENTION.get(spec.type).replaces_conv:
            return self._connect(self._make(spec, field, cin, cout, stride, groups), spec, field, cout)
        return conv_bn(cin, cout, kernel, stride, groups=groups, act=self.arch.activation)

    def _shapes(self):
        return backbone_shapes(self.arch.backbone, tuple(self.arch.input_size))

    def stage(self, blocks: Iterable[nn.Module], index: int) -> nn.Module:
        """Wrap the blocks of one stage (block-wise gating such as FA hooks in here)."""
        blocks = list(blocks)
        gating = self.arch.gating
        if gating.type == "none":
            return nn.Sequential(*blocks)
        shapes = self._shapes().stages[index].blocks
        return GATINGS.get(gating.type)(blocks, "blocks", shapes, **gating.params)

    def body(self, stages: Iterable[nn.Module]) -> nn.Module:
        """Wrap the sequence of stages (FA's 'stages as blocks' deployment hooks in here)."""
        stages = list(stages)
        gating = self.arch.gating
        if gating.type == "none":
            return nn.Sequential(*stages)
        shapes = [BlockShape(*s[:3]) for s in self._shapes().stages]
        return GATINGS.get(gating.type)(stages, "stages", shapes, **gating.params)


class AttnasModel(nn.Module):
    """The built network: a backbone plus the per-forward state its attention links share."""

    def __init__(self, arch: ArchConfig, backbone: nn.Module, state: ForwardState):
        super().__init__()
        self.arch = arch
        self.backbone = backbone
        self._state = state

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._state.clear()
        return self.backbone(x)


def build_model(arch: ArchConfig | dict | str) -> AttnasModel:
    """Build the ``nn.Module`` an ArchConfig describes (a preset name or YAML path also works)."""
    if not isinstance(arch, ArchConfig):
        from .arch_config import load_arch
        arch = load_arch(arch)
    ctx = BuildContext(arch)
    backbone = BACKBONES.get(arch.backbone.type)(ctx, **arch.backbone.params)
    return AttnasModel(arch, backbone, ctx.state)

