"""Analytic counting: the parameters and MACs of one image through a layer or op, from shapes alone, by exactly
the rules of ``trainers.count_macs`` (thop's module rules with BatchNorm at 1 per element, plus one per output
element of pointwise ops, one per input element of reductions, ...; see trainers/profile.py), so that a model's
cost is known without building it.

Shapes are plain tuples ``(C, H, W)`` (batch 1). Each method mirrors one torch layer or op, adds its cost to
``Tally.params`` / ``Tally.macs`` and returns the output shape. A spatial size that falls below 1 raises
:class:`TooSmall` (the network cannot run at that input); the shape walk turns it into a user error.
"""
from __future__ import annotations

ACT_MACS = {"identity": 0, "hard_swish": 0}
"""MACs per element of an activation where it is not 1: nn.Identity is no op, and ``aten.hardswish`` is not
tagged pointwise, so count_macs does not count it."""

GATE_MACS = {"softmax": 3}
"""MACs per element of a gate where it is not 1 (the softmax gate is one softmax: exp, sum, divide)."""


class TooSmall(Exception):
    """A layer's output would have a spatial size below 1; ``args[0]`` says which layer."""


def numel(shape: tuple) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def broadcast(a: tuple, b: tuple) -> tuple:
    """The broadcast of two shapes (numpy rules), without torch (torch.broadcast_shapes is slow and imports
    sympy)."""
    if len(a) < len(b):
        a, b = b, a
    b = (1,) * (len(a) - len(b)) + tuple(b)
    out = []
    for x, y in zip(a, b):
        if x != y and 1 not in (x, y):
            raise ValueError(f"shapes {a} and {b} do not broadcast")
        out.append(y if x == 1 else x)
    return tuple(out)


def _pair(v) -> tuple:
    return (v, v) if isinstance(v, int) else tuple(v)


def conv_out(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1,
             what: str = "conv") -> int:
    """Output length of a convolution or pooling window along one axis (floor mode)."""
    out = (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
    if out < 1:
        raise TooSmall(f"a {kernel}x{kernel} {what} (stride {stride}, padding {padding}) on a map of {size}")
    return out


def ceil_pool_out(size: int, kernel: int, stride: int, padding: int = 0) -> int:
    """Output length of a pooling window in ceil mode (the last window must start inside the input)."""
    out = -(-(size + 2 * padding - kernel) // stride) + 1
    if (out - 1) * stride >= size + padding:
        out -= 1
    if out < 1:
        raise TooSmall(f"a {kernel}x{kernel} pool on a map of {size}")
    return out


class Tally:
    """Running parameter and MAC counts (see the module docstring)."""

    __slots__ = ("params", "macs")

    def __init__(self):
        self.params = 0
        self.macs = 0

    # ---- modules thop counts ----------------------------------------------------------------------------
    def conv(self, s: tuple, cout: int, kernel, stride=1, padding=0, dilation=1, groups: int = 1,
             bias: bool = True, calls: int = 1) -> tuple:
        """nn.Conv2d(C, cout, kernel, stride, padding, dilation, groups, bias) with nn.Conv2d's defaults, applied
        ``calls`` times (one set of weights)."""
        c, h, w = s
        if kernel.__class__ is int and stride.__class__ is int and padding.__class__ is int \
                and dilation.__class__ is int:                    # the common square case, kept fast
            span = dilation * (kernel - 1) + 1
            oh, ow = (h + 2 * padding - span) // stride + 1, (w + 2 * padding - span) // stride + 1
            if oh < 1 or ow < 1:
                conv_out(min(h, w), kernel, stride, padding, dilation)     # raises TooSmall with the message
            fan_in = c // groups * kernel * kernel
        else:
            kh, kw = _pair(kernel)
            sh, sw = _pair(stride)
            ph, pw = _pair(padding)
            dh, dw = _pair(dilation)
            oh, ow = conv_out(h, kh, sh, ph, dh), conv_out(w, kw, sw, pw, dw)
            fan_in = c // groups * kh * kw
        self.params += cout * fan_in + (cout if bias else 0)
        self.macs += cout * oh * ow * fan_in * calls
        return cout, oh, ow

    def conv1d(self, length: int, cin: int, cout: int, kernel: int, padding: int = 0, groups: int = 1,
               bias: bool = True) -> tuple:
        """nn.Conv1d on a (cin, length) sequence, stride 1; returns (cout, length')."""
        out = conv_out(length, kernel, 1, padding)
        self.params += cout * cin // groups * kernel + (cout if bias else 0)
        self.macs += cout * out * cin // groups * kernel
        return cout, out

    def bn(self, s: tuple) -> tuple:
        """nn.BatchNorm2d: one MAC per element (inference)."""
        self.params += 2 * s[0]
        self.macs += s[0] * s[1] * s[2]
        return s

    def linear(self, rows: int, fin: int, fout: int, bias: bool = True) -> int:
        """nn.Linear(fin, fout) on ``rows`` vectors; returns fout."""
        self.params += fin * fout + (fout if bias else 0)
        self.macs += rows * fin * fout
        return fout

    def layer_norm(self, elements: int, normalized: int) -> None:
        """nn.LayerNorm over ``normalized`` elements (affine), applied to ``elements`` in all: thop's 4 per
        element."""
        self.params += 2 * normalized
        self.macs += 4 * elements

    def avg_pool(self, s: tuple, kernel: int, stride: int, padding: int = 0, ceil_mode: bool = False) -> tuple:
        """nn.AvgPool2d: thop counts one per output element."""
        c, h, w = s
        size = (lambda n: ceil_pool_out(n, kernel, stride, padding)) if ceil_mode else \
            (lambda n: conv_out(n, kernel, stride, padding, what="pool"))
        out = c, size(h), size(w)
        self.macs += numel(out)
        return out

    def adaptive_avg_pool(self, s: tuple, size: int) -> tuple:
        """nn.AdaptiveAvgPool2d(size): thop's rule, int((kernel + 1) * output elements) with the kernel the
        (fractional) ratio of input to output area, in double precision as thop computes it."""
        c, h, w = s
        out = c, size, size
        self.macs += int(((h / size) * (w / size) + 1) * numel(out))
        return out

    # ---- functional ops and modules thop leaves to the dispatch counter ---------------------------------------
    def act(self, elements: int, name: str) -> None:
        self.macs += elements * ACT_MACS.get(name, 1)

    def gate(self, elements: int, name: str) -> None:
        self.macs += elements * GATE_MACS.get(name, 1)

    def ew(self, elements: int, ops: int = 1) -> None:
        """``ops`` pointwise ops (add, mul, sigmoid, ...) with ``elements`` output elements each."""
        self.macs += elements * ops

    def reduce(self, elements: int, ops: int = 1) -> None:
        """``ops`` reductions (mean, amax, sum, median, var, ...) over ``elements`` input elements each."""
        self.macs += elements * ops

    def softmax(self, elements: int) -> None:
        self.macs += 3 * elements

    def max_pool(self, s: tuple, kernel: int, stride: int, padding: int = 0) -> tuple:
        """nn.MaxPool2d / F.max_pool2d: output elements x kernel area."""
        c, h, w = s
        out = c, conv_out(h, kernel, stride, padding, what="max-pool"), conv_out(w, kernel, stride, padding,
                                                                                  what="max-pool")
        self.macs += numel(out) * kernel * kernel
        return out
