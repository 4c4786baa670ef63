"""MACs include the attention modules' functional ops, for every registered attention type, cross-checked
against torch's FlopCounterMode (which counts only matmuls/convs, as 2 x MACs)."""
import pytest
import thop
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from search_space import ATTENTION, build_model, load_arch
from trainers import count_macs, count_params, profile_model

ATTENTION_TYPES = [n for n in ATTENTION.names() if n != "none"]
SMALL = dict(backbone={"type": "resnet_cifar", "depth": 8}, input_size=[3, 16, 16])


def fcm_macs(model, shape) -> float:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model.eval()(torch.randn(1, *shape))
    return counter.get_total_flops() / 2


def _module(name, channels=32, hw=(16, 16)):
    cls = ATTENTION.get(name)
    torch.manual_seed(0)
    if cls.spatial_args:                          # weights over the site's height and width (TripletLKN)
        return cls(channels, *hw)
    return cls(channels, channels, 1, 1) if cls.replaces_conv else cls(channels)


@pytest.mark.parametrize("name", ATTENTION_TYPES)
def test_attention_module_is_not_free(name):
    """Every matmul/conv FlopCounterMode sees is counted, plus at least one op per element of the input
    (the fusion of attention with the features): a module-only counter fails this for most types."""
    shape = (32, 16, 16)
    ours, fcm = count_macs(_module(name), shape), fcm_macs(_module(name), shape)
    assert ours >= fcm
    assert ours - fcm >= 32 * 16 * 16


@pytest.fixture(scope="module")
def base_costs():
    base = build_model(load_arch("resnet20", **SMALL))
    return count_macs(base, (3, 16, 16)), fcm_macs(base, (3, 16, 16))


@pytest.mark.parametrize("name", ATTENTION_TYPES)
def test_model_total_against_flop_counter(name, base_costs):
    """Whole model: at least FlopCounterMode's MACs, at most 25% above (so nothing is counted twice), and
    the attention's added cost at least FlopCounterMode's added cost."""
    arch = load_arch("resnet20", **SMALL, attention={"type": name}, insertion_point="", stage_mask=[True] * 3)
    model = build_model(arch)
    ours, fcm = count_macs(model, (3, 16, 16)), fcm_macs(model, (3, 16, 16))
    assert fcm <= ours <= 1.25 * fcm
    assert ours - base_costs[0] >= fcm - base_costs[1] > -1


def test_se_count_follows_the_rules_exactly():
    c, h, w = 32, 8, 8
    se = _module("se", c)
    hidden = se.fc1.out_channels
    expected = (2 * c * hidden  # the two 1x1 convs (bias not counted, thop's rule)
                + c * h * w      # mean over H, W: 1 per input element
                + hidden + c     # activation and sigmoid gate: 1 per output element
                + c * h * w)     # x * gate
    ours, detail = count_macs(se, (c, h, w), details=True)
    assert ours == expected and detail["mul"] == detail["mean"] == c * h * w
    thop_only, _ = thop.profile(se, inputs=(torch.randn(1, c, h, w),), verbose=False)
    assert thop_only < ours / 10  # what a module-only counter reports


def test_functional_ops_counted_and_thop_modules_not_twice():
    class Attn(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 1, bias=False)

        def forward(self, x):
            q = self.conv(x).flatten(2)                            # 16 x 4 x 4 = 256 (thop)
            a = torch.softmax(q.transpose(1, 2) @ q, dim=-1)       # bmm 16*16*4 = 1024, softmax 3*256
            b = (x @ a[:, :4, :4]).mean()                          # bmm 4 x (4x4 @ 4x4) = 256, mean 64
            return x * torch.sigmoid(torch.median(x, dim=1, keepdim=True).values) + b

    ours, detail = count_macs(Attn(), (4, 4, 4), details=True)
    assert detail["thop_modules"] == 256 and "convolution" not in detail
    assert detail["bmm"] == 1024 + 256 and detail["_softmax"] == 768 and detail["median"] == 64
    assert detail["mean"] == 64 and detail["sigmoid"] == 16 and detail["mul"] == detail["add"] == 64
    assert ours == sum(detail.values())


@pytest.mark.parametrize("act", [nn.ReLU6(inplace=True), nn.ReLU6(), nn.ELU(), nn.ELU(inplace=True),
                                 nn.LeakyReLU(0.1), nn.LeakyReLU(0.1, inplace=True), nn.CELU(),
                                 nn.Hardsigmoid(), nn.Softplus(), nn.Mish(), nn.Hardshrink(), nn.Softshrink(),
                                 nn.Threshold(0.1, 0.0), nn.ReLU(), nn.SiLU(), nn.GELU(), nn.Sigmoid()],
                         ids=lambda m: type(m).__name__ + ("_" if getattr(m, "inplace", False) else ""))
def test_every_elementwise_activation_counts_one_per_element(act):
    """One MAC per output element whatever the op's tags in the installed torch (2.4 tags hardtanh, elu,
    leaky_relu, celu, hardsigmoid, threshold, softplus and mish not pointwise; 2.13 does)."""
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 5, 1, bias=False)
            self.act = act

        def forward(self, x):
            return self.act(self.conv(x))

    ours, detail = count_macs(Net(), (3, 7, 6), details=True)
    assert ours - detail["thop_modules"] == 5 * 7 * 6, detail


def test_resnet50_macs_match_published():
    """ResNet-50 at 3x224x224: torchvision's 4.09 GMACs (published 4.1 G), within 2%; counted on the meta
    device (shapes only), which gives the same count as real tensors."""
    with torch.device("meta"):
        model = build_model(load_arch("resnet50"))
    macs = count_macs(model, (3, 224, 224))
    assert abs(macs / 4.09e9 - 1) < 0.02 and abs(macs / 4.1e9 - 1) < 0.02
    assert count_params(model) == 25_557_032
    small = build_model(load_arch("se-resnet20", input_size=[3, 16, 16]))
    with torch.device("meta"):
        small_meta = build_model(load_arch("se-resnet20", input_size=[3, 16, 16]))
    assert count_macs(small, (3, 16, 16)) == count_macs(small_meta, (3, 16, 16))


def test_profile_model_latency_and_state_untouched():
    model = build_model(load_arch("se-resnet20", input_size=[3, 8, 8]))
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cost = profile_model(model, (3, 8, 8), train_batch_size=4, repeats=3)
    assert {"params", "macs", "latency_ms", "train_step_ms", "peak_mem_mb"} <= set(cost)
    assert cost["params"] == count_params(model) and cost["latency_ms"] > 0 and cost["peak_mem_mb"] > 0
    after = model.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert model.training and all(p.grad is None for p in model.parameters())
    assert set(profile_model(model, (3, 8, 8), latency=False)) == {"params", "macs"}


def test_train_figures_only_when_asked_and_memory_estimate_is_the_full_batch_one():
    """profile_model(train=False) (``attnas profile`` without --train) stops after the batch-1 latency; the CPU
    memory estimate, saved bytes measured at batches 2 and 3 and extended linearly, equals the one measured on
    the full batch (so no batch-32 graph at 224 px is held)."""
    from trainers.profile import _saved_bytes, _train_step_memory

    model = build_model(load_arch("dca-cbam-resnet50", input_size=[3, 32, 24], num_classes=10))
    cost = profile_model(model, (3, 32, 24), train=False, repeats=3)
    assert cost["latency_ms"] > 0 and not {"train_step_ms", "peak_mem_mb"} & set(cost)
    x, y = torch.randn(7, 3, 32, 24), torch.randint(0, 10, (7,))
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    direct = (2 * params + _saved_bytes(model, x, y)) / 2**20
    assert _train_step_memory(model, x, y, torch.device("cpu")) == pytest.approx(direct, rel=1e-9)
    model.zero_grad(set_to_none=True)


def test_cli_profile_trains_only_with_train(capsys):
    import json

    from studies.cli import main

    assert main(["profile", "se-resnet20", "--input", "3x8x8", "--json"]) == 0
    quick = json.loads(capsys.readouterr().out)
    assert quick["latency_ms"] > 0 and "train_step_ms" not in quick
    assert main(["profile", "se-resnet20", "--input", "3x8x8", "--json", "--train", "--train-batch-size", "5"]) == 0
    full = json.loads(capsys.readouterr().out)
    assert full["train_step_ms"] > 0 and full["peak_mem_mb"] > 0 and full["train_batch_size"] == 5


def test_latency_budget_is_relative_to_one_run(monkeypatch):
    """median_ms on a fake clock: a slow run (0.2 s) gets one warm-up and the minimum 3 timed runs (budget
    3 x 0.2 s), a fast one (1 ms) its 10 repeats within 0.5 s; the median ignores one stalled run."""
    import trainers.profile as prof

    clock = [0.0]
    monkeypatch.setattr(prof.time, "perf_counter", lambda: clock[0])

    def runner(durations):
        it = iter(durations)
        calls = []

        def fn():
            calls.append(1)
            clock[0] += next(it)
        return fn, calls

    slow, calls = runner([0.2] * 20)
    assert prof.median_ms(slow, torch.device("cpu")) == pytest.approx(200)
    assert len(calls) == 1 + 3
    fast, calls = runner([0.001] * 10 + [0.3])        # warm-up, nine fast runs, one stalled run
    assert prof.median_ms(fast, torch.device("cpu")) == pytest.approx(1)
    assert len(calls) == 1 + 10
    slow, calls = runner([0.2] * 20)                   # no warm-up: the first timed run sets the budget
    assert prof.median_ms(slow, torch.device("cpu"), warmup=0) == pytest.approx(200) and len(calls) == 3
