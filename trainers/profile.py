"""Cost of a model: parameters, MACs (per image), latency and peak memory.

MACs = thop's module rules + a dispatch-level counter for everything thop does not see.

thop hooks modules, so it misses whatever an attention module does in ``forward`` with functions and
tensor methods (``x.mean()``, ``x * gate``, ``torch.matmul``, ``softmax``, ``torch.median``, ...): counters
that see only modules report attention as nearly free. So a second forward pass runs under a
``TorchDispatchMode`` that sees every ATen op, and counts each op that is *not* inside a module thop
already counted (a depth counter kept by forward pre-/post-hooks on those modules). Rules, in MACs:

- thop modules: Conv/ConvTranspose (out elements x in_channels/groups x kernel area; no bias), Linear
  (out elements x in_features), AvgPool/AdaptiveAvgPool, LayerNorm/InstanceNorm (thop's 2-4 per element),
  nn.Softmax (3 per element), Upsample, RNNs, PReLU; BatchNorm is overridden to 1 per element (in inference it
  is one multiply-add per element). thop modules it rates zero (ReLU, ReLU6, LeakyReLU, MaxPool, Dropout,
  ZeroPad, Sequential) are left to the counter below, so ReLU counts like any other activation.
- functional / tensor ops (the dispatch counter):
  - ``mm``, ``addmm``, ``bmm``, ``baddbmm`` (so ``matmul``, ``einsum``, ``F.linear``): one per
    multiply-accumulate; ``convolution`` likewise; scaled-dot-product attention as its two matmuls plus
    softmax;
  - every ATen op tagged pointwise (add, mul, div, sigmoid, tanh, relu, gelu, silu, exp, pow, clamp, ...; the
    gating products and residual adds) and the elementwise activations older torch leaves untagged (hardtanh,
    elu, leaky_relu, celu, hardsigmoid, ...: ``_ACTIVATIONS``): 1 per output element (``clone`` excluded);
  - reductions (sum, mean, amax/amin, max/min, median, std, var, norm, prod, logsumexp, arg-max/min,
    topk, sort, kthvalue): 1 per input element;
  - softmax / log-softmax: 3 per element (exp, sum, divide), as thop's nn.Softmax rule;
  - pooling: windowed = output elements x kernel area; adaptive = 1 per input element;
  - functional batch/layer/group norm: 2 per element; interpolation: 1 per output element;
  - everything else (views, reshapes, cat, indexing, padding, copies, random numbers): 0.

FLOPs = 2 x MACs for the matmul/conv part; ``torch.utils.flop_counter.FlopCounterMode`` counts only that
part, so our total is at least its half (tests/trainers/test_profile.py holds every attention type to it).

Latency: median of timed runs after one warm-up (3 to ``repeats`` of them, within a budget of 3 warm-up runs or
0.5 s, whichever is longer: :func:`median_ms`), at batch ``batch_size`` (inference, eval mode, no grad) and
``train_batch_size`` (forward + backward, train mode); the model's state is restored afterwards. Peak memory:
on CUDA ``torch.cuda.max_memory_allocated`` during the training step; on CPU (no allocator statistics) an
estimate: parameter + gradient bytes + the bytes of tensors autograd saves for backward at that batch.
"""
from __future__ import annotations

import functools
import statistics
import time

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

aten = torch.ops.aten


def _count_batchnorm(m, x, y):
    m.total_ops += torch.DoubleTensor([x[0].numel()])


CUSTOM_OPS = {t: _count_batchnorm for t in (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)}


@functools.lru_cache(maxsize=1)
def thop_counted() -> tuple:
    """Module types whose cost thop's rule covers; ops inside them are not counted again. (thop is imported
    on first use, so trainers imports and trains where thop is not installed, e.g. a bare GPU machine.)"""
    from thop.profile import register_hooks
    from thop.vision.basic_hooks import count_relu, zero_ops

    return tuple(t for t, fn in {**register_hooks, **CUSTOM_OPS}.items() if fn not in (zero_ops, count_relu))

_REDUCTIONS = {aten.sum, aten.mean, aten.amax, aten.amin, aten.max, aten.min, aten.median, aten.nanmedian,
               aten.std, aten.var, aten.std_mean, aten.var_mean, aten.norm, aten.linalg_vector_norm, aten.prod,
               aten.logsumexp, aten.argmax, aten.argmin, aten.topk, aten.sort, aten.kthvalue}
_WINDOW_POOLS = {aten.avg_pool1d, aten.avg_pool2d, aten.avg_pool3d, aten.max_pool1d, aten.max_pool2d,
                 aten.max_pool3d, aten.max_pool2d_with_indices, aten.max_pool3d_with_indices}
_ADAPTIVE_POOLS = {aten.adaptive_avg_pool1d, aten.adaptive_avg_pool2d, aten._adaptive_avg_pool2d,
                   aten.adaptive_avg_pool3d, aten._adaptive_avg_pool3d, aten.adaptive_max_pool1d,
                   aten.adaptive_max_pool2d, aten.adaptive_max_pool3d}
_SOFTMAX = {aten._softmax, aten._log_softmax, aten.softmax, aten.log_softmax}
_NORMS = {aten.native_batch_norm, aten._native_batch_norm_legit, aten._native_batch_norm_legit_no_training,
          aten.native_layer_norm, aten.native_group_norm}
_INTERP = {aten.upsample_nearest1d, aten.upsample_nearest2d, aten.upsample_nearest3d, aten.upsample_bilinear2d,
           aten.upsample_bicubic2d, aten.upsample_linear1d, aten.upsample_trilinear3d}
_ACTIVATIONS = {getattr(aten, n) for n in ("hardtanh", "hardtanh_", "elu", "elu_", "leaky_relu", "leaky_relu_",
                                            "celu", "celu_", "hardsigmoid", "hardsigmoid_", "threshold", "softplus",
                                            "mish", "hardshrink", "softshrink")}
"""Elementwise activations counted like pointwise ops whatever their tags: torch 2.13 tags them pointwise, 2.4
does not (ReLU6's ``hardtanh_`` went uncounted there: 190,720 MACs of dca-cbam-mobilenetv2 at 32x48), and the
count must not depend on the torch release within the floor."""
_SDPA = {getattr(aten, n) for n in ("_scaled_dot_product_flash_attention_for_cpu", "_scaled_dot_product_flash_attention",
                                      "_scaled_dot_product_efficient_attention", "_scaled_dot_product_cudnn_attention",
                                      "_scaled_dot_product_attention_math") if hasattr(aten, n)}


def _first_tensor(out):
    if isinstance(out, torch.Tensor):
        return out
    return next((o for o in out if isinstance(o, torch.Tensor)), None) if isinstance(out, (tuple, list)) else None


def _pairs(v, n):
    return list(v) * (n if len(v) == 1 else 1) if isinstance(v, (list, tuple)) else [v] * n


def op_macs(func, args, out) -> int:
    """MACs of one ATen op call under the rules in the module docstring."""
    packet = func.overloadpacket
    if packet in (aten.mm, aten.addmm, aten.bmm, aten.baddbmm):
        a, b = (args[0], args[1]) if packet in (aten.mm, aten.bmm) else (args[1], args[2])
        return a.numel() * b.shape[-1]
    if packet in (aten.convolution, aten._convolution):
        x, w, transposed = args[0], args[1], args[6]
        # weight is (out, in/groups, *k), or (in, out/groups, *k) when transposed: w[0] is one unit's fan-in/out
        return (x if transposed else out).numel() * w[0].numel()
    if packet in _SDPA:
        q, k, v = args[:3]
        scores = q.numel() // q.shape[-1] * k.shape[-2]
        return scores * (q.shape[-1] + v.shape[-1]) + 3 * scores
    y = _first_tensor(out)
    if y is None:
        return 0
    if (torch.Tag.pointwise in func.tags or packet in _ACTIVATIONS) and packet is not aten.clone:
        return y.numel()
    if packet in _REDUCTIONS or packet in _ADAPTIVE_POOLS:
        return args[0].numel()
    if packet in _WINDOW_POOLS:
        kernel = _pairs(args[1], y.dim() - 2)
        area = 1
        for k in kernel:
            area *= k
        return y.numel() * area
    if packet in _SOFTMAX:
        return 3 * y.numel()
    if packet in _NORMS:
        return 2 * y.numel()
    if packet in _INTERP:
        return y.numel()
    return 0


class _FunctionalCounter(TorchDispatchMode):
    """Sums :func:`op_macs` over ops that run outside the modules thop counts (:func:`thop_counted`)."""

    def __init__(self):
        super().__init__()
        self.macs = 0
        self.depth = 0
        self.by_op: dict[str, int] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if self.depth == 0:
            macs = op_macs(func, args, out)
            if macs:
                self.macs += macs
                name = func.overloadpacket.__name__
                self.by_op[name] = self.by_op.get(name, 0) + macs
        return out


def count_params(model: nn.Module) -> int:
    """Number of parameters (each shared tensor once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


def _strip_thop_buffers(model: nn.Module) -> None:
    """thop leaves ``total_ops``/``total_params`` buffers on modules it has no rule for; they would leak
    into ``state_dict`` (and saved weights), so remove them."""
    for m in model.modules():
        m._buffers.pop("total_ops", None)
        m._buffers.pop("total_params", None)


@torch.no_grad()
def count_macs(model: nn.Module, input_size, device=None, details: bool = False):
    """MACs of one forward pass of one image of shape ``input_size`` (C, H, W); with ``details`` also
    ``{"thop_modules": n, "<aten op>": n, ...}`` showing where the functional part comes from."""
    import thop

    device = device or next(model.parameters(), torch.empty(0)).device
    x = torch.randn(1, *input_size, device=device)
    was_training = model.training
    try:
        thop_macs, _ = thop.profile(model, inputs=(x,), custom_ops=CUSTOM_OPS, verbose=False)
    finally:
        _strip_thop_buffers(model)
    counter = _FunctionalCounter()

    def enter(*_):
        counter.depth += 1

    def leave(*_):
        counter.depth -= 1

    handles, counted = [], thop_counted()
    for m in model.modules():
        if type(m) in counted:
            handles += [m.register_forward_pre_hook(enter), m.register_forward_hook(leave)]
    model.eval()
    try:
        with counter:
            model(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    total = int(round(thop_macs)) + counter.macs
    return (total, {"thop_modules": int(round(thop_macs)), **counter.by_op}) if details else total


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_ms(fn, device, warmup: int = 1, repeats: int = 10, min_repeats: int = 3, budget_s: float = 0.5,
              budget_runs: float = 3.0) -> float:
    """Median wall time of ``fn`` in ms: ``warmup`` untimed runs, then ``min_repeats`` to ``repeats`` timed
    ones, stopping once the timed runs have spent ``max(budget_s, budget_runs x the last warm-up's time)`` (the
    first timed run's time with ``warmup=0``, for a caller that has just run ``fn``'s shapes).

    The budget is relative to the cost of one run, so the latency of a large model (ResNet-50 at 224 px:
    about a third of a second per forward on 2 cores) costs one warm-up and three timed runs rather than a
    fixed three seconds that stretch under load, while a small one still gets its ``repeats`` within
    ``budget_s``; the median keeps one slow run (a busy core) out of the figure."""
    warm = 0.0
    for _ in range(warmup):
        t = time.perf_counter()
        fn()
        _sync(device)
        warm = time.perf_counter() - t
    times, start = [], time.perf_counter()
    while len(times) < repeats and (len(times) < min_repeats or
                                    time.perf_counter() - start < max(budget_s, budget_runs * (warm or times[0]))):
        t = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def _saved_bytes(model, x, y) -> int:
    """Bytes of the distinct storages autograd saves for backward in one forward at ``x`` (then backward)."""
    saved: dict[int, int] = {}

    def pack(t):
        saved.setdefault(t.untyped_storage().data_ptr(), t.untyped_storage().nbytes())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    return sum(saved.values())


def _train_step_memory(model, x, y, device) -> float:
    """Peak bytes of one forward+backward (see module docstring for the CPU estimate), in MB. On the CPU the
    saved bytes are measured at batches 2 and 3 and extended linearly to ``len(x)``: every saved tensor is
    either batch-sized or fixed (weights), so the figure is the one a full batch gives (tested) without
    holding a batch-32 graph at 224 px."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        nn.functional.cross_entropy(model(x), y).backward()
        return (torch.cuda.max_memory_allocated(device) - base) / 2**20
    if len(x) <= 3:
        saved = _saved_bytes(model, x, y)
    else:   # batches 2 and 3: train-mode batch norm needs two values per channel on a 1x1 map
        two, three = (_saved_bytes(model, x[:b], y[:b]) for b in (2, 3))
        saved = two + (len(x) - 2) * (three - two)
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    return (2 * params + saved) / 2**20


def profile_model(model: nn.Module, input_size, device="cpu", latency: bool = True, batch_size: int = 1,
                  train_batch_size: int = 32, repeats: int = 10, train: bool = True) -> dict:
    """``{"params", "macs"}`` and, with ``latency``, ``latency_ms`` (batch ``batch_size``) and, with ``train``
    too, ``train_step_ms`` (forward + backward at ``train_batch_size``) and ``peak_mem_mb`` on ``device``
    (``attnas profile`` asks for the train figures only with ``--train``: they cost 15x the rest at 224 px)."""
    device = torch.device(device)
    model.to(device)
    input_size = tuple(input_size)
    result = {"params": count_params(model), "macs": count_macs(model, input_size, device)}
    if not latency:
        return result
    was_training = model.training
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    try:
        x1 = torch.randn(batch_size, *input_size, device=device)
        model.eval()
        with torch.no_grad():       # count_macs has just run this model at batch 1 in eval: that is the warm-up
            result["latency_ms"] = median_ms(lambda: model(x1), device, warmup=0 if batch_size == 1 else 1,
                                             repeats=repeats)
        result.update(batch_size=batch_size, device=str(device))
        if not train:
            return result
        model.train()
        xt = torch.randn(train_batch_size, *input_size, device=device)
        num_classes = model(x1[:1].expand(2, *input_size)).shape[1]
        yt = torch.randint(0, num_classes, (train_batch_size,), device=device)
        result["train_step_ms"] = median_ms(lambda: nn.functional.cross_entropy(model(xt), yt).backward(),
                                            device, warmup=1, repeats=repeats)
        result["peak_mem_mb"] = _train_step_memory(model, xt, yt, device)
        result.update(train_batch_size=train_batch_size,
                      mem_method="cuda_max_allocated" if device.type == "cuda" else "cpu_params_grads_saved_tensors_linear_in_batch")
    finally:
        model.load_state_dict(state)
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    return result
