"""build_model: ArchConfig -> nn.Module. Backbones ask a BuildContext for attention, so no backbone or
block ever names an attention type, and the builder never samples."""
from __future__ import annotations

import contextlib
from typing import Iterable

import torch
from torch import nn

from .arch_config import ArchConfig, Component
from .errors import AttnasError
from .layers import conv_bn, make_act
from .registry import ATTENTION, BACKBONES, CONNECTIONS, GATINGS


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
        self.attention_count = 0

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

    def _make(self, spec: Component, field: str, *args):
        """Build attention ``spec`` from its structural ``args``; ``module.input_channels`` records the channels
        of the tensor it is applied to (args[0]), so a connection can trace its shapes."""
        try:
            module = ATTENTION.get(spec.type)(*args, **spec.params)
            module.input_channels = args[0]
            return module
        except AttnasError as e:
            msg = str(e)
            if field != "attention" and msg.startswith("attention."):
                msg = field + msg[len("attention"):]
            raise AttnasError(msg) from None

    def attention(self, stage: int, point: str, channels: int) -> nn.Module | None:
        """The attention module for a block of ``stage`` (0-based) at ``point``, or None where there is none.

        Attention that replaces a convolution (SK) is not returned here but by :meth:`conv`.
        """
        spec, field = self._spec(stage, point)
        if spec is None or getattr(ATTENTION.get(spec.type), "replaces_conv", False):
            return None
        module = self._make(spec, field, channels)
        return self._connect(module, field, stage)

    def _connect(self, module: nn.Module, field: str, stage: int) -> nn.Module:
        self.attention_count += 1
        conn = self.arch.connection
        if field == "attention" and conn.type != "none":
            module = CONNECTIONS.get(conn.type)(module, self.state, **conn.params)
        return module

    def conv(self, stage: int, cin: int, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1,
             point: str = "conv") -> nn.Module:
        """The block's spatial conv-BN-activation, or the attention that replaces it (e.g. SK) at ``point``."""
        spec, field = self._spec(stage, point)
        if spec is not None and getattr(ATTENTION.get(spec.type), "replaces_conv", False):
            module = self._make(spec, field, cin, cout, stride, groups)
            return self._connect(module, field, stage)
        return conv_bn(cin, cout, kernel, stride, groups=groups, act=self.arch.activation)

    def stage(self, blocks: Iterable[nn.Module], index: int) -> nn.Module:
        """Wrap the blocks of one stage (block-wise gating such as FA hooks in here)."""
        blocks = list(blocks)
        gating = self.arch.gating
        if gating.type == "none":
            return nn.Sequential(*blocks)
        return GATINGS.get(gating.type)(blocks, "blocks", **gating.params)

    def body(self, stages: Iterable[nn.Module]) -> nn.Module:
        """Wrap the sequence of stages (FA's 'stages as blocks' deployment hooks in here)."""
        stages = list(stages)
        gating = self.arch.gating
        if gating.type == "none":
            return nn.Sequential(*stages)
        return GATINGS.get(gating.type)(stages, "stages", **gating.params)


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


_CHECKED: dict[str, str | None] = {}


def check_builds(arch: ArchConfig) -> None:
    """Build and run one forward (see :func:`_check`), so a config that cannot build or run is rejected
    before any training, with an AttnasError naming the field. Results are remembered per config hash."""
    key = arch.hash
    if key not in _CHECKED:
        if len(_CHECKED) > 4096:
            _CHECKED.clear()
        try:
            _check(arch)
            _CHECKED[key] = None
        except AttnasError as e:
            _CHECKED[key] = str(e)
    if _CHECKED[key] is not None:
        raise AttnasError(_CHECKED[key])


@contextlib.contextmanager
def _skip_init():
    """Make torch.nn.init's in-place initialisers no-ops: a dry-run build only needs shapes."""
    names = [n for n in dir(nn.init) if n.endswith("_") and not n.startswith("_")]
    saved = {n: getattr(nn.init, n) for n in names}
    try:
        for n in names:
            setattr(nn.init, n, lambda tensor, *args, **kwargs: tensor)
        yield
    finally:
        for n, f in saved.items():
            setattr(nn.init, n, f)


def _check(arch: ArchConfig) -> None:
    """Build on the CPU without initialising weights and run one eval-mode forward of a zero image.

    (Faster than a meta-device dry run, whose Python decompositions cost ~0.3-1 s per model and pull in
    torch._dynamo on first use.)"""
    try:
        with _skip_init():
            model = build_model(arch)
        model.eval()
        with torch.no_grad():
            out = model(torch.zeros(1, *arch.input_size))
    except AttnasError:
        raise
    except (RuntimeError, ValueError, IndexError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise AttnasError(
            f"input_size: {'x'.join(map(str, arch.input_size))} cannot run through {arch.name} ({first}); "
            f"allowed: an input large enough for the backbone's downsampling") from None
    if tuple(out.shape) != (1, arch.num_classes):
        raise AttnasError(f"backbone: {arch.backbone.type} returned shape {tuple(out.shape)}; expected (batch, num_classes)")
